//! A token service for the test registry: hands out one RS256 token (signed with `openssl dgst`, its
//! certificate in the `x5c` header and in the registry's root bundle) to GET requests carrying the test user's
//! basic credentials and to OAuth2 POSTs carrying [`IDENTITY_TOKEN`] as refresh token, 401 to the others.
//! Counts the requests, so a test can check tokens are cached.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

pub const SERVICE: &str = "layerscope-test-registry";
pub const ISSUER: &str = "layerscope-test";
pub const IDENTITY_TOKEN: &str = "identity-7c1e55";

pub struct TokenService {
    pub realm: String,
    pub bundle: PathBuf,
    pub requests: Arc<AtomicUsize>,
}

fn openssl(args: &[&str], dir: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A signed token granting pull and push on `repository`.
fn token(dir: &Path, repository: &str, user: &str) -> String {
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=token signer",
            "-keyout",
            "signer.key",
            "-out",
            "signer.pem",
        ],
        dir,
    );
    let der = openssl(&["x509", "-in", "signer.pem", "-outform", "DER"], dir);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({"typ": "JWT", "alg": "RS256", "x5c": [STANDARD.encode(der)]});
    let claims = json!({
        "iss": ISSUER, "sub": user, "aud": SERVICE, "exp": now + 3600, "nbf": now - 60, "iat": now - 60,
        "jti": "layerscope-test-token",
        "access": [{"type": "repository", "name": repository, "actions": ["pull", "push"]}],
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    std::fs::write(dir.join("input"), &signing_input).unwrap();
    let signature = openssl(&["dgst", "-sha256", "-sign", "signer.key", "input"], dir);
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

impl TokenService {
    pub fn start(dir: &Path, repository: &str, user: &str, password: &str) -> TokenService {
        let token = token(dir, repository, user);
        let expected = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut authorized = false;
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        authorized |=
                            k.eq_ignore_ascii_case("authorization") && v.trim() == expected;
                        if k.eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut form = vec![0u8; length];
                let _ = std::io::Read::read_exact(&mut reader, &mut form);
                let form = String::from_utf8_lossy(&form);
                let refresh = form.contains("grant_type=refresh_token")
                    && form.contains(&format!("refresh_token={IDENTITY_TOKEN}"));
                let (status, body) = if refresh {
                    (
                        "200 OK",
                        json!({"access_token": token, "expires_in": 3600}).to_string(),
                    )
                } else if authorized {
                    (
                        "200 OK",
                        json!({"token": token, "expires_in": 3600}).to_string(),
                    )
                } else {
                    ("401 Unauthorized", json!({"details": "no"}).to_string())
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        TokenService {
            realm: format!("http://127.0.0.1:{port}/token"),
            bundle: dir.join("signer.pem"),
            requests,
        }
    }
}
