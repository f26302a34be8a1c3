"""The conformance suite every backend, built-in or plug-in, must pass.

Scenarios (:data:`SCENARIOS`) are small models with hand-derived values and Jacobians;
the checks compare a backend with them using tolerances that follow from the backend's
*declared* capabilities (:func:`tolerance`).  Two ways to run it:

* in pytest, subclass :class:`BackendConformance` and set ``backend``::

      class TestMine(BackendConformance):
          backend = "mine"

* without pytest, :func:`run_suite` returns one :class:`Outcome` per check and scenario::

      >>> from jacli.testing import run_suite, scenario
      >>> outcomes = run_suite("fd", [scenario("wide"), scenario("domain_error")])
      >>> [str(o) for o in outcomes if not o.ok]
      []

Each check is also a plain function ``check_xxx(backend, scenario)`` that raises
AssertionError, listed in :data:`CHECKS`.
"""
from ._checks import (CHECKS, Check, Outcome, Tolerance, check_batch_equals_loop, check_capability_refusal,
                      check_error_bounds, check_error_estimate, check_exact_zeros, check_inputs_unchanged,
                      check_jacobian, check_jvp, check_prep_mismatch, check_prep_reuse, check_status,
                      check_structure, check_value, check_vjp, is_builtin, resolve_backend, run_suite,
                      tolerance)
from ._scenarios import SCENARIOS, Scenario, scenario
from ._suite import BackendConformance

__all__ = [
    "Scenario", "SCENARIOS", "scenario", "BackendConformance", "run_suite", "Outcome", "Check", "CHECKS",
    "Tolerance", "tolerance", "resolve_backend", "is_builtin",
    "check_value", "check_status", "check_jacobian", "check_exact_zeros", "check_error_estimate",
    "check_error_bounds", "check_jvp", "check_vjp", "check_prep_reuse", "check_inputs_unchanged",
    "check_batch_equals_loop", "check_prep_mismatch", "check_structure", "check_capability_refusal",
]
