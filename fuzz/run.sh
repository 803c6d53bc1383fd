#!/usr/bin/env bash
# Runs the fuzz targets for a bounded time each: `fuzz/run.sh SECONDS [TARGET...]` (every target when none is
# named; needs cargo-fuzz and the nightly toolchain). New inputs go to a scratch corpus seeded from the committed
# one (fuzz/corpus/TARGET, kept small; refresh it with `cargo +nightly fuzz cmin`). A crash, a timeout (one input
# running past -timeout) or memory past -rss_limit_mb stops the run with a nonzero status and leaves the input in
# fuzz/artifacts/TARGET/: commit it under fuzz/regressions/TARGET/ (tests/fuzz_regressions.rs replays it).
# LAYERSCOPE_FUZZ_KEEP=1 keeps the scratch corpus, to minimise it into the committed one.
#
# Built without a sanitizer: the library has no unsafe code, and AddressSanitizer would halve the executions on
# a shared machine. Release mode, so overflow checks are off here; `cargo test` replays every committed input in
# a debug build, where they are on.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
flags=(-O -s none)
cargo +nightly fuzz build "${flags[@]}"
for t in "${targets[@]}"; do
  case "$t" in
    archive | containerd) max_len=131072 ;;
    config_file) max_len=16384 ;;
    *) max_len=65536 ;;
  esac
  scratch=$(mktemp -d "/tmp/layerscope-fuzz-$t.XXXXXX")
  echo "fuzz: $t for ${secs}s"
  status=0
  cargo +nightly fuzz run "${flags[@]}" "$t" "$scratch" "corpus/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 -max_len="$max_len" \
    -print_final_stats=1 >"$scratch.log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^SUMMARY|ERROR|panicked|Test unit written' "$scratch.log" || true
  if [ -n "${LAYERSCOPE_FUZZ_KEEP:-}" ]; then echo "fuzz: new corpus kept in $scratch"; else rm -rf "$scratch"; fi
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$scratch.log"
    echo "fuzz: $t failed (status $status); the input is in fuzz/artifacts/$t/"
    exit 1
  fi
  rm -f "$scratch.log"
done
