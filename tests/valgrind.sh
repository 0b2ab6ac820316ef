#!/bin/sh
# make valgrind: memcheck on the main commands with small inputs (issue 11).
# Every run must exit with its normal status and valgrind must report no
# error (invalid reads/writes, uninitialised values, definite leaks):
#   valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
# src/moeverify links the library's objects directly (no libtool wrapper),
# so valgrind runs the real executable.  Use a build without
# --enable-sanitizers (valgrind and ASan do not mix).  Prints "N passed,
# M failed" and each command's time; exit 1 on any failure, 77 (skip)
# without valgrind.
set -u

top=${MV_TOP_SRCDIR:-$(dirname "$0")/..}
build=${MV_BUILDDIR:-.}
exe="$build/src/moeverify"
data="$top/tests/data"
if ! command -v valgrind >/dev/null 2>&1; then
  echo "SKIP: valgrind not installed"
  exit 77
fi
if [ ! -x "$exe" ]; then
  echo "valgrind.sh: $exe not built"
  exit 99
fi
if [ "${MV_SANITIZE:-}" = 1 ] || nm "$exe" 2>/dev/null | grep -q __asan_init; then
  echo "SKIP: $exe is built with sanitizers (valgrind cannot run ASan binaries)"
  exit 77
fi
# absolute: the commands run in a scratch directory
top=$(cd "$top" && pwd) build=$(cd "$build" && pwd)
exe="$build/src/moeverify" data="$top/tests/data"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mv_vg.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
CI=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export CI OMP_NUM_THREADS

pass=0
fail=0
# vg NAME WANT_STATUS ARGS...: run $exe ARGS under memcheck in $tmp
vg () {
  name=$1 want=$2
  shift 2
  t0=$(date +%s)
  rm -rf "$tmp/vg" && mkdir "$tmp/vg"
  # worker processes (sweep, check's scans) are checked too: one log each
  (cd "$tmp" && valgrind -q --trace-children=yes --error-exitcode=99 --leak-check=full \
     --errors-for-leak-kinds=definite --log-file="$tmp/vg/%p.log" "$exe" "$@") \
    >"$tmp/stdout" 2>"$tmp/stderr"
  st=$?
  dt=$(($(date +%s) - t0))
  cat "$tmp"/vg/*.log >"$tmp/vg.log" 2>/dev/null
  if [ "$st" -eq "$want" ] && [ ! -s "$tmp/vg.log" ]; then
    pass=$((pass + 1)); echo "ok - $name (${dt} s)"
  else
    fail=$((fail + 1)); echo "FAIL - $name: status $st (want $want), ${dt} s"
    sed 's/^/    valgrind: /' "$tmp/vg.log" | head -60
    sed 's/^/    stderr: /' "$tmp/stderr" | head -5
  fi
}

small="$data/example_small.json"
spec="$tmp/tiny.json"
cat >"$spec" <<'JSON'
{"d": 6, "teacher": {"m": 2, "init": {"kind": "orthonormal", "seed": 3}},
 "student": {"m": 3, "init": {"kind": "gaussian", "seed": 4}},
 "noise_var": 0.01, "regularizers": {"ortho": 0.1, "var": 0.2}}
JSON
cat >"$tmp/sweep.json" <<'JSON'
{"base": {"d": 6, "teacher": {"m": 1, "init": {"kind": "orthonormal", "seed": 1}},
          "student": {"m": 2, "init": {"kind": "gaussian", "seed": 1}}},
 "grid": {"student.init.seed": [1, 2]},
 "run": {"method": "reduced", "t_end": 1, "n_out": 4}}
JSON
ref="$top/data/reference/small-escape.json"

vg "loss (double)" 0 loss "$small" --fast
vg "loss --prec 128" 0 loss "$spec" --prec 128
vg "loss bad spec" 2 loss "$data/bad_length.json" --fast
vg "flow (full)" 0 flow "$spec" --t-end 0.5 --n-out 4 --out flow-full
vg "flow --reduced" 0 flow "$spec" --reduced --t-end 0.5 --n-out 4 --out flow-red
vg "sgd" 0 sgd "$spec" --lr 0.05 --batch 4 --steps 20 --n-out 4 --out sgd
vg "mc" 0 mc "$spec" --samples 2000 --batches 4 --seed 1
vg "sweep --jobs 1" 0 sweep "$tmp/sweep.json" --jobs 1 --out sweep
vg "specialize (point)" 0 specialize "$spec"
vg "specialize --t-end" 0 specialize "$spec" --t-end 0.5 --out spec-flow
vg "regress $(basename "$ref")" 0 regress "$ref"
vg "check identities --quick" 0 check identities --quick --jobs 1 --report check
vg "coeffs" 0 coeffs
# the flat entry points under the Python module (ffi.h): their Check suite,
# unforked, through the real binary libtool keeps in tests/.libs
if [ -x "$build/tests/.libs/test_ffi" ]; then
  exe="$build/tests/.libs/test_ffi"
  LD_LIBRARY_PATH="$build/src/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" CK_FORK=no
  MV_TOP_SRCDIR="$top"
  export LD_LIBRARY_PATH CK_FORK MV_TOP_SRCDIR
  vg "tests/test_ffi (ffi.h)" 0
  exe="$build/src/moeverify"
else
  echo "skip - tests/test_ffi not built (make check builds it)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
