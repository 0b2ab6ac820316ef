"""moeverify: exact closed-form loss, gradients and training dynamics of the
soft-routed mixture-of-experts teacher-student model, from Python.

A thin layer over libmoeverify (ctypes): every number comes from the C
library, computed by the same calls the `moeverify` command makes, so
results equal the CLI's bit for bit.  Arrays go in and come out as numpy
float64 arrays; library errors become MoeverifyError carrying the library's
one-line message.

    import moeverify
    r = moeverify.loss(V, W, Vt, Wt)            # double path, r.loss, r.grad_V
    r = moeverify.loss(V, W, Vt, Wt, prec=256)  # MPFR: r.loss_str has 77 digits
    tr = moeverify.flow("tests/data/example_paper.json", t_end=200)
    tr.t, tr.loss, tr.router[:, i, j], tr.events["recovery_order"]
"""

import ctypes
import json
import os
import threading
from concurrent.futures import TimeoutError

import numpy as np

from . import _lib

__all__ = ["loss", "loss_spec", "vectors", "flow", "sgd", "mc", "coeffs", "sweep",
           "check", "regress", "LossResult", "Trajectory", "MCResult", "Coefficients",
           "MoeverifyError", "InputError", "Interrupted", "PREC_DOUBLE", "PREC_MAX",
           "library_path"]

PREC_DOUBLE = 53
PREC_MAX = 2048
library_path = _lib.path

# mv_* status codes (include/moeverify/error.h)
_STATUS = {1: "invalid argument", 2: "out of memory", 3: "input/output error",
           4: "malformed input", 5: "no convergence", 6: "precision out of range",
           7: "outside the domain"}


class MoeverifyError(Exception):
    """An error from libmoeverify: str(e) is the library's one-line message,
    e.status its MV_* code (0 for errors found before the C call)."""

    def __init__(self, message, status=0):
        super().__init__(message)
        self.status = status


class InputError(MoeverifyError, ValueError):
    """Bad input: an array of the wrong shape or dtype, a non-finite entry,
    a spec or option the library refuses."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run: the run stopped cleanly; .result holds what it
    had recorded (status "interrupted")."""

    def __init__(self, result):
        super().__init__("interrupted")
        self.result = result


def _raise(status):
    msg = (_lib.error_message() or b"").decode("utf-8", "replace")
    if not msg:
        msg = _STATUS.get(status, "error %d" % status)
    cls = InputError if status in (1, 4, 6, 7) else MoeverifyError
    if status == 2:
        raise MemoryError(msg)
    raise cls(msg, status)


def _ok(status):
    if status:
        _raise(status)


def _ptr(a):
    return a.ctypes.data if a is not None else None


# ------------------------------------------------------------ input checks

def _matrix(name, a, cols=None):
    """a as a C-contiguous float64 2-d array (converted when it is another
    real dtype or non-contiguous); InputError for anything else."""
    try:
        arr = np.asarray(a)
    except Exception as e:  # ragged lists and the like
        raise InputError("%s: not an array: %s" % (name, e)) from None
    if arr.dtype.kind not in "fiu":
        raise InputError("%s: expected real numbers, got dtype %s" % (name, arr.dtype))
    if arr.ndim != 2:
        raise InputError("%s: expected a 2-d array (rows x d), got shape %s"
                         % (name, arr.shape))
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError("%s: empty array (shape %s)" % (name, arr.shape))
    if cols is not None and arr.shape[1] != cols:
        raise InputError("%s: expected %d columns (d), got shape %s"
                         % (name, cols, arr.shape))
    # finite entries and the norm rule are the library's to check
    # (mv_problem_check_d, before anything is evaluated): one rule, one
    # message, whichever way the vectors arrive
    return np.ascontiguousarray(arr, dtype=np.float64)


def _prec(prec):
    if isinstance(prec, bool) or not isinstance(prec, (int, np.integer)):
        raise InputError("prec: expected an integer number of bits, got %r" % (prec,))
    if not PREC_DOUBLE <= prec <= PREC_MAX:
        raise InputError("prec = %d: out of range [%d, %d]" % (prec, PREC_DOUBLE, PREC_MAX))
    return int(prec)


def _number(name, x, lo=None):
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise InputError("%s: expected a number, got %r" % (name, x))
    x = float(x)
    if not np.isfinite(x) or (lo is not None and x < lo):
        raise InputError("%s = %r: must be finite%s" % (name, x, "" if lo is None
                                                         else " and >= %g" % lo))
    return x


# ------------------------------------------------------------ problems

class _Problem:
    """An mv_problem (freed with the object)."""

    def __init__(self, spec):
        self.ptr = None
        p = _lib.problem_alloc()
        if not p:
            _raise(2)
        self.ptr = p
        if isinstance(spec, dict):
            text = json.dumps(spec, allow_nan=False)
            _ok(_lib.problem_parse(p, text.encode(), b"<dict>"))
        elif isinstance(spec, (str, bytes, os.PathLike)):
            _ok(_lib.problem_read(p, os.fsencode(spec)))
        else:
            raise InputError("spec: expected a path or a dict, got %s" % type(spec).__name__)
        dims = (ctypes.c_size_t * 3)()
        noise = ctypes.c_double()
        reg = (ctypes.c_double * 4)()
        _lib.problem_shape(dims, ctypes.byref(noise), reg, p)
        self.d, self.m, self.mstar = dims[0], dims[1], dims[2]
        self.noise_var = noise.value
        self.reg = tuple(reg)

    def __del__(self):
        if self.ptr:
            _lib.problem_free(self.ptr)
            self.ptr = None


def vectors(spec):
    """The spec's raw vectors (its explicit arrays, or those its init blocks
    generate): (V, W, Vt, Wt) as float64 arrays (m x d, m x d, m* x d,
    m* x d)."""
    pb = _Problem(spec)
    V = np.empty((pb.m, pb.d))
    W = np.empty((pb.m, pb.d))
    Vt = np.empty((pb.mstar, pb.d))
    Wt = np.empty((pb.mstar, pb.d))
    _ok(_lib.problem_vectors_d(_ptr(V), _ptr(W), _ptr(Vt), _ptr(Wt), pb.ptr))
    return V, W, Vt, Wt


# ------------------------------------------------------------ loss

_NINFO = 9
_tls = threading.local()


class _Workspace:
    def __init__(self, m, mstar, reg, prec):
        self.ptr = None
        r = (ctypes.c_double * 4)(*reg)
        p = _lib.loss_alloc(m, mstar, r, prec)
        if not p:
            _raise(2 if not _lib.error_message() else 1)
        self.ptr = p

    def __del__(self):
        if self.ptr:
            _lib.loss_free(self.ptr)
            self.ptr = None


def _workspace(m, mstar, reg, prec):
    """A loss workspace from this thread's cache (a workspace holds the
    coefficient tables of its precision: built once, reused)."""
    cache = getattr(_tls, "ws", None)
    if cache is None:
        cache = _tls.ws = {}
    key = (m, mstar, tuple(reg), prec)
    ws = cache.pop(key, None)
    if ws is None:
        ws = _Workspace(m, mstar, reg, prec)
    cache[key] = ws  # most recent last
    while len(cache) > 4:
        del cache[next(iter(cache))]
    return ws


class LossResult:
    """The population loss L and its gradient with error bounds.

    loss          L rounded to double
    loss_str      L with exactly the digits its error bound supports (the
                  CLI's "loss"); loss_digits how many
    error_bound   |L - exact| <= error_bound (rounded up; error_bound_str
                  does not underflow at high precision)
    grad_V, grad_W  dL/dV, dL/dW (m x d), rounded to double; None without grad
    grad_error_bound  bound on every component's error; grad_digits_min the
                  fewest digits a component has
    abs_terms, condition, series_terms_max, prec, method
    """

    __slots__ = ("loss", "loss_str", "loss_digits", "error_bound", "error_bound_str",
                 "grad_V", "grad_W", "grad_error_bound", "grad_error_bound_str",
                 "_grad_digits", "abs_terms", "condition", "series_terms_max", "prec",
                 "method")

    def __init__(self, info, text, gV, gW):
        ls, es, ges = text.split("\n")
        self.loss = info[0]
        self.loss_str = ls
        self.loss_digits = int(info[1])
        self.error_bound = info[2]
        self.grad_error_bound = info[3]
        self.abs_terms = info[4]
        self.condition = info[5]
        self.series_terms_max = int(info[6])
        self.prec = int(info[7])
        self._grad_digits = info[8]
        self.error_bound_str = es
        self.grad_error_bound_str = ges
        self.grad_V = gV
        self.grad_W = gW
        self.method = "closed-form-mpfr" if self.prec > PREC_DOUBLE else "closed-form-double"

    @property
    def grad_digits_min(self):
        if self.grad_V is None:
            return None
        if self._grad_digits != self._grad_digits:  # NaN: the double path, on demand
            n = self.grad_V.size
            self._grad_digits = _lib.grad_digits_d(_ptr(self.grad_V), _ptr(self.grad_W), n,
                                                   self.grad_error_bound)
        return int(self._grad_digits)

    def __repr__(self):
        return "LossResult(loss=%s, digits=%d, error_bound=%s, prec=%d)" % (
            self.loss_str, self.loss_digits, self.error_bound_str, self.prec)


def _text_size(prec):
    return 256 + prec // 3


def loss(V, W, Vt, Wt, prec=PREC_DOUBLE, noise_var=0.0, regularizers=None, grad=True):
    """Closed-form population loss and raw gradient of the student (V, W:
    routers and experts, m x d) against the teacher (Vt, Wt: m* x d).

    prec = 53 is the double path; prec > 53 evaluates in MPFR at that
    precision (2048 at most), with the arrays taken exactly as doubles.
    regularizers: None or a dict with the keys of the spec's
    "regularizers" (aux, ortho, ortho_gated, var)."""
    prec = _prec(prec)
    V = _matrix("V", V)
    d = V.shape[1]
    W = _matrix("W", W, d)
    Vt = _matrix("Vt", Vt, d)
    Wt = _matrix("Wt", Wt, d)
    if W.shape[0] != V.shape[0]:
        raise InputError("W: expected %d rows (as V), got %d" % (V.shape[0], W.shape[0]))
    if Wt.shape[0] != Vt.shape[0]:
        raise InputError("Wt: expected %d rows (as Vt), got %d" % (Vt.shape[0], Wt.shape[0]))
    noise_var = _number("noise_var", noise_var, 0.0)
    reg = _regularizers(regularizers)
    m, mstar = V.shape[0], Vt.shape[0]
    ws = _workspace(m, mstar, reg, prec)
    info = (ctypes.c_double * _NINFO)()
    size = _text_size(prec)
    text = ctypes.create_string_buffer(size)
    gV = np.empty((m, d)) if grad else None
    gW = np.empty((m, d)) if grad else None
    _ok(_lib.loss_vec(info, text, size, _ptr(gV), _ptr(gW), _ptr(V), _ptr(W), _ptr(Vt),
                      _ptr(Wt), d, noise_var, ws.ptr, prec))
    return LossResult(info, text.value.decode(), gV, gW)


_REG_KEYS = ("aux", "ortho", "ortho_gated", "var")


def _regularizers(r):
    if r is None:
        return (0.0, 0.0, 0.0, 0.0)
    if not isinstance(r, dict):
        raise InputError("regularizers: expected a dict with keys %s" % ", ".join(_REG_KEYS))
    for k in r:
        if k not in _REG_KEYS:
            raise InputError("regularizers.%s: unknown key (%s)" % (k, ", ".join(_REG_KEYS)))
    return tuple(_number("regularizers." + k, r.get(k, 0.0), 0.0) for k in _REG_KEYS)


def loss_spec(spec, prec=PREC_DOUBLE, grad=True):
    """The loss of a spec (a JSON file's path or a dict in the spec format,
    init blocks included, with its noise and regularizers), exactly as
    `moeverify loss SPEC --prec PREC` computes it (the CLI's default is 128
    bits; here 53, the double path)."""
    prec = _prec(prec)
    pb = _Problem(spec)
    ws = _workspace(pb.m, pb.mstar, pb.reg, prec)
    info = (ctypes.c_double * _NINFO)()
    size = _text_size(prec)
    text = ctypes.create_string_buffer(size)
    gV = np.empty((pb.m, pb.d)) if grad else None
    gW = np.empty((pb.m, pb.d)) if grad else None
    _ok(_lib.loss(info, text, size, _ptr(gV), _ptr(gW), pb.ptr, ws.ptr, prec))
    return LossResult(info, text.value.decode(), gV, gW)


# ------------------------------------------------------------ runs

def _interruptible(call):
    """Run call(flag) in a worker thread (ctypes releases the GIL) so that
    Ctrl-C in the main thread sets the library's interrupt flag: the run
    stops cleanly instead of being killed.  Returns (call's value, whether
    it was interrupted); the library's error message is read in the worker,
    where it was set (it is thread-local)."""
    flag = ctypes.c_int(0)
    out = {}
    done = threading.Event()

    def work():
        try:
            out["value"] = call(ctypes.byref(flag))
        except BaseException as e:  # re-raised in the caller's thread
            out["error"] = e
        finally:
            done.set()

    if threading.current_thread() is not threading.main_thread():
        work()
    else:
        # an Event, not Thread.join: a KeyboardInterrupt inside join can
        # leave the thread looking finished while it still runs
        threading.Thread(target=work, name="moeverify-run", daemon=True).start()
        while not done.is_set():
            try:
                done.wait(0.1)
            except KeyboardInterrupt:
                flag.value = 1
    if "error" in out:
        raise out["error"]
    return out["value"], flag.value != 0


_STATUS_NAMES = ("running", "complete", "interrupted", "failed")


class Trajectory:
    """A flow or SGD run, in memory.  Arrays (numpy, float64):

    t, loss, grad_norm2, energy   per output row (energy: int_0^t |grad L|^2;
                                  NaN for SGD)
    router, expert                alignments, shape (rows, m, m*)
    gram                          Gram matrices of the unit vectors
                                  [v, w, v*, w*], shape (rows, n, n)
    final_V, final_W              the final raw state (full flow, SGD; None
                                  for the reduced flow)
    events                        events.json as a dict (crossings, recovery,
                                  recovery_order)
    run                           run.json as a dict (method, stepper,
                                  counters, status, message, final row)
    status, message               "complete", "interrupted" or "failed"
    """

    def __init__(self, ptr, spec_json):
        self._ptr = ptr
        self._spec_json = spec_json
        dims = (ctypes.c_size_t * 6)()
        _lib.traj_shape(dims, ptr)
        self.rows, self.m, self.mstar, self.n, self.d = (int(x) for x in dims[:5])
        self.status = _STATUS_NAMES[dims[5]] if dims[5] < 4 else str(dims[5])
        cols = [np.empty(self.rows) for _ in range(4)]
        _lib.traj_columns(*[_ptr(c) for c in cols], ptr)
        self.t, self.loss, self.grad_norm2, self.energy = cols
        self.router = self._align(0)
        self.expert = self._align(1)
        self.gram = np.empty((self.rows, self.n, self.n))
        _lib.traj_gram(_ptr(self.gram), ptr)
        self.final_V = self.final_W = None
        if self.d:
            st = np.empty((2, self.m, self.d))
            if _lib.traj_final_state(_ptr(st), ptr):
                self.final_V, self.final_W = st[0], st[1]
        self.events = json.loads(_lib.take_string(_lib.traj_events_json(ptr)) or "null")
        self.run = json.loads(_lib.take_string(_lib.traj_run_json(ptr, spec_json))
                              or "null")
        if self.events is None or self.run is None:
            _raise(2)
        self.message = self.run.get("message", "")
        self.method = self.run.get("method")

    def _align(self, kind):
        a = np.empty((self.rows, self.m, self.mstar))
        _lib.traj_align(_ptr(a), self._ptr, kind)
        return a

    def __del__(self):
        if getattr(self, "_ptr", None):
            _lib.traj_free(self._ptr)
            self._ptr = None

    @property
    def final_state(self):
        """The state the run ended in: (final_V, final_W) for the full flow
        and SGD, the last Gram matrix for the reduced flow (its state)."""
        if self.final_V is not None:
            return self.final_V, self.final_W
        return self.gram[-1] if self.rows else None

    @property
    def recovery_order(self):
        return list(self.events["recovery_order"])

    def __repr__(self):
        return "Trajectory(method=%s, rows=%d, t_end=%g, status=%s)" % (
            self.method, self.rows, self.t[-1] if self.rows else 0.0, self.status)


def _spec_json(pb):
    return _lib.take_string(_lib.problem_to_json(pb.ptr))


def _progress(progress):
    """None: a progress bar when stderr is a terminal (as the CLI)."""
    if progress is None:
        try:
            return os.isatty(2)
        except OSError:
            return False
    return bool(progress)


def _run(spec, run, progress):
    pb = _Problem(spec)
    try:
        text = json.dumps(run, allow_nan=False).encode()
    except (TypeError, ValueError) as e:   # NaN, objects JSON has no form for
        raise InputError("%s: run options: %s" % (run.get("method"), e)) from None
    tr = _lib.traj_alloc()
    if not tr:
        _raise(2)

    def call(flag):
        st = _lib.run(tr, pb.ptr, text, flag, int(progress))
        if st:
            try:
                _raise(st)
            finally:
                _lib.traj_free(tr)
        return st

    _, stopped = _interruptible(call)
    result = Trajectory(tr, (_spec_json(pb) or "null").encode())
    if stopped:   # Ctrl-C is never swallowed, even when the run had just ended
        raise Interrupted(result)
    return result


def _options(**kw):
    """The given options as a run object (None: the CLI's default)."""
    out = {}
    for k, v in kw.items():
        if v is None:
            continue
        if isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, (np.integer, np.floating)):
            v = v.item()
        out[k] = v
    return out


def flow(spec, t_end, reduced=True, times=None, rtol=None, atol=None, stepper=None,
         n_out=None, max_steps=None, prec=None, gram0=None, stop=None, progress=None):
    """The gradient flow of the spec's initial point to t_end, as `moeverify
    flow SPEC --t-end T [--reduced]` integrates it (same defaults: rk8pd,
    rtol 1e-9, atol 1e-12, 200 + 200 output times); returns a Trajectory.

    reduced=True is the dimension-free Gram flow (G(0) from the spec's
    vectors when they can be formed, else sampled: gram0 "auto"; "sample"
    or "vectors" to choose); reduced=False the flow of the raw parameters
    (prec > 53: its right-hand side in MPFR).  times: explicit output times
    (increasing, in (0, t_end]); stop: a stopping rule ("escaped",
    "recovered", "first_recovery").  progress: a progress bar on stderr
    (default: when stderr is a terminal).  Ctrl-C stops the run cleanly and
    raises Interrupted with the partial trajectory."""
    run = {"method": "reduced" if reduced else "full", "t_end": t_end}
    if reduced and gram0 is None:
        gram0 = "auto"   # `moeverify flow --reduced` (a sweep's default differs)
    run.update(_options(times=times, rtol=rtol, atol=atol, stepper=stepper, n_out=n_out,
                        max_steps=max_steps, prec=prec, gram0=gram0, stop=stop))
    return _run(spec, run, _progress(progress))


def sgd(spec, lr, batch, steps, seed=None, times=None, n_out=None, stop=None,
        progress=None):
    """Online mini-batch SGD from the spec's vectors, as `moeverify sgd`
    runs it (fresh Gaussian batches from seed; flow time t = lr * step)."""
    run = {"method": "sgd", "lr": lr, "batch": batch, "steps": steps}
    run.update(_options(seed=seed, times=times, n_out=n_out, stop=stop))
    return _run(spec, run, _progress(progress))


# ------------------------------------------------------------ Monte Carlo

class MCResult:
    """Monte-Carlo estimates with standard errors (batch means): loss,
    loss_se, grad_V, grad_W, grad_V_se, grad_W_se (None without grad),
    samples, batches, rank (dimension of the sampled span)."""

    def __init__(self, out, g):
        self.loss, self.loss_se = out[0], out[1]
        self.samples, self.batches, self.rank = int(out[2]), int(out[3]), int(out[4])
        self.grad_V, self.grad_W, self.grad_V_se, self.grad_W_se = g

    def __repr__(self):
        return "MCResult(loss=%.10g, loss_se=%.3g, samples=%d)" % (
            self.loss, self.loss_se, self.samples)


def mc(spec, samples, seed=0, batches=None, grad=True):
    """Monte-Carlo estimate of the spec's loss and gradient, independent of
    the closed form (`moeverify mc SPEC --samples N --seed S`)."""
    pb = _Problem(spec)
    for name, v in (("samples", samples), ("seed", seed)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise InputError("%s: expected a non-negative integer, got %r" % (name, v))
    if batches is not None and (not isinstance(batches, (int, np.integer)) or batches < 1):
        raise InputError("batches: expected a positive integer, got %r" % (batches,))
    g = tuple(np.empty((pb.m, pb.d)) for _ in range(4)) if grad else (None,) * 4
    out = (ctypes.c_double * 5)()
    _ok(_lib.mc(out, *[_ptr(a) for a in g], pb.ptr, int(samples), int(batches or 0),
                int(seed)))
    return MCResult(out, g)


# ------------------------------------------------------------ coefficients

class Coefficients:
    """Sigmoid Hermite coefficients c_k = E[pi(z) He_k(z)], k = 0..k_max:
    c (float64), c_str (exactly the certified digits), digits, relerr_str
    (relative error bound)."""

    def __init__(self, c, digits, text, prec):
        lines = text.rstrip("\n").split("\n")
        self.k = np.arange(len(c))
        self.c = c
        self.digits = digits
        self.c_str = [ln.split("\t")[0] for ln in lines]
        self.relerr_str = [ln.split("\t")[1] for ln in lines]
        self.prec = prec

    def __len__(self):
        return len(self.c)

    def __repr__(self):
        return "Coefficients(k_max=%d, prec=%d)" % (len(self.c) - 1, self.prec)


def coeffs(k_max=21, prec=128):
    """c_0..c_k_max by the Fourier method at prec bits (`moeverify coeffs
    --kmax K --prec BITS --all`)."""
    prec = _prec(prec)
    if isinstance(k_max, bool) or not isinstance(k_max, (int, np.integer)) \
            or not 0 <= k_max <= 100000:
        raise InputError("k_max: expected an integer in [0, 100000], got %r" % (k_max,))
    c = np.empty(k_max + 1)
    digits = np.empty(k_max + 1, dtype=np.int_)
    assert digits.itemsize == ctypes.sizeof(ctypes.c_long)
    text = ctypes.c_void_p()
    _ok(_lib.coeffs(_ptr(c), digits.ctypes.data_as(_lib.c_long_p), ctypes.byref(text),
                    int(k_max), prec))
    return Coefficients(c, digits, _lib.take_string(text), prec)


# ------------------------------------------------------------ sweeps, checks

def sweep(sweep_spec, tasks=None, jobs=1):
    """Run a sweep (a sweep file's path or a dict in that format) in this
    process and return its rows as dicts in task order (the lines of
    results.jsonl).  tasks: an iterable of task indices (default all);
    jobs: tasks run at once, on threads (the library runs them without the
    GIL; each task's result does not depend on which thread ran it).  For
    machines use `moeverify sweep` under mpirun.  Ctrl-C stops the running
    tasks and raises Interrupted with the rows finished so far."""
    if isinstance(sweep_spec, dict):
        text, name = json.dumps(sweep_spec, allow_nan=False), "<dict>"
    elif isinstance(sweep_spec, (str, bytes, os.PathLike)):
        text, name = _read_text(sweep_spec)
    else:
        raise InputError("sweep: expected a path or a dict, got %s"
                         % type(sweep_spec).__name__)
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise InputError("jobs: expected a positive integer, got %r" % (jobs,))
    sw = ctypes.c_void_p()
    _ok(_lib.sweep_parse(ctypes.byref(sw), text.encode(), name.encode()))
    try:
        n = _lib.sweep_ntasks(sw)
        todo = list(range(n) if tasks is None else tasks)
        for t in todo:
            if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t < n:
                raise InputError("tasks: %r out of range (%d tasks)" % (t, n))
        return _sweep_run(sw, [int(t) for t in todo], int(jobs))
    finally:
        _lib.sweep_free(sw)


def _sweep_run(sw, todo, jobs):
    """The tasks on jobs threads, one interrupt flag for all of them."""
    from concurrent.futures import ThreadPoolExecutor

    flag = ctypes.c_int(0)
    _lib.sweep_set_interrupt(sw, ctypes.byref(flag))

    def task(t):
        out = ctypes.c_void_p()
        _ok(_lib.sweep_task(ctypes.byref(out), sw, t))   # message read in this thread
        return json.loads(_lib.take_string(out.value))

    rows = [None] * len(todo)
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="moeverify-sweep") as pool:
        futures = [pool.submit(task, t) for t in todo]
        try:
            for k, f in enumerate(futures):
                while True:
                    try:
                        rows[k] = f.result(timeout=0.1)
                        break
                    except TimeoutError:
                        continue
        except KeyboardInterrupt:
            flag.value = 1
            for f in futures:
                f.cancel()
            pool.shutdown(wait=True)
            done = [f.result() for f in futures if f.done() and not f.cancelled()
                    and f.exception() is None]
            raise Interrupted([r for r in done if r.get("status") == "complete"]) from None
    return rows


def _read_text(path):
    name = os.fsdecode(path)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(), name
    except OSError as e:
        raise MoeverifyError("%s: cannot read: %s" % (name, e.strerror), 3) from None
    except UnicodeDecodeError:
        raise InputError("%s: not UTF-8 text" % name, 4) from None


def regress(reference, rtol=None, atol=None):
    """Check a reference trajectory file (data/reference/*.json, format
    moeverify-reference-1) as `moeverify regress FILE` does: recompute it
    with its fast path and compare the loss, |grad L|^2 and every Gram
    entry within the stored tolerances.  rtol, atol: run the fast path at
    these instead (what a tolerance achieves).  Returns a dict: passed,
    values, violations, worst (the largest deviations: row, column, t, ref,
    got, dev, tol, ok), worst_by_group (loss, grad_norm2, gram),
    wall_seconds.  A file that cannot be read or is damaged (checksum,
    keys) raises MoeverifyError with the library's message."""
    if not isinstance(reference, (str, bytes, os.PathLike)):
        raise InputError("reference: expected a path, got %s" % type(reference).__name__)
    if (rtol is None) != (atol is None):
        raise InputError("rtol and atol: give both or neither")
    if rtol is not None:
        rtol, atol = _number("rtol", rtol, 0.0), _number("atol", atol, 0.0)
        if not rtol > 0:
            raise InputError("rtol = %r: must be > 0" % rtol)
    text, name = _read_text(reference)
    out = ctypes.c_void_p()
    _ok(_lib.regress(ctypes.byref(out), text.encode(), name.encode(), rtol or 0.0,
                     atol or 0.0))
    return json.loads(_lib.take_string(out.value))


_LEVELS = {"quick": 0, "default": 1, "full": 2}


def check(claims=None, level="quick", seeds=0, out=None):
    """Check the paper's claims (`moeverify check`), in this process, one
    claim after another; report.md and report.json are written to out
    (default: a temporary directory, removed).  Returns report.json as a
    dict."""
    if level not in _LEVELS:
        raise InputError("level: expected one of %s, got %r" % (", ".join(_LEVELS), level))
    if isinstance(claims, str):
        claims = [claims]
    names = ",".join(claims) if claims else ""
    import tempfile
    tmp = None
    if out is None:
        tmp = tempfile.TemporaryDirectory(prefix="moeverify-check-")
        out = tmp.name
    else:
        os.makedirs(out, exist_ok=True)
    try:
        worst = ctypes.c_int()

        _ok(_lib.check(ctypes.byref(worst), names.encode(), _LEVELS[level], int(seeds),
                       os.fsencode(out)))
        with open(os.path.join(out, "report.json"), encoding="utf-8") as f:
            return json.load(f)
    finally:
        if tmp is not None:
            tmp.cleanup()
