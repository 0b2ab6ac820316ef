"""The library runs without the GIL: calls from several threads at once
give exactly the results of the same calls one after another (each has its
own workspaces; the error message is per thread), and sweep(jobs=2) equals
sweep(jobs=1)."""

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import moeverify as mv


def test_concurrent_losses_and_flows_equal_sequential(mid_spec, data):
    specs = [dict(json.load(open(mid_spec)), student={"m": 6, "init": {"kind": "gaussian",
                                                                          "seed": s}})
             for s in range(1, 7)]

    def work(spec):
        r = mv.loss_spec(spec)
        tr = mv.flow(spec, t_end=3, n_out=10)
        return r.loss, r.grad_V.copy(), tr.loss.copy(), tr.router.copy()

    seq = [work(s) for s in specs]
    with ThreadPoolExecutor(max_workers=3) as pool:
        par = list(pool.map(work, specs))
    for (a, b) in zip(seq, par):
        assert a[0] == b[0]
        for x, y in zip(a[1:], b[1:]):
            assert np.array_equal(x, y)


def test_errors_in_threads_keep_their_messages(mid_spec):
    def bad(k):
        try:
            mv.flow(mid_spec, t_end=1, rtol=-k - 1)
        except mv.InputError as e:
            return str(e)
    with ThreadPoolExecutor(max_workers=4) as pool:
        msgs = list(pool.map(bad, range(8)))
    for k, m in enumerate(msgs):
        assert "run.rtol: %d out of range" % (-k - 1) in m, m


def test_sweep_jobs_equal(data):
    a = mv.sweep(data("sweep_small.json"), jobs=1)
    b = mv.sweep(data("sweep_small.json"), jobs=3)
    c = mv.sweep(data("sweep_small.json"), tasks=[5, 2], jobs=2)
    for r in a + b + c:
        r.pop("wall_seconds")
    assert a == b
    assert c == [a[5], a[2]]
