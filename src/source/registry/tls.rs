//! Transport security for registries: which hosts may be reached over plain HTTP, the trust roots (the
//! system's store, `--registry-ca`, and the per-host CA files of Docker's and podman's `certs.d`), and the HTTP
//! agent built on them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ureq::Agent;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use super::RegistryOptions;
use crate::error::{Error, Result};

pub(super) fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Environment variable naming the `certs.d` directories to search instead of [`CERTS_D`] (`:`-separated).
pub(crate) const CERTS_D_ENV: &str = "LAYERSCOPE_CERTS_D";

/// Where Docker and podman keep per-registry CA certificates: `DIR/HOST[:PORT]/*.crt`.
const CERTS_D: [&str; 2] = ["/etc/docker/certs.d", "/etc/containers/certs.d"];

/// The `certs.d` directories to search: `$LAYERSCOPE_CERTS_D`, else Docker's and podman's system ones and
/// podman's per-user one (`$XDG_CONFIG_HOME/containers/certs.d`, default `~/.config/containers/certs.d`).
pub(super) fn certs_d_dirs() -> Vec<PathBuf> {
    if let Some(list) = std::env::var_os(CERTS_D_ENV) {
        return std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
    }
    let mut dirs: Vec<PathBuf> = CERTS_D.iter().map(PathBuf::from).collect();
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(config) = config {
        dirs.push(config.join("containers/certs.d"));
    }
    dirs
}

/// The CA files trusted for one registry: every `*.crt` in `DIR/<name>/` for each `certs.d` directory and
/// each of the registry's names (as written, and the API host when it differs), in name order.
pub(super) fn host_ca_files(dirs: &[PathBuf], names: &[&str]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in dirs {
        for name in names {
            // A name with a path separator or `..` would leave the directory.
            if name.is_empty() || name.contains(['/', '\\']) || *name == "." || *name == ".." {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir.join(name)) else {
                continue;
            };
            let mut found: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "crt") && p.is_file())
                .collect();
            found.sort();
            files.extend(found);
        }
    }
    files.dedup();
    files
}

/// Appends the PEM certificates of a CA file; a file without one is an error.
fn add_pem_file(roots: &mut Vec<Certificate<'static>>, path: &Path) -> Result<()> {
    let pem = std::fs::read(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    let before = roots.len();
    for item in ureq::tls::parse_pem(&pem) {
        if let Ok(PemItem::Certificate(c)) = item {
            roots.push(c.to_owned());
        }
    }
    if roots.len() == before {
        return Err(Error::invalid(
            path.display().to_string(),
            "no PEM certificate in the CA file",
        ));
    }
    Ok(())
}

pub(super) fn agent(opts: &RegistryOptions, verify: bool, host_cas: &[PathBuf]) -> Result<Agent> {
    let mut roots: Vec<Certificate<'static>> = rustls_native_certs::load_native_certs()
        .certs
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    for path in opts.ca_file.iter().chain(host_cas) {
        add_pem_file(&mut roots, path)?;
    }
    let root_certs = if roots.is_empty() {
        RootCerts::WebPki
    } else {
        RootCerts::new_with_certs(&roots)
    };
    let tls = TlsConfig::builder()
        .root_certs(root_certs)
        .disable_verification(!verify)
        .build();
    Ok(Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
        .max_redirects(8)
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("layerscope/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent())
}

/// What to try when HTTPS failed: a registry that answered, but not with trusted TLS, may want a flag; one
/// that does not answer at all (unknown host, refused, timeout) does not.
pub(super) fn tls_hint(e: &ureq::Error, registry: &str) -> String {
    let unreachable = match e {
        ureq::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::ConnectionRefused
                || io.to_string().contains("lookup address")
        }
        ureq::Error::HostNotFound | ureq::Error::Timeout(_) => true,
        _ => false,
    };
    if unreachable {
        String::new()
    } else {
        format!(
            "; for a registry with a private CA pass --registry-ca FILE (or put it in \
             /etc/containers/certs.d/{registry}/ca.crt), or --insecure-registry {registry} to skip verification"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_are_plain_by_default() {
        assert!(is_loopback("localhost"));
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("127.8.9.10"));
        assert!(is_loopback("::1"));
        assert!(!is_loopback("128.0.0.1"));
        assert!(!is_loopback("registry.local"));
    }

    #[test]
    fn per_host_ca_files_are_the_crt_files_of_that_host_only() {
        let dir = tempfile::tempdir().unwrap();
        let (docker, podman) = (dir.path().join("docker"), dir.path().join("podman"));
        for (d, files) in [
            (
                docker.join("reg.example:5000"),
                &["ca.crt", "extra.crt", "client.cert", "client.key"][..],
            ),
            (podman.join("reg.example:5000"), &["b.crt"][..]),
            (podman.join("other.example"), &["ca.crt"][..]),
        ] {
            std::fs::create_dir_all(&d).unwrap();
            for f in files {
                std::fs::write(d.join(f), "x").unwrap();
            }
        }
        let found = host_ca_files(
            &[docker.clone(), podman.clone()],
            &["reg.example:5000", ".."],
        );
        assert_eq!(
            found,
            [
                docker.join("reg.example:5000/ca.crt"),
                docker.join("reg.example:5000/extra.crt"),
                podman.join("reg.example:5000/b.crt"),
            ]
        );
        assert!(host_ca_files(&[docker], &["reg.example"]).is_empty());
    }
}
