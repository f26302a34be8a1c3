"""First-order propagation of uncertainty (the GUM law), with a Monte Carlo check.

The law of propagation of uncertainty (JCGM 100:2008, eq. 13) for outputs y = f(x)::

    U_y = C U_x Cᵀ,   U_x[i, j] = u(xᵢ) u(xⱼ) r(xᵢ, xⱼ),   C[a, i] = ∂y_a/∂xᵢ

so u_c(y_a)² = Σᵢⱼ c_ai c_aj u(xᵢ) u(xⱼ) r(xᵢ, xⱼ), and the outputs' covariance and
correlation matrices come from the same product (JCGM 100 H.2; JCGM 102:2011 eq. 3).

References
----------
.. [GUM] JCGM 100:2008, *Evaluation of measurement data - Guide to the expression of
   uncertainty in measurement*, sections 4.3, 5.1, 5.2 and Annex H.
.. [S1] JCGM 101:2008, *Supplement 1 - Propagation of distributions using a Monte Carlo
   method*, sections 6.4 (distributions), 7 (the method) and 8 (validation).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Optional

from ..errors import ModelError, UsageError

__all__ = ["InputUncertainty", "BudgetEntry", "OutputUncertainty", "MonteCarloCheck",
           "SecondOrder", "Propagation", "standard_uncertainties", "correlation_matrix",
           "propagate", "monte_carlo", "coverage_factor"]

PSD_TOL = 1e-10          # eigenvalue floor of a valid correlation matrix (rounding of r)
MC_CHUNK = 65_536        # Monte Carlo samples evaluated together (memory ~ chunk × inputs)
MC_RTOL = 0.05           # |s_MC - u_c| above this fraction of u_c (beyond MC noise) is "disagree"
MC_SHIFT = 0.1           # |mean_MC - y| above this fraction of u_c (beyond MC noise) is "disagree"


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class InputUncertainty:
    """One input's estimate and standard uncertainty, and where the uncertainty came from.

    ``distribution`` is the one used (``normal``, ``uniform``, ``triangular``, ``lognormal``,
    or ``None`` for an exact input with ``u = 0``).
    """

    name: str
    value: float
    u: float
    distribution: Optional[str]
    bounds: Optional[tuple] = None
    note: Optional[str] = None

    def to_dict(self) -> dict:
        return {"input": self.name, "value": self.value, "u": self.u,
                "distribution": self.distribution,
                "bounds": list(self.bounds) if self.bounds else None, "note": self.note}


def standard_uncertainties(model) -> tuple:
    """The standard uncertainty of every input from its distribution (GUM 4.3).

    ==============  ===================================================================
    distribution    standard uncertainty u(x)
    ==============  ===================================================================
    normal          ``sigma``
    uniform         half-width / √3 of ``bounds`` (GUM 4.3.7)
    triangular      √((a² + b² + c² − ab − ac − bc) / 18) over ``bounds`` [a, b] with mode
                    c = ``value``; half-width / √6 when symmetric (GUM 4.3.9)
    lognormal       ``sigma``: the standard deviation of the quantity itself, whose mean is
                    ``value`` (so ``value`` stays the estimate, as the GUM requires);
                    samples are exp(μ + s Z) with s² = ln(1 + (σ/value)²), μ = ln value − s²/2
    (none)          ``sigma`` if given (normal); else ``bounds`` if given (uniform, noted);
                    else exact, u = 0 (noted)
    ==============  ===================================================================

    Returns
    -------
    tuple of InputUncertainty, in input order.

    Examples
    --------
    >>> import jacli
    >>> m = jacli.model_from_expressions("x + y")
    >>> [q.u for q in standard_uncertainties(m)]
    [0.0, 0.0]
    """
    out = []
    for q in model.inputs:
        dist, note = q.distribution, None
        if dist is None:
            if q.sigma is not None:
                dist = "normal"
            elif q.bounds is not None:
                dist = "uniform"
                note = "no distribution given: uniform over its bounds"
        if dist in ("normal", "lognormal"):
            u = float(q.sigma)
        elif dist == "uniform":
            a, b = q.bounds
            u = (b - a) / 2.0 / math.sqrt(3.0)
            if abs(q.value - 0.5 * (a + b)) > 1e-12 * max(abs(a), abs(b)):
                # GUM 4.3.7 takes the midpoint as the estimate; a Monte Carlo check samples
                # around the midpoint, so its mean differs from value by design
                note = (f"value {q.value:g} is not the midpoint of its uniform bounds "
                        f"[{a:g}, {b:g}]; the estimate used is value")
        elif dist == "triangular":
            a, b = q.bounds
            c = q.value
            u = math.sqrt(max(a * a + b * b + c * c - a * b - a * c - b * c, 0.0) / 18.0)
        else:
            u, dist, note = 0.0, None, "no sigma or bounds: treated as exact (u = 0)"
        out.append(InputUncertainty(q.name, float(q.value), u, dist, q.bounds, note))
    return tuple(out)


def correlation_matrix(model, correlations: Optional[dict] = None):
    """The inputs' correlation matrix R from ``model.correlations`` (or ``correlations``).

    Raises
    ------
    ModelError
        If an |r| > 1, a name is not an input, or R is not positive semidefinite (its
        smallest eigenvalue is below −1e-10): such correlations cannot all hold at once,
        and U_y = C U_x Cᵀ could then give a negative variance.

    Examples
    --------
    >>> import jacli
    >>> m = jacli.model_from_expressions("x + y + z")
    >>> correlation_matrix(m, {("x", "y"): 0.9, ("y", "z"): 0.9, ("x", "z"): -0.9})
    Traceback (most recent call last):
    ...
    jacli.errors.ModelError: correlations: the correlation matrix is not positive semidefinite (smallest eigenvalue -0.8); no set of quantities can have these correlations: check r(x,y)=0.9, r(y,z)=0.9, r(x,z)=-0.9
    """
    import numpy as np

    names = list(model.input_names)
    corr = model.correlations if correlations is None else correlations
    R = np.eye(len(names))
    for key, r in corr.items():
        a, b = key if isinstance(key, tuple) else [s.strip() for s in key.split(",")]
        for n in (a, b):
            if n not in names:
                raise ModelError(f"'{n}' is not an input; correlations are between inputs",
                                 field="correlations")
        if not (abs(float(r)) <= 1.0):
            raise ModelError(f"r({a},{b}) = {r}: a correlation must be between -1 and 1",
                             field="correlations")
        i, j = names.index(a), names.index(b)
        R[i, j] = R[j, i] = float(r)
    if corr:
        lam = np.linalg.eigvalsh(R)
        if lam[0] < -PSD_TOL:
            listing = ", ".join(f"r({k[0]},{k[1]})={v:g}" if isinstance(k, tuple) else f"r({k})={v:g}"
                                for k, v in corr.items())
            raise ModelError(f"the correlation matrix is not positive semidefinite (smallest "
                             f"eigenvalue {lam[0]:.3g}); no set of quantities can have these "
                             f"correlations: check {listing}", field="correlations")
    return R


def coverage_factor(p: float) -> float:
    """k such that ±k u covers probability ``p`` of a normal distribution (GUM G.1.3).

    >>> round(coverage_factor(0.95), 4)
    1.96
    """
    if not 0.0 < p < 1.0:
        raise UsageError(f"--coverage must be a probability between 0 and 1 (e.g. 0.95), got {p}")
    return statistics.NormalDist().inv_cdf(0.5 + p / 2.0)


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class BudgetEntry:
    """One line of an uncertainty budget: u_i(y) = |cᵢ| u(xᵢ) and its share u_i(y)² / u_c(y)²."""

    input: str
    u_input: float
    coefficient: float
    contribution: float
    share: Optional[float]

    def to_dict(self) -> dict:
        return {"input": self.input, "u_input": self.u_input, "coefficient": self.coefficient,
                "contribution": self.contribution, "share": self.share}


@dataclass(frozen=True)
class OutputUncertainty:
    """One output's estimate, combined standard uncertainty and budget (largest first)."""

    output: str
    estimate: float
    std_uncertainty: float
    coefficients: dict
    budget: tuple
    normalized: dict
    correlation_share: float = 0.0
    expanded: Optional[float] = None

    def to_dict(self) -> dict:
        d = {"estimate": self.estimate, "std_uncertainty": self.std_uncertainty,
             "sensitivity_coefficients": dict(self.coefficients),
             "budget": [b.to_dict() for b in self.budget], "normalized": dict(self.normalized),
             "correlation_share": self.correlation_share}
        if self.expanded is not None:
            d["expanded_uncertainty"] = self.expanded
        return d


@dataclass(frozen=True)
class SecondOrder:
    """Second-order terms from the Hessian, for normal inputs (GUM 5.1.2 note).

    With x ~ N(x₀, U_x) and y ≈ y₀ + cᵀδ + ½ δᵀHδ: E[y] − y₀ = ½ tr(H U_x) and
    Var[y] = cᵀU_x c + ½ tr((H U_x)²) (the linear and quadratic parts are uncorrelated,
    odd moments of a normal vanish).  Uncorrelated: ½ Σᵢⱼ Hᵢⱼ² uᵢ² uⱼ² and ½ Σᵢ Hᵢᵢ uᵢ².
    Third derivatives (GUM eq. 10, second term) are neglected.
    """

    outputs: tuple
    mean_shift: tuple
    variance_term: tuple
    std_uncertainty: tuple

    def to_dict(self) -> dict:
        return {o: {"mean_shift": s, "variance_term": v, "std_uncertainty": u}
                for o, s, v, u in zip(self.outputs, self.mean_shift, self.variance_term,
                                      self.std_uncertainty)}


@dataclass(frozen=True)
class MonteCarloCheck:
    """A Monte Carlo propagation (JCGM 101) beside the linear result."""

    n: int
    seed: Optional[int]
    outputs: tuple
    mean: tuple
    std: tuple
    interval: Optional[tuple]          # per output (low, high) at the coverage probability
    failed: int                        # samples with a non-finite output (left out)
    agree: tuple                       # per output
    warnings: tuple
    notes: tuple = ()

    def to_dict(self) -> dict:
        per = {}
        for i, o in enumerate(self.outputs):
            per[o] = {"mean": self.mean[i], "std": self.std[i], "agree": self.agree[i]}
            if self.interval is not None:
                per[o]["interval"] = list(self.interval[i])
        return {"n": self.n, "seed": self.seed, "failed": self.failed, "outputs": per,
                "warnings": list(self.warnings), "notes": list(self.notes)}


@dataclass(frozen=True)
class Propagation:
    """The result of :func:`propagate`: every output's budget and their covariance."""

    model: str
    inputs: tuple                      # of InputUncertainty
    outputs: tuple                     # of OutputUncertainty
    at: dict
    covariance: object                 # (m, m) ndarray
    correlation: object                # (m, m) ndarray; NaN where an output has u = 0
    input_correlation: object          # (k, k) ndarray
    coverage: Optional[float] = None
    k: Optional[float] = None
    exact_inputs: tuple = ()
    notes: tuple = ()
    second_order: Optional[SecondOrder] = None
    monte_carlo: Optional[MonteCarloCheck] = None
    backend: str = ""

    @property
    def output_names(self) -> tuple:
        return tuple(o.output for o in self.outputs)

    def to_dict(self) -> dict:
        import numpy as np

        def mat(a):
            return [[float(x) if np.isfinite(x) else None for x in row] for row in np.asarray(a)]

        d = {"method": "gum", "model": self.model, "backend": self.backend, "at": dict(self.at),
             "inputs": [q.to_dict() for q in self.inputs],
             "outputs": {o.output: o.to_dict() for o in self.outputs},
             "covariance": mat(self.covariance), "correlation": mat(self.correlation),
             "input_correlation": mat(self.input_correlation),
             "coverage": self.coverage, "coverage_factor": self.k,
             "exact_inputs": list(self.exact_inputs), "notes": list(self.notes)}
        if self.second_order is not None:
            d["second_order"] = self.second_order.to_dict()
        if self.monte_carlo is not None:
            d["monte_carlo"] = self.monte_carlo.to_dict()
        return d


# ----------------------------------------------------------------------------- propagation


def _point(model, at):
    from .._ops import _points_array

    X = _points_array(model, at)
    if X.shape[0] != 1:
        raise UsageError("uncertainty propagation is done at one point; give one --at")
    return X[0]


def propagate(model, at=None, *, coverage: Optional[float] = None, correlations=None,
              second_order: bool = False, check_mc: int = 0, seed: Optional[int] = None,
              backend: str = "auto", params=None) -> Propagation:
    """First-order (GUM) propagation of the inputs' uncertainties to every output.

    Parameters
    ----------
    model : Model or str
    at : dict, optional
        The estimates of the inputs; default their nominal values.
    coverage : float, optional
        Coverage probability p; adds U = k u_c with k from the normal distribution
        (k = 1.96 for 0.95), which assumes y is normally distributed (GUM G.6.6: many
        inputs, none dominant) and ignores effective degrees of freedom.
    correlations : dict, optional
        ``{(a, b): r}`` instead of the model's ``[correlations]``.
    second_order : bool
        Also estimate the second-order terms from the Hessian (:class:`SecondOrder`).
    check_mc : int
        If > 0, also propagate ``check_mc`` Monte Carlo samples (:func:`monte_carlo`);
        implies ``second_order``.
    seed : int, optional
        Seed of the Monte Carlo generator (same seed, same numbers).

    Returns
    -------
    Propagation

    Notes
    -----
    u_c(y)² = Σᵢⱼ cᵢ cⱼ u(xᵢ) u(xⱼ) r(xᵢ, xⱼ) with cᵢ = ∂y/∂xᵢ at the estimates [GUM]_ eq. 16.
    The budget gives u_i(y) = |cᵢ| u(xᵢ) and its share u_i(y)²/u_c(y)²; with correlated
    inputs the shares do not add up to one and ``correlation_share`` = 1 − Σ shares is the
    part of u_c² from the correlation terms (negative when they reduce it).  First order is
    exact for a model linear in its inputs; it fails where a coefficient vanishes at the
    estimate (GUM H.1: c = 0 for θ and α_S) or the model curves within ±u — compare with
    ``second_order`` and ``check_mc``.

    Examples
    --------
    >>> import jacli
    >>> m = jacli.model_from_expressions("2*x + y")
    >>> from dataclasses import replace
    >>> m = replace(m, inputs=tuple(replace(q, sigma=0.1) for q in m.inputs))
    >>> round(propagate(m, backend="sympy").outputs[0].std_uncertainty, 6)
    0.223607
    """
    import numpy as np

    from .. import _ops

    model = _ops._as_model(model, params)
    ins = standard_uncertainties(model)
    R = correlation_matrix(model, correlations)
    x = _point(model, at)
    if at is not None:
        ins = tuple(InputUncertainty(q.name, float(v), q.u, q.distribution, q.bounds, q.note)
                    for q, v in zip(ins, x))
    k = coverage_factor(coverage) if coverage is not None else None
    res = _ops.jacobian(model, x, backend=backend, throw=True)
    y, C = res.value[0], res.derivative[0]
    u = np.array([q.u for q in ins])
    Ux = R * np.outer(u, u)
    Uy = C @ Ux @ C.T
    Uy = 0.5 * (Uy + Uy.T)
    uy = np.sqrt(np.clip(np.diag(Uy), 0.0, None))
    with np.errstate(all="ignore"):
        Ry = Uy / np.outer(uy, uy)
    Ry[np.outer(uy, uy) == 0] = np.nan
    np.fill_diagonal(Ry, np.where(uy > 0, 1.0, np.nan))
    names = model.input_names
    outs = []
    for a, oname in enumerate(model.output_names):
        contrib = np.abs(C[a]) * u
        budget = []
        for i in np.argsort(-contrib, kind="stable"):
            share = float(contrib[i] ** 2 / uy[a] ** 2) if uy[a] > 0 else None
            budget.append(BudgetEntry(names[i], float(u[i]), float(C[a, i]), float(contrib[i]), share))
        csh = float(1.0 - np.sum(contrib ** 2) / uy[a] ** 2) if uy[a] > 0 else 0.0
        from .local import elasticities
        outs.append(OutputUncertainty(oname, float(y[a]), float(uy[a]),
                                      dict(zip(names, map(float, C[a]))), tuple(budget),
                                      elasticities(x, y[a], C[a], names),
                                      correlation_share=csh if abs(csh) > 1e-12 else 0.0,
                                      expanded=float(k * uy[a]) if k is not None else None))
    exact = tuple(q.name for q in ins if q.u == 0)
    notes = []
    if exact:
        notes.append(f"treated as exact (no sigma or bounds, u = 0): {', '.join(exact)}")
    notes += [f"{q.name}: {q.note}" for q in ins if q.note and q.u > 0]
    if k is not None:
        notes.append(f"expanded uncertainty U = k·u_c with k = {k:.4g} from the normal distribution "
                     f"(coverage {coverage:g}); assumes y is normal, no degrees-of-freedom correction")
    # Only where y depends on x structurally: a zero of an absent dependence is no news.
    S = res.structure if res.structure is not None else np.ones(C.shape, dtype=bool)
    zero = [f"{outs[a].output}/{names[i]}" for a, i in zip(*np.nonzero((C == 0) & S & (u > 0)))]
    if zero:
        notes.append("first-order sensitivity is 0 at the estimate for " + ", ".join(zero)
                     + ": their uncertainty enters only at second order (see --second-order)")
    so = mc = None
    if second_order or check_mc:
        so = _second_order(model, x, Ux, uy, backend)
        odd = [q.name for q in ins if q.u > 0 and q.distribution != "normal"]
        if odd:
            notes.append("the second-order terms assume normal inputs; for " + ", ".join(odd)
                         + " they use u only (their fourth moments differ)")
    if check_mc:
        mc = monte_carlo(model, check_mc, at=x, seed=seed, coverage=coverage, correlations=correlations,
                         reference=(y, uy))
    return Propagation(model=model.name, inputs=ins, outputs=tuple(outs),
                       at=dict(zip(names, map(float, x))), covariance=Uy, correlation=Ry,
                       input_correlation=R, coverage=coverage, k=k, exact_inputs=exact,
                       notes=tuple(notes), second_order=so, monte_carlo=mc, backend=res.backend)


def _second_order(model, x, Ux, uy, backend) -> SecondOrder:
    import numpy as np

    from .. import _ops

    H = _ops.hessian(model, x, backend=backend, throw=True).derivative[0]   # (m, k, k)
    HU = H @ Ux
    shift = 0.5 * np.trace(HU, axis1=1, axis2=2)
    var2 = 0.5 * np.einsum("aij,aji->a", HU, HU)
    return SecondOrder(model.output_names, tuple(map(float, shift)), tuple(map(float, var2)),
                       tuple(map(float, np.sqrt(uy ** 2 + var2))))


# ----------------------------------------------------------------------------- Monte Carlo


def _sample(ins, R, n, rng):
    """(n, k) input samples: a Gaussian copula with correlation R and each input's marginal."""
    import numpy as np
    from scipy.special import ndtr

    k = len(ins)
    # A symmetric square root works for singular (|r| = 1) matrices where Cholesky fails.
    lam, V = np.linalg.eigh(R)
    L = V * np.sqrt(np.clip(lam, 0.0, None))
    Z = rng.standard_normal((n, k)) @ L.T
    X = np.empty((n, k))
    for i, q in enumerate(ins):
        z = Z[:, i]
        if q.distribution == "normal":
            X[:, i] = q.value + q.u * z
        elif q.distribution == "lognormal":
            s2 = math.log1p((q.u / q.value) ** 2)
            X[:, i] = np.exp(math.log(q.value) - s2 / 2 + math.sqrt(s2) * z)
        elif q.distribution == "uniform":
            a, b = q.bounds
            X[:, i] = a + (b - a) * ndtr(z)
        elif q.distribution == "triangular":
            a, b = q.bounds
            c = q.value
            p = ndtr(z)
            fc = (c - a) / (b - a)
            X[:, i] = np.where(p < fc, a + np.sqrt(p * (b - a) * (c - a)),
                               b - np.sqrt((1 - p) * (b - a) * (b - c)))
        else:
            X[:, i] = q.value
    return X


def monte_carlo(model, n: int, *, at=None, seed: Optional[int] = None, coverage: Optional[float] = None,
                correlations=None, reference=None, chunk: int = MC_CHUNK) -> MonteCarloCheck:
    """Propagation of distributions by Monte Carlo (JCGM 101, GUM Supplement 1).

    Inputs are drawn from their distributions (:func:`standard_uncertainties`) with the
    model's correlations through a Gaussian copula: correlated standard normals Z = L ε
    (L a square root of R), then each input's inverse CDF applied to Φ(Z).  For normal
    inputs this is exactly the multivariate normal N(x, U_x) (JCGM 101 6.4.8); for
    uniform, triangular and lognormal inputs the marginals are exact and the rank
    correlation is that of the normals, so their Pearson correlation is slightly smaller
    in magnitude than r (at most ~1.5 % relative for uniform) — a note says so.  The model
    is evaluated vectorised over chunks of ``chunk`` samples.

    With ``reference=(y, u_c)`` (the linear result) each output is flagged as disagreeing
    when |s_MC − u_c| > 5 % of u_c or |mean − y| > 10 % of u_c, beyond 3 Monte Carlo
    standard errors: a sign that first order is not enough (JCGM 101 8).

    Returns
    -------
    MonteCarloCheck
    """
    import numpy as np

    from .. import _ops
    from ..model._numeric import model_function

    if not isinstance(n, int) or n < 2:
        raise UsageError(f"--check-mc must be an integer >= 2 (samples), got {n}")
    model = _ops._as_model(model, None)
    ins = standard_uncertainties(model)
    x = _point(model, at)
    # With --at, each distribution moves with its estimate (bounds shifted, width kept).
    ins = tuple(InputUncertainty(q.name, float(v), q.u, q.distribution,
                                 None if q.bounds is None else (q.bounds[0] + v - q.value,
                                                                q.bounds[1] + v - q.value), q.note)
                for q, v in zip(ins, x))
    R = correlation_matrix(model, correlations)
    rng = np.random.default_rng(seed)
    f = model_function(model)
    m = len(model.outputs)
    Y = np.empty((n, m))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        X = _sample(ins, R, stop - start, rng)
        Y[start:stop] = np.real(f(_ops._full_args(model, X)))
    good = np.isfinite(Y).all(axis=1)
    failed = int(n - good.sum())
    Yg = Y[good]
    if Yg.shape[0] < 2:
        raise UsageError("every Monte Carlo sample gave a non-finite output: the inputs' "
                         "distributions reach outside the model's domain")
    mean = Yg.mean(axis=0)
    std = Yg.std(axis=0, ddof=1)
    interval = None
    if coverage is not None:
        coverage_factor(coverage)
        lo, hi = np.quantile(Yg, [0.5 - coverage / 2, 0.5 + coverage / 2], axis=0)
        interval = tuple((float(a), float(b)) for a, b in zip(lo, hi))
    warnings, agree = [], []
    ng = Yg.shape[0]
    for a, o in enumerate(model.output_names):
        ok = True
        if reference is not None:
            y0, u0 = float(reference[0][a]), float(reference[1][a])
            tol_u = MC_RTOL * u0 + 3 * std[a] / math.sqrt(2 * (ng - 1))
            tol_m = MC_SHIFT * u0 + 3 * std[a] / math.sqrt(ng)
            if abs(std[a] - u0) > tol_u or abs(mean[a] - y0) > tol_m:
                ok = False
                warnings.append(f"{o}: Monte Carlo gives mean {mean[a]:.10g}, std {std[a]:.4g}; the "
                                f"linear result is {y0:.10g} ± {u0:.4g}: first order is not enough here")
        agree.append(ok)
    if failed:
        warnings.append(f"{failed} of {n} samples gave a non-finite output and were left out")
    notes = []
    if any(q.distribution not in ("normal", None) for q in ins) and model.correlations:
        notes.append("correlated non-normal inputs are sampled through a Gaussian copula: exact "
                     "marginals, Pearson correlation slightly below |r|")
    return MonteCarloCheck(n=n, seed=seed, outputs=model.output_names, mean=tuple(map(float, mean)),
                           std=tuple(map(float, std)), interval=interval, failed=failed,
                           agree=tuple(agree), warnings=tuple(warnings), notes=tuple(notes))
