#!/bin/sh
# The bad-input corpus of tests/data/bad (README.md there): every malformed
# or adversarial spec, sweep file, reference file and command line gives
# the documented exit status (never a signal, never a hang), exactly one
# line on stderr naming the file and the offending key (or line and column),
# and leaves nothing in the output directory.  Prints "N passed, M failed";
# exit 1 on any failure.
set -u

top=${MV_TOP_SRCDIR:-.}
build=${MV_BUILDDIR:-.}
exe="$build/src/moeverify"
bad="$top/tests/data/bad"
good_spec="$top/tests/data/example_small.json"
good_sweep="$top/tests/data/sweep_small.json"
good_ref="$top/data/reference/near-teacher.json"

if [ ! -x "$exe" ]; then
  echo "test_bad.sh: $exe not built"
  exit 99
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mv_bad.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
# the commands' good-spec init example
good_init="$tmp/init.json"
printf '%s\n' '{"d": 20, "teacher": {"m": 2, "init": {"kind": "orthonormal", "seed": 1}}, "student": {"m": 3, "init": {"kind": "gaussian", "seed": 1}}}' >"$good_init"

pass=0
fail=0
ok () { pass=$((pass + 1)); }
nok () { fail=$((fail + 1)); echo "FAIL - $1"; }

out="$tmp/out"     # empty before every run; must stay empty
mkdir "$out" || exit 99
# Only shell builtins besides the command itself (a few thousand runs).
# run_case NAME WANT FILE MENTION CMD ARGS...: exit status WANT, one line
# on stderr starting "moeverify: " that names FILE ("" for none, else as
# "FILE: ") and contains MENTION (if not ""); nothing left in $out.
run_case () {
  name=$1 want=$2 file=$3 mention=$4
  shift 4
  timeout 20 ${wrap:+"$wrap"} "$exe" "$@" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
  st=$?
  why=""
  if [ "$st" -eq 124 ]; then why="$why timed out (20 s);"
  elif [ "$st" -ge 128 ]; then why="$why killed by signal $((st - 128));"
  elif [ "$st" -ne "$want" ]; then why="$why status $st (want $want);"
  fi
  # one newline-terminated line: the first read succeeds, the second
  # finds nothing
  l1="" l2=""
  { IFS= read -r l1 && ! IFS= read -r l2 && [ -z "$l2" ]; } <"$tmp/stderr" \
    || why="$why not exactly one line on stderr;"
  case $l1 in "moeverify: "*) ;; *) why="$why no 'moeverify: ' prefix;" ;; esac
  if [ -n "$file" ]; then
    case $l1 in *"$file: "*) ;; *) why="$why stderr does not name the file;" ;; esac
  fi
  if [ -n "$mention" ]; then
    case $l1 in *"$mention"*) ;; *) why="$why stderr lacks '$mention';" ;; esac
  fi
  set -- "$out"/* "$out"/.[!.]*
  for left; do
    if [ -e "$left" ] || [ -L "$left" ]; then
      why="$why left behind: ${left#"$out"/};"
      rm -rf "$out" && mkdir "$out"
      break
    fi
  done
  if [ -z "$why" ]; then ok; else
    nok "$name:$why"
    IFS= read -r l1 <"$tmp/stderr"
    printf '    stderr: %.300s\n' "$l1"
  fi
}

# ---------------------------------------------------------------- specs
# Every spec-taking command, output into a path that does not exist yet.
# JSON syntax errors ("line L, column C") stop in the one shared reader
# before anything command-specific, so two commands (a file and a
# directory output) cover them; every other case runs every command.
while read -r f want mention; do
  case $f in '#'*|'') continue ;; esac
  spec="$bad/spec/$f"
  run_case "loss $f" "$want" "$spec" "$mention" loss "$spec" -o "$out/loss.json"
  run_case "flow --reduced $f" "$want" "$spec" "$mention" flow "$spec" --reduced --t-end 1 --out "$out/flow"
  case $mention in "line "*) continue ;; esac
  run_case "loss --fast $f" "$want" "$spec" "$mention" loss "$spec" --fast -o "$out/loss.json"
  run_case "flow $f" "$want" "$spec" "$mention" flow "$spec" --t-end 1 --out "$out/flow"
  run_case "sgd $f" "$want" "$spec" "$mention" sgd "$spec" --lr 0.1 --batch 10 --steps 10 --out "$out/sgd"
  run_case "mc $f" "$want" "$spec" "$mention" mc "$spec" --samples 1000 --seed 1 --batches 10 -o "$out/mc.json"
done <"$bad/spec/cases.txt"

# ---------------------------------------------------------------- sweeps
while read -r f want mention; do
  case $f in '#'*|'') continue ;; esac
  sweep="$bad/sweep/$f"
  run_case "sweep $f" "$want" "$sweep" "$mention" sweep "$sweep" --jobs 1 --out "$out/sweep"
  run_case "sweep --spec $f" "$want" "$sweep" "$mention" sweep "$sweep" --spec 0
done <"$bad/sweep/cases.txt"

# ---------------------------------------------------------------- references
# (regress reports per file on stdout too; the error is the one stderr line)
while read -r f want mention; do
  case $f in '#'*|'') continue ;; esac
  ref="$bad/reference/$f"
  run_case "regress $f" "$want" "$ref" "$mention" regress "$ref"
done <"$bad/reference/cases.txt"

# ---------------------------------------------------------------- options
while IFS='|' read -r want mention line; do
  case $want in '#'*|'') continue ;; esac
  set -f
  # shellcheck disable=SC2086
  set -- $(printf '%s\n' "$line" | sed -e "s|@SPEC|$good_spec|g" \
    -e "s|@INIT|$good_init|g" -e "s|@SWEEP|$good_sweep|g" \
    -e "s|@REF|$good_ref|g" -e "s|@OUT|$out/new|g")
  set +f
  run_case "options: $line" "$want" "" "$mention" "$@"
  [ -s "$tmp/stdout" ] && nok "options: $line: wrote to stdout"
  :
done <"$bad/options.txt"

# ---------------------------------------------------------------- one rule
# The norm rule (README.md here) is applied once, at parse: every method
# gives the very same line for a vector outside it (before: loss exit 0,
# --fast "norm inf", the reduced flow "needs teacher.init", mc "non-finite").
for f in V_1e300 W_1e154_sum_overflows V_1e-320 teacher_V_1e-320 W_1e-200_all; do
  spec="$bad/spec/$f.json"
  first="" differ=""
  for c in "loss" "loss --fast" "flow --reduced --t-end 1 --out $out/f" \
           "flow --t-end 1 --out $out/f" "sgd --lr 0.1 --batch 10 --steps 10 --out $out/f" \
           "mc --samples 1000 --seed 1" "specialize"; do
    set -f
    # shellcheck disable=SC2086
    set -- ${c%% *} "$spec" $(case $c in *" "*) printf '%s\n' "${c#* }" ;; esac)
    set +f
    timeout 20 "$exe" "$@" >/dev/null 2>"$tmp/stderr" </dev/null
    l1=""
    IFS= read -r l1 <"$tmp/stderr"
    if [ -z "$first" ]; then first=$l1
    elif [ "$l1" != "$first" ]; then differ="$differ [$c: $l1]"
    fi
  done
  case $first in *"$spec: "*"[0]: squared norm"*) ;; *) differ="$differ [first: $first]" ;; esac
  if [ -z "$differ" ]; then ok; else nok "norm rule $f: messages differ:$differ"; fi
  rm -rf "$out" && mkdir "$out"
done

# ---------------------------------------------------------------- memory
# Out of memory is a failed computation: exit 1 from every command (the
# flows and SGD said 2 when it happened before the first row), one line
# naming the spec, nothing left.  1 GB of address space; m = 20000 needs a
# 40010 x 40010 Gram matrix (12.8 GB).  Then sizes beyond any memory.
printf '%s\n' '{"d": 100, "teacher": {"m": 5, "init": {"kind": "orthonormal", "seed": 1}}, "student": {"m": 20000, "init": {"kind": "gaussian", "seed": 2}}}' >"$tmp/m20000.json"
printf '%s\n' '{"d": 1000000000000, "teacher": {"m": 5, "init": {"kind": "orthonormal", "seed": 1}}, "student": {"m": 1000000000, "init": {"kind": "gaussian", "seed": 2}}}' >"$tmp/m1e9.json"
if [ -n "${MV_SANITIZE:-}" ]; then
  # ASan reserves terabytes of address space, so no ulimit -v: its
  # allocator refusing blocks over 1000 MB takes the same error path (its
  # own warnings are dropped from stderr)
  cat >"$tmp/lowmem.sh" <<'SH'
#!/bin/sh
ASAN_OPTIONS="${ASAN_OPTIONS:-}:allocator_may_return_null=1:max_allocation_size_mb=1000" "$@" 2>"$0.err"
st=$?
grep -v '^==[0-9]*==WARNING: AddressSanitizer failed to allocate' "$0.err" >&2
exit $st
SH
else
  printf '#!/bin/sh\nulimit -v 1000000 && exec "$@"\n' >"$tmp/lowmem.sh"
fi
chmod +x "$tmp/lowmem.sh"
for big in m20000 m1e9; do
  spec="$tmp/$big.json"
  [ $big = m20000 ] && wrap="$tmp/lowmem.sh"
  run_case "$big loss --fast" 1 "$spec" "" loss "$spec" --fast -o "$out/l.json"
  run_case "$big loss" 1 "$spec" "" loss "$spec" -o "$out/l.json"
  run_case "$big flow --reduced" 1 "$spec" "" flow "$spec" --reduced --t-end 1 --out "$out/f"
  run_case "$big flow" 1 "$spec" "" flow "$spec" --t-end 1 --out "$out/f"
  run_case "$big sgd" 1 "$spec" "" sgd "$spec" --lr 0.1 --batch 10 --steps 10 --out "$out/f"
  run_case "$big mc" 1 "$spec" "" mc "$spec" --samples 1000 --seed 1 -o "$out/m.json"
  wrap=""
done

# ---------------------------------------------------------------- existing DIR
# Into an existing empty directory: it stays, and stays empty.
for f in V_1e300 d_zero truncated_half; do
  spec="$bad/spec/$f.json"
  for c in flow sgd; do
    case $c in
      flow) set -- flow "$spec" --t-end 1 --out "$out" ;;
      sgd) set -- sgd "$spec" --lr 0.1 --batch 10 --steps 10 --out "$out" ;;
    esac
    run_case "$c $f into an existing directory" 2 "$spec" "" "$@"
    if [ ! -d "$out" ]; then nok "$c $f removed the existing directory"; mkdir "$out"; fi
  done
done

# ---------------------------------------------------------------- names
# A 3000-character path (nested directories) is named whole on one line.
long="$tmp/long"
i=0
while [ ${#long} -lt 3000 ]; do
  long="$long/$(printf 'd%03d' $i)xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
  i=$((i + 1))
done
mkdir -p "$long"
cp "$bad/spec/V_1e300.json" "$long/spec.json"
run_case "3000-char path, loss" 2 "$long/spec.json" "student.V[0]: " loss "$long/spec.json" -o "$out/l.json"
run_case "3000-char path, flow" 2 "$long/spec.json" "student.V[0]: " flow "$long/spec.json" --reduced --t-end 1 --out "$out/f"
cp "$bad/sweep/run_stop_unknown.json" "$long/sweep.json"
run_case "3000-char path, sweep" 2 "$long/sweep.json" "run.stop: " sweep "$long/sweep.json" --jobs 1 --out "$out/s"
cp "$bad/reference/rows_value_nan.json" "$long/ref.json"
run_case "3000-char path, regress" 1 "$long/ref.json" "rows[1].values[0]" regress "$long/ref.json"
run_case "3000-char missing file" 2 "$long/none.json" "" loss "$long/none.json" -o "$out/l.json"
# Control characters in a file name cannot break the line.
nl_name="$tmp/a
b.json"
cp "$bad/spec/d_zero.json" "$nl_name"
run_case "newline in file name" 2 "" "b.json: d: " loss "$nl_name" -o "$out/l.json"
run_case "directory as spec" 2 "$tmp" "" loss "$tmp" -o "$out/l.json"
# Devices: the read stops at the first NUL byte (they read forever before).
for dev in /dev/zero /dev/urandom; do
  [ -r $dev ] || continue
  run_case "$dev as spec" 2 "$dev" "NUL byte at offset" flow $dev --reduced --t-end 1 --out "$out/f"
  run_case "$dev as sweep" 2 "$dev" "NUL byte at offset" sweep $dev --jobs 1 --out "$out/s"
  run_case "$dev as reference" 1 "$dev" "NUL byte at offset" regress $dev
done
run_case "missing spec" 2 "$tmp/none.json" "" flow "$tmp/none.json" --t-end 1 --out "$out/f"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
