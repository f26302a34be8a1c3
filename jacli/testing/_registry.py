"""The list of conformance checks and :func:`run_suite`, which runs them without pytest."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._checks import (check_batch_equals_loop, check_capability_refusal, check_error_bounds, check_error_estimate,
                      check_exact_zeros, check_inputs_unchanged, check_jacobian, check_jvp, check_library_products,
                      check_prep_mismatch, check_prep_reuse, check_status, check_structure, check_value, check_vjp,
                      resolve_backend)
from ._scenarios import SCENARIOS
from ._second_order import (check_gauss_newton, check_hessian, check_hessian_batch_equals_loop,
                            check_hessian_exact_zeros, check_hessian_gradient, check_hessian_inputs_unchanged,
                            check_hessian_prep_reuse, check_hessian_status, check_hessian_symmetric, check_hvp,
                            check_hvp_function, check_second_order_refusal)

__all__ = ["Check", "CHECKS", "Outcome", "run_suite"]


@dataclass(frozen=True)
class Check:
    """A conformance check and the backends × scenarios it applies to."""

    name: str
    fn: Callable
    applies: Callable   # (capabilities, scenario) -> bool
    needs: str = "a scenario the backend can run"
    order: int = 1      # 2: Hessians and Hessian-vector products

    @property
    def doc(self) -> str:
        return (self.fn.__doc__ or "").strip().splitlines()[0]


def _compatible(caps, sc):
    return sc.compatible(caps)[0]


def _second_order(caps, sc):
    return caps.second_order and sc.has_hessian and _compatible(caps, sc)


_SECOND = "second_order=True and a scenario with a hand-derived Hessian"


def _check2(name, fn, applies=_second_order, needs=_SECOND):
    return Check(name, fn, applies, needs, order=2)


CHECKS: dict = {c.name: c for c in (
    Check("value", check_value, _compatible),
    Check("status", check_status, _compatible),
    Check("jacobian", check_jacobian, _compatible),
    Check("exact_zeros", check_exact_zeros,
          lambda caps, sc: _compatible(caps, sc) and sc.structure is not None
          and not np.array(sc.structure, dtype=bool).all(), "a scenario with structural zeros"),
    Check("error_estimate", check_error_estimate, _compatible),
    Check("error_bounds", check_error_bounds, lambda caps, sc: caps.error_estimate and _compatible(caps, sc),
          "error_estimate=True"),
    Check("jvp", check_jvp, lambda caps, sc: caps.forward and _compatible(caps, sc), "forward=True"),
    Check("vjp", check_vjp, lambda caps, sc: caps.reverse and _compatible(caps, sc), "reverse=True"),
    Check("library_products", check_library_products, _compatible),
    Check("prep_reuse", check_prep_reuse, _compatible),
    Check("inputs_unchanged", check_inputs_unchanged, _compatible),
    Check("batch_equals_loop", check_batch_equals_loop, _compatible),
    Check("prep_mismatch", check_prep_mismatch, _compatible),
    Check("structure", check_structure, lambda caps, sc: caps.sparse and _compatible(caps, sc), "sparse=True"),
    Check("capability_refusal", check_capability_refusal, lambda caps, sc: not _compatible(caps, sc),
          "a scenario the backend cannot run (e.g. abs with requires_analytic=True)"),
    # second order
    _check2("hessian", check_hessian),
    _check2("hessian_status", check_hessian_status),
    _check2("hessian_symmetric", check_hessian_symmetric),
    _check2("hessian_exact_zeros", check_hessian_exact_zeros),
    _check2("hessian_gradient", check_hessian_gradient),
    _check2("hvp", check_hvp),
    _check2("hvp_function", check_hvp_function),
    _check2("gauss_newton", check_gauss_newton),
    _check2("hessian_prep_reuse", check_hessian_prep_reuse),
    _check2("hessian_inputs_unchanged", check_hessian_inputs_unchanged),
    _check2("hessian_batch_equals_loop", check_hessian_batch_equals_loop),
    _check2("second_order_refusal", check_second_order_refusal,
            lambda caps, sc: not caps.second_order and sc.has_hessian and _compatible(caps, sc),
            "second_order=False (a backend without Hessians must refuse them)"),
)}


@dataclass(frozen=True)
class Outcome:
    """One check on one scenario: ``passed``, ``failed`` (AssertionError) or ``error`` (anything else)."""

    check: str
    scenario: str
    result: str
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.result == "passed"

    def __str__(self) -> str:
        return f"{self.check}[{self.scenario}]: {self.result.upper()}" + (f": {self.message}" if self.message else "")


def run_suite(backend, scenarios=SCENARIOS, checks=None) -> list:
    """Run every applicable check on every scenario; a list of :class:`Outcome`.

    Never raises for a failing check: failures are returned, so a caller can report them all.

    Examples
    --------
    >>> from jacli.testing import run_suite, scenario
    >>> outcomes = run_suite("sympy", [scenario("scalar")])
    >>> all(o.ok for o in outcomes), len(outcomes) > 5
    (True, True)
    """
    be = resolve_backend(backend)
    out = []
    for check in (CHECKS.values() if checks is None else [CHECKS[c] for c in checks]):
        for sc in scenarios:
            if not check.applies(be.capabilities, sc):
                continue
            try:
                check.fn(be, sc)
            except AssertionError as exc:
                out.append(Outcome(check.name, sc.name, "failed", str(exc)))
            except Exception as exc:  # a crash is a failure too, reported with its type
                out.append(Outcome(check.name, sc.name, "error", f"{type(exc).__name__}: {exc}"))
            else:
                out.append(Outcome(check.name, sc.name, "passed"))
    return out
