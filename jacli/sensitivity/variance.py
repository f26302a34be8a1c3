"""Global sensitivity: Sobol' indices (Saltelli/Jansen), Morris elementary effects, DGSM.

All three methods sample the model's *inputs* from the distributions declared in the model
file; parameters stay at their values.  Every model evaluation is vectorised over points
(:func:`jacli.model._numeric.model_function`) and all outputs are analysed at once.

Input distributions
-------------------
Each input is turned into a :class:`Marginal` by :func:`marginals`.  ``value`` is the
input's best estimate (its *mean*) and ``sigma`` its standard uncertainty (the *standard
deviation*, in the input's own unit), for every distribution that uses them:

============  =================================================  ========================
distribution  definition                                         standard uncertainty
============  =================================================  ========================
uniform       U(lo, hi) on ``bounds``                            (hi - lo) / sqrt(12)
triangular    on ``bounds``, mode = ``value``                    sqrt((a²+b²+c²-ab-ac-bc)/18)
normal        N(value, sigma²)                                   sigma
lognormal     exp(N(mu, s²)) with mean ``value`` and standard    sigma
              deviation ``sigma``: s² = ln(1 + (sigma/value)²),
              mu = ln(value) - s²/2
============  =================================================  ========================

A normal or lognormal input that also has ``bounds`` is truncated to them.  An input
with no ``distribution`` is uniform on its ``bounds`` if it has them, else normal with
its ``sigma``; an input with neither raises :class:`~jacli.errors.ModelError`.

Samples are drawn as uniform numbers in (0, 1) (scrambled Sobol' points or a Morris grid)
and mapped through each marginal's inverse CDF, so low-discrepancy designs keep their
structure.

References
----------
Saltelli, A. et al. (2010). Variance based sensitivity analysis of model output. Design
and estimator for the total sensitivity index. *Comput. Phys. Commun.* 181, 259-270.
Jansen, M. J. W. (1999). Analysis of variance designs for model output. *Comput. Phys.
Commun.* 117, 35-43.
Saltelli, A. (2002). Making best use of model evaluations to compute sensitivity indices.
*Comput. Phys. Commun.* 145, 280-297.
Morris, M. D. (1991). Factorial sampling plans for preliminary computational experiments.
*Technometrics* 33, 161-174.  Campolongo, F., Cariboni, J., Saltelli, A. (2007). An
effective screening design for sensitivity analysis of large models. *Environ. Model.
Softw.* 22, 1509-1518.
Sobol', I. M., Kucherenko, S. (2009). Derivative based global sensitivity measures and
their link with global sensitivity indices. *Math. Comput. Simul.* 79, 3009-3017.
Lamboni, M., Iooss, B., Popelin, A.-L., Gamboa, F. (2013). Derivative-based global
sensitivity measures: general links with Sobol' indices and numerical tests. *Math.
Comput. Simul.* 87, 45-54.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

from ..errors import ModelError, UsageError

__all__ = ["Marginal", "marginals", "sample_inputs", "sobol_indices", "SobolResult", "morris",
           "MorrisResult", "dgsm", "DGSMResult"]

#: Rows of the evaluation matrix per model call in :func:`sobol_indices` (bounds memory).
EVAL_ROWS = 1 << 16
#: Elements of one bootstrap block (resamples x rows x columns), to bound its memory.
_BOOT_ELEMS = 1 << 22
#: Probability of ±2σ for a normal: the Morris range of unbounded inputs.
_TWO_SIGMA_P = 0.5 * math.erfc(2.0 / math.sqrt(2.0))


# --------------------------------------------------------------------------- marginals

@dataclass(frozen=True)
class Marginal:
    """One input's distribution, as used for sampling.

    Attributes
    ----------
    name : str
        The input.
    distribution : str
        ``"uniform"``, ``"triangular"``, ``"normal"`` or ``"lognormal"``.
    ppf : callable
        Inverse CDF: maps an array of probabilities in (0, 1) to input values.
    standard_uncertainty : float
        Standard deviation of the distribution (before any truncation).
    range : tuple of float
        ``(lo, hi)`` used by :func:`morris`: the bounds if any, else the probabilities of
        ±2σ of a normal (2.275 % and 97.725 %) mapped through ``ppf``, i.e. ``value ± 2 sigma``
        for a normal input.
    poincare : float or None
        A Poincaré constant C (Var g ≤ C E[g'²]) used by :func:`dgsm`; None when none is
        known (lognormal).
    """

    name: str
    distribution: str
    ppf: Callable = field(repr=False)
    standard_uncertainty: float
    range: tuple
    poincare: Optional[float]


def _missing(q) -> ModelError:
    return ModelError(
        f"input '{q.name}' has no distribution for global sensitivity analysis; add "
        f"bounds = [lo, hi] (uniform on them) or sigma = <standard uncertainty> (normal), "
        f"optionally with distribution = \"uniform\" | \"triangular\" | \"normal\" | \"lognormal\"",
        file=q.pos.file, line=q.pos.line, col=q.pos.col, field=f"inputs.{q.name}")


def _marginal(q) -> Marginal:
    import numpy as np
    from scipy import stats

    dist = q.distribution
    if dist is None:
        dist = "uniform" if q.bounds is not None else "normal" if q.sigma is not None else None
    if dist is None:
        raise _missing(q)
    need = "bounds" if dist in ("uniform", "triangular") else "sigma"
    if getattr(q, need) is None:
        what = "bounds = [lo, hi]" if need == "bounds" else "sigma = <standard uncertainty>"
        raise ModelError(f"input '{q.name}': distribution '{dist}' needs {what} for global "
                         f"sensitivity analysis", file=q.pos.file, line=q.pos.line,
                         col=q.pos.col, field=f"inputs.{q.name}")
    if dist == "uniform":
        lo, hi = map(float, q.bounds)
        w = hi - lo
        return Marginal(q.name, dist, lambda u, lo=lo, w=w: lo + w * u, w / math.sqrt(12.0),
                        (lo, hi), w * w / math.pi ** 2)
    if dist == "triangular":
        a, b = map(float, q.bounds)
        c = float(q.value)
        frozen = stats.triang((c - a) / (b - a), loc=a, scale=b - a)
        sd = math.sqrt((a * a + b * b + c * c - a * b - a * c - b * c) / 18.0)
        # the triangular density is log-concave on [a, b]: Payne-Weinberger gives C ≤ (b-a)²/π²
        return Marginal(q.name, dist, frozen.ppf, sd, (a, b), (b - a) ** 2 / math.pi ** 2)
    sigma = float(q.sigma)
    if dist == "normal":
        frozen = stats.norm(loc=float(q.value), scale=sigma)
        poincare = sigma * sigma           # Gaussian Poincaré constant (Lamboni et al. 2013)
    elif dist == "lognormal":
        s2 = math.log1p((sigma / q.value) ** 2)
        frozen = stats.lognorm(s=math.sqrt(s2), scale=math.exp(math.log(q.value) - 0.5 * s2))
        poincare = None                    # heavy tail: no finite Poincaré constant
    else:
        raise ModelError(f"input '{q.name}': unknown distribution '{dist}'; known: uniform, "
                         f"triangular, normal, lognormal", field=f"inputs.{q.name}.distribution")
    if q.bounds is not None:               # truncate to the bounds: u -> F^-1(F(lo) + u ΔF)
        lo, hi = map(float, q.bounds)
        flo, fhi = float(frozen.cdf(lo)), float(frozen.cdf(hi))
        if not fhi > flo:
            raise ModelError(f"input '{q.name}': bounds [{lo:g}, {hi:g}] hold no probability of "
                             f"its {dist} distribution", field=f"inputs.{q.name}.bounds")

        def ppf(u, _f=frozen, _lo=lo, _hi=hi, _a=flo, _d=fhi - flo):
            return np.clip(_f.ppf(_a + _d * np.asarray(u)), _lo, _hi)

        if poincare is not None:           # log-concave restricted to an interval
            poincare = min(poincare, (hi - lo) ** 2 / math.pi ** 2)
        return Marginal(q.name, dist, ppf, sigma, (lo, hi), poincare)
    rng = (float(frozen.ppf(_TWO_SIGMA_P)), float(frozen.isf(_TWO_SIGMA_P)))
    return Marginal(q.name, dist, frozen.ppf, sigma, rng, poincare)


def marginals(model) -> tuple:
    """The :class:`Marginal` of every input of ``model``, in input order.

    Raises
    ------
    ModelError
        An input has neither bounds nor sigma (the message names it and says what to add).

    Examples
    --------
    >>> import jacli
    >>> m = jacli.model_from_expressions("x + y")
    >>> marginals(m)
    Traceback (most recent call last):
    ...
    jacli.errors.ModelError: <expr>: inputs.x: input 'x' has no distribution for global sensitivity analysis; add bounds = [lo, hi] (uniform on them) or sigma = <standard uncertainty> (normal), optionally with distribution = "uniform" | "triangular" | "normal" | "lognormal"
    """
    return tuple(_marginal(q) for q in model.inputs)


def _to_inputs(margs, U):
    """Map probabilities U (N, k) to input values through each marginal's inverse CDF."""
    import numpy as np

    # scrambled Sobol' points are never exactly 0 or 1, but a Morris grid is: keep ppf finite
    tiny = np.finfo(float).eps
    X = np.empty(U.shape, dtype=float)
    for j, mg in enumerate(margs):
        u = U[:, j]
        if mg.distribution != "uniform":
            u = np.clip(u, tiny, 1.0 - tiny)
        X[:, j] = mg.ppf(u)
    return X


def sample_inputs(model, samples: int, *, seed=None):
    """``samples`` points (a power of 2) of the inputs: a scrambled Sobol' sequence through the inverse CDFs.

    Returns an array of shape (samples, n_inputs), columns in input order.
    """
    margs = marginals(model)
    _check_pow2(samples)
    return _to_inputs(margs, _sobol(len(margs), samples, seed))


def _check_pow2(n):
    if isinstance(n, bool) or not isinstance(n, int) or n < 2 or n & (n - 1):
        raise UsageError(f"samples must be a power of 2 (>= 2) for a Sobol' sequence, e.g. 1024 or "
                         f"4096, got {n!r}")


def _sobol(d, n, seed):
    from scipy.stats import qmc

    return qmc.Sobol(d=d, scramble=True, seed=seed).random(n)


def _evaluator(model):
    """``f(X) -> Y``: inputs (N, k) to outputs (N, m); parameters appended at their values."""
    from .._ops import _full_args
    from ..model._numeric import model_function

    fn = model_function(model)
    return lambda X: fn(_full_args(model, X))


def _blocks(f, X, progress):
    """``f(X)`` in blocks of :data:`EVAL_ROWS` points, reporting progress after each."""
    import numpy as np

    if progress is None or len(X) <= EVAL_ROWS:
        Y = f(X)
        if progress is not None:
            progress(len(X), len(X))
        return Y
    parts = []
    for s in range(0, len(X), EVAL_ROWS):
        parts.append(f(X[s:s + EVAL_ROWS]))
        progress(min(len(X), s + EVAL_ROWS), len(X))
    return np.concatenate(parts)


def _check_finite(model, X, Y):
    import numpy as np

    bad = ~np.isfinite(Y)
    if bad.any():
        rows, cols = np.nonzero(bad)
        point = ", ".join(f"{n}={v:.6g}" for n, v in zip(model.input_names, X[rows[0]]))
        raise ModelError(f"output '{model.output_names[cols[0]]}' is not finite at "
                         f"{len(set(rows.tolist()))} of {len(X)} sampled points (first: {point}); "
                         f"narrow the inputs' bounds or distributions to the model's domain")


def _validate(model, outputs, seed):
    from .._ops import _as_model

    model = _as_model(model, None).select_outputs(outputs)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise UsageError(f"seed must be a non-negative integer or None, got {seed!r}")
    return model


# --------------------------------------------------------------------------- Sobol'

@dataclass(frozen=True)
class SobolResult:
    """Sobol' indices of every output with respect to every input.

    Arrays are indexed ``[output, input]`` (``S2``: ``[output, input_j, input_k]``, upper
    triangle filled, NaN elsewhere).  ``*_conf`` are half-widths of the ``confidence``
    bootstrap intervals: the estimate ± conf.

    Attributes
    ----------
    inputs, outputs : tuple of str
    S1, S1_conf, ST, ST_conf : ndarray, shape (m, k)
    S2, S2_conf : ndarray, shape (m, k, k), or None
    variance : ndarray, shape (m,)
        Estimated output variances.
    evaluations : int
        Model evaluations (rows): samples·(k+2), or samples·(2k+2) with second order.
    samples, seed, confidence, bootstrap
        As requested.
    notes : tuple of str
        Why some indices are NaN (constant outputs).
    """

    inputs: tuple
    outputs: tuple
    S1: object
    S1_conf: object
    ST: object
    ST_conf: object
    S2: object
    S2_conf: object
    variance: object
    evaluations: int
    samples: int
    seed: Optional[int]
    confidence: float
    bootstrap: int
    notes: tuple = ()

    @property
    def indices(self) -> dict:
        """``{output: {"S1": {input: v}, "S1_conf": ..., "ST": ..., "ST_conf": ..., ["S2", "S2_conf"]}}``.

        ``S2`` is ``{input_j: {input_k: v}}`` for j before k in input order.
        """
        out = {}
        for o, name in enumerate(self.outputs):
            d = {key: {i: float(getattr(self, key)[o, j]) for j, i in enumerate(self.inputs)}
                 for key in ("S1", "S1_conf", "ST", "ST_conf")}
            if self.S2 is not None:
                for key in ("S2", "S2_conf"):
                    arr = getattr(self, key)[o]
                    d[key] = {a: {b: float(arr[j, l]) for l, b in enumerate(self.inputs) if l > j}
                              for j, a in enumerate(self.inputs[:-1])}
            out[name] = d
        return out

    def to_dict(self) -> dict:
        """JSON-ready: method, indices, evaluations, samples, seed, confidence, bootstrap."""
        return {"method": "sobol", "indices": self.indices, "evaluations": self.evaluations,
                "samples": self.samples, "seed": self.seed, "confidence": self.confidence,
                "bootstrap": self.bootstrap, "notes": list(self.notes)}


def _row_terms(fA, fB, fAB, fBA):
    """Per-row terms whose means give every Sobol' estimate: (N, p) and the layout.

    Every estimator is a function of row means, so a bootstrap resample is a weighted
    mean: one (resamples x N) @ (N x p) product instead of gathering resampled copies.
    """
    import numpy as np

    N, k, m = fAB.shape
    # centre on the mean of [f(A); f(B)]: the Saltelli 2010 first-order estimator is not
    # shift-invariant in finite samples (SALib standardises Y for the same reason)
    c = 0.5 * (fA.mean(axis=0) + fB.mean(axis=0))
    fA, fB, fAB = fA - c, fB - c, fAB - c
    parts = [fA, fB, fA * fA, fB * fB,
             (fB[:, None, :] * (fAB - fA[:, None, :])).reshape(N, k * m),      # Saltelli 2010
             (0.5 * (fA[:, None, :] - fAB) ** 2).reshape(N, k * m)]            # Jansen 1999
    if fBA is not None:
        fBA = fBA - c
        # Saltelli 2002, row-paired: f(B_A^j) f(A_B^k) - f(A) f(B) (lower variance than
        # subtracting the product of the means; SALib pairs the rows too)
        s2 = np.einsum("njm,nkm->njkm", fBA, fAB) - (fA * fB)[:, None, None, :]
        parts += [s2.reshape(N, k * k * m)]
    return np.concatenate(parts, axis=1)


def _estimates(M, k, m, second_order):
    """S1, ST (B, m, k), S2 (B, m, k, k) or None, and Var (B, m) from row means M (B, p)."""
    import numpy as np

    B = M.shape[0]
    mA, mB, mA2, mB2 = (M[:, i * m:(i + 1) * m] for i in range(4))
    o = 4 * m
    v1 = M[:, o:o + k * m].reshape(B, k, m)
    vt = M[:, o + k * m:o + 2 * k * m].reshape(B, k, m)
    mean = 0.5 * (mA + mB)
    var = 0.5 * (mA2 + mB2) - mean * mean          # population variance of [f(A); f(B)]
    with np.errstate(divide="ignore", invalid="ignore"):   # constant output: NaN indices
        S1 = np.swapaxes(v1 / var[:, None, :], 1, 2)
        ST = np.swapaxes(vt / var[:, None, :], 1, 2)
        S2 = None
        if second_order:
            o2 = o + 2 * k * m
            # Saltelli 2002: V_jk = E[f(B_A^j) f(A_B^k) - f(A) f(B)]; S2 = V_jk/V - S1_j - S1_k
            vjk = M[:, o2:].reshape(B, k, k, m)
            S2 = np.moveaxis(vjk, 3, 1) / var[:, :, None, None] - S1[:, :, :, None] - S1[:, :, None, :]
            S2 = np.where(np.triu(np.ones((k, k), dtype=bool), 1), S2, np.nan)
    return S1, ST, S2, var


def sobol_indices(model, *, samples: int = 1024, seed: Optional[int] = None,
                  second_order: bool = False, outputs=None, confidence: float = 0.95,
                  bootstrap: int = 200, chunk: Optional[int] = None,
                  progress: Optional[Callable[[int, int], None]] = None) -> SobolResult:
    r"""First-order and total Sobol' indices of every output, with bootstrap confidence intervals.

    Parameters
    ----------
    model : Model or str
        A model (or a model file) whose inputs have distributions (see :func:`marginals`).
    samples : int
        N, the base sample size; a power of 2.  The model is evaluated N·(k+2) times
        (N·(2k+2) with ``second_order``).
    seed : int, optional
        Seeds the Sobol' scrambling and the bootstrap: same seed, same indices.
    second_order : bool
        Also estimate second-order indices S2 (Saltelli 2002).
    outputs : sequence of str, optional
        Outputs to analyse (default all).
    confidence : float
        Level of the bootstrap intervals, in (0, 1).
    bootstrap : int
        Bootstrap resamples of the N rows (0: no intervals, conf is NaN; else >= 2).
    chunk : int, optional
        Base rows per model call; the call evaluates chunk·(k+2) points.  Default keeps
        one call near 65 536 points.
    progress : callable ``(done, total)``, optional
        Called after every model call with the evaluations done so far and in all.

    Returns
    -------
    SobolResult

    Notes
    -----
    Design (Saltelli 2010): a scrambled Sobol' sequence of dimension 2k gives the
    probability matrices A and B (N×k); :math:`A_B^{(i)}` is A with column i from B.  With
    V the variance of f over A and B,

    .. math::
        S_i = \frac{1}{NV}\sum_j f(B)_j\,(f(A_B^{(i)})_j - f(A)_j), \qquad
        S_{Ti} = \frac{1}{2NV}\sum_j (f(A)_j - f(A_B^{(i)})_j)^2

    (Saltelli 2010 first order, Jansen 1999 total).  Intervals: ±z·sd of the estimates
    over ``bootstrap`` resamples of the N rows (z the normal quantile of ``confidence``).
    The bootstrap treats the QMC points as independent, which makes the intervals
    conservative.  Estimates of small indices can be slightly negative.  An output that
    is constant (variance at rounding level) has NaN indices and a line in ``notes``.

    Examples
    --------
    >>> from jacli.model import model_from_toml
    >>> m = model_from_toml('''
    ... [inputs]
    ... x = { value = 0.5, bounds = [0, 1] }
    ... y = { value = 0.5, bounds = [0, 1] }
    ... [outputs]
    ... f = "x + 2*y"
    ... ''')
    >>> r = sobol_indices(m, samples=1024, seed=1)
    >>> [round(r.indices["f"]["S1"][i], 2) for i in ("x", "y")]
    [0.2, 0.8]
    >>> r.evaluations
    4096
    """
    import numpy as np
    from scipy.stats import norm

    model = _validate(model, outputs, seed)
    _check_pow2(samples)
    if not 0 < confidence < 1:
        raise UsageError(f"confidence must be in (0, 1), got {confidence!r}")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 0 \
            or bootstrap == 1:
        raise UsageError(f"bootstrap must be 0 (no intervals) or an integer >= 2, got {bootstrap!r}")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise UsageError(f"chunk must be a positive integer, got {chunk!r}")
    margs = marginals(model)
    k, m, N = len(margs), len(model.outputs), samples
    if k < 1:
        raise UsageError("the model has no inputs to analyse")
    groups = 2 * k + 2 if second_order else k + 2
    chunk = chunk or max(1, EVAL_ROWS // groups)

    U = _sobol(2 * k, N, seed)
    f = _evaluator(model)
    fA = np.empty((N, m))
    fB = np.empty((N, m))
    fAB = np.empty((N, k, m))
    fBA = np.empty((N, k, m)) if second_order else None
    for s in range(0, N, chunk):
        XA = _to_inputs(margs, U[s:s + chunk, :k])
        XB = _to_inputs(margs, U[s:s + chunk, k:])
        n = len(XA)
        # one stacked call: [A; B; A_B^(1..k); (B_A^(1..k))], mapped once and column-swapped
        blocks = [XA, XB]
        for i in range(k):
            ab = XA.copy()
            ab[:, i] = XB[:, i]
            blocks.append(ab)
        if second_order:
            for i in range(k):
                ba = XB.copy()
                ba[:, i] = XA[:, i]
                blocks.append(ba)
        X = np.concatenate(blocks)
        Y = f(X)
        _check_finite(model, X, Y)
        if progress is not None:
            progress((s + n) * groups, N * groups)
        Y = Y.reshape(groups, n, m)
        fA[s:s + n], fB[s:s + n] = Y[0], Y[1]
        fAB[s:s + n] = Y[2:k + 2].transpose(1, 0, 2)
        if second_order:
            fBA[s:s + n] = Y[k + 2:].transpose(1, 0, 2)

    T = _row_terms(fA, fB, fAB, fBA)
    S1, ST, S2, var = (None if e is None else e[0]
                       for e in _estimates(T.mean(axis=0)[None], k, m, second_order))
    var = np.concatenate([fA, fB]).var(axis=0)
    S1c = np.full_like(S1, np.nan)
    STc = np.full_like(ST, np.nan)
    S2c = None if S2 is None else np.full_like(S2, np.nan)
    if bootstrap:
        rng = np.random.default_rng(seed)
        per = max(1, _BOOT_ELEMS // N)             # resamples per block: bounds the weights' memory
        b1, bt, b2 = [], [], []
        for s in range(0, bootstrap, per):
            b = min(per, bootstrap - s)
            idx = rng.integers(0, N, size=(b, N)) + (np.arange(b) * N)[:, None]
            W = np.bincount(idx.ravel(), minlength=b * N).reshape(b, N) / N
            e1, et, e2, _ = _estimates(W @ T, k, m, second_order)
            b1.append(e1)
            bt.append(et)
            if e2 is not None:
                b2.append(e2)
        z = norm.ppf(0.5 + confidence / 2)
        S1c = z * np.concatenate(b1).std(axis=0, ddof=1)
        STc = z * np.concatenate(bt).std(axis=0, ddof=1)
        if b2:
            S2c = z * np.concatenate(b2).std(axis=0, ddof=1)
    notes = _constant_outputs(model, var, fA, fB)
    for arr in (S1, S1c, ST, STc, S2, S2c):
        if arr is not None:
            arr[[model.output_names.index(o) for o, _ in notes]] = np.nan
    return SobolResult(model.input_names, model.output_names, S1, S1c, ST, STc, S2, S2c, var,
                       N * groups, N, seed, confidence, bootstrap, tuple(n for _, n in notes))


def _tiny_var(y):
    """Variance below which an output counts as constant: rounding noise of its magnitude."""
    import numpy as np

    scale = float(np.max(np.abs(y))) if y.size else 0.0
    return (64 * np.finfo(float).eps * scale) ** 2


def _constant_outputs(model, var, *Ys):
    """``[(output, note)]`` for outputs whose sampled variance is rounding noise."""
    import numpy as np

    Y = np.concatenate(Ys)
    return [(o, f"output '{o}' is constant over the sampled inputs: its indices are undefined "
                f"(NaN)")
            for j, o in enumerate(model.output_names) if var[j] <= _tiny_var(Y[:, j])]


# --------------------------------------------------------------------------- Morris

@dataclass(frozen=True)
class MorrisResult:
    """Elementary-effect statistics, arrays indexed ``[output, input]``.

    ``mu`` is the mean elementary effect, ``mu_star`` the mean of its absolute value
    (Campolongo 2007), ``sigma`` its standard deviation (ddof=1).  Effects are
    ``(f(x + Δe_i) - f(x)) / Δ`` with Δ measured in the unit hypercube (x scaled to each
    input's range), so they carry the output's unit and compare across inputs.
    """

    inputs: tuple
    outputs: tuple
    mu: object
    mu_star: object
    sigma: object
    ranges: tuple
    evaluations: int
    trajectories: int
    levels: int
    seed: Optional[int]
    notes: tuple = ()

    @property
    def indices(self) -> dict:
        """``{output: {"mu": {input: v}, "mu_star": ..., "sigma": ...}}``."""
        return {name: {key: {i: float(getattr(self, key)[o, j]) for j, i in enumerate(self.inputs)}
                       for key in ("mu", "mu_star", "sigma")}
                for o, name in enumerate(self.outputs)}

    def ranking(self, output: Optional[str] = None) -> tuple:
        """Inputs by decreasing μ* for ``output`` (default the first)."""
        import numpy as np

        o = 0 if output is None else self.outputs.index(output)
        return tuple(self.inputs[j] for j in np.argsort(-self.mu_star[o], kind="stable"))

    def to_dict(self) -> dict:
        return {"method": "morris", "indices": self.indices,
                "ranges": {i: list(r) for i, r in zip(self.inputs, self.ranges)},
                "evaluations": self.evaluations, "trajectories": self.trajectories,
                "levels": self.levels, "seed": self.seed, "notes": list(self.notes)}


def morris(model, *, trajectories: int = 20, levels: int = 4, seed: Optional[int] = None,
           outputs=None, progress: Optional[Callable[[int, int], None]] = None) -> MorrisResult:
    r"""Morris elementary effects: μ, μ* and σ of every input for every output.

    Parameters
    ----------
    model : Model or str
    trajectories : int
        r, the number of one-at-a-time trajectories; the model is evaluated r·(k+1) times.
    levels : int
        p, an even number of grid levels per input (Δ = p / (2(p-1))).
    seed : int, optional
    outputs : sequence of str, optional
    progress : callable ``(done, total)``, optional
        Called after every block of model evaluations.

    Notes
    -----
    Each input's range is :attr:`Marginal.range`: its bounds, or the 2.275 %-97.725 %
    quantiles (value ± 2σ for a normal input) when it has none.  The grid is uniform on
    that range (Morris 1991); trajectories are random (no Campolongo selection of
    spread-out trajectories): a random grid point, then each input in random order moves
    by +Δ, or -Δ when +Δ would leave the grid.  μ* (Campolongo 2007) ranks inputs; σ
    large against μ* signals interactions or non-linearity.  An input the outputs do not
    depend on has μ = μ* = σ = 0 exactly.
    """
    import numpy as np

    model = _validate(model, outputs, seed)
    for name, v, low in (("trajectories", trajectories, 2), ("levels", levels, 2)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise UsageError(f"{name} must be an integer >= {low}, got {v!r}")
    if levels % 2:
        raise UsageError(f"levels must be even (Morris 1991), got {levels}")
    margs = marginals(model)
    k, m, r = len(margs), len(model.outputs), trajectories
    delta = levels / (2.0 * (levels - 1))
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, levels, size=(r, k)) / (levels - 1)      # base points on the grid
    order = np.argsort(rng.random((r, k)), axis=1)                  # random input order
    P = np.empty((r, k + 1, k))
    P[:, 0] = grid
    steps = np.empty((r, k))
    x = grid.copy()
    for t in range(k):
        j = order[:, t]
        cur = x[np.arange(r), j]
        step = np.where(cur + delta <= 1.0 + 1e-12, delta, -delta)
        x[np.arange(r), j] = cur + step
        steps[np.arange(r), j] = step
        P[:, t + 1] = x
    lo = np.array([mg.range[0] for mg in margs])
    hi = np.array([mg.range[1] for mg in margs])
    X = lo + (hi - lo) * P.reshape(-1, k)
    Y = _blocks(_evaluator(model), X, progress)
    _check_finite(model, X, Y)
    Y = Y.reshape(r, k + 1, m)
    dY = np.diff(Y, axis=1)                                         # (r, k, m), step t
    EE = np.empty((r, k, m))
    EE[np.arange(r)[:, None], order] = dY / steps[np.arange(r)[:, None], order][..., None]
    mu = EE.mean(axis=0).T
    mu_star = np.abs(EE).mean(axis=0).T
    sigma = EE.std(axis=0, ddof=1).T
    notes = tuple(f"output '{o}' is constant on the Morris grid: every effect is 0"
                  for o, y in zip(model.output_names, Y.reshape(-1, m).T) if np.ptp(y) == 0)
    return MorrisResult(model.input_names, model.output_names, mu, mu_star, sigma,
                        tuple(mg.range for mg in margs), r * (k + 1), r, levels, seed, notes)


# --------------------------------------------------------------------------- DGSM

@dataclass(frozen=True)
class DGSMResult:
    """Derivative-based global sensitivity measures, arrays indexed ``[output, input]``.

    Attributes
    ----------
    nu : ndarray
        ν_i = E[(∂f/∂x_i)²] under the input distributions.
    bound : ndarray
        Upper bound on the total Sobol' index, C_i ν_i / Var f (C_i the input's Poincaré
        constant); NaN where no constant is known (lognormal inputs).
    variance : ndarray, shape (m,)
        Var f estimated from the same sample.
    evaluations : int
        Points where the model and its exact Jacobian were evaluated.
    notes : tuple of str
        Why some bounds are missing (constant outputs, lognormal inputs).
    """

    inputs: tuple
    outputs: tuple
    nu: object
    bound: object
    variance: object
    evaluations: int
    samples: int
    seed: Optional[int]
    backend: str
    notes: tuple = ()

    @property
    def indices(self) -> dict:
        """``{output: {"nu": {input: v}, "ST_bound": {input: v or None}}}``."""
        import math as _m

        out = {}
        for o, name in enumerate(self.outputs):
            out[name] = {
                "nu": {i: float(self.nu[o, j]) for j, i in enumerate(self.inputs)},
                "ST_bound": {i: (None if _m.isnan(self.bound[o, j]) else float(self.bound[o, j]))
                             for j, i in enumerate(self.inputs)}}
        return out

    def to_dict(self) -> dict:
        return {"method": "dgsm", "indices": self.indices, "evaluations": self.evaluations,
                "samples": self.samples, "seed": self.seed, "backend": self.backend,
                "notes": list(self.notes)}


def dgsm(model, *, samples: int = 1024, seed: Optional[int] = None, outputs=None,
         backend: str = "sympy", progress: Optional[Callable[[int, int], None]] = None) -> DGSMResult:
    r"""DGSM ν_i = E[(∂f/∂x_i)²] from exact Jacobians over a scrambled Sobol' sample, with ST bounds.

    Parameters
    ----------
    model : Model or str
    samples : int
        Sample size, a power of 2.
    seed : int, optional
    outputs : sequence of str, optional
    backend : str
        Jacobian backend; the default ``"sympy"`` is exact.
    progress : callable ``(done, total)``, optional
        Called after every block of Jacobians (points done so far, in all).

    Notes
    -----
    Sobol' & Kucherenko (2009), Lamboni et al. (2013): for independent inputs,
    :math:`S_{Ti} \le C_i \nu_i / \mathrm{Var} f` with C_i a Poincaré constant of x_i's
    distribution: (b-a)²/π² for uniform on [a, b] and for any log-concave density on
    [a, b] (triangular; Payne-Weinberger); σ² for a normal (min of both when truncated).
    Lognormal inputs have no finite constant: their bound is NaN.
    """
    import numpy as np

    from .._ops import jacobian
    from ..results import Status

    model = _validate(model, outputs, seed)
    margs = marginals(model)
    X = sample_inputs(model, samples, seed=seed)
    if progress is None:
        res = jacobian(model, X, backend=backend)
    else:
        from dataclasses import replace as _replace

        from .._ops import prepare
        model, be, prep = prepare(model, "jacobian", backend=backend)
        parts = []
        block = 8192    # Jacobians per progress step
        for s in range(0, samples, block):
            parts.append(jacobian(model, X[s:s + block], prep=(be, prep)))
            progress(min(samples, s + block), samples)
        res = parts[0] if len(parts) == 1 else _replace(
            parts[0], at=X, value=np.concatenate([r.value for r in parts]),
            derivative=np.concatenate([r.derivative for r in parts]),
            status=np.concatenate([np.asarray(r.status) for r in parts]),
            messages=sum((tuple(r.messages) for r in parts), ()))
    bad = np.asarray(res.status) != int(Status.OK)
    if bad.any():
        i = int(np.argmax(bad))
        point = ", ".join(f"{n}={v:.6g}" for n, v in zip(model.input_names, X[i]))
        raise ModelError(f"the Jacobian failed at {int(bad.sum())} of {samples} sampled points "
                         f"(first: {point}: {res.messages[i]}); narrow the inputs' bounds or "
                         f"distributions to the model's domain")
    D = np.asarray(res.derivative)                                  # (N, m, k)
    nu = (D * D).mean(axis=0)
    var = np.asarray(res.value).var(axis=0)
    C = np.array([np.nan if mg.poincare is None else mg.poincare for mg in margs])
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = C[None, :] * nu / var[:, None]
    value = np.asarray(res.value)
    const = _constant_outputs(model, var, value)
    bound[[model.output_names.index(o) for o, _ in const]] = np.nan
    notes = [n for _, n in const]
    notes += [f"input '{mg.name}' is lognormal: no finite Poincaré constant, so no bound on its "
              f"total index" for mg in margs if mg.poincare is None]
    return DGSMResult(model.input_names, model.output_names, nu, bound, var, samples, samples,
                      seed, res.backend, tuple(notes))
