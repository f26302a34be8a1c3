"""The sympy backend's choice of forward or reverse differentiation per output."""
import numpy as np

import jacli
from jacli.backends import symbolic


def test_wide_outputs_use_reverse_and_match_hand_derivation():
    n = symbolic.REVERSE_ABOVE * 3
    names = [f"x{i}" for i in range(n)]
    # y1 = sum_i i*x_i^2 + prod-free exp coupling; y2 depends on two inputs only (forward path)
    y1 = " + ".join(f"{i + 1}*x{i}^2" for i in range(n)) + " + exp(" + " + ".join(names) + ")/10"
    y2 = "x0*x1"
    m = jacli.model_from_expressions(f"y1 = {y1}, y2 = {y2}", inputs=names)
    x = np.linspace(-0.3, 0.4, n)
    r = jacli.jacobian(m, x[None, :], backend="sympy")
    e = np.exp(x.sum()) / 10
    ref1 = 2 * np.arange(1, n + 1) * x + e
    ref2 = np.zeros(n)
    ref2[0], ref2[1] = x[1], x[0]
    np.testing.assert_allclose(r.derivative[0, 0], ref1, rtol=1e-13)
    np.testing.assert_allclose(r.derivative[0, 1], ref2, rtol=1e-13, atol=0)
    assert r.structure[1].sum() == 2 and r.structure[0].all()


def test_simplification_is_bounded_in_time(monkeypatch):
    """sympy.simplify can run for minutes on a 40-operation entry (the MLP sample's Jacobian):
    jacli gives each entry a time limit and returns it as derived when it runs out."""
    import time

    import sympy as sp

    from jacli.model import _sympy

    x, y = sp.symbols("x y")
    e = sp.tanh(x + y) ** 2 * x + y
    calls = []

    def endless(expr, *a, **k):
        calls.append(expr)
        time.sleep(30)          # stands for a simplification that never ends
        return expr

    monkeypatch.setattr(sp, "simplify", endless)
    t = time.monotonic()
    out = _sympy.simplify_all([e, e, e + 1], seconds=0.2, total=0.3)
    assert time.monotonic() - t < 5
    assert out == [e, e, e + 1] and calls        # returned as derived, equal entries once
    assert len(calls) <= 2


def test_simplification_still_simplifies():
    import sympy as sp

    from jacli.model import _sympy

    x = sp.Symbol("x")
    assert _sympy.simplified(sp.sin(x) ** 2 + sp.cos(x) ** 2) == 1
