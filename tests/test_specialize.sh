#!/bin/sh
# moeverify specialize: the point's JSON (L_aux's cosines null, the Gram-level
# cosines equal to the raw ones to 1e-12); with every coefficient zero its
# trajectory is `moeverify flow --reduced`'s, byte for byte; bad grids and
# bad coefficients fail with one line naming the file and the key, status
# 2, no output directory; a tiny grid gives one table row per task.
# Prints "N passed, M failed"; exit 1 on any failure.
set -u

top=${MV_TOP_SRCDIR:-.}
build=${MV_BUILDDIR:-.}
exe="$build/src/moeverify"
if [ ! -x "$exe" ]; then
  echo "test_specialize.sh: $exe not built"
  exit 99
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mv_spec.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
CI=1
export CI

pass=0
fail=0
ok () { pass=$((pass + 1)); echo "ok - $1"; }
nok () { fail=$((fail + 1)); echo "FAIL - $1"; }

spec="$tmp/spec.json"
cat >"$spec" <<'JSON'
{"d": 30, "teacher": {"m": 2, "init": {"kind": "orthonormal", "seed": 1}},
 "student": {"m": 4, "init": {"kind": "gaussian", "seed": 3}}}
JSON

# ------------------------------------------------------------------ point
if "$exe" specialize "$spec" >"$tmp/point.json" 2>"$tmp/err"; then
  ok "point: exit 0"
else
  nok "point: exit status $? ($(cat "$tmp/err"))"
fi
# the L_aux row of the cosine matrix: five nulls
tr -d ' \n' <"$tmp/point.json" >"$tmp/flat"
if grep -q '\[null,null,null,null,null\]' "$tmp/flat"; then
  ok "point: L_aux's cosines are null"
else
  nok "point: no all-null row for L_aux"
fi
grep -qi 'nan' "$tmp/point.json" && nok "point: 'nan' printed" || ok "point: no nan printed"
diff=$(sed -n 's/.*"cosines_gram_vs_raw_max_diff": *\([-0-9.eE+]*\).*/\1/p' "$tmp/point.json")
if [ -n "$diff" ] && awk -v d="$diff" 'BEGIN { exit !(d <= 1e-12) }'; then
  ok "point: Gram-level vs raw cosines differ by $diff <= 1e-12"
else
  nok "point: Gram vs raw difference '$diff'"
fi

# ------------------------------------------- zero coefficients = plain flow
"$exe" specialize "$spec" --t-end 5 --out "$tmp/sp" >/dev/null 2>"$tmp/err"
st=$?
"$exe" flow "$spec" --reduced --t-end 5 --out "$tmp/fl" >/dev/null 2>>"$tmp/err"
if [ "$st" -eq 0 ] && cmp -s "$tmp/sp/trajectory.csv" "$tmp/fl/trajectory.csv"; then
  ok "flow: zero coefficients give the plain flow's trajectory.csv byte for byte"
else
  nok "flow: status $st, trajectories differ ($(head -c 200 "$tmp/err"))"
fi
rows=$(($(wc -l <"$tmp/sp/cosines.csv") - 1))
trows=$(($(wc -l <"$tmp/sp/trajectory.csv") - 2))   # a comment line, the header
if [ "$rows" -eq "$trows" ] && [ -s "$tmp/sp/cosines.svg" ] \
   && ! grep -qi nan "$tmp/sp/cosines.csv"; then
  ok "flow: cosines.csv has the $rows rows of the trajectory, no nan; cosines.svg"
else
  nok "flow: cosines.csv rows $rows vs trajectory $trows"
fi

# --from: the continuation starts exactly at the source's last row
"$exe" specialize "$spec" --t-end 3 --from "$tmp/sp" --out "$tmp/cont" >/dev/null 2>"$tmp/err"
st=$?
a=$(tail -1 "$tmp/sp/trajectory.csv" | cut -d, -f2,5-)
b=$(sed -n 3p "$tmp/cont/trajectory.csv" | cut -d, -f2,5-)
if [ "$st" -eq 0 ] && [ -n "$a" ] && [ "$a" = "$b" ] \
   && grep -q "last row of $tmp/sp (t = 5)" "$tmp/cont/run.json"; then
  ok "--from: continuation starts at the source's last row (loss and Gram entries, 17 digits)"
else
  nok "--from: status $st; rows differ or run.json lacks the start ($(head -c 200 "$tmp/err"))"
fi

# ------------------------------------------------------------- bad input
# expect_bad WHAT MENTION FILE ARGS...: status 2, one line naming MENTION
# and FILE, nothing on stdout, no output directory.
expect_bad () {
  what=$1 mention=$2 file=$3
  shift 3
  rm -rf "$tmp/badout"
  "$exe" specialize "$@" --out "$tmp/badout" >"$tmp/stdout" 2>"$tmp/stderr"
  st=$?
  why=""
  [ "$st" -eq 2 ] || why="$why status $st (want 2);"
  [ "$(wc -l <"$tmp/stderr" | tr -d ' ')" -eq 1 ] || why="$why not one line on stderr;"
  grep -qF -- "$mention" "$tmp/stderr" || why="$why stderr lacks '$mention';"
  grep -qF -- "$file" "$tmp/stderr" || why="$why stderr lacks '$file';"
  [ -s "$tmp/stdout" ] && why="$why wrote to stdout;"
  [ -e "$tmp/badout" ] && why="$why left $tmp/badout;"
  if [ -z "$why" ]; then ok "bad input: $what"; else nok "bad input: $what:$why $(cat "$tmp/stderr")"; fi
}
printf '{"ortho": [0, -1]}\n' >"$tmp/neg.json"
expect_bad "negative coefficient in a grid file" "regularizers.ortho" "$tmp/neg.json" \
  "$spec" --t-end 1 --grid "$tmp/neg.json"
printf '{"var": [0, "x"]}\n' >"$tmp/str.json"
expect_bad "a string coefficient" "regularizers.var" "$tmp/str.json" \
  "$spec" --t-end 1 --grid "$tmp/str.json"
printf '{"oops": [1]}\n' >"$tmp/key.json"
expect_bad "unknown grid key" "regularizers.oops" "$tmp/key.json" \
  "$spec" --t-end 1 --grid "$tmp/key.json"
printf '[1, 2]\n' >"$tmp/arr.json"
expect_bad "grid not an object" "grid" "$tmp/arr.json" "$spec" --t-end 1 --grid "$tmp/arr.json"
expect_bad "inline NaN" "regularizers.var" "--grid" "$spec" --t-end 1 --grid "var=nan"
expect_bad "inline negative" "regularizers.ortho_gated" "--grid" "$spec" --t-end 1 \
  --grid "ortho=1;ortho_gated=0,-0.5"
expect_bad "--grid given twice" "--grid given twice" "" "$spec" --t-end 1 \
  --grid "ortho_gated=0;ortho=1" --grid "ortho_gated=0.5"
sed 's/}}$/}, "regularizers": {"var": -2}}/' "$spec" >"$tmp/negspec.json"
expect_bad "negative coefficient in the spec" "regularizers.var" "$tmp/negspec.json" \
  "$tmp/negspec.json" --t-end 1
sed 's/}}$/}, "regularizers": {"ortho": 1e999}}/' "$spec" >"$tmp/infspec.json"
expect_bad "infinite coefficient in the spec" "infspec.json" "$tmp/infspec.json" \
  "$tmp/infspec.json"
expect_bad "--grid without --t-end" "--t-end" "--grid" "$spec" --grid "ortho=0,1"
sed 's/"m": 4/"m": 3/' "$spec" >"$tmp/m3.json"
expect_bad "--from a record of another shape" "m = 4" "$tmp/sp" "$tmp/m3.json" --t-end 1 \
  --from "$tmp/sp"
expect_bad "--from with --full" "--from" "--full" "$spec" --t-end 1 --from "$tmp/sp" --full

# ------------------------------------------------------------------ grid
if "$exe" specialize "$spec" --t-end 2 --grid "ortho=0,0.5;var=0,1;student.init.seed=3,4" \
     --out "$tmp/g" --jobs 2 >"$tmp/gout" 2>"$tmp/err"; then
  ok "grid: exit 0"
else
  nok "grid: exit status $? ($(cat "$tmp/err"))"
fi
n=$(($(wc -l <"$tmp/g/grid.csv") - 1))
nmd=$(grep -c '^| [0-9]' "$tmp/g/grid.md")
head -1 "$tmp/g/grid.csv" | grep -q '^task,regularizers.ortho,regularizers.var,student.init.seed,status,' \
  && hd=1 || hd=0
if [ "$n" -eq 8 ] && [ "$nmd" -eq 8 ] && [ "$hd" -eq 1 ] \
   && [ -s "$tmp/g/plots/ortho_L.svg" ] && [ -s "$tmp/g/plots/var_redundant.svg" ]; then
  ok "grid: 8 rows in grid.csv and grid.md, axis columns, plots"
else
  nok "grid: $n csv rows, $nmd md rows, header ok $hd, plots $(ls "$tmp/g/plots" 2>&1)"
fi
# the zero-coefficient rows equal `moeverify flow` of the base spec
"$exe" flow "$spec" --reduced --t-end 2 --out "$tmp/fl2" >/dev/null 2>&1
lf=$(tail -1 "$tmp/fl2/trajectory.csv" | cut -d, -f2)
lg=$(sed -n 2p "$tmp/g/grid.csv" | cut -d, -f7)
if [ -n "$lf" ] && awk -v a="$lf" -v b="$lg" 'BEGIN { exit !(a == b) }'; then
  ok "grid: task 0 (all coefficients zero, the spec) ends at the flow's loss $lf"
else
  nok "grid: task 0 loss '$lg' vs flow '$lf'"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
