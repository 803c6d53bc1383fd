//! A registry that attacks its client: a small HTTP server in a test thread (no docker-registry needed) answers
//! each request with what a hostile or broken registry could send: endless bodies, redirect loops, garbage
//! tokens, error messages with terminal escapes or the client's own credentials in them. layerscope must end
//! in bounded time and memory with one escaped line on stderr, and never print a credential.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// What the server sends for one request: a whole response, or a head followed by `chunk` repeated forever.
enum Answer {
    Whole(Vec<u8>),
    Endless { head: String, chunk: Vec<u8> },
}

fn answer(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    Answer::Whole(bytes)
}

/// A request as the handler sees it: the path and the `Authorization` header, if any.
struct Request {
    path: String,
    authorization: Option<String>,
}

type Handler = Arc<dyn Fn(&Request, u16) -> Answer + Send + Sync>;

/// A server on 127.0.0.1 (plain HTTP is allowed there), one thread per connection, for the life of the test
/// process (each test binds its own port).
fn serve(handler: impl Fn(&Request, u16) -> Answer + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handler: Handler = Arc::new(handler);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let handler = handler.clone();
            std::thread::spawn(move || respond(conn, &handler, port));
        }
    });
    port
}

fn respond(conn: TcpStream, handler: &Handler, port: u16) {
    let Ok(clone) = conn.try_clone() else { return };
    let mut reader = BufReader::new(clone);
    let mut first = String::new();
    if reader.read_line(&mut first).unwrap_or(0) == 0 {
        return;
    }
    let mut authorization = None;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                authorization = Some(v.trim().to_string());
            }
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    let _ = std::io::Read::read_exact(&mut reader, &mut body);
    let path = first.split(' ').nth(1).unwrap_or("/").to_string();
    let mut conn = conn;
    match handler(
        &Request {
            path,
            authorization,
        },
        port,
    ) {
        Answer::Whole(bytes) => {
            let _ = conn.write_all(&bytes);
        }
        Answer::Endless { head, chunk } => {
            if conn.write_all(head.as_bytes()).is_err() {
                return;
            }
            while conn.write_all(&chunk).is_ok() {}
        }
    }
}

/// Runs layerscope on `registry://127.0.0.1:PORT/REPO` with `extra` arguments, bounded in time.
fn run_against(port: u16, extra: &[&str]) -> (std::process::Output, Duration) {
    let reference = format!("registry://127.0.0.1:{port}/hostile/app:1");
    let start = Instant::now();
    let mut args = vec!["--no-cache", "--json", "-"];
    args.extend_from_slice(extra);
    args.push(&reference);
    let out = bin()
        .args(&args)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    (out, start.elapsed())
}

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// `/v2/` answered 200; everything else by `rest`.
fn open_registry(rest: impl Fn(&Request, u16) -> Answer + Send + Sync + 'static) -> u16 {
    serve(move |req, port| {
        if req.path == "/v2/" {
            return answer("200 OK", &[], b"{}");
        }
        rest(req, port)
    })
}

#[test]
fn an_endless_manifest_body_is_cut_at_the_metadata_limit() {
    let port = open_registry(|_, _| Answer::Endless {
        head: format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {MANIFEST_TYPE}\r\nConnection: close\r\n\r\n{{\"schemaVersion\":2,\"x\":\""
        ),
        chunk: vec![b'a'; 64 * 1024],
    });
    let (out, took) = run_against(port, &[]);
    assert_bad_input(&out, "too large");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_redirect_loop_ends_with_an_error() {
    let port = open_registry(|req, port| {
        answer(
            "307 Temporary Redirect",
            &[("Location", &format!("http://127.0.0.1:{port}{}", req.path))],
            b"",
        )
    });
    let (out, took) = run_against(port, &[]);
    assert_bad_input(&out, "redirect");
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

/// A bearer challenge whose token service answers garbage, or a body that never ends.
#[test]
fn a_token_service_answering_garbage_is_an_error() {
    for endless in [false, true] {
        let port = serve(move |req, port| {
            if req.path.starts_with("/token") {
                return if endless {
                    Answer::Endless {
                        head:
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"token\":\""
                                .into(),
                        chunk: vec![b'x'; 64 * 1024],
                    }
                } else {
                    answer("200 OK", &[], b"<html>\x1b[2Jnot json</html>")
                };
            }
            let challenge = format!("Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"s\"");
            answer("401 Unauthorized", &[("WWW-Authenticate", &challenge)], b"")
        });
        let (out, took) = run_against(port, &[]);
        assert_bad_input(&out, "token service");
        assert!(took < Duration::from_secs(60), "took {took:?}");
    }
}

/// A registry's error message reaches the user as one escaped, shortened line.
#[test]
fn a_registry_error_message_is_escaped_and_shortened() {
    let message = format!(
        "denied\x1b]0;owned\x07\r\nResult: PASS {}",
        "y".repeat(5000)
    );
    let body = json!({"errors": [{"code": "DENIED", "message": message}]}).to_string();
    let port = serve(move |req, _| {
        if req.authorization.is_none() {
            return answer(
                "401 Unauthorized",
                &[("WWW-Authenticate", "Basic realm=\"r\"")],
                b"",
            );
        }
        answer(
            "401 Unauthorized",
            &[("WWW-Authenticate", "Basic realm=\"r\"")],
            body.as_bytes(),
        )
    });
    let (out, _) = run_against(port, &["--creds", "user:pw"]);
    assert_bad_input(&out, "credentials were refused");
    let err = stderr_line(&out);
    assert!(
        err.contains("DENIED: denied\\x1b]0;owned\\x07\\x0d\\x0aResult: PASS"),
        "{err}"
    );
    assert!(err.len() < 1000, "{} bytes: {err}", err.len());
}

/// A registry that quotes the credentials it was sent (the password, the basic header, the token) in its
/// error messages does not get them printed: CI logs are public more often than registries are hostile.
#[test]
fn credentials_a_registry_echoes_are_never_printed() {
    const PASSWORD: &str = "s3cr3t-Pa55word";
    // base64("user:s3cr3t-Pa55word")
    const BASIC: &str = "dXNlcjpzM2NyM3QtUGE1NXdvcmQ=";
    let port = serve(|req, _| {
        let echoed = format!(
            "you sent {} (password {PASSWORD})",
            req.authorization.clone().unwrap_or_default()
        );
        let body = json!({"errors": [{"code": "DENIED", "message": echoed}]}).to_string();
        answer(
            "401 Unauthorized",
            &[("WWW-Authenticate", "Basic realm=\"r\"")],
            body.as_bytes(),
        )
    });
    let (out, _) = run_against(port, &["--creds", &format!("user:{PASSWORD}")]);
    assert_bad_input(&out, "credentials were refused");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(PASSWORD), "{all}");
    assert!(!all.contains(BASIC), "{all}");
}

/// A layer blob whose body never ends (valid tar entries, over and over) stops at the size its manifest
/// gives, instead of being scanned (and cached) forever.
#[test]
fn an_endless_blob_stops_at_its_descriptor_size() {
    let layer_bytes = layer(&[file("a", b"1\n")]);
    let img = Img::new("hostile:1", vec![layer_bytes.clone()]);
    let config = img.config();
    let config_digest = sha256(&config);
    let layer_digest = sha256(&layer_bytes);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                    "size": layer_bytes.len()}],
    })
    .to_string();
    // One 512-byte header and one block of content, repeated: a tar that never ends.
    let entry = layer(&[file("again", b"x")]);
    let chunk = entry[..1024].to_vec();
    let port = open_registry(move |req, _| {
        if req.path.contains("/manifests/") {
            answer(
                "200 OK",
                &[("Content-Type", MANIFEST_TYPE)],
                manifest.as_bytes(),
            )
        } else if req.path.ends_with(&config_digest) {
            answer("200 OK", &[], &config)
        } else {
            Answer::Endless {
                head: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".into(),
                chunk: chunk.clone(),
            }
        }
    });
    let (out, took) = run_against(port, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_line(&out));
    assert!(took < Duration::from_secs(60), "took {took:?}");
    let err = stderr_line(&out);
    assert!(err.contains("more than"), "{err}");
}
