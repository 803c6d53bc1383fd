//! The registry's HTTP API for one repository: HTTPS with the trust roots of [`super::tls`], plain
//! HTTP only where allowed, challenge-driven auth (anonymous or basic bearer tokens cached per scope and
//! refreshed on 401, or basic auth), retries with backoff on 429/408/5xx and dropped connections, and blob
//! bodies that resume with a `Range` request when the connection breaks.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use ureq::http::Response;
use ureq::{Agent, Body};

use super::RegistryOptions;
use super::auth::{self, Challenge, Credential};
use super::tls::{agent, certs_d_dirs, host_ca_files, is_loopback, tls_hint};
use crate::error::{Error, Result};
use crate::oci::Digest;
use crate::source::reference::{Reference, host_of};

/// Tries per request (the first included), as skopeo does.
const TRIES: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A metadata request (ping, manifest, token) ends within this however slowly the server answers: a body
/// dribbled a byte at a time never trips the per-read timeout. Blobs have no such cap (a large layer on a slow
/// link takes long) but stop at their size.
const METADATA_TIMEOUT: Duration = Duration::from_secs(120);

/// One repository on one registry.
pub(crate) struct Client {
    agent: Agent,
    /// `https://host:port` or `http://host:port`.
    base: String,
    repository: String,
    /// The reference as the user should see it in messages.
    origin: String,
    auth_key: String,
    given: Option<Credential>,
    state: Mutex<AuthState>,
    backoff: Duration,
    metadata_timeout: Duration,
}

#[derive(Default)]
struct AuthState {
    challenge: Option<Challenge>,
    /// Credentials looked up once, when a challenge first asks for them.
    looked_up: Option<Option<Credential>>,
    /// `Authorization` values per scope (`repository:NAME:pull`); basic auth under the key "".
    tokens: HashMap<String, String>,
}

/// Why a request failed, in words (never with headers or credentials).
fn transport(origin: &str, e: &ureq::Error) -> Error {
    Error::invalid(origin, format!("cannot reach the registry: {e}"))
}

fn header<'a>(resp: &'a Response<Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// What replaces a credential that a registry's text quotes.
const HIDDEN: &str = "<hidden>";

/// An error body is read this far at most (a registry's are a few hundred bytes).
const ERROR_BODY_LIMIT: u64 = 64 * 1024;
/// The server's text quoted in a message is cut here: a message is one line, not a page.
const QUOTED_TEXT_LIMIT: usize = 200;

/// `code: message` of the first error an error body lists, shortened; empty when it lists none.
pub(super) fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let e = v.get("errors")?.get(0)?;
            let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
            let message = e.get("message").and_then(|m| m.as_str()).unwrap_or("");
            Some(shorten(&format!("{code}: {message}")))
        })
        .unwrap_or_default()
}

/// `text` cut to [`QUOTED_TEXT_LIMIT`] characters.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(QUOTED_TEXT_LIMIT) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

/// The bearer token of a token service's answer (`token`, else `access_token`).
pub(super) fn token_of(body: &[u8]) -> std::result::Result<String, &'static str> {
    let body: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "the answer is not a token")?;
    body.get("token")
        .or_else(|| body.get("access_token"))
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or("the answer holds no token")
}

/// How long a `Retry-After` header asks to wait (seconds; an HTTP date is not honoured), capped.
pub(super) fn retry_after(value: &str) -> Option<Duration> {
    let seconds = value.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_BACKOFF))
}

impl Client {
    /// Connects to the reference's registry: picks the scheme with a ping of `/v2/` and records its challenge.
    pub(crate) fn connect(reference: &Reference, opts: &RegistryOptions) -> Result<Client> {
        let origin = reference.to_string();
        let host = reference.api_host();
        let insecure = opts
            .insecure_registries
            .iter()
            .any(|h| h == &reference.registry || h == host || h == host_of(host));
        let plain_allowed = insecure || !opts.tls_verify || is_loopback(host_of(host));
        let verify = opts.tls_verify && !insecure;
        let mut names = vec![reference.registry.as_str()];
        if host != reference.registry {
            names.push(host);
        }
        let host_cas = host_ca_files(&certs_d_dirs(), &names);
        let mut client = Client {
            agent: agent(opts, verify, &host_cas)?,
            base: format!("https://{host}"),
            repository: reference.repository.clone(),
            origin,
            auth_key: reference.auth_key().to_string(),
            given: opts.credential.clone(),
            state: Mutex::new(AuthState::default()),
            backoff: opts.backoff.unwrap_or(FIRST_BACKOFF),
            metadata_timeout: opts.metadata_timeout.unwrap_or(METADATA_TIMEOUT),
        };
        let ping = match client.send_once(false, "/v2/", None, None, None) {
            Ok(resp) => resp,
            Err(e) => {
                let failed = |plain: &str| {
                    Error::invalid(
                        &client.origin,
                        format!(
                            "cannot reach the registry over HTTPS ({e}){plain}{}",
                            tls_hint(&e, &reference.registry)
                        ),
                    )
                };
                if !plain_allowed {
                    return Err(failed(""));
                }
                client.base = format!("http://{host}");
                // Only a registry's answer counts: a TLS server answers plain HTTP with 400.
                match client.send_once(false, "/v2/", None, None, None) {
                    Ok(resp) if matches!(resp.status().as_u16(), 200 | 401) => resp,
                    _ => return Err(failed(" nor plain HTTP")),
                }
            }
        };
        if ping.status().as_u16() == 401 {
            let challenge = header(&ping, "www-authenticate").and_then(auth::parse_challenge);
            client.lock().challenge = challenge;
        }
        Ok(client)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AuthState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn scope(&self) -> String {
        format!("repository:{}:pull", self.repository)
    }

    fn send_once(
        &self,
        head: bool,
        path: &str,
        accept: Option<&str>,
        authorization: Option<&str>,
        range: Option<u64>,
    ) -> std::result::Result<Response<Body>, ureq::Error> {
        let url = format!("{}{path}", self.base);
        let mut req = if head {
            self.agent.head(url)
        } else {
            self.agent.get(url)
        };
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        if let Some(a) = authorization {
            req = req.header("Authorization", a);
        }
        if let Some(start) = range {
            req = req.header("Range", format!("bytes={start}-"));
        }
        if !path.contains("/blobs/") {
            req = req
                .config()
                .timeout_global(Some(self.metadata_timeout))
                .build();
        }
        req.call()
    }

    /// GET `/v2/<repository>/<what>` with auth and retries; returns a response of any status but 401 and the
    /// retried ones.
    pub(crate) fn get(
        &self,
        what: &str,
        accept: Option<&str>,
        range: Option<u64>,
    ) -> Result<Response<Body>> {
        self.request(false, what, accept, range)
    }

    /// HEAD `/v2/<repository>/<what>`, as [`Client::get`].
    pub(crate) fn head(&self, what: &str, accept: Option<&str>) -> Result<Response<Body>> {
        self.request(true, what, accept, None)
    }

    fn request(
        &self,
        head: bool,
        what: &str,
        accept: Option<&str>,
        range: Option<u64>,
    ) -> Result<Response<Body>> {
        let path = format!("/v2/{}/{what}", self.repository);
        let mut authenticated_after_401 = false;
        let mut delay = self.backoff;
        let mut tries = 0;
        loop {
            tries += 1;
            let authorization = self.authorization();
            let result = self.send_once(head, &path, accept, authorization.as_deref(), range);
            let mut resp = match result {
                Ok(resp) => resp,
                Err(e) if tries < TRIES && retryable(&e) => {
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(MAX_BACKOFF);
                    continue;
                }
                Err(e) => return Err(transport(&self.origin, &e)),
            };
            let status = resp.status().as_u16();
            if status == 401 {
                if authenticated_after_401 {
                    let detail = self.error_text(&mut resp);
                    return Err(self.denied(&detail));
                }
                authenticated_after_401 = true;
                let challenge = header(&resp, "www-authenticate").and_then(auth::parse_challenge);
                self.authenticate(challenge)?;
                tries -= 1;
                continue;
            }
            if (status == 429 || status == 408 || status >= 500) && tries < TRIES {
                let wait = header(&resp, "retry-after")
                    .and_then(retry_after)
                    .unwrap_or(delay);
                std::thread::sleep(wait);
                delay = (delay * 2).min(MAX_BACKOFF);
                continue;
            }
            return Ok(resp);
        }
    }

    /// The registry's error message from an error response (`{"errors":[{"code","message"}]}`), if any, with
    /// every credential this client holds or sent replaced: a registry may quote what it was sent, and the
    /// message goes to logs that the registry's users cannot all read.
    fn error_text(&self, resp: &mut Response<Body>) -> String {
        let body = resp
            .body_mut()
            .with_config()
            .limit(ERROR_BODY_LIMIT)
            .read_to_vec()
            .unwrap_or_default();
        self.redact(&error_message(&body))
    }

    /// `text` without any credential of this client: passwords, identity tokens, the `Authorization` values
    /// sent (basic and bearer).
    fn redact(&self, text: &str) -> String {
        let mut secrets: Vec<String> = Vec::new();
        let state = self.lock();
        let known = self.given.iter().chain(state.looked_up.iter().flatten());
        for credential in known {
            match credential {
                Credential::Basic { user, password } => {
                    secrets.push(password.clone());
                    secrets.push(basic(user, password));
                }
                Credential::IdentityToken(token) => secrets.push(token.clone()),
            }
        }
        secrets.extend(state.tokens.values().cloned());
        drop(state);
        // The value after the scheme too (`Basic <b64>`, `Bearer <token>`), longest first so that a secret
        // containing another is replaced whole.
        let values: Vec<String> = secrets
            .iter()
            .filter_map(|s| s.split_once(' ').map(|(_, v)| v.to_string()))
            .collect();
        secrets.extend(values);
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.iter().fold(text.to_string(), |text, secret| {
            text.replace(secret.as_str(), HIDDEN)
        })
    }

    fn denied(&self, detail: &str) -> Error {
        let has =
            self.given.is_some() || self.lock().looked_up.as_ref().is_some_and(Option::is_some);
        let hint = if has {
            "the credentials were refused"
        } else {
            "authentication required: log in (docker login / podman login) or pass --creds USER"
        };
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({detail})")
        };
        Error::invalid(&self.origin, format!("{hint}{detail}"))
    }

    /// The `Authorization` header for this repository's scope, if one was obtained.
    fn authorization(&self) -> Option<String> {
        let state = self.lock();
        state
            .tokens
            .get(&self.scope())
            .or_else(|| state.tokens.get(""))
            .cloned()
    }

    fn credential(&self) -> Option<Credential> {
        if let Some(c) = &self.given {
            return Some(c.clone());
        }
        let mut state = self.lock();
        state
            .looked_up
            .get_or_insert_with(|| auth::lookup(&self.auth_key).map(|(c, _)| c))
            .clone()
    }

    /// Answers a challenge (the response's, else the ping's): fetches a bearer token or sets basic auth.
    fn authenticate(&self, challenge: Option<Challenge>) -> Result<()> {
        let challenge = match challenge.or_else(|| self.lock().challenge.clone()) {
            Some(c) => c,
            None => return Err(self.denied("the registry sent no authentication challenge")),
        };
        self.lock().challenge = Some(challenge.clone());
        let credential = self.credential();
        let value = match challenge {
            Challenge::Basic => match credential {
                Some(Credential::Basic { user, password }) => {
                    let (key, value) = (String::new(), basic(&user, &password));
                    self.lock().tokens.insert(key, value);
                    return Ok(());
                }
                _ => return Err(self.denied("")),
            },
            Challenge::Bearer { realm, service, .. } => {
                self.token(&realm, service.as_deref(), credential.as_ref())?
            }
        };
        self.lock()
            .tokens
            .insert(self.scope(), format!("Bearer {value}"));
        Ok(())
    }

    /// A bearer token from the realm for this repository's pull scope (the scope we need, first).
    fn token(
        &self,
        realm: &str,
        service: Option<&str>,
        credential: Option<&Credential>,
    ) -> Result<String> {
        let scope = self.scope();
        let failed =
            |why: String| Error::invalid(&self.origin, format!("token service {realm}: {why}"));
        let result = match credential {
            Some(Credential::IdentityToken(refresh)) => {
                let mut form = vec![
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.as_str()),
                    ("client_id", "layerscope"),
                    ("scope", scope.as_str()),
                ];
                if let Some(s) = service {
                    form.push(("service", s));
                }
                self.agent
                    .post(realm)
                    .config()
                    .timeout_global(Some(self.metadata_timeout))
                    .build()
                    .send_form(form)
            }
            other => {
                let mut req = self
                    .agent
                    .get(realm)
                    .config()
                    .timeout_global(Some(self.metadata_timeout))
                    .build()
                    .query("scope", &scope);
                if let Some(s) = service {
                    req = req.query("service", s);
                }
                if let Some(Credential::Basic { user, password }) = other {
                    req = req.header("Authorization", basic(user, password));
                }
                req.call()
            }
        };
        let mut resp = result.map_err(|e| failed(e.to_string()))?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(self.denied(&format!("the token service answered {status}")));
        }
        if status != 200 {
            return Err(failed(format!("answered {status}")));
        }
        let text = resp
            .body_mut()
            .with_config()
            .limit(1024 * 1024)
            .read_to_vec()
            .map_err(|e| failed(e.to_string()))?;
        token_of(&text).map_err(|why| failed(why.into()))
    }

    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    /// A blob's bytes as a reader that resumes where a broken connection left off, and that fails once the body
    /// runs past `size` (the descriptor's, when known): a body longer than its digest's content is never
    /// right, and one that never ends would be read (and cached) forever.
    pub(crate) fn blob(&self, digest: &Digest, size: Option<u64>) -> Result<BlobReader<'_>> {
        let body = self.open_blob(digest, 0)?;
        Ok(BlobReader {
            client: self,
            digest: digest.clone(),
            size,
            body: Some(body),
            offset: 0,
            resumes: 0,
        })
    }

    /// GET a blob from `offset` on; the body starts exactly at `offset` (skipping what a server that ignores
    /// `Range` resends).
    fn open_blob(&self, digest: &Digest, offset: u64) -> Result<Box<dyn Read + Send>> {
        let range = (offset > 0).then_some(offset);
        let mut resp = self.get(&format!("blobs/{digest}"), None, range)?;
        let status = resp.status().as_u16();
        match status {
            200 | 206 => {}
            404 => {
                return Err(Error::NotFound {
                    path: format!("{}: blob {digest}", self.origin),
                    detail: format!("not in the registry ({})", self.error_text(&mut resp)),
                });
            }
            _ => {
                return Err(Error::invalid(
                    &self.origin,
                    format!(
                        "blob {digest}: the registry answered {status} {}",
                        self.error_text(&mut resp)
                    ),
                ));
            }
        }
        let mut body: Box<dyn Read + Send> = Box::new(resp.into_body().into_reader());
        if status == 200 && offset > 0 {
            let skipped = io::copy(&mut (&mut body).take(offset), &mut io::sink())
                .map_err(|e| Error::io(format!("{}: blob {digest}", self.origin), e))?;
            if skipped < offset {
                return Err(Error::invalid(
                    &self.origin,
                    format!("blob {digest}: shorter on a second read"),
                ));
            }
        }
        Ok(body)
    }
}

/// Every parser of what a registry sends, fed from one input without a socket (the registry fuzz target): the
/// fields, separated by NUL, are a `WWW-Authenticate` challenge, a token service's body, an error body, the
/// `Content-Type`, `Docker-Content-Digest` and `Retry-After` headers, and (the rest) a manifest or index body,
/// which is checked against the digest header, classified and listed as a fetched manifest is.
#[doc(hidden)]
pub fn parse_responses(data: &[u8]) {
    let mut fields = data.splitn(7, |&b| b == 0);
    let mut next = || fields.next().unwrap_or_default();
    let text = |field: &[u8]| String::from_utf8_lossy(field).into_owned();
    let _ = auth::parse_challenge(&text(next()));
    let _ = token_of(next());
    let _ = error_message(next());
    let media_type = super::media_type_of(&text(next()));
    let digest = text(next()).parse::<Digest>().ok();
    let _ = retry_after(&text(next()));
    let body = next();
    if let Some(digest) = digest {
        let _ = super::verify("fuzz", "manifest", &digest, body);
    }
    let _ = super::classify("fuzz", body, Some(&media_type));
    let _ = super::listed(body);
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Dropped connections and timeouts are tried again; the whole-request timeout is not (a server that
/// dribbles its answer will dribble it again).
fn retryable(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Timeout(ureq::Timeout::Global) => false,
        ureq::Error::Io(_) | ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed => true,
        _ => false,
    }
}

/// A blob body that reopens the blob at the current offset when the connection breaks.
pub(crate) struct BlobReader<'c> {
    client: &'c Client,
    digest: Digest,
    size: Option<u64>,
    body: Option<Box<dyn Read + Send>>,
    offset: u64,
    resumes: u32,
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let error = match self.body.as_mut().map(|b| b.read(buf)) {
                Some(Ok(n)) => {
                    self.offset += n as u64;
                    if let Some(size) = self.size.filter(|&size| self.offset > size) {
                        return Err(io::Error::other(format!(
                            "the registry sent more than the {size} bytes the manifest gives for blob {}",
                            self.digest
                        )));
                    }
                    return Ok(n);
                }
                Some(Err(e)) => e,
                None => io::Error::other("the blob could not be reopened"),
            };
            if self.resumes + 1 >= TRIES {
                return Err(error);
            }
            self.resumes += 1;
            std::thread::sleep(self.client.backoff * self.resumes);
            self.body = None;
            match self.client.open_blob(&self.digest, self.offset) {
                Ok(body) => self.body = Some(body),
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_base64_user_colon_password() {
        assert_eq!(basic("u", "p"), "Basic dTpw");
    }

    /// A server that answers `/v2/` and then dribbles every other body a byte per 50 ms, forever.
    fn slow_loris() -> u16 {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut first = String::new();
                    let _ = reader.read_line(&mut first);
                    let mut line = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 2 {
                        line.clear();
                    }
                    let mut conn = conn;
                    if first.starts_with("GET /v2/ ") {
                        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
                        return;
                    }
                    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n{";
                    let mut ok = conn.write_all(head).is_ok();
                    while ok {
                        std::thread::sleep(Duration::from_millis(50));
                        ok = conn.write_all(b" ").is_ok();
                    }
                });
            }
        });
        port
    }

    /// A manifest dribbled a byte at a time (each read well inside the per-read timeout) ends at the metadata
    /// timeout, without retries; it was read for as long as the server kept sending.
    #[test]
    fn a_dribbled_manifest_ends_at_the_metadata_timeout() {
        let port = slow_loris();
        let reference = Reference::parse(&format!("127.0.0.1:{port}/slow/app:1")).unwrap();
        let opts = RegistryOptions {
            metadata_timeout: Some(Duration::from_secs(1)),
            ..RegistryOptions::default()
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let client = Client::connect(&reference, &opts).unwrap();
            let result = client.get("manifests/1", None, None).map(|mut resp| {
                let mut body = Vec::new();
                resp.body_mut().as_reader().read_to_end(&mut body)
            });
            let _ = tx.send(matches!(result, Ok(Err(_)) | Err(_)));
        });
        let failed = rx.recv_timeout(Duration::from_secs(30));
        assert_eq!(failed, Ok(true), "the dribbled body was still being read");
    }
}
