#!/bin/sh
# moeverify regress on the stored references (data/reference/*.json): every
# file passes with its fast path; --tap and --junit report one test per file;
# a changed digit (bad checksum), a cut file, a missing file and a reference
# that no longer matches are each one line naming the file, exit 1.  Prints
# "N passed, M failed"; exit 1 on any failure.
set -u

top=${MV_TOP_SRCDIR:-.}
build=${MV_BUILDDIR:-.}
exe="$build/src/moeverify"
[ -x "$exe" ] || { echo "test_regress.sh: $exe not built"; exit 99; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mv_regress.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

pass=0
fail=0
ok () { pass=$((pass + 1)); echo "ok - $1"; }
nok () { fail=$((fail + 1)); echo "FAIL - $1"; }

refs=$(ls "$top"/data/reference/*.json)
n=$(echo "$refs" | wc -l | tr -d ' ')
[ "$n" -ge 3 ] && ok "$n reference files" || nok "only $n reference files"

"$exe" regress $refs >"$tmp/out" 2>"$tmp/err"
st=$?
[ "$st" -eq 0 ] && grep -q "^regress: $n files, 0 failed" "$tmp/out" && [ ! -s "$tmp/err" ] \
  && ok "every reference passes" || { nok "regress: status $st"; cat "$tmp/out" "$tmp/err"; }

"$exe" regress $refs --tap --junit "$tmp/junit.xml" >"$tmp/tap" 2>&1
st=$?
[ "$st" -eq 0 ] && head -1 "$tmp/tap" | grep -q "^1\.\.$n\$" \
  && [ "$(grep -c '^ok ' "$tmp/tap")" -eq "$n" ] && ok "--tap: 1..$n, every test ok" \
  || { nok "--tap: status $st"; cat "$tmp/tap"; }
grep -q "<testsuite name=\"moeverify regress\" tests=\"$n\" failures=\"0\">" "$tmp/junit.xml" \
  && [ "$(grep -c '<testcase ' "$tmp/junit.xml")" -eq "$n" ] && ok "--junit: $n test cases" \
  || nok "--junit report"

# one changed digit (the checksum no longer matches)
f=$(echo "$refs" | head -1)
sed '0,/"[1-8]\.[0-9]/s/"\([1-8]\)\./"\1X/' "$f" | sed 's/"\([1-8]\)X/"9./' >"$tmp/digit.json"
cmp -s "$f" "$tmp/digit.json" && nok "the digit edit changed nothing"
"$exe" regress "$tmp/digit.json" >"$tmp/out" 2>"$tmp/err"
st=$?
[ "$st" -eq 1 ] && [ "$(wc -l <"$tmp/err" | tr -d ' ')" -eq 1 ] \
  && grep -q "digit.json: checksum: does not match" "$tmp/err" && ok "changed digit: checksum error" \
  || { nok "changed digit: status $st"; cat "$tmp/err"; }

# cut in the middle; missing
head -c 2000 "$f" >"$tmp/cut.json"
"$exe" regress "$tmp/cut.json" >"$tmp/out" 2>"$tmp/err"
st=$?
[ "$st" -eq 1 ] && grep -q "cut.json: not a JSON object.*truncated" "$tmp/err" \
  && ok "cut file: one-line error" || { nok "cut file: status $st"; cat "$tmp/err"; }
"$exe" regress "$tmp/none.json" >"$tmp/out" 2>"$tmp/err"
st=$?
[ "$st" -eq 1 ] && grep -q "none.json" "$tmp/err" && ok "missing file: error naming it" \
  || { nok "missing file: status $st"; cat "$tmp/err"; }
# a good file after a bad one is still checked; the exit status is 1
"$exe" regress "$tmp/cut.json" "$f" --tap >"$tmp/tap" 2>&1
st=$?
[ "$st" -eq 1 ] && grep -q "^not ok 1 - " "$tmp/tap" && grep -q "^ok 2 - " "$tmp/tap" \
  && ok "--tap: a bad file fails alone" || { nok "--tap with a bad file: status $st"; cat "$tmp/tap"; }

# usage
"$exe" regress >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] && ok "no files: usage error" || nok "no files"
"$exe" regress --make "$top/data/reference/recipes/small-escape.json" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "needs -o OUT" "$tmp/err" && ok "--make without -o: usage error" \
  || nok "--make without -o"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
