//! Images streamed from an engine, for when its store cannot be read in place: the Docker Engine API
//! (`GET /images/{name}/get` over the unix socket, `DOCKER_HOST` honoured) and `podman image save`. The
//! `docker save` stream goes straight into the streaming catalog: no temporary file.

use crate::source::LoadProgress;
use std::io::{BufRead, BufReader, Cursor, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{ImageSource, LoadOptions, LoadedImage, load_catalog, stream_catalog};
use crate::error::{Error, Result};

/// The Docker daemon's socket: `DOCKER_HOST=unix:///path`, else `/var/run/docker.sock`.
pub fn docker_socket() -> Result<PathBuf> {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if !host.is_empty() => match host.strip_prefix("unix://") {
            Some(path) => Ok(PathBuf::from(path)),
            None => Err(Error::Usage(format!(
                "DOCKER_HOST={host}: only unix:// sockets are supported"
            ))),
        },
        _ => Ok(PathBuf::from("/var/run/docker.sock")),
    }
}

fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' | b':' | b'/' | b'@' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Sends a GET and returns the status and a reader of the (de-chunked) body.
fn get(path: &str) -> Result<(u16, Box<dyn Read + Send>)> {
    let socket = docker_socket()?;
    let origin = format!("docker API at {}", socket.display());
    let mut stream = UnixStream::connect(&socket).map_err(|e| Error::io(&origin, e))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: layerscope\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| Error::io(&origin, e))?;
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let before = head.len();
        reader
            .read_until(b'\n', &mut head)
            .map_err(|e| Error::io(&origin, e))?;
        if head.len() == before || head.len() > 64 * 1024 {
            return Err(Error::invalid(&origin, "malformed HTTP response"));
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    response
        .parse(&head)
        .map_err(|e| Error::invalid(&origin, format!("malformed HTTP response: {e}")))?;
    let status = response.code.unwrap_or(0);
    let chunked = response.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            && String::from_utf8_lossy(h.value).contains("chunked")
    });
    let rest = reader.buffer().to_vec();
    let body = Cursor::new(rest).chain(reader.into_inner());
    let body: Box<dyn Read + Send> = if chunked {
        Box::new(chunked_transfer::Decoder::new(body))
    } else {
        Box::new(body)
    };
    Ok((status, body))
}

/// Whether a Docker daemon answers on its socket.
pub fn docker_available() -> bool {
    matches!(get("/_ping"), Ok((200, _)))
}

/// What the daemon says about itself (`GET /info`).
fn docker_info() -> Option<serde_json::Value> {
    let (status, body) = get("/info").ok()?;
    if status != 200 {
        return None;
    }
    serde_json::from_reader(body.take(4 * 1024 * 1024)).ok()
}

/// The daemon's data root, as it reports it.
pub fn docker_root_dir() -> Option<PathBuf> {
    docker_info()?
        .get("DockerRootDir")?
        .as_str()
        .map(PathBuf::from)
}

/// Whether the daemon keeps its images in containerd's image store (the containerd snapshotter): its
/// `DriverStatus` lists `driver-type io.containerd.snapshotter.v1`.
pub fn docker_uses_containerd() -> bool {
    docker_info().is_some_and(|info| uses_containerd(&info))
}

fn uses_containerd(info: &serde_json::Value) -> bool {
    info.get("DriverStatus")
        .and_then(|s| s.as_array())
        .is_some_and(|pairs| {
            pairs.iter().any(|p| {
                p.get(0).and_then(|k| k.as_str()) == Some("driver-type")
                    && p.get(1).and_then(|v| v.as_str()) == Some("io.containerd.snapshotter.v1")
            })
        })
}

/// Whether the daemon knows the image.
pub fn docker_has(name: &str) -> bool {
    matches!(get(&format!("/images/{}/json", encode(name))), Ok((200, _)))
}

/// An image streamed from the Docker Engine API.
pub struct DockerApi {
    pub reference: String,
}

impl ImageSource for DockerApi {
    fn load(&self, opts: &LoadOptions, progress: &dyn LoadProgress) -> Result<LoadedImage> {
        let mut path = format!("/images/{}/get", encode(&self.reference));
        if let Some(p) = &opts.selection.platform {
            // API 1.48+; older daemons ignore it and the selection happens on the archive.
            let json = serde_json::json!({"os": p.os, "architecture": p.architecture, "variant": p.variant});
            path.push_str(&format!("?platform={}", encode(&json.to_string())));
        }
        let (status, body) = get(&path)?;
        let name = format!("docker:{}", self.reference);
        if status != 200 {
            let mut text = String::new();
            let _ = body.take(64 * 1024).read_to_string(&mut text);
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| {
                    v.get("message")
                        .and_then(|m| m.as_str())
                        .map(str::to_string)
                })
                .unwrap_or(text);
            return Err(Error::NotFound {
                path: name,
                detail: format!("the Docker API answered {status}: {}", message.trim()),
            });
        }
        let scan = opts.scan_options(progress);
        let catalog = stream_catalog(&name, body, scan)?;
        load_catalog(&name, catalog, opts, progress)
    }
}

/// An image streamed from `podman image save` (when containers-storage cannot be read in place).
pub struct PodmanSave {
    pub reference: String,
}

impl ImageSource for PodmanSave {
    fn load(&self, opts: &LoadOptions, progress: &dyn LoadProgress) -> Result<LoadedImage> {
        let name = format!("podman:{}", self.reference);
        let mut child = Command::new("podman")
            .args([
                "image",
                "save",
                "-q",
                "--format",
                "oci-archive",
                &self.reference,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io(&name, e))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::invalid(&name, "no output from podman"))?;
        let scan = opts.scan_options(progress);
        let result = stream_catalog(&name, stdout, scan)
            .and_then(|c| load_catalog(&name, c, opts, progress));
        let output = child.wait_with_output().map_err(|e| Error::io(&name, e))?;
        if !output.status.success() {
            return Err(Error::NotFound {
                path: name,
                detail: format!(
                    "podman image save failed: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            });
        }
        result
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_containerd_snapshotter_is_told_from_driver_status() {
        let containerd = serde_json::json!({"Driver": "overlayfs",
            "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]]});
        let overlay2 = serde_json::json!({"Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]]});
        assert!(super::uses_containerd(&containerd));
        assert!(!super::uses_containerd(&overlay2));
        assert!(!super::uses_containerd(&serde_json::json!({})));
    }
}
