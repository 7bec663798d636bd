#!/usr/bin/env bash
# bench/interleave.sh ROUNDS RUNS LABEL 'COMMAND' [LABEL 'COMMAND' ...]
#
# Runs the commands in turn, RUNS times each per round, for ROUNDS rounds,
# and prints per command the wall time (min, p25, median, the spread of
# the per-round medians) and the CPU time (perf stat task-clock) and page
# faults. For comparing builds on a shared machine: each round sees the
# same load for every command. Not part of make bench; needs perf.
#
#   bench/interleave.sh 8 3 \
#     old "build/keep-old run --cache-dir /tmp/c1 --cache-key /tmp/k build/hello.wasm" \
#     new "build/keep run --cache-dir /tmp/c2 --cache-key /tmp/k build/hello.wasm" \
#     wazero "wazero run -cachedir /tmp/c3 build/hello.wasm"
#
# Run each command once first so that its cache is warm; give every build
# its own cache directory.
set -euo pipefail
(($# >= 4 && $# % 2 == 0)) || { sed -n '2,16p' "$0" >&2; exit 2; }
command -v perf >/dev/null || { echo "bench/interleave.sh needs perf (Debian: linux-perf)" >&2; exit 1; }
rounds=$1 runs=$2
shift 2
labels=() cmds=()
while (($#)); do labels+=("$1"); cmds+=("$2"); shift 2; done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for ((r = 0; r < rounds; r++)); do
  for i in "${!cmds[@]}"; do
    for ((k = 0; k < runs; k++)); do
      s=$(date +%s%N)
      # shellcheck disable=SC2086 # the command is split into words on purpose
      perf stat -x, -o "$out/perf" -e task-clock,page-faults -- ${cmds[$i]} >/dev/null 2>&1 || true
      e=$(date +%s%N)
      c=$(grep task-clock "$out/perf" | cut -d, -f1)
      f=$(grep page-faults "$out/perf" | cut -d, -f1)
      echo "$r $(((e - s) / 1000)) $c $f" >>"$out/$i"
    done
  done
done
for i in "${!cmds[@]}"; do
  python3 - "$out/$i" "${labels[$i]}" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
wall = sorted(float(r[1]) / 1000 for r in rows)
cpu = sorted(float(r[2]) for r in rows)
flt = [int(r[3]) for r in rows]
rounds = {}
for r in rows:
    rounds.setdefault(r[0], []).append(float(r[1]) / 1000)
rm = [st.median(v) for v in rounds.values()]
q = lambda v, f: v[int(f * (len(v) - 1))]
print(f"{sys.argv[2]:>10}: wall min {wall[0]:.1f} p25 {q(wall, .25):.1f} median {st.median(wall):.1f} ms "
      f"(round medians {min(rm):.0f}-{max(rm):.0f}); cpu p25 {q(cpu, .25):.1f} median {st.median(cpu):.1f} ms; "
      f"page faults {st.median(flt):.0f}; n={len(rows)}")
PY
done
