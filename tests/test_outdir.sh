#!/bin/sh
# Output directories as one unit, stop signals, stalls and exit statuses
# (issue 11, reproducers 3-6): a run that fails part-way (a full disk)
# leaves the directory as it was and removes one it created; temporaries of
# killed writers are cleaned by the next run; SIGTERM and SIGHUP keep the
# computed part like SIGINT; a stalled flow ends; out of memory exits 1; a
# full stdout is a failure.  Prints "N passed, M failed"; exit 1 on any
# failure.
set -u

top=${MV_TOP_SRCDIR:-.}
build=${MV_BUILDDIR:-.}
exe="$build/src/moeverify"
data="$top/tests/data"
[ -x "$exe" ] || { echo "test_outdir.sh: $exe not built"; exit 99; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mv_outdir.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT

pass=0
fail=0
ok () { pass=$((pass + 1)); echo "ok - $1"; }
nok () { fail=$((fail + 1)); echo "FAIL - $1"; }
lines () { wc -l <"$1" | tr -d ' '; }
small="$data/example_small.json"
FILES="trajectory.csv run.json events.json router_alignment.svg expert_alignment.svg loss.svg"

# A finished flow into DIR: every file, status complete.
flow_ok () {
  "$exe" flow "$small" --reduced --t-end "$2" --out "$1" >/dev/null 2>"$tmp/stderr"
}
sums () { (cd "$1" && ls -A | sort && cat $FILES) | cksum; }

# ------------------------------------------------- a full disk part-way
# (a file size limit stands in for it: SIGXFSZ ignored, write -> EFBIG)
d="$tmp/full_new"
(trap '' XFSZ; ulimit -f 40; "$exe" flow "$small" --reduced --t-end 20 --out "$d" \
  >/dev/null 2>"$tmp/stderr")
st=$?
if [ "$st" -eq 1 ] && [ ! -e "$d" ] && [ "$(lines "$tmp/stderr")" -eq 1 ] \
   && grep -q "trajectory.csv: cannot write" "$tmp/stderr"; then
  ok "full disk, new directory: exit 1, one line, directory removed"
else nok "full disk, new directory: status $st, exists: $(ls -A "$d" 2>&1 | tr '\n' ' '), $(cat "$tmp/stderr")"; fi

d="$tmp/full_old"
flow_ok "$d" 20
before=$(sums "$d")
(trap '' XFSZ; ulimit -f 40; "$exe" flow "$small" --reduced --t-end 30 --out "$d" \
  >/dev/null 2>"$tmp/stderr")
st=$?
if [ "$st" -eq 1 ] && [ "$(sums "$d")" = "$before" ]; then
  ok "full disk, earlier result: exit 1, the earlier files untouched, no temporaries"
else nok "full disk, earlier result: status $st, files now: $(ls -A "$d" | tr '\n' ' ')"; fi

# ------------------------------------------------- temporaries of killed writers
d="$tmp/stale"
mkdir "$d"
sh -c 'exit 0' & dead=$!
wait "$dead"
: >"$d/.trajectory.csv.tmp.$dead.Ab3xYz"       # a writer that died
: >"$d/.run.json.tmp.$$.Qw9eRt"                # a live one (this shell)
: >"$d/.notes.tmp.txt"                          # not ours
flow_ok "$d" 5
if [ ! -e "$d/.trajectory.csv.tmp.$dead.Ab3xYz" ] && [ -e "$d/.run.json.tmp.$$.Qw9eRt" ] \
   && [ -e "$d/.notes.tmp.txt" ] && grep -q '"status": "complete"' "$d/run.json"; then
  ok "a run removes the temporaries of dead writers only"
else nok "stale temporaries: $(ls -A "$d" | tr '\n' ' ')"; fi

# SIGKILL during a long write, then a new run: no temporary survives
d="$tmp/killed"
"$exe" flow "$small" --reduced --t-end 200 --n-out 20000 --out "$d" >/dev/null 2>&1 &
pid=$!
i=0
while [ $i -lt 400 ] && ! ls -A "$d" 2>/dev/null | grep -q '\.tmp\.'; do
  sleep 0.01; i=$((i + 1))
done
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
caught="a temporary left by the kill"
ls -A "$d" 2>/dev/null | grep -q '\.tmp\.' || caught="the kill came outside the write"
flow_ok "$d" 5
if ls -A "$d" | grep -q '\.tmp\.'; then nok "temporaries left after SIGKILL and a new run: $(ls -A "$d" | tr '\n' ' ')"
elif grep -q '"status": "complete"' "$d/run.json"; then ok "SIGKILL mid-write ($caught), new run: complete, no temporaries"
else nok "SIGKILL mid-write, new run: no complete run.json"; fi

# ------------------------------------------------- SIGTERM and SIGHUP
tiny="$tmp/tiny.json"
cat >"$tiny" <<'JSON'
{"d": 6, "teacher": {"m": 1, "init": {"kind": "orthonormal", "seed": 3}},
 "student": {"m": 2, "init": {"kind": "gaussian", "seed": 4}}}
JSON
for sig in TERM HUP; do
  d="$tmp/sig$sig"
  "$exe" flow "$tiny" --t-end 1e7 --rtol 1e-12 --out "$d" >/dev/null 2>"$tmp/stderr" &
  pid=$!
  sleep 1
  kill -$sig "$pid"
  wait "$pid"
  st=$?
  why=""
  [ "$st" -eq 130 ] || why="$why status $st;"
  for f in $FILES; do [ -s "$d/$f" ] || why="$why missing $f;"; done
  grep -q '"status": "interrupted"' "$d/run.json" 2>/dev/null || why="$why run.json not interrupted;"
  grep -q "^# moeverify trajectory: .*interrupted" "$d/trajectory.csv" 2>/dev/null \
    || why="$why trajectory.csv not marked;"
  rows=$(grep -c '^[0-9]' "$d/trajectory.csv" 2>/dev/null)
  [ "${rows:-0}" -ge 2 ] || why="$why $rows rows;"
  if [ -z "$why" ]; then ok "SIG$sig: marked partial result ($rows rows), exit 130"
  else nok "SIG$sig:$why"; fi
done

d="$tmp/sgdterm"
"$exe" sgd "$tiny" --lr 0.001 --batch 64 --steps 100000000 --out "$d" >/dev/null 2>"$tmp/stderr" &
pid=$!
sleep 1
kill -TERM "$pid"
wait "$pid"
st=$?
rows=$(grep -c '^[0-9]' "$d/trajectory.csv" 2>/dev/null)
if [ "$st" -eq 130 ] && grep -q '"status": "interrupted"' "$d/run.json" 2>/dev/null \
   && [ "${rows:-0}" -ge 2 ]; then ok "sgd SIGTERM: marked partial result ($rows rows), exit 130"
else nok "sgd SIGTERM: status $st, ${rows:-0} rows, $(cat "$tmp/stderr")"; fi

# ------------------------------------------------- stalls, step limit, --times
d="$tmp/stall"
timeout 60 "$exe" flow "$small" --reduced --t-end 1 --rtol 1e-300 --atol 1e-300 --out "$d" \
  >/dev/null 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 1 ] && grep -q "stalled at t = " "$tmp/stderr" && [ "$(lines "$tmp/stderr")" -eq 1 ] \
   && [ ! -e "$d" ]; then ok "rtol 1e-300: stalls are detected (exit 1, one line)"
else nok "stall: status $st, $(cat "$tmp/stderr")"; fi

d="$tmp/times"
"$exe" flow "$small" --reduced --times 0.25,0.5 --t-end 1 --out "$d" >/dev/null 2>&1
last=$(grep '^[0-9]' "$d/trajectory.csv" | tail -1 | cut -d, -f1)
if [ "$last" = "1" ] && grep -q '"t_end": 1' "$d/run.json"; then
  ok "--times 0.25,0.5 --t-end 1: the run ends at t = 1 with a row there"
else nok "--times with a later --t-end: last row at t = $last"; fi

# ------------------------------------------------- out of memory: exit 1
big="$tmp/big.json"
echo '{"d":2000,"teacher":{"m":5,"init":{"kind":"orthonormal","seed":1}},"student":{"m":2000,"init":{"kind":"gaussian","seed":2}}}' >"$big"
if [ -n "${MV_SANITIZE:-}" ]; then
  ok "out of memory: skipped (ulimit -v and sanitizer shadow memory do not mix)"
else
  for cmd in "flow --t-end 1" "flow --reduced --t-end 1" "sgd --steps 3 --lr 0.01 --batch 10"; do
    d="$tmp/oom"
    # --max-memory none: past the guard, the allocations themselves fail
    (ulimit -v 600000; "$exe" $cmd "$big" --out "$d" --max-memory none >/dev/null 2>"$tmp/stderr")
    st=$?
    if [ "$st" -eq 1 ] && grep -q "out of memory" "$tmp/stderr" && [ ! -e "$d" ]; then
      ok "$cmd: out of memory, exit 1, no directory"
    else nok "$cmd: out of memory: status $st, $(cat "$tmp/stderr")"; fi
  done
fi

# ------------------------------------------------- a full stdout
if [ -w /dev/full ]; then
  for args in "loss $small --fast" "--help" "coeffs --help"; do
    "$exe" $args >/dev/full 2>"$tmp/stderr"
    st=$?
    if [ "$st" -eq 1 ] && grep -q "<stdout>: write error" "$tmp/stderr"; then ok "$args > /dev/full: exit 1"
    else nok "$args > /dev/full: status $st"; fi
  done
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
