#!/bin/sh
# Reference trajectories: wall time to make each reference of
# data/reference/recipes at 128 and 256 bits (the confirming run doubles
# both: 256 and 512 bits), and of `moeverify regress` on all of them.
#   bench/reference.sh [path/to/moeverify]   (minutes; part of make bench
#   only with MV_BENCH_REFERENCE=1)
set -eu
exe=${1:-src/moeverify}
top=$(dirname "$0")/..
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mv_bench_ref.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
now () { date +%s.%N; }
printf '%-16s %6s %10s\n' recipe bits seconds
for r in "$top"/data/reference/recipes/*.json; do
  name=$(basename "$r" .json)
  for bits in 128 256; do
    # the recipe at this precision, tolerance 10^-(bits/4.3) (what it resolves)
    tol=$(awk -v b="$bits" 'BEGIN { printf "1e-%d", int(b * 0.301 * 0.78) }')
    sed "s/\"prec\": [0-9]*, \"tol\": [0-9e.-]*/\"prec\": $bits, \"tol\": $tol/" "$r" >"$tmp/$name.json"
    t0=$(now)
    "$exe" regress --make "$tmp/$name.json" -o "$tmp/$name-$bits.out" >/dev/null \
      || { echo "$name at $bits bits: failed"; continue; }
    printf '%-16s %6s %10.1f\n' "$name" "$bits" "$(awk -v a="$(now)" -v b="$t0" 'BEGIN { print a - b }')"
  done
done
t0=$(now)
"$exe" regress "$top"/data/reference/*.json >/dev/null
printf '%-16s %6s %10.3f\n' "regress (all)" "-" "$(awk -v a="$(now)" -v b="$t0" 'BEGIN { print a - b }')"
