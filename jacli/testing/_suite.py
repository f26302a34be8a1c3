"""``BackendConformance``: the conformance suite as a pytest base class.

A plug-in author writes::

    from jacli.testing import BackendConformance

    class TestMyBackend(BackendConformance):
        backend = "mybackend"          # a spec string, a Backend class or an instance

and pytest collects one test per check and scenario the backend's declared capabilities
make applicable (a check that applies to no scenario, e.g. ``vjp`` for a forward-only
backend, shows up once as skipped with the reason).  Each test method is a thin wrapper
around a plain function in :mod:`jacli.testing._checks` or :mod:`jacli.testing._second_order`.
"""
from __future__ import annotations

from . import _checks as _c
from . import _second_order as _s
from ._checks import is_builtin, resolve_backend
from ._registry import CHECKS
from ._scenarios import SCENARIOS

__all__ = ["BackendConformance"]

_RESOLVED: dict = {}


class BackendConformance:
    """Base class of a backend's conformance tests (not collected itself: no ``Test`` prefix).

    Class attributes
    ----------------
    backend : str, Backend class or Backend instance
        The backend under test, e.g. ``"fd:order=4"``.
    scenarios : sequence of Scenario
        Defaults to :data:`jacli.testing.SCENARIOS`; a plug-in may add its own.
    known_failures : dict
        ``{(check_name, scenario_name): reason}`` — expected failures, run as
        ``xfail(strict=True)`` so a fix is noticed.  For documenting real bugs only.
    """

    backend = None
    scenarios = SCENARIOS
    known_failures: dict = {}

    # -- collection ---------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc):
        import pytest

        if "scenario" not in metafunc.fixturenames:
            return
        check = CHECKS[metafunc.function.__name__[len("test_"):]]
        caps = self._declared_capabilities()
        scenarios = [s for s in self.scenarios if caps is None or check.applies(caps, s)]
        if not scenarios:
            reason = f"not applicable: check {check.name!r} needs {check.needs}; {self._label()} declares no such"
            metafunc.parametrize("scenario", [pytest.param(None, marks=pytest.mark.skip(reason=reason))],
                                 ids=["not-applicable"])
            return
        params = []
        for s in scenarios:
            why = self.known_failures.get((check.name, s.name))
            marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=why)] if why else []
            params.append(pytest.param(s, marks=marks, id=s.name))
        metafunc.parametrize("scenario", params)

    @classmethod
    def _label(cls) -> str:
        b = cls.backend
        return b if isinstance(b, str) else getattr(b, "name", repr(b))

    @classmethod
    def _declared_capabilities(cls):
        """Capabilities from the class alone (no heavy import); None if it cannot be loaded."""
        from ..backends import Backend, backend_class, parse_spec
        from ..errors import JacliError

        b = cls.backend
        if isinstance(b, Backend) or (isinstance(b, type) and issubclass(b, Backend)):
            return b.capabilities
        if b is None:
            return None
        try:
            name, _ = parse_spec(b)
            return backend_class(name).capabilities
        except JacliError:
            return None

    def _backend(self):
        """The instance under test; skips (optional plug-in) or fails (built-in) if unavailable."""
        import pytest

        from ..backends import parse_spec
        from ..errors import BackendUnavailable

        cls = type(self)
        if cls.backend is None:
            raise TypeError(f"{cls.__name__}: set the class attribute `backend` (e.g. backend = \"fd\")")
        if cls not in _RESOLVED:
            try:
                _RESOLVED[cls] = resolve_backend(cls.backend)
            except BackendUnavailable as exc:
                name = parse_spec(cls.backend)[0] if isinstance(cls.backend, str) else self._label()
                if is_builtin(name):
                    raise  # a built-in backend is never skipped
                _RESOLVED[cls] = exc
        be = _RESOLVED[cls]
        if isinstance(be, BackendUnavailable):
            pytest.skip(f"backend {self._label()!r} is not available: {be}")
        return be

    # -- the checks (thin wrappers; see jacli.testing._checks for what each asserts) ------

    def test_value(self, scenario):
        """f(x) equals the hand-written value."""
        _c.check_value(self._backend(), scenario)

    def test_status(self, scenario):
        """DOMAIN_ERROR where the model is undefined, OK elsewhere."""
        _c.check_status(self._backend(), scenario)

    def test_jacobian(self, scenario):
        """The Jacobian within the tolerance the declared capabilities imply."""
        _c.check_jacobian(self._backend(), scenario)

    def test_exact_zeros(self, scenario):
        """Structural zeros are exactly 0.0."""
        _c.check_exact_zeros(self._backend(), scenario)

    def test_error_estimate(self, scenario):
        """An error array when error_estimate is declared; none when exact is."""
        _c.check_error_estimate(self._backend(), scenario)

    def test_error_bounds(self, scenario):
        """The error estimate covers the true error and is not absurd."""
        _c.check_error_bounds(self._backend(), scenario)

    def test_jvp(self, scenario):
        """Stacked jvps equal the Jacobian."""
        _c.check_jvp(self._backend(), scenario)

    def test_vjp(self, scenario):
        """Stacked vjps equal the Jacobian."""
        _c.check_vjp(self._backend(), scenario)

    def test_library_products(self, scenario):
        """jacli.jvp/jacli.vjp equal the Jacobian, with a cost note when not cheap."""
        _c.check_library_products(self._backend(), scenario)

    def test_prep_reuse(self, scenario):
        """Prepared once, right at every other point and parameter value."""
        _c.check_prep_reuse(self._backend(), scenario)

    def test_inputs_unchanged(self, scenario):
        """Input arrays are not modified."""
        _c.check_inputs_unchanged(self._backend(), scenario)

    def test_batch_equals_loop(self, scenario):
        """A batch equals the loop over its points, statuses included."""
        _c.check_batch_equals_loop(self._backend(), scenario)

    def test_prep_mismatch(self, scenario):
        """A Prep used with another model, op or wrt raises PrepMismatch."""
        _c.check_prep_mismatch(self._backend(), scenario)

    def test_structure(self, scenario):
        """The declared sparsity pattern is the hand-derived one."""
        _c.check_structure(self._backend(), scenario)

    def test_capability_refusal(self, scenario):
        """An incompatible scenario raises CapabilityError instead of returning numbers."""
        _c.check_capability_refusal(self._backend(), scenario)

    # -- second order ----------------------------------------------------------------------

    def test_hessian(self, scenario):
        """Hessians within the declared tolerance; error estimates as declared."""
        _s.check_hessian(self._backend(), scenario)

    def test_hessian_status(self, scenario):
        """DOMAIN_ERROR and NaN Hessians outside the domain, OK inside."""
        _s.check_hessian_status(self._backend(), scenario)

    def test_hessian_symmetric(self, scenario):
        """Symmetric Hessians (exactly, if exact)."""
        _s.check_hessian_symmetric(self._backend(), scenario)

    def test_hessian_exact_zeros(self, scenario):
        """Hessian zeros are exactly 0.0."""
        _s.check_hessian_exact_zeros(self._backend(), scenario)

    def test_hessian_gradient(self, scenario):
        """extra['gradient'] equals the Jacobian."""
        _s.check_hessian_gradient(self._backend(), scenario)

    def test_hvp(self, scenario):
        """hvp = H v: the backend's hvp, the default fallback and jacli.hvp."""
        _s.check_hvp(self._backend(), scenario)

    def test_hvp_function(self, scenario):
        """The matrix-free jacli.hvp_function agrees with H v."""
        _s.check_hvp_function(self._backend(), scenario)

    def test_gauss_newton(self, scenario):
        """of='sumsq': J^T J + sum f_i H_i, with the Gauss-Newton part J^T J."""
        _s.check_gauss_newton(self._backend(), scenario)

    def test_hessian_prep_reuse(self, scenario):
        """Hessian and hvp Preps made once are right elsewhere."""
        _s.check_hessian_prep_reuse(self._backend(), scenario)

    def test_hessian_inputs_unchanged(self, scenario):
        """Second-order operators do not modify their inputs."""
        _s.check_hessian_inputs_unchanged(self._backend(), scenario)

    def test_hessian_batch_equals_loop(self, scenario):
        """A batch of Hessians equals the loop over its points."""
        _s.check_hessian_batch_equals_loop(self._backend(), scenario)

    def test_second_order_refusal(self, scenario):
        """Without second_order, Hessians raise CapabilityError."""
        _s.check_second_order_refusal(self._backend(), scenario)
