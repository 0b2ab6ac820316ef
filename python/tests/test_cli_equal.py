"""The module against the CLI on the same inputs: both call the same
library functions, so every number must be equal bit for bit (strings
compared as strings, 17-digit files parsed and compared with ==)."""

import csv
import json
import os

import numpy as np
import pytest

import moeverify as mv
from conftest import TOP


def read_csv(path):
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    head = rows[0]
    cols = {h: np.array([float(r[k]) for r in rows[1:]]) for k, h in enumerate(head)}
    return head, cols


def assert_same(name, got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, "%s: shape %s != %s" % (name, got.shape, want.shape)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    if not same.all():
        k = np.flatnonzero(~same.ravel())[0]
        pytest.fail("%s: %d entries differ; first at %d: python %r, CLI %r"
                    % (name, (~same).sum(), k, got.ravel()[k], want.ravel()[k]))


@pytest.mark.parametrize("spec,prec", [("example_small.json", 53), ("example_small.json", 200),
                                       ("example_paper.json", 53), ("example_paper.json", 128)])
def test_loss_spec_equals_cli(cli, data, spec, prec):
    out = json.loads(cli("loss", data(spec), "--prec", prec))
    r = mv.loss_spec(data(spec), prec=prec)
    assert r.loss_str == out["loss"]
    assert r.loss_digits == out["loss_digits"]
    assert r.error_bound_str == out["loss_error_bound"]
    assert r.grad_error_bound_str == out["grad_error_bound"]
    assert r.grad_digits_min == out["grad_digits_min"]
    assert r.series_terms_max == out["series_terms_max"]
    assert r.method == out["method"] and r.prec == out["precision_bits"]
    assert r.error_bound <= float(r.error_bound_str)  # the string is rounded up
    # each printed component is the python value rounded to its digits
    for key, g in (("V", r.grad_V), ("W", r.grad_W)):
        cs = np.array(out["grad"][key], dtype=object)
        assert cs.shape == g.shape
        for s, x in zip(cs.ravel(), g.ravel()):
            digits = len(s.split("e")[0].replace("-", "").replace(".", "")) if s != "0" else 1
            if prec == 53 or digits <= 15:
                assert float("%.*e" % (digits - 1, x)) == float(s), (key, s, repr(x))
            else:  # more digits than a double holds: within half an ulp
                assert abs(float(s) - x) <= 0.5 * np.spacing(abs(x)) + 1e-300, (s, repr(x))


def test_loss_arrays_equal_loss_spec(data):
    V, W, Vt, Wt = mv.vectors(data("example_paper.json"))
    a = mv.loss(V, W, Vt, Wt)
    b = mv.loss_spec(data("example_paper.json"))
    assert a.loss == b.loss and a.loss_str == b.loss_str
    assert_same("grad_V", a.grad_V, b.grad_V)
    assert_same("grad_W", a.grad_W, b.grad_W)


def test_loss_equals_full_flow_row0(cli, mid_spec, tmp_path):
    """trajectory.csv prints 17 digits: L at t = 0 of the CLI's full flow is
    the python loss of the spec's vectors, bit for bit."""
    cli("flow", mid_spec, "--t-end", "1", "--n-out", "3", "--out", tmp_path / "f")
    _, cols = read_csv(tmp_path / "f" / "trajectory.csv")
    r = mv.loss(*mv.vectors(mid_spec))
    assert cols["t"][0] == 0.0
    assert cols["loss"][0] == r.loss, (repr(cols["loss"][0]), repr(r.loss))
    g2 = float(np.sum(r.grad_V ** 2) + np.sum(r.grad_W ** 2))
    assert abs(cols["grad_norm2"][0] - g2) <= 1e-13 * g2, (cols["grad_norm2"][0], g2)


def compare_traj(tr, outdir, m, mstar):
    head, cols = read_csv(os.path.join(outdir, "trajectory.csv"))
    for name, arr in (("t", tr.t), ("loss", tr.loss), ("grad_norm2", tr.grad_norm2),
                      ("energy", tr.energy)):
        assert_same(name, arr, cols[name])
    for i in range(m):
        for j in range(mstar):
            assert_same("router_%d_%d" % (i, j), tr.router[:, i, j], cols["router_%d_%d" % (i, j)])
            assert_same("expert_%d_%d" % (i, j), tr.expert[:, i, j], cols["expert_%d_%d" % (i, j)])
    with open(os.path.join(outdir, "events.json")) as f:
        assert tr.events == json.load(f)
    with open(os.path.join(outdir, "run.json")) as f:
        run = json.load(f)
    for k in run:
        if k != "wall_seconds":
            assert tr.run[k] == run[k], k
    assert tr.status == run["status"]


def test_reduced_flow_equals_cli(cli, data, tmp_path):
    cli("flow", data("example_paper.json"), "--reduced", "--t-end", "60", "--out", tmp_path / "r")
    tr = mv.flow(data("example_paper.json"), t_end=60)
    assert tr.rows == 400 and tr.router.shape == (400, 25, 5)
    compare_traj(tr, tmp_path / "r", 25, 5)
    assert tr.final_V is None


def test_full_flow_equals_cli_with_options(cli, mid_spec, tmp_path):
    times = [0.5, 1.0, 2.5, 4.0]
    cli("flow", mid_spec, "--t-end", "5", "--times", ",".join(map(str, times)), "--rtol",
        "1e-8", "--atol", "1e-11", "--stepper", "rkf45", "--out", tmp_path / "f")
    tr = mv.flow(mid_spec, t_end=5, reduced=False, times=np.array(times), rtol=1e-8,
                 atol=1e-11, stepper="rkf45")
    assert list(tr.t) == [0.0] + times + [5.0]
    compare_traj(tr, tmp_path / "f", 6, 3)
    with open(tmp_path / "f" / "run.json") as f:
        fin = json.load(f)["final"]
    assert_same("final V", tr.final_V.ravel(), fin["V_rowmajor"])
    assert_same("final W", tr.final_W.ravel(), fin["W_rowmajor"])


def test_sgd_equals_cli(cli, mid_spec, tmp_path):
    cli("sgd", mid_spec, "--lr", "0.01", "--batch", "64", "--steps", "400", "--seed", "5",
        "--n-out", "20", "--out", tmp_path / "s")
    tr = mv.sgd(mid_spec, lr=0.01, batch=64, steps=400, seed=5, n_out=20)
    compare_traj(tr, tmp_path / "s", 6, 3)
    assert tr.method == "sgd" and np.isnan(tr.energy).all()


def test_mc_equals_cli(cli, mid_spec):
    out = json.loads(cli("mc", mid_spec, "--samples", "20000", "--seed", "9"))
    r = mv.mc(mid_spec, samples=20000, seed=9)
    def agree(s, x):
        digits = len(s.split("e")[0].replace("-", "").replace(".", ""))
        return float("%.*e" % (digits - 1, x)) == float(s)
    assert agree(out["loss"], r.loss) and agree(out["loss_stderr"], r.loss_se)
    assert r.samples == out["samples"] and r.rank == out["span_rank"]
    assert r.batches == out["batches"]
    flat = lambda g: [s for row in g for s in row]
    for s, x in zip(flat(out["grad"]["V"]), r.grad_V.ravel()):
        assert agree(s, x), (s, x)


def test_coeffs_equal_cli(cli):
    out = json.loads(cli("coeffs", "--kmax", "25", "--prec", "160", "--all", "--json"))
    c = mv.coeffs(25, prec=160)
    assert len(c) == len(out) == 26
    for k, e in enumerate(out):
        assert e["k"] == k and c.c_str[k] == e["c"] and c.digits[k] == e["digits"]
        assert c.relerr_str[k] == e["relerr"]
        assert c.c[k] == float(e["c"]) or abs(c.c[k] - float(e["c"])) <= np.spacing(abs(c.c[k]))
    assert abs(c.c[1] - 0.206620964141907) < 1e-15


def test_sweep_equals_cli(cli, data, tmp_path):
    cli("sweep", data("sweep_small.json"), "--out", tmp_path / "sw", "--jobs", "1")
    with open(tmp_path / "sw" / "results.jsonl") as f:
        want = sorted((json.loads(line) for line in f), key=lambda r: r["task"])
    got = mv.sweep(data("sweep_small.json"))
    assert len(got) == len(want) == 8
    for g, w in zip(got, want):
        g.pop("wall_seconds"), w.pop("wall_seconds")
        assert g == w


def test_check_equals_cli(cli, tmp_path):
    """The identities claim (exact computations, no randomness) in process
    against `moeverify check identities --quick`: the same verdict and the
    same measurements to the last digit."""
    rep = mv.check("identities", level="quick", out=str(tmp_path / "py"))
    cli("check", "identities", "--quick", "--report", tmp_path / "cli")
    with open(tmp_path / "cli" / "report.json") as f:
        want = json.load(f)
    assert (tmp_path / "py" / "report.md").exists()
    assert rep["exact_claims_hold"] and rep["exact_claims_hold"] == want["exact_claims_hold"]
    (a,), (b,) = rep["claims"], want["claims"]
    assert a["name"] == b["name"] == "identities" and a["verdict"] == b["verdict"] == "holds"
    assert a["measurements"] == b["measurements"] and len(a["measurements"]) > 5


def test_regress_equals_cli(cli, tmp_path):
    ref = os.path.join(TOP, "data", "reference", "small-escape.json")
    table = cli("regress", ref).splitlines()
    r = mv.regress(ref)
    assert r["passed"] and r["violations"] == 0 and r["values"] == int(table[1].split()[1])
    # the CLI's first worst line: "ok t = T col C ref R got G |dev| D / tol T"
    f = table[2].split()
    assert f[0] == "ok" and float(f[3]) == r["worst"][0]["t"]
    assert float(f[7]) == r["worst"][0]["ref"] and float(f[9]) == r["worst"][0]["got"]
    # a changed digit: the checksum no longer matches, the library's message
    text = open(ref).read()
    k = text.index('"values"')
    k += next(i for i, ch in enumerate(text[k:]) if ch in "123456789")
    bad = tmp_path / "bad.json"
    bad.write_text(text[:k] + ("2" if text[k] == "1" else "1") + text[k + 1:])
    with pytest.raises(mv.MoeverifyError, match=r"bad\.json: .*checksum"):
        mv.regress(str(bad))
    # a looser fast path than the stored one fails the same tolerances
    assert mv.regress(ref, rtol=1e-4, atol=1e-6)["violations"] > 0
