//! Image references as people write them, normalised like Docker: `nginx` is `docker.io/library/nginx:latest`,
//! `host:5000/x` names a registry on port 5000, `@sha256:...` pins a digest (a tag may come with it; the digest
//! wins). Parsing contacts nothing.

use std::fmt;

use crate::oci::Digest;

/// Docker Hub's name in references, the host its API lives on, and its key in credential stores.
pub(crate) const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";
const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// A fully qualified image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `docker.io`, `ghcr.io`, `localhost:5000`, `[::1]:5000`.
    pub registry: String,
    /// `library/nginx`, `me/app`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalises `text` (without a `registry://` prefix).
    pub fn parse(text: &str) -> Result<Reference, String> {
        let bad = |why: &str| Err(format!("{text:?} is not an image reference: {why}"));
        if text.is_empty() {
            return bad("it is empty");
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, d)) => match d.parse::<Digest>() {
                Ok(d) => (rest, Some(d)),
                Err(e) => return Err(format!("{text:?} is not an image reference: {e}")),
            },
            None => (text, None),
        };
        let last = rest.rsplit('/').next().unwrap_or(rest);
        let (name, tag) = match last.rfind(':') {
            Some(i) => {
                let cut = rest.len() - last.len() + i;
                (&rest[..cut], Some(rest[cut + 1..].to_string()))
            }
            None => (rest, None),
        };
        if let Some(t) = &tag {
            let ok = t.len() <= 128
                && t.bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            if !ok {
                return bad("a tag is 1 to 128 letters, digits, '_', '.' or '-'");
            }
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                let registry = if first == "index.docker.io" {
                    DOCKER_HUB
                } else {
                    first
                };
                (registry.to_string(), path.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if !valid_registry(&registry) {
            return bad("the registry must be a host name with an optional port");
        }
        if !valid_repository(&repository) {
            return bad(
                "a repository is lowercase letters and digits, separated by '.', '_', '__', '-' or '/'",
            );
        }
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (tag, _) => tag,
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The host (and port) the registry API answers on.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// The key credential stores file this registry under.
    pub fn auth_key(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_AUTH_KEY
        } else {
            &self.registry
        }
    }

    /// What to ask the manifest endpoint for: the digest when pinned, else the tag.
    pub fn manifest_ref(&self) -> &str {
        self.digest
            .as_ref()
            .map(Digest::as_str)
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The host without its port, for deciding whether plain HTTP is allowed.
    pub fn hostname(&self) -> &str {
        host_of(&self.registry)
    }
}

/// `host:port` -> `host`; `[::1]:5000` -> `::1`.
pub(crate) fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry.split(':').next().unwrap_or(registry)
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn valid_registry(r: &str) -> bool {
    let (host, port) = if let Some(rest) = r.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => return false,
        }
    } else {
        match r.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (r, None),
        }
    };
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b))
        && port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

fn valid_repository(repo: &str) -> bool {
    repo.len() <= 255
        && repo.split('/').all(|component| {
            let b = component.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(&c))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(text: &str) -> String {
        Reference::parse(text).unwrap().to_string()
    }

    #[test]
    fn short_names_are_normalised_like_docker() {
        assert_eq!(full("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(full("nginx:1.27"), "docker.io/library/nginx:1.27");
        assert_eq!(full("me/app"), "docker.io/me/app:latest");
        assert_eq!(full("index.docker.io/me/app:2"), "docker.io/me/app:2");
        assert_eq!(full("docker.io/nginx"), "docker.io/library/nginx:latest");
        assert_eq!(full("ghcr.io/o/r/deep:v1"), "ghcr.io/o/r/deep:v1");
        assert_eq!(full("localhost/app"), "localhost/app:latest");
    }

    #[test]
    fn ports_and_digests_are_told_from_tags() {
        let hex = "0123456789abcdef".repeat(4);
        let r = Reference::parse("host:5000/x").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("host:5000", "x", Some("latest"))
        );
        assert_eq!(r.hostname(), "host");
        let pinned = Reference::parse(&format!("host:5000/x@sha256:{hex}")).unwrap();
        assert_eq!(pinned.tag, None);
        assert_eq!(pinned.manifest_ref(), format!("sha256:{hex}"));
        let both = Reference::parse(&format!("nginx:1@sha256:{hex}")).unwrap();
        assert_eq!(both.tag.as_deref(), Some("1"));
        assert_eq!(both.manifest_ref(), format!("sha256:{hex}"));
        assert_eq!(
            both.to_string(),
            format!("docker.io/library/nginx:1@sha256:{hex}")
        );
        let v6 = Reference::parse("[::1]:5000/app:2").unwrap();
        assert_eq!((v6.registry.as_str(), v6.hostname()), ("[::1]:5000", "::1"));
    }

    #[test]
    fn docker_hub_has_its_own_api_host_and_credential_key() {
        let r = Reference::parse("nginx").unwrap();
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.auth_key(), "https://index.docker.io/v1/");
        let other = Reference::parse("127.0.0.1:5000/a").unwrap();
        assert_eq!(
            (other.api_host(), other.auth_key()),
            ("127.0.0.1:5000", "127.0.0.1:5000")
        );
    }

    #[test]
    fn malformed_references_are_refused_with_the_rule() {
        for bad in [
            "",
            "Upper/Case",
            "app:",
            "app:-x",
            "a//b",
            "app@sha256:xyz",
            "host:port/x",
            "app/",
            "-app",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
