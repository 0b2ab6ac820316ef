"""moeverify.loss (closed form: loss and raw gradient) against an independent
Monte-Carlo estimate written here in numpy only.

The model is MATH.md section 1, restated from the spec and not from the
library:

    f(theta, x) = sum_i pi(vbar_i.x) He3(wbar_i.x),   vbar = v/|v|
    pi(z) = 1/(1+exp(-z)),  He3(z) = z^3 - 3z,  teacher f* likewise
    L = 1/2 E[(f - f*)^2],  x ~ N(0, I_d)

Per-sample gradient with respect to the RAW vectors (chain rule through the
normalisation, d vbar/d v = (I - vbar vbar^T)/|v|), with r = f - f*:

    dl/dv_i = r pi'(a_i) He3(b_i)  (x - a_i vbar_i) / |v_i|,   a_i = vbar_i.x
    dl/dw_i = r pi(a_i)  He3'(b_i) (x - b_i wbar_i) / |w_i|,   b_i = wbar_i.x

Its sample mean estimates grad L; the standard error is the sample standard
deviation over sqrt(N) (samples are i.i.d.; per-chunk moments merged with
Chan's formula so no sum of squares cancels).  x is sampled in full (d is
small) rather than projected on the span of the vectors: simpler, and it
keeps the estimator as plainly independent of the closed form as possible.
moeverify is used only for the closed form under test; the inputs come from
numpy with fixed seeds, so the file is deterministic.

Tolerance (Bonferroni): every compared number must lie within 4 standard
errors (plus an absolute floor of 1e-12 + the closed form's own error bound,
for components whose SE is exactly 0, e.g. the gradient along the raw vector
itself when that vector is a coordinate axis).  For a Gaussian z,
P(|z| > 4) = 6.3e-5 per component.  Compared components, K:
    random case       d=10, m=3, m*=2:  2*3*10 + 1 = 61
    scaled-norm case  d=8,  m=3, m*=2:  2*3*8  + 1 = 49
    teacher+extra     d=6,  m=3, m*=2:  2*3*6  + 1 = 37
    MPFR loss vs MC (the random case's sample):   1
    K = 148, so a false alarm for a fresh seed has probability about
    148 * 6.3e-5 = 0.009 (the seeds are fixed, so the outcome is too).
"""

import numpy as np
import pytest

import moeverify

Z_MAX = 4.0
FLOOR = 1e-12
CHUNK = 50_000          # per chunk: 2 arrays of CHUNK*m*d doubles (< 30 MB)
N_SAMPLES = 1_000_000

# largest |z| seen per case, printed at the end of each test (pytest -s)
_ZMAX_SEEN = {}


# ------------------------------------------------------------ the MC estimator

def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))   # no overflow for large |z|


def _he3(z):
    return z * (z * z - 3.0)


def _he3p(z):
    return 3.0 * (z * z - 1.0)


def _unit(A):
    n = np.linalg.norm(A, axis=1)
    return A / n[:, None], n


def _merge(stats, x):
    """Chan's parallel update of (count, mean, M2) with the rows of x
    (first axis = samples)."""
    n, mean, m2 = stats
    k = x.shape[0]
    cmean = x.mean(axis=0)
    cm2 = ((x - cmean) ** 2).sum(axis=0)
    if n == 0:
        return k, cmean, cm2
    tot = n + k
    delta = cmean - mean
    return tot, mean + delta * (k / tot), m2 + cm2 + delta ** 2 * (n * k / tot)


class MC:
    """Monte-Carlo loss and raw gradient with standard errors."""

    def __init__(self, V, W, Vt, Wt, samples, seed):
        rng = np.random.default_rng(seed)
        d = V.shape[1]
        Vb, nv = _unit(V)
        Wb, nw = _unit(W)
        Vtb, _ = _unit(Vt)
        Wtb, _ = _unit(Wt)
        sl = (0, 0.0, 0.0)
        sv = (0, 0.0, 0.0)
        sw = (0, 0.0, 0.0)
        done = 0
        while done < samples:
            k = min(CHUNK, samples - done)
            X = rng.standard_normal((k, d))
            a, b = X @ Vb.T, X @ Wb.T                 # k x m
            pa, hb = _sigmoid(a), _he3(b)
            fstar = (_sigmoid(X @ Vtb.T) * _he3(X @ Wtb.T)).sum(axis=1)
            r = (pa * hb).sum(axis=1) - fstar         # k
            sl = _merge(sl, 0.5 * r * r)
            cv = (r[:, None] * pa * (1.0 - pa) * hb) / nv        # k x m
            cw = (r[:, None] * pa * _he3p(b)) / nw
            gv = cv[:, :, None] * (X[:, None, :] - a[:, :, None] * Vb[None])
            sv = _merge(sv, gv)
            del gv
            gw = cw[:, :, None] * (X[:, None, :] - b[:, :, None] * Wb[None])
            sw = _merge(sw, gw)
            del gw
            done += k
        self.samples = samples
        self.loss, self.loss_se = sl[1], np.sqrt(sl[2] / (samples - 1) / samples)
        self.grad_V, self.grad_V_se = sv[1], np.sqrt(sv[2] / (samples - 1) / samples)
        self.grad_W, self.grad_W_se = sw[1], np.sqrt(sw[2] / (samples - 1) / samples)


# ------------------------------------------------------------ the comparison

def compare(name, closed, mean, se, floor=FLOOR, z_max=Z_MAX):
    """(failures, largest |z|): one message per component of `closed`
    farther than z_max*se + floor from the MC `mean`, with both values in
    full, the SE and the z-score."""
    closed = np.atleast_1d(np.asarray(closed, dtype=float))
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    se = np.atleast_1d(np.asarray(se, dtype=float))
    fails = []
    zbig = 0.0
    for idx in np.ndindex(closed.shape):
        c, mu, s = closed[idx], mean[idx], se[idx]
        diff = abs(c - mu)
        z = diff / s if s > 0 else (0.0 if diff == 0 else np.inf)
        if diff > floor:          # components at the floor carry no z
            zbig = max(zbig, z)
        if not diff <= z_max * s + floor:
            fails.append("%s%s: closed %.17g  mc %.17g  se %.17g  z %.3g"
                         "  (allowed %g SE + %.3g)"
                         % (name, list(idx), c, mu, s, z, z_max, floor))
    return fails, zbig


def _check(case, r, mc, floor_extra=0.0):
    """Assert loss, grad_V, grad_W of the LossResult r agree with mc."""
    floor = FLOOR + floor_extra
    out = []
    zs = []
    for name, c, mu, se, fl in (
            ("loss", r.loss, mc.loss, mc.loss_se, FLOOR + r.error_bound),
            ("grad_V", r.grad_V, mc.grad_V, mc.grad_V_se, floor + r.grad_error_bound),
            ("grad_W", r.grad_W, mc.grad_W, mc.grad_W_se, floor + r.grad_error_bound)):
        f, z = compare(name, c, mu, se, floor=fl)
        out += f
        zs.append(z)
    _ZMAX_SEEN[case] = max(zs)
    print("\n%s: N=%d  max|z| = %.3f  (loss %.17g, mc %.17g +- %.3g)"
          % (case, mc.samples, max(zs), r.loss, mc.loss, mc.loss_se))
    assert not out, "%s: %d component(s) beyond %g SE:\n  %s" % (
        case, len(out), Z_MAX, "\n  ".join(out))


# ------------------------------------------------------------ problems

def _random_problem(d, m, mstar, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, d)), rng.standard_normal((m, d)),
            rng.standard_normal((mstar, d)), rng.standard_normal((mstar, d)))


_cache = {}


def _random_case():
    """d=10, m=3, m*=2, Gaussian vectors (non-orthogonal teacher), its closed
    form and MC (shared by the double and MPFR tests)."""
    if "random" not in _cache:
        V, W, Vt, Wt = _random_problem(10, 3, 2, seed=20261202)
        _cache["random"] = (V, W, Vt, Wt, MC(V, W, Vt, Wt, N_SAMPLES, seed=1))
    return _cache["random"]


# ------------------------------------------------------------ tests

def test_random_problem():
    V, W, Vt, Wt, mc = _random_case()
    _check("random d=10 m=3 m*=2", moeverify.loss(V, W, Vt, Wt), mc)


def test_non_unit_norms():
    """Rows with raw norms from 0.3 to 4: the gradient scales as 1/|v|
    (checked against the unit-norm closed form) and still matches MC."""
    V, W, Vt, Wt = _random_problem(8, 3, 2, seed=7)
    V, W = _unit(V)[0], _unit(W)[0]
    sv = np.array([0.3, 1.0, 4.0])
    sw = np.array([2.5, 0.45, 1.0])
    Vs, Ws = V * sv[:, None], W * sw[:, None]
    r1 = moeverify.loss(V, W, Vt, Wt)
    rs = moeverify.loss(Vs, Ws, Vt, Wt)
    # only directions enter f: the same loss, and gradients divided by the norms
    bound = r1.grad_error_bound + rs.grad_error_bound
    for name, g1, gs, s in (("grad_V", r1.grad_V, rs.grad_V, sv),
                            ("grad_W", r1.grad_W, rs.grad_W, sw)):
        want = g1 / s[:, None]
        err = np.abs(gs - want) - (bound / s[:, None] + 1e-14 * np.abs(want))
        i = np.unravel_index(np.argmax(err), err.shape)
        assert err[i] <= 0, "%s%s: scaled %r, unit/|v| %r" % (
            name, list(i), float(gs[i]), float(want[i]))
    assert abs(rs.loss - r1.loss) <= r1.error_bound + rs.error_bound, (
        "loss %r vs %r" % (rs.loss, r1.loss))
    mc = MC(Vs, Ws, Vt, Wt, N_SAMPLES, seed=2)
    _check("non-unit norms d=8", rs, mc)
    # forgetting the 1/|v| of the chain rule would be caught (|v| = 0.3, 4)
    wrong = rs.grad_V * sv[:, None]
    fails, _ = compare("grad_V(no 1/|v|)", wrong, mc.grad_V, mc.grad_V_se)
    assert fails, "a gradient without the 1/|v| factor passed the MC comparison"


def test_teacher_plus_extra_student():
    """Students 0, 1 are the teacher's experts (raw norms 1.7 and 0.6, teacher
    orthonormal along coordinate axes); student 2 is extra.  f - f* is the
    extra expert's output, so the loss is 1/2 E[pi^2 He3^2] > 0 and the
    matched students' gradients are not zero; the gradient components along
    the axis vectors themselves are exactly 0 (SE 0: the floor applies)."""
    d = 6
    I = np.eye(d)
    Vt, Wt = I[[0, 1]], I[[2, 3]]
    rng = np.random.default_rng(11)
    extra_v, extra_w = rng.standard_normal(d), rng.standard_normal(d)
    V = np.vstack([1.7 * Vt[0], 0.6 * Vt[1], extra_v])
    W = np.vstack([0.6 * Wt[0], 1.7 * Wt[1], extra_w])
    r = moeverify.loss(V, W, Vt, Wt)
    mc = MC(V, W, Vt, Wt, N_SAMPLES, seed=3)
    _check("teacher+extra d=6", r, mc)
    # the loss is the extra expert's self term: clearly positive
    assert mc.loss > 10 * mc.loss_se


def test_mpfr_path():
    """prec=128: gradient equal to the double path's within the two error
    bounds + 1e-12 relative; loss within 4 SE of the MC estimate."""
    V, W, Vt, Wt, mc = _random_case()
    rd = moeverify.loss(V, W, Vt, Wt)
    rm = moeverify.loss(V, W, Vt, Wt, prec=128)
    assert rm.prec == 128 and rm.grad_error_bound < 1e-30
    for name, gd, gm in (("grad_V", rd.grad_V, rm.grad_V), ("grad_W", rd.grad_W, rm.grad_W)):
        tol = rd.grad_error_bound + rm.grad_error_bound + 1e-12 * np.abs(gm)
        bad = np.argwhere(np.abs(gd - gm) > tol)
        assert bad.size == 0, "%s: %s" % (name, "; ".join(
            "%s double %r mpfr %r" % (list(i), float(gd[tuple(i)]), float(gm[tuple(i)]))
            for i in bad))
    assert abs(rd.loss - rm.loss) <= rd.error_bound + rm.error_bound
    fails, z = compare("loss(prec=128)", rm.loss, mc.loss, mc.loss_se,
                       floor=FLOOR + rm.error_bound)
    print("\nmpfr 128: loss %s, mc %.17g +- %.3g, |z| = %.3f"
          % (rm.loss_str, mc.loss, mc.loss_se, z))
    assert not fails, "\n".join(fails)


def test_comparison_can_fail():
    """The comparison rejects a closed form 10 SE off in one component, in
    either direction, and a loss 10 SE off; it accepts the true one."""
    V, W, Vt, Wt, mc = _random_case()
    r = moeverify.loss(V, W, Vt, Wt)
    assert not compare("grad_V", r.grad_V, mc.grad_V, mc.grad_V_se)[0]
    for idx in [(0, 0), (2, 9)]:
        for sign in (1, -1):
            bad = r.grad_V.copy()
            # the true value passed (|z| <= 4), so 10 SE more puts it >= 6 SE out
            bad[idx] += sign * 10 * mc.grad_V_se[idx]
            fails, z = compare("grad_V", bad, mc.grad_V, mc.grad_V_se)
            assert len(fails) == 1 and ("grad_V%s" % list(idx)) in fails[0], fails
            assert z >= 6 and "se " in fails[0]
    fails, _ = compare("loss", r.loss + 10 * mc.loss_se, mc.loss, mc.loss_se)
    assert len(fails) == 1
    # the message carries both values with 17 significant digits
    msg = compare("x", 0.1, 0.2, 1e-3)[0][0]
    assert "closed 0.10000000000000001  mc 0.20000000000000001" in msg, msg


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    if _ZMAX_SEEN:
        print("\nlargest |z| per case: " + ", ".join(
            "%s %.3f" % kv for kv in sorted(_ZMAX_SEEN.items())))
