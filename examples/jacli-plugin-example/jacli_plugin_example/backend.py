"""``dual``: forward-mode automatic differentiation with dual numbers.

jacli turns every model into NumPy code (the code its ``fd`` and ``complex`` backends run).
This backend runs that same code on :class:`~jacli_plugin_example.dual.Dual` arrays: the
differentiation variables carry a tangent, the other symbols are plain arrays, and each
output comes back as its value and its directional derivative ``J v`` — exact up to
rounding, one evaluation per direction, no step size and no symbolic work.

It implements the forward primitive ``jvp`` only.  The Jacobian comes from jacli's
generic fallback (one ``jvp`` per variable), ``vjp`` from the Jacobian (jacli says what it
cost), and Hessians are refused (dual numbers carry first derivatives only).

The module imports nothing heavy at import time: jacli loads it to read ``capabilities``
for ``jacli backends``.
"""
from __future__ import annotations

import dataclasses

from jacli.backends import Backend, Block, Capabilities, Prep, make_prep
from jacli.errors import CapabilityError

__all__ = ["DualNumbers"]

#: Points per evaluation: keeps each intermediate array in cache (as jacli's own evaluator does).
CHUNK = 8192


def _generated_code(model):
    """The NumPy source jacli generates for the model's outputs, and the function names it calls.

    PRIVATE API: jacli has no public accessor for its generated code yet, so this is the
    one place the plug-in reaches into an underscore module.
    """
    from jacli.model._numeric import function_source

    return function_source(model)


class DualNumbers(Backend):
    """Forward-mode AD: jacli's generated NumPy code evaluated on dual numbers.

    Examples
    --------
    >>> import jacli
    >>> m = jacli.model_from_expressions("x*sin(y)")
    >>> r = jacli.jacobian(m, {"x": 2.0, "y": 0.0}, backend="dual")
    >>> r.derivative[0].tolist(), r.exact, r.error is None
    ([[0.0, 2.0]], True, True)
    """

    name = "dual"
    description = ("forward-mode AD on dual numbers (example plug-in): exact, one evaluation "
                   "per direction, first derivatives only")
    capabilities = Capabilities(exact=True, forward=True)
    options = ()

    def prepare(self, model, op, wrt=None) -> Prep:
        """Validate ``op``/``wrt``, generate the model's NumPy code and bind it to dual-aware functions."""
        from .dual import namespace, supported_functions

        if op in ("hessian", "hvp"):
            raise CapabilityError("backend 'dual' computes first derivatives only (a dual number carries "
                                  "one derivative); for Hessians use --backend sympy (exact), complex or fd")
        if getattr(model, "kind", "expressions") != "expressions":
            raise CapabilityError(f"backend 'dual' differentiates jacli's generated code, which a "
                                  f"{model.kind} model does not have; use a backend declaring "
                                  "python_models (see `jacli backends`), e.g. --backend fd")
        prep = make_prep(self, model, op, wrt)
        gen = _generated_code(model)
        missing = sorted(set(gen.functions) - supported_functions())
        if missing:
            raise CapabilityError(f"backend 'dual' has no derivative rule for {', '.join(missing)} "
                                  f"(used by {model.name!r}); use --backend sympy or fd")
        ns = namespace(gen.functions)
        # The source is jacli's own generated code (symbols by position, no user text).
        exec(compile(gen.source, "<jacli-generated:dual>", "exec"), ns)  # noqa: S102
        return dataclasses.replace(prep, data=ns[gen.name])

    def jvp(self, prep: Prep, A, V) -> Block:
        """``J v`` at each row of ``A`` (N, s) along each row of ``V`` (N, k): one dual evaluation."""
        import numpy as np

        from .dual import Dual

        A = np.asarray(A, dtype=float)
        V = np.asarray(V, dtype=float)
        N, s = A.shape
        m = len(prep.outputs)
        value = np.empty((N, m))
        derivative = np.empty((N, m))
        for lo in range(0, N, CHUNK):
            hi = min(lo + CHUNK, N)
            cols = [A[lo:hi, j] for j in range(s)]
            for c, j in enumerate(prep.wrt_idx):
                cols[j] = Dual(cols[j], V[lo:hi, c])
            # Local: a log of a negative number is a NaN value, which jacli turns into the
            # point's DOMAIN_ERROR status; no warning is hidden from anyone else.
            with np.errstate(all="ignore"):
                outs = prep.data(cols)
            for i, y in enumerate(outs):
                # an output that does not depend on the variables is a plain array or number
                value[lo:hi, i] = y.v if isinstance(y, Dual) else y
                derivative[lo:hi, i] = y.d if isinstance(y, Dual) else 0.0
        return Block(value=value, derivative=derivative, error=None, nfev=1)
