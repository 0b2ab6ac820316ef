"""Loading libmoeverify and declaring the C calls (ctypes, ABI mode: no
compiler needed).  Only scalars, strings, double arrays and opaque pointers
cross the boundary (include/moeverify/ffi.h)."""

import ctypes
import glob
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    env = os.environ.get("MOEVERIFY_LIBRARY")
    if env:
        yield env
        return
    # the build tree: python/moeverify/ next to src/.libs/ (PYTHONPATH=python)
    for path in sorted(glob.glob(os.path.join(_HERE, "..", "..", "src", ".libs",
                                              "libmoeverify.so*"))):
        yield path
    try:  # written by `make install` (python/moeverify/_config.py)
        from . import _config
        for path in sorted(glob.glob(os.path.join(_config.LIBDIR, "libmoeverify.so*"))):
            yield path
    except ImportError:
        pass
    import ctypes.util
    found = ctypes.util.find_library("moeverify")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("moeverify: libmoeverify not found; build it (make) or set "
                      "MOEVERIFY_LIBRARY; tried: %s" % ("; ".join(tried) or "nothing"))


lib, path = _load()

# double arrays go as plain addresses (numpy's a.ctypes.data): converting
# with data_as costs microseconds per argument, a measurable share of a
# millisecond call
c_double_p = ctypes.c_void_p
c_size_p = ctypes.POINTER(ctypes.c_size_t)
c_long_p = ctypes.POINTER(ctypes.c_long)
c_int_p = ctypes.POINTER(ctypes.c_int)
vp = ctypes.c_void_p
sz = ctypes.c_size_t
dbl = ctypes.c_double
cstr = ctypes.c_char_p


def _decl(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


error_message = _decl("mv_error_message", cstr)
error_clear = _decl("mv_error_clear", None)
init = _decl("mv_init", None)
problem_alloc = _decl("mv_ffi_problem_alloc", vp)
problem_free = _decl("mv_ffi_problem_free", None, vp)
problem_read = _decl("mv_problem_read", ctypes.c_int, vp, cstr)
problem_parse = _decl("mv_problem_parse", ctypes.c_int, vp, cstr, cstr)
problem_shape = _decl("mv_ffi_problem_shape", None, c_size_p, c_double_p, c_double_p, vp)
problem_vectors_d = _decl("mv_problem_vectors_d", ctypes.c_int, c_double_p, c_double_p,
                          c_double_p, c_double_p, vp)
problem_to_json = _decl("mv_problem_to_json", vp, vp)
loss_alloc = _decl("mv_ffi_loss_alloc", vp, sz, sz, c_double_p, ctypes.c_long)
loss_free = _decl("mv_loss_free", None, vp)
loss = _decl("mv_ffi_loss", ctypes.c_int, c_double_p, ctypes.c_char_p, sz, c_double_p,
             c_double_p, vp, vp, ctypes.c_long)
loss_vec = _decl("mv_ffi_loss_vec", ctypes.c_int, c_double_p, ctypes.c_char_p, sz,
                 c_double_p, c_double_p, c_double_p, c_double_p, c_double_p, c_double_p,
                 sz, dbl, vp, ctypes.c_long)
grad_digits_d = _decl("mv_ffi_grad_digits_d", ctypes.c_int, c_double_p, c_double_p, sz, dbl)
traj_alloc = _decl("mv_ffi_traj_alloc", vp)
traj_free = _decl("mv_ffi_traj_free", None, vp)
traj_shape = _decl("mv_ffi_traj_shape", None, c_size_p, vp)
traj_columns = _decl("mv_ffi_traj_columns", None, c_double_p, c_double_p, c_double_p,
                     c_double_p, vp)
traj_align = _decl("mv_ffi_traj_align", None, c_double_p, vp, ctypes.c_int)
traj_gram = _decl("mv_ffi_traj_gram", None, c_double_p, vp)
traj_final_state = _decl("mv_ffi_traj_final_state", ctypes.c_int, c_double_p, vp)
traj_run_json = _decl("mv_traj_run_json", vp, vp, cstr)
traj_events_json = _decl("mv_traj_events_json", vp, vp)
run = _decl("mv_ffi_run", ctypes.c_int, vp, vp, cstr, c_int_p, ctypes.c_int)
mc = _decl("mv_ffi_mc", ctypes.c_int, c_double_p, c_double_p, c_double_p, c_double_p,
           c_double_p, vp, sz, sz, ctypes.c_ulong)
coeffs = _decl("mv_ffi_coeffs", ctypes.c_int, c_double_p, c_long_p, ctypes.POINTER(vp),
               ctypes.c_uint, ctypes.c_long)
sweep_parse = _decl("mv_sweep_parse", ctypes.c_int, ctypes.POINTER(vp), cstr, cstr)
sweep_free = _decl("mv_sweep_free", None, vp)
sweep_ntasks = _decl("mv_sweep_ntasks", sz, vp)
sweep_set_interrupt = _decl("mv_sweep_set_interrupt", None, vp, c_int_p)
sweep_task = _decl("mv_ffi_sweep_task", ctypes.c_int, ctypes.POINTER(vp), vp, sz)
regress = _decl("mv_ffi_regress", ctypes.c_int, ctypes.POINTER(vp), cstr, cstr, dbl, dbl)
check = _decl("mv_ffi_check", ctypes.c_int, c_int_p, cstr, ctypes.c_int, ctypes.c_uint, cstr)
ffi_free = _decl("mv_ffi_free", None, vp)

init()


def take_string(ptr):
    """A malloc'd C string as str, freed."""
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        ffi_free(ptr)
