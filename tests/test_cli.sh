#!/bin/sh
# Command-line behaviour of moeverify: bad specs and bad options fail with
# exactly one line on stderr (naming the spec file for spec errors), the
# right exit status, and no output file (nor temporaries) left behind; good
# runs write complete output.  Prints "N passed, M failed"; exit 1 on any
# failure.
set -u

top=${MV_TOP_SRCDIR:-.}
build=${MV_BUILDDIR:-.}
exe="$build/src/moeverify"
data="$top/tests/data"

if [ ! -x "$exe" ]; then
  echo "test_cli.sh: $exe not built"
  exit 99
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mv_cli.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

pass=0
fail=0
ok () { pass=$((pass + 1)); echo "ok - $1"; }
nok () { fail=$((fail + 1)); echo "FAIL - $1"; }

# Files in the output directory other than the expected one.
outdir="$tmp/out"
count_files () { ls -A "$outdir" | wc -l | tr -d ' '; }

# expect_error NAME STATUS MENTION CMD ARGS...: runs "CMD -o OUT ARGS...".
expect_error () {
  name=$1 want=$2 mention=$3 cmd=$4
  shift 4
  rm -rf "$outdir" && mkdir "$outdir"
  "$exe" "$cmd" -o "$outdir/OUT.json" "$@" >"$tmp/stdout" 2>"$tmp/stderr"
  st=$?
  why=""
  [ "$st" -eq "$want" ] || why="$why status $st (want $want);"
  n=$(wc -l <"$tmp/stderr" | tr -d ' ')
  [ "$n" -eq 1 ] || why="$why $n lines on stderr;"
  grep -q '^moeverify: ' "$tmp/stderr" || why="$why no 'moeverify: ' prefix;"
  if [ -n "$mention" ] && ! grep -qF -- "$mention" "$tmp/stderr"; then
    why="$why stderr lacks '$mention';"
  fi
  [ -s "$tmp/stdout" ] && why="$why wrote to stdout;"
  [ "$(count_files)" -eq 0 ] && [ ! -e "$outdir/OUT.json" ] \
    || why="$why left files: $(ls -A "$outdir" | tr '\n' ' ');"
  if [ -z "$why" ]; then ok "$name"; else
    nok "$name:$why"
    sed 's/^/    stderr: /' "$tmp/stderr"
  fi
}

# ---------------------------------------------------------------- bad specs
for f in malformed length zero nan m0 unknown; do
  spec="$data/bad_$f.json"
  expect_error "loss bad_$f.json" 2 "$spec: " loss "$spec"
  expect_error "loss --fast bad_$f.json" 2 "$spec: " loss "$spec" --fast
done
expect_error "bad_length names the key" 2 "student.V[1]: expected 3 entries, got 2" \
  loss "$data/bad_length.json"
expect_error "bad_zero names the key" 2 "teacher.W[0]: zero vector" \
  loss "$data/bad_zero.json"
expect_error "bad_nan names the key" 2 'student.V[0][1]: "nan"' \
  loss "$data/bad_nan.json"
expect_error "bad_m0 names the key" 2 "student.m:" loss "$data/bad_m0.json"
expect_error "bad_unknown names the key" 2 "noise: unknown key" \
  loss "$data/bad_unknown.json"
expect_error "bad_malformed gives the line" 2 "line 3" \
  loss "$data/bad_malformed.json"
expect_error "missing spec file" 2 "$tmp/none.json" loss "$tmp/none.json"

# ---------------------------------------------------------------- bad options
small="$data/example_small.json"
expect_error "--prec 1" 2 "--prec" loss "$small" --prec 1
expect_error "--prec 999999" 2 "--prec" loss "$small" --prec 999999
expect_error "--prec abc" 2 "--prec" loss "$small" --prec abc
expect_error "--prec=64x" 2 "--prec" loss "$small" --prec=64x
expect_error "--prec without value" 2 "--prec" loss "$small" --prec
expect_error "unknown loss option" 2 "--bogus" loss "$small" --bogus
expect_error "two specs" 2 "unexpected argument" loss "$small" "$small"
expect_error "no spec" 2 "SPEC" loss
expect_error "--fast=1" 2 "--fast" loss "$small" --fast=1
expect_error "coeffs --prec 1" 2 "--prec" coeffs --prec 1
expect_error "coeffs --kmax -3" 2 "--kmax" coeffs --kmax -3
expect_error "coeffs unknown option" 2 "--nope" coeffs --nope
expect_error "unknown command" 2 "frobnicate" frobnicate
expect_error "unknown top-level option" 2 "--bogus" --bogus

# A failing run leaves an existing output file untouched.
echo old >"$tmp/keep.json"
"$exe" loss "$data/bad_nan.json" -o "$tmp/keep.json" 2>/dev/null
if [ "$(cat "$tmp/keep.json")" = old ]; then ok "failed run keeps old output"
else nok "failed run clobbered its output file"; fi
# Unwritable output: one line naming the path, exit 1.
"$exe" loss "$small" --no-grad -o "$tmp/no/such/dir/out.json" \
  >/dev/null 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 1 ] && [ "$(wc -l <"$tmp/stderr" | tr -d ' ')" -eq 1 ] \
   && grep -qF "$tmp/no/such/dir/out.json" "$tmp/stderr"; then
  ok "unwritable -o"
else nok "unwritable -o: status $st, stderr: $(cat "$tmp/stderr")"; fi

# ---------------------------------------------------------------- good runs
valid_json () {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null
  else
    true
  fi
}

# expect_good NAME FILE PATTERN...: FILE exists, is JSON, matches patterns.
check_output () {
  name=$1 file=$2
  shift 2
  why=""
  [ -s "$file" ] || why="$why no output;"
  [ -s "$tmp/stderr" ] && why="$why stderr: $(cat "$tmp/stderr");"
  for pat in "$@"; do
    grep -q -- "$pat" "$file" 2>/dev/null || why="$why no '$pat';"
  done
  if [ -z "$why" ]; then ok "$name"; else nok "$name:$why"; fi
}

rm -rf "$outdir" && mkdir "$outdir"
"$exe" loss "$small" -o "$outdir/OUT.json" >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
[ "$st" -eq 0 ] || nok "loss example_small: status $st: $(cat "$tmp/stderr")"
check_output "loss example_small -o" "$outdir/OUT.json" '"loss": "1\.77272665246' \
  '"method": "closed-form-mpfr"' '"precision_bits": 128' '"grad"' \
  '"grad_digits_min"' '"loss_digits"'
if [ "$(count_files)" -eq 1 ] && [ ! -s "$tmp/stdout" ] \
   && valid_json "$outdir/OUT.json"; then
  ok "loss -o: valid JSON, nothing else written"
else nok "loss -o: stray files or stdout output: $(ls -A "$outdir")"; fi

"$exe" loss "$small" --fast >"$tmp/fast.json" 2>"$tmp/stderr"
st=$?
[ "$st" -eq 0 ] || nok "loss --fast: status $st"
check_output "loss --fast to stdout" "$tmp/fast.json" \
  '"method": "closed-form-double"' '"precision_bits": 53' \
  '"loss": "1\.77272665246'

"$exe" loss "$small" --prec 53 --no-grad >"$tmp/p53.json" 2>"$tmp/stderr"
check_output "loss --prec 53 --no-grad" "$tmp/p53.json" 'closed-form-double'
if grep -q '"grad' "$tmp/p53.json"; then nok "--no-grad printed a gradient"
else ok "--no-grad has no gradient"; fi

"$exe" loss "$small" --prec=200 --no-grad >"$tmp/p200.json" 2>"$tmp/stderr"
check_output "loss --prec=200" "$tmp/p200.json" '"precision_bits": 200' \
  '"loss": "1\.7727266524655209343519695047'

"$exe" coeffs --kmax 9 --verify >"$tmp/coeffs.txt" 2>"$tmp/stderr"
st=$?
[ "$st" -eq 0 ] || nok "coeffs --verify: status $st"
check_output "coeffs --verify" "$tmp/coeffs.txt" \
  '^ *1 .*2\.06620964141907037262350828718' '^ *9 .* ok '
rm -rf "$outdir" && mkdir "$outdir"
"$exe" coeffs --kmax 5 --json -o "$outdir/c.json" >"$tmp/stdout" 2>"$tmp/stderr"
check_output "coeffs --json -o" "$outdir/c.json" '"k": 5' '"digits"'
valid_json "$outdir/c.json" && ok "coeffs JSON valid" || nok "coeffs JSON invalid"

for a in --help -h help "help loss" "loss --help" "coeffs --help"; do
  # shellcheck disable=SC2086
  if "$exe" $a >"$tmp/stdout" 2>"$tmp/stderr" && grep -q usage "$tmp/stdout" \
     && [ ! -s "$tmp/stderr" ]; then ok "$a"; else nok "$a"; fi
done
if "$exe" --version | grep -q '^moeverify [0-9]'; then ok "--version"
else nok "--version"; fi


# ---------------------------------------------------------------- mc --regularizers
expect_error "mc --batch without --regularizers" 2 "--regularizers" \
  mc "$small" --samples 1000 --seed 1 --batch 10
expect_error "mc --batch 0" 2 "--batch" \
  mc "$small" --samples 1000 --seed 1 --regularizers --batch 0
expect_error "mc --batch too large" 2 "fewer than 2 batches" \
  mc "$small" --samples 1000 --seed 1 --regularizers --batch 600
expect_error "mc --regularizers=1" 2 "--regularizers" \
  mc "$small" --samples 1000 --seed 1 --regularizers=1
"$exe" mc "$small" --samples 20000 --seed 2 --no-grad --regularizers \
  --batch 100 >"$tmp/mcreg.json" 2>"$tmp/stderr"
st=$?
[ "$st" -eq 0 ] || nok "mc --regularizers: status $st"
check_output "mc --regularizers --batch" "$tmp/mcreg.json" '"regularizers"' \
  '"population"' '"ortho_gated"' '"bias_removed"' '"per_batch"' \
  '"tokens": 100' '"batches": 200' '"expert_cosines"'
valid_json "$tmp/mcreg.json" && ok "mc --regularizers JSON valid" \
  || nok "mc --regularizers JSON invalid"
"$exe" mc "$small" --samples 20000 --seed 2 --no-grad --regularizers \
  >"$tmp/mcreg0.json" 2>"$tmp/stderr"
check_output "mc --regularizers without --batch" "$tmp/mcreg0.json" \
  '"per_batch": null'


# ---------------------------------------------------------------- flow / sgd
# expect_run_error NAME STATUS MENTION CMD ARGS...: runs "CMD ARGS... --out DIR"
# and requires one stderr line and no DIR afterwards.
expect_run_error () {
  name=$1 want=$2 mention=$3 cmd=$4
  shift 4
  rm -rf "$outdir"
  "$exe" "$cmd" "$@" --out "$outdir" >"$tmp/stdout" 2>"$tmp/stderr"
  st=$?
  why=""
  [ "$st" -eq "$want" ] || why="$why status $st (want $want);"
  n=$(wc -l <"$tmp/stderr" | tr -d ' ')
  [ "$n" -eq 1 ] || why="$why $n lines on stderr;"
  if [ -n "$mention" ] && ! grep -qF -- "$mention" "$tmp/stderr"; then
    why="$why stderr lacks '$mention';"
  fi
  [ -e "$outdir" ] && why="$why left $outdir: $(ls -A "$outdir" | tr '\n' ' ');"
  if [ -z "$why" ]; then ok "$name"; else
    nok "$name:$why"
    sed 's/^/    stderr: /' "$tmp/stderr"
  fi
}
# issue 11 (1): -o onto a device, a FIFO or a symbolic link writes through
# it instead of renaming a regular file over it
# (a private node like /dev/null, so a regression cannot clobber the real one)
if mknod "$tmp/null" c 1 3 2>/dev/null; then
  "$exe" loss "$small" --fast -o "$tmp/null" >/dev/null 2>"$tmp/stderr" && [ -c "$tmp/null" ] \
    && ok "-o device node: written through, still a device" \
    || nok "-o device node: $(ls -l "$tmp/null") $(cat "$tmp/stderr")"
else
  ok "-o device node: skipped (mknod not permitted here)"
fi
mkfifo "$tmp/fifo"
cat "$tmp/fifo" >"$tmp/fifo.out" &
reader=$!
"$exe" loss "$small" --fast -o "$tmp/fifo" >/dev/null 2>"$tmp/stderr"
st=$?
wait $reader
[ "$st" -eq 0 ] && [ -p "$tmp/fifo" ] && grep -q '"loss": "1\.77272665246' "$tmp/fifo.out" \
  && ok "-o FIFO: the JSON goes into the pipe, the FIFO stays" \
  || nok "-o FIFO: status $st, $(cat "$tmp/stderr")"
echo old >"$tmp/target.json"
ln -s "$tmp/target.json" "$tmp/link.json"
"$exe" loss "$small" --fast -o "$tmp/link.json" >/dev/null 2>"$tmp/stderr" \
  && [ -L "$tmp/link.json" ] && grep -q '"loss": "1\.77272665246' "$tmp/target.json" \
  && ok "-o symlink: the link stays, its target is replaced" \
  || nok "-o symlink: $(ls -l "$tmp/link.json") $(cat "$tmp/stderr")"
ln -s "$tmp/no/such/dir/x.json" "$tmp/dangling.json"
"$exe" loss "$small" --fast -o "$tmp/dangling.json" >/dev/null 2>"$tmp/stderr"
st=$?
[ "$st" -ne 0 ] && [ "$(wc -l <"$tmp/stderr")" -eq 1 ] && [ -L "$tmp/dangling.json" ] \
  && ok "-o dangling symlink: one line, non-zero exit, link kept" \
  || nok "-o dangling symlink: status $st, $(cat "$tmp/stderr")"
# issue 11 (2): the loss workspace cannot be allocated -> one line, exit 1,
# no crash (its error path freed MPFR values it had never initialised)
for m in 2000 30000; do
  cat >"$tmp/big$m.json" <<JSON
{"d": 1000, "teacher": {"m": 5, "init": {"kind": "orthonormal", "seed": 1}},
 "student": {"m": $m, "init": {"kind": "gaussian", "seed": 2}}}
JSON
  if [ "${MV_SANITIZE:-}" = 1 ]; then
    # ASan reserves terabytes of shadow address space, so ulimit -v stops
    # it before main; its allocator refusing blocks over 100 MB takes the
    # same error path (its own warnings are dropped from stderr)
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:allocator_may_return_null=1:max_allocation_size_mb=100" \
      "$exe" loss "$tmp/big$m.json" --fast --max-memory none >"$tmp/stdout" 2>"$tmp/stderr.san"
    st=$?
    grep -v '^==[0-9]*==WARNING: AddressSanitizer failed to allocate' "$tmp/stderr.san" >"$tmp/stderr"
  else
    # --max-memory none: the allocation itself must fail cleanly
    (ulimit -v 600000; "$exe" loss "$tmp/big$m.json" --fast --max-memory none >"$tmp/stdout" 2>"$tmp/stderr")
    st=$?
  fi
  if [ "$st" -eq 1 ] && [ "$(wc -l <"$tmp/stderr")" -eq 1 ] \
     && grep -q "big$m.json: loss: out of memory" "$tmp/stderr"; then
    ok "loss m = $m beyond memory: one line, exit 1"
  else
    nok "loss m = $m beyond memory: status $st, $(cat "$tmp/stderr")"
  fi
done
# the memory guard refuses it before allocating, with the estimate
"$exe" loss "$tmp/big30000.json" --fast --max-memory 10G >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 1 ] && [ "$(wc -l <"$tmp/stderr")" -eq 1 ] \
   && grep -q "big30000.json: needs about [0-9.]* GB (workspaces .*more than the limit 10 GB; raise --max-memory" "$tmp/stderr"; then
  ok "loss m = 30000: refused by --max-memory with the estimate"
else nok "loss m = 30000 memory guard: status $st, $(cat "$tmp/stderr")"; fi
expect_error "--max-memory 8X" 2 "--max-memory: '8X'" loss "$data/example_small.json" --max-memory 8X
tiny="$tmp/tiny.json"
cat >"$tiny" <<'JSON'
{"d": 6, "teacher": {"m": 1, "init": {"kind": "orthonormal", "seed": 3}},
 "student": {"m": 2, "init": {"kind": "gaussian", "seed": 4}}}
JSON
expect_run_error "flow --t-end 0" 2 "--t-end" flow "$tiny" --t-end 0
expect_run_error "flow --t-end -1" 2 "--t-end" flow "$tiny" --t-end -1
expect_run_error "flow without --t-end" 2 "--t-end" flow "$tiny"
expect_run_error "flow --rtol 0" 2 "--rtol" flow "$tiny" --t-end 1 --rtol 0
expect_run_error "flow --atol -1" 2 "--atol" flow "$tiny" --t-end 1 --atol -1
expect_run_error "flow unknown stepper" 2 "unknown stepper 'euler'" flow "$tiny" --t-end 1 --stepper euler
expect_run_error "flow bad spec" 2 "bad_nan.json" flow "$data/bad_nan.json" --t-end 1
expect_run_error "flow solver failure (step limit)" 1 "step limit" flow "$tiny" --t-end 50 --max-steps 3
expect_run_error "flow --reference of a large full flow" 2 "2 m d <= 4096 (here 50000)" \
  flow "$data/example_paper.json" --t-end 1 --reference
expect_run_error "flow --times with --n-out" 2 "--n-out and --times" \
  flow "$tiny" --t-end 1 --times 0.5,1 --n-out 5
"$exe" loss "$small" --prec 256 --fast >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
[ "$st" -eq 2 ] && [ "$(wc -l <"$tmp/stderr")" -eq 1 ] && [ ! -s "$tmp/stdout" ] \
  && grep -qF -- "--fast is --prec 53; it conflicts with --prec 256" "$tmp/stderr" \
  && ok "loss --prec 256 --fast: one line, exit 2" \
  || nok "loss --prec 256 --fast: status $st, $(cat "$tmp/stderr")"
expect_run_error "flow --tol without --reference" 2 "--tol needs --reference" \
  flow "$tiny" --t-end 1 --reduced --tol 1e-20
expect_run_error "flow --reference --rtol" 2 "--reference takes --tol" \
  flow "$tiny" --t-end 1 --reduced --reference --rtol 1e-10
expect_run_error "flow --reference --tol 1e-200" 2 "--tol" \
  flow "$tiny" --t-end 1 --reduced --reference --tol 1e-200
expect_run_error "sgd --lr 0" 2 "--lr" sgd "$tiny" --lr 0 --batch 8 --steps 10
expect_run_error "sgd --batch 0" 2 "--batch" sgd "$tiny" --lr 0.01 --batch 0 --steps 10
: >"$tmp/afile"
"$exe" flow "$tiny" --t-end 1 --out "$tmp/afile/sub" >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
if [ "$st" -eq 2 ] && [ "$(wc -l <"$tmp/stderr")" -eq 1 ]; then ok "flow unwritable output directory"
else nok "flow unwritable output directory: status $st"; fi

check_traj () {
  name=$1 dir=$2 status=$3
  why=""
  for f in trajectory.csv run.json events.json router_alignment.svg expert_alignment.svg loss.svg; do
    [ -s "$dir/$f" ] || why="$why missing $f;"
  done
  valid_json "$dir/run.json" || why="$why run.json invalid;"
  valid_json "$dir/events.json" || why="$why events.json invalid;"
  grep -q "\"status\": \"$status\"" "$dir/run.json" || why="$why status not $status;"
  if ls -A "$dir" | grep -q tmp; then why="$why temporaries left;"; fi
  if [ -z "$why" ]; then ok "$name"; else nok "$name:$why"; fi
}
rm -rf "$outdir"
"$exe" flow "$tiny" --t-end 5 --n-out 20 --out "$outdir" >"$tmp/stdout" 2>"$tmp/stderr" \
  && check_traj "flow writes a complete trajectory" "$outdir" complete \
  || nok "flow good run failed: $(cat "$tmp/stderr")"
rm -rf "$outdir"
"$exe" flow "$tiny" --t-end 5 --n-out 20 --reduced --stepper msbdf --out "$outdir" \
  >"$tmp/stdout" 2>"$tmp/stderr" \
  && check_traj "flow --reduced --stepper msbdf" "$outdir" complete \
  || nok "flow --reduced failed: $(cat "$tmp/stderr")"
rm -rf "$outdir"
"$exe" flow "$tiny" --t-end 1 --times 0.5,1 --reduced --reference --prec 96 --tol 1e-20 \
  --out "$outdir" >"$tmp/stdout" 2>"$tmp/stderr" \
  && check_traj "flow --reduced --reference" "$outdir" complete \
  && grep -q '"min_digits"' "$outdir/reference.json" \
  && ok "flow --reference writes reference.json" \
  || nok "flow --reduced --reference failed: $(cat "$tmp/stderr")"
# the full flow's reference (raw vectors in MPFR) says so and confirms as many digits
full="$tmp/full_ref"
rm -rf "$full"
"$exe" flow "$tiny" --t-end 1 --times 0.5,1 --reference --prec 96 --tol 1e-20 \
  --out "$full" >"$tmp/stdout" 2>"$tmp/stderr" \
  && check_traj "flow --reference (full flow)" "$full" complete \
  && grep -q '"method": "full flow' "$full/reference.json" \
  && grep -q 'full flow (gbs-mpfr192)' "$tmp/stdout" \
  && ok "flow --reference without --reduced integrates the raw vectors" \
  || nok "flow --reference (full) failed: $(cat "$tmp/stderr")"
# trajectory_digits.csv: trajectory.csv's header, the agreed strings (the
# loss at t = 1 as in reference.json)
if [ -s "$outdir/trajectory_digits.csv" ] \
   && [ "$(head -1 "$outdir/trajectory_digits.csv")" = "$(sed -n 2p "$outdir/trajectory.csv")" ] \
   && loss=$(sed -n 4p "$outdir/trajectory_digits.csv" | cut -d, -f2) && [ -n "$loss" ] \
   && grep -q "\"$loss\"" "$outdir/reference.json"; then
  ok "flow --reference: trajectory_digits.csv holds the agreed digits"
else
  nok "flow --reference: trajectory_digits.csv"
fi
rm -rf "$outdir"
"$exe" sgd "$tiny" --lr 0.01 --batch 16 --steps 200 --out "$outdir" >"$tmp/stdout" 2>"$tmp/stderr" \
  && check_traj "sgd writes a complete trajectory" "$outdir" complete \
  || nok "sgd good run failed: $(cat "$tmp/stderr")"
# the threaded pair sum gives the same bits for any thread count
paper="$data/example_paper.json"
OMP_NUM_THREADS=1 "$exe" flow "$paper" --reduced --t-end 2 --n-out 10 --out "$tmp/th1" >/dev/null 2>&1
OMP_NUM_THREADS=2 "$exe" flow "$paper" --reduced --t-end 2 --n-out 10 --out "$tmp/th2" >/dev/null 2>&1
if [ -s "$tmp/th1/trajectory.csv" ] && cmp -s "$tmp/th1/trajectory.csv" "$tmp/th2/trajectory.csv"; then
  ok "flow: 1 and 2 threads give identical trajectories"
else nok "flow: 1 and 2 threads differ"; fi

# Ctrl-C: a valid, marked partial trajectory and exit status 130
rm -rf "$outdir"
"$exe" flow "$tiny" --t-end 1e7 --rtol 1e-12 --out "$outdir" >"$tmp/stdout" 2>"$tmp/stderr" &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid"
st=$?
if [ "$st" -eq 130 ]; then check_traj "flow Ctrl-C leaves a marked partial trajectory" "$outdir" interrupted
else nok "flow Ctrl-C: status $st"; fi
grep -q "^# moeverify trajectory: .*interrupted" "$outdir/trajectory.csv" \
  && ok "partial trajectory.csv is marked" || nok "partial trajectory.csv not marked"

# Reference data shipped in data/ must be reproduced exactly by this build.
"$exe" coeffs --kmax 201 --prec 256 >"$tmp/ref_coeffs.txt" 2>"$tmp/stderr"
if cmp -s "$tmp/ref_coeffs.txt" "$top/data/sigmoid-coefficients-256.txt"; then
  ok "data/sigmoid-coefficients-256.txt reproduced"
else nok "data/sigmoid-coefficients-256.txt differs from a fresh run"; fi
(cd "$top" && "$exe" loss tests/data/example_small.json --prec 256) >"$tmp/ref_small.json" 2>"$tmp/stderr"
if cmp -s "$tmp/ref_small.json" "$top/data/example_small-256.json"; then
  ok "data/example_small-256.json reproduced"
else nok "data/example_small-256.json differs from a fresh run"; fi

# Regularizers (proofs/specialization-regularizers.md): explicit zeros give
# the plain loss; "ortho": b adds b * 2 g^6 (g = w1.w2 / |w1||w2|, computed
# here); a negative coefficient is a one-line error naming the key.
reg_head='{"d": 3, "teacher": {"m": 1, "V": [[1,0,0]], "W": [[0,1,0]]}, "student": {"m": 2, "V": [[0.6,0.8,0],[0,0.6,0.8]], "W": [[0.1,0.2,0.9],[0.9,0.1,0.3]]}'
echo "$reg_head}" >"$tmp/reg_plain.json"
echo "$reg_head, \"regularizers\": {\"aux\": 0, \"ortho\": 0, \"ortho_gated\": 0, \"var\": 0}}" >"$tmp/reg_zero.json"
echo "$reg_head, \"regularizers\": {\"ortho\": 2.5}}" >"$tmp/reg_ortho.json"
echo "$reg_head, \"regularizers\": {\"var\": -1}}" >"$tmp/reg_bad.json"
for mode in "" "--fast"; do
  "$exe" loss "$tmp/reg_plain.json" $mode | grep -v '"spec"' >"$tmp/reg_a" 2>"$tmp/stderr"
  "$exe" loss "$tmp/reg_zero.json" $mode | grep -v '"spec"' >"$tmp/reg_b" 2>>"$tmp/stderr"
  if [ -s "$tmp/reg_a" ] && cmp -s "$tmp/reg_a" "$tmp/reg_b"; then ok "loss $mode: zero regularizers = plain loss"
  else nok "loss $mode: zero regularizers differ from the plain loss"; fi
  "$exe" loss "$tmp/reg_ortho.json" $mode --no-grad >"$tmp/reg_c" 2>>"$tmp/stderr"
  if command -v python3 >/dev/null 2>&1; then
    if python3 - "$tmp/reg_a" "$tmp/reg_c" <<'PY'
import json, math, sys
a = float(json.load(open(sys.argv[1]))["loss"]); c = float(json.load(open(sys.argv[2]))["loss"])
w1, w2 = [0.1, 0.2, 0.9], [0.9, 0.1, 0.3]
g = sum(x * y for x, y in zip(w1, w2)) / math.sqrt(sum(x * x for x in w1) * sum(x * x for x in w2))
sys.exit(0 if abs((c - a) - 2.5 * 2 * g ** 6) < 1e-12 else 1)
PY
    then ok "loss $mode: ortho adds 2.5 * 2 g^6"; else nok "loss $mode: ortho term value"; fi
  fi
done
expect_error "negative regularizer" 2 "$tmp/reg_bad.json: regularizers.var:" loss "$tmp/reg_bad.json"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
