#!/usr/bin/env bash
# Rebuilds the real-engine test fixtures of layerscope from assets/demo/Dockerfile.
#
# Usage: scripts/build-fixtures.sh [--no-demo] [--fresh] [OUTDIR]
#   OUTDIR     where the fixtures go (default: <repo>/tests/fixtures/real)
#   --no-demo  do not (re)write <repo>/assets/demo.tar
#   --fresh    remove the demo/base images first and build without the layer cache
#              (new layer digests; without it a rerun reuses the engines' caches and,
#              on the same machine, rewrites byte-identical files)
#
# Needs root and Debian 12 (or similar): docker.io (Docker 20.10 daemon, classic builder),
# podman/buildah and skopeo from Debian; installs whatever is missing with apt-get.
# Starts dockerd in the background if no daemon answers (no bridge, no iptables: all
# docker builds run with --network none; podman builds use chroot isolation, which allows
# only the host network, but nothing in the Dockerfile touches the network) and leaves it running.
#
# Writes into OUTDIR (docker-*, oci-* and docker-export.txt all come from the one image
# layerscope-demo:1 built by Docker; podman-* from localhost/layerscope-demo:1, built by podman
# from the same Dockerfile):
#   docker-legacy.tar           docker save, Docker <= 24 layout (<v1id>/layer.tar, manifest.json)
#   docker25.tar                the Docker 25+ docker-save layout (classic store): OCI layout with
#                               uncompressed layer blobs (digest == diff_id) + manifest.json +
#                               repositories. This Docker is too old to write it, so it is
#                               assembled from docker-legacy.tar the way moby v26-v28's
#                               image/tarexport/save.go writes it (see make_docker25 below).
#   oci-gzip.tar                tar of an OCI layout written by skopeo, gzip layers
#   oci-zstd.tar                the same with zstd layers
#   podman-docker-archive.tar   podman save --format docker-archive
#   podman-oci-archive.tar      podman save --format oci-archive (gzip layers)
#   docker-export.txt           final filesystem of a container of layerscope-demo:1 (docker
#                               export), one "<type> <size> <path>" line per entry, sorted
# and, unless --no-demo, <repo>/assets/demo.tar (a copy of docker-legacy.tar).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO=1 FRESH=0 OUT=
while [ $# -gt 0 ]; do
  case $1 in
    --no-demo) DEMO=0 ;;
    --fresh) FRESH=1 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    -*) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    *) [ -z "$OUT" ] || { echo "only one OUTDIR, please" >&2; exit 2; }; OUT=$1 ;;
  esac
  shift
done
OUT=${OUT:-$REPO/tests/fixtures/real}
[ "$(id -u)" = 0 ] || { echo "needs root (docker daemon, podman storage)" >&2; exit 1; }
log() { printf '==> %s\n' "$*" >&2; }

BASE=layerscope-base:1 PBASE=localhost/layerscope-base:1
IMG=layerscope-demo:1 PIMG=localhost/layerscope-demo:1

# --- tools -------------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in docker.io podman skopeo busybox-static openssh-client python3 tar; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
D=/usr/bin/docker                      # Debian's 20.10 client (a newer client elsewhere on PATH would
[ -x "$D" ] || D=docker                # want buildx for `docker build`)
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
BUSYBOX=/bin/busybox; [ -x "$BUSYBOX" ] || BUSYBOX=/usr/bin/busybox

if ! $D info >/dev/null 2>&1; then
  log "starting dockerd (log: /tmp/dockerd.log)"
  (setsid dockerd --iptables=false --ip6tables=false --bridge=none >/tmp/dockerd.log 2>&1 &)
  for _ in $(seq 90); do $D info >/dev/null 2>&1 && break; sleep 1; done
  $D info >/dev/null 2>&1 || { echo "dockerd did not come up, see /tmp/dockerd.log" >&2; exit 1; }
fi

WORK=$(mktemp -d /tmp/layerscope-fixtures.XXXXXX)
CID=
cleanup() {
  [ -z "$CID" ] || $D rm -f "$CID" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# run a noisy command quietly, show its output only when it fails
quiet() { "$@" >"$WORK/cmd.log" 2>&1 || { cat "$WORK/cmd.log" >&2; echo "failed: $*" >&2; return 1; }; }

if [ "$FRESH" = 1 ]; then
  log "--fresh: removing old images"
  $D image rm -f "$IMG" "$BASE" >/dev/null 2>&1 || true
  podman image rm -f "$PIMG" "$PBASE" >/dev/null 2>&1 || true
fi

# --- base image: a busybox-static rootfs, imported (one layer, byte-identical on every rebuild)
if ! $D image inspect "$BASE" >/dev/null 2>&1 || ! podman image exists "$PBASE"; then
  log "creating base image $BASE (docker) and $PBASE (podman)"
  R=$WORK/rootfs; mkdir -p "$R"/{bin,etc,root,tmp,home/ci}
  chmod 0755 "$R" "$R"/{bin,etc,home,home/ci}; chmod 0700 "$R/root"; chmod 1777 "$R/tmp"
  cp "$BUSYBOX" "$R/bin/busybox"; chmod 0755 "$R/bin/busybox"
  for c in sh ls cat echo rm mkdir chmod cp mv touch dd head ln printf test true; do ln -s busybox "$R/bin/$c"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nci:x:1000:1000:ci:/home/ci:/bin/sh\n' >"$R/etc/passwd"
  printf 'root:x:0:\nci:x:1000:\n' >"$R/etc/group"; chmod 0644 "$R"/etc/*
  tar -C "$R" --sort=name --mtime='2024-01-01 00:00:00Z' --owner=0 --group=0 --numeric-owner \
      -cf "$WORK/rootfs.tar" .
  $D image inspect "$BASE" >/dev/null 2>&1 || quiet $D import "$WORK/rootfs.tar" "$BASE"
  podman image exists "$PBASE" || quiet podman import -q "$WORK/rootfs.tar" "$PBASE"
fi

# --- build the demo image with both engines -----------------------------------------------
C=$WORK/context; mkdir -p "$C"
cp "$REPO/assets/demo/Dockerfile" "$C/Dockerfile"
if [ -f "$REPO/assets/demo/deploy_key" ]; then
  cp "$REPO/assets/demo/deploy_key" "$C/deploy_key"
else   # a throwaway key; commit it so that rebuilds elsewhere copy the same bytes
  log "generating assets/demo/deploy_key (throwaway key)"
  ssh-keygen -q -t rsa -b 2048 -N '' -C 'ci@layerscope-demo (throwaway test key)' -f "$REPO/assets/demo/deploy_key"
  rm -f "$REPO/assets/demo/deploy_key.pub"
  cp "$REPO/assets/demo/deploy_key" "$C/deploy_key"
fi
chmod 0600 "$C/deploy_key"; touch -d '2024-01-01 00:00:00Z' "$C/deploy_key"   # git keeps neither
NOCACHE=(); [ "$FRESH" = 1 ] && NOCACHE=(--no-cache)
log "docker build -t $IMG (classic builder)"
quiet env DOCKER_BUILDKIT=0 $D build "${NOCACHE[@]}" --network none -t "$IMG" "$C"
sed "s#^FROM $BASE\$#FROM $PBASE#" "$C/Dockerfile" >"$C/Containerfile"
grep -q "^FROM $PBASE\$" "$C/Containerfile" || { echo "FROM line of the Dockerfile not understood" >&2; exit 1; }
log "podman build -t $PIMG"
quiet podman build "${NOCACHE[@]}" --isolation chroot -f "$C/Containerfile" -t "$PIMG" "$C"

# --- write the fixtures into a staging dir, then move them into place ---------------------
S=$WORK/out; mkdir -p "$S"
log "docker save -> docker-legacy.tar"
$D save -o "$S/docker-legacy.tar" "$IMG"

log "docker25.tar (Docker 25+ save layout, assembled from docker-legacy.tar)"
"$PY" - "$S/docker-legacy.tar" "$S/docker25.tar" <<'PY'
# make_docker25: what `docker save` of Docker 25+ with the classic (graphdriver) image store
# writes, after moby image/tarexport/save.go (v26.1 .. v28):
#   blobs/sha256/<diff_id>       each layer tar, uncompressed, byte-identical to the legacy layer.tar
#   blobs/sha256/<image id>      the image config (same bytes as <id>.json in the legacy save)
#   blobs/sha256/<sha of json>   the per-layer v1 "json" files (unreferenced, Docker still writes them)
#   blobs/sha256/<manifest>      OCI image manifest, Go json.Marshal (compact, no newline),
#                                layers with mediaType application/vnd.oci.image.layer.v1.tar
#   index.json                   compact, annotations io.containerd.image.name + org.opencontainers.image.ref.name
#   manifest.json, repositories  json.Encoder output (compact + "\n"); paths point into blobs/sha256
#   oci-layout                   {"imageLayoutVersion": "1.0.0"} (sic, with the space, no newline)
# Tar entries as moby's archive.Tar writes them: no "./" prefix and no root entry, lexical
# order, root/root 0644/0755; blob mtimes = image creation time, the small files at epoch 0.
import hashlib, io, json, sys, tarfile

src, dst = sys.argv[1], sys.argv[2]
sha = lambda b: hashlib.sha256(b).hexdigest()
gojson = lambda o: json.dumps(o, separators=(",", ":"), ensure_ascii=False).encode()

with tarfile.open(src) as t:
    members = {m.name: m for m in t.getmembers()}
    read = lambda n: t.extractfile(members[n]).read()
    (item,) = json.loads(read("manifest.json"))
    cfg = read(item["Config"])
    created = members[item["Config"]].mtime
    diff_ids = json.loads(cfg)["rootfs"]["diff_ids"]
    blobs, layer_descs = {}, []
    for i, lpath in enumerate(item["Layers"]):
        data = read(lpath)
        d = sha(data)
        assert "sha256:" + d == diff_ids[i], f"{lpath}: sha256 {d} != diff_id {diff_ids[i]}"
        blobs[d] = data
        layer_descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                            "digest": "sha256:" + d, "size": len(data)})
        v1 = read(lpath.rsplit("/", 1)[0] + "/json")
        blobs[sha(v1)] = v1
    cfg_d = sha(cfg)
    blobs[cfg_d] = cfg

manifest = gojson({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                              "digest": "sha256:" + cfg_d, "size": len(cfg)},
                   "layers": layer_descs})
man_d = sha(manifest)
tags = item.get("RepoTags") or []
index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
repos = {}
for tag in tags:
    name, _, tg = tag.rpartition(":")
    first = name.split("/")[0]     # reference.ParseNormalizedNamed: domain or docker.io[/library]
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        full = name
    else:
        full = "docker.io/" + (name if "/" in name else "library/" + name)
    index["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "digest": "sha256:" + man_d, "size": len(manifest),
                               "annotations": {"io.containerd.image.name": f"{full}:{tg}",
                                               "org.opencontainers.image.ref.name": tg}})
    repos.setdefault(name, {})[tg] = diff_ids[-1].split(":", 1)[1]
if not tags:
    index["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "digest": "sha256:" + man_d, "size": len(manifest)})
docker_manifest = gojson([{"Config": "blobs/sha256/" + cfg_d, "RepoTags": tags,
                           "Layers": ["blobs/sha256/" + l["digest"][7:] for l in layer_descs]}]) + b"\n"

files = {"blobs/sha256/" + man_d: (manifest, 0)}
for d, data in blobs.items():
    files.setdefault("blobs/sha256/" + d, (data, created))
files["index.json"] = (gojson(index), 0)
files["manifest.json"] = (docker_manifest, 0)
files["oci-layout"] = (b'{"imageLayoutVersion": "1.0.0"}', 0)
if repos:
    files["repositories"] = (gojson(repos) + b"\n", 0)

def info(name, mtime, size=0, isdir=False):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE if isdir else tarfile.REGTYPE
    ti.mode, ti.size, ti.mtime = (0o755 if isdir else 0o644), size, mtime
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti

with tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as out:
    out.addfile(info("blobs/", created, isdir=True))
    out.addfile(info("blobs/sha256/", 0, isdir=True))
    for name in sorted(files):
        data, mtime = files[name]
        out.addfile(info(name, mtime, len(data)), io.BytesIO(data))
PY

for fmt in gzip zstd; do
  log "skopeo -> oci-$fmt.tar"
  L=$WORK/oci-$fmt
  quiet skopeo copy --dest-compress-format "$fmt" docker-archive:"$S/docker-legacy.tar" oci:"$L":"$IMG"
  tar -C "$L" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode='u+rwX,go+rX,go-w' \
      -cf "$S/oci-$fmt.tar" .
done

log "podman save -> podman-docker-archive.tar, podman-oci-archive.tar"
quiet podman save --format docker-archive -o "$S/podman-docker-archive.tar" "$PIMG"
quiet podman save --format oci-archive -o "$S/podman-oci-archive.tar" "$PIMG"
# podman stamps the entries of the oci-archive with the wall clock (the docker-archive gets
# epoch 0): set those mtimes to 0 in place, nothing else in the tar changes.
"$PY" - "$S/podman-oci-archive.tar" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    pos = 0
    while True:
        f.seek(pos)
        h = bytearray(f.read(512))
        if len(h) < 512 or not any(h):
            break
        size = int(h[124:136].split(b"\0")[0].strip() or b"0", 8)
        h[136:148] = b"00000000000\0"
        h[148:156] = b" " * 8
        h[148:156] = b"%06o\0 " % sum(h)
        f.seek(pos)
        f.write(h)
        pos += 512 + (size + 511) // 512 * 512
PY

log "docker export -> docker-export.txt"
CID=$($D create --network none "$IMG")
$D export "$CID" | "$PY" -c '
import os, sys, tarfile
# Paths that docker create/export adds from the container init layer and that are not in the
# image layers: /.dockerenv, /etc/hostname, /etc/hosts, /etc/resolv.conf, /etc/mtab (symlink
# to /proc/mounts) and /dev (with /dev/console, /dev/pts, /dev/shm), /proc, /sys and all below.
# (/etc itself stays: the base image has /etc/passwd and /etc/group.) The root "/" is left out.
DROP = {"/.dockerenv", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/etc/mtab"}
TREES = ("/dev", "/proc", "/sys")
rows = []
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as t:
    for m in t:
        p = os.path.normpath("/" + m.name)
        if p == "/" or p in DROP or any(p == d or p.startswith(d + "/") for d in TREES):
            continue
        kind = ("file" if m.isreg() else "dir" if m.isdir() else "symlink" if m.issym()
                else "hardlink" if m.islnk() else "other")
        rows.append((p, kind, m.size if m.isreg() else 0))
out = sys.stdout.buffer
for p, kind, size in sorted(rows):
    out.write(f"{kind} {size} {p}\n".encode("utf-8", "surrogateescape"))
' >"$S/docker-export.txt"
$D rm -f "$CID" >/dev/null; CID=

mkdir -p "$OUT"
for f in docker-legacy.tar docker25.tar oci-gzip.tar oci-zstd.tar podman-docker-archive.tar \
         podman-oci-archive.tar docker-export.txt; do
  mv -f "$S/$f" "$OUT/$f"
done
chmod 0644 "$OUT"/*.tar "$OUT/docker-export.txt"
if [ "$DEMO" = 1 ]; then
  mkdir -p "$REPO/assets"; cp -f "$OUT/docker-legacy.tar" "$REPO/assets/demo.tar"
  log "wrote $REPO/assets/demo.tar"
fi
log "fixtures written to $OUT (image $($D image inspect -f '{{.Id}}' "$IMG"))"
