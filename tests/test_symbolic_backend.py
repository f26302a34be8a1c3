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
