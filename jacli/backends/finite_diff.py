"""``fd``: central finite differences with Richardson extrapolation and error estimates.

The numerics live in :mod:`jacli.backends._fdcore`; this module adapts them to the
backend protocol.  Steps are relative to each variable's scale, and every entry comes
with an absolute error estimate.
"""
from __future__ import annotations

from ._protocol import Backend, Block, Capabilities, Option, Prep, make_prep


def typical_scales(model):
    """Each symbol's natural scale, the floor of its step (h ~ rel * max(|x|, typ)).

    The nominal magnitude, else sigma, else 1: a floor of 1 for every variable would step
    right over the features of a quantity of size 1e-4.
    """
    import numpy as np

    typ = [abs(q.value) if q.value else (q.sigma if q.sigma else 1.0)
           for q in tuple(model.inputs) + tuple(model.parameters)]
    return np.asarray(typ, dtype=float)


class FiniteDiff(Backend):
    """Central differences of selectable order, extrapolated, with per-entry error estimates."""

    name = "fd"
    description = ("finite differences: central, Richardson-extrapolated, relative steps, "
                   "per-entry error estimate; works on any model that evaluates")
    capabilities = Capabilities(error_estimate=True, forward=True, second_order=True, python_models=True)
    options = (
        Option("order", int, 2, "order of the central difference formula", choices=(2, 4, 6, 8)),
        Option("rel_step", float, 0.0, "base relative step (0 = automatic)"),
        Option("levels", int, 0, "Richardson levels, 2-12 (0 = automatic)"),
    )

    def validate_options(self) -> None:
        from ..errors import UsageError

        o = self.options_dict
        if o["rel_step"] < 0 or o["rel_step"] >= 1:
            raise UsageError(f"backend 'fd': rel_step must be in (0, 1), got {o['rel_step']}")
        if o["levels"] != 0 and not 2 <= o["levels"] <= 12:
            # one level has nothing to extrapolate against, hence no error estimate
            raise UsageError(f"backend 'fd': levels must be between 2 and 12 (0 = automatic), "
                             f"got {o['levels']}")

    def _kw(self) -> dict:
        o = self.options_dict
        kw = {"order": o["order"]}
        if o["rel_step"]:
            kw["rel_step"] = o["rel_step"]
        if o["levels"]:
            kw["levels"] = o["levels"]
        return kw

    def prepare(self, model, op, wrt=None) -> Prep:
        from ..model._numeric import model_function

        prep = make_prep(self, model, op, wrt)
        return Prep(**{**prep.__dict__, "data": (model_function(model), typical_scales(model))})

    def jvp(self, prep: Prep, A, V) -> Block:
        import numpy as np

        from ._fdcore import fd_jvp

        F, typ = prep.data
        A = np.asarray(A, dtype=float)
        N, s = A.shape
        D = np.zeros((N, s))
        D[:, list(prep.wrt_idx)] = V
        value = F(A)
        jv, err, nfev = fd_jvp(lambda X: F(X.T).T, A, D, typical_x=typ, **self._kw())
        return Block(value=value, derivative=jv, error=err, nfev=nfev + 1)

    def jacobian(self, prep: Prep, A) -> Block:
        import numpy as np

        from ._fdcore import fd_jacobian, fd_jvp

        F, typ = prep.data
        A = np.asarray(A, dtype=float)
        N, s = A.shape
        value = F(A)
        f = lambda X: F(X.T).T  # noqa: E731 - fd core wants (n, K) -> (m, K)
        if len(prep.wrt_idx) == s:
            J, err, nfev = fd_jacobian(f, A, typical_x=typ, **self._kw())
            J, err = J[:, :, list(prep.wrt_idx)], err[:, :, list(prep.wrt_idx)]
            return Block(value=value, derivative=J, error=err, nfev=nfev + 1)
        # A subset of the symbols (inputs only, or --wrt): one directional difference per
        # variable keeps the other symbols fixed without evaluating their perturbations.
        m, k = value.shape[1], len(prep.wrt_idx)
        J = np.empty((N, m, k))
        err = np.empty((N, m, k))
        total = 1
        for c, j in enumerate(prep.wrt_idx):
            D = np.zeros((N, s))
            D[:, j] = 1.0
            J[:, :, c], err[:, :, c], nf = fd_jvp(f, A, D, typical_x=typ, **self._kw())
            total += nf
        return Block(value=value, derivative=J, error=err, nfev=total)

    def vjp(self, prep: Prep, A, U) -> Block:
        """uᵀJ costs the full Jacobian here (no reverse mode): said in ``extra["cost"]``."""
        from ._derived import vjp_from_jacobian

        return vjp_from_jacobian(self, prep, A, U)

    def hessian(self, prep: Prep, A) -> Block:
        """Nested differences: extrapolated differences of the extrapolated-difference gradient."""
        from ._derived import hessian_by_differencing

        kw = self._kw()
        kw["typical_x"] = prep.data[1]
        return hessian_by_differencing(prep, A, lambda B: self.jacobian(prep, B), kw)
