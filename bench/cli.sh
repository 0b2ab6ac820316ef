#!/bin/sh
# Whole-process CLI benchmarks (`make bench`): what a user or a CI job pays
# per call, start-up and output included.  Paper setting (m* = 5, m = 25,
# d = 1000), one core; medians of N runs.  Usage: bench/cli.sh [EXE] [N]
set -eu
exe=${1:-src/moeverify}
n=${2:-11}
spec=$(dirname "$0")/../tests/data/example_paper.json
export OMP_NUM_THREADS=1

median () {  # command... -> median wall seconds over n runs
  i=0
  while [ $i -lt "$n" ]; do
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{ printf "%.6f\n", $2 - $1 }'
    i=$((i + 1))
  done | sort -g | awk '{ a[NR] = $1 } END { printf "%.3f", a[int((NR + 1) / 2)] }'
}

printf 'CLI, whole process, paper setting, one core (median of %d):\n' "$n"
printf '  loss --fast (L + 50000 gradient components)  %s s   (target <= 0.030)\n' \
  "$(median "$exe" loss "$spec" --fast)"
printf '  loss --fast --no-grad                         %s s\n' \
  "$(median "$exe" loss "$spec" --fast --no-grad)"
n=$(( n < 5 ? n : 5 ))
printf '  loss --prec 256 (L + gradient)                %s s   (target <= 0.6)\n' \
  "$(median "$exe" loss "$spec" --prec 256)"
