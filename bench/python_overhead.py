"""Per-call overhead of the Python module over the C call it makes, for
the paper setting (m* = 5, m = 25, d = 1000) loss and full gradient on the
double path.  'C call' is libmoeverify's mv_loss_eval_vec_d called
through ctypes with everything prepared (what a caller of the library
would pay); 'moeverify.loss' is the whole Python call (argument checks,
the library's input check, the workspace cache, fresh gradient arrays,
the result object).  Best of 40 rounds of 50 calls each, the two
interleaved round by round (the clock of a shared machine drifts by more
than the overhead between separate runs).

    PYTHONPATH=python python3 bench/python_overhead.py [SPEC]"""

import ctypes
import os
import sys
import time

import numpy as np

import moeverify as mv
from moeverify import _lib

spec = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "tests", "data", "example_paper.json")
V, W, Vt, Wt = mv.vectors(spec)
m, d = V.shape
ws = mv._workspace(m, Vt.shape[0], (0.0, 0.0, 0.0, 0.0), 53)
raw = _lib.lib.mv_loss_eval_vec_d
raw.restype = ctypes.c_int
raw.argtypes = [_lib.c_double_p] * 8 + [ctypes.c_size_t, ctypes.c_double, ctypes.c_void_p]
L = ctypes.c_double()
info = ctypes.create_string_buffer(256)   # mv_loss_info (smaller)
gV, gW = np.empty((m, d)), np.empty((m, d))
P = mv._ptr
args = (ctypes.byref(L), P(gV), P(gW), ctypes.cast(info, _lib.c_double_p), P(V), P(W),
        P(Vt), P(Wt), d, 0.0, ws.ptr)


def c_call():
    raw(*args)


def py_call():
    mv.loss(V, W, Vt, Wt)


best = {c_call: float("inf"), py_call: float("inf")}
for _ in range(40):
    for f in (c_call, py_call):
        t = time.perf_counter()
        for _ in range(50):
            f()
        best[f] = min(best[f], (time.perf_counter() - t) / 50)
r = mv.loss(V, W, Vt, Wt)
assert r.loss == L.value and np.array_equal(r.grad_V, gV)
c, p = best[c_call], best[py_call]
print("loss + gradient, m* = %d, m = %d, d = %d (double path)" % (Vt.shape[0], m, d))
print("  C call (mv_loss_eval_vec_d):  %.3f ms" % (c * 1e3))
print("  moeverify.loss:               %.3f ms" % (p * 1e3))
print("  overhead per call:            %.1f us (%.1f %%)" % ((p - c) * 1e6, (p / c - 1) * 100))
