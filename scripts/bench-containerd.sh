#!/usr/bin/env bash
# Times layerscope reading one image from containerd's content store in place against the same image as an OCI
# layout directory (the reading path it shares), numbers for docs/PERFORMANCE.md.
#
# Usage: scripts/bench-containerd.sh [RUNS]     (default 7 runs of each, alternating)
# Environment: LAYERSCOPE_BENCH_MB (default 2000) and LAYERSCOPE_BENCH_FILES (default 80000) size the image
# that `cargo bench --bench load` generates (cached under target/bench-images/); its gzip OCI archive is
# unpacked into a layout directory and imported (`ctr images import --no-unpack`) into namespace k8s.io of a
# containerd started here with its own root, state and socket under a temporary directory, stopped at exit.
# Needs root and containerd (Debian: apt-get install containerd).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
export LAYERSCOPE_BENCH_MB=${LAYERSCOPE_BENCH_MB:-2000} LAYERSCOPE_BENCH_FILES=${LAYERSCOPE_BENCH_FILES:-80000}

cargo build --release -q
archive=$(LAYERSCOPE_BENCH_WRITE_ONLY=1 cargo bench -q --bench load | grep 'oci-gzip.tar$')
work=$(mktemp -d /tmp/layerscope-bench-containerd.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/layout"
tar -xf "$archive" -C "$work/layout"
cat >"$work/config.toml" <<EOF
version = 2
root = "$work/root"
state = "$work/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$work/c.sock"
[ttrpc]
  address = "$work/c.sock.ttrpc"
EOF
containerd -c "$work/config.toml" >"$work/containerd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do ctr -a "$work/c.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
ctr -a "$work/c.sock" -n k8s.io images import --no-unpack "$archive" >/dev/null

bin=target/release/layerscope
layout=("$bin" --no-secrets --json - "$work/layout")
store=("$bin" --no-secrets --json - --source containerd --containerd-root "$work/root" bench:1)
"${layout[@]}" >/dev/null
"${store[@]}" >/dev/null 2>&1
cmp <("${layout[@]}" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["layers"], d["waste"])') \
    <("${store[@]}" 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["layers"], d["waste"])') \
  || { echo "the two reports differ"; exit 1; }

# Alternating runs, so drift in the machine's load touches both alike; the ratio is the median of paired ratios.
now() { date +%s.%N; }
for _ in $(seq "$runs"); do
  a=$(now); "${layout[@]}" >/dev/null; b=$(now); "${store[@]}" >/dev/null 2>&1; c=$(now)
  echo "$a $b $c"
done | awk -v mb="$LAYERSCOPE_BENCH_MB" -v files="$LAYERSCOPE_BENCH_FILES" '
  function median(v, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
    return v[int((n + 1) / 2)]
  }
  { n++; l[n] = $2 - $1; s[n] = $3 - $2; r[n] = s[n] / l[n] }
  END {
    printf "image: %s MB, %s files, gzip layers; median of %d alternating runs, page cache warm\n", mb, files, n
    printf "OCI layout directory        %6.2f s\n", median(l, n)
    printf "containerd store (k8s.io)   %6.2f s   (paired ratio %.3f)\n", median(s, n), median(r, n)
  }'
