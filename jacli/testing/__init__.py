"""The conformance suite every backend, built-in or plug-in, must pass.

Scenarios (:data:`SCENARIOS`) are small models with hand-derived values, Jacobians and
(most of them) Hessians; the checks compare a backend with them using tolerances that
follow from the backend's *declared* capabilities (:func:`tolerance`,
:func:`hessian_tolerance`).  Two ways to run it:

* in pytest, subclass :class:`BackendConformance` and set ``backend``::

      class TestMine(BackendConformance):
          backend = "mine"

* without pytest, :func:`run_suite` returns one :class:`Outcome` per check and scenario::

      >>> from jacli.testing import CHECKS, run_suite, scenario
      >>> outcomes = run_suite("sympy", [scenario("wide"), scenario("domain_error")])
      >>> [str(o) for o in outcomes if not o.ok]
      []

  ``checks=`` selects checks by name, e.g. the first-order ones::

      >>> first = [name for name, c in CHECKS.items() if c.order == 1]
      >>> [str(o) for o in run_suite("fd", [scenario("wide")], checks=first) if not o.ok]
      []

Each check is also a plain function ``check_xxx(backend, scenario)`` that raises
AssertionError, listed in :data:`CHECKS`.  First-order checks (values, Jacobians, products)
apply to every backend; second-order checks (Hessians, Hessian-vector products,
Gauss–Newton) to backends declaring ``second_order`` and scenarios with a hand-derived
Hessian, and a backend that does not declare it must refuse Hessians.
"""
from ._checks import (Tolerance, check_batch_equals_loop, check_capability_refusal, check_error_bounds,
                      check_error_estimate, check_exact_zeros, check_inputs_unchanged, check_jacobian, check_jvp,
                      check_library_products, check_prep_mismatch, check_prep_reuse, check_status, check_structure,
                      check_value, check_vjp, is_builtin, resolve_backend, tolerance)
from ._registry import CHECKS, Check, Outcome, run_suite
from ._scenarios import SCENARIOS, Scenario, scenario
from ._second_order import (check_gauss_newton, check_hessian, check_hessian_batch_equals_loop,
                            check_hessian_exact_zeros, check_hessian_gradient, check_hessian_inputs_unchanged,
                            check_hessian_prep_reuse, check_hessian_status, check_hessian_symmetric, check_hvp,
                            check_hvp_function, check_second_order_refusal, hessian_tolerance)
from ._suite import BackendConformance

__all__ = [
    "Scenario", "SCENARIOS", "scenario", "BackendConformance", "run_suite", "Outcome", "Check", "CHECKS",
    "Tolerance", "tolerance", "hessian_tolerance", "resolve_backend", "is_builtin",
    "check_value", "check_status", "check_jacobian", "check_exact_zeros", "check_error_estimate",
    "check_error_bounds", "check_jvp", "check_vjp", "check_library_products", "check_prep_reuse",
    "check_inputs_unchanged", "check_batch_equals_loop", "check_prep_mismatch", "check_structure",
    "check_capability_refusal",
    "check_hessian", "check_hessian_status", "check_hessian_symmetric", "check_hessian_exact_zeros",
    "check_hessian_gradient", "check_hvp", "check_hvp_function", "check_gauss_newton",
    "check_hessian_prep_reuse", "check_hessian_inputs_unchanged", "check_hessian_batch_equals_loop",
    "check_second_order_refusal",
]
