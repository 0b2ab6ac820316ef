#!/bin/sh
# moeverify check: --quick runs every claim of the table, exits 0 (every
# exact identity holds), writes report.md with one section per claim and a
# report.json that parses; an unknown claim is one line on stderr and exit 2;
# naming a claim runs only that claim.  Prints "N passed, M failed"; exit 1
# on any failure.
set -u

top=${MV_TOP_SRCDIR:-.}
build=${MV_BUILDDIR:-.}
exe="$build/src/moeverify"

if [ ! -x "$exe" ]; then
  echo "test_check.sh: $exe not built"
  exit 99
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mv_check.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

pass=0
fail=0
ok () { pass=$((pass + 1)); echo "ok - $1"; }
nok () { fail=$((fail + 1)); echo "FAIL - $1"; }

# The claim names, in table order, from the unknown-claim message.
"$exe" check no-such-claim --report "$tmp/none" >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
n=$(wc -l <"$tmp/stderr" | tr -d ' ')
if [ "$st" -eq 2 ] && [ "$n" -eq 1 ] && grep -q "^moeverify: check: unknown claim 'no-such-claim' (claims: " "$tmp/stderr" \
   && [ ! -s "$tmp/stdout" ]; then
  ok "unknown claim: one line, exit 2"
else
  nok "unknown claim: status $st (want 2), $n lines on stderr (want 1)"
  sed 's/^/    stderr: /' "$tmp/stderr"
fi
claims=$(sed -n 's/.*(claims: \(.*\))$/\1/p' "$tmp/stderr" | tr -d ',')
[ -n "$claims" ] || nok "no claim names in the message"

# --quick, every claim
t0=$(date +%s)
"$exe" check --quick --report "$tmp/rep" >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
t1=$(date +%s)
if [ "$st" -eq 0 ]; then ok "check --quick exits 0 ($((t1 - t0)) s)"; else
  nok "check --quick exits $st"
  sed 's/^/    /' "$tmp/stdout" "$tmp/stderr"
fi
# a hang guard, not a benchmark (bench/ measures; 32 s on 2 idle cores);
# --enable-sanitizers stretches it like Check's limits (CK_TIMEOUT_MULTIPLIER)
mult=${CK_TIMEOUT_MULTIPLIER:-1}
mult=${mult%%.*}
[ "${mult:-0}" -ge 1 ] 2>/dev/null || mult=1
guard=$((900 * mult))
[ $((t1 - t0)) -lt "$guard" ] && ok "check --quick finished ($((t1 - t0)) s)" \
  || nok "check --quick took $((t1 - t0)) s (hang guard $guard s)"
for f in report.md report.json; do
  [ -s "$tmp/rep/$f" ] && ok "$f written" || nok "$f missing"
done
if command -v python3 >/dev/null 2>&1; then
  python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$tmp/rep/report.json" \
    && ok "report.json parses" || nok "report.json does not parse"
else
  grep -q '"claims"' "$tmp/rep/report.json" && ok "report.json has claims" \
    || nok "report.json has no claims"
fi
for c in $claims; do
  grep -q "^## .*(\`$c\`)\$" "$tmp/rep/report.md" && ok "section for $c" \
    || nok "report.md has no section for $c"
  grep -q "^$c " "$tmp/stdout" && ok "stdout line for $c" || nok "no stdout line for $c"
  grep -q "\"name\": \"$c\"" "$tmp/rep/report.json" && ok "report.json has $c" \
    || nok "report.json lacks $c"
done

# one named claim runs alone
"$exe" check identities --quick --report "$tmp/one" >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
lines=$(grep -c -v '^report: \|^  ' "$tmp/stdout")
if [ "$st" -eq 0 ] && [ "$lines" -eq 1 ] && grep -q '^identities  *HOLDS' "$tmp/stdout" \
   && [ "$(grep -c '^## ' "$tmp/one/report.md")" -eq 1 ]; then
  ok "check identities runs only that claim"
else
  nok "check identities: status $st, $lines claim lines"
  sed 's/^/    /' "$tmp/stdout" "$tmp/stderr"
fi

# specialize: its section in report.json with its sub-checks, and at
# --quick they reproduce the documented findings (HOLDS)
"$exe" check specialize --quick --report "$tmp/spec" >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 0 ] && grep -q '^specialize  *HOLDS' "$tmp/stdout" \
   && grep -q '"name": "specialize"' "$tmp/spec/report.json"; then
  ok "check specialize --quick holds"
else
  nok "check specialize --quick: status $st"
  sed 's/^/    /' "$tmp/stdout" "$tmp/stderr"
fi
for m in 'min cos(grad L, grad L_o), plain flows' 'min cos(grad L, grad L_v), plain flows' \
         'mean escape time: beta 0.1 minus beta 0' '|L_aux - m^2/4|, max over points' \
         '|grad L_aux| (largest raw component)' 'Monte Carlo L_aux: max |z| against m^2/4' \
         '|<grad L_o, grad L_v>| (raw), max over points'; do
  grep -qF "\"name\": \"$m\"" "$tmp/spec/report.json" && ok "specialize reports $m" \
    || nok "specialize: no measurement '$m' in report.json"
done

# --strict: a paper claim that holds keeps exit 0; report.json says so
"$exe" check mc-path --quick --strict --report "$tmp/strict" >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
if grep -q '^mc-path  *HOLDS' "$tmp/stdout"; then
  [ "$st" -eq 0 ] && grep -q '"all_claims_hold": true' "$tmp/strict/report.json" \
    && ok "--strict with every claim holding exits 0" || nok "--strict: status $st"
else
  [ "$st" -eq 1 ] && ok "--strict with a claim not holding exits 1" || nok "--strict: status $st"
fi

# scans: --jobs 1 and --jobs 2 give the same rows (wall time aside); the
# same command again resumes (runs nothing); --plan writes the sweep files
# only, `moeverify sweep` runs one, and the check then reads its rows
rows () { sed 's/"wall_seconds":[^,]*,//' "$1"; }
"$exe" check escape --quick --jobs 1 --report "$tmp/j1" >"$tmp/j1.out" 2>&1
st1=$?
"$exe" check escape --quick --jobs 2 --report "$tmp/j2" >"$tmp/j2.out" 2>&1
st2=$?
same=1
for f in "$tmp"/j1/scans/*/results.jsonl; do
  g="$tmp/j2/scans/$(basename "$(dirname "$f")")/results.jsonl"
  [ -s "$f" ] && [ "$(rows "$f")" = "$(rows "$g")" ] || same=0
done
n=$(ls -d "$tmp"/j1/scans/escape-d* 2>/dev/null | wc -l | tr -d ' ')
[ "$st1" -eq 0 ] && [ "$st2" -eq 0 ] && [ "$n" -eq 2 ] && [ "$same" -eq 1 ] \
  && ok "scans: --jobs 1 and 2 give the same rows ($n scans)" \
  || { nok "scans: status $st1/$st2, $n scans, same rows $same"; sed 's/^/    /' "$tmp/j1.out"; }
"$exe" check escape --quick --report "$tmp/j1" >"$tmp/j3.out" 2>&1
[ "$(grep -c '(0 run now' "$tmp/j3.out")" -eq 2 ] && ok "scans resume: nothing run again" \
  || { nok "scans resume"; sed 's/^/    /' "$tmp/j3.out"; }
"$exe" check escape --quick --plan --report "$tmp/plan" >"$tmp/plan.out" 2>&1
st=$?
p="$tmp/plan/scans/escape-d100"
if [ "$st" -eq 0 ] && [ -s "$p/sweep.json" ] && [ ! -e "$p/results.jsonl" ] \
   && [ ! -e "$tmp/plan/report.md" ] && grep -q "^plan: mpirun -n K moeverify sweep $p/sweep.json --out $p --resume" "$tmp/plan.out"; then
  ok "--plan writes the sweep files and the commands, runs nothing"
else
  nok "--plan: status $st"; sed 's/^/    /' "$tmp/plan.out"
fi
"$exe" sweep "$p/sweep.json" --out "$p" --resume --jobs 1 >/dev/null 2>&1
"$exe" check escape --quick --report "$tmp/plan" >"$tmp/plan2.out" 2>&1
st=$?
[ "$st" -eq 0 ] && grep -q "(0 run now.*escape-d100/" "$tmp/plan2.out" \
  && grep -q "(2 run now.*escape-d1000/" "$tmp/plan2.out" && [ -s "$tmp/plan/report.md" ] \
  && [ "$(rows "$p/results.jsonl")" = "$(rows "$tmp/j1/scans/escape-d100/results.jsonl")" ] \
  && ok "after --plan: the check reads the sweep's rows and runs the rest" \
  || { nok "after --plan: status $st"; sed 's/^/    /' "$tmp/plan2.out"; }
"$exe" check escape --quick --jobs 0 --report "$tmp/bad" >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
[ "$st" -eq 2 ] && [ "$(wc -l <"$tmp/stderr" | tr -d ' ')" -eq 1 ] && ok "--jobs 0 rejected" \
  || nok "--jobs 0: status $st"

# --prune-rule: a known rule runs alone (its name in the details table); an
# unknown one is one line naming the rules, exit 2, nothing run
"$exe" check prune --quick --seeds 1 --prune-rule expert --report "$tmp/rule" \
  >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 0 ] && grep -q '^prune  *[A-Z]' "$tmp/stdout" \
   && grep -q '^| 1000 | 2 | expert |' "$tmp/rule/report.md" \
   && ! grep -q '| combined |' "$tmp/rule/report.md"; then
  ok "--prune-rule expert runs that rule only"
else
  nok "--prune-rule expert: status $st"
  sed 's/^/    /' "$tmp/stdout" "$tmp/stderr"
fi
"$exe" check prune --prune-rule no-such-rule --report "$tmp/badrule" >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 2 ] && [ "$(wc -l <"$tmp/stderr" | tr -d ' ')" -eq 1 ] && [ ! -s "$tmp/stdout" ] \
   && grep -q "^moeverify: check: unknown pruning rule 'no-such-rule' (rules: combined, .*norm" "$tmp/stderr"; then
  ok "--prune-rule no-such-rule: one line, exit 2"
else
  nok "--prune-rule no-such-rule: status $st (want 2)"
  sed 's/^/    stderr: /' "$tmp/stderr"
fi
"$exe" check --help >"$tmp/stdout" 2>&1
for r in combined expert router norm; do
  grep -q "^    $r " "$tmp/stdout" && ok "usage lists rule $r" || nok "usage lacks rule $r"
done

# bad option values
"$exe" check --seeds 0 --report "$tmp/bad" >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
[ "$st" -eq 2 ] && [ "$(wc -l <"$tmp/stderr" | tr -d ' ')" -eq 1 ] && ok "--seeds 0 rejected" \
  || nok "--seeds 0: status $st"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
