"""Every derivative rule against an independent route: mpmath at 40 digits.

The conformance suite checks the backend on jacli's scenarios; these tests check each
rule of :mod:`jacli_plugin_example.dual` on its own, including where a textbook formula
loses accuracy (tanh at 20, expm1 at -40, asin near 1).  References are mpmath's numerical
derivatives at 40 significant digits of the very same double-precision points.
"""
import math

import mpmath
import numpy as np
import pytest

import jacli
from jacli_plugin_example import dual

#: dual's derivatives must match to a few rounding errors of the partial itself.
RTOL = 1e-14

# (model expression, input names, the same function for mpmath, points)
CASES = [
    ("sin(x)", "x", mpmath.sin, [0.3, -2.0, 40.0]),
    ("cos(x)", "x", mpmath.cos, [0.3, -2.0, 1e-8]),
    ("tan(x)", "x", mpmath.tan, [0.3, 1.5]),
    ("asin(x)", "x", mpmath.asin, [0.3, -0.999999]),
    ("acos(x)", "x", mpmath.acos, [0.3, 0.999999]),
    ("atan(x)", "x", mpmath.atan, [0.3, -1e3]),
    ("atan2(y, x)", "yx", mpmath.atan2, [(0.3, -0.7), (-2.0, 1.5)]),
    ("sinh(x)", "x", mpmath.sinh, [0.3, -20.0]),
    ("cosh(x)", "x", mpmath.cosh, [0.3, -20.0]),
    ("tanh(x)", "x", mpmath.tanh, [0.3, 20.0, -30.0]),
    ("asinh(x)", "x", mpmath.asinh, [0.3, -1e200]),
    ("acosh(x)", "x", mpmath.acosh, [1.5, 1.0000001]),
    ("atanh(x)", "x", mpmath.atanh, [0.3, 0.9999]),
    ("exp(x)", "x", mpmath.exp, [0.3, -700.0]),
    ("expm1(x)", "x", mpmath.expm1, [1e-10, -40.0]),
    ("log(x)", "x", mpmath.log, [0.3, 1e-300]),
    ("log(x, 3)", "x", lambda x: mpmath.log(x, 3), [0.3, 7.0]),
    ("log1p(x)", "x", mpmath.log1p, [1e-10, -0.999]),
    ("log10(x)", "x", mpmath.log10, [0.3, 1e10]),
    ("log2(x)", "x", lambda x: mpmath.log(x, 2), [0.3, 1e10]),
    ("sqrt(x)", "x", mpmath.sqrt, [0.3, 1e-300]),
    ("cbrt(x)", "x", mpmath.cbrt, [0.3, 8.5]),
    ("abs(x)", "x", abs, [-0.3, 2.0]),
    ("sign(x)", "x", mpmath.sign, [-0.3, 2.0]),
    ("floor(x)", "x", mpmath.floor, [0.3, -2.7]),
    ("ceil(x)", "x", mpmath.ceil, [0.3, -2.7]),
    ("heaviside(x)", "x", lambda x: mpmath.mpf(1 if x > 0 else 0), [-0.3, 2.0]),
    ("min(x, y)", "xy", min, [(0.5, 2.0), (3.0, 1.0)]),
    ("max(x, y)", "xy", max, [(0.5, 2.0), (3.0, 1.0)]),
    ("where(x < y, x*y, x - y)", "xy", lambda x, y: x * y if x < y else x - y, [(0.5, 2.0), (3.0, 1.0)]),
    ("hypot(x, y)", "xy", mpmath.hypot, [(3.0, 4.0), (1e-200, 2e-200)]),
    ("erf(x)", "x", mpmath.erf, [0.3, -3.0]),
    ("erfc(x)", "x", mpmath.erfc, [0.3, 5.0]),
    ("gamma(x)", "x", mpmath.gamma, [0.3, 4.5, -1.5]),
    ("lgamma(x)", "x", lambda x: mpmath.log(abs(mpmath.gamma(x))), [0.3, 20.0, -1.5]),
    ("x**y", "xy", lambda x, y: x ** y, [(1.5, 2.3), (0.7, -1.2)]),
    ("x**2.5", "x", lambda x: x ** mpmath.mpf(2.5), [0.3, 2.0]),
    ("x**7", "x", lambda x: x ** 7, [-1.3, 0.9]),
    ("2**x", "x", lambda x: 2 ** x, [0.3, -3.5]),
    ("x/y", "xy", lambda x, y: x / y, [(0.3, -7.0), (1e100, 1e-100)]),
]


def reference(fn, point):
    """The gradient of ``fn`` at ``point`` by mpmath (40 digits), as doubles.

    Each partial is d/dt fn(x + t s e_i) / s at t = 0 with s = |x_i|: mpmath's steps are
    absolute, and the points range from 1e-300 to 1e200.
    """
    grad = []
    with mpmath.workdps(40):             # local: leaves mpmath's global precision alone
        point = [mpmath.mpf(p) for p in point]   # exactly the doubles jacli sees
        for i, xi in enumerate(point):
            s = abs(xi) if xi != 0 else mpmath.mpf(1)

            def along(t, i=i, s=s):
                return fn(*[p + t * s if j == i else p for j, p in enumerate(point)])

            grad.append(float(mpmath.diff(along, 0) / s))
    return np.array(grad)


def dual_jacobian(expr, names, points):
    model = jacli.model_from_expressions(f"f = {expr}", inputs=list(names))
    X = np.array([p if isinstance(p, tuple) else (p,) for p in points], dtype=float)
    return X, jacli.jacobian(model, X, backend="dual")


@pytest.mark.parametrize("expr, names, fn, points", CASES, ids=[c[0] for c in CASES])
def test_rule_matches_mpmath(expr, names, fn, points):
    X, res = dual_jacobian(expr, names, points)
    assert res.exact and res.error is None
    for i, x in enumerate(X):
        ref = reference(fn, x)
        got = res.derivative[i, 0]
        assert int(res.status[i]) == 0, res.messages[i]
        np.testing.assert_allclose(got, ref, rtol=RTOL, atol=0,
                                   err_msg=f"d({expr}) at {tuple(x)}")


#: The functions a model file may call (docs/model-format.md, "Functions").
MODEL_FUNCTIONS = ("sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh atanh exp expm1 log log1p "
                   "log10 log2 sqrt cbrt abs sign min max hypot erf erfc gamma lgamma floor ceil heaviside "
                   "where").split()


def test_every_model_function_is_checked():
    called = {expr.split("(")[0] for expr, *_ in CASES}
    assert set(MODEL_FUNCTIONS) <= called, sorted(set(MODEL_FUNCTIONS) - called)


def test_strong_zero():
    """d/dy (sqrt(x) y) at x = 0 is sqrt(0) = 0, not inf * 0 = NaN; d/dx is infinite (reported)."""
    model = jacli.model_from_expressions("f = sqrt(x)*y", inputs=["x", "y"])
    res = jacli.jvp(model, [[0.0, 2.0]], [[0.0, 1.0]], backend="dual")
    assert res.derivative.tolist() == [[0.0]] and int(res.status[0]) == 0
    res = jacli.jacobian(model, [[0.0, 2.0]], backend="dual")
    assert math.isinf(res.derivative[0, 0, 0]) or math.isnan(res.derivative[0, 0, 0])
    assert res.derivative[0, 0, 1] == 0.0
    assert res.status[0] == jacli.Status.NONFINITE, res.messages[0]


def test_rules_test_can_fail(monkeypatch):
    """The textbook sech² = 1 - tanh² is 0 at x = 20 (true 1.7e-17): the comparison above sees it."""
    monkeypatch.setitem(dual._RULES, np.tanh, lambda y, a: (1.0 - y * y,))
    X, res = dual_jacobian("tanh(x)", "x", [20.0])
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(res.derivative[0, 0], reference(mpmath.tanh, X[0]), rtol=RTOL, atol=0)


def test_unknown_ufunc_is_an_error_not_a_number():
    x = dual.Dual(np.array([0.5]), np.array([1.0]))
    with pytest.raises(TypeError, match="no derivative rule for numpy ufunc 'rint'"):
        np.rint(x)
