#!/usr/bin/env bash
# Writes the starting corpus of the `containerd` fuzz target: meta.db files written by a real containerd (needs
# root, containerd and ctr), with the real images of tests/fixtures/real imported into the namespaces Docker
# (`moby`), Kubernetes (`k8s.io`) and ctr (`default`) use, one database after each import, each compacted to the
# buckets layerscope reads (compact_bolt.py). Minimise it afterwards with `cargo +nightly fuzz cmin containerd`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/fuzz/corpus/containerd"
mkdir -p "$out"
dir=$(mktemp -d /tmp/layerscope-containerd-seed.XXXXXX)
cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$dir/c.sock"
[ttrpc]
  address = "$dir/c.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
TOML
containerd -c "$dir/config.toml" >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do ctr -a "$dir/c.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
db="$dir/root/io.containerd.metadata.v1.bolt/meta.db"
n=0
for spec in moby:docker25.tar k8s.io:oci-gzip.tar default:docker-legacy.tar other:oci-zstd.tar \
  moby:podman-oci-archive.tar; do
  ns=${spec%%:*}
  ctr -a "$dir/c.sock" -n "$ns" images import "$root/tests/fixtures/real/${spec#*:}" >/dev/null
  n=$((n + 1))
  cp "$db" "$out/meta-$n.db"
done
ctr -a "$dir/c.sock" -n moby images tag layerscope-demo:1 "registry.example/ns/tagged:2" >/dev/null 2>&1 || true
cp "$db" "$out/meta-tagged.db"
python3 "$root/fuzz/seeds/compact_bolt.py" "$out"/meta-*.db
