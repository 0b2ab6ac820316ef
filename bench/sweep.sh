#!/bin/sh
# Sweep engine benchmark (make bench): throughput of --jobs 1 against
# --jobs 2 on a grid of 40 short reduced flows (target: >= 1.8x on two
# cores), and the per-task overhead beyond the flow itself: the sweep's wall
# time per task (times the workers) minus the mean of the rows' own
# wall_seconds (target: <= 5 ms).
# usage: bench/sweep.sh [path/to/moeverify]
set -eu
exe=${1:-src/moeverify}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mv_bench_sweep.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export CI=1   # no progress bar in the timings
cat >"$tmp/grid.json" <<'JSON'
{"base": {"d": 1000, "teacher": {"m": 2, "init": {"kind": "orthonormal", "seed": 1}},
          "student": {"m": 4, "init": {"kind": "gaussian", "seed": 1}}},
 "grid": {"d": [100, 10000, 1000000, 100000000], "student.init.seed": {"from": 1, "to": 10}},
 "run": {"method": "reduced", "t_end": 40}}
JSON
now () { date +%s.%N; }
# run JOBS: the sweep's wall seconds, and the mean wall_seconds of its rows
run () {
  rm -rf "$tmp/out"
  t0=$(now)
  OMP_NUM_THREADS=1 "$exe" sweep "$tmp/grid.json" --jobs "$1" --out "$tmp/out" >/dev/null
  t1=$(now)
  flow=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "wall_seconds") w = i; next }
                  { s += $w; n++ } END { printf "%.6f", s / n }' "$tmp/out/results.csv")
  echo "$t0 $t1 $flow"
}
"$exe" sweep "$tmp/grid.json" --jobs 1 --out "$tmp/warm" >/dev/null   # page cache
# other processes on the cores skew the 2-worker figures: say so
[ -r /proc/loadavg ] && echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc 2>/dev/null || echo ?) cores)"
set -- $(run 1); w1=$(awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'); f1=$3
set -- $(run 2); w2=$(awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'); f2=$3
awk -v w1="$w1" -v w2="$w2" -v f1="$f1" -v f2="$f2" 'BEGIN {
  n = 40
  printf "sweep, 40 reduced flows (m* = 2, m = 4, t_end 40, one OpenMP thread each):\n"
  printf "  --jobs 1: %.3f s (%.1f ms/task; the flow itself %.1f ms)\n", w1, 1e3 * w1 / n, 1e3 * f1
  printf "  --jobs 2: %.3f s (%.1f ms/task on 2 workers; the flow itself %.1f ms)\n", w2, 1e3 * w2 / n, 1e3 * f2
  printf "  throughput 2 vs 1 workers: %.2fx (target >= 1.8 on two cores)\n", w1 / w2
  printf "  per-task overhead beyond the flow: %.2f ms with --jobs 1, %.2f ms with --jobs 2 (target <= 5 ms)\n",
         1e3 * (w1 / n - f1), 1e3 * (2 * w2 / n - f2)
}'
