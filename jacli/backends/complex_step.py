"""``complex``: complex-step differentiation, accurate to rounding.

``f'(x) = Im f(x + ih) / h`` has no subtractive cancellation, so ``h`` can be tiny
(1e-100) and the derivative is accurate to ~1e-15 relative (Squire & Trapp 1998;
Martins, Sturdza & Alonso 2003).  It needs ``f`` to be complex-analytic: models using
``abs``, ``min``, ``max``, ``sign``, ``floor``, ``ceil``, ``heaviside`` or ``where`` are
refused.  Values come from a real evaluation so domain errors (log of a negative number,
which complex arithmetic would silently accept) are still reported.

Python-function models run on complex arrays.  Code that rejects complex numbers
(``math.sin``, ``float(x)``, storing into a float array) is refused with a
CapabilityError; code that is not analytic (``abs``, comparisons, ``max``) cannot be
detected and gives wrong derivatives — the documentation says so, and ``fd`` or an AD
backend is the safe choice for such code.
"""
from __future__ import annotations

from ._protocol import Backend, Block, Capabilities, Option, Prep, make_prep


class ComplexStep(Backend):
    """Complex step: one complex evaluation per variable, exact to rounding on analytic models."""

    name = "complex"
    description = "complex step: derivative accurate to ~1e-15 relative; analytic models only"
    capabilities = Capabilities(forward=True, requires_analytic=True, error_estimate=True,
                                second_order=True, python_models=True)
    options = (Option("h", float, 1e-100, "imaginary step"),)

    def validate_options(self) -> None:
        from ..errors import UsageError

        h = self.options_dict["h"]
        if not (0 < h <= 1e-8):
            raise UsageError(f"backend 'complex': h must be in (0, 1e-8], got {h}")

    def prepare(self, model, op, wrt=None) -> Prep:
        from ..errors import CapabilityError
        from ..model._numeric import model_function, non_analytic_functions

        bad = non_analytic_functions(model)
        if bad:
            raise CapabilityError(
                f"backend 'complex' needs a complex-analytic model, but {model.name!r} uses "
                f"{', '.join(bad)}; use --backend sympy (exact) or --backend fd")
        prep = make_prep(self, model, op, wrt)
        from .finite_diff import typical_scales

        Fc = model_function(model, complex_mode=True)
        if model.function is not None:
            # Code cannot be inspected for analyticity: one complex evaluation at the nominal
            # point catches math.*, float() and discarded imaginary parts (CapabilityError).
            import numpy as np

            a0 = np.array([list(model.nominal) + [q.value for q in model.parameters]], dtype=complex)
            a0[0, list(prep.wrt_idx)] += 1j * self.options_dict["h"]
            Fc(a0)
        return Prep(**{**prep.__dict__, "data": (model_function(model), Fc, typical_scales(model))})

    def jvp(self, prep: Prep, A, V) -> Block:
        import numpy as np

        from ._fdcore import complex_step_jvp

        F, Fc, _ = prep.data
        A = np.asarray(A, dtype=float)
        N, s = A.shape
        D = np.zeros((N, s))
        D[:, list(prep.wrt_idx)] = V
        jv, err, nfev = complex_step_jvp(lambda X: Fc(X.T).T, A, D, h=self.options_dict["h"])
        return Block(value=F(A), derivative=jv, error=err, nfev=nfev + 1)

    def jacobian(self, prep: Prep, A) -> Block:
        import numpy as np

        F, Fc, _ = prep.data
        A = np.asarray(A, dtype=float)
        idx = list(prep.wrt_idx)
        N = A.shape[0]

        # Complex step perturbs one variable per evaluation: build the perturbed arguments
        # directly (k evaluations per point, all points in one call).
        h = self.options_dict["h"]
        k = len(idx)
        B = np.repeat(A.astype(complex), k, axis=0)                 # (N*k, s)
        rows = np.arange(N * k)
        B[rows, np.tile(idx, N)] += 1j * h
        Y = Fc(B)                                                   # (N*k, m)
        with np.errstate(all="ignore"):
            J = (Y.imag / h).reshape(N, k, -1).transpose(0, 2, 1)
        value = F(A)
        from ._fdcore import _cs_error

        with np.errstate(all="ignore"):
            bad = ~np.isfinite(J)
            rowmax = np.max(np.where(bad, 0.0, np.abs(J)), axis=2, keepdims=True)
            err = np.where(bad, np.inf, _cs_error(J, rowmax))
        return Block(value=value, derivative=J, error=err, nfev=k + 1)

    def vjp(self, prep: Prep, A, U) -> Block:
        """uᵀJ costs the full Jacobian here (no reverse mode): said in ``extra["cost"]``."""
        from ._derived import vjp_from_jacobian

        return vjp_from_jacobian(self, prep, A, U)

    def hessian(self, prep: Prep, A) -> Block:
        """Extrapolated differences of the complex-step gradient (exact to rounding)."""
        from ._derived import hessian_by_differencing

        return hessian_by_differencing(prep, A, lambda B: self.jacobian(prep, B),
                                       {"typical_x": prep.data[2]})
