"""Hessian analysis, dense and matrix-free (jacli.curvature).

References are derived independently: analytic Hessians of textbook functions, dense
``eigvalsh`` / ``eigvalsh_tridiagonal``, matrices built from a known spectrum, and
finite differences of an explicit least-squares objective.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jacli import curvature as cv
from jacli.curvature import (CurvatureError, NotPositiveDefinite, analyze, analyze_batch,
                             dense_fits, diagonal_estimate, extreme_eigenvalues, gauss_newton,
                             hutchinson_trace, logdet_slq)
from jacli.errors import UsageError
from jacli.results import Status

EPS = np.finfo(float).eps


# --------------------------------------------------------------------------- helpers


def rotated(lam, seed=0):
    """Dense symmetric matrix with eigenvalues ``lam`` (random orthogonal eigenvectors)."""
    n = len(lam)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    H = (Q * np.asarray(lam, float)) @ Q.T
    return 0.5 * (H + H.T)


def rosen_tridiagonal(x):
    """Diagonal and off-diagonal of the Hessian of scipy's (chained) Rosenbrock function."""
    d = np.zeros_like(x)
    d[:-1] = 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    d[1:] += 200
    return d, -400 * x[:-1]


def tridiagonal_hvp(d, e):
    def hvp(v):
        out = d * v
        out[:-1] += e * v[1:]
        out[1:] += e * v[:-1]
        return out

    def hvp_block(V):
        out = d[:, None] * V
        out[:-1] += e[:, None] * V[1:]
        out[1:] += e[:, None] * V[:-1]
        return out

    return hvp, hvp_block


class SpectralOperator:
    """H = Pᵀ C ᵀ diag(lam) C P with C the orthonormal DCT-II and P random signs.

    An exactly known spectrum with dense, delocalised eigenvectors, applied in O(k log k):
    the references need no O(k³) dense factorisation.
    """

    def __init__(self, lam, seed=0):
        self.lam = np.asarray(lam, float)
        self.signs = np.random.default_rng(seed).choice([-1.0, 1.0], len(self.lam))

    def __call__(self, v):
        from scipy.fft import dct, idct

        return self.signs * idct(self.lam * dct(self.signs * v, norm="ortho"), norm="ortho")

    def block(self, V):
        from scipy.fft import dct, idct

        s = self.signs[:, None]
        return s * idct(self.lam[:, None] * dct(s * V, axis=0, norm="ortho"), axis=0, norm="ortho")

    def diagonal(self):
        from scipy.fft import dct

        C = dct(np.eye(len(self.lam)), axis=0, norm="ortho")      # columns: C e_j
        return (self.lam[:, None] * C**2).sum(axis=0)


class Counting:
    """Wraps an hvp and counts its calls: the reference for the reported HVP counts."""

    def __init__(self, hvp):
        self.hvp, self.calls = hvp, 0

    def __call__(self, v):
        self.calls += 1
        return self.hvp(v)


# --------------------------------------------------------------------------- dense: known points


def test_rosenbrock_minimum():
    # f = 100 (y - x²)² + (1 - x)²: H = [[1200x² - 400y + 2, -400x], [-400x, 200]] at (1, 1).
    x, y = 1.0, 1.0
    H = np.array([[1200 * x**2 - 400 * y + 2, -400 * x], [-400 * x, 200.0]])
    assert H.tolist() == [[802.0, -400.0], [-400.0, 200.0]]
    rep = analyze(H, g=[0.0, 0.0])
    lam = np.array([(1002 - math.sqrt(1002**2 - 4 * 400)) / 2, (1002 + math.sqrt(1002**2 - 4 * 400)) / 2])
    np.testing.assert_allclose(rep.eigenvalues, lam, rtol=1e-12)     # det 400, trace 1002
    assert rep.definiteness == "positive definite"
    assert rep.classification == "minimum" and rep.critical is True
    assert rep.inertia == (2, 0, 0) and rep.rank == 2
    assert rep.condition == pytest.approx(lam[1] / lam[0], rel=1e-12)
    assert rep.asymmetry == 0.0 and rep.status is Status.OK and rep.ok


@pytest.mark.parametrize("H, definiteness, classification, inertia", [
    ([[2.0, 0.0], [0.0, -2.0]], "indefinite", "saddle", (1, 0, 1)),                  # x² − y²
    ([[-2.0, 0.0], [0.0, -2.0]], "negative definite", "maximum", (0, 0, 2)),         # −x² − y²
    ([[0.0, 0.0], [0.0, 2.0]], "positive semidefinite", "degenerate", (1, 1, 0)),    # x⁴ + y²
    ([[0.0, 0.0], [0.0, -2.0]], "negative semidefinite", "degenerate", (0, 1, 1)),   # −x⁴ − y²
    ([[0.0, 0.0], [0.0, 0.0]], "zero", "degenerate", (0, 2, 0)),                     # x⁴ + y⁴
    (np.diag([2.0, 0.0, -1.0]), "indefinite", "saddle", (1, 1, 1)),                  # both signs decide
])
def test_classification_at_critical_points(H, definiteness, classification, inertia):
    rep = analyze(H, g=np.zeros(len(H)))
    assert rep.definiteness == definiteness
    assert rep.classification == classification
    assert rep.inertia == inertia
    assert rep.rank == inertia[0] + inertia[2]
    assert (rep.condition == math.inf) == (inertia[1] > 0)


def test_not_critical_and_no_gradient():
    H = [[2.0, 0.0], [0.0, -2.0]]
    rep = analyze(H, g=[1.0, 0.0])
    assert rep.critical is False and rep.classification is None and rep.gradient_norm == 1.0
    rep = analyze(H)
    assert rep.critical is None and rep.classification is None and rep.gradient_norm is None


def test_default_gtol_scales_with_hessian():
    H = np.array([[802.0, -400.0], [-400.0, 200.0]])
    rep = analyze(H, g=[1e-9, 0.0])
    assert rep.gtol == pytest.approx(math.sqrt(EPS) * rep.eigenvalues[-1])
    assert rep.critical and rep.classification == "minimum"
    assert analyze(H, g=[1e-9, 0.0], gtol=1e-12).classification is None
    # a flat function keeps the absolute floor sqrt(eps)
    assert analyze(np.eye(2) * 1e-3, g=[0.0, 0.0]).gtol == pytest.approx(math.sqrt(EPS))


# --------------------------------------------------------------------------- dense: tolerances


def test_rounding_level_negative_eigenvalue_is_semidefinite():
    # v vᵀ is PSD of rank 1; eigvalsh returns eigenvalues of order ±eps·|v|² for the null space.
    v = np.array([0.3, -1.7, 2.9, 0.01, -4.4])
    H = np.outer(v, v)
    lam = np.linalg.eigvalsh(H)
    assert lam[0] < 0.0, "the construction must produce a rounding-level negative eigenvalue"
    rep = analyze(H)
    assert rep.definiteness == "positive semidefinite"
    assert rep.rank == 1 and rep.inertia == (1, 4, 0)
    assert abs(lam[0]) <= rep.zero_tol


def test_explicit_rtol_for_inexact_hessians():
    H = np.diag([1.0, 3.0, -1e-6])                 # -1e-6: e.g. finite-difference noise
    assert analyze(H).definiteness == "indefinite"
    rep = analyze(H, rtol=1e-5, g=np.zeros(3))
    assert rep.definiteness == "positive semidefinite" and rep.classification == "degenerate"
    assert rep.zero_tol == pytest.approx(3e-5)


def test_tiny_eigenvalue_above_tolerance_counts():
    rep = analyze(np.diag([1.0, 1e-10]))            # well above 100·k·eps
    assert rep.definiteness == "positive definite"
    assert rep.condition == pytest.approx(1e10)


def test_scale_invariance():
    H = np.array([[802.0, -400.0], [-400.0, 200.0]])
    for s in (1e-200, 1e-20, 1.0, 1e20, 1e200):
        rep = analyze(s * H)
        assert rep.definiteness == "positive definite" and rep.condition == pytest.approx(analyze(H).condition)


def test_asymmetry_is_reported_and_symmetric_part_analysed():
    H = np.array([[1.0, 2e-3], [0.0, 1.0]])
    rep = analyze(H)
    assert rep.asymmetry == pytest.approx(np.linalg.norm(H - H.T) / np.linalg.norm(H))
    np.testing.assert_allclose(rep.eigenvalues, [1 - 1e-3, 1 + 1e-3])
    assert any("not symmetric" in n for n in rep.notes)
    assert analyze(np.eye(2)).notes == ()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([-1, 0, 1]), min_size=1, max_size=12),
       st.floats(1e-3, 1e3), st.integers(0, 2**31 - 1))
def test_inertia_of_rotated_spectra(signs, magnitude, seed):
    """Sylvester: inertia is invariant under the orthogonal change of basis."""
    rng = np.random.default_rng(seed)
    lam = np.array(signs, float) * rng.uniform(1.0, 10.0, len(signs)) * magnitude
    rep = analyze(rotated(lam, seed))
    expect = (sum(s > 0 for s in signs), sum(s == 0 for s in signs), sum(s < 0 for s in signs))
    assert rep.inertia == expect


def test_eigenvalues_read_only_and_report_frozen():
    rep = analyze(np.eye(2))
    with pytest.raises(ValueError):
        rep.eigenvalues[0] = 5.0
    with pytest.raises(AttributeError):
        rep.rank = 3


# --------------------------------------------------------------------------- dense: validation and JSON


@pytest.mark.parametrize("H, g, kw, match", [
    ([[1.0, 2.0, 3.0]], None, {}, r"H must be a square matrix \(k, k\), got shape \(1, 3\)"),
    (np.zeros((0, 0)), None, {}, "at least 1 × 1"),
    ([[1.0, np.nan], [np.nan, 1.0]], None, {}, "H has 2 non-finite entries"),
    ([["a"]], None, {}, "H must be an array of numbers"),
    (np.eye(2) * 1j, None, {}, "H must be real, got complex values"),
    (np.eye(2), [0.0, 0.0, 0.0], {}, r"g must have shape \(2,\) to match H, got \(3,\)"),
    (np.eye(2), [np.inf, 0.0], {}, "g has non-finite entries"),
    (np.eye(2), None, {"rtol": 1.5}, r"rtol must be in \[0, 1\)"),
    (np.eye(2), None, {"gtol": -1.0}, "gtol must be a finite number >= 0"),
])
def test_analyze_validation(H, g, kw, match):
    with pytest.raises(CurvatureError, match=match) as info:
        analyze(H, g, **kw)
    assert isinstance(info.value, ValueError) and isinstance(info.value, UsageError)


def test_to_dict_is_strict_json():
    d = analyze(np.diag([2.0, 0.0]), g=[0.0, 0.0]).to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert back["condition"] is None and "condition is inf; written as null" in back["notes"]
    assert back["inertia"] == {"positive": 1, "zero": 1, "negative": 0}
    assert back["eigenvalues"] == [0.0, 2.0] and back["classification"] == "degenerate"
    assert back["status"] == "ok" and back["critical"] is True


# --------------------------------------------------------------------------- dense: batch


def test_analyze_batch_matches_analyze_and_isolates_failures():
    H = np.stack([np.diag([1.0, 2.0]), np.diag([np.nan, 1.0]), np.diag([-1.0, 1.0]), np.diag([0.0, 3.0])])
    g = np.array([[0.0, 0.0], [0.0, 0.0], [np.nan, 0.0], [0.0, 0.0]])
    reps = analyze_batch(H, g)
    assert [r.status for r in reps] == [Status.OK, Status.NONFINITE, Status.NONFINITE, Status.OK]
    assert reps[0].classification == analyze(H[0], g[0]).classification == "minimum"
    assert reps[1].eigenvalues is None and "non-finite" in reps[1].message
    assert reps[2].definiteness == "indefinite" and reps[2].critical is None   # H analysed, g not
    assert "gradient" in reps[2].message
    assert reps[3].classification == "degenerate"
    json.dumps([r.to_dict() for r in reps], allow_nan=False)


def test_analyze_batch_random_stack_equals_loop():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((20, 6, 6))
    H = A + np.swapaxes(A, 1, 2)
    for r, Hi in zip(analyze_batch(H), H):
        one = analyze(Hi)
        np.testing.assert_allclose(r.eigenvalues, one.eigenvalues, rtol=1e-12, atol=1e-12)
        assert (r.definiteness, r.inertia) == (one.definiteness, one.inertia)


def test_analyze_batch_shapes():
    with pytest.raises(CurvatureError, match=r"stack of square matrices \(N, k, k\)"):
        analyze_batch(np.eye(2))
    with pytest.raises(CurvatureError, match=r"g must have shape \(1, 2\)"):
        analyze_batch(np.eye(2)[None], g=np.zeros(2))
    assert analyze_batch(np.zeros((0, 3, 3))) == []


# --------------------------------------------------------------------------- Gauss–Newton


def residuals(x):
    x0, x1, x2 = x
    return np.array([x0**2 + x1 - 1.0, math.sin(x1) * x2, math.exp(x0) - x2, x0 * x1 * x2 - 0.5])


def residual_jacobian(x):
    x0, x1, x2 = x
    return np.array([[2 * x0, 1.0, 0.0],
                     [0.0, math.cos(x1) * x2, math.sin(x1)],
                     [math.exp(x0), 0.0, -1.0],
                     [x1 * x2, x0 * x2, x0 * x1]])


def residual_hessians(x):
    x0, x1, x2 = x
    return np.array([
        [[2.0, 0, 0], [0, 0, 0], [0, 0, 0]],
        [[0, 0, 0], [0, -math.sin(x1) * x2, math.cos(x1)], [0, math.cos(x1), 0]],
        [[math.exp(x0), 0, 0], [0, 0, 0], [0, 0, 0]],
        [[0, x2, x1], [x2, 0, x0], [x1, x0, 0]],
    ])


def fd_hessian(phi, x, h=1e-4):
    """Central second differences of a scalar function (O(h²) truncation)."""
    n = len(x)
    H = np.empty((n, n))
    E = np.eye(n) * h
    for i in range(n):
        for j in range(n):
            H[i, j] = (phi(x + E[i] + E[j]) - phi(x + E[i] - E[j])
                       - phi(x - E[i] + E[j]) + phi(x - E[i] - E[j])) / (4 * h * h)
    return H


def test_gauss_newton_identity_against_finite_differences():
    x = np.array([0.3, -0.7, 1.2])
    out = gauss_newton(residual_jacobian(x), residuals(x), residual_hessians(x))
    H_fd = fd_hessian(lambda z: 0.5 * float(residuals(z) @ residuals(z)), x)
    np.testing.assert_allclose(out["hessian"], H_fd, atol=1e-6)
    np.testing.assert_allclose(out["hessian"], out["gauss_newton"] + out["residual_term"], rtol=1e-15)
    J = residual_jacobian(x)
    np.testing.assert_allclose(out["gauss_newton"], J.T @ J)
    S = out["residual_term"]
    assert out["residual_term_norm_2"] == pytest.approx(np.abs(np.linalg.eigvalsh(S)).max())
    assert out["residual_term_norm_fro"] == pytest.approx(np.linalg.norm(S))
    assert out["relative_residual_term"] == pytest.approx(
        out["residual_term_norm_2"] / np.linalg.svd(J, compute_uv=False)[0] ** 2)
    assert out["objective"] == pytest.approx(0.5 * np.sum(residuals(x) ** 2))
    assert out["relative_residual_term"] > 0.01           # this point has sizeable residuals


def test_gauss_newton_exact_for_zero_residual_and_linear_models():
    rng = np.random.default_rng(0)
    J = rng.standard_normal((5, 3))
    zero = gauss_newton(J, np.zeros(5), rng.standard_normal((5, 3, 3)))
    linear = gauss_newton(J, rng.standard_normal(5), np.zeros((5, 3, 3)))
    for out in (zero, linear):
        np.testing.assert_array_equal(out["hessian"], out["gauss_newton"])
        assert out["relative_residual_term"] == 0.0 and out["residual_term_norm_2"] == 0.0
    assert gauss_newton(np.zeros((2, 2)), np.ones(2), np.ones((2, 2, 2)))["relative_residual_term"] == math.inf


@pytest.mark.parametrize("J, f, Hs, match", [
    (np.zeros(3), np.zeros(3), np.zeros((3, 1, 1)), r"J must have shape \(m, k\)"),
    (np.zeros((3, 2)), np.zeros(2), np.zeros((3, 2, 2)), r"f must have shape \(3,\)"),
    (np.zeros((3, 2)), np.zeros(3), np.zeros((3, 3, 3)), r"Hs must have shape \(3, 2, 2\)"),
    (np.full((3, 2), np.nan), np.zeros(3), np.zeros((3, 2, 2)), "J has non-finite entries"),
])
def test_gauss_newton_validation(J, f, Hs, match):
    with pytest.raises(CurvatureError, match=match):
        gauss_newton(J, f, Hs)


# --------------------------------------------------------------------------- extreme eigenvalues


@pytest.fixture(scope="module")
def rosen_1000():
    x = np.random.default_rng(42).uniform(-2, 2, 1000)
    d, e = rosen_tridiagonal(x)
    from scipy.linalg import eigvalsh_tridiagonal

    return d, e, eigvalsh_tridiagonal(d, e)


def test_rosenbrock_hvp_matches_scipy(rosen_1000):
    from scipy.optimize import rosen_hess_prod

    x = np.random.default_rng(42).uniform(-2, 2, 1000)
    v = np.random.default_rng(1).standard_normal(1000)
    hvp, _ = tridiagonal_hvp(*rosen_tridiagonal(x))
    np.testing.assert_allclose(hvp(v), rosen_hess_prod(x, v), rtol=1e-13, atol=1e-10)


@pytest.mark.parametrize("which", ["both", "largest", "smallest"])
def test_extreme_eigenvalues_within_residual_bound(rosen_1000, which):
    d, e, lam = rosen_1000
    hvp, _ = tridiagonal_hvp(d, e)
    counted = Counting(hvp)
    res = extreme_eigenvalues(counted, 1000, which=which, count=5, seed=0)
    assert res.converged and res.status is Status.OK and res.method == "arpack"
    assert res.hvps == counted.calls
    scale = np.abs(lam).max()
    if which in ("both", "largest"):
        np.testing.assert_array_less(np.abs(res.largest - lam[::-1][:5]), res.largest_residuals + 1e-12 * scale)
        V = res.largest_vectors
        np.testing.assert_allclose(V.T @ V, np.eye(5), atol=1e-8)
    else:
        assert res.largest.size == 0
    if which in ("both", "smallest"):
        np.testing.assert_array_less(np.abs(res.smallest - lam[:5]), res.smallest_residuals + 1e-12 * scale)
    else:
        assert res.smallest.size == 0
    assert max(res.largest_residuals.max(initial=0), res.smallest_residuals.max(initial=0)) <= 1e-6 * scale
    json.dumps(res.to_dict(), allow_nan=False)


def test_extreme_eigenvalues_block_and_seed_reproducible(rosen_1000):
    d, e, _ = rosen_1000
    hvp, hvp_block = tridiagonal_hvp(d, e)
    a = extreme_eigenvalues(hvp, 1000, which="largest", count=3, seed=7)
    b = extreme_eigenvalues(hvp, 1000, which="largest", count=3, seed=7, hvp_block=hvp_block)
    np.testing.assert_array_equal(a.largest, b.largest)
    assert a.hvps == b.hvps


def test_extreme_eigenvalues_tighter_tol_costs_more(rosen_1000):
    d, e, lam = rosen_1000
    hvp, _ = tridiagonal_hvp(d, e)
    loose = extreme_eigenvalues(hvp, 1000, which="largest", count=5, tol=1e-4, seed=0)
    tight = extreme_eigenvalues(hvp, 1000, which="largest", count=5, tol=0.0, seed=0)
    assert tight.hvps > loose.hvps
    assert tight.largest_residuals.max() < loose.largest_residuals.max()


@pytest.mark.parametrize("scale", [1e-20, 1.0, 1e20])
def test_extreme_eigenvalues_independent_of_units(scale):
    # Raw eigsh on the 1e-20 operator stops at once with errors ~10 % of |H| (its absolute floor).
    lam = np.linspace(-1.0, 2.0, 2000) ** 3
    res = extreme_eigenvalues(SpectralOperator(lam * scale), 2000, count=3, seed=0)
    assert res.converged
    np.testing.assert_allclose(res.largest / scale, lam[::-1][:3], rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.smallest / scale, lam[:3], rtol=0, atol=1e-10)
    assert res.largest_residuals.max() / scale < 1e-6


def test_extreme_eigenvalues_of_zero_operator():
    res = extreme_eigenvalues(lambda v: 0.0 * v, 500, count=2, seed=0)
    assert res.converged and res.largest.tolist() == res.smallest.tolist() == [0.0, 0.0]
    assert res.largest_residuals.max() == 0.0


def test_extreme_eigenvalues_small_k_is_dense():
    lam = np.linspace(-3, 5, 30)
    res = extreme_eigenvalues(lambda v, H=rotated(lam): H @ v, 30, count=4, seed=0)
    assert res.method == "dense" and res.hvps == 30 + 8     # k columns + residual checks
    np.testing.assert_allclose(res.largest, lam[::-1][:4], atol=1e-12)
    np.testing.assert_allclose(res.smallest, lam[:4], atol=1e-12)


def test_extreme_eigenvalues_not_converged_is_data(rosen_1000):
    d, e, _ = rosen_1000
    hvp, _ = tridiagonal_hvp(d, e)
    res = extreme_eigenvalues(hvp, 1000, which="smallest", count=5, maxiter=1, tol=0.0, seed=0)
    assert not res.converged and res.status is Status.NOT_CONVERGED
    assert "did not converge within maxiter=1" in res.message
    assert len(res.smallest) == len(res.smallest_residuals) < 5


@pytest.mark.parametrize("hvp, kw, match", [
    (lambda v: v[:-1], {}, r"hvp returned shape \(199,\); expected \(200,\)"),
    (lambda v: v * np.nan, {}, "hvp returned non-finite values"),
    (lambda v: v, {"which": "middle"}, "which must be 'both', 'largest' or 'smallest'"),
    (lambda v: v, {"count": 0}, "count must be an integer >= 1"),
    ("not callable", {}, "hvp must be a callable"),
    (lambda v: v, {"seed": -3}, "seed must be None, a non-negative integer"),
])
def test_extreme_eigenvalues_validation(hvp, kw, match):
    with pytest.raises(CurvatureError, match=match):
        extreme_eigenvalues(hvp, 200, **kw)


# --------------------------------------------------------------------------- trace and diagonal


@pytest.fixture(scope="module")
def decaying():
    lam = 100.0 / np.arange(1, 401) ** 1.5 + 0.5      # a few large eigenvalues, a flat tail
    return lam, SpectralOperator(lam, seed=5)


@pytest.mark.parametrize("method", ["hutch++", "hutchinson"])
def test_trace_within_three_standard_errors(decaying, method):
    lam, H = decaying
    counted = Counting(H)
    est = hutchinson_trace(counted, 400, samples=60, seed=11, method=method)
    assert abs(est.estimate - lam.sum()) <= 3 * est.standard_error
    assert est.hvps == counted.calls == 60 and est.method == method
    assert est.sketch_rank == (20 if method == "hutch++" else 0)


def test_hutchpp_beats_hutchinson_on_decaying_spectrum(decaying):
    _, H = decaying
    plain = hutchinson_trace(H, 400, samples=90, seed=0, method="hutchinson")
    plus = hutchinson_trace(H, 400, samples=90, seed=0, method="hutch++")
    assert plus.standard_error < plain.standard_error / 5


@pytest.mark.parametrize("method, budgets", [("hutch++", (24, 48, 192)), ("hutchinson", (24, 96, 384))])
def test_trace_error_shrinks_with_samples(decaying, method, budgets):
    lam, H = decaying
    se = [hutchinson_trace(H, 400, samples=s, seed=2, method=method).standard_error for s in budgets]
    assert se[0] > se[1] > se[2]
    assert se[2] < se[0] / 2.5          # 16x budget: ~1/4 at rate m^(-1/2); 8x for Hutch++: faster
    err = [abs(hutchinson_trace(H, 400, samples=s, seed=seed, method=method).estimate
               - lam.sum()) for s in (24, 192) for seed in range(6)]
    assert np.mean(err[6:]) < np.mean(err[:6])


def test_trace_block_path_and_exact_path(decaying):
    lam, H = decaying
    a = hutchinson_trace(H, 400, samples=30, seed=4)
    b = hutchinson_trace(H, 400, samples=30, seed=4, hvp_block=H.block)
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12) and a.hvps == b.hvps
    exact = hutchinson_trace(H, 400, samples=400, seed=0)
    assert exact.method == "exact" and exact.standard_error == 0.0 and exact.hvps == 400
    assert exact.estimate == pytest.approx(lam.sum(), rel=1e-12)


def test_seed_none_is_recorded_and_replays(decaying):
    _, H = decaying
    a = hutchinson_trace(H, 400, samples=12)
    assert isinstance(a.seed, int)
    assert hutchinson_trace(H, 400, samples=12, seed=a.seed).estimate == a.estimate


def test_trace_validation():
    with pytest.raises(CurvatureError, match="samples must be an integer >= 4"):
        hutchinson_trace(lambda v: v, 100, samples=3)
    with pytest.raises(CurvatureError, match="method must be 'hutch\\+\\+' or 'hutchinson'"):
        hutchinson_trace(lambda v: v, 100, method="girard")
    with pytest.raises(CurvatureError, match=r"hvp_block returned shape \(100, 1\); expected \(100, 4\)"):
        hutchinson_trace(lambda v: v, 100, samples=12, hvp_block=lambda V: V[:, :1])


def test_diagonal_within_standard_errors_and_shrinks(decaying):
    _, H = decaying
    true = H.diagonal()
    small = diagonal_estimate(H, 400, samples=40, seed=0)
    large = diagonal_estimate(H, 400, samples=320, seed=0, hvp_block=H.block)
    for est in (small, large):
        z = np.abs(est.estimate - true) / est.standard_error
        assert np.mean(z <= 3) >= 0.97 and z.max() < 5
    assert small.hvps == 40 and large.hvps == 320
    ratio = np.median(large.standard_error / small.standard_error)
    assert 0.25 < ratio < 0.45                           # sqrt(40/320) = 0.354
    exact = diagonal_estimate(H, 400, samples=1000)
    assert exact.method == "exact" and exact.hvps == 400
    np.testing.assert_allclose(exact.estimate, true, rtol=1e-12)
    assert len(json.loads(json.dumps(small.to_dict()))["estimate"]) == 400


def test_diagonal_of_diagonal_matrix_is_exact():
    d = np.linspace(1, 2, 50)
    est = diagonal_estimate(lambda v: d * v, 50, samples=5, seed=0)
    np.testing.assert_allclose(est.estimate, d, rtol=1e-14)
    np.testing.assert_allclose(est.standard_error, 0.0, atol=1e-14)


# --------------------------------------------------------------------------- log-determinant


def test_logdet_within_three_standard_errors():
    lam = np.geomspace(0.1, 10.0, 300)                  # condition number 100
    H = SpectralOperator(lam, seed=9)
    counted = Counting(H)
    est = logdet_slq(counted, 300, probes=30, lanczos_steps=25, seed=3)
    assert abs(est.estimate - np.log(lam).sum()) <= 3 * est.standard_error
    assert est.hvps == counted.calls == 30 * 25
    assert lam[0] <= est.ritz_min and est.ritz_max <= lam[-1] * (1 + 1e-12)
    assert est.quadrature_change < est.standard_error and est.notes == ()
    block = logdet_slq(H, 300, probes=30, lanczos_steps=25, seed=3, hvp_block=H.block)
    assert block.estimate == pytest.approx(est.estimate, rel=1e-10) and block.hvps == est.hvps


def test_logdet_error_shrinks_with_probes():
    lam = np.linspace(0.5, 4.0, 300)
    H = SpectralOperator(lam, seed=1)
    se = [logdet_slq(H, 300, probes=p, lanczos_steps=15, seed=0).standard_error
          for p in (8, 128)]
    assert se[1] < se[0] / 2.5                           # ~1/4


def test_logdet_stops_at_invariant_subspace():
    # H = 2 I: every Krylov space is one-dimensional, one HVP per probe, exact k·log 2.
    est = logdet_slq(lambda v: 2.0 * v, 1000, probes=5, lanczos_steps=30, seed=0)
    assert est.hvps == 5
    assert est.estimate == pytest.approx(1000 * math.log(2.0), rel=1e-13)
    assert est.standard_error == pytest.approx(0.0, abs=1e-9) and est.quadrature_change == 0.0


def test_logdet_flags_unsettled_quadrature():
    lam = np.geomspace(1e-4, 1.0, 300)                  # condition 1e4 needs ~100 steps
    H = SpectralOperator(lam, seed=2)
    est = logdet_slq(H, 300, probes=4, lanczos_steps=5, seed=0)
    assert any("has not settled" in n for n in est.notes)
    assert est.to_dict()["notes"] == list(est.notes)


def test_logdet_refuses_indefinite():
    lam = np.concatenate([[-0.5], np.linspace(1.0, 3.0, 199)])
    H = SpectralOperator(lam, seed=4)
    match = r"probe 0 found a Ritz value .* <= 0.*not positive definite"
    with pytest.raises(NotPositiveDefinite, match=match) as info:
        logdet_slq(H, 200, probes=4, lanczos_steps=20, seed=0)
    assert isinstance(info.value, ValueError)


# --------------------------------------------------------------------------- memory


def test_matrix_free_path_allocates_no_dense_matrix():
    k = 200_000                                          # dense: 320 GB
    d = 2.0 + np.sin(np.arange(k))                       # in [1, 3]
    d[:2] = [20.0, 10.0]                                 # two well-separated top eigenvalues
    e = np.full(k - 1, 0.25)                             # Gershgorin: H >= 0.5 I
    hvp, hvp_block = tridiagonal_hvp(d, e)
    vector = 8 * k
    tracemalloc.start()
    try:
        top = extreme_eigenvalues(hvp, k, which="largest", count=2, seed=0)
        _, peak_eig = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        tr = hutchinson_trace(hvp, k, samples=12, seed=0, hvp_block=hvp_block)
        dg = diagonal_estimate(hvp, k, samples=4, seed=0)
        ld = logdet_slq(hvp, k, probes=2, lanczos_steps=8, seed=0)
        _, peak_rest = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert top.converged and top.largest[0] == pytest.approx(20.0, abs=0.01)
    assert abs(tr.estimate - d.sum()) <= 4 * tr.standard_error + 1e-6 * d.sum()
    assert dg.estimate.shape == (k,) and ld.hvps == 16
    # ARPACK holds its ncv = 20 basis, and a second copy while it extracts eigenvectors.
    assert peak_eig < 64 * vector, f"eigsh peak {peak_eig / 2**20:.0f} MiB"
    assert peak_rest < 40 * vector, f"estimators peak {peak_rest / 2**20:.0f} MiB"


def test_dense_fits():
    fits, needed, available = dense_fits(1000)
    assert fits and needed == 8_000_000 and available > 0
    fits, needed, _ = dense_fits(10**6, count=2)
    assert not fits and needed == 16 * 10**12
    with pytest.raises(CurvatureError, match=r"fraction must be in \(0, 1\]"):
        dense_fits(10, fraction=0.0)


def test_available_memory_falls_back_to_4_gib(monkeypatch):
    def no_file(*args, **kwargs):
        raise OSError("no /proc here")

    def no_sysconf(name):
        raise ValueError(name)

    monkeypatch.setattr(cv, "open", no_file, raising=False)
    monkeypatch.setattr(cv.os, "sysconf", no_sysconf)
    assert cv._available_memory() == (4 * 2**30, "assumed 4 GiB")
    assert dense_fits(16384)[0] is True and dense_fits(16385)[0] is False     # 0.5 · 4 GiB


def test_import_is_light():
    code = "import jacli.curvature, sys; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
