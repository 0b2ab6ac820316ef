"""Bad input: arrays are converted (other real dtypes, non-contiguous) or
rejected before any evaluation with an InputError (a ValueError) naming the
argument; library errors carry the library's one-line message."""

import json
import os
import signal
import threading

import numpy as np
import pytest

import moeverify as mv


@pytest.fixture
def arrays(data):
    return mv.vectors(data("example_paper.json"))


def test_converted_dtypes_and_layouts_give_equal_results(arrays):
    V, W, Vt, Wt = arrays
    ref = mv.loss(V, W, Vt, Wt)
    # Fortran order and a strided view are copied to C order
    r = mv.loss(np.asfortranarray(V), W, Vt, Wt)
    assert r.loss == ref.loss and np.array_equal(r.grad_V, ref.grad_V)
    big = np.zeros((V.shape[0], 2 * V.shape[1]))
    big[:, ::2] = V
    assert not big[:, ::2].flags.c_contiguous
    assert mv.loss(big[:, ::2], W, Vt, Wt).loss == ref.loss
    # nested lists and float32 / int arrays are converted to float64
    small = [[1, 0, 0]], [[0, 1, 0]], [[1, 1, 0]], [[0, 0, 1]]
    a = mv.loss(*small)
    b = mv.loss(*[np.array(x, dtype=np.float32) for x in small])
    c = mv.loss(*[np.array(x, dtype=np.float64) for x in small])
    assert a.loss == b.loss == c.loss


@pytest.mark.parametrize("bad,pattern", [
    (np.zeros((3,)), "V: expected a 2-d array"),
    (np.zeros((2, 3, 4)), "V: expected a 2-d array"),
    (np.zeros((0, 3)), "V: empty array"),
    (np.array([["a", "b", "c"]]), "V: expected real numbers"),
    (np.array([[1 + 1j, 0, 0]]), "V: expected real numbers"),
    (np.array([[True, False, True]]), "V: expected real numbers"),
    (np.array([[object(), 1, 2]], dtype=object), "V: expected real numbers"),
])
def test_bad_arrays_rejected(bad, pattern):
    W, Vt, Wt = np.eye(3)[:1], np.eye(3)[1:2], np.eye(3)[2:3]
    with pytest.raises(mv.InputError, match=pattern):
        mv.loss(bad, W, Vt, Wt)


def test_ragged_and_mismatched_shapes():
    e = np.eye(4)
    with pytest.raises(mv.InputError, match="V: not an array"):
        mv.loss([[1, 0], [1]], e[:1], e[:1], e[:1])
    with pytest.raises(mv.InputError, match=r"W: expected 4 columns \(d\)"):
        mv.loss(e[:2], e[:2, :3], e[2:], e[2:])
    with pytest.raises(mv.InputError, match="W: expected 2 rows"):
        mv.loss(e[:2], e[:1], e[2:], e[2:])
    with pytest.raises(mv.InputError, match="Wt: expected 2 rows"):
        mv.loss(e[:2], e[:2], e[2:], e[3:])


@pytest.mark.parametrize("value,pattern", [
    (np.nan, r"<arrays>: student\.W\[1\]: entry 2 is not finite"),
    (np.inf, r"<arrays>: student\.W\[1\]: entry 2 is not finite"),
    (1e200, r"<arrays>: student\.W\[1\]: squared norm overflows"),
])
def test_non_finite_and_norm_rule(value, pattern):
    e = np.eye(4)
    W = e[:2].copy()
    W[1, 2] = value
    with pytest.raises(mv.InputError, match=pattern) as info:
        mv.loss(e[:2], W, e[2:], e[2:])
    assert info.value.status == 1 and "\n" not in str(info.value)


def test_zero_row_and_noise():
    e = np.eye(3)
    with pytest.raises(mv.InputError, match=r"teacher\.V\[0\]: zero vector"):
        mv.loss(e[:1], e[1:2], np.zeros((1, 3)), e[2:])
    with pytest.raises(mv.InputError, match="noise_var"):
        mv.loss(e[:1], e[1:2], e[:1], e[2:], noise_var=-1)
    with pytest.raises(mv.InputError, match=r"regularizers\.bogus: unknown key"):
        mv.loss(e[:1], e[1:2], e[:1], e[2:], regularizers={"bogus": 1})


@pytest.mark.parametrize("prec", [52, 2049, 64.0, "128", True])
def test_bad_precision(prec):
    e = np.eye(3)
    with pytest.raises(mv.InputError, match="prec"):
        mv.loss(e[:1], e[1:2], e[:1], e[2:], prec=prec)


def test_spec_errors_carry_library_message(tmp_path, data):
    with pytest.raises(mv.MoeverifyError, match="nonexistent.json") as info:
        mv.loss_spec(str(tmp_path / "nonexistent.json"))
    assert info.value.status == 3
    with pytest.raises(mv.InputError, match=r"bad_m0\.json: student\.m"):
        mv.loss_spec(data("bad_m0.json"))
    with pytest.raises(mv.InputError, match=r"bad_malformed\.json: line \d+"):
        mv.loss_spec(data("bad_malformed.json"))
    with pytest.raises(mv.InputError, match=r"<dict>: d"):
        mv.loss_spec({"d": 0, "teacher": {"m": 1, "init": {"kind": "orthonormal"}},
                      "student": {"m": 1, "init": {"kind": "gaussian"}}})
    with pytest.raises(mv.InputError, match="spec: expected a path or a dict"):
        mv.flow(42, t_end=1)


def test_run_option_errors(mid_spec):
    with pytest.raises(mv.InputError, match=r"mid\.json: run\.rtol: .*out of range"):
        mv.flow(mid_spec, t_end=1, rtol=-1)
    with pytest.raises(mv.InputError, match=r"run\.stepper|stepper"):
        mv.flow(mid_spec, t_end=1, stepper="euler")
    with pytest.raises(mv.InputError, match=r"run\.t_end"):
        mv.flow(mid_spec, t_end=-3)
    with pytest.raises(mv.InputError, match=r"run\.times"):
        mv.flow(mid_spec, t_end=1, times=[0.5, 0.2])
    with pytest.raises(mv.InputError, match=r"run\.stop"):
        mv.flow(mid_spec, t_end=1, stop="never")
    with pytest.raises(mv.InputError, match=r"run\.prec: not used by method \"reduced\""):
        mv.flow(mid_spec, t_end=1, prec=128)
    with pytest.raises(mv.InputError, match=r"run\.batch"):
        mv.sgd(mid_spec, lr=0.1, batch=0, steps=10)
    with pytest.raises(mv.InputError, match="reduced: run options: .*not JSON compliant"):
        mv.flow(mid_spec, t_end=float("nan"))   # NaN never reaches the library
    with pytest.raises(mv.InputError, match="sgd: run options"):
        mv.sgd(mid_spec, lr=0.1, batch=4, steps=10, times={1, 2})


def test_other_calls_validate(mid_spec, tmp_path):
    with pytest.raises(mv.InputError, match="samples"):
        mv.mc(mid_spec, samples=-5)
    with pytest.raises(mv.InputError, match="k_max"):
        mv.coeffs(-1)
    with pytest.raises(mv.InputError, match="level"):
        mv.check("identities", level="thorough")
    with pytest.raises(mv.InputError, match="check: .*bogus"):
        mv.check("bogus", out=str(tmp_path / "c"))
    bad = {"base": json.load(open(mid_spec)), "grid": {"nope": [1]},
           "run": {"method": "reduced", "t_end": 1}}
    with pytest.raises(mv.InputError, match=r"<dict>: grid\.nope: unknown path"):
        mv.sweep(bad)


def test_error_message_is_per_thread(mid_spec):
    """The library's message is thread-local: a failure in a worker thread
    must still carry its own message."""
    got = {}

    def work():
        try:
            mv.flow(mid_spec, t_end=1, rtol=-1)
        except mv.InputError as e:
            got["msg"] = str(e)
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert "run.rtol" in got["msg"]


def test_ctrl_c_stops_a_flow_cleanly(data):
    """SIGINT during a run sets the library's interrupt flag: the run stops
    at once, and Interrupted carries the partial trajectory."""
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(mv.Interrupted) as info:
            mv.flow(data("example_paper.json"), t_end=5, reduced=False)  # seconds: still running at 0.5 s
    finally:
        timer.cancel()
    tr = info.value.result
    assert tr.status == "interrupted" and tr.rows >= 1
    assert "interrupt" in tr.message
    assert tr.t[-1] < 5
