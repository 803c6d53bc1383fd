//! End to end: the real binary's explorer driven inside tmux (send-keys, capture-pane) on a real Docker-built
//! image. The layers pane shows the instructions, moving to a layer shows the files it added, a filter and the
//! help overlay work, `q` exits 0 and leaves the terminal as it was (main screen back, cooked mode); SIGTERM,
//! SIGHUP and the terminal going away end it promptly. Fed through a FIFO, the loading view is on screen before
//! the image arrives: keys typed then apply once it is loaded, `q` quits at once. From a registry that holds
//! back one layer, the lower layers are explored while it loads, and the full model keeps the explorer's state.
//!
//! Skips when tmux is missing, unless LAYERSCOPE_REQUIRE_ENGINES=1 (CI), where it fails instead.

#[path = "common/tmux.rs"]
mod tmux;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tmux::{Tmux, start, tmux_available};

#[test]
fn explorer_in_tmux() {
    if !tmux_available() {
        return;
    }
    let t = start("keys");
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/docker-legacy.tar");
    let line = format!(
        "'{}' '{}'; echo EXIT=$? > '{}'",
        env!("CARGO_BIN_EXE_layerscope"),
        fixture.display(),
        t.exit_file().display()
    );
    t.text(&line);
    t.keys(&["Enter"]);

    // The layers pane: every instruction as written, empty steps under their layer, build args masked.
    // A capture can land mid-frame: wait for every part, not just the first one drawn.
    let expected = [
        "Layers (7)",
        "RUN mkdir -p /srv/app/stati",
        "RUN printf 'machine api.exa",
        "RUN dd if=/dev/zero of=/tmp",
        "└ WORKDIR /srv/app",
        "└ CMD [\"cat\" \"app.conf\"]",
        "Files · image at layer 0",
    ];
    let screen = t.wait("the whole layers pane", |s| {
        expected.iter().all(|e| s.contains(e))
    });
    assert!(
        !screen.contains("AXPX6LYb"),
        "a build argument in clear:\n{screen}"
    );

    // Layer 3, only its changes: the .netrc and assets.bin it added.
    t.keys(&["Down", "Down", "Down", "C-l"]);
    let screen = t.wait("layer 3's changes", |s| {
        s.contains("Files · layer 3 changes")
            && s.contains(".netrc")
            && s.contains("assets.bin")
            && s.contains("Layer 3 ")
    });
    assert!(
        screen.contains(".netrc") && screen.contains("assets.bin"),
        "{screen}"
    );
    assert!(screen.contains("Layer 3 "), "{screen}");
    // Layer 4: the build cache it added, and the .ssh directory it deleted (marked).
    t.keys(&["Down"]);
    let screen = t.wait("layer 4's changes", |s| {
        s.contains("Files · layer 4 changes")
            && s.contains("id_rsa")
            && s.contains("build-cache.img")
    });
    assert!(
        screen.contains("+ -rw-r--r--") && screen.contains("build-cache.img"),
        "{screen}"
    );
    assert!(
        screen.contains("- -rw-------") && screen.contains("id_rsa"),
        "{screen}"
    );
    assert!(!screen.contains("── assets.bin"), "{screen}");

    // A filter, typed in the tree pane.
    t.keys(&["Tab", "Tab", "f"]);
    t.text("ssh");
    t.keys(&["Enter"]);
    let screen = t.wait("the filter", |s| {
        s.contains("filter /ssh/") && s.contains("└── id_rsa")
    });
    assert!(
        screen.contains("└── id_rsa") && !screen.contains("── build-cache.img"),
        "{screen}"
    );

    // The help overlay lists the keys; Esc closes it.
    t.keys(&["?"]);
    let screen = t.wait("the help", |s| {
        s.contains("Keys (? or Esc closes") && s.contains("collapse all")
    });
    assert!(
        screen.contains("ctrl+space") && screen.contains("collapse all"),
        "{screen}"
    );
    t.keys(&["Escape"]);
    t.wait("the help to close", |s| {
        !s.contains("Keys (? or Esc closes")
    });

    // q quits with 0, back on the shell's screen in cooked mode.
    t.keys(&["q"]);
    let start = Instant::now();
    while !t.exit_file().exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let code = std::fs::read_to_string(t.exit_file()).unwrap_or_default();
    assert_eq!(code.trim(), "EXIT=0", "screen:\n{}", t.screen());
    t.text("stty -a | tr ' ' '\\n' | grep -x -e icanon -e echo -e -icanon -e -echo");
    t.keys(&["Enter"]);
    let screen = t.wait("stty", |s| s.lines().any(|l| l == "icanon"));
    assert!(
        !screen.contains("Layers (7)"),
        "the UI is still on screen:\n{screen}"
    );
    assert!(screen.lines().any(|l| l == "echo"), "{screen}");
    // The command line typed before the UI started is visible again: the primary screen is back (the prompt
    // itself may have been printed after the keys were sent, so it is not looked for).
    assert!(
        screen.contains("echo EXIT=$?"),
        "the shell's screen is back:\n{screen}"
    );
}

/// Starts the explorer on the real fixture under `sh`, which writes its pid first; returns that pid.
fn launch(t: &Tmux) -> String {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/docker-legacy.tar");
    let pid_file = t.dir.path().join("pid");
    let line = format!(
        "sh -c 'echo $$ > \"$1\"; exec \"$2\" \"$3\"' sh '{}' '{}' '{}'; echo EXIT=$? > '{}'",
        pid_file.display(),
        env!("CARGO_BIN_EXE_layerscope"),
        fixture.display(),
        t.exit_file().display()
    );
    t.text(&line);
    t.keys(&["Enter"]);
    t.wait("the explorer", |s| s.contains("Layers (7)"));
    std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string()
}

/// Whether process `pid` still runs (a zombie nobody reaped has ended).
fn running(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
        Err(_) => false,
    }
}

/// Waits up to `limit` for process `pid` to end; whether it did.
fn ends_within(pid: &str, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !running(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !running(pid)
}

/// Ends `pid` if a failed test left it behind.
fn reap(pid: &str) {
    if running(pid) {
        let _ = Command::new("kill").args(["-KILL", pid]).status();
    }
}

fn signal(pid: &str, sig: &str) {
    let sent = Command::new("kill").args([sig, pid]).status().unwrap();
    assert!(sent.success());
}

fn exit_line(t: &Tmux) -> String {
    let start = Instant::now();
    while !t.exit_file().exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(t.exit_file())
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn sigterm_restores_the_terminal() {
    if !tmux_available() {
        return;
    }
    let t = start("sigterm");
    let pid = launch(&t);
    signal(&pid, "-TERM");
    let ended = ends_within(&pid, Duration::from_secs(2));
    reap(&pid);
    assert!(ended, "SIGTERM did not end the explorer within 2 s");
    assert_eq!(exit_line(&t), "EXIT=143", "screen:\n{}", t.screen());
    let screen = t.screen();
    assert!(
        !screen.contains("Layers (7)"),
        "the UI is still on screen:\n{screen}"
    );
}

#[test]
fn sighup_ends_the_explorer() {
    if !tmux_available() {
        return;
    }
    let t = start("sighup");
    let pid = launch(&t);
    signal(&pid, "-HUP");
    let ended = ends_within(&pid, Duration::from_secs(2));
    reap(&pid);
    assert!(ended, "SIGHUP did not end the explorer within 2 s");
    assert_eq!(exit_line(&t), "EXIT=129", "screen:\n{}", t.screen());
}

/// An ssh drop or a closed terminal window: the terminal goes away under the explorer, which must end (not
/// spin reading a dead terminal), and must still obey SIGTERM meanwhile.
#[test]
fn the_explorer_ends_when_its_terminal_goes_away() {
    if !tmux_available() {
        return;
    }
    let t = start("hangup");
    let pid = launch(&t);
    let out = t.cmd(&["kill-session", "-t", "e2e"]);
    assert!(out.status.success(), "kill-session: {out:?}");
    let ended = ends_within(&pid, Duration::from_secs(2));
    if !ended {
        signal(&pid, "-TERM");
    }
    let obeyed_sigterm = ended || ends_within(&pid, Duration::from_secs(2));
    reap(&pid);
    assert!(
        ended,
        "the explorer still runs 2 s after its terminal went away (SIGTERM then {})",
        if obeyed_sigterm {
            "ended it"
        } else {
            "was ignored too"
        }
    );
}

/// Times the main thread of `pid` went to sleep so far.
fn wakeups(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// No redraw timer: an idle explorer sleeps until a key, a resize or a signal comes.
#[test]
fn an_idle_explorer_sleeps() {
    if !tmux_available() {
        return;
    }
    let t = start("idle");
    let pid = launch(&t);
    std::thread::sleep(Duration::from_millis(300));
    let before = wakeups(&pid);
    std::thread::sleep(Duration::from_secs(1));
    let idle = wakeups(&pid) - before;
    t.keys(&["Down"]);
    t.wait("layer 1", |s| s.contains("Files · image at layer 1"));
    signal(&pid, "-TERM");
    let ended = ends_within(&pid, Duration::from_secs(2));
    reap(&pid);
    assert!(ended);
    assert!(idle <= 2, "the idle explorer woke {idle} times in 1 s");
}

/// Starts the explorer on stdin (`-`), fed by `cat` from a FIFO the test writes the image into when it wants;
/// returns the explorer's pid and the FIFO.
fn launch_waiting(t: &Tmux) -> (String, PathBuf) {
    let fifo = t.dir.path().join("image");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let pid_file = t.dir.path().join("pid");
    let line = format!(
        "cat '{}' | sh -c 'echo $$ > \"$1\"; exec \"$2\" -' sh '{}' '{}'; echo EXIT=$? > '{}'",
        fifo.display(),
        pid_file.display(),
        env!("CARGO_BIN_EXE_layerscope"),
        t.exit_file().display()
    );
    t.text(&line);
    t.keys(&["Enter"]);
    t.wait("the loading view", |s| {
        s.contains("loading -") && s.contains("opening…")
    });
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    (pid, fifo)
}

/// The explorer is on screen before the image has arrived; keys typed meanwhile apply once it is loaded.
#[test]
fn keys_typed_while_loading_apply_once_loaded() {
    if !tmux_available() {
        return;
    }
    let t = start("loading");
    let (pid, fifo) = launch_waiting(&t);
    t.keys(&["Down", "Down", "Down"]);
    t.wait("the keys kept", |s| s.contains("3 keys kept"));
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/docker-legacy.tar");
    std::fs::write(&fifo, std::fs::read(fixture).unwrap()).unwrap();
    let screen = t.wait("layer 3 selected", |s| {
        s.contains("Layers (7)") && s.contains("Layer 3 ") && s.contains("image at layer 3")
    });
    assert!(screen.contains("Layer 3 "), "{screen}");
    t.keys(&["q"]);
    assert_eq!(exit_line(&t), "EXIT=0");
    reap(&pid);
}

/// `q` while the image loads quits at once, whatever the load is waiting for.
#[test]
fn q_while_loading_quits_at_once() {
    if !tmux_available() {
        return;
    }
    let t = start("loading-q");
    let (pid, fifo) = launch_waiting(&t);
    t.keys(&["q"]);
    let ended = ends_within(&pid, Duration::from_secs(2));
    reap(&pid);
    // Lets `cat` end: it waits for a writer.
    drop(std::fs::OpenOptions::new().write(true).open(&fifo));
    assert!(ended, "still loading after q");
    assert_eq!(exit_line(&t), "EXIT=0");
    let screen = t.wait("the shell back", |s| !s.contains("loading -"));
    assert!(!screen.contains("opening…"), "{screen}");
}

/// A registry of one image (`app:1`, three uncompressed layers) on 127.0.0.1 over plain HTTP, that holds back
/// the second half of layer 1's blob until `release` is set: the explorer's lower layer is loaded, an upper one
/// is still loading, for as long as the test wants.
struct SlowRegistry {
    port: u16,
    release: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// A layer tar of regular files (name, content).
fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

impl SlowRegistry {
    fn start() -> SlowRegistry {
        use std::collections::HashMap;
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        let big = vec![b'x'; 4 << 20];
        let layers = [
            layer_tar(&[("etc/hello.txt", b"hello\n"), ("etc/motd", b"hi\n")]),
            layer_tar(&[("var/big.bin", &big)]),
            layer_tar(&[("srv/top.txt", b"top\n")]),
        ];
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux", "config": {},
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| sha256(l)).collect::<Vec<_>>()},
            "history": [
                {"created_by": "/bin/sh -c #(nop) ADD etc in /"},
                {"created_by": "/bin/sh -c make big"},
                {"created_by": "/bin/sh -c make top"},
            ],
        }))
        .unwrap();
        let descriptor = |media: &str, data: &[u8]| serde_json::json!({"mediaType": media, "digest": sha256(data), "size": data.len()});
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
            "layers": layers.iter()
                .map(|l| descriptor("application/vnd.oci.image.layer.v1.tar", l))
                .collect::<Vec<_>>(),
        }))
        .unwrap();
        let held = sha256(&layers[1]);
        let mut blobs: HashMap<String, Vec<u8>> =
            layers.iter().map(|l| (sha256(l), l.clone())).collect();
        blobs.insert(sha256(&config), config);
        let blobs = Arc::new(blobs);
        let manifest = Arc::new(manifest);
        let release = Arc::new(AtomicBool::new(false));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let gate = release.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (blobs, manifest, gate, held) =
                    (blobs.clone(), manifest.clone(), gate.clone(), held.clone());
                std::thread::spawn(move || serve(stream, &blobs, &manifest, &gate, &held));
            }
        });
        SlowRegistry { port, release }
    }
}

/// Answers the requests of one connection (keep-alive) until the client closes it; a TLS hello is refused by
/// closing, so the client falls back to plain HTTP (allowed on a loopback address).
fn serve(
    mut stream: std::net::TcpStream,
    blobs: &std::collections::HashMap<String, Vec<u8>>,
    manifest: &[u8],
    release: &std::sync::atomic::AtomicBool,
    held: &str,
) {
    use std::io::{Read, Write};
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if buf.first() == Some(&0x16) {
                return;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        buf.drain(..head_end);
        let mut words = head.split_whitespace();
        let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let (status, kind, body): (&str, &str, &[u8]) = if path == "/v2/" {
            ("200 OK", "application/json", b"{}")
        } else if path.starts_with("/v2/app/manifests/") {
            (
                "200 OK",
                "application/vnd.oci.image.manifest.v1+json",
                manifest,
            )
        } else if let Some(blob) = path
            .strip_prefix("/v2/app/blobs/")
            .and_then(|d| blobs.get(d))
        {
            ("200 OK", "application/octet-stream", blob)
        } else {
            ("404 Not Found", "application/json", b"{\"errors\":[]}")
        };
        let digest = sha256(body);
        let header = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nDocker-Content-Digest: {digest}\r\n\r\n",
            body.len()
        );
        if stream.write_all(header.as_bytes()).is_err() || method == "HEAD" {
            continue;
        }
        let body = if path.ends_with(held) {
            let half = body.len() / 2;
            if stream.write_all(&body[..half]).is_err() {
                return;
            }
            let _ = stream.flush();
            while !release.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
            }
            &body[half..]
        } else {
            body
        };
        if stream.write_all(body).is_err() {
            return;
        }
    }
}

/// The explorer opens on the lower layers while an upper one still loads: the bottom layer's files can be
/// explored, a layer still loading shows its progress, one read but waiting for a lower one says so; once the
/// whole image is loaded the full model takes over, keeping the selected layer and the filter.
#[test]
fn lower_layers_are_explorable_while_an_upper_one_loads() {
    if !tmux_available() {
        return;
    }
    let registry = SlowRegistry::start();
    let t = start("partial");
    let line = format!(
        "'{}' registry://127.0.0.1:{}/app:1 --no-cache; echo EXIT=$? > '{}'",
        env!("CARGO_BIN_EXE_layerscope"),
        registry.port,
        t.exit_file().display()
    );
    t.text(&line);
    t.keys(&["Enter"]);
    // Layer 0 explorable, layer 1 held back half-way, layer 2 read but waiting for layer 1.
    let screen = t.wait("layer 0 explorable", |s| {
        s.contains("Layers (3)")
            && s.contains("1 of 3 explorable")
            && s.contains("hello.txt")
            && s.contains("analysing…")
    });
    assert!(screen.contains("Files · image at layer 0"), "{screen}");
    t.wait("layer 2 read", |s| s.contains("   2      read "));
    t.keys(&["Down"]);
    let screen = t.wait("layer 1's progress in the tree pane", |s| {
        s.contains("Files · layer 1 loading") && s.contains("layer 1: ")
    });
    assert!(
        screen.contains("of 4.00 MiB") || screen.contains("of 4.20 MB"),
        "{screen}"
    );
    t.keys(&["Down"]);
    t.wait("layer 2 waiting for layer 1", |s| {
        s.contains("layer 2: read") && s.contains("waiting for layers below it: 1")
    });
    // Back on layer 0: its tree, filtered.
    t.keys(&["Home", "Enter", "f"]);
    t.text("hello");
    t.keys(&["Enter"]);
    let screen = t.wait("layer 0 filtered", |s| {
        s.contains("filter /hello/") && s.contains("hello.txt") && !s.contains("motd")
    });
    assert!(
        screen.contains("1 of 3 explorable"),
        "loaded too soon:\n{screen}"
    );
    // The rest of layer 1 arrives: the full model keeps the layer and the filter, and the figures come.
    registry
        .release
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let screen = t.wait("the full model", |s| {
        s.contains("Layers (3)") && !s.contains("explorable") && !s.contains("analysing…")
    });
    assert!(screen.contains("Files · image at layer 0"), "{screen}");
    assert!(screen.contains("filter /hello/"), "{screen}");
    assert!(screen.contains("efficiency"), "{screen}");
    t.keys(&["Tab", "End"]);
    t.wait("layer 2 explorable", |s| {
        s.contains("Files · image at layer 2")
    });
    t.keys(&["q"]);
    assert_eq!(exit_line(&t), "EXIT=0");
}
