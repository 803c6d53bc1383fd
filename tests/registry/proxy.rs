//! A fault-injecting TCP front for the test registry: each connection carries one request (the front asks
//! the registry to close after answering); the first blob request may get a 429 or a 401, or have its
//! connection cut after part of the body; blob requests may be redirected elsewhere. Counts what it saw, so a
//! test can check that a retry, a token refresh or a Range resume happened.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[derive(Clone, PartialEq, Eq)]
pub enum Fault {
    /// Pass everything on (counting).
    None,
    /// Answer the first blob request with 429 and `Retry-After: 0`.
    TooManyRequests,
    /// Cut the first blob response longer than 4 times this many bytes after this many body bytes.
    CutAfter(usize),
    /// Answer the first blob request with 401 and this `WWW-Authenticate` challenge (an expired token).
    Unauthorized(String),
    /// Answer every blob request with a 307 to this base URL plus the request's path (blob storage).
    Redirect(String),
}

#[derive(Default)]
pub struct Seen {
    pub blob_requests: AtomicUsize,
    /// `GET` (not `HEAD`) requests for a manifest.
    pub manifest_gets: AtomicUsize,
    pub range_requests: AtomicUsize,
    /// Requests that carried an `Authorization` header.
    pub authorized: AtomicUsize,
    pub faults: AtomicUsize,
}

pub struct Proxy {
    pub port: u16,
    pub seen: Arc<Seen>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(upstream: u16, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Seen::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let seen = seen2.clone();
                let fault = fault.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, upstream, &fault, &seen);
                });
            }
        });
        Proxy { port, seen, stop }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(client: TcpStream, upstream: u16, fault: &Fault, seen: &Seen) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("connection:") {
            continue;
        }
        if lower.starts_with("authorization:") {
            seen.authorized.fetch_add(1, Ordering::SeqCst);
        }
        if lower.starts_with("range:") {
            seen.range_requests.fetch_add(1, Ordering::SeqCst);
        }
        head.push(line);
    }
    let is_blob = head[0].contains("/blobs/sha256:");
    if head[0].starts_with("GET ") && head[0].contains("/manifests/") {
        seen.manifest_gets.fetch_add(1, Ordering::SeqCst);
    }
    let first_blob = is_blob && seen.blob_requests.fetch_add(1, Ordering::SeqCst) == 0;
    let mut client = client;
    let canned = match fault {
        Fault::TooManyRequests if first_blob => {
            Some("429 Too Many Requests\r\nRetry-After: 0".to_string())
        }
        Fault::Unauthorized(challenge) if first_blob => {
            Some(format!("401 Unauthorized\r\nWWW-Authenticate: {challenge}"))
        }
        Fault::Redirect(base) if is_blob => {
            let path = head[0].split(' ').nth(1).unwrap_or("/");
            Some(format!("307 Temporary Redirect\r\nLocation: {base}{path}"))
        }
        _ => None,
    };
    if let Some(status_and_headers) = canned {
        seen.faults.fetch_add(1, Ordering::SeqCst);
        write!(
            client,
            "HTTP/1.1 {status_and_headers}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        return Ok(());
    }
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    let mut request = head.concat();
    request.push_str("Connection: close\r\n\r\n");
    up.write_all(request.as_bytes())?;
    let mut up_reader = BufReader::new(up);
    // The response head, passed on as it is.
    let mut response_head = Vec::new();
    loop {
        let mut line = Vec::new();
        if up_reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        response_head.extend_from_slice(&line);
        if line == b"\r\n" {
            break;
        }
    }
    client.write_all(&response_head)?;
    let length = String::from_utf8_lossy(&response_head)
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let ok = response_head.starts_with(b"HTTP/1.1 200");
    if let (true, true, Fault::CutAfter(n)) = (is_blob, ok, fault.clone()) {
        if length <= 4 * n
            || seen
                .faults
                .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
        {
            std::io::copy(&mut up_reader, &mut client)?;
            return Ok(());
        }
        let mut part = vec![0u8; n];
        up_reader.read_exact(&mut part)?;
        client.write_all(&part)?;
        client.flush()?;
        return client.shutdown(std::net::Shutdown::Both);
    }
    std::io::copy(&mut up_reader, &mut client)?;
    Ok(())
}
