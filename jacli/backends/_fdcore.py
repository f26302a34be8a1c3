r"""Numeric differentiation core: batched finite differences and complex step.

Pure NumPy, independent of jacli's model layer.  Every function takes a
*vectorised* callable ``f`` mapping ``X`` of shape ``(n, K)`` -- each column one
point -- to ``Y`` of shape ``(m, K)``, and a batch of points ``x`` of shape
``(N, n)``.  All perturbed points of all ``N`` points are stacked into as few
calls to ``f`` as the ``chunk_size`` allows (one call unless the batch is
large).

Finite differences (:func:`fd_jacobian`, :func:`fd_jvp`)
--------------------------------------------------------
For a coordinate ``j`` and an offset ``c h`` the symmetric quotient

.. math::

    D_c = \frac{f(x + c h e_j) - f(x - c h e_j)}{2 c h}
        = f'(x) + \sum_{k \ge 1} \frac{f^{(2k+1)}(x)}{(2k+1)!} (c h)^{2k}

has an error expansion in even powers of ``h``.  The central formula of order
``p`` (Fornberg 1988) is the combination :math:`A(h) = \sum_{i=1}^{p/2} a_i
D_i` with :math:`\sum_i a_i = 1` and :math:`\sum_i a_i i^{2k} = 0` for
``k = 1 .. p/2-1`` (error :math:`O(h^p)`).  It is evaluated on the geometric
sequence :math:`h_k = h_0 q^{-k}`, ``k = 0, 1, ...`` (ratio ``q = 2`` by
default, so the stencils of successive levels share points for ``p >= 4``),
and the Richardson tableau (Richardson 1911; Ridders 1982)

.. math::

    T_{k,0} = A(h_k), \qquad
    T_{k,r} = T_{k,r-1} + \frac{T_{k,r-1} - T_{k-1,r-1}}{q^{p + 2r - 2} - 1}

removes one more even power of ``h`` per column.  Every :math:`T_{k,r}` is a
fixed linear combination :math:`\sum_c w_c D_c` of the quotients, so the
whole tableau, for all entries of all Jacobians, is a few matrix products.

Error estimate.  For each Jacobian entry and each :math:`T_{k,r}` (``k >= 1``)

.. math::

    e_{k,r} = s \max(|T_{k,r} - T_{k,r-1}|, |T_{k,r} - T_{k-1,r-1}|, |T_{k,r} - T_{k-1,r}|)
              + \frac{\rho}{h} \sum_c \frac{|w_c|}{c} \bigl(F_c + \kappa\bigr)
              + 2 \epsilon |T_{k,r}| .

The first term (``s`` = ``safety`` = 2) is Ridders' truncation estimate
(Press et al., *Numerical Recipes*, ``dfridr``) with one more comparison: the
change from less accurate extrapolants, which in the asymptotic range
*over*-estimates the error of :math:`T_{k,r}`.  The second bounds the
propagated rounding of ``f``: values accurate to ``rho`` (``f_rel_err``,
default ``32 eps``) relative to :math:`F_c = \max|f(x \pm c h e_j)|` and to
the row's condition magnitude :math:`\kappa_i = \sum_j |J_{ij}| |x_j|` (the
size of terms that cancel when ``|f|`` is much smaller than its parts);
``f_abs_err`` adds a known absolute noise level.  The third is the rounding of
the combination itself.

Which estimate is used.  A tableau entry is *trusted* only where the base
sequence is in its asymptotic range on the levels it combines,
:math:`|A_j - A_{j-1}| \le \tfrac12 |A_{j-1} - A_{j-2}|` up to rounding
(otherwise Ridders' differences can agree by coincidence).  Per level the
trusted entry with the smallest estimate is taken; a level is *admissible*
only if it agrees, within the two estimates, with every finer level (coarse
steps that converge to an aliased value are rejected).  The admissible level
with the smallest estimate gives the value and its error.  Without any
trusted entry the best finite value is returned with error ``inf`` (not
converged).

Refinement.  The first pass uses ``levels`` steps (default 5 for order 2:
offsets ``h * {1, 1/2, 1/4, 1/8, 1/16}``, ``10`` evaluations per coordinate,
one call of ``f`` for the whole batch).  Directions with an entry whose
estimate exceeds ``rtol * |value|`` (default ``1e-10``) *and* is dominated by
truncation (smaller steps can still help) get ``refine_levels`` (3) more,
smaller steps, up to ``max_levels`` (14 for order 2: at most 28 evaluations
per coordinate); this handles functions that vary on a scale much smaller
than ``max(|x_j|, 1)``.  Other directions are not re-evaluated.

Step choice.  The largest excursion is ``h = 2**floor(log2(rel_step *
max(|x_j|, typical_x_j)))`` (``rel_step`` 0.25, ``typical_x`` 1: relative to
the point's scale, with a floor so the step does not vanish at ``x_j = 0``
or ``|x_j| ~ 1e-8``; pass the natural magnitude of a variable when it is far
from 1).  The offsets ``c <= 1`` are ``i q**-k / (p/2)``.  The perturbed
coordinates ``x_j +- c h`` are rounded to doubles and each quotient divides
by the *representable* span ``(x_j + c h) - (x_j - c h)``, so no error comes
from unrepresentable steps.

Non-finite values.  A tableau entry that uses a non-finite function value is
discarded (a domain boundary hit only by the largest steps costs only those
entries); an entry with no finite candidate left is NaN with error ``inf``.
``drop_nonfinite=False`` makes any non-finite stencil value turn the entry
NaN.  Floating-point warnings raised inside ``f`` at perturbed points are
silenced locally (``np.errstate``); the non-finite values they produce are
handled as above.

Limitations.  The estimate is a model, not a proof: a function that
oscillates on a scale much smaller than the step (e.g. ``sin(x)`` at
``|x| ~ 1e8`` with a relative step) can alias so that all levels agree on a
wrong value; rounding inside ``f`` that is invisible in ``|f|`` and
:math:`\kappa` needs ``f_abs_err``.  Orders 2 and 4 are recommended: with
``q = 2`` the stencils of orders 6 and 8 add two offsets per level, so their
refinement reaches less far for the same number of evaluations.

Complex step (:func:`complex_step_jacobian`, :func:`complex_step_jvp`)
----------------------------------------------------------------------
For ``f`` real-analytic and implemented with complex-safe operations,
:math:`f'(x) = \operatorname{Im} f(x + i h) / h + O(h^2)` with no subtractive
cancellation (Squire & Trapp 1998; Martins, Sturdza & Alonso 2003), so a
tiny ``h`` (default ``1e-100``) gives the derivative to rounding accuracy with
one evaluation per direction.

References
----------
B. Fornberg, "Generation of finite difference formulas on arbitrarily spaced
grids", Math. Comp. 51 (1988) 699-706.

L. F. Richardson, "The approximate arithmetical solution by finite
differences of physical problems...", Phil. Trans. R. Soc. A 210 (1911).

C. J. F. Ridders, "Accurate computation of F'(x) and F'(x)F''(x)", Adv. Eng.
Software 4 (1982) 75-76.

W. Squire and G. Trapp, "Using complex variables to estimate derivatives of
real functions", SIAM Review 40 (1998) 110-112.

J. R. R. A. Martins, P. Sturdza and J. J. Alonso, "The complex-step
derivative approximation", ACM TOMS 29 (2003) 245-262.

Examples
--------
>>> import numpy as np
>>> def f(X):                      # R^2 -> R^2, one column per point
...     return np.stack([np.exp(X[0]) * X[1], np.sin(X[0]) + X[1] ** 2])
>>> x = np.array([[0.0, 2.0], [1.0, -1.0]])
>>> J, err, nfev = fd_jacobian(f, x)
>>> J.shape, err.shape
((2, 2, 2), (2, 2, 2))
>>> bool(np.all(np.abs(J[0] - [[2.0, 1.0], [1.0, 4.0]]) <= err[0]))
True
>>> Jc, errc, nc = complex_step_jacobian(f, x)
>>> float(abs(Jc[1, 0, 0] - np.e * -1.0)) < 1e-15
True
"""
from __future__ import annotations

import functools
from typing import Callable, Optional, Tuple

import numpy as np

__all__ = [
    "fd_jacobian",
    "fd_jvp",
    "complex_step_jacobian",
    "complex_step_jvp",
    "fd_stencil",
]

_EPS = float(np.finfo(np.float64).eps)
_TINY = float(np.finfo(np.float64).tiny)
#: Absolute rounding floor of a function value (subnormals have absolute spacing 2**-1074).
_ABS_FLOOR = 4.0 * 2.0 ** -1074

#: Default elements (``n * K``) of one stacked input array passed to ``f``.
_DEFAULT_CHUNK_ELEMENTS = 1 << 22

#: Defaults (see ``benchmarks/bench_fd_accuracy.py`` for the measurements).
_DEFAULT_REL_STEP = 0.25
_DEFAULT_LEVELS = {2: 5, 4: 4, 6: 3, 8: 3}
_DEFAULT_REFINE_LEVELS = 3
_DEFAULT_MAX_LEVELS = {2: 14, 4: 13, 6: 6, 8: 6}
_DEFAULT_RTOL = 1e-10


# --------------------------------------------------------------------------
# stencil / tableau construction
# --------------------------------------------------------------------------
class Stencil:
    """Offsets and candidate combinations of a Richardson tableau.

    Attributes
    ----------
    offsets : ndarray, shape (M,)
        Distinct offsets ``c`` in units of the largest excursion (so
        ``offsets[0] == 1``), descending.
    W : ndarray, shape (C, M)
        Weights of each candidate ``T[k, r]`` (``k >= 1``) on the quotients ``D_c``.
    E1, E2, E3 : ndarray, shape (C, M)
        Weights of ``T[k,r] - T[k,r-1]``, ``T[k,r] - T[k-1,r-1]`` and
        ``T[k,r] - T[k-1,r]`` (the truncation estimate).
    B : ndarray, shape (levels - 1, M)
        Base differences ``A_k - A_{k-1}``, ``k = 1 .. levels-1``.
    level : ndarray of int, shape (C,)
        Level ``k`` of each candidate.
    needs : ndarray of bool, shape (C, levels)
        Levels whose asymptotic-range check each candidate requires.
    support : ndarray of bool, shape (C, M)
        Offsets each candidate (or its error estimate) depends on.
    noise : ndarray, shape (C, M)
        ``|W| / c``: rounding amplification of each offset's function noise.
    labels : list of (k, r)
        Tableau position (level, extrapolation depth) of each candidate.
    """

    def __init__(self, offsets, W, E1, E2, E3, labels, B=None):
        self.offsets = offsets
        self.W = W
        self.E1 = E1
        self.E2 = E2
        self.E3 = E3
        self.labels = labels
        self.level = np.array([k for k, _ in labels])
        # levels whose asymptotic check a candidate (k, r) needs: the checks of
        # level j involve levels j-2..j, so those inside [k-r, k], at least level k
        nlev = int(self.level.max()) + 1
        self.needs = np.zeros((len(labels), nlev), dtype=bool)
        for i, (k, r) in enumerate(labels):
            self.needs[i, min(k, k - r + 2):k + 1] = True
        # base differences A_k - A_{k-1}, k = 1 .. levels-1 (the r = 0 rows of E1)
        self.B = E1[[i for i, (_, r) in enumerate(labels) if r == 0]] if B is None else B
        self.support = (W != 0) | (E1 != 0) | (E2 != 0) | (E3 != 0)
        self.noise = np.abs(W) / offsets[None, :]
        self.noise_B = np.abs(self.B) / offsets[None, :]

    @property
    def nfev(self) -> int:
        """Function evaluations per differentiated direction."""
        return 2 * len(self.offsets)

    def expand(self, all_offsets):
        """Matrices on the basis ``all_offsets`` (a superset of ``offsets``)."""
        idx = np.array([int(np.argmin(np.abs(all_offsets - c))) for c in self.offsets])
        if not np.allclose(all_offsets[idx], self.offsets, rtol=1e-12, atol=0):
            raise ValueError("offsets are not a subset")  # pragma: no cover
        out = []
        for A in (self.W, self.E1, self.E2, self.E3, self.B):
            B = np.zeros((A.shape[0], len(all_offsets)))
            B[:, idx] = A
            out.append(B)
        W, E1, E2, E3, B = out
        return Stencil(np.asarray(all_offsets, dtype=float), W, E1, E2, E3, self.labels, B), idx


def _central_weights(order: int) -> np.ndarray:
    """Weights ``a_i`` (i = 1..order/2) of the order-``order`` central formula on ``D_i``.

    Lagrange extrapolation to 0 in the variable ``c**2``:
    ``a_i = prod_{k != i} k^2 / (k^2 - i^2)``.
    """
    p2 = order // 2
    a = np.ones(p2)
    for i in range(1, p2 + 1):
        for k in range(1, p2 + 1):
            if k != i:
                a[i - 1] *= k * k / (k * k - i * i)
    return a


@functools.lru_cache(maxsize=128)
def fd_stencil(order: int = 2, levels: int = 5, ratio: float = 2.0) -> Stencil:
    """Offsets and Richardson candidates for ``order`` / ``levels`` / ``ratio``.

    Level ``k`` (``k = 0 .. levels-1``) is the order-``order`` central formula
    with step ``q**-k`` on the offsets ``i q**-k`` (``i = 1 .. order/2``);
    all offsets are divided by ``order/2`` so that the largest is 1.

    Parameters
    ----------
    order : {2, 4, 6, 8}
        Order of the base central formula.
    levels : int
        Number of steps in the geometric sequence (>= 2).
    ratio : float
        ``q > 1``.  With ``q = 2`` the stencils of consecutive levels share points.

    Returns
    -------
    Stencil

    Examples
    --------
    >>> st = fd_stencil(4, 3)
    >>> st.offsets.tolist(), st.nfev
    ([1.0, 0.5, 0.25, 0.125], 8)
    """
    if order not in (2, 4, 6, 8):
        raise ValueError(f"order must be 2, 4, 6 or 8, got {order!r}")
    levels = int(levels)
    if levels < 2:
        raise ValueError(f"levels must be >= 2 (one level has no error estimate), got {levels}")
    q = float(ratio)
    if not q > 1.0:
        raise ValueError(f"ratio must be > 1, got {ratio!r}")
    p2 = order // 2
    a = _central_weights(order)

    def off(i, k):
        return i * q ** (-k) / p2

    raw = [off(i, k) for k in range(levels) for i in range(1, p2 + 1)]
    offs: list = []
    for c in sorted(raw, reverse=True):  # distinct (exact for q a power of 2)
        if not offs or abs(offs[-1] - c) > 1e-12 * c:
            offs.append(c)
    offsets = np.array(offs)

    def idx(c):
        return int(np.argmin(np.abs(offsets - c)))

    M = len(offsets)
    T = [[None] * levels for _ in range(levels)]
    for k in range(levels):
        w = np.zeros(M)
        for i in range(1, p2 + 1):
            w[idx(off(i, k))] += a[i - 1]
        T[k][0] = w
        for r in range(1, k + 1):
            fac = q ** (order + 2 * r - 2) - 1.0
            T[k][r] = T[k][r - 1] + (T[k][r - 1] - T[k - 1][r - 1]) / fac
    W, E1, E2, E3, labels = [], [], [], [], []
    for k in range(1, levels):
        for r in range(0, k + 1):
            W.append(T[k][r])
            if r == 0:
                d = T[k][0] - T[k - 1][0]
                E1.append(d)
                E2.append(d)
            else:
                E1.append(T[k][r] - T[k][r - 1])
                E2.append(T[k][r] - T[k - 1][r - 1])
            E3.append(T[k][r] - T[k - 1][r] if r <= k - 1 else E2[-1])
            labels.append((k, r))
    return Stencil(offsets, np.array(W), np.array(E1), np.array(E2), np.array(E3), labels)


@functools.lru_cache(maxsize=256)
def _expanded(order, levels, ratio, max_levels):
    """``fd_stencil(order, levels, ratio)`` on the offsets of ``max_levels`` levels."""
    return fd_stencil(order, levels, ratio).expand(fd_stencil(order, max_levels, ratio).offsets)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _as_points(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, n) (use x[None, :] for one point), got {x.shape}")
    if x.shape[0] == 0:
        raise ValueError("x is empty")
    return x


def _pow2_floor(a: np.ndarray) -> np.ndarray:
    """Largest power of two <= a (a > 0, finite)."""
    _, e = np.frexp(a)  # a = mant * 2**e, 0.5 <= mant < 1
    return np.ldexp(np.ones_like(a), e - 1)


def _default_chunk(n: int) -> int:
    return max(2, _DEFAULT_CHUNK_ELEMENTS // max(n, 1))


def _call_f(f, X, m_expected, complex_out=False):
    with np.errstate(all="ignore"):
        Y = f(X)
    Y = np.asarray(Y)
    if Y.ndim != 2 or Y.shape[1] != X.shape[1]:
        raise ValueError(
            f"f must map X of shape (n, K) to Y of shape (m, K); got X {X.shape} -> Y {Y.shape}"
        )
    if m_expected is not None and Y.shape[0] != m_expected:
        raise ValueError(f"f changed its output size: {Y.shape[0]} rows, expected {m_expected}")
    if complex_out:
        if not np.iscomplexobj(Y):
            raise TypeError(
                "complex step needs f to propagate complex inputs; f returned a real array"
            )
        return Y.astype(np.complex128, copy=False)
    if np.iscomplexobj(Y):
        raise TypeError("f returned a complex array for real input")
    return Y.astype(np.float64, copy=False)


def _evaluate(f, build, total, chunk, m=None, complex_out=False):
    """Evaluate ``f`` on ``total`` columns built by ``build(a, b)`` in calls of <= chunk columns."""
    Y = None
    for a in range(0, total, chunk):
        b = min(total, a + chunk)
        Yc = _call_f(f, build(a, b), m, complex_out)
        if Y is None:
            m = Yc.shape[0]
            Y = np.empty((m, total), dtype=Yc.dtype)
        Y[:, a:b] = Yc
    return Y


def _groups(npts: int, per_point: int, chunk: int):
    """Split ``npts`` points into groups whose stacked columns fit in ``chunk`` (>= 1 point)."""
    g = max(1, chunk // max(per_point, 1))
    for a in range(0, npts, g):
        yield a, min(npts, a + g)


def _output_size(f, n, complex_out=False):
    """Rows of ``f`` found with one evaluation at the origin (used only when no point is finite)."""
    X = np.zeros((n, 1), dtype=np.complex128 if complex_out else np.float64)
    return _call_f(f, X, None, complex_out).shape[0]


def _select(D, bad, fmax, cond, h, st: Stencil, safety, rho, drop_nonfinite, absn=None, contraction=0.5):
    """Richardson candidates from the quotients and per-entry selection.

    D, bad, fmax : (..., M) quotients ``D_c``, their non-finite flags, and
        ``max(|f(x + c h)|, |f(x - c h)|)``.
    cond : (...) condition magnitude ``sum_j |df/dx_j| |x_j|`` of the row
        (rounding of ``f`` is modelled as ``rho * (fmax + cond) + absn``).
    h : (...) base step (the unit of the offsets).
    absn : (...) absolute noise level of ``f`` (``f_abs_err``), or None.

    A candidate ``T[k, r]`` is trusted only if the base sequence is in its
    asymptotic range on the levels it combines:
    ``|A_j - A_{j-1}| <= contraction * |A_{j-1} - A_{j-2}|`` up to rounding for
    ``j = k-r+2 .. k`` (at least ``j = k``); the best trusted candidate of a level is admissible only
    if it agrees, within the sum of the two estimates, with the best trusted
    candidate of every finer level (this rejects coarse steps that converge
    to an aliased value).  Entries without a trusted finite candidate get the
    smallest-estimate finite value with error ``inf`` (not converged), or NaN
    if no finite candidate exists.

    Returns value, err, and a flag "refinement may help" (truncation dominates
    the estimate, or no trusted candidate), all of shape D.shape[:-1].
    """
    with np.errstate(all="ignore"):
        D0 = np.where(bad, 0.0, D)
        F0 = np.where(bad, 0.0, fmax)
        scale = (rho / h)[..., None]
        cond = cond + (_ABS_FLOOR if absn is None else absn + _ABS_FLOOR) / rho
        T = D0 @ st.W.T
        trunc = np.maximum(np.abs(D0 @ st.E1.T), np.abs(D0 @ st.E2.T))
        trunc = safety * np.maximum(trunc, np.abs(D0 @ st.E3.T))
        noise = scale * (F0 @ st.noise.T + cond[..., None] * st.noise.sum(axis=1))
        noise = noise + 2.0 * _EPS * np.abs(T) + _ABS_FLOOR
        err = trunc + noise
        badc = (bad.astype(np.float64) @ st.support.T.astype(np.float64)) > 0
        if not drop_nonfinite:
            badc = badc | np.any(bad, axis=-1, keepdims=True)
        err = np.where(badc | ~np.isfinite(err), np.inf, err)
        # asymptotic-range check on the base differences
        dB = np.abs(D0 @ st.B.T)  # (..., L-1): level k = 1 .. L-1
        nB = scale * (F0 @ st.noise_B.T + cond[..., None] * st.noise_B.sum(axis=1))
        okk = np.zeros(dB.shape[:-1] + (dB.shape[-1] + 1,), dtype=bool)  # per level 0 .. L-1
        okk[..., 2:] = dB[..., 1:] <= contraction * dB[..., :-1] + 2.0 * (nB[..., 1:] + nB[..., :-1])
        trusted = ((~okk).astype(np.float64) @ st.needs.T.astype(np.float64)) == 0
        err_t = np.where(trusted, err, np.inf)
        # best trusted candidate per level, then cross-level consistency: a
        # level is admissible only if it agrees with every finer trusted level
        levels = range(1, int(st.level.max()) + 1)
        lv_idx, lv_err = [], []
        for k in levels:
            sel = np.flatnonzero(st.level == k)
            b = sel[np.argmin(err_t[..., sel], axis=-1)]
            lv_idx.append(b)
            lv_err.append(np.take_along_axis(err_t, b[..., None], axis=-1)[..., 0])
        lv_val = [np.take_along_axis(T, b[..., None], axis=-1)[..., 0] for b in lv_idx]
        nl = len(lv_idx)
        adm = [np.isfinite(e_) for e_ in lv_err]
        for a_ in range(nl - 1):
            for b_ in range(a_ + 1, nl):
                gap = np.abs(lv_val[a_] - lv_val[b_])
                clash = np.isfinite(lv_err[b_]) & ~(gap <= lv_err[a_] + lv_err[b_])
                adm[a_] = adm[a_] & ~clash
        E_l = np.stack([np.where(ad, e_, np.inf) for ad, e_ in zip(adm, lv_err)], axis=-1)
        I_l = np.stack(lv_idx, axis=-1)
        pick = np.argmin(E_l, axis=-1)[..., None]
        best = np.take_along_axis(I_l, pick, axis=-1)
        e = np.take_along_axis(E_l, pick, axis=-1)[..., 0]
        fallback = np.argmin(err, axis=-1)[..., None]
        nonconv = ~np.isfinite(e)
        best = np.where(nonconv[..., None], fallback, best)
        val = np.take_along_axis(T, best, axis=-1)[..., 0]
        tdom = np.take_along_axis(trunc, best, axis=-1)[..., 0] > np.take_along_axis(noise, best, axis=-1)[..., 0]
        nofin = ~np.isfinite(np.take_along_axis(err, best, axis=-1)[..., 0])
    val = np.where(nofin, np.nan, val)
    e = np.where(nonconv, np.inf, e)
    return val, e, tdom | nonconv


def _fd_engine(f, ndir, make_pairs, h, m, cfg, owner=None, weight=None):
    """Extrapolated central differences along ``ndir`` directions with adaptive refinement.

    ``make_pairs(d, c) -> (Xp, Xm, span)``: for direction indices ``d`` and
    offsets ``c`` (multiples of ``h[d]``), the points ``x + c h``, ``x - c h``
    (shape (n, K)) and the actual spans between them (shape (K,)).
    ``owner[d]`` is the point a direction belongs to and ``weight[d]`` the
    magnitude of its coordinate; a row's rounding level includes
    ``rho * sum_d |derivative_d| * weight[d]`` over the directions of its point
    (the effect of rounding the inputs, and the size of the terms that cancel
    when ``|f|`` is much smaller than its parts).

    Returns ``val, err`` of shape (ndir, m), evaluations per direction (ndir,), and m.
    """
    order, levels, max_levels = cfg["order"], cfg["levels"], cfg["max_levels"]
    step, ratio = cfg["refine"], cfg["ratio"]
    if owner is None:
        owner = np.arange(ndir)
    if weight is None:
        weight = np.zeros(ndir)
    npts = int(owner.max()) + 1 if ndir else 0
    Lmax = max(levels, max_levels)
    all_off = fd_stencil(order, Lmax, ratio).offsets
    Mall = len(all_off)
    D = bad = fmax = vals = None
    have = np.zeros(Mall, dtype=bool)
    nev = np.zeros(ndir, dtype=np.int64)
    Ldir = np.full(ndir, levels)
    active = np.arange(ndir)
    L = levels
    chunk_pairs = max(1, cfg["chunk"] // 2)

    def cond():
        c = np.zeros((npts, m))
        with np.errstate(invalid="ignore"):
            contrib = np.where(np.isfinite(vals), np.abs(vals), 0.0) * weight[:, None]
        np.add.at(c, owner, contrib)
        return c[owner]

    def select(dirs, L):
        st, _ = _expanded(order, L, ratio, Lmax)
        absn = np.broadcast_to(cfg["abs"], (len(dirs), m)) if cfg["abs"] is not None else None
        return _select(D[dirs], bad[dirs], fmax[dirs], cond()[dirs], h[dirs][:, None], st,
                       cfg["safety"], cfg["rho"], cfg["drop_nonfinite"], absn)

    while active.size:
        _, idx = _expanded(order, L, ratio, Lmax)
        new = np.array([i for i in idx if not have[i]], dtype=np.int64)
        K = active.size * new.size
        dd = np.repeat(active, new.size)
        cc = np.tile(new, active.size)
        for a in range(0, K, chunk_pairs):
            b = min(K, a + chunk_pairs)
            d_, c_ = dd[a:b], cc[a:b]
            Xp, Xm, span = make_pairs(d_, all_off[c_])
            Y = _call_f(f, np.concatenate([Xp, Xm], axis=1), m)
            if D is None:
                m = Y.shape[0]
                D = np.zeros((ndir, m, Mall))
                fmax = np.zeros((ndir, m, Mall))
                bad = np.ones((ndir, m, Mall), dtype=bool)
                vals = np.full((ndir, m), np.nan)
            k2 = b - a
            Yp, Ym = Y[:, :k2], Y[:, k2:]
            with np.errstate(all="ignore"):
                q = (Yp - Ym) / span[None, :]
                fm = np.maximum(np.abs(Yp), np.abs(Ym))
            D[d_, :, c_] = q.T
            fmax[d_, :, c_] = fm.T
            bad[d_, :, c_] = (~np.isfinite(q) | ~np.isfinite(fm)).T
        nev[active] += 2 * new.size
        have[new] = True
        Ldir[active] = L
        if L >= max_levels:
            break
        if L == levels:  # first pass: values for the condition term
            vals[active] = select(active, L)[0]
        v, e, tdom = select(active, L)
        vals[active] = v
        with np.errstate(invalid="ignore"):
            unconverged = tdom & ~(e <= cfg["rtol"] * np.abs(v))
        active = active[np.any(unconverged, axis=1)]
        L = min(max_levels, L + step)
    # final selection with the final condition magnitudes
    val = np.full((ndir, m), np.nan)
    err = np.full((ndir, m), np.inf)
    for _ in range(2):
        for Lk in np.unique(Ldir):
            dirs = np.flatnonzero(Ldir == Lk)
            v, e, _ = select(dirs, int(Lk))
            val[dirs] = v
            err[dirs] = e
        vals = val.copy()
    return val, err, nev, m


def _config(order, rel_step, levels, max_levels, refine_levels, ratio, safety, f_rel_err, f_abs_err, rtol,
            drop_nonfinite, chunk, n):
    if order not in (2, 4, 6, 8):
        raise ValueError(f"order must be 2, 4, 6 or 8, got {order!r}")
    levels = _DEFAULT_LEVELS[order] if levels is None else int(levels)
    if max_levels is None:
        max_levels = max(levels, _DEFAULT_MAX_LEVELS[order])
    max_levels = int(max_levels)
    if levels < 2 or max_levels < levels:
        raise ValueError(f"need 2 <= levels <= max_levels, got levels={levels}, max_levels={max_levels}")
    rel = _DEFAULT_REL_STEP if rel_step is None else float(rel_step)
    if not (rel > 0 and np.isfinite(rel)):
        raise ValueError(f"rel_step must be positive and finite, got {rel_step!r}")
    refine = _DEFAULT_REFINE_LEVELS if refine_levels is None else int(refine_levels)
    if refine < 1:
        raise ValueError("refine_levels must be >= 1")
    chunk = _default_chunk(n) if chunk is None else int(chunk)
    if chunk < 2:
        raise ValueError("chunk_size must be >= 2 (one central pair)")
    absn = None
    if f_abs_err is not None:
        absn = np.abs(np.asarray(f_abs_err, dtype=np.float64))
        if absn.ndim > 1 or not np.all(np.isfinite(absn)):
            raise ValueError("f_abs_err must be a finite scalar or a vector of length m")
    return dict(abs=absn, order=order, levels=levels, max_levels=max_levels, refine=refine, ratio=float(ratio),
                rel=rel, safety=float(safety), rho=32.0 * _EPS if f_rel_err is None else float(f_rel_err),
                rtol=_DEFAULT_RTOL if rtol is None else float(rtol), drop_nonfinite=bool(drop_nonfinite),
                chunk=chunk)


def _typical(typical_x, n):
    typ = np.abs(np.broadcast_to(np.asarray(typical_x, dtype=np.float64), (n,)))
    if np.any(~(typ > 0)) or np.any(~np.isfinite(typ)):
        raise ValueError("typical_x must be positive and finite")
    return typ


_FD_PARAMS_DOC = """
    order : {2, 4, 6, 8}
        Order of the base central formula (Fornberg 1988); Richardson
        extrapolation raises it by 2 per tableau column.
    rel_step : float, optional
        Largest excursion relative to the coordinate's scale: the offsets are
        ``c * h`` with ``h = 2**floor(log2(rel_step * max(|x_j|, typical_x_j)))``
        and ``c <= 1``.  Default 0.25.
    levels : int, optional
        Steps in the first Richardson sequence ``h * q**-k`` (>= 2).  Default 5
        for order 2, 4 for order 4, 3 for orders 6 and 8.
    max_levels : int, optional
        Directions whose estimate has not converged (estimated error above
        ``rtol * |value|`` and dominated by truncation, or no finite estimate)
        get ``refine_levels`` more, smaller steps per round, up to
        ``max_levels`` (default 14, 13, 6, 6 for orders 2, 4, 6, 8: at most 28 evaluations per coordinate).  Set
        ``max_levels = levels`` for exactly one pass.
    refine_levels : int, optional
        Levels added per refinement round (default 3).
    ratio : float
        Step ratio ``q`` (default 2: consecutive stencils share points).
    typical_x : float or array_like of shape (n,)
        Floor of the step scale ``max(|x_j|, typical_x_j)``; keeps the step
        from vanishing for tiny ``|x_j|``.  Default 1.
    safety : float
        Multiplier of the truncation estimate (default 2).
    f_rel_err : float, optional
        Relative accuracy of the values of ``f`` (default ``32 * eps``),
        relative to ``max(|f|, sum_j |df/dx_j| |x_j|)``; sets the rounding
        term of the error estimate.
    f_abs_err : float or array_like of shape (m,), optional
        Absolute noise level of the values of ``f`` (per output row), added to
        the rounding model.  Pass it when ``f`` computes small values as
        differences of much larger terms (rounding invisible in ``|f|``) or
        is noisy (e.g. an iterative solver's tolerance).
    rtol : float, optional
        Relative accuracy that stops refinement (default ``1e-10``).
    chunk_size : int, optional
        Maximum columns ``K`` per call of ``f`` (default ``2**22 // n``).
        Points are processed in groups whose first pass fits in one call;
        the working memory is about ``(n + 5 m) * chunk_size`` floats.
    drop_nonfinite : bool
        If True (default) extrapolants that touch a non-finite value are
        discarded and the best remaining one is used; if False any non-finite
        stencil value makes the entry NaN."""


# --------------------------------------------------------------------------
# finite differences
# --------------------------------------------------------------------------
def fd_jacobian(
    f: Callable[[np.ndarray], np.ndarray],
    x,
    *,
    order: int = 2,
    rel_step: Optional[float] = None,
    levels: Optional[int] = None,
    max_levels: Optional[int] = None,
    refine_levels: Optional[int] = None,
    ratio: float = 2.0,
    typical_x=1.0,
    safety: float = 2.0,
    f_rel_err: Optional[float] = None,
    f_abs_err=None,
    rtol: Optional[float] = None,
    chunk_size: Optional[int] = None,
    drop_nonfinite: bool = True,
) -> Tuple[np.ndarray, np.ndarray, int]:
    r"""Jacobians of ``f`` at a batch of points by extrapolated central differences.

    Parameters
    ----------
    f : callable
        ``f(X) -> Y`` with ``X`` of shape ``(n, K)`` (one point per column) and
        ``Y`` of shape ``(m, K)``, float64.
    x : array_like, shape (N, n)
        Points.
    {params}

    Returns
    -------
    J : ndarray, shape (N, m, n)
        Jacobians.  NaN where no finite estimate exists (or ``x`` is not finite).
    err : ndarray, shape (N, m, n)
        Absolute error estimate of each entry (``inf`` where ``J`` is NaN).
    nfev : int
        Function evaluations per point: the largest over the points (all
        points cost the same unless some coordinates needed refinement).
        Without refinement it is ``2 n len(fd_stencil(order, levels).offsets)``.

    Notes
    -----
    See the module docstring for the formulas.  The default order-2 scheme
    with 5 levels uses the offsets ``h * {1, 1/2, 1/4, 1/8, 1/16}``, i.e.
    ``10 n`` evaluations per point, in one call of ``f`` for the whole batch;
    only coordinates that have not converged are refined (a second call).

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda X: np.stack([X[0] ** 3, X[0] * X[1], np.zeros_like(X[0])])
    >>> J, err, nfev = fd_jacobian(f, [[2.0, 3.0]], order=4)
    >>> np.round(J[0], 12).tolist(), nfev
    ([[12.0, 0.0], [3.0, 2.0], [0.0, 0.0]], 20)
    """
    x = _as_points(x)
    N, n = x.shape
    cfg = _config(order, rel_step, levels, max_levels, refine_levels, ratio, safety, f_rel_err, f_abs_err,
                  rtol, drop_nonfinite, chunk_size, n)
    typ = _typical(typical_x, n)
    good = np.flatnonzero(np.all(np.isfinite(x), axis=1))
    per_point = n * fd_stencil(order, cfg["levels"], cfg["ratio"]).nfev
    J = E = None
    m = None
    nfev = 0
    for a, b in _groups(len(good), per_point, cfg["chunk"]):
        xs = x[good[a:b]]
        P = xs.shape[0]
        h = _pow2_floor(cfg["rel"] * np.maximum(np.abs(xs), typ)).ravel()  # (P*n,)

        def make_pairs(d, c, xs=xs, h=h):
            p, j = np.divmod(d, n)
            Xp = xs[p].T.copy()
            Xm = Xp.copy()
            cols = np.arange(d.size)
            step = c * h[d]
            Xp[j, cols] += step
            Xm[j, cols] -= step
            return Xp, Xm, Xp[j, cols] - Xm[j, cols]

        val, err, nev, m = _fd_engine(f, P * n, make_pairs, h, m, cfg, owner=np.repeat(np.arange(P), n),
                                      weight=np.abs(xs).ravel())
        if J is None:
            J = np.full((N, m, n), np.nan)
            E = np.full((N, m, n), np.inf)
        J[good[a:b]] = val.reshape(P, n, m).transpose(0, 2, 1)
        E[good[a:b]] = err.reshape(P, n, m).transpose(0, 2, 1)
        nfev = max(nfev, int(nev.reshape(P, n).sum(axis=1).max()))
    if J is None:  # no finite point
        m = _output_size(f, n)
        J = np.full((N, m, n), np.nan)
        E = np.full((N, m, n), np.inf)
        nfev = per_point
    return J, E, nfev


def _as_directions(v, N, n):
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 1:
        if v.shape[0] != n:
            raise ValueError(f"v must have shape (n,) or (N, n) with n = {n}, got {v.shape}")
        v = np.broadcast_to(v, (N, n))
    elif v.shape != (N, n):
        raise ValueError(f"v must have shape ({N}, {n}) or ({n},), got {v.shape}")
    return v


def fd_jvp(
    f: Callable[[np.ndarray], np.ndarray],
    x,
    v,
    *,
    order: int = 2,
    rel_step: Optional[float] = None,
    levels: Optional[int] = None,
    max_levels: Optional[int] = None,
    refine_levels: Optional[int] = None,
    ratio: float = 2.0,
    typical_x=1.0,
    safety: float = 2.0,
    f_rel_err: Optional[float] = None,
    f_abs_err=None,
    rtol: Optional[float] = None,
    chunk_size: Optional[int] = None,
    drop_nonfinite: bool = True,
) -> Tuple[np.ndarray, np.ndarray, int]:
    r"""Directional derivatives ``J(x) v`` by extrapolated central differences.

    Differentiates :math:`g(t) = f(x + t v)` at ``t = 0`` with the same
    Richardson scheme, refinement and error estimate as :func:`fd_jacobian`.
    The step unit is ``t_h = 2**floor(log2(rel_step * min_j max(|x_j|, typical_x_j) / |v_j|))``
    over the ``j`` with ``v_j != 0``, so no coordinate moves by more than its
    own relative step.  (The perturbed points ``x +- c t_h v`` are rounded to
    doubles; the resulting relative error is ``O(eps / rel_step)``.)

    Parameters
    ----------
    f : callable
        ``(n, K) -> (m, K)``, see :func:`fd_jacobian`.
    x : array_like, shape (N, n)
    v : array_like, shape (N, n) or (n,)
        Directions.
    {params}

    Returns
    -------
    jv : ndarray, shape (N, m)
    err : ndarray, shape (N, m)
        Absolute error estimates (``inf`` where ``jv`` is NaN).
    nfev : int
        Function evaluations per point (largest over the points).

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda X: np.stack([X[0] * X[1], np.exp(X[0])])
    >>> jv, err, nfev = fd_jvp(f, [[0.0, 2.0]], [1.0, 1.0])
    >>> np.round(jv, 12).tolist(), nfev
    ([[2.0, 1.0]], 10)
    """
    x = _as_points(x)
    N, n = x.shape
    v = _as_directions(v, N, n)
    cfg = _config(order, rel_step, levels, max_levels, refine_levels, ratio, safety, f_rel_err, f_abs_err,
                  rtol, drop_nonfinite, chunk_size, n)
    typ = _typical(typical_x, n)
    good = np.flatnonzero(np.all(np.isfinite(x), axis=1) & np.all(np.isfinite(v), axis=1))
    per_point = fd_stencil(order, cfg["levels"], cfg["ratio"]).nfev
    JV = E = None
    m = None
    nfev = 0
    for a, b in _groups(len(good), per_point, cfg["chunk"]):
        xs, vs = x[good[a:b]], v[good[a:b]]
        s = np.maximum(np.abs(xs), typ)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(vs != 0, s / np.abs(vs), np.inf)
        tmin = np.min(r, axis=1)
        tmin = np.where(np.isfinite(tmin), tmin, 1.0)  # v == 0: any step gives D == 0
        t = _pow2_floor(cfg["rel"] * tmin)

        def make_pairs(d, c, xs=xs, vs=vs, t=t):
            step = (c * t[d])[:, None] * vs[d]
            return (xs[d] + step).T, (xs[d] - step).T, 2.0 * c * t[d]

        val, err, nev, m = _fd_engine(f, xs.shape[0], make_pairs, t, m, cfg, weight=tmin)
        if JV is None:
            JV = np.full((N, m), np.nan)
            E = np.full((N, m), np.inf)
        JV[good[a:b]] = val
        E[good[a:b]] = err
        nfev = max(nfev, int(nev.max()))
    if JV is None:
        m = _output_size(f, n)
        JV = np.full((N, m), np.nan)
        E = np.full((N, m), np.inf)
        nfev = per_point
    return JV, E, nfev


fd_jacobian.__doc__ = fd_jacobian.__doc__.replace("{params}", _FD_PARAMS_DOC.strip("\n").lstrip())
fd_jvp.__doc__ = fd_jvp.__doc__.replace("{params}", _FD_PARAMS_DOC.strip("\n").lstrip())


# --------------------------------------------------------------------------
# complex step
# --------------------------------------------------------------------------
def _cs_error(J, row_axis_max):
    """Rounding-level error estimate of complex-step derivatives."""
    return 16.0 * _EPS * np.abs(J) + 4.0 * _EPS * row_axis_max + 1e3 * _TINY


def complex_step_jacobian(
    f: Callable[[np.ndarray], np.ndarray],
    x,
    *,
    h: float = 1e-100,
    chunk_size: Optional[int] = None,
) -> Tuple[np.ndarray, np.ndarray, int]:
    r"""Jacobians by the complex-step method, ``J[:, j] = Im f(x + i h e_j) / h``.

    Parameters
    ----------
    f : callable
        Accepts complex ``X`` of shape ``(n, K)`` and returns complex ``(m, K)``.
        It must be built from complex-analytic operations (no ``abs``,
        ``np.real``, comparisons on the perturbed values, ...).
    x : array_like, shape (N, n)
        Real points.
    h : float
        Imaginary step (default ``1e-100``).  The truncation error is
        :math:`O(h^2 |f'''| / |f'|)` relative, negligible for any reasonable
        function; too small an ``h`` can underflow ``Im f`` for derivatives
        below ~``1e-208``.
    chunk_size : int, optional
        Maximum columns per call of ``f``.

    Returns
    -------
    J : ndarray, shape (N, m, n)
    err : ndarray, shape (N, m, n)
        Rounding-level estimate ``4 eps |J_ij| + 2 eps max_k |J_ik| + tiny``
        (the method has no subtractive cancellation; the row term covers
        cancellation inside ``f``'s derivative arithmetic).  ``inf`` where a
        value is not finite.
    nfev : int
        ``n`` evaluations per point.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda X: np.stack([np.exp(X[0]) * np.sin(X[1])])
    >>> J, err, nfev = complex_step_jacobian(f, [[0.0, 0.0]])
    >>> J.tolist(), nfev
    ([[[0.0, 1.0]]], 2)
    """
    x = _as_points(x)
    N, n = x.shape
    h = float(h)
    if not (h > 0 and np.isfinite(h)):
        raise ValueError(f"h must be positive and finite, got {h!r}")
    chunk = chunk_size or _default_chunk(n)
    good = np.all(np.isfinite(x), axis=1)
    gidx = np.flatnonzero(good)
    J = E = None
    m = None
    for a, b in _groups(len(gidx), n, chunk):
        xs = x[gidx[a:b]]
        P = xs.shape[0]

        def build(c0, c1, xs=xs):
            idx = np.arange(c0, c1)
            p, j = np.divmod(idx, n)
            X = xs[p].T.astype(np.complex128)
            X[j, np.arange(c1 - c0)] += 1j * h
            return X

        Y = _evaluate(f, build, P * n, chunk, m, complex_out=True)
        if m is None:
            m = Y.shape[0]
            J = np.full((N, m, n), np.nan)
            E = np.full((N, m, n), np.inf)
        Y = Y.reshape(m, P, n).transpose(1, 0, 2)
        with np.errstate(all="ignore"):
            Jc = Y.imag / h
        bad = ~np.isfinite(Y.real) | ~np.isfinite(Y.imag) | ~np.isfinite(Jc)
        Jc = np.where(bad, np.nan, Jc)
        rowmax = np.max(np.where(bad, 0.0, np.abs(Jc)), axis=2, keepdims=True)
        Ec = np.where(bad, np.inf, _cs_error(Jc, rowmax))
        J[gidx[a:b]] = Jc
        E[gidx[a:b]] = Ec
    if m is None:
        m = _output_size(f, n, complex_out=True)
        J = np.full((N, m, n), np.nan)
        E = np.full((N, m, n), np.inf)
    return J, E, n


def complex_step_jvp(
    f: Callable[[np.ndarray], np.ndarray],
    x,
    v,
    *,
    h: float = 1e-100,
    chunk_size: Optional[int] = None,
) -> Tuple[np.ndarray, np.ndarray, int]:
    r"""Directional derivatives ``J(x) v = Im f(x + i h v / |v|_inf) |v|_inf / h``.

    Parameters
    ----------
    f : callable
        Complex-safe ``(n, K) -> (m, K)``, see :func:`complex_step_jacobian`.
    x : array_like, shape (N, n)
    v : array_like, shape (N, n) or (n,)
    h : float
        Imaginary step length (the direction is scaled to unit max-norm).
    chunk_size : int, optional

    Returns
    -------
    jv : ndarray, shape (N, m)
    err : ndarray, shape (N, m)
        ``6 eps |J v| + tiny`` (rounding level); ``inf`` where not finite.
    nfev : int
        1 evaluation per point.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda X: np.stack([X[0] * X[1], np.exp(X[0])])
    >>> jv, err, nfev = complex_step_jvp(f, [[0.0, 2.0]], [1.0, 1.0])
    >>> jv.tolist(), nfev
    ([[2.0, 1.0]], 1)
    """
    x = _as_points(x)
    N, n = x.shape
    v = _as_directions(v, N, n)
    h = float(h)
    if not (h > 0 and np.isfinite(h)):
        raise ValueError(f"h must be positive and finite, got {h!r}")
    chunk = chunk_size or _default_chunk(n)
    good = np.all(np.isfinite(x), axis=1) & np.all(np.isfinite(v), axis=1)
    gidx = np.flatnonzero(good)
    JV = E = None
    m = None
    vn = np.max(np.abs(v), axis=1) if n else np.zeros(N)
    vn = np.where(vn > 0, vn, 1.0)
    for a, b in _groups(len(gidx), 1, chunk):
        sel = gidx[a:b]
        xs, vs, ns = x[sel], v[sel], vn[sel]

        def build(c0, c1, xs=xs, vs=vs, ns=ns):
            return (xs[c0:c1] + 1j * h * (vs[c0:c1] / ns[c0:c1, None])).T

        Y = _evaluate(f, build, len(sel), chunk, m, complex_out=True)
        if m is None:
            m = Y.shape[0]
            JV = np.full((N, m), np.nan)
            E = np.full((N, m), np.inf)
        Y = Y.T  # (P, m)
        with np.errstate(all="ignore"):
            jv = Y.imag / h * ns[:, None]
        bad = ~np.isfinite(Y.real) | ~np.isfinite(Y.imag) | ~np.isfinite(jv)
        JV[sel] = np.where(bad, np.nan, jv)
        E[sel] = np.where(bad, np.inf, 16.0 * _EPS * np.abs(jv) + 1e3 * _TINY)
    if m is None:
        m = _output_size(f, n, complex_out=True)
        JV = np.full((N, m), np.nan)
        E = np.full((N, m), np.inf)
    return JV, E, 1
