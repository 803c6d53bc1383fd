#!/usr/bin/env bash
# Times layerscope reading one image from a local registry against the same image as an OCI layout directory,
# and against `skopeo copy` to a layout followed by layerscope; then, through a rate-limited proxy, the registry
# read against download alone and analysis alone (to show that they overlap). Numbers for docs/PERFORMANCE.md.
#
# Usage: scripts/bench-registry.sh [RUNS]          (default 5 runs of each, alternating)
#        scripts/bench-registry.sh -- CMD [ARG...]  (set everything up, run CMD with the variables below, stop)
# Environment: LAYERSCOPE_BENCH_MB (default 512) and LAYERSCOPE_BENCH_FILES (default 80000) size the image that
# `cargo bench --bench load` generates (cached under target/bench-images/); its gzip OCI archive is unpacked into
# a layout directory and pushed with skopeo to Debian's docker-registry, started here on 127.0.0.1 with a random
# port and storage in a temporary directory, stopped at exit. LAYERSCOPE_BENCH_RATE (MB/s, default 40) is the
# proxy's shared bandwidth. For CMD: BIN (layerscope), LAYOUT (the layout directory), REF (registry://...:PORT/
# big:1), SLOW_REF (the same through the proxy), DOCKER_REF and SLOW_DOCKER_REF (for skopeo), WORK (a scratch
# directory; XDG_CACHE_HOME is $WORK/cache).
# Needs docker-registry, skopeo and python3 (Debian: apt-get install docker-registry skopeo python3).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5
if [ "${1:-}" = "--" ]; then shift; else runs=${1:-5}; set --; fi
export LAYERSCOPE_BENCH_MB=${LAYERSCOPE_BENCH_MB:-512} LAYERSCOPE_BENCH_FILES=${LAYERSCOPE_BENCH_FILES:-80000}
rate=${LAYERSCOPE_BENCH_RATE:-40}

cargo build --release -q
archive=$(LAYERSCOPE_BENCH_WRITE_ONLY=1 cargo bench -q --bench load | grep 'oci-gzip.tar$')
work=$(mktemp -d /tmp/layerscope-bench-registry.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; exit 1; }

mkdir "$work/layout" "$work/data" "$work/cache"
tar -xf "$archive" -C "$work/layout"
port=$(free_port)
cat >"$work/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/data
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
wait_port "$port"
skopeo copy -q --dest-tls-verify=false "oci:$work/layout" "docker://127.0.0.1:$port/big:1"

# The throttling proxy: a plain TCP relay whose answers (registry to client) share one token bucket of
# $rate MB/s over all connections, like one slow link.
cat >"$work/throttle.py" <<'EOF'
import socket, sys, threading, time
listen, upstream, rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) * 1e6
lock, slot = threading.Lock(), [time.monotonic()]
def pipe(src, dst, limit):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if limit:
                with lock:
                    start = max(slot[0], time.monotonic())
                    slot[0] = start + len(data) / rate
                    end = slot[0]
                delay = end - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", listen))
server.listen(64)
while True:
    client, _ = server.accept()
    up = socket.create_connection(("127.0.0.1", upstream))
    threading.Thread(target=pipe, args=(client, up, False), daemon=True).start()
    threading.Thread(target=pipe, args=(up, client, True), daemon=True).start()
EOF
slow=$(free_port)
python3 "$work/throttle.py" "$slow" "$port" "$rate" &
pids+=($!)
wait_port "$slow"

export BIN=$PWD/target/release/layerscope LAYOUT=$work/layout WORK=$work XDG_CACHE_HOME=$work/cache
export REF=registry://127.0.0.1:$port/big:1 SLOW_REF=registry://127.0.0.1:$slow/big:1
export DOCKER_REF=docker://127.0.0.1:$port/big:1 SLOW_DOCKER_REF=docker://127.0.0.1:$slow/big:1

summary() { "$@" 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["layers"], d["waste"])'; }
cmp <(summary "$BIN" --json - "$LAYOUT") <(summary "$BIN" --json - --no-cache "$REF") \
  || { echo "the two reports differ"; exit 1; }

if [ $# -gt 0 ]; then
  "$@"
  exit
fi

layout=("$BIN" --json - "$LAYOUT")
nocache=("$BIN" --json - --no-cache "$REF")
warm=("$BIN" --json - "$REF")
copy() { rm -rf "$work/copy"; skopeo copy -q --src-tls-verify=false "$1" "oci:$work/copy"; }
"${warm[@]}" >/dev/null 2>&1 # fills the cache
now() { date +%s.%N; }
# Alternating runs, so drift in the machine's load touches all alike; ratios are medians of per-round ratios.
for _ in $(seq "$runs"); do
  t0=$(now); "${layout[@]}" >/dev/null 2>&1
  t1=$(now); "${nocache[@]}" >/dev/null 2>&1
  t2=$(now); "${warm[@]}" >/dev/null 2>&1
  t3=$(now); copy "$DOCKER_REF"; "$BIN" --json - "$work/copy" >/dev/null 2>&1
  t4=$(now); "$BIN" --json - --no-cache "$SLOW_REF" >/dev/null 2>&1
  t5=$(now); copy "$SLOW_DOCKER_REF"
  t6=$(now)
  echo "$t0 $t1 $t2 $t3 $t4 $t5 $t6"
done | awk -v mb="$LAYERSCOPE_BENCH_MB" -v files="$LAYERSCOPE_BENCH_FILES" -v rate="$rate" -v load="$(cut -d' ' -f1-3 /proc/loadavg)" '
  function median(v, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
    return v[int((n + 1) / 2)]
  }
  function col(i,   k, v) { for (k = 1; k <= n; k++) v[k] = d[i, k]; return median(v, n) }
  { n++; for (i = 1; i <= 6; i++) d[i, n] = $(i + 1) - $i
    r2[n] = d[2, n] / d[1, n]; r3[n] = d[3, n] / d[1, n]; r4[n] = d[2, n] / d[4, n]; r5[n] = d[5, n] / (d[1, n] > d[6, n] ? d[1, n] : d[6, n]) }
  END {
    printf "image: %s MB, %s files, gzip layers; median of %d alternating rounds; load average at the end %s\n", mb, files, n, load
    printf "OCI layout directory                          %7.2f s\n", col(1)
    printf "registry://, --no-cache                       %7.2f s   (ratio to layout %.2f)\n", col(2), median(r2, n)
    printf "registry://, warm cache                       %7.2f s   (ratio to layout %.2f)\n", col(3), median(r3, n)
    printf "skopeo copy + layerscope on the copy          %7.2f s   (registry --no-cache / this: %.2f)\n", col(4), median(r4, n)
    printf "throttled to %s MB/s: registry://, --no-cache %7.2f s   (ratio to the larger of the next two %.2f)\n", rate, col(5), median(r5, n)
    printf "throttled: download alone (skopeo copy)       %7.2f s\n", col(6)
    printf "analysis alone (layout, above)                %7.2f s\n", col(1)
  }'
