"""The numeric differentiation core (:mod:`jacli.backends._fdcore`).

Every reference derivative here is written out by hand from calculus, never taken from the
code under test.  Functions follow the core's convention: ``f(X)`` with ``X`` of shape
``(n, K)`` (one point per column) returns ``(m, K)``.
"""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jacli.backends._fdcore import (
    _central_weights,
    complex_step_jacobian,
    complex_step_jvp,
    fd_jacobian,
    fd_jvp,
    fd_stencil,
)

EPS = np.finfo(float).eps


# ---------------------------------------------------------------------------
# hand-derived test functions: (f, jac) with jac(x) for one point x of shape (n,)
# ---------------------------------------------------------------------------
def f_mixed(X):  # R^2 -> R^3
    x0, x1 = X
    return np.stack([np.exp(x0) * np.sin(x1), x0**3 * x1**2, x0 + 2 * x1])


def j_mixed(x):
    x0, x1 = x
    return np.array([
        [math.exp(x0) * math.sin(x1), math.exp(x0) * math.cos(x1)],
        [3 * x0**2 * x1**2, 2 * x0**3 * x1],
        [1.0, 2.0],
    ])


def f_prod3(X):  # R^3 -> R^1
    return (X[0] * X[1] * X[2])[None, :]


def j_prod3(x):
    return np.array([[x[1] * x[2], x[0] * x[2], x[0] * x[1]]])


def f_curve(X):  # R^1 -> R^4
    t = X[0]
    return np.stack([np.cos(t), np.sin(t), t**2, np.log1p(t * t)])


def j_curve(x):
    t = x[0]
    return np.array([[-math.sin(t)], [math.cos(t)], [2 * t], [2 * t / (1 + t * t)]])


def f_poly7(X):  # x^7 - 3 x^2 + 1
    x = X[0]
    return (x**7 - 3 * x**2 + 1)[None, :]


def j_poly7(x):
    return np.array([[7 * x[0] ** 6 - 6 * x[0]]])


def f_rational(X):  # (x0 - x1) / (1 + x0^2 + x1^2)
    x0, x1 = X
    return ((x0 - x1) / (1 + x0**2 + x1**2))[None, :]


def j_rational(x):
    x0, x1 = x
    q = 1 + x0 * x0 + x1 * x1
    return np.array([[(q - 2 * x0 * (x0 - x1)) / q**2, (-q - 2 * x1 * (x0 - x1)) / q**2]])


def f_trig(X):  # atan(3 x0) + tanh(x1) x0, sqrt(1 + x0^2 x1^2)
    x0, x1 = X
    return np.stack([np.arctan(3 * x0) + np.tanh(x1) * x0, np.sqrt(1 + x0**2 * x1**2)])


def j_trig(x):
    x0, x1 = x
    r = math.sqrt(1 + x0 * x0 * x1 * x1)
    return np.array([
        [3 / (1 + 9 * x0 * x0) + math.tanh(x1), x0 / math.cosh(x1) ** 2],
        [x0 * x1 * x1 / r, x0 * x0 * x1 / r],
    ])


CASES = [
    (f_mixed, j_mixed, [[0.3, -1.2], [1.5, 0.7], [-2.0, 3.0]]),
    (f_prod3, j_prod3, [[1.0, 2.0, 3.0], [-0.5, 0.25, 4.0]]),
    (f_curve, j_curve, [[0.0], [1.3], [-2.5]]),
    (f_poly7, j_poly7, [[0.9], [-1.7], [2.2]]),
    (f_rational, j_rational, [[0.2, 0.1], [-3.0, 5.0]]),
    (f_trig, j_trig, [[0.4, -0.8], [2.0, 1.5]]),
]


def counting(f):
    """Wrap f; record the number of columns of each call."""
    calls = []

    def g(X):
        calls.append(X.shape[1])
        return f(X)

    return g, calls


def rel_err(J, Jt):
    """Componentwise relative error with a floor of 1e-3 of the row's largest entry."""
    rowmax = np.max(np.abs(Jt), axis=-1, keepdims=True)
    d = np.maximum(np.abs(Jt), 1e-3 * rowmax)
    d = np.where(d > 0, d, 1.0)
    return np.abs(J - Jt) / d


# ---------------------------------------------------------------------------
# formulas
# ---------------------------------------------------------------------------
def test_central_weights_by_hand():
    # order 4: (8 (f1 - f-1) - (f2 - f-2)) / 12h  =  4/3 D_1 - 1/3 D_2
    np.testing.assert_allclose(_central_weights(4), [4 / 3, -1 / 3], rtol=1e-15)
    # order 6: 3/2 D1 - 3/5 D2 + 1/10 D3 (the 7-point formula 45, -9, 1 over 60 h)
    np.testing.assert_allclose(_central_weights(6), [3 / 2, -3 / 5, 1 / 10], rtol=1e-14)
    np.testing.assert_allclose(_central_weights(2), [1.0])


@pytest.mark.parametrize("order", [2, 4, 6, 8])
def test_stencil_consistency(order):
    st_ = fd_stencil(order, 4)
    assert st_.offsets[0] == 1.0 and np.all(np.diff(st_.offsets) < 0)
    # every extrapolant reproduces a constant derivative (weights sum to 1) ...
    np.testing.assert_allclose(st_.W.sum(axis=1), 1.0, rtol=1e-12)
    # ... and the differences used for the error estimate vanish on it
    for E in (st_.E1, st_.E2, st_.E3, st_.B):
        np.testing.assert_allclose(E.sum(axis=1), 0.0, atol=1e-12)
    # the base formula of order p kills h^2 .. h^(p-2): check T[1,0] on D_c = c^(2k)
    i10 = st_.labels.index((1, 0))
    for k in range(1, order // 2):
        assert abs(st_.W[i10] @ st_.offsets ** (2 * k)) < 1e-12


def test_stencil_shares_points_with_ratio_two():
    # order 4, 3 levels: {1, 1/2} U {1/2, 1/4} U {1/4, 1/8} -> 4 distinct offsets, 8 evaluations
    assert fd_stencil(4, 3).offsets.tolist() == [1.0, 0.5, 0.25, 0.125]
    assert fd_stencil(4, 3).nfev == 8
    assert fd_stencil(2, 5).nfev == 10


# ---------------------------------------------------------------------------
# accuracy against hand-derived Jacobians
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("order", [2, 4, 6, 8])
@pytest.mark.parametrize("f,jac,pts", CASES, ids=[c[0].__name__ for c in CASES])
def test_accuracy_and_bound(order, f, jac, pts):
    x = np.array(pts, dtype=float)
    J, err, nfev = fd_jacobian(f, x, order=order)
    Jt = np.stack([jac(p) for p in x])
    assert J.shape == err.shape == Jt.shape
    assert isinstance(nfev, int) and nfev > 0
    assert np.max(rel_err(J, Jt)) < 1e-10
    assert np.all(np.abs(J - Jt) <= err)


def test_non_square_shapes():
    J, err, _ = fd_jacobian(f_prod3, [[1.0, 2.0, 3.0]])
    assert J.shape == (1, 1, 3)
    np.testing.assert_allclose(J[0], [[6.0, 3.0, 2.0]], rtol=1e-12)
    J, err, _ = fd_jacobian(f_curve, [[0.5]])
    assert J.shape == (1, 4, 1)
    np.testing.assert_allclose(J[0, :, 0], [-math.sin(0.5), math.cos(0.5), 1.0, 1.0 / 1.25], rtol=1e-12)


def test_exact_zero_derivatives():
    def f(X):  # second output does not depend on x1; cos is even about 0
        return np.stack([np.cos(X[0]) * X[1], np.exp(X[0]), X[0] ** 2])

    J, err, _ = fd_jacobian(f, [[0.0, 2.0]])
    # d/dx1 exp(x0) is exactly 0: the perturbed values are identical
    assert J[0, 1, 1] == 0.0 and J[0, 2, 1] == 0.0
    # d/dx0 cos(x0) x1 and d/dx0 x0^2 at x0 = 0 are 0 by symmetry of the central stencil
    assert J[0, 0, 0] == 0.0 and J[0, 2, 0] == 0.0
    assert np.all(err >= 0) and np.all(np.isfinite(err))
    np.testing.assert_allclose(J[0], [[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]], atol=1e-13)


def test_large_magnitudes():
    x = np.array([[1.0e8, -3.0e8], [2.5e8, 7.0e7]])

    def f(X):
        return np.stack([X[0] ** 2, X[0] * X[1], np.exp(X[1] / 1e8)])

    J, err, _ = fd_jacobian(f, x)
    for k, (a, b) in enumerate(x):
        Jt = np.array([[2 * a, 0.0], [b, a], [0.0, math.exp(b / 1e8) / 1e8]])
        assert np.max(rel_err(J[k], Jt)) < 1e-10
        assert np.all(np.abs(J[k] - Jt) <= err[k])


def test_small_magnitudes_keep_a_finite_step():
    x = np.array([[1e-8, -3e-8], [0.0, 5e-9]])

    def f(X):
        return np.stack([X[0] ** 3 + X[0], np.sin(X[0] + X[1]), X[0] * X[1] + X[1]])

    J, err, _ = fd_jacobian(f, x)
    for k, (a, b) in enumerate(x):
        c = math.cos(a + b)
        Jt = np.array([[3 * a * a + 1, 0.0], [c, c], [b, a + 1]])
        assert np.all(np.isfinite(J[k]))
        assert np.max(np.abs(J[k] - Jt)) < 1e-12
        assert np.all(np.abs(J[k] - Jt) <= err[k])


def test_typical_x_sets_the_step_scale():
    # sin(x / 1e-8) at x ~ 1e-8 varies on the scale 1e-8: tell the core so
    def f(X):
        return np.sin(X / 1e-8)

    x = np.array([[1.0e-8], [2.5e-8]])
    J, err, _ = fd_jacobian(f, x, typical_x=1e-8)
    Jt = np.cos(x[:, 0] / 1e-8) / 1e-8
    np.testing.assert_allclose(J[:, 0, 0], Jt, rtol=1e-10)
    assert np.all(np.abs(J[:, 0, 0] - Jt) <= err[:, 0, 0])


def test_short_scale_functions_are_refined():
    # exp(10 x), atan(30 x): scales 0.1 and 0.03, much smaller than the step floor 1
    def f(X):
        return np.stack([np.exp(10 * X[0]), np.arctan(30 * X[0])])

    x = np.array([[0.3], [-0.05]])
    J, err, nfev = fd_jacobian(f, x)
    Jt = np.stack([10 * np.exp(10 * x[:, 0]), 30 / (1 + 900 * x[:, 0] ** 2)], axis=1)
    assert np.max(np.abs(J[:, :, 0] - Jt) / np.abs(Jt)) < 1e-10
    assert np.all(np.abs(J[:, :, 0] - Jt) <= err[:, :, 0])
    assert 10 < nfev <= 28  # refined beyond the first pass, capped at max_levels


# ---------------------------------------------------------------------------
# batching, chunking, counting
# ---------------------------------------------------------------------------
def test_batch_equals_loop_over_points():
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, size=(25, 2))
    J, err, nfev = fd_jacobian(f_trig, x)
    for k in range(len(x)):
        Jk, ek, nk = fd_jacobian(f_trig, x[k:k + 1])
        np.testing.assert_allclose(J[k], Jk[0], rtol=1e-14, atol=1e-300)
        np.testing.assert_allclose(err[k], ek[0], rtol=1e-12, atol=1e-300)
        assert nk <= nfev


def test_one_call_for_the_whole_batch_and_honest_nfev():
    g, calls = counting(lambda X: np.stack([X[0] ** 2 * X[1], X[1] - X[0]]))
    x = np.random.default_rng(0).uniform(-1, 1, size=(50, 2))
    J, err, nfev = fd_jacobian(g, x)
    assert len(calls) == 1  # a quadratic needs no refinement
    assert calls[0] == 50 * nfev
    assert nfev == 2 * fd_stencil(2, 5).nfev


def test_chunk_size_bounds_calls_and_keeps_results():
    x = np.random.default_rng(1).uniform(-1, 1, size=(6, 2))
    J0, e0, n0 = fd_jacobian(f_mixed, x)
    g, calls = counting(f_mixed)
    J1, e1, n1 = fd_jacobian(g, x, chunk_size=7)
    assert max(calls) <= 7 and len(calls) > 1
    np.testing.assert_allclose(J1, J0, rtol=1e-14)
    np.testing.assert_allclose(e1, e0, rtol=1e-12)
    assert n1 == n0


def test_fewer_evaluations_than_numdifftools_default():
    # numdifftools' default Jacobian costs 30 n + 1 evaluations; ours 10 n (+ refinement)
    x = np.array([[0.3, -1.2]])
    g, calls = counting(f_mixed)
    _, _, nfev = fd_jacobian(g, x)
    assert sum(calls) == nfev < 30 * 2 + 1


# ---------------------------------------------------------------------------
# the error estimate bounds the true error
# ---------------------------------------------------------------------------
SCALAR = [
    (lambda x: np.exp(x), lambda x: np.exp(x), (-5, 5)),
    (lambda x: np.sin(3 * x), lambda x: 3 * np.cos(3 * x), (-4, 4)),
    (lambda x: 1 / (1 + 25 * x * x), lambda x: -50 * x / (1 + 25 * x * x) ** 2, (-1, 1)),
    (lambda x: np.arctan(10 * x), lambda x: 10 / (1 + 100 * x * x), (-0.5, 0.5)),
    (lambda x: np.log(x), lambda x: 1 / x, (0.3, 50)),
    (lambda x: np.sqrt(x), lambda x: 0.5 / np.sqrt(x), (0.3, 50)),
    (lambda x: x**5 - x, lambda x: 5 * x**4 - 1, (-3, 3)),
    (lambda x: np.exp(-x * x), lambda x: -2 * x * np.exp(-x * x), (-4, 4)),
    (lambda x: np.tanh(5 * x), lambda x: 5 / np.cosh(5 * x) ** 2, (-2, 2)),
    (lambda x: x * np.exp(x) + 1e5, lambda x: (1 + x) * np.exp(x), (-2, 2)),
]


@pytest.mark.parametrize("order", [2, 4])
def test_error_estimate_bounds_true_error(order):
    rng = np.random.default_rng(11)
    violations = 0
    total = 0
    for f, df, (lo, hi) in SCALAR:
        x = rng.uniform(lo, hi, size=60)
        J, err, _ = fd_jacobian(lambda X, f=f: f(X), x[:, None], order=order)
        true = np.abs(J[:, 0, 0] - df(x))
        violations += int(np.sum(~(true <= err[:, 0, 0])))
        total += x.size
        # conservative but not silly: the median estimate is not wildly above rounding level
        assert np.median(err[:, 0, 0] / np.maximum(np.abs(df(x)), 1e-300)) < 1e-6
    assert violations == 0, f"{violations} of {total}"


@settings(max_examples=40, deadline=None)
@given(coef=st.lists(st.floats(-10, 10), min_size=1, max_size=7),
       x0=st.floats(-3, 3), scale=st.sampled_from([1e-6, 1.0, 1e6]))
def test_polynomials_property(coef, x0, scale):
    # p(x) = sum_k c_k (x / scale)^k, p'(x) = sum_k k c_k x^(k-1) / scale^k
    x = x0 * scale

    def f(X):
        u = X[0] / scale
        return sum(c * u**k for k, c in enumerate(coef))[None, :]

    dp = sum(k * c * (x / scale) ** (k - 1) / scale for k, c in enumerate(coef) if k > 0)
    J, err, _ = fd_jacobian(f, [[x]], typical_x=scale)
    assert abs(J[0, 0, 0] - dp) <= err[0, 0, 0]


# ---------------------------------------------------------------------------
# non-finite values
# ---------------------------------------------------------------------------
def test_domain_edge_uses_the_finite_small_steps():
    # log at 0.1: the largest steps (0.25, 0.125) leave the domain; smaller ones do not
    def f(X):
        return np.log(X)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        J, err, _ = fd_jacobian(f, [[0.1]])
    assert abs(J[0, 0, 0] - 10.0) < 1e-9 and abs(J[0, 0, 0] - 10.0) <= err[0, 0, 0]
    J, err, _ = fd_jacobian(f, [[0.1]], drop_nonfinite=False)
    assert np.isnan(J[0, 0, 0]) and err[0, 0, 0] == np.inf


def test_nonfinite_entries_are_nan_with_infinite_error():
    def f(X):  # row 0 is undefined for x0 <= 0, row 1 everywhere fine
        return np.stack([np.log(X[0]) + X[1], X[0] * X[1]])

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        J, err, _ = fd_jacobian(f, [[-1.0, 2.0], [2.0, 3.0]])
    assert np.isnan(J[0, 0, 0]) and err[0, 0, 0] == np.inf
    assert np.isnan(J[0, 0, 1]) and err[0, 0, 1] == np.inf
    np.testing.assert_allclose(J[0, 1], [2.0, -1.0], rtol=1e-12)  # the healthy row survives
    np.testing.assert_allclose(J[1], [[0.5, 1.0], [3.0, 2.0]], rtol=1e-12)


def test_overflow_inside_f_emits_no_warning():
    def f(X):
        return np.exp(800 * X)  # overflows at the larger steps around x = 0.8

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        J, err, _ = fd_jacobian(f, [[0.8]])
    assert np.isnan(J[0, 0, 0]) or abs(J[0, 0, 0] - 800 * math.exp(640)) <= err[0, 0, 0]


def test_nonfinite_point_is_not_evaluated():
    g, calls = counting(f_mixed)
    x = np.array([[0.3, -1.2], [np.nan, 1.0], [1.0, np.inf]])
    J, err, nfev = fd_jacobian(g, x)
    assert np.all(np.isnan(J[1:])) and np.all(err[1:] == np.inf)
    np.testing.assert_allclose(J[0], j_mixed(x[0]), rtol=1e-10)
    assert sum(calls) == nfev  # only the finite point was perturbed
    J, err, _ = fd_jacobian(f_mixed, np.full((2, 2), np.nan))
    assert J.shape == (2, 3, 2) and np.all(np.isnan(J))


# ---------------------------------------------------------------------------
# directional derivatives
# ---------------------------------------------------------------------------
def test_fd_jvp_matches_hand_jacobian_times_v():
    rng = np.random.default_rng(5)
    x = rng.uniform(-1.5, 1.5, size=(8, 2))
    v = rng.normal(size=(8, 2))
    jv, err, nfev = fd_jvp(f_mixed, x, v)
    ref = np.stack([j_mixed(x[k]) @ v[k] for k in range(8)])
    assert jv.shape == err.shape == (8, 3)
    assert np.max(np.abs(jv - ref) / np.maximum(np.abs(ref), 1e-3)) < 1e-10
    assert np.all(np.abs(jv - ref) <= err)
    assert nfev >= 10


def test_fd_jvp_broadcast_direction_and_zero_direction():
    x = np.array([[0.3, -1.2], [1.0, 2.0]])
    jv, err, _ = fd_jvp(f_mixed, x, [0.0, 1.0])
    np.testing.assert_allclose(jv, np.stack([j_mixed(p)[:, 1] for p in x]), rtol=1e-10)
    jv0, err0, _ = fd_jvp(f_mixed, x, [0.0, 0.0])
    assert np.all(jv0 == 0.0) and np.all(np.isfinite(err0))


def test_complex_step_accuracy_and_cost():
    g, calls = counting(lambda X: f_trig(X))
    x = np.array([[0.4, -0.8], [2.0, 1.5], [-1.0, 0.1]])
    J, err, nfev = complex_step_jacobian(g, x)
    Jt = np.stack([j_trig(p) for p in x])
    assert nfev == 2 and sum(calls) == 3 * 2 and len(calls) == 1
    assert np.max(np.abs(J - Jt) / np.abs(Jt)) < 1e-13
    assert np.all(np.abs(J - Jt) <= err)
    assert np.all(err < 1e-13 * np.abs(Jt) + 1e-300)


def test_complex_step_needs_complex_propagation():
    with pytest.raises(TypeError):
        complex_step_jacobian(lambda X: np.abs(X).real, [[1.0]])


def test_complex_step_nonfinite_and_jvp():
    def f(X):  # exp overflows at x0 = 800
        return np.stack([np.exp(X[0]) * X[1], X[0] * X[1]])

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        J, err, _ = complex_step_jacobian(f, [[800.0, 2.0], [0.5, 3.0]])
    assert np.isnan(J[0, 0, 0]) and err[0, 0, 0] == np.inf
    np.testing.assert_allclose(J[0, 1], [2.0, 800.0], rtol=1e-15)
    e05 = math.exp(0.5)
    np.testing.assert_allclose(J[1], [[3 * e05, e05], [3.0, 0.5]], rtol=1e-14)
    jv, e, n = complex_step_jvp(f_mixed, [[0.3, -1.2]], [2.0, -1.0])
    np.testing.assert_allclose(jv[0], j_mixed([0.3, -1.2]) @ [2.0, -1.0], rtol=1e-14)
    assert n == 1 and np.all(np.abs(jv[0] - j_mixed([0.3, -1.2]) @ [2.0, -1.0]) <= e[0])


# ---------------------------------------------------------------------------
# argument checking
# ---------------------------------------------------------------------------
def test_bad_arguments():
    with pytest.raises(ValueError):
        fd_jacobian(f_mixed, [0.3, 1.0])  # x must be (N, n)
    with pytest.raises(ValueError):
        fd_jacobian(f_mixed, [[0.3, 1.0]], order=3)
    with pytest.raises(ValueError):
        fd_jacobian(f_mixed, [[0.3, 1.0]], levels=1)
    with pytest.raises(ValueError):
        fd_jacobian(lambda X: X[0], [[0.3, 1.0]])  # 1-D output
    with pytest.raises(ValueError):
        fd_jvp(f_mixed, [[0.3, 1.0]], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        fd_jacobian(f_mixed, [[0.3, 1.0]], typical_x=0.0)
