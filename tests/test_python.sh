#!/bin/sh
# The Python module's pytest suites (python/tests) against the library and
# CLI just built: values equal to the CLI's, the gradient against an
# independent numpy Monte Carlo, flows against trajectory.csv, errors,
# leaks.  Skipped (77) without a Python that has numpy and pytest, and in
# sanitizer builds (an ASan library cannot be loaded into Python).
set -u

top=${MV_TOP_SRCDIR:-.}
build=${MV_BUILDDIR:-.}
py=${MV_PYTHON:-python3}
if [ "${MV_SANITIZE:-0}" = 1 ]; then
  echo "skip: sanitizer build (libasan must come first in an executable)"
  exit 77
fi
if ! "$py" -c "import numpy, pytest" >/dev/null 2>&1; then
  echo "skip: $py has no numpy and pytest (Debian: python3-numpy python3-pytest)"
  exit 77
fi
[ -x "$build/src/moeverify" ] || { echo "test_python.sh: $build/src/moeverify not built"; exit 99; }
# an in-tree build needs nothing else: the module finds src/.libs itself
top_abs=$(cd "$top" && pwd)
if [ ! -d "$top_abs/src/.libs" ]; then
  MOEVERIFY_LIBRARY=$(ls "$build"/src/.libs/libmoeverify.so 2>/dev/null)
  export MOEVERIFY_LIBRARY
fi
PYTHONPATH="$top_abs/python" MV_CLI="$build/src/moeverify" MV_DATA="$top_abs/tests/data"
export PYTHONPATH MV_CLI MV_DATA
exec "$py" -m pytest -q -p no:cacheprovider "$top_abs/python/tests"
