//! A real registry for the tests: Debian's `docker-registry` started on 127.0.0.1 with a random port and a
//! temporary storage directory, plain, with htpasswd basic auth, behind TLS with a self-signed CA, or with
//! token auth; stopped when dropped. Images are pushed with `skopeo copy`, or blob by blob for what skopeo
//! does not write (uncompressed layers, hand-made indexes).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

pub const USER: &str = "tester";
pub const PASSWORD: &str = "s3cret-pass-9f2";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    Basic,
    Tls,
    /// Token auth: `realm` is the URL of a token service the test runs.
    Token,
}

pub struct Registry {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    auth: Auth,
}

fn have(binary: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {binary}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the registry tests can run; when not, says why (and fails under LAYERSCOPE_REQUIRE_ENGINES=1).
pub fn available() -> bool {
    let missing: Vec<&str> = ["docker-registry", "skopeo", "htpasswd", "openssl"]
        .into_iter()
        .filter(|b| !have(b))
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("LAYERSCOPE_REQUIRE_ENGINES").as_deref() == Ok("1") {
        panic!("LAYERSCOPE_REQUIRE_ENGINES=1 but {missing:?} not installed");
    }
    eprintln!("skipping registry test: {missing:?} not installed");
    false
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it: (ca.pem, server.pem, server.key).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let p = |n: &str| dir.join(n);
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(Command::new("openssl")
        .args(["req", "-x509"])
        .args(ec)
        .args(["-days", "2", "-subj", "/CN=layerscope test CA"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .arg("-keyout")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.pem")));
    run(Command::new("openssl")
        .arg("req")
        .args(ec)
        .args(["-subj", "/CN=127.0.0.1"])
        .arg("-keyout")
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")));
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.pem"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-extfile")
        .arg(p("ext.cnf"))
        .arg("-out")
        .arg(p("server.pem")));
    (p("ca.pem"), p("server.pem"), p("server.key"))
}

impl Registry {
    /// Starts a registry; `token` is (realm URL, service, the PEM bundle that signs tokens) for [`Auth::Token`].
    pub fn start(auth: Auth, token: Option<(&str, &str, &Path)>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    \
             rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        match auth {
            Auth::None => {}
            Auth::Basic => {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", USER, PASSWORD])
                    .output()
                    .unwrap();
                std::fs::write(dir.path().join("htpasswd"), out.stdout).unwrap();
                config.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: layerscope-test\n    path: {}\n",
                    dir.path().join("htpasswd").display()
                ));
            }
            Auth::Tls => {
                let (_, cert, key) = certificates(dir.path());
                config.push_str(&format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    cert.display(),
                    key.display()
                ));
            }
            Auth::Token => {
                let (realm, service, bundle) = token.expect("token settings");
                config.push_str(&format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: layerscope-test\n    \
                     rootcertbundle: {}\n",
                    bundle.display()
                ));
            }
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let registry = Registry {
            child,
            port,
            dir,
            auth,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "docker-registry did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// `skopeo copy SOURCE docker://127.0.0.1:PORT/REPO`, with the credentials and TLS settings it needs.
    pub fn push(&self, source: &str, repo: &str, extra: &[&str]) {
        let mut cmd = Command::new("skopeo");
        cmd.args(["copy", "-q", "--dest-tls-verify=false"]);
        if self.auth == Auth::Basic || self.auth == Auth::Token {
            cmd.arg(format!("--dest-creds={USER}:{PASSWORD}"));
        }
        cmd.args(extra)
            .arg(source)
            .arg(format!("docker://{}/{repo}", self.host()));
        run(&mut cmd);
    }

    /// The stored bytes of a blob, to tamper with.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent()
    }

    /// Uploads a blob (monolithic upload) and returns its digest. Plain, unauthenticated registries only.
    pub fn put_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(data)));
        let agent = Self::agent();
        let resp = agent
            .post(format!("http://{}/v2/{repo}/blobs/uploads/", self.host()))
            .send_empty()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 202, "upload not started");
        let location = resp.headers()["location"].to_str().unwrap().to_string();
        let url = if location.starts_with("http") {
            location
        } else {
            format!("http://{}{location}", self.host())
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        let resp = agent
            .put(format!("{url}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream")
            .send(data)
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201, "blob upload failed");
        digest
    }

    /// Puts a manifest or index under `reference` (a tag); returns its digest.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &Value,
    ) -> String {
        let data = serde_json::to_vec(body).unwrap();
        let resp = Self::agent()
            .put(format!(
                "http://{}/v2/{repo}/manifests/{reference}",
                self.host()
            ))
            .header("Content-Type", media_type)
            .send(&data[..])
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201, "manifest upload failed");
        format!("sha256:{}", hex::encode(Sha256::digest(&data)))
    }

    /// The manifest stored under `repo:reference`, with its media type, digest and size.
    pub fn manifest(&self, repo: &str, reference: &str) -> (Value, String, String, usize) {
        let mut resp = Self::agent()
            .get(format!("http://{}/v2/{repo}/manifests/{reference}", self.host()))
            .header(
                "Accept",
                "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
            )
            .call()
            .unwrap();
        let media = resp.headers()["content-type"].to_str().unwrap().to_string();
        let data = resp.body_mut().read_to_vec().unwrap();
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
        (
            serde_json::from_slice(&data).unwrap(),
            media,
            digest,
            data.len(),
        )
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
