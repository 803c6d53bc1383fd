//! Registry authentication: the `WWW-Authenticate` challenge, the credentials to answer it with (`--creds`,
//! Docker's `config.json` and its helpers, podman's `auth.json`), and nothing else. Secrets live only in
//! [`Credential`], whose `Debug` hides them; no message built here includes one.

use std::collections::HashMap;
use std::fmt;

/// A user's credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Basic {
        user: String,
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken` in `config.json`, or a helper's `<token>` user).
    IdentityToken(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { user, .. } => write!(f, "Basic({user}, <hidden>)"),
            Credential::IdentityToken(_) => f.write_str("IdentityToken(<hidden>)"),
        }
    }
}

impl Credential {
    /// `USER[:PASSWORD]` as given to `--creds`; without a password, `password` (read from stdin) is used.
    pub fn from_flag(text: &str, password: Option<String>) -> Result<Credential, String> {
        let (user, inline) = match text.split_once(':') {
            Some((u, p)) => (u, Some(p.to_string())),
            None => (text, None),
        };
        if user.is_empty() {
            return Err("--creds: expected USER[:PASSWORD] with a user name".into());
        }
        let password = inline.or(password).ok_or(
            "--creds USER without :PASSWORD needs the password on stdin (--password-stdin)",
        )?;
        Ok(Credential::Basic {
            user: user.to_string(),
            password,
        })
    }
}

/// Where a credential was found, for messages (never the credential itself).
pub(crate) fn lookup(key: &str) -> Option<(Credential, &'static str)> {
    use docker_credential::DockerCredential;
    let convert = |c: DockerCredential| match c {
        DockerCredential::IdentityToken(t) => Credential::IdentityToken(t),
        DockerCredential::UsernamePassword(user, password) => Credential::Basic { user, password },
    };
    // The crate's errors may carry a helper's output: they are dropped, not shown.
    if let Ok(c) = docker_credential::get_credential(key) {
        return Some((convert(c), "the Docker config"));
    }
    if let Ok(c) = docker_credential::get_podman_credential(key) {
        return Some((convert(c), "podman's auth.json"));
    }
    None
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest);
    Some(Challenge::Bearer {
        realm: params.get("realm")?.clone(),
        service: params.get("service").cloned(),
        scope: params.get("scope").cloned(),
    })
}

/// `key="quoted, value",key2=token` -> map; keys lowercased.
fn parse_params(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = text.trim_start();
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq]
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        rest = &rest[eq + 1..];
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            value = v;
            rest = &quoted[end.min(quoted.len())..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        out.insert(key, value);
        rest = rest.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_give_realm_service_and_scope() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/nginx:pull".into()),
            })
        );
        let spaced =
            parse_challenge(r#"bearer realm="http://h/t", scope="a:b,c:pull",error="x\"y""#);
        assert_eq!(
            spaced,
            Some(Challenge::Bearer {
                realm: "http://h/t".into(),
                service: None,
                scope: Some("a:b,c:pull".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Bearer service=x"), None);
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn creds_flag_takes_the_password_inline_or_from_stdin() {
        assert_eq!(
            Credential::from_flag("u:p:q", None),
            Ok(Credential::Basic {
                user: "u".into(),
                password: "p:q".into()
            })
        );
        assert_eq!(
            Credential::from_flag("u", Some("s".into())),
            Ok(Credential::Basic {
                user: "u".into(),
                password: "s".into()
            })
        );
        assert!(Credential::from_flag("u", None).is_err());
        assert!(Credential::from_flag(":p", None).is_err());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = Credential::Basic {
            user: "me".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", Credential::IdentityToken("tok123".into())).contains("tok123"));
    }
}
