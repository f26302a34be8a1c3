"""The conformance suite's second order: its references, and its negative control.

The built-ins run the second-order checks in ``test_conformance.py`` (``TestSympy``,
``TestFiniteDiff``, ``TestComplexStep``, ``TestJax``, ``TestTorch``, known failures there).  Here:

* the hand-derived Hessians agree with differences of the hand-derived Jacobians (no
  backend involved), are symmetric, and cover what the design asks for;
* a backend without ``second_order`` passes the suite by refusing Hessians;
* deliberately broken second-order backends fail it, each on the check meant for its bug.
"""
from __future__ import annotations

import numpy as np
import pytest

from jacli.backends import Backend, Block, Capabilities, Prep, make_prep
from jacli.backends.finite_diff import FiniteDiff
from jacli.backends.symbolic import Symbolic
from jacli.testing import CHECKS, SCENARIOS, BackendConformance, run_suite, scenario

SECOND_ORDER = [n for n, c in CHECKS.items() if c.order == 2]


@pytest.fixture(autouse=True, scope="module")
def _private_cache(tmp_path_factory):
    """Generated-code cache in a temporary directory, not the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JACLI_CACHE_DIR", str(tmp_path_factory.mktemp("jacli-cache")))
        yield


# ----------------------------------------------------------------------------- the references

WITH_HESSIAN = [s for s in SCENARIOS if s.has_hessian]


def _differences_of_jacobian(sc, x, p, columns, inputs, floor):
    """Fourth-order central differences of the hand-written Jacobian, (m, ncols, ncols)."""
    def J(xx, pp):
        with np.errstate(all="ignore"):
            return np.asarray(sc.jacobian(np.asarray(xx, dtype=float), pp), dtype=float).reshape(-1, len(columns))

    cols = []
    for name in columns:
        def g(t, name=name):
            if name in inputs:
                xx = np.array(x, dtype=float)
                xx[inputs.index(name)] = t
                return J(xx, p)
            return J(x, {**p, name: t})
        t0 = float(x[inputs.index(name)]) if name in inputs else float(p[name])
        h = 2e-4 * max(abs(t0), floor) if (t0 != 0 or floor) else 2e-4
        cols.append((-g(t0 + 2 * h) + 8 * g(t0 + h) - 8 * g(t0 - h) + g(t0 - 2 * h)) / (12 * h))
    return np.stack(cols, axis=-1)


@pytest.mark.parametrize("sc", WITH_HESSIAN, ids=[s.name for s in WITH_HESSIAN])
def test_scenario_hessian_matches_its_jacobian(sc):
    """The hand-derived Hessian agrees with differences of the hand-derived Jacobian (no backend).

    Steps relative to |x| suit functions that vary on the scale of x (a/b at 1e-8); steps
    floored at 1 suit functions that vary on the unit scale at tiny x (sin(x) at 1e-8):
    the reference must agree with one of them.
    """
    model = sc.model()
    inputs = list(model.input_names)
    columns = list(sc.columns) if sc.columns is not None else inputs
    p = model.param_values
    for i in sc.ok_points():
        x = sc.points[i]
        with np.errstate(all="ignore"):
            ref = np.asarray(sc.hessian(np.asarray(x, dtype=float), p), dtype=float)
        ref = ref.reshape(-1, len(columns), len(columns))
        errors = []
        for floor in (0.0, 1.0):
            approx = _differences_of_jacobian(sc, x, p, columns, inputs, floor)
            try:
                np.testing.assert_allclose(ref, approx, rtol=1e-6, atol=1e-8 * np.abs(ref).max(),
                                           err_msg=f"scenario {sc.name!r}, point {i}: Hessian reference vs "
                                                   f"differences of the Jacobian reference (step floor {floor})")
                break
            except AssertionError as exc:
                errors.append(str(exc))
        else:
            raise AssertionError("\n".join(errors))


@pytest.mark.parametrize("sc", WITH_HESSIAN, ids=[s.name for s in WITH_HESSIAN])
def test_scenario_hessian_is_well_formed(sc):
    model = sc.model()
    V, G, H = sc.hessian_reference()
    N, m, k = len(sc.points), len(model.outputs), len(sc.second_order_names())
    assert H.shape == (N, m, k, k) and G.shape == (N, m, k)
    ok = sc.ok_points()
    assert np.isfinite(H[ok]).all() and np.isnan(H[sorted(sc.domain_errors)]).all()
    assert np.array_equal(H[ok], np.swapaxes(H[ok], 2, 3)), "a hand-written Hessian must be symmetric"
    cols = tuple(sc.columns) if sc.columns is not None else model.input_names
    assert set(sc.second_order_names()) <= set(cols)
    assert sc.hessian_hard <= set(ok)
    # entries where an output ignores a variable are identically zero in the reference
    assert not (sc.independent_hessian_entries() & sc.expected_hessian_structure()).any()
    if sc.alt_params:
        _, _, Halt = sc.hessian_reference(params=dict(sc.alt_params))
        assert np.isfinite(Halt[ok]).all()


def test_second_order_scenarios_cover_the_design():
    have = {s.name for s in WITH_HESSIAN}
    assert {"scalar", "wide", "tall", "parameters", "transcendental", "tridiagonal", "large_magnitudes",
            "tiny_magnitudes", "rosenbrock", "saddle", "non_analytic", "domain_error", "batch"} <= have
    params = scenario("parameters")
    assert set(params.second_order_names()) & set(params.model().parameter_names), "wrt includes a parameter"
    ros = scenario("rosenbrock")
    _, _, H = ros.hessian_reference()
    for (x, y), Hi in zip(ros.points, H[:, 0]):
        assert Hi.tolist() == [[1200 * x * x - 400 * y + 2, -400 * x], [-400 * x, 200]]
    _, _, H = scenario("saddle").hessian_reference()
    assert all(np.linalg.eigvalsh(h).tolist() == [-2.0, 2.0] for h in H[:, 0])
    # fd Hessians cost ~100 k^2 evaluations per point: keep k small
    assert all(len(s.second_order_names()) <= 4 for s in WITH_HESSIAN)


# ----------------------------------------------------------------------------- a backend without Hessians


class FirstOrderOnly(Backend):
    """Exact forward-mode products only (sympy's generated jvp): no vjp, no Hessians.

    A plug-in shape the built-ins do not have: first order, forward only.
    """

    name = "first-order-only"
    capabilities = Capabilities(exact=True, forward=True)

    def prepare(self, model, op, wrt=None):
        prep = make_prep(self, model, op, wrt)
        return Prep(**{**prep.__dict__, "data": Symbolic()._prepare_product(model, prep, "jvp")})

    def jvp(self, prep, A, V):
        return Symbolic._product(self, prep, A, V, len(prep.outputs))


class TestFirstOrderOnly(BackendConformance):
    backend = FirstOrderOnly()


def test_first_order_backend_refuses_hessians():
    outcomes = run_suite(FirstOrderOnly(), [scenario("wide"), scenario("rosenbrock")], checks=SECOND_ORDER)
    assert outcomes and all(o.check == "second_order_refusal" and o.ok for o in outcomes), \
        [str(o) for o in outcomes]


# ----------------------------------------------------------------------------- negative control
#
# Each broken backend has one realistic second-order bug; the second-order checks must
# fail it, on the check written for that bug.


class HessianOffByAMillionth(Symbolic):
    """Every Hessian entry off by 1e-6 relative."""

    def hessian(self, prep, A):
        b = Symbolic.hessian(self, prep, A)
        return Block(value=b.value, derivative=b.derivative * (1 + 1e-6), error=None, nfev=0, extra=b.extra)


class AsymmetricHessian(Symbolic):
    """Fills the upper triangle from one formula and the lower from another: off by 1e-9 below."""

    def hessian(self, prep, A):
        b = Symbolic.hessian(self, prep, A)
        k = b.derivative.shape[-1]
        H = b.derivative * (1 + 1e-9 * np.tril(np.ones((k, k)), -1))
        return Block(value=b.value, derivative=H, error=None, nfev=0, extra=b.extra)


class HvpIgnoresV(Symbolic):
    """Hessian-vector products along (1, ..., 1) whatever the vector."""

    def hvp(self, prep, A, V):
        return Symbolic.hvp(self, prep, A, np.ones_like(np.asarray(V, dtype=float)))


class ClaimsExactHessian(FiniteDiff):
    """Nested finite differences that declare exact=True and drop their error estimates."""

    capabilities = Capabilities(exact=True, forward=True, second_order=True)

    def jacobian(self, prep, A):
        b = FiniteDiff.jacobian(self, prep, A)
        return Block(value=b.value, derivative=b.derivative, error=None, nfev=b.nfev)

    def jvp(self, prep, A, V):
        b = FiniteDiff.jvp(self, prep, A, V)
        return Block(value=b.value, derivative=b.derivative, error=None, nfev=b.nfev)

    def hessian(self, prep, A):
        b = FiniteDiff.hessian(self, prep, A)
        return Block(value=b.value, derivative=b.derivative, error=None, nfev=b.nfev,
                     extra={"gradient": b.extra["gradient"]})


class ZeroErrorHessian(FiniteDiff):
    """Nested finite differences reporting a Hessian error estimate of 0."""

    def hessian(self, prep, A):
        b = FiniteDiff.hessian(self, prep, A)
        return Block(value=b.value, derivative=b.derivative, error=np.zeros_like(b.derivative), nfev=b.nfev,
                     extra=b.extra)


class StaleHessian(Symbolic):
    """Keeps the first point's Hessians in the Prep and returns them at every later call."""

    def prepare(self, model, op, wrt=None):
        p = Symbolic.prepare(self, model, op, wrt)
        return Prep(**{**p.__dict__, "data": (p.data, {})})

    @staticmethod
    def _inner(prep):
        return Prep(**{**prep.__dict__, "data": prep.data[0]})

    def jacobian(self, prep, A):
        return Symbolic.jacobian(self, self._inner(prep), A)

    def jvp(self, prep, A, V):
        return Symbolic.jvp(self, self._inner(prep), A, V)

    def vjp(self, prep, A, U):
        return Symbolic.vjp(self, self._inner(prep), A, U)

    def hvp(self, prep, A, V):
        if prep.op == "hvp":
            return Symbolic.hvp(self, self._inner(prep), A, V)
        return Backend.hvp(self, prep, A, V)

    def structure(self, prep):
        return Symbolic.structure(self, self._inner(prep))

    def hessian(self, prep, A):
        b = Symbolic.hessian(self, self._inner(prep), A)
        first = prep.data[1].setdefault("H", b.derivative[0].copy())
        return Block(value=b.value, derivative=np.broadcast_to(first, b.derivative.shape).copy(), error=None,
                     nfev=0, extra=b.extra)


class WrongGradient(Symbolic):
    """The gradient returned with the Hessians is off by 1e-6 (from a float32 intermediate)."""

    def hessian(self, prep, A):
        b = Symbolic.hessian(self, prep, A)
        return Block(value=b.value, derivative=b.derivative, error=None, nfev=0,
                     extra={"gradient": b.extra["gradient"] * (1 + 1e-6)})


class HessianHidesNaN(Symbolic):
    """np.nan_to_num on Hessians and values: points outside the domain look like successes."""

    def hessian(self, prep, A):
        b = Symbolic.hessian(self, prep, A)
        return Block(value=np.nan_to_num(b.value), derivative=np.nan_to_num(b.derivative), error=None, nfev=0,
                     extra={"gradient": np.nan_to_num(b.extra["gradient"])})


class MutatesVector(Symbolic):
    """Normalises the caller's vectors in place before the Hessian-vector product."""

    def hvp(self, prep, A, V):
        V = np.asarray(V)
        n = np.linalg.norm(V, axis=1, keepdims=True)
        V /= np.where(n > 0, n, 1.0)
        b = Symbolic.hvp(self, prep, A, V)
        return Block(value=b.value, derivative=b.derivative * n[:, :, None], error=None, nfev=0)


class UndeclaredHessian(Symbolic):
    """Computes Hessians without declaring second_order (so callers cannot know it can)."""

    capabilities = Capabilities(exact=True, forward=True, reverse=True, sparse=True, symbolic_output=True)


_SMALL = ("scalar", "wide", "domain_error")   # nested differences are slow: a few small scenarios

BROKEN_SECOND_ORDER = [
    (HessianOffByAMillionth, "hessian", None),
    (AsymmetricHessian, "hessian_symmetric", None),
    (HvpIgnoresV, "hvp", None),
    (ClaimsExactHessian, "hessian", _SMALL),
    (ZeroErrorHessian, "hessian", _SMALL),
    (StaleHessian, "hessian_prep_reuse", None),
    (WrongGradient, "hessian_gradient", None),
    (HessianHidesNaN, "hessian_status", None),
    (MutatesVector, "hessian_inputs_unchanged", None),
    (UndeclaredHessian, "second_order_refusal", None),
]


@pytest.mark.parametrize("cls, catcher, names", BROKEN_SECOND_ORDER,
                         ids=[c.__name__ for c, _, _ in BROKEN_SECOND_ORDER])
def test_broken_second_order_backend_fails(cls, catcher, names):
    scenarios = SCENARIOS if names is None else [scenario(n) for n in names]
    outcomes = run_suite(cls(), scenarios, checks=SECOND_ORDER)
    failed = {(o.check, o.scenario): o for o in outcomes if not o.ok}
    assert failed, f"{cls.__name__} ({cls.__doc__}) passed every second-order check: the suite cannot see its bug"
    caught = [o for (check, _), o in failed.items() if check == catcher and o.result == "failed"]
    assert caught, (f"{cls.__name__}: expected check {catcher!r} to fail with an AssertionError; "
                    f"failures were: {sorted(failed)}")
