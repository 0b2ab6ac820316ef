#!/bin/sh
# moeverify sweep: bad sweep files fail with one line naming the key and
# create nothing; the results do not depend on --jobs or MPI (wall_seconds
# aside); a SIGKILLed sweep resumed with --resume ends with the files of an
# uninterrupted run; a row equals `moeverify flow` on the task's spec.
# Prints "N passed, M failed"; exit 1 on any failure.
set -u

top=${MV_TOP_SRCDIR:-.}
build=${MV_BUILDDIR:-.}
exe="$build/src/moeverify"
data="$top/tests/data"
small="$data/sweep_small.json"

if [ ! -x "$exe" ]; then
  echo "test_sweep.sh: $exe not built"
  exit 99
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mv_sweep.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
# progress bars only on a terminal: keep the logs clean either way
CI=1
export CI

pass=0
fail=0
ok () { pass=$((pass + 1)); echo "ok - $1"; }
nok () { fail=$((fail + 1)); echo "FAIL - $1"; }

# ---------------------------------------------------------------- bad files
BASE='"base": {"d": 20, "teacher": {"m": 2, "init": {"kind": "orthonormal", "seed": 1}},
 "student": {"m": 3, "init": {"kind": "gaussian", "seed": 1}}}'
RUN='"run": {"method": "reduced", "t_end": 1}'

# expect_bad NAME MENTION JSON: sweep fails with status 2, one stderr line
# naming MENTION, nothing on stdout, no output directory.
expect_bad () {
  name=$1 mention=$2
  printf '%s\n' "$3" >"$tmp/bad.json"
  "$exe" sweep "$tmp/bad.json" --out "$tmp/badout" --jobs 2 \
    >"$tmp/stdout" 2>"$tmp/stderr"
  st=$?
  why=""
  [ "$st" -eq 2 ] || why="$why status $st (want 2);"
  [ "$(wc -l <"$tmp/stderr" | tr -d ' ')" -eq 1 ] || why="$why not one line on stderr;"
  grep -q '^moeverify: ' "$tmp/stderr" || why="$why no 'moeverify: ' prefix;"
  grep -qF -- "$mention" "$tmp/stderr" || why="$why stderr lacks '$mention';"
  grep -qF -- "$tmp/bad.json" "$tmp/stderr" || why="$why stderr lacks the file name;"
  [ -s "$tmp/stdout" ] && why="$why wrote to stdout;"
  [ -e "$tmp/badout" ] && why="$why created the output directory;"
  if [ -z "$why" ]; then ok "$name"; else
    nok "$name:$why"
    sed 's/^/    stderr: /' "$tmp/stderr"
  fi
  rm -rf "$tmp/badout"
}

expect_bad "unknown grid path" "student.init.sed" \
  "{$BASE, \"grid\": {\"student.init.sed\": [1, 2]}, $RUN}"
expect_bad "empty axis" "grid.d" "{$BASE, \"grid\": {\"d\": []}, $RUN}"
expect_bad "value making the spec invalid" "grid.d" \
  "{$BASE, \"grid\": {\"d\": [20, 0]}, $RUN}"
expect_bad "too many tasks" "max_tasks" \
  "{$BASE, \"grid\": {\"student.init.seed\": {\"from\": 1, \"to\": 2000000}}, $RUN}"
expect_bad "bad run method" "run.method" \
  "{$BASE, \"grid\": {\"d\": [20]}, \"run\": {\"method\": \"euler\", \"t_end\": 1}}"
expect_bad "malformed file" "line" "{$BASE, \"grid\": {\"d\": [20]}"

"$exe" sweep "$tmp/none.json" --out "$tmp/badout" >/dev/null 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 2 ] && grep -qF "$tmp/none.json" "$tmp/stderr" && [ ! -e "$tmp/badout" ]
then ok "missing sweep file"; else nok "missing sweep file: status $st"; fi
"$exe" sweep "$small" --jobs 0 --out "$tmp/badout" >/dev/null 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 2 ] && grep -qF -- "--jobs" "$tmp/stderr" && [ ! -e "$tmp/badout" ]
then ok "--jobs 0"; else nok "--jobs 0: status $st"; fi
"$exe" sweep "$small" --spec 8 >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 2 ] && grep -qF -- "--spec 8" "$tmp/stderr" && [ ! -s "$tmp/stdout" ]
then ok "--spec out of range"; else nok "--spec out of range: status $st"; fi

# ---------------------------------------------------------------- same rows
# The files without wall_seconds (the only column that differs by run).
strip () {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "wall_seconds") w = i }
           { out = ""; sep = ""
             for (i = 1; i <= NF; i++) if (i != w) { out = out sep $i; sep = "," }
             print out }' \
    "$1/results.csv" >"$1/stripped.csv"
  sed -E 's/"wall_seconds": *[^,}]*,? *//' "$1/results.jsonl" >"$1/stripped.jsonl"
}
same_results () {
  strip "$1"
  strip "$2"
  cmp -s "$1/stripped.csv" "$2/stripped.csv" && cmp -s "$1/stripped.jsonl" "$2/stripped.jsonl"
}

"$exe" sweep "$small" --jobs 1 --out "$tmp/j1" >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
n=$(wc -l <"$tmp/j1/results.csv" 2>/dev/null | tr -d ' ')
if [ "$st" -eq 0 ] && [ "$n" = 9 ] && [ "$(wc -l <"$tmp/j1/results.jsonl")" -eq 8 ] \
   && cmp -s "$small" "$tmp/j1/sweep.json" && [ ! -s "$tmp/stderr" ]; then
  ok "sweep --jobs 1: 8 rows, header, sweep.json"
else nok "sweep --jobs 1: status $st, $n csv lines, stderr: $(cat "$tmp/stderr")"; fi
if grep -q '"complete"' "$tmp/j1/results.jsonl" && ! grep -q '"failed"' "$tmp/j1/results.jsonl"
then ok "every task done"; else nok "some tasks not done: $(head -c 600 "$tmp/j1/results.jsonl")"; fi
"$exe" sweep "$small" --jobs 2 --out "$tmp/j2" >/dev/null 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 0 ] && same_results "$tmp/j1" "$tmp/j2"; then ok "--jobs 2 rows equal --jobs 1's"
else nok "--jobs 2 (status $st) differs from --jobs 1: $(diff "$tmp/j1/stripped.csv" "$tmp/j2/stripped.csv" | head -5)"; fi
if cmp -s "$tmp/j1/results.csv" "$tmp/j2/results.csv"; then
  nok "wall_seconds identical in two runs (is the column there?)"
else ok "only wall_seconds differs"; fi

# --plot: SVG summaries against the numeric non-seed axis (d), none
# against the seed axis; a directory without results is one error line
"$exe" sweep --plot "$tmp/j1" >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 0 ] && grep -q '<svg' "$tmp/j1/plots/loss_vs_d.svg" 2>/dev/null \
   && grep -q 'median' "$tmp/j1/plots/recovered_vs_d.svg" 2>/dev/null \
   && ! ls "$tmp/j1/plots" | grep -q seed && [ ! -s "$tmp/stderr" ]; then
  ok "--plot: summaries against d"
else nok "--plot: status $st, $(ls "$tmp/j1/plots" 2>&1 | tr '\n' ' ') $(cat "$tmp/stderr")"; fi
"$exe" sweep --plot "$tmp/nowhere" >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
if [ "$st" -ne 0 ] && [ "$(wc -l <"$tmp/stderr" | tr -d ' ')" -eq 1 ] \
   && grep -qF "nowhere/results.csv" "$tmp/stderr"; then ok "--plot without results: one error line"
else nok "--plot without results: status $st, $(cat "$tmp/stderr")"; fi

# A second run into the same directory is refused; --resume of a finished
# sweep runs nothing and keeps the files.
"$exe" sweep "$small" --jobs 1 --out "$tmp/j1" >/dev/null 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 2 ] && grep -qF -- "--resume" "$tmp/stderr"; then ok "existing results refused"
else nok "existing results: status $st, $(cat "$tmp/stderr")"; fi
cp "$tmp/j1/results.csv" "$tmp/j1.csv"
"$exe" sweep "$small" --resume --out "$tmp/j1" >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 0 ] && cmp -s "$tmp/j1.csv" "$tmp/j1/results.csv" && grep -q "0 run now" "$tmp/stdout"
then ok "--resume of a finished sweep"; else nok "--resume of a finished sweep: status $st, $(cat "$tmp/stdout" "$tmp/stderr")"; fi
sed 's/"t_end": 5/"t_end": 6/' "$small" >"$tmp/other.json"
"$exe" sweep "$tmp/other.json" --resume --out "$tmp/j1" >/dev/null 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 2 ] && grep -qF "sweep.json" "$tmp/stderr" && [ "$(wc -l <"$tmp/stderr")" -eq 1 ]
then ok "--resume with another sweep file refused"; else nok "--resume other file: status $st"; fi

# Failed tasks: every row still written, with its message; exit status 3.
sed 's/"t_end": 5}/"t_end": 5, "max_steps": 30}/' "$small" >"$tmp/fail.json"
"$exe" sweep "$tmp/fail.json" --jobs 2 --out "$tmp/fail" >/dev/null 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 3 ] && [ "$(grep -c '"failed"' "$tmp/fail/results.jsonl")" -eq 8 ] \
   && grep -q "step limit" "$tmp/fail/results.csv"; then ok "failed tasks: rows with messages, exit 3"
else nok "failed tasks: status $st, $(head -c 300 "$tmp/fail/results.jsonl")"; fi

# ---------------------------------------------------------------- MPI
if "$exe" sweep --help | grep -q "MPI: yes" && command -v mpirun >/dev/null 2>&1; then
  # --enable-sanitizers: Open MPI keeps its start-up allocations until
  # exit; LeakSanitizer recognises them (tests/lsan.supp) only with full
  # malloc stacks, which the MPI libraries' frames need the slow unwinder for
  [ "${MV_SANITIZE:-}" = 1 ] && ASAN_OPTIONS="${ASAN_OPTIONS:-}:fast_unwind_on_malloc=0" \
    && export ASAN_OPTIONS
  root=""
  [ "$(id -u)" -eq 0 ] && root="--allow-run-as-root"
  # (the single-copy setting avoids a ptrace failure of shared memory in containers)
  OMPI_MCA_btl_vader_single_copy_mechanism=none \
  mpirun -n 3 --oversubscribe $root "$exe" sweep "$small" --out "$tmp/mpi" \
    >"$tmp/stdout" 2>"$tmp/stderr"
  st=$?
  if [ "$st" -eq 0 ] && same_results "$tmp/j1" "$tmp/mpi"; then ok "mpirun -n 3 rows equal --jobs 1's"
  else nok "mpirun -n 3: status $st, $(head -3 "$tmp/stderr")"; fi
  OMPI_MCA_btl_vader_single_copy_mechanism=none \
  mpirun -n 1 $root "$exe" sweep "$small" --out "$tmp/mpi1" >/dev/null 2>"$tmp/stderr"
  st=$?
  if [ "$st" -eq 0 ] && same_results "$tmp/j1" "$tmp/mpi1"; then ok "mpirun -n 1 rows equal --jobs 1's"
  else nok "mpirun -n 1: status $st, $(head -3 "$tmp/stderr")"; fi
else
  echo "skip mpi"
fi

# ---------------------------------------------------------------- kill, resume
# wait_rows DIR N: until DIR/results.jsonl has N rows (at most 15 s)
wait_rows () {
  i=0
  while [ "$i" -lt 300 ]; do
    [ "$(cat "$1/results.jsonl" 2>/dev/null | wc -l)" -ge "$2" ] && break
    sleep 0.05
    i=$((i + 1))
  done
}
# Slower tasks: SIGKILL the whole process group once some rows are on disk.
sed -e 's/"t_end": 5/"t_end": 200/' -e 's/"to": 4/"to": 10/' "$small" >"$tmp/slow.json"
"$exe" sweep "$tmp/slow.json" --jobs 2 --out "$tmp/full" >/dev/null 2>&1
setsid "$exe" sweep "$tmp/slow.json" --jobs 2 --out "$tmp/killed" >/dev/null 2>&1 &
pid=$!
wait_rows "$tmp/killed" 3
kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
wait "$pid" 2>/dev/null
rows=$(wc -l <"$tmp/killed/results.jsonl" | tr -d ' ')
if [ "$rows" -ge 3 ] && [ "$rows" -lt 20 ]; then ok "killed mid-way ($rows of 20 rows)"
else nok "kill: $rows rows at the kill (want 3..19)"; fi
# a torn last line, as a kill mid-write would leave
printf '{"task": 1' >>"$tmp/killed/results.jsonl"
"$exe" sweep "$tmp/slow.json" --jobs 2 --resume --out "$tmp/killed" >/dev/null 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 0 ] && same_results "$tmp/full" "$tmp/killed"; then ok "--resume after SIGKILL equals an uninterrupted run"
else nok "--resume after SIGKILL: status $st, $(diff "$tmp/full/stripped.csv" "$tmp/killed/stripped.csv" | head -5)"; fi

# the memory guard: the largest task times the tasks run at once
sed -e 's/"student.init.seed": {"from": 1, "to": 4}/"student.m": [3, 400]/' "$small" >"$tmp/wide.json"
"$exe" sweep "$tmp/wide.json" --jobs 2 --max-memory 100M --out "$tmp/wide" >/dev/null 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 1 ] && [ ! -e "$tmp/wide" ] && [ "$(wc -l <"$tmp/stderr" | tr -d ' ')" -eq 1 ] \
   && grep -q "wide.json: task 1 (2 at once): needs about .* more than the limit 100 MB" "$tmp/stderr"; then
  ok "--max-memory refuses the sweep before it starts, naming the largest task"
else nok "sweep memory guard: status $st, $(cat "$tmp/stderr")"; fi

# SIGTERM (timeout, job schedulers): the running tasks finish, the rows so
# far are kept, exit 130, and --resume completes the sweep
"$exe" sweep "$tmp/slow.json" --jobs 2 --out "$tmp/term" >/dev/null 2>"$tmp/stderr" &
pid=$!
wait_rows "$tmp/term" 2
kill -TERM "$pid"
wait "$pid"
st=$?
rows=$(wc -l <"$tmp/term/results.jsonl" | tr -d ' ')
if [ "$st" -eq 130 ] && grep -q "sweep interrupted: $rows of 20 tasks" "$tmp/stderr"; then
  ok "SIGTERM: $rows of 20 rows kept, exit 130"
else nok "SIGTERM: status $st, $rows rows, $(cat "$tmp/stderr")"; fi
"$exe" sweep "$tmp/slow.json" --jobs 2 --resume --out "$tmp/term" >/dev/null 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 0 ] && same_results "$tmp/full" "$tmp/term"; then ok "--resume after SIGTERM equals an uninterrupted run"
else nok "--resume after SIGTERM: status $st"; fi

# ---------------------------------------------------------------- row = flow
# Task 5 alone through `moeverify flow`: the same final loss, as printed.
"$exe" sweep "$small" --spec 5 >"$tmp/task5.json" 2>"$tmp/stderr"
"$exe" flow "$tmp/task5.json" --reduced --sample-gram --t-end 5 --out "$tmp/flow5" \
  >/dev/null 2>>"$tmp/stderr"
flow_loss=$(grep -v '^#' "$tmp/flow5/trajectory.csv" 2>/dev/null \
  | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "loss") c = i; next } { v = $c } END { print v }')
row_loss=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "loss") c = i; if ($i == "task") k = i }; next }
                    $k == 5 { print $c }' \
  "$tmp/j1/results.csv")
if [ -n "$flow_loss" ] && [ "$flow_loss" = "$row_loss" ]; then ok "task 5's row equals moeverify flow ($row_loss)"
else nok "task 5: flow loss '$flow_loss', row loss '$row_loss' $(cat "$tmp/stderr")"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
