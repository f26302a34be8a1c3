"""Local sensitivity at one point: partial derivatives, elasticities, σ-scaled effects.

For an output y and an input x at the point x₀:

* the partial derivative ∂y/∂x;
* the normalised sensitivity (elasticity) e = (x/y)·∂y/∂x — the % change of y per % change
  of x; undefined where y = 0 (reported as ``None`` with a note), and 0 where x = 0
  (a proportional change of 0 is no change: the elasticity says nothing about x there);
* where x has an uncertainty u(x) (:func:`~jacli.sensitivity.propagation.standard_uncertainties`),
  the σ-scaled sensitivity |∂y/∂x|·u(x) and its share of Σ (∂y/∂xⱼ u(xⱼ))², the
  first-order variance of y for *uncorrelated* inputs (``--method gum`` includes correlations).

Inputs are ranked by σ-scaled sensitivity where they have an uncertainty (those without
one follow), else by |elasticity|, else by |∂y/∂x|.

References
----------
.. [Saltelli2008] A. Saltelli et al., *Global Sensitivity Analysis: The Primer*, Wiley (2008),
   section 1.2.1 (σ-normalised derivatives S^σ = (σ_x/σ_y) ∂y/∂x and their limits).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["OutputLocal", "LocalSensitivity", "local_sensitivity", "elasticities"]


def elasticities(x, y: float, row, names) -> dict:
    """(xᵢ/y)·∂y/∂xᵢ per input; ``None`` where y = 0.

    >>> elasticities([2.0, 3.0], 6.0, [3.0, 2.0], ["a", "b"])
    {'a': 1.0, 'b': 1.0}
    """
    if y == 0:
        return {n: None for n in names}
    return {n: float(xi / y * d) for n, xi, d in zip(names, x, row)}


@dataclass(frozen=True)
class OutputLocal:
    """One output's local sensitivities; ``ranking`` lists inputs, most influential first."""

    output: str
    estimate: float
    derivative: dict
    normalized: dict
    scaled: dict                 # |∂y/∂x|·u(x), None where u(x) = 0
    share: dict                  # share of Σ scaled², None where undefined
    ranking: tuple
    notes: tuple = ()
    u_inputs: dict = None        # input -> u(x) (0 = none)

    @property
    def std_uncertainty(self) -> Optional[float]:
        s = [v for v in self.scaled.values() if v is not None]
        return sum(v * v for v in s) ** 0.5 if s else None

    def to_dict(self) -> dict:
        u = self.u_inputs or {}
        budget = [{"input": n, "u_input": u[n] if u.get(n) else None,
                   "contribution": self.scaled[n], "share": self.share[n]} for n in self.ranking]
        return {"estimate": self.estimate, "std_uncertainty": self.std_uncertainty,
                "sensitivity_coefficients": dict(self.derivative), "normalized": dict(self.normalized),
                "budget": budget, "ranking": list(self.ranking), "notes": list(self.notes)}



@dataclass(frozen=True)
class LocalSensitivity:
    """The result of :func:`local_sensitivity`."""

    model: str
    at: dict
    u: dict                      # input -> standard uncertainty (0 = none)
    outputs: tuple               # of OutputLocal
    backend: str = ""
    notes: tuple = ()

    @property
    def output_names(self) -> tuple:
        return tuple(o.output for o in self.outputs)

    def to_dict(self) -> dict:
        out = {o.output: o.to_dict() for o in self.outputs}
        return {"method": "local", "model": self.model, "backend": self.backend, "at": dict(self.at),
                "u_inputs": dict(self.u), "outputs": out, "covariance": None, "correlation": None,
                "notes": list(self.notes)}


def local_sensitivity(model, at=None, *, backend: str = "auto", params=None) -> LocalSensitivity:
    """Local sensitivities of every output to every input at one point.

    Parameters
    ----------
    model : Model or str
    at : dict, optional
        The point (missing inputs take nominal values); default the nominal point.
    backend : str

    Returns
    -------
    LocalSensitivity

    Notes
    -----
    A local measure: it describes the model within a neighbourhood of ``at`` where the
    linearisation holds, and says nothing about interactions or about inputs whose effect
    vanishes at ``at`` but not nearby (a derivative of 0 at a minimum).  Use a global method
    when the inputs vary over ranges where the model is not close to linear.

    Examples
    --------
    >>> import jacli
    >>> m = jacli.model_from_expressions("x**2*y")
    >>> r = local_sensitivity(m, {"x": 2.0, "y": 3.0}, backend="sympy")
    >>> r.outputs[0].derivative, r.outputs[0].normalized
    ({'x': 12.0, 'y': 4.0}, {'x': 2.0, 'y': 1.0})
    """
    import numpy as np

    from .. import _ops
    from .propagation import _point, standard_uncertainties

    model = _ops._as_model(model, params)
    x = _point(model, at)
    ins = standard_uncertainties(model)
    u = np.array([q.u for q in ins])
    names = model.input_names
    res = _ops.jacobian(model, x, backend=backend, throw=True)
    y, J = res.value[0], res.derivative[0]
    outs = []
    for a, oname in enumerate(model.output_names):
        notes = []
        norm = elasticities(x, float(y[a]), J[a], names)
        if y[a] == 0:
            notes.append(f"{oname} = 0 here: normalised sensitivities are undefined (null)")
        zx = [n for n, xi in zip(names, x) if xi == 0]
        if zx and y[a] != 0:
            notes.append(f"input{'s' if len(zx) > 1 else ''} {', '.join(zx)} = 0 here: "
                         "normalised sensitivity 0 by definition, see the derivative")
        sc = np.abs(J[a]) * u
        total = float(np.sum(sc ** 2))
        scaled = {n: (float(s) if ui > 0 else None) for n, s, ui in zip(names, sc, u)}
        share = {n: (float(s * s / total) if ui > 0 and total > 0 else None)
                 for n, s, ui in zip(names, sc, u)}
        if (u > 0).any():
            key = [(-(sc[i]) if u[i] > 0 else np.inf, -abs(norm[n] or 0.0), -abs(J[a, i]))
                   for i, n in enumerate(names)]
        else:
            key = [(0.0, -abs(norm[n] or 0.0), -abs(J[a, i])) for i, n in enumerate(names)]
        ranking = tuple(names[i] for i in sorted(range(len(names)), key=lambda i: key[i]))
        outs.append(OutputLocal(oname, float(y[a]), dict(zip(names, map(float, J[a]))), norm,
                                scaled, share, ranking, tuple(notes), dict(zip(names, map(float, u)))))
    notes = []
    without = [q.name for q in ins if q.u == 0]
    if without and len(without) < len(names):
        notes.append(f"no uncertainty (sigma or bounds) for {', '.join(without)}: no σ-scaled value")
    if model.correlations and (u > 0).any():
        notes.append("shares ignore the model's correlations; --method gum includes them")
    return LocalSensitivity(model=model.name, at=dict(zip(names, map(float, x))),
                            u=dict(zip(names, map(float, u))), outputs=tuple(outs),
                            backend=res.backend, notes=tuple(notes))
