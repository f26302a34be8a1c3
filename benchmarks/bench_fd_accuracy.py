"""Accuracy and cost of numeric Jacobians on the More-Garbow-Hillstrom test problems.

For every problem (residual vector F: R^n -> R^m at its standard start point,
with a hand-written analytic Jacobian as the truth) and every method, report

* ``digits``: correct significant digits of the worst entry,
  ``-log10(max_ij |J~_ij - J_ij| / d_ij)`` with ``d_ij = max(|J_ij|, 1e-3 * max_k |J_ik|)``
  (componentwise relative error; entries below 1e-3 of their row's largest
  entry -- zeros included -- are measured against that floor, i.e. normwise
  in the row; an all-zero row uses d = 1).  Capped at 16.  The summary also
  gives the minimum with the much stricter floor 1e-6 (which asks entries
  ~1e-6 of their row for errors ~1e-16 of the row: rounding level).
* ``nfev``: function evaluations per Jacobian, counted by wrapping F and
  counting *points* evaluated (columns of a batched call).
* for jacli: ``viol`` = number of entries whose true error exceeds the
  returned error estimate, and ``ratio`` = the median of true/estimated error
  (how conservative the estimate is).

Methods: jacli fd core (orders 2 and 4, defaults otherwise), jacli complex step,
``numdifftools.Jacobian`` (defaults), ``scipy.differentiate.jacobian``
(defaults, scipy >= 1.15) and plain central differences with
``h = eps**(1/3) * max(|x|, 1)``.  Timing: median wall time over repeats.

Usage::

    python benchmarks/bench_fd_accuracy.py [--out FILE.md] [--repeats R]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, List

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from jacli.backends._fdcore import complex_step_jacobian, fd_jacobian  # noqa: E402

EPS = np.finfo(float).eps


@dataclass
class Problem:
    name: str
    F: Callable  # (n, K) -> (m, K); complex-safe
    jac: Callable  # (n,) -> (m, n) analytic
    x0: np.ndarray

    @property
    def n(self):
        return len(self.x0)


# ---------------------------------------------------------------------------
# The problems (More, Garbow & Hillstrom, ACM TOMS 7 (1981) 17-41), numbered as there.
# F takes X of shape (n, K); jac takes one point x of shape (n,).
# ---------------------------------------------------------------------------
def _where_pos(c, a, b):
    return np.where(np.real(c) > 0, a, b)


def rosenbrock():
    def F(X):
        return np.stack([10 * (X[1] - X[0] ** 2), 1 - X[0]])

    def J(x):
        return np.array([[-20 * x[0], 10.0], [-1.0, 0.0]])

    return Problem("(1) Rosenbrock", F, J, np.array([-1.2, 1.0]))


def freudenstein_roth():
    def F(X):
        x1, x2 = X
        return np.stack([-13 + x1 + ((5 - x2) * x2 - 2) * x2, -29 + x1 + ((x2 + 1) * x2 - 14) * x2])

    def J(x):
        x2 = x[1]
        return np.array([[1.0, 10 * x2 - 3 * x2**2 - 2], [1.0, 3 * x2**2 + 2 * x2 - 14]])

    return Problem("(2) Freudenstein-Roth", F, J, np.array([0.5, -2.0]))


def powell_badly_scaled():
    def F(X):
        return np.stack([1e4 * X[0] * X[1] - 1, np.exp(-X[0]) + np.exp(-X[1]) - 1.0001])

    def J(x):
        return np.array([[1e4 * x[1], 1e4 * x[0]], [-math.exp(-x[0]), -math.exp(-x[1])]])

    return Problem("(3) Powell badly scaled", F, J, np.array([0.0, 1.0]))


def brown_badly_scaled():
    def F(X):
        return np.stack([X[0] - 1e6, X[1] - 2e-6, X[0] * X[1] - 2])

    def J(x):
        return np.array([[1.0, 0.0], [0.0, 1.0], [x[1], x[0]]])

    return Problem("(4) Brown badly scaled", F, J, np.array([1.0, 1.0]))


def beale():
    y = np.array([1.5, 2.25, 2.625])

    def F(X):
        return np.stack([y[i] - X[0] * (1 - X[1] ** (i + 1)) for i in range(3)])

    def J(x):
        return np.array([[-(1 - x[1] ** i), i * x[0] * x[1] ** (i - 1)] for i in (1, 2, 3)])

    return Problem("(5) Beale", F, J, np.array([1.0, 1.0]))


def jennrich_sampson():
    i = np.arange(1, 11, dtype=float)[:, None]

    def F(X):
        return 2 + 2 * i - (np.exp(i * X[0]) + np.exp(i * X[1]))

    def J(x):
        ii = i[:, 0]
        return np.stack([-ii * np.exp(ii * x[0]), -ii * np.exp(ii * x[1])], axis=1)

    return Problem("(6) Jennrich-Sampson", F, J, np.array([0.3, 0.4]))


def helical_valley():
    def F(X):
        x1, x2, x3 = X
        theta = np.arctan(x2 / x1) / (2 * np.pi) + _where_pos(x1, 0.0, 0.5)
        return np.stack([10 * (x3 - 10 * theta), 10 * (np.sqrt(x1**2 + x2**2) - 1), x3])

    def J(x):
        x1, x2, _ = x
        r2 = x1 * x1 + x2 * x2
        r = math.sqrt(r2)
        dt1 = -x2 / (2 * math.pi * r2)
        dt2 = x1 / (2 * math.pi * r2)
        return np.array([[-100 * dt1, -100 * dt2, 10.0], [10 * x1 / r, 10 * x2 / r, 0.0], [0.0, 0.0, 1.0]])

    return Problem("(7) Helical valley", F, J, np.array([-1.0, 0.0, 0.0]))


def bard():
    y = np.array([0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39])
    u = np.arange(1, 16, dtype=float)
    v = 16 - u
    w = np.minimum(u, v)

    def F(X):
        return y[:, None] - (X[0] + u[:, None] / (v[:, None] * X[1] + w[:, None] * X[2]))

    def J(x):
        den = v * x[1] + w * x[2]
        return np.stack([-np.ones(15), u * v / den**2, u * w / den**2], axis=1)

    return Problem("(8) Bard", F, J, np.array([1.0, 1.0, 1.0]))


def gaussian():
    y = np.array([0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521, 0.3989,
                  0.3521, 0.2420, 0.1295, 0.0540, 0.0175, 0.0044, 0.0009])
    t = (8 - np.arange(1, 16, dtype=float)) / 2

    def F(X):
        d = t[:, None] - X[2]
        return X[0] * np.exp(-X[1] * d**2 / 2) - y[:, None]

    def J(x):
        d = t - x[2]
        e = np.exp(-x[1] * d**2 / 2)
        return np.stack([e, -x[0] * e * d**2 / 2, x[0] * e * x[1] * d], axis=1)

    return Problem("(9) Gaussian", F, J, np.array([0.4, 1.0, 0.0]))


def meyer():
    y = np.array([34780, 28610, 23650, 19630, 16370, 13720, 11540, 9744,
                  8261, 7030, 6005, 5147, 4427, 3820, 3307, 2872], dtype=float)
    t = 45 + 5 * np.arange(1, 17, dtype=float)

    def F(X):
        return X[0] * np.exp(X[1] / (t[:, None] + X[2])) - y[:, None]

    def J(x):
        s = t + x[2]
        e = np.exp(x[1] / s)
        return np.stack([e, x[0] * e / s, -x[0] * e * x[1] / s**2], axis=1)

    return Problem("(10) Meyer", F, J, np.array([0.02, 4000.0, 250.0]))


def box3d():
    t = 0.1 * np.arange(1, 11, dtype=float)
    c = np.exp(-t) - np.exp(-10 * t)

    def F(X):
        tt = t[:, None]
        return np.exp(-tt * X[0]) - np.exp(-tt * X[1]) - X[2] * c[:, None]

    def J(x):
        return np.stack([-t * np.exp(-t * x[0]), t * np.exp(-t * x[1]), -c], axis=1)

    return Problem("(12) Box 3-D", F, J, np.array([0.0, 10.0, 20.0]))


def powell_singular():
    s5, s10 = math.sqrt(5), math.sqrt(10)

    def F(X):
        x1, x2, x3, x4 = X
        return np.stack([x1 + 10 * x2, s5 * (x3 - x4), (x2 - 2 * x3) ** 2, s10 * (x1 - x4) ** 2])

    def J(x):
        x1, x2, x3, x4 = x
        a, b = x2 - 2 * x3, x1 - x4
        return np.array([[1, 10, 0, 0], [0, 0, s5, -s5], [0, 2 * a, -4 * a, 0],
                         [2 * s10 * b, 0, 0, -2 * s10 * b]], dtype=float)

    return Problem("(13) Powell singular", F, J, np.array([3.0, -1.0, 0.0, 1.0]))


def wood():
    s90, s10 = math.sqrt(90), math.sqrt(10)

    def F(X):
        x1, x2, x3, x4 = X
        return np.stack([10 * (x2 - x1**2), 1 - x1, s90 * (x4 - x3**2), 1 - x3,
                         s10 * (x2 + x4 - 2), (x2 - x4) / s10])

    def J(x):
        x1, _, x3, _ = x
        return np.array([[-20 * x1, 10, 0, 0], [-1, 0, 0, 0], [0, 0, -2 * s90 * x3, s90],
                         [0, 0, -1, 0], [0, s10, 0, s10], [0, 1 / s10, 0, -1 / s10]], dtype=float)

    return Problem("(14) Wood", F, J, np.array([-3.0, -1.0, -3.0, -1.0]))


def kowalik_osborne():
    y = np.array([0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323, 0.0235, 0.0246])
    u = np.array([4, 2, 1, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625])

    def F(X):
        uu = u[:, None]
        return y[:, None] - X[0] * (uu**2 + uu * X[1]) / (uu**2 + uu * X[2] + X[3])

    def J(x):
        num = u**2 + u * x[1]
        den = u**2 + u * x[2] + x[3]
        return np.stack([-num / den, -x[0] * u / den, x[0] * num * u / den**2, x[0] * num / den**2], axis=1)

    return Problem("(15) Kowalik-Osborne", F, J, np.array([0.25, 0.39, 0.415, 0.39]))


def brown_dennis():
    t = np.arange(1, 21, dtype=float) / 5

    def F(X):
        tt = t[:, None]
        a = X[0] + tt * X[1] - np.exp(tt)
        b = X[2] + X[3] * np.sin(tt) - np.cos(tt)
        return a**2 + b**2

    def J(x):
        a = x[0] + t * x[1] - np.exp(t)
        b = x[2] + x[3] * np.sin(t) - np.cos(t)
        return np.stack([2 * a, 2 * a * t, 2 * b, 2 * b * np.sin(t)], axis=1)

    return Problem("(16) Brown-Dennis", F, J, np.array([25.0, 5.0, -5.0, -1.0]))


def osborne1():
    y = np.array([0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818, 0.784, 0.751,
                  0.718, 0.685, 0.658, 0.628, 0.603, 0.580, 0.558, 0.538, 0.522, 0.506, 0.490,
                  0.478, 0.467, 0.457, 0.448, 0.438, 0.431, 0.424, 0.420, 0.414, 0.411, 0.406])
    t = 10.0 * np.arange(33)

    def F(X):
        tt = t[:, None]
        return y[:, None] - (X[0] + X[1] * np.exp(-tt * X[3]) + X[2] * np.exp(-tt * X[4]))

    def J(x):
        e4, e5 = np.exp(-t * x[3]), np.exp(-t * x[4])
        return np.stack([-np.ones(33), -e4, -e5, x[1] * t * e4, x[2] * t * e5], axis=1)

    return Problem("(17) Osborne 1", F, J, np.array([0.5, 1.5, -1.0, 0.01, 0.02]))


def biggs_exp6():
    t = 0.1 * np.arange(1, 14, dtype=float)
    y = np.exp(-t) - 5 * np.exp(-10 * t) + 3 * np.exp(-4 * t)

    def F(X):
        tt = t[:, None]
        return (X[2] * np.exp(-tt * X[0]) - X[3] * np.exp(-tt * X[1])
                + X[5] * np.exp(-tt * X[4]) - y[:, None])

    def J(x):
        e1, e2, e5 = np.exp(-t * x[0]), np.exp(-t * x[1]), np.exp(-t * x[4])
        return np.stack([-t * x[2] * e1, t * x[3] * e2, e1, -e2, -t * x[5] * e5, e5], axis=1)

    return Problem("(18) Biggs EXP6", F, J, np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0]))


def watson(n):
    t = np.arange(1, 30, dtype=float) / 29

    def F(X):
        tt = t[:, None]
        s1 = sum((j - 1) * X[j - 1] * tt ** (j - 2) for j in range(2, n + 1))
        s2 = sum(X[j - 1] * tt ** (j - 1) for j in range(1, n + 1))
        rows = s1 - s2**2 - 1
        return np.concatenate([rows, X[0][None], (X[1] - X[0] ** 2 - 1)[None]], axis=0)

    def J(x):
        s2 = sum(x[j - 1] * t ** (j - 1) for j in range(1, n + 1))
        Jm = np.zeros((31, n))
        for j in range(1, n + 1):
            d1 = (j - 1) * t ** (j - 2) if j >= 2 else 0.0
            Jm[:29, j - 1] = d1 - 2 * s2 * t ** (j - 1)
        Jm[29, 0] = 1.0
        Jm[30, 0] = -2 * x[0]
        Jm[30, 1] = 1.0
        return Jm

    return Problem(f"(20) Watson n={n}", F, J, np.zeros(n))


def extended_rosenbrock(n=10):
    def F(X):
        out = np.empty((n,) + X.shape[1:], dtype=X.dtype)
        out[0::2] = 10 * (X[1::2] - X[0::2] ** 2)
        out[1::2] = 1 - X[0::2]
        return out

    def J(x):
        Jm = np.zeros((n, n))
        for i in range(n // 2):
            Jm[2 * i, 2 * i] = -20 * x[2 * i]
            Jm[2 * i, 2 * i + 1] = 10
            Jm[2 * i + 1, 2 * i] = -1
        return Jm

    return Problem(f"(21) Ext. Rosenbrock n={n}", F, J, np.tile([-1.2, 1.0], n // 2))


def extended_powell(n=8):
    s5, s10 = math.sqrt(5), math.sqrt(10)

    def F(X):
        out = np.empty((n,) + X.shape[1:], dtype=X.dtype)
        a, b, c, d = X[0::4], X[1::4], X[2::4], X[3::4]
        out[0::4] = a + 10 * b
        out[1::4] = s5 * (c - d)
        out[2::4] = (b - 2 * c) ** 2
        out[3::4] = s10 * (a - d) ** 2
        return out

    def J(x):
        Jm = np.zeros((n, n))
        for k in range(0, n, 4):
            x1, x2, x3, x4 = x[k:k + 4]
            Jm[k:k + 4, k:k + 4] = powell_singular().jac(np.array([x1, x2, x3, x4]))
        return Jm

    return Problem(f"(22) Ext. Powell singular n={n}", F, J, np.tile([3.0, -1.0, 0.0, 1.0], n // 4))


def penalty1(n=10):
    sa = math.sqrt(1e-5)

    def F(X):
        return np.concatenate([sa * (X - 1), (np.sum(X**2, axis=0) - 0.25)[None]], axis=0)

    def J(x):
        return np.vstack([sa * np.eye(n), 2 * x[None, :]])

    return Problem(f"(23) Penalty I n={n}", F, J, np.arange(1, n + 1, dtype=float))


def penalty2(n=10):
    sa = math.sqrt(1e-5)
    i = np.arange(2, n + 1, dtype=float)
    yv = np.exp(i / 10) + np.exp((i - 1) / 10)
    w = n - np.arange(1, n + 1, dtype=float) + 1

    def F(X):
        r1 = (X[0] - 0.2)[None]
        r2 = sa * (np.exp(X[1:] / 10) + np.exp(X[:-1] / 10) - yv[:, None])
        r3 = sa * (np.exp(X[1:] / 10) - math.exp(-0.1))
        r4 = (np.sum(w[:, None] * X**2, axis=0) - 1)[None]
        return np.concatenate([r1, r2, r3, r4], axis=0)

    def J(x):
        Jm = np.zeros((2 * n, n))
        Jm[0, 0] = 1
        for k in range(1, n):
            Jm[k, k] = sa * math.exp(x[k] / 10) / 10
            Jm[k, k - 1] = sa * math.exp(x[k - 1] / 10) / 10
            Jm[n - 1 + k, k] = sa * math.exp(x[k] / 10) / 10
        Jm[2 * n - 1] = 2 * w * x
        return Jm

    return Problem(f"(24) Penalty II n={n}", F, J, np.full(n, 0.5))


def variably_dimensioned(n=10):
    j = np.arange(1, n + 1, dtype=float)

    def F(X):
        s = np.sum(j[:, None] * (X - 1), axis=0)
        return np.concatenate([X - 1, s[None], (s**2)[None]], axis=0)

    def J(x):
        s = np.sum(j * (x - 1))
        return np.vstack([np.eye(n), j[None, :], 2 * s * j[None, :]])

    return Problem(f"(25) Variably dim. n={n}", F, J, 1 - j / n)


def trigonometric(n=10):
    i = np.arange(1, n + 1, dtype=float)

    def F(X):
        return n - np.sum(np.cos(X), axis=0) + i[:, None] * (1 - np.cos(X)) - np.sin(X)

    def J(x):
        Jm = np.tile(np.sin(x)[None, :], (n, 1))
        Jm[np.arange(n), np.arange(n)] += i * np.sin(x) - np.cos(x)
        return Jm

    return Problem(f"(26) Trigonometric n={n}", F, J, np.full(n, 1.0 / n))


def brown_almost_linear(n=10):
    def F(X):
        s = np.sum(X, axis=0)
        return np.concatenate([X[:-1] + s - (n + 1), (np.prod(X, axis=0) - 1)[None]], axis=0)

    def J(x):
        Jm = np.ones((n, n)) + np.eye(n)
        Jm[-1] = [np.prod(np.delete(x, k)) for k in range(n)]
        return Jm

    return Problem(f"(27) Brown almost-linear n={n}", F, J, np.full(n, 0.5))


def discrete_bvp(n=10):
    h = 1.0 / (n + 1)
    t = h * np.arange(1, n + 1)

    def F(X):
        z = np.zeros((1,) + X.shape[1:], dtype=X.dtype)
        Xp = np.concatenate([z, X, z], axis=0)
        return 2 * X - Xp[:-2] - Xp[2:] + h**2 * (X + t[:, None] + 1) ** 3 / 2

    def J(x):
        Jm = np.diag(2 + 1.5 * h**2 * (x + t + 1) ** 2)
        Jm -= np.eye(n, k=1) + np.eye(n, k=-1)
        return Jm

    return Problem(f"(28) Discrete BVP n={n}", F, J, t * (t - 1))


def discrete_integral(n=10):
    h = 1.0 / (n + 1)
    t = h * np.arange(1, n + 1)
    # kernel K_ij = (1 - t_i) t_j for j <= i, t_i (1 - t_j) for j > i
    K = np.where(np.arange(n)[None, :] <= np.arange(n)[:, None],
                 (1 - t)[:, None] * t[None, :], t[:, None] * (1 - t)[None, :])

    def F(X):
        c = (X + t[:, None] + 1) ** 3
        return X + h / 2 * (K @ c)

    def J(x):
        return np.eye(n) + h / 2 * K * (3 * (x + t + 1) ** 2)[None, :]

    return Problem(f"(29) Discrete integral n={n}", F, J, t * (t - 1))


def broyden_tridiagonal(n=10):
    def F(X):
        z = np.zeros((1,) + X.shape[1:], dtype=X.dtype)
        Xp = np.concatenate([z, X, z], axis=0)
        return (3 - 2 * X) * X - Xp[:-2] - 2 * Xp[2:] + 1

    def J(x):
        return np.diag(3 - 4 * x) - np.eye(n, k=-1) - 2 * np.eye(n, k=1)

    return Problem(f"(30) Broyden tridiagonal n={n}", F, J, -np.ones(n))


def broyden_banded(n=10):
    def F(X):
        rows = []
        for i in range(n):
            js = [j for j in range(max(0, i - 5), min(n - 1, i + 1) + 1) if j != i]
            s = sum(X[j] * (1 + X[j]) for j in js)
            rows.append(X[i] * (2 + 5 * X[i] ** 2) + 1 - s)
        return np.stack(rows)

    def J(x):
        Jm = np.zeros((n, n))
        for i in range(n):
            Jm[i, i] = 2 + 15 * x[i] ** 2
            for j in range(max(0, i - 5), min(n - 1, i + 1) + 1):
                if j != i:
                    Jm[i, j] = -(1 + 2 * x[j])
        return Jm

    return Problem(f"(31) Broyden banded n={n}", F, J, -np.ones(n))


def linear_full_rank(n=10, m=20):
    def F(X):
        s = np.sum(X, axis=0)
        top = X - 2.0 / m * s - 1
        bot = np.broadcast_to(-2.0 / m * s - 1, (m - n,) + X.shape[1:])
        return np.concatenate([top, bot], axis=0)

    def J(x):
        return np.vstack([np.eye(n), np.zeros((m - n, n))]) - 2.0 / m

    return Problem(f"(32) Linear full rank n={n},m={m}", F, J, np.ones(n))


def chebyquad(n=8):
    ints = np.array([(-1.0 / (i * i - 1)) if i % 2 == 0 else 0.0 for i in range(1, n + 1)])

    def F(X):
        y = 2 * X - 1
        Tp, Tc = np.ones_like(y), y
        rows = []
        for i in range(1, n + 1):
            rows.append(np.mean(Tc, axis=0) - ints[i - 1])
            Tp, Tc = Tc, 2 * y * Tc - Tp
        return np.stack(rows)

    def J(x):
        # d/dx T_i(2x-1) = 2 i U_{i-1}(2x-1)
        y = 2 * x - 1
        U = [np.ones_like(y), 2 * y]
        for _ in range(n):
            U.append(2 * y * U[-1] - U[-2])
        return np.stack([2 * i * U[i - 1] / n for i in range(1, n + 1)])

    return Problem(f"(35) Chebyquad n={n}", F, J, np.arange(1, n + 1) / (n + 1.0))


def all_problems() -> List[Problem]:
    return [rosenbrock(), freudenstein_roth(), powell_badly_scaled(), brown_badly_scaled(), beale(),
            jennrich_sampson(), helical_valley(), bard(), gaussian(), meyer(), box3d(),
            powell_singular(), wood(), kowalik_osborne(), brown_dennis(), osborne1(), biggs_exp6(),
            watson(6), watson(9), extended_rosenbrock(10), extended_powell(8), penalty1(10),
            penalty2(10), variably_dimensioned(10), trigonometric(10), brown_almost_linear(10),
            discrete_bvp(10), discrete_integral(10), broyden_tridiagonal(10), broyden_banded(10),
            linear_full_rank(10, 20), chebyquad(8)]


# ---------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------
FLOOR = 1e-3


def rel_errors(Japprox, Jtrue, floor=FLOOR):
    """Componentwise relative error with a row-normwise floor (see module docstring)."""
    rowmax = np.max(np.abs(Jtrue), axis=1, keepdims=True)
    d = np.maximum(np.abs(Jtrue), floor * rowmax)
    d = np.where(d > 0, d, 1.0)
    with np.errstate(invalid="ignore"):
        r = np.abs(np.asarray(Japprox, dtype=float) - Jtrue) / d
    return np.where(np.isfinite(r), r, np.inf)


def digits(Japprox, Jtrue, floor=FLOOR):
    r = float(np.max(rel_errors(Japprox, Jtrue, floor)))
    if r == 0:
        return 16.0
    return float(min(16.0, -math.log10(r)))


class Counter:
    """Wraps F and counts evaluated points (columns)."""

    def __init__(self, F, n):
        self.F, self.n, self.count = F, n, 0

    def batched(self, X):
        self.count += X.shape[1]
        return self.F(X)

    def single(self, x):
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            self.count += 1
            return self.F(x[:, None])[:, 0]
        self.count += int(np.prod(x.shape[1:]))
        flat = x.reshape(self.n, -1)
        y = self.F(flat)
        return y.reshape((y.shape[0],) + x.shape[1:])


def method_jacli(order):
    def run(p):
        c = Counter(p.F, p.n)
        J, err, nfev = fd_jacobian(c.batched, p.x0[None, :], order=order)
        assert nfev == c.count, (nfev, c.count)
        return J[0], err[0], c.count
    return run


def method_complex(p):
    c = Counter(p.F, p.n)
    J, err, nfev = complex_step_jacobian(c.batched, p.x0[None, :])
    return J[0], err[0], c.count


def method_numdifftools(p):
    import numdifftools as nd

    c = Counter(p.F, p.n)
    J = nd.Jacobian(c.single)(p.x0)
    J = np.asarray(J).reshape(-1, p.n)
    return J, None, c.count


def method_scipy(p):
    from scipy.differentiate import jacobian

    c = Counter(p.F, p.n)
    res = jacobian(c.single, p.x0)
    return np.asarray(res.df), np.asarray(res.error), c.count


def method_plain(p):
    c = Counter(p.F, p.n)
    x = p.x0
    h = EPS ** (1 / 3) * np.maximum(np.abs(x), 1.0)
    xp = x[:, None] + np.diag(h)
    xm = x[:, None] - np.diag(h)
    Y = c.batched(np.concatenate([xp, xm], axis=1))
    n = p.n
    J = (Y[:, :n] - Y[:, n:]) / (xp - xm).diagonal()[None, :]
    return J, None, c.count


def available_methods():
    methods = [("jacli fd o2", method_jacli(2)), ("jacli fd o4", method_jacli(4)),
               ("jacli complex", method_complex)]
    notes = []
    try:
        import numdifftools  # noqa: F401

        methods.append(("numdifftools", method_numdifftools))
    except ImportError:
        notes.append("numdifftools is not installed: column omitted.")
    try:
        from scipy.differentiate import jacobian  # noqa: F401

        methods.append(("scipy.differentiate", method_scipy))
    except ImportError:
        import scipy

        notes.append(f"scipy {scipy.__version__} has no scipy.differentiate (needs >= 1.15): column omitted.")
    methods.append(("plain central", method_plain))
    return methods, notes


def run(repeats=3):
    methods, notes = available_methods()
    rows = []
    for p in all_problems():
        Jt = p.jac(p.x0)
        row = {"problem": p.name, "n": p.n, "m": Jt.shape[0]}
        for name, fn in methods:
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                with np.errstate(all="ignore"):
                    J, err, nf = fn(p)
                times.append(time.perf_counter() - t0)
            J = np.asarray(J, dtype=float).reshape(Jt.shape)
            cell = {"digits": digits(J, Jt), "digits6": digits(J, Jt, 1e-6), "nfev": nf,
                    "time": float(np.median(times))}
            if name.startswith("jacli") and err is not None:
                true = np.abs(J - Jt)
                cell["viol"] = int(np.sum(~(true <= err)))
                pos = err > 0
                cell["ratio"] = float(np.median(true[pos] / err[pos])) if np.any(pos) else 0.0
            row[name] = cell
        rows.append(row)
    return rows, [m for m, _ in methods], notes


def to_markdown(rows, names, notes):
    out = []
    out.append("Correct significant digits of the worst entry / function evaluations per Jacobian "
               "(jacli: + error-estimate violations).")
    out.append("")
    head = ["problem", "n", "m"] + names
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join(["---"] * len(head)) + "|")
    for r in rows:
        cells = [r["problem"], str(r["n"]), str(r["m"])]
        for nm in names:
            c = r[nm]
            s = f"{c['digits']:.1f} / {c['nfev']}"
            if "viol" in c:
                s += f" / v{c['viol']}"
            cells.append(s)
        out.append("| " + " | ".join(cells) + " |")
    # summary
    out.append("")
    out.append("| method | min digits | median digits | problems < 10 digits | min digits (floor 1e-6) | "
               "total nfev | mean nfev / n | violations | median true/est | median time [ms] |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for nm in names:
        d = [r[nm]["digits"] for r in rows]
        d6 = min(r[nm]["digits6"] for r in rows)
        nf = [r[nm]["nfev"] for r in rows]
        per_n = [r[nm]["nfev"] / r["n"] for r in rows]
        v = [r[nm].get("viol") for r in rows]
        ratio = [r[nm].get("ratio") for r in rows]
        vs = str(sum(v)) if v[0] is not None else "-"
        rs = f"{np.median(ratio):.1e}" if ratio[0] is not None else "-"
        t = np.median([r[nm]["time"] for r in rows]) * 1e3
        out.append(f"| {nm} | {min(d):.1f} | {np.median(d):.1f} | {sum(x < 10 for x in d)} | {d6:.1f} | {sum(nf)} | "
                   f"{np.mean(per_n):.1f} | {vs} | {rs} | {t:.2f} |")
    for note in notes:
        out.append("")
        out.append(note)
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="write the markdown table to this file")
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats (median)")
    args = ap.parse_args(argv)
    # truth check: analytic Jacobians agree with complex step (independent derivation)
    for p in all_problems():
        Jc, _, _ = complex_step_jacobian(p.F, p.x0[None, :])
        Jt = p.jac(p.x0)
        assert Jt.shape == Jc[0].shape, p.name
        assert np.allclose(Jc[0], Jt, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(Jt).max())), p.name
    rows, names, notes = run(args.repeats)
    md = to_markdown(rows, names, notes)
    print(md)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(md)


if __name__ == "__main__":
    main()
