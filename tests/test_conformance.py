"""Every backend through the conformance suite, and the suite's negative control.

* ``TestSympy``, ``TestFiniteDiff``, ``TestComplexStep``: the built-ins, one pytest test per
  check and scenario; ``TestJax``, ``TestTorch``: the AD backends, the same way, skipped with
  their reason where JAX / PyTorch is not installed (CI installs both and requires them:
  ``tests/test_environment.py``).
* ``test_registered_backend_conforms``: every backend registered under the entry-point
  group ``jacli.backends`` — a plug-in is covered without anyone writing a class for it.
  Built-ins are never skipped; an unavailable plug-in is skipped with its own reason.
* The negative control: deliberately broken backends must fail the suite, each on the
  check meant to catch its bug; and the suite run by pytest itself must report them.

Second order (hand-derived Hessians, broken second-order backends, a backend without
Hessians) is in ``test_conformance_second_order.py``; the known failures of the built-ins,
first and second order, are listed here.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from jacli.backends import Block, Capabilities, Prep, backend_names, make_prep
from jacli.backends._registry import OPTIONAL_BUILTIN
from jacli.backends.complex_step import ComplexStep
from jacli.backends.finite_diff import FiniteDiff
from jacli.backends.symbolic import Symbolic
from jacli.errors import BackendUnavailable
from jacli.testing import CHECKS, SCENARIOS, BackendConformance, is_builtin, resolve_backend, run_suite

#: The first-order checks: what the first-order broken backends below are run through.
FIRST_ORDER = [n for n, c in CHECKS.items() if c.order == 1]


@pytest.fixture(autouse=True, scope="module")
def _private_cache(tmp_path_factory):
    """Generated-code cache in a temporary directory, not the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JACLI_CACHE_DIR", str(tmp_path_factory.mktemp("jacli-cache")))
        yield


# ----------------------------------------------------------------------------- known failures
#
# {backend name: {(check, scenario): reason}} — real bugs found by the suite, run as strict
# xfails (so a fix is noticed) in the class and expected to fail in the programmatic run.
# (fd's earlier failure on `small_scale` — steps floored at 1, stepping across the pole of
# a/b at |x| ~ 1e-8 — was fixed by flooring steps at each input's nominal scale.)

# The three found so far are fixed: fd's false NOT_CONVERGED at stationary points (scale floor
# in _ops.point_status), and Hessian noise pooled over a batch (now point by point in
# _derived.hessian_by_differencing, which also keeps a complex-step point outside the domain
# from spoiling the others).
KNOWN_FAILURES: dict = {}


# ----------------------------------------------------------------------------- built-ins


class TestSympy(BackendConformance):
    backend = "sympy"


class TestFiniteDiff(BackendConformance):
    backend = "fd"
    known_failures = KNOWN_FAILURES.get("fd", {})


class TestComplexStep(BackendConformance):
    backend = "complex"
    known_failures = KNOWN_FAILURES.get("complex", {})


class TestJax(BackendConformance):
    """Skipped, with the reason, where JAX is not installed (``pip install 'jacli[jax]'``)."""

    backend = "jax"
    known_failures = KNOWN_FAILURES.get("jax", {})


class TestTorch(BackendConformance):
    """Skipped, with the reason, where PyTorch is not installed (``pip install 'jacli[torch]'``)."""

    backend = "torch"
    known_failures = KNOWN_FAILURES.get("torch", {})


CLASSES = (TestSympy, TestFiniteDiff, TestComplexStep, TestJax, TestTorch)


def test_every_builtin_has_a_class():
    classes = {c.backend for c in CLASSES}
    builtins = {n for n in backend_names() if is_builtin(n) or n in OPTIONAL_BUILTIN}
    assert builtins <= classes, f"built-in backends without a conformance class: {builtins - classes}"


# ----------------------------------------------------------------------------- every registered backend


#: Built-ins run every check on every scenario in their class above; here they go through
#: the entry point and run_suite on a few scenarios (the whole suite twice would double the
#: cost of nested-difference Hessians).  Plug-ins get the whole suite.
BUILTIN_SMOKE = ("parameters", "domain_error", "non_analytic")


@pytest.mark.parametrize("name", backend_names())
def test_registered_backend_conforms(name):
    """The suite, run programmatically on a backend found through its entry point."""
    try:
        be = resolve_backend(name)
    except BackendUnavailable as exc:
        if is_builtin(name):
            raise  # built-ins are never skipped
        pytest.skip(f"backend {name!r} is not available: {exc}")
    known = KNOWN_FAILURES.get(name, {})
    has_class = name in {c.backend for c in CLASSES}
    outcomes = run_suite(be, [s for s in SCENARIOS if s.name in BUILTIN_SMOKE] if has_class else SCENARIOS)
    assert outcomes, f"no check applied to backend {name!r}"
    unexpected = [str(o) for o in outcomes if not o.ok and (o.check, o.scenario) not in known]
    fixed = [f"{o.check}[{o.scenario}]" for o in outcomes if o.ok and (o.check, o.scenario) in known]
    assert not unexpected, f"backend {name!r} fails the conformance suite:\n" + "\n".join(unexpected)
    assert not fixed, f"backend {name!r}: known failures now pass (remove them from KNOWN_FAILURES): {fixed}"


# ----------------------------------------------------------------------------- the scenarios themselves


def _central_difference(f, x, p, columns, inputs):
    """Fourth-order central differences of a hand-written value function (steps relative to |x|)."""
    cols = []
    for name in columns:
        def g(t, name=name):
            if name in inputs:
                xx = np.array(x, dtype=float)
                xx[inputs.index(name)] = t
                return np.asarray(f(xx, p), dtype=float)
            return np.asarray(f(np.asarray(x, dtype=float), {**p, name: t}), dtype=float)
        t0 = float(x[inputs.index(name)]) if name in inputs else float(p[name])
        h = 2e-4 * (abs(t0) if t0 != 0 else 1.0)
        cols.append((-g(t0 + 2 * h) + 8 * g(t0 + h) - 8 * g(t0 - h) + g(t0 - 2 * h)) / (12 * h))
    return np.stack(cols, axis=-1)


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_reference_matches_its_value(sc):
    """The hand-derived Jacobian agrees with differences of the hand-written value (no backend involved)."""
    model = sc.model()
    inputs = list(model.input_names)
    columns = list(sc.columns) if sc.columns is not None else inputs
    p = model.param_values
    # absolute slack from the scenario's scale: at a stationary point (Rosenbrock's minimum) J = 0
    _, J = sc.reference()
    scale = np.nanmax(np.abs(J[sc.ok_points()]))
    for i in sc.ok_points():
        x = sc.points[i]
        with np.errstate(all="ignore"):
            ref = np.asarray(sc.jacobian(np.asarray(x, dtype=float), p), dtype=float).reshape(-1, len(columns))
        approx = _central_difference(sc.value, x, p, columns, inputs)
        np.testing.assert_allclose(ref, approx, rtol=1e-7, atol=1e-9 * max(np.abs(ref).max(), 1e-3 * scale),
                                   err_msg=f"scenario {sc.name!r}, point {i}: reference vs differences")


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_is_well_formed(sc):
    model = sc.model()
    assert len(sc.points) >= 2, "at least two points, so prepare-once/evaluate-elsewhere means something"
    for pt in sc.points:
        assert len(pt) == len(model.input_names)
        assert tuple(pt) != tuple(model.nominal), "a point equal to the nominal one hides point-ignoring bugs"
    cols = tuple(sc.columns) if sc.columns is not None else model.input_names
    assert set(sc.wrt_names()) <= set(cols)
    V, J = sc.reference()
    assert J.shape == (len(sc.points), len(model.outputs), len(sc.wrt_names()))
    assert sc.expected_structure().shape == J.shape[1:]


def test_scenarios_cover_the_design():
    tags = set().union(*(s.tags for s in SCENARIOS))
    assert {"non_analytic", "domain_error", "parameters", "sparse", "batch", "structure", "scale"} <= tags
    shapes = {(len(s.model().outputs), len(s.wrt_names())) for s in SCENARIOS}
    assert (1, 1) in shapes
    assert any(m < n for m, n in shapes) and any(m > n for m, n in shapes)
    assert any(len(s.points) == 7 for s in SCENARIOS if "batch" in s.tags)
    assert any(len(s.model().inputs) == 50 for s in SCENARIOS if "sparse" in s.tags)


# ----------------------------------------------------------------------------- negative control
#
# Each broken backend below has one realistic bug.  The suite must fail it, on the check
# written for that bug (and typically on others too).


class OffByAMillionth(Symbolic):
    """Every Jacobian entry off by 1e-6 relative (e.g. a float32 intermediate)."""

    def jacobian(self, prep, A):
        b = Symbolic.jacobian(self, prep, A)
        return Block(value=b.value, derivative=b.derivative * (1 + 1e-6), error=b.error, nfev=b.nfev)


class Transposed(Symbolic):
    """Returns J^T: (N, k, m) instead of (N, m, k)."""

    def jacobian(self, prep, A):
        b = Symbolic.jacobian(self, prep, A)
        return Block(value=b.value, derivative=np.ascontiguousarray(b.derivative.transpose(0, 2, 1)),
                     error=b.error, nfev=b.nfev)


class ClaimsExact(FiniteDiff):
    """Finite differences that declare exact=True and drop their error estimate."""

    capabilities = Capabilities(exact=True, forward=True)

    def jacobian(self, prep, A):
        b = FiniteDiff.jacobian(self, prep, A)
        return Block(value=b.value, derivative=b.derivative, error=None, nfev=b.nfev)

    def jvp(self, prep, A, V):
        b = FiniteDiff.jvp(self, prep, A, V)
        return Block(value=b.value, derivative=b.derivative, error=None, nfev=b.nfev)


class ZeroError(FiniteDiff):
    """Finite differences reporting an error estimate of 0 everywhere."""

    def jacobian(self, prep, A):
        b = FiniteDiff.jacobian(self, prep, A)
        return Block(value=b.value, derivative=b.derivative, error=np.zeros_like(b.derivative), nfev=b.nfev)

    def jvp(self, prep, A, V):
        b = FiniteDiff.jvp(self, prep, A, V)
        return Block(value=b.value, derivative=b.derivative, error=np.zeros_like(b.derivative), nfev=b.nfev)


class MutatesInput(Symbolic):
    """Perturbs A in place and 'restores' it by subtraction: A keeps a rounding residue."""

    def jacobian(self, prep, A):
        A = np.asarray(A)          # no copy: the caller's array
        A[:, 0] += 0.1
        A[:, 0] -= 0.1
        return Symbolic.jacobian(self, prep, A)


class CachesFirstPoint(Symbolic):
    """Treats the Jacobian as point-independent: keeps the first point's in the Prep and reuses it."""

    def prepare(self, model, op, wrt=None):
        p = Symbolic.prepare(self, model, op, wrt)
        return Prep(**{**p.__dict__, "data": (p.data, {})})

    @staticmethod
    def _inner(prep):
        return Prep(**{**prep.__dict__, "data": prep.data[0]})

    def jacobian(self, prep, A):
        b = Symbolic.jacobian(self, self._inner(prep), A)
        first = prep.data[1].setdefault("J", b.derivative[0].copy())
        return Block(value=b.value, derivative=np.broadcast_to(first, b.derivative.shape).copy(),
                     error=None, nfev=b.nfev)

    def jvp(self, prep, A, V):
        return Symbolic.jvp(self, self._inner(prep), A, V)

    def vjp(self, prep, A, U):
        return Symbolic.vjp(self, self._inner(prep), A, U)

    def structure(self, prep):
        return Symbolic.structure(self, self._inner(prep))


class HidesNaN(Symbolic):
    """Replaces NaN by 0 (np.nan_to_num): failed points look like successes."""

    def jacobian(self, prep, A):
        b = Symbolic.jacobian(self, prep, A)
        return Block(value=np.nan_to_num(b.value), derivative=np.nan_to_num(b.derivative), error=None,
                     nfev=b.nfev)


class LaxComplex(ComplexStep):
    """Complex step that does not refuse abs/max: silently wrong numbers instead of CapabilityError."""

    def prepare(self, model, op, wrt=None):
        from jacli.model._numeric import model_function

        prep = make_prep(self, model, op, wrt)
        return Prep(**{**prep.__dict__, "data": (model_function(model),
                                                 model_function(model, complex_mode=True))})


class SilentCost(FiniteDiff):
    """No reverse mode, and the VJP formed from the full Jacobian does not say what it cost."""

    def vjp(self, prep, A, U):
        b = FiniteDiff.vjp(self, prep, A, U)
        return Block(value=b.value, derivative=b.derivative, error=b.error, nfev=b.nfev)


BROKEN = [  # (class, the check written for its bug, scenarios: None for all)
    (OffByAMillionth, "jacobian", None),
    (Transposed, "jacobian", None),
    (ClaimsExact, "jacobian", None),
    (ZeroError, "error_bounds", None),
    (MutatesInput, "inputs_unchanged", None),
    (CachesFirstPoint, "prep_reuse", None),
    (HidesNaN, "status", None),
    (LaxComplex, "capability_refusal", None),
    (SilentCost, "library_products", ("scalar", "wide", "domain_error")),
]


@pytest.mark.parametrize("cls, catcher, names", BROKEN, ids=[c.__name__ for c, _, _ in BROKEN])
def test_broken_backend_fails_the_suite(cls, catcher, names):
    # First-order bugs, first-order checks (second-order broken backends are in
    # test_conformance_second_order.py).
    outcomes = run_suite(cls(), SCENARIOS if names is None else [s for s in SCENARIOS if s.name in names],
                         checks=FIRST_ORDER)
    failed = {(o.check, o.scenario): o for o in outcomes if not o.ok}
    assert failed, f"{cls.__name__} ({cls.__doc__}) passed every check: the suite cannot see its bug"
    caught = [o for (check, _), o in failed.items() if check == catcher and o.result == "failed"]
    assert caught, (f"{cls.__name__}: expected check {catcher!r} to fail with an AssertionError; "
                    f"failures were: {sorted(failed)}")


def test_suite_fails_through_pytest(tmp_path):
    """The pytest entry point (a BackendConformance subclass) reports a broken backend as failed."""
    (tmp_path / "test_plugin.py").write_text(textwrap.dedent("""
        from jacli.backends import Block
        from jacli.backends.symbolic import Symbolic
        from jacli.testing import BackendConformance, scenario

        class OffBy(Symbolic):
            def jacobian(self, prep, A):
                b = Symbolic.jacobian(self, prep, A)
                return Block(value=b.value, derivative=b.derivative * (1 + 1e-6), error=None, nfev=0)

        class HessOff(Symbolic):
            def hessian(self, prep, A):
                b = Symbolic.hessian(self, prep, A)
                return Block(value=b.value, derivative=b.derivative * (1 + 1e-6), error=None, nfev=0,
                             extra=b.extra)

        SOME = [scenario("wide"), scenario("exact_zeros")]

        class TestBroken(BackendConformance):
            backend = OffBy()
            scenarios = SOME

        class TestBrokenHessian(BackendConformance):
            backend = HessOff()
            scenarios = SOME

        class TestGood(BackendConformance):
            backend = "sympy"
            scenarios = SOME
        """))
    env = {**os.environ, "JACLI_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfs", "-W", "error",
                           str(tmp_path / "test_plugin.py")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "FAILED test_plugin.py::TestBroken::test_jacobian[wide]" in out, out
    assert "FAILED test_plugin.py::TestBrokenHessian::test_hessian[wide]" in out, out
    assert "FAILED test_plugin.py::TestBrokenHessian::test_jacobian" not in out, out
    assert "FAILED test_plugin.py::TestGood" not in out, out
    assert "passed" in out, out
