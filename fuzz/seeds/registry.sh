#!/usr/bin/env bash
# Writes the starting corpus of the `registry` fuzz target from a real registry (Debian's docker-registry, with
# skopeo, curl, htpasswd and openssl): the real images of tests/fixtures/real are pushed, then the registry's own answers
# are recorded (the challenges of basic and token auth, error bodies, the Content-Type and Docker-Content-Digest
# of each manifest and index, their bodies) and joined with NUL into the target's input fields (see
# `parse_registry_responses`), with token bodies in the token services' two forms. Minimise it afterwards with
# `cargo +nightly fuzz cmin registry`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/fuzz/corpus/registry"
mkdir -p "$out"
dir=$(mktemp -d /tmp/layerscope-registry-seed.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
serve() { # NAME PORT AUTH-YAML
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n%b' \
    "$dir/$1" "$2" "$3" >"$dir/$1.yml"
  docker-registry serve "$dir/$1.yml" >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$2/v2/" && break; sleep 0.1; done
}
htpasswd -Bbn user secret >"$dir/htpasswd"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=seed \
  -keyout "$dir/key.pem" -out "$dir/signer.pem" 2>/dev/null
serve open 45871 ''
serve basic 45872 "auth:\n  htpasswd:\n    realm: layerscope-seed\n    path: $dir/htpasswd\n"
serve token 45873 "auth:\n  token:\n    realm: http://127.0.0.1:45874/token\n    service: layerscope-seed\n    issuer: seed\n    rootcertbundle: $dir/signer.pem\n"
header() { grep -i "^$1:" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
for f in docker25.tar oci-gzip.tar oci-zstd.tar podman-oci-archive.tar; do
  case $f in oci-*|podman-oci-*) src=oci-archive ;; *) src=docker-archive ;; esac
  skopeo copy -q --all --dest-tls-verify=false "$src:$root/tests/fixtures/real/$f" "docker://127.0.0.1:45871/seed/${f%.tar}:1"
done
# An index of two of them, put as a client would (the fixtures hold single images).
entries=()
for tag in oci-gzip oci-zstd; do
  skopeo copy -q --dest-tls-verify=false "oci-archive:$root/tests/fixtures/real/$tag.tar" "docker://127.0.0.1:45871/seed/multi:$tag"
  curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' -D "$dir/h" -o "$dir/m" "http://127.0.0.1:45871/v2/seed/multi/manifests/$tag"
  arch=$([ $tag = oci-gzip ] && echo amd64 || echo arm64)
  entries+=("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$(header docker-content-digest <"$dir/h")\",\"size\":$(stat -c %s "$dir/m"),\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"}}")
done
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s,%s]}' "${entries[@]}" >"$dir/index"
curl -s -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' --data-binary @"$dir/index" \
  "http://127.0.0.1:45871/v2/seed/multi/manifests/1" >/dev/null
challenges=()
for port in 45872 45873; do
  challenges+=("$(curl -s -D - -o /dev/null "http://127.0.0.1:$port/v2/seed/x/manifests/1" | header www-authenticate)")
done
errors=("$(curl -s http://127.0.0.1:45871/v2/seed/none/manifests/1)"
  "$(curl -s -u user:wrong http://127.0.0.1:45872/v2/seed/none/manifests/1)"
  "$(curl -s "http://127.0.0.1:45871/v2/seed/docker25/blobs/sha256:$(printf %064d 0)")")
tokens=('{"token":"eyJhbGciOiJFUzI1NiJ9.e30.c2ln","expires_in":3600,"issued_at":"2026-01-01T00:00:00Z"}'
  '{"access_token":"eyJhbGciOiJFUzI1NiJ9.e30.c2ln","expires_in":300,"scope":"repository:seed/x:pull"}')
n=0
accept='application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json'
for repo in docker25 oci-gzip oci-zstd podman-oci-archive multi; do
  curl -s -H "Accept: $accept" -D "$dir/h" -o "$dir/body" "http://127.0.0.1:45871/v2/seed/$repo/manifests/1"
  bodies=("$dir/body")
  # The manifests an index lists, each with its own headers.
  for d in $(python3 -c 'import json,sys; [print(m["digest"]) for m in json.load(open(sys.argv[1])).get("manifests",[])]' "$dir/body"); do
    curl -s -H "Accept: $accept" -D "$dir/h-$d" -o "$dir/body-$d" "http://127.0.0.1:45871/v2/seed/$repo/manifests/$d"
    bodies+=("$dir/body-$d")
  done
  for b in "${bodies[@]}"; do
    h=${b/body/h}
    n=$((n + 1))
    i=$((n % 2))
    {
      printf '%s\0%s\0%s\0' "${challenges[$i]}" "${tokens[$i]}" "${errors[$((n % 3))]}"
      printf '%s\0%s\0%s\0' "$(header content-type <"$h")" "$(header docker-content-digest <"$h")" "$((n % 3))"
      cat "$b"
    } >"$out/seed-$n"
  done
done
ls "$out" | wc -l
