#!/usr/bin/env bash
# Drives an explorer (ours or a peer's) in a pseudo-terminal and times what a person waits for: the first frame,
# the loaded explorer, and each kind of key (p50/p99 of the time until the screen settles).
#
#   scripts/bench-tui.sh [--keys PLAN] [--rounds N] [--settle MS] [--ready MS] [--size COLSxROWS] -- COMMAND [ARGS...]
#   scripts/bench-tui.sh --make-image FILE [--files N] [--layers N] [--format docker|oci]
#
# Examples:
#   scripts/bench-tui.sh --make-image target/bench-images/tui-120k.tar
#   scripts/bench-tui.sh -- target/release/layerscope target/bench-images/tui-120k.tar
#   scripts/bench-tui.sh --keys dive -- dive docker-archive://target/bench-images/tui-120k.tar
#   scripts/bench-tui.sh --make-image target/bench-images/tui-120k-oci.tar --format oci
#   scripts/bench-tui.sh --keys xray -- xray -f target/bench-images/tui-120k-oci.tar
#
# How it measures: the command runs on the slave side of a pseudo-terminal (COLSxROWS, TERM=xterm-256color) that
# this script holds the master of; nothing sits between the program and the clock (no terminal multiplexer, no
# screen capture per poll). A key is written to the master; its latency is the time until the program's output
# burst ends: the last byte before the output has been quiet for --settle ms (default 40). That is when the new
# frame is complete on screen, whatever the program draws first. A key that draws nothing within 2 s counts as
# "no output". Device-attribute and cursor-position queries are answered as a terminal would.
#
# First frame: the switch to the alternate screen (every explorer measured draws there; a program still loading
# in the normal screen, as dive does, has no frame yet). First explorable layer (layerscope only): the first
# frame of the explorer proper (its layers pane), which opens on the lower layers while upper ones load. Loaded:
# the first time after that the output stays quiet for --ready ms (default 1500); keys start then.
#
# Keys: --keys layerscope (default), dive or xray picks the key plan; each plan presses the same kinds of key
# (End first: the last layer has the biggest tree): layer switch up/down, tree arrows down/up, collapse/expand
# the top directory, and typing then erasing a filter (`pkg01.*d3`; xray has none). The dive and xray plans follow
# their help screens; check with a look at the screen (tmux) that each key does what its label says before
# trusting their numbers.
#
# --make-image writes a docker archive of --files files (default 120000) over --layers layers (default 120),
# laid out like benches/tui.rs's image (400 packages x 50 directories, every fifth layer deletes a tenth of the
# layer below); each file holds a few bytes, since the explorers' work grows with entries, not bytes.
# --format oci writes the same image as an OCI layout in a tar (for xray, which reads only that).
set -euo pipefail

case "${1:-}" in -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
command -v python3 >/dev/null || { echo "bench-tui.sh: python3 is needed" >&2; exit 2; }
exec python3 - "$@" <<'PY'
import errno, fcntl, hashlib, io, json, os, pty, select, signal, struct, sys, tarfile, termios, time

def usage(msg):
    print(f"bench-tui.sh: {msg}", file=sys.stderr)
    sys.exit(2)

def make_image(path, files, layers, oci):
    per_layer = files // layers
    tars = []
    for l in range(layers):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
            dirs = set()
            for f in range(per_layer):
                d = f"usr/share/pkg{(l * 7 + f // 500) % 400:03}/d{f % 50:02}"
                for i in range(2, d.count("/") + 2):
                    part = "/".join(d.split("/")[:i])
                    if part not in dirs:
                        dirs.add(part)
                        info = tarfile.TarInfo(part)
                        info.type, info.mode = tarfile.DIRTYPE, 0o755
                        t.addfile(info)
                data = f"l{l}f{f}\n".encode()
                info = tarfile.TarInfo(f"{d}/l{l}f{f}.bin")
                info.size, info.mode = len(data), 0o644
                t.addfile(info, io.BytesIO(data))
                if l % 5 == 4 and f % 10 == 0:
                    victim = f"usr/share/pkg{((l - 1) * 7 + f // 500) % 400:03}/d{f % 50:02}/.wh.l{l - 1}f{f}.bin"
                    t.addfile(tarfile.TarInfo(victim))
        tars.append(buf.getvalue())
    diff_ids = ["sha256:" + hashlib.sha256(b).hexdigest() for b in tars]
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"/bin/sh -c make step-{i}"} for i in range(layers)],
    }).encode()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    out = tarfile.open(path + ".part", mode="w", format=tarfile.GNU_FORMAT)
    def add(name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        out.addfile(info, io.BytesIO(data))
    def desc(media, data):
        return {"mediaType": media, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}
    if oci:
        # An OCI image layout in a tar (xray reads only this), the same layers uncompressed.
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": desc("application/vnd.oci.image.config.v1+json", config),
            "layers": [desc("application/vnd.oci.image.layer.v1.tar", b) for b in tars],
        }).encode()
        index = json.dumps({"schemaVersion": 2, "manifests": [
            dict(desc("application/vnd.oci.image.manifest.v1+json", manifest),
                 annotations={"org.opencontainers.image.ref.name": "bench/tui:1"})]}).encode()
        add("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        add("index.json", index)
        for blob in [config, manifest] + tars:
            add("blobs/sha256/" + hashlib.sha256(blob).hexdigest(), blob)
    else:
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        manifest = json.dumps([{"Config": config_name, "RepoTags": ["bench/tui:1"],
                                "Layers": [f"{i:04}/layer.tar" for i in range(layers)]}]).encode()
        add(config_name, config)
        for i, b in enumerate(tars):
            add(f"{i:04}/layer.tar", b)
        add("manifest.json", manifest)
    out.close()
    os.replace(path + ".part", path)
    print(f"wrote {path}: {per_layer * layers} files over {layers} layers")

UP, DOWN, END, TAB = b"\x1b[A", b"\x1b[B", b"\x1b[F", b"\t"
BACKSPACE, ENTER, ESC = b"\x7f", b"\r", b"\x1b"
# Every explorer measured draws on the alternate screen; switching to it is its first frame. (Before it, a
# program may still be loading with the terminal in cooked mode, where keys would only be echoed.)
ALT_SCREEN = b"\x1b[?1049h"
# The layers pane's title: layerscope's explorer is on screen (on the lower layers while upper ones load). No
# leading space: a frame writes only the cells that changed, and the loading view's title starts with one too.
EXPLORER = b"Layers ("
FILTER = "pkg01.*d3"

def plan(name):
    """(label, bytes) in order; labels in brackets are not timed. From the last layer (the biggest tree):
    layers up and down, into the tree, arrows, fold the top directory (the whole tree) and unfold it, then a
    filter typed and erased key by key."""
    steps = [("(layers pane)", b"3")] if name == "xray" else []
    # Neither dive nor xray has End in its layer list: enough arrows in one write take them to the last layer.
    steps.append(("(last layer)", END if name == "layerscope" else DOWN * 1000))
    steps += [("layer switch up", UP)] * 12 + [("layer switch down", DOWN)] * 12
    focus_tree = {"layerscope": ENTER, "dive": TAB, "xray": b"4"}[name]
    steps.append(("(focus the tree)", focus_tree))
    steps += [("tree: arrow down", DOWN)] * 10 + [("tree: arrow up", UP)] * 10
    fold = ENTER if name == "xray" else b" "
    steps += [("tree: collapse a directory", fold), ("tree: expand a directory", fold)] * 4
    # xray 0.x has no path filter.
    if name == "xray":
        return steps
    open_filter, close_filter = {"layerscope": (b"f", ENTER), "dive": (b"\x06", ESC)}[name]  # dive: ctrl+f
    steps.append(("(open the filter)", open_filter))
    steps += [(f"filter: type {FILTER[:i + 1]!r}", c.encode()) for i, c in enumerate(FILTER)]
    steps += [(f"filter: backspace to {FILTER[:i]!r}", BACKSPACE) for i in reversed(range(len(FILTER)))]
    steps.append(("(close the filter)", close_filter))
    return steps

class Term:
    def __init__(self, argv, cols, rows):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
            try:
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.kill(self.pid, signal.SIGWINCH)
        self.rows, self.cols, self.total = rows, cols, 0

    def read(self, timeout):
        """Bytes available within `timeout` s (b"" on timeout), answering terminal queries."""
        r, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not r:
            return b""
        try:
            data = os.read(self.fd, 1 << 16)
        except OSError as e:
            if e.errno == errno.EIO:
                raise EOFError
            raise
        if not data:
            raise EOFError
        if b"\x1b[6n" in data:
            os.write(self.fd, f"\x1b[{self.rows};{self.cols}R".encode())
        if b"\x1b[c" in data or b"\x1b[0c" in data:
            os.write(self.fd, b"\x1b[?62;22c")
        self.total += len(data)
        return data

    def until(self, marker, limit):
        """Time at which `marker` arrived (None: not within `limit` s)."""
        return self.until_each([marker], limit)[0]

    def until_each(self, markers, limit):
        """Times at which each of `markers` arrived, one after the other (None: not within `limit` s). The
        bytes after one marker count for the next, even when both came in one read."""
        start, seen, times = time.perf_counter(), b"", []
        while len(times) < len(markers) and time.perf_counter() - start < limit:
            seen += self.read(limit - (time.perf_counter() - start))
            while len(times) < len(markers) and markers[len(times)] in seen:
                marker = markers[len(times)]
                times.append(time.perf_counter())
                seen = seen[seen.index(marker) + len(marker):]
            seen = seen[-4096:]
        return times + [None] * (len(markers) - len(times))

    def settle(self, start, quiet, limit):
        """Time of the first and of the last byte of the burst after `start` (None, None: nothing came)."""
        first = last = None
        while True:
            now = time.perf_counter()
            if last is None and now - start > limit:
                return None, None
            wait = (last + quiet - now) if last is not None else limit - (now - start)
            if last is not None and wait <= 0:
                return first, last
            if self.read(wait):
                last = time.perf_counter()
                first = first or last

    def close(self):
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        for _ in range(50):
            if os.waitpid(self.pid, os.WNOHANG)[0]:
                return
            time.sleep(0.02)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)

def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, len(v) * q // 100)]

def bench(argv, keys, rounds, settle_ms, ready_ms, cols, rows):
    results, firsts, explorables, readies, silent = {}, [], [], [], {}
    for _ in range(rounds):
        start = time.perf_counter()
        term = Term(argv, cols, rows)
        try:
            markers = [ALT_SCREEN, EXPLORER] if keys == "layerscope" else [ALT_SCREEN]
            first, explorable = (term.until_each(markers, 600) + [None])[:2]
            if first is None:
                usage(f"{argv[0]} did not switch to the alternate screen within 600 s")
            if explorable is not None:
                explorables.append(explorable - start)
            _, ready = term.settle(explorable or first, ready_ms / 1000, 600)
            firsts.append(first - start)
            readies.append((ready or first) - start)
            # Quiet for a while before each key: no earlier burst leaks into a key's time.
            for label, key in plan(keys):
                term.settle(time.perf_counter(), settle_ms / 1000, 0.05)
                t0 = time.perf_counter()
                os.write(term.fd, key)
                _, last = term.settle(t0, settle_ms / 1000, 2.0)
                if label.startswith("("):
                    continue
                if last is None:
                    silent[label] = silent.get(label, 0) + 1
                else:
                    results.setdefault(label, []).append(last - t0)
        except EOFError:
            usage(f"{argv[0]} exited during the run")
        finally:
            term.close()
    ms = lambda s: f"{s * 1000:8.1f} ms"
    print(f"command: {' '.join(argv)}")
    print(f"terminal {cols}x{rows}, {rounds} runs, settle {settle_ms} ms, ready after {ready_ms} ms quiet")
    print(f"  {'first frame':<34} p50 {ms(pct(firsts, 50))}   (runs: {', '.join(ms(v).strip() for v in firsts)})")
    if explorables:
        print(f"  {'first explorable layer':<34} p50 {ms(pct(explorables, 50))}   (runs: {', '.join(ms(v).strip() for v in explorables)})")
    print(f"  {'loaded (output quiet)':<34} p50 {ms(pct(readies, 50))}   (runs: {', '.join(ms(v).strip() for v in readies)})")
    groups = {}
    for label, values in results.items():
        kind = label.split(" '")[0]
        groups.setdefault(kind, []).extend(values)
    for kind, values in groups.items():
        print(f"  {kind:<34} p50 {ms(pct(values, 50))}   p99 {ms(pct(values, 99))}   n {len(values)}")
    for label, values in results.items():
        if label.startswith("filter:"):
            print(f"    {label:<32} p50 {ms(pct(values, 50))}   max {ms(max(values))}")
    for label, n in silent.items():
        print(f"  {label:<34} no output {n} times")

args = sys.argv[1:]
opts = {"--keys": "layerscope", "--rounds": "5", "--settle": "40", "--ready": "1500", "--size": "120x40",
        "--files": "120000", "--layers": "120", "--make-image": None, "--format": "docker"}
argv = []
while args:
    a = args.pop(0)
    if a == "--":
        argv = args
        break
    if a not in opts or not args:
        usage(f"unknown or incomplete option {a!r} (see the header of scripts/bench-tui.sh)")
    opts[a] = args.pop(0)
try:
    if opts["--make-image"]:
        make_image(opts["--make-image"], int(opts["--files"]), int(opts["--layers"]), opts["--format"] == "oci")
        sys.exit(0)
    cols, rows = (int(v) for v in opts["--size"].split("x"))
    rounds, settle, ready = int(opts["--rounds"]), int(opts["--settle"]), int(opts["--ready"])
except ValueError as e:
    usage(f"bad number: {e}")
if not argv:
    usage("no command given: scripts/bench-tui.sh [options] -- COMMAND [ARGS...]")
if opts["--keys"] not in ("layerscope", "dive", "xray"):
    usage("--keys is one of layerscope, dive, xray")
bench(argv, opts["--keys"], rounds, settle, ready, cols, rows)
PY
