#!/bin/sh
# make fuzz: build the libFuzzer harnesses of tests/fuzz/ with clang
# (-fsanitize=fuzzer,address,undefined) against the library's sources (and
# the CLI's, for fuzz_cli), then run each for FUZZ_SECONDS (default 60).
#   fuzz.sh SRCDIR BUILDDIR "DEP_CFLAGS" "DEP_LIBS" LIBSRC... -- CLISRC...
# Environment: CLANG (default clang), FUZZ_SECONDS, FUZZ_HARNESSES (default
# "spec sweep reference cli"), FUZZ_JOBS (parallel compiles, default 2).
# The working corpus grows in BUILDDIR/corpus/H (seeded from
# tests/fuzz/corpus/H); crashes are written to BUILDDIR/artifacts/H/: copy
# them to tests/fuzz/regress/H/ once fixed (test_fuzz_regress runs those).
set -eu
S=$1 B=$2 DEPC=$3 DEPL=$4
shift 4
libsrc="" clisrc="" side=lib
for f in "$@"; do
  if [ "$f" = "--" ]; then side=cli; continue; fi
  case $f in *.c) ;; *) continue ;; esac
  if [ $side = lib ]; then libsrc="$libsrc $f"; else clisrc="$clisrc $f"; fi
done
CLANG=${CLANG:-clang}
SECS=${FUZZ_SECONDS:-60}
HARNESSES=${FUZZ_HARNESSES:-spec sweep reference cli}
JOBS=${FUZZ_JOBS:-2}
command -v "$CLANG" >/dev/null 2>&1 || { echo "make fuzz: $CLANG not found (set CLANG)"; exit 1; }
mkdir -p "$B/obj/src" "$B/obj/cli"
# no MPI, no OpenMP in the harnesses: an empty config.h
: > "$B/obj/config.h"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFL="-std=c11 -g -O1 -fno-omit-frame-pointer $SAN -fsanitize=fuzzer-no-link -Wno-unknown-pragmas -D_DEFAULT_SOURCE -I$B/obj -I$S/include -I$S/src $DEPC"

# newest header: an object older than it (or than its source) is rebuilt
hdr=$(ls -t "$S"/include/moeverify/*.h "$S"/src/*/*.h "$S"/src/*/*/*.h 2>/dev/null | head -n 1)
compile () { # SRC OBJ [extra flags]
  src=$1 obj=$2; shift 2
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$hdr" -nt "$obj" ]; then
    echo "  FUZZCC   $src"
    $CLANG $CFL "$@" -c "$src" -o "$obj"
  fi
}
export CLANG CFL hdr
list=""
for f in $libsrc; do
  list="$list $S/$f $B/obj/src/$(echo "$f" | tr / _ | sed 's/\.c$/.o/')"
done
# shellcheck disable=SC2086
printf '%s %s\n' $list | xargs -P "$JOBS" -n 2 sh -c '
  src=$0 obj=$1
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$hdr" -nt "$obj" ]; then
    echo "  FUZZCC   $src"; $CLANG $CFL -c "$src" -o "$obj" || exit 255
  fi'
libobj=$(for f in $libsrc; do printf '%s ' "$B/obj/src/$(echo "$f" | tr / _ | sed 's/\.c$/.o/')"; done)
cliobj=""
for f in $clisrc; do
  o="$B/obj/cli/$(echo "$f" | tr / _ | sed 's/\.c$/.o/')"
  case $f in */main.c) compile "$S/$f" "$o" -Dmain=mv_cli_fuzz_main ;; *) compile "$S/$f" "$o" ;; esac
  cliobj="$cliobj $o"
done

for h in $HARNESSES; do
  exe="$B/fuzz_$h"
  objs=$libobj
  [ "$h" = cli ] && objs="$objs $cliobj"
  compile "$S/tests/fuzz/fuzz_$h.c" "$B/obj/fuzz_$h.o"
  # relink only when an object is newer than the harness
  # shellcheck disable=SC2086
  if [ ! -x "$exe" ] || [ -n "$(find "$B/obj" -name '*.o' -newer "$exe" | head -n 1)" ]; then
    echo "  FUZZLD   $exe"
    $CLANG -fsanitize=fuzzer $SAN "$B/obj/fuzz_$h.o" $objs $DEPL -lm -o "$exe"
  fi
done
[ "$SECS" -gt 0 ] || exit 0

work=$(mktemp -d "${TMPDIR:-/tmp}/mv_fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
status=0
for h in $HARNESSES; do
  mkdir -p "$B/corpus/$h" "$B/artifacts/$h"
  B_abs=$(cd "$B" && pwd) S_abs=$(cd "$S" && pwd)
  dict=""
  [ -f "$S_abs/tests/fuzz/$h.dict" ] && dict="-dict=$S_abs/tests/fuzz/$h.dict"
  echo "fuzz_$h: $SECS s (corpus $B/corpus/$h, crashes in $B/artifacts/$h/)"
  # cwd: a scratch directory, so that nothing a command might create lands
  # in the tree; output of the commands silenced (-close_fd_mask=3)
  mkdir -p "$work/$h"
  (cd "$work/$h" && "$B_abs/fuzz_$h" -max_total_time="$SECS" -timeout=20 \
     -rss_limit_mb=2560 -max_len=8192 -close_fd_mask=3 -print_final_stats=1 $dict \
     -artifact_prefix="$B_abs/artifacts/$h/" \
     "$B_abs/corpus/$h" "$S_abs/tests/fuzz/corpus/$h") >"$B/fuzz_$h.log" 2>&1 \
    || { status=1; echo "fuzz_$h: FAILED, see $B/fuzz_$h.log"; }
  grep -E '^(stat::number_of_executed_units|stat::new_units_added)' "$B/fuzz_$h.log" \
    | sed "s/^/  fuzz_$h: /" || true
done
exit $status
