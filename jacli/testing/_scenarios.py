"""Scenarios of the conformance suite: models with hand-derived references.

Each :class:`Scenario` is a small model (TOML text, the same format as ``samples/``),
points to evaluate it at, and its value and Jacobian written out by hand in NumPy.  The
references are derived on paper from the model text — never computed by a backend or by
SymPy — so a backend is compared with something independent of every backend.

Tags say what a scenario exercises and which backends it suits:

``non_analytic``   uses ``abs``/``max``: a backend with ``requires_analytic`` must refuse it.
``domain_error``   some points are outside the model's domain (listed in ``domain_errors``).
``parameters``     the model has parameters, and ``wrt`` includes one.
``sparse``         a large structurally sparse Jacobian (tridiagonal, n = 50).
``batch``          many points, some failing, checked against the loop over single points.
``structure``      exact structural zeros (the zero pattern is given explicitly).
``scale``          magnitudes far from 1 (tolerances are relative, never absolute).
``python``         a Python-function model (``model.py:f``): the same references as the
                   expression scenario it transcribes; run by backends declaring
                   ``python_models``, refused (CapabilityError) by the others.

Second order: a scenario with a ``hessian`` reference (also written by hand, from the
model text) is run through the second-order checks; one without is skipped by them.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

__all__ = ["Scenario", "SCENARIOS", "PYTHON_SCENARIOS", "scenario"]


@dataclass(frozen=True)
class Scenario:
    """A model, points, and its hand-derived value and Jacobian.

    Attributes
    ----------
    name : str
        Short identifier, used as the pytest id.
    source : str
        The model as TOML text (inputs, parameters, definitions, outputs), read with
        :func:`jacli.load_model`; or, when ``inputs`` is given, inline expressions
        (``"u = x*y, v = sin(x) + y"``) read with :func:`jacli.model_from_expressions`.
    points : tuple of tuple of float
        Points in input order; at least two, none equal to the model's nominal point
        (so a backend that silently uses the nominal point is caught).
    value : callable ``(x, p) -> sequence of m floats``
        The outputs at input vector ``x`` with parameter values ``p`` (a dict).
    jacobian : callable ``(x, p) -> m x len(columns) nested sequence``
        The derivative of the outputs with respect to ``columns``.
    columns : tuple of str or None
        Names of the reference Jacobian's columns; None means the model's inputs.
    wrt : tuple of str or None
        Differentiation variables passed to the backend; None means all inputs.
        Must be a subset of ``columns``.
    tags : frozenset of str
        See the module docstring.
    domain_errors : frozenset of int
        Indices of points whose status must be DOMAIN_ERROR; every other point must be OK.
    structure : tuple of tuple of bool or None
        Structural non-zeros of the Jacobian (rows = outputs, columns = ``wrt``).  None
        means: the entries whose reference is non-zero at some point.
    alt_params : tuple of (name, value)
        Other parameter values: a Prep made with the file's values must give the
        derivative at these ones too (parameters are not part of the Prep).
    description : str
        What the scenario is for.
    inputs : tuple of str or None
        Input names of an inline-expressions ``source`` (None: ``source`` is TOML).
    python : bool
        ``source`` is the text of a Python file whose function ``f`` is the model (a
        Python-function model, loaded with :func:`jacli.load_model` from ``FILE.py:f``).
    hessian : callable ``(x, p) -> m x len(columns) x len(columns) nested sequence`` or None
        Every output's Hessian with respect to ``columns``, derived by hand.  None: the
        second-order checks skip the scenario.
    hessian_wrt : tuple of str or None
        Differentiation variables of the second-order checks; None means ``wrt``.  A
        subset keeps nested-difference Hessians (~100 k^2 evaluations per point)
        affordable on a large model.
    hessian_hard : frozenset of int
        Points where a Hessian by differences cannot be resolved with steps relative to
        the input's scale (see the scenario): a backend that does not declare ``exact``
        may report NOT_CONVERGED there.  Its numbers must still be within its own error
        estimate; an exact backend must report OK.
    """

    name: str
    source: str
    points: tuple
    value: Callable
    jacobian: Callable
    columns: Optional[tuple] = None
    wrt: Optional[tuple] = None
    tags: frozenset = frozenset()
    domain_errors: frozenset = frozenset()
    structure: Optional[tuple] = None
    alt_params: tuple = ()
    description: str = ""
    inputs: Optional[tuple] = None
    hessian: Optional[Callable] = None
    hessian_wrt: Optional[tuple] = None
    hessian_hard: frozenset = frozenset()
    python: bool = False

    def __repr__(self) -> str:
        return f"Scenario({self.name!r})"

    # -- the model ----------------------------------------------------------------------

    def model(self):
        """The :class:`~jacli.model.Model` (built once per process and shared)."""
        if self.python:
            return _model_from_python(self.source)
        if self.inputs is not None:
            return _model_from_expressions(self.source, tuple(self.inputs))
        return _model_from_toml(self.source)

    def wrt_names(self) -> tuple:
        return tuple(self.wrt) if self.wrt is not None else tuple(self.model().input_names)

    def points_array(self) -> np.ndarray:
        return np.array(self.points, dtype=float)

    def args_array(self, params: Optional[dict] = None) -> np.ndarray:
        """The backends' ``A`` array: points, then parameter columns (``prep.symbols`` order)."""
        m = self.model()
        p = {**m.param_values, **(params or {})}
        X = self.points_array()
        P = np.array([[p[n] for n in m.parameter_names]] * len(X), dtype=float).reshape(len(X), -1)
        return np.concatenate([X, P], axis=1)

    # -- references ---------------------------------------------------------------------

    def reference(self, params: Optional[dict] = None, wrt: Optional[tuple] = None):
        """``(value (N, m), jacobian (N, m, k))`` from the hand-written formulas.

        ``k`` follows ``wrt`` (default :meth:`wrt_names`).  Rows of points listed in
        ``domain_errors`` are NaN in the Jacobian (no derivative exists there); their
        values are whatever the formula gives (NaN where the function is undefined).
        """
        m = self.model()
        p = {**m.param_values, **(params or {})}
        cols = self._columns()
        sel = [cols.index(w) for w in (wrt if wrt is not None else self.wrt_names())]
        vals, jacs = [], []
        for i, x in enumerate(self.points_array()):
            # Local: the formulas are evaluated at the out-of-domain points on purpose.
            with np.errstate(all="ignore"):
                v = np.asarray(self.value(x, p), dtype=float)
                if i in self.domain_errors:
                    J = np.full((len(v), len(sel)), np.nan)
                else:
                    J = np.asarray(self.jacobian(x, p), dtype=float).reshape(len(v), len(cols))[:, sel]
            vals.append(v)
            jacs.append(J)
        return np.array(vals), np.array(jacs)

    def expected_structure(self, wrt: Optional[tuple] = None) -> np.ndarray:
        """(m, k) bool: explicit ``structure``, else entries non-zero at some good point.

        ``wrt`` (default :meth:`wrt_names`) selects columns; with an explicit structure
        it must be a subset of :meth:`wrt_names`.
        """
        wrt = tuple(wrt) if wrt is not None else self.wrt_names()
        if self.structure is not None:
            S = np.array(self.structure, dtype=bool)
            own = self.wrt_names()
            return S[:, [own.index(w) for w in wrt]]
        _, J = self.reference(wrt=wrt)
        return np.any(J[self.ok_points()] != 0, axis=0)

    def _columns(self) -> tuple:
        return tuple(self.columns) if self.columns is not None else tuple(self.model().input_names)

    # -- second order -------------------------------------------------------------------

    @property
    def has_hessian(self) -> bool:
        return self.hessian is not None

    def second_order_wrt(self):
        """The ``wrt`` argument of the second-order checks (None: all inputs)."""
        return self.hessian_wrt if self.hessian_wrt is not None else self.wrt

    def second_order_names(self) -> tuple:
        w = self.second_order_wrt()
        return tuple(w) if w is not None else tuple(self.model().input_names)

    def hessian_reference(self, params: Optional[dict] = None):
        """``(value (N, m), gradient (N, m, k), hessian (N, m, k, k))`` by hand, k = second-order wrt.

        Points in ``domain_errors`` have NaN gradients and Hessians.
        """
        if self.hessian is None:
            raise ValueError(f"scenario {self.name!r} has no Hessian reference")
        m = self.model()
        p = {**m.param_values, **(params or {})}
        cols = self._columns()
        names = self.second_order_names()
        sel = [cols.index(w) for w in names]
        V, G = self.reference(params, wrt=names)
        Hs = []
        for i, x in enumerate(self.points_array()):
            mo, k = V.shape[1], len(sel)
            if i in self.domain_errors:
                Hs.append(np.full((mo, k, k), np.nan))
                continue
            H = np.asarray(self.hessian(x, p), dtype=float).reshape(mo, len(cols), len(cols))
            Hs.append(H[:, sel][:, :, sel])
        return V, G, np.array(Hs)

    def expected_hessian_structure(self) -> np.ndarray:
        """(m, k, k) bool: Hessian entries non-zero at some good point (the rest are identically 0)."""
        _, _, H = self.hessian_reference()
        return np.any(H[self.ok_points()] != 0, axis=0)

    def independent_hessian_entries(self) -> np.ndarray:
        """(m, k, k) bool: entries d2 f_i / dx_a dx_b where f_i does not depend on x_a or on x_b.

        These are 0.0 for every backend, differences included: perturbing a variable an
        output does not depend on changes nothing, bit for bit.
        """
        S = self.expected_structure(self.second_order_names())
        return ~(S[:, :, None] & S[:, None, :])

    def ok_points(self) -> list:
        return [i for i in range(len(self.points)) if i not in self.domain_errors]

    def compatible(self, capabilities) -> tuple:
        """``(True, "")`` or ``(False, why)``: can a backend with these capabilities run it?"""
        if self.python and not capabilities.python_models:
            return False, "a Python-function model, and the backend does not declare python_models"
        if capabilities.requires_analytic and "non_analytic" in self.tags:
            return False, "the model uses abs/max, which have no complex-analytic extension"
        return True, ""


# ----------------------------------------------------------------------------- building models

_MODELS: dict = {}


def _model_from_toml(text: str):
    """Load TOML model text through the public loader (a temporary file), once per process."""
    model = _MODELS.get(text)
    if model is None:
        import jacli

        fd, path = tempfile.mkstemp(suffix=".toml", prefix="jacli-scenario-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            model = jacli.load_model(path)
        finally:
            os.unlink(path)
        _MODELS[text] = model
    return model


def _model_from_python(text: str):
    """Load a Python model file's text (function ``f``) through the public loader, once per process."""
    key = ("python", text)
    model = _MODELS.get(key)
    if model is None:
        import jacli

        fd, path = tempfile.mkstemp(suffix=".py", prefix="jacli_scenario_")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            model = jacli.load_model(path + ":f")
        finally:
            os.unlink(path)
        _MODELS[key] = model
    return model


def _model_from_expressions(text: str, inputs: tuple):
    key = (text, inputs)
    model = _MODELS.get(key)
    if model is None:
        import jacli

        model = _MODELS[key] = jacli.model_from_expressions(text, inputs=list(inputs))
    return model


# ----------------------------------------------------------------------------- the scenarios
#
# Every reference below was derived by hand from the model text next to it.

def _toml(name, inputs, outputs, parameters=None, definitions=None) -> str:
    lines = [f'name = "{name}"', "[inputs]"]
    lines += [f"{k} = {v!r}" for k, v in inputs.items()]
    if parameters:
        lines.append("[parameters]")
        lines += [f"{k} = {v!r}" for k, v in parameters.items()]
    if definitions:
        lines.append("[definitions]")
        lines += [f'{k} = "{v}"' for k, v in definitions.items()]
    lines.append("[outputs]")
    lines += [f'{k} = "{v}"' for k, v in outputs.items()]
    return "\n".join(lines) + "\n"


_SQRT_PI = math.sqrt(math.pi)


def _psi(x):
    from scipy.special import psi

    return float(psi(x))


def _trigamma(x):
    from scipy.special import polygamma

    return float(polygamma(1, x))


def _sign(v):
    return 1.0 if v > 0 else -1.0


# scalar R -> R --------------------------------------------------------------------------

def _scalar_hess(x, p):
    # f' = 3x^2 sin x + x^3 cos x - e^-x
    # f'' = 6x sin x + 3x^2 cos x + 3x^2 cos x - x^3 sin x + e^-x
    t = x[0]
    return [[[6 * t * math.sin(t) + 6 * t ** 2 * math.cos(t) - t ** 3 * math.sin(t) + math.exp(-t)]]]


SCALAR = Scenario(
    name="scalar",
    description="R -> R: one input, one output",
    source=_toml("scalar", {"x": 1.0}, {"f": "x**3*sin(x) + exp(-x)"}),
    points=((0.7,), (-1.3,), (2.5,), (0.0,)),
    value=lambda x, p: [x[0] ** 3 * math.sin(x[0]) + math.exp(-x[0])],
    jacobian=lambda x, p: [[3 * x[0] ** 2 * math.sin(x[0]) + x[0] ** 3 * math.cos(x[0]) - math.exp(-x[0])]],
    hessian=_scalar_hess,
)


# R^3 -> R^2 (m < n) ---------------------------------------------------------------------

def _wide_value(x, p):
    a, b, c = x
    return [a * b * c + b ** 2, math.exp(a) * math.cos(c) - b / c]


def _wide_jac(x, p):
    a, b, c = x
    return [[b * c, a * c + 2 * b, a * b],
            [math.exp(a) * math.cos(c), -1 / c, -math.exp(a) * math.sin(c) + b / c ** 2]]


def _wide_hess(x, p):
    a, b, c = x
    ea = math.exp(a)
    return [[[0, c, b],
             [c, 2, a],
             [b, a, 0]],
            # v = e^a cos c - b/c: v_a = e^a cos c, v_b = -1/c, v_c = -e^a sin c + b/c^2
            [[ea * math.cos(c), 0, -ea * math.sin(c)],
             [0, 0, 1 / c ** 2],
             [-ea * math.sin(c), 1 / c ** 2, -ea * math.cos(c) - 2 * b / c ** 3]]]


# Inline expressions (the CLI's -e path); inline inputs have nominal value 0.
_WIDE_SRC = "u = x*y*z + y**2, v = exp(x)*cos(z) - y/z"
_WIDE_POINTS = ((0.5, -1.2, 2.0), (1.5, 0.3, -0.8), (-0.4, 2.0, 1.1))

WIDE = Scenario(
    name="wide", description="R^3 -> R^2: fewer outputs than inputs (an inline-expressions model)",
    source=_WIDE_SRC, inputs=("x", "y", "z"), points=_WIDE_POINTS, value=_wide_value, jacobian=_wide_jac,
    hessian=_wide_hess,
)

WRT_REORDERED = Scenario(
    name="wrt_reordered", description="R^3 -> R^2 with wrt = (z, x): a subset, in another order",
    source=_WIDE_SRC, inputs=("x", "y", "z"), points=_WIDE_POINTS, value=_wide_value, jacobian=_wide_jac,
    wrt=("z", "x"), hessian=_wide_hess,
)


# R^2 -> R^4 (m > n) ---------------------------------------------------------------------

def _tall_value(x, p):
    r, t = x
    return [r * math.cos(t), r * math.sin(t), r ** 2 * t, math.log(r) + t ** 3]


def _tall_jac(x, p):
    r, t = x
    return [[math.cos(t), -r * math.sin(t)],
            [math.sin(t), r * math.cos(t)],
            [2 * r * t, r ** 2],
            [1 / r, 3 * t ** 2]]


def _tall_hess(x, p):
    r, t = x
    return [[[0, -math.sin(t)], [-math.sin(t), -r * math.cos(t)]],
            [[0, math.cos(t)], [math.cos(t), -r * math.sin(t)]],
            [[2 * t, 2 * r], [2 * r, 0]],
            [[-1 / r ** 2, 0], [0, 6 * t]]]


TALL = Scenario(
    name="tall", description="R^2 -> R^4: more outputs than inputs",
    source=_toml("tall", {"r": 1.0, "t": 0.0},
                 {"px": "r*cos(t)", "py": "r*sin(t)", "q": "r**2*t", "w": "log(r) + t**3"}),
    points=((1.5, 0.4), (0.7, -2.0), (3.0, 1.0)),
    value=_tall_value, jacobian=_tall_jac, hessian=_tall_hess,
)


# exact zeros ----------------------------------------------------------------------------

def _zeros_value(x, p):
    a, b, c, d = x
    return [a * b, c ** 3, math.exp(a) + d, 2.5]


def _zeros_jac(x, p):
    a, b, c, d = x
    return [[b, a, 0, 0],
            [0, 0, 3 * c ** 2, 0],
            [math.exp(a), 0, 0, 1],
            [0, 0, 0, 0]]


def _zeros_hess(x, p):
    a, b, c, d = x
    H = np.zeros((4, 4, 4))
    H[0, 0, 1] = H[0, 1, 0] = 1.0        # a*b
    H[1, 2, 2] = 6 * c                   # c^3
    H[2, 0, 0] = math.exp(a)             # exp(a) + d
    return H                             # 2.5: all zero


EXACT_ZEROS = Scenario(
    name="exact_zeros",
    description="square, non-symmetric, with structural zeros and a constant output: zeros must be exactly 0",
    source=_toml("exact_zeros", {"a": 0.0, "b": 0.0, "c": 0.0, "d": 0.0},
                 {"f1": "a*b", "f2": "c**3", "f3": "exp(a) + d", "f4": "2.5"}),
    points=((1.0, 2.0, -1.5, 0.5), (-0.3, 0.8, 2.0, -1.0)),
    value=_zeros_value, jacobian=_zeros_jac, hessian=_zeros_hess, tags=frozenset({"structure"}),
    structure=((True, True, False, False),
               (False, False, True, False),
               (True, False, False, True),
               (False, False, False, False)),
)


# magnitudes far from 1 ------------------------------------------------------------------

def _large_value(x, p):
    a, b = x
    return [a * b, a ** 2 - 3 * b ** 2, math.sqrt(a * b), a * math.log(b)]


def _large_jac(x, p):
    a, b = x
    s = math.sqrt(a * b)
    return [[b, a],
            [2 * a, -6 * b],
            [b / (2 * s), a / (2 * s)],
            [math.log(b), a / b]]


def _large_hess(x, p):
    a, b = x
    s = math.sqrt(a * b)        # sqrt(x y) = x^(1/2) y^(1/2)
    return [[[0, 1], [1, 0]],
            [[2, 0], [0, -6]],
            [[-s / (4 * a ** 2), 1 / (4 * s)], [1 / (4 * s), -s / (4 * b ** 2)]],
            [[0, 1 / b], [1 / b, -a / b ** 2]]]


LARGE = Scenario(
    name="large_magnitudes", description="inputs ~1e8, outputs up to ~1e17",
    source=_toml("large", {"x": 1.0e8, "y": 1.0e8},
                 {"f1": "x*y", "f2": "x**2 - 3*y**2", "f3": "sqrt(x*y)", "f4": "x*log(y)"}),
    points=((1.2e8, 3.4e8), (5.0e7, 2.0e8)),
    value=_large_value, jacobian=_large_jac, hessian=_large_hess, tags=frozenset({"scale"}),
)


def _tiny_value(x, p):
    a, b = x
    return [a * b, math.sin(a) + a ** 2 * b, math.expm1(b) / 2]


def _tiny_jac(x, p):
    a, b = x
    return [[b, a],
            [math.cos(a) + 2 * a * b, a ** 2],
            [0, math.exp(b) / 2]]


def _tiny_hess(x, p):
    a, b = x
    return [[[0, 1], [1, 0]],
            [[-math.sin(a) + 2 * b, 2 * a], [2 * a, 0]],
            [[0, 0], [0, math.exp(b) / 2]]]


TINY = Scenario(
    name="tiny_magnitudes",
    description="inputs ~1e-8, outputs down to ~1e-16; the functions vary on the unit scale",
    source=_toml("tiny", {"x": 1.0e-8, "y": 1.0e-8},
                 {"f1": "x*y", "f2": "sin(x) + x**2*y", "f3": "expm1(y)/2"}),
    points=((1.5e-8, 2.5e-8), (-3.0e-8, 7.0e-9)),
    value=_tiny_value, jacobian=_tiny_jac, hessian=_tiny_hess, tags=frozenset({"scale"}),
    # The gradients (~1 and ~0.5) vary on the unit scale, the inputs are ~1e-8: a
    # difference of gradients over steps ~|x| is all rounding (1e-16 / 1e-8 per unit of H).
    hessian_hard=frozenset({0, 1}),
)


def _small_scale_value(x, p):
    a, b = x
    return [a / b, b * math.log(a)]


def _small_scale_jac(x, p):
    a, b = x
    return [[1 / b, -a / b ** 2],
            [b / a, math.log(a)]]


def _small_scale_hess(x, p):
    a, b = x
    return [[[0, -1 / b ** 2], [-1 / b ** 2, 2 * a / b ** 3]],
            [[-b / a ** 2, 1 / a], [1 / a, 0]]]


SMALL_SCALE = Scenario(
    name="small_scale",
    description="inputs ~1e-8 that the functions vary on (a/b, log(a)): steps must scale with |x|",
    source=_toml("small_scale", {"a": 1.0e-8, "b": 1.0e-8}, {"q": "a/b", "r": "b*log(a)"}),
    points=((1.5e-8, 2.5e-8), (3.0e-8, -7.0e-9)),
    value=_small_scale_value, jacobian=_small_scale_jac, hessian=_small_scale_hess, tags=frozenset({"scale"}),
)


# rapidly varying -----------------------------------------------------------------------

def _osc_value(x, p):
    a, b = x
    return [math.sin(40 * a) * math.exp(b), 1 / (1 + 25 * a ** 2), math.exp(12 * b) + a * b]


def _osc_jac(x, p):
    a, b = x
    return [[40 * math.cos(40 * a) * math.exp(b), math.sin(40 * a) * math.exp(b)],
            [-50 * a / (1 + 25 * a ** 2) ** 2, 0],
            [b, 12 * math.exp(12 * b) + a]]


def _osc_hess(x, p):
    a, b = x
    s, c, e = math.sin(40 * a), math.cos(40 * a), math.exp(b)
    d = 1 + 25 * a ** 2
    # (1/d)'' = -50/d^2 + 5000 a^2/d^3 = (3750 a^2 - 50)/d^3
    return [[[-1600 * s * e, 40 * c * e], [40 * c * e, s * e]],
            [[(3750 * a ** 2 - 50) / d ** 3, 0], [0, 0]],
            [[0, 1], [1, 144 * math.exp(12 * b)]]]


OSCILLATORY = Scenario(
    name="oscillatory",
    description="sin(40x), Runge's 1/(1+25x^2), exp(12y): differences cannot reach rounding accuracy here",
    source=_toml("oscillatory", {"x": 0.0, "y": 0.0},
                 {"f1": "sin(40*x)*exp(y)", "f2": "1/(1 + 25*x**2)", "f3": "exp(12*y) + x*y"}),
    points=((0.3, 0.7), (-0.45, 1.2), (1.1, -0.5)),
    value=_osc_value, jacobian=_osc_jac, hessian=_osc_hess, tags=frozenset({"structure"}),
    structure=((True, True), (True, False), (True, True)),
)


# parameters -----------------------------------------------------------------------------

def _param_value(x, p):
    xx, t = x
    k, c = p["k"], p["c"]
    return [k * xx * math.exp(-c * t), xx ** 2 + k * t ** 2 + c]


def _param_jac(x, p):
    # columns: x, t, k, c
    xx, t = x
    k, c = p["k"], p["c"]
    e = math.exp(-c * t)
    return [[k * e, -c * k * xx * e, xx * e, -t * k * xx * e],
            [2 * xx, 2 * k * t, t ** 2, 1]]


def _param_hess(x, p):
    # columns: x, t, k, c;  y1 = k x e, e = exp(-c t);  y2 = x^2 + k t^2 + c
    xx, t = x
    k, c = p["k"], p["c"]
    e = math.exp(-c * t)
    y1 = [[0, -c * k * e, e, -t * k * e],
          [-c * k * e, c * c * k * xx * e, -c * xx * e, k * xx * e * (c * t - 1)],
          [e, -c * xx * e, 0, -t * xx * e],
          [-t * k * e, k * xx * e * (c * t - 1), -t * xx * e, t * t * k * xx * e]]
    y2 = [[2, 0, 0, 0],
          [0, 2 * k, 2 * t, 0],
          [0, 2 * t, 0, 0],
          [0, 0, 0, 0]]
    return [y1, y2]


PARAMETERS = Scenario(
    name="parameters", description="parameters and a definition; wrt includes the parameter k",
    source=_toml("parameters", {"x": 1.0, "t": 0.0}, {"y1": "k*x*decay", "y2": "x**2 + k*t**2 + c"},
                 parameters={"k": 2.5, "c": 0.3}, definitions={"decay": "exp(-c*t)"}),
    points=((1.5, 0.4), (-0.5, 2.0)),
    value=_param_value, jacobian=_param_jac, columns=("x", "t", "k", "c"), wrt=("x", "k", "t"),
    hessian=_param_hess,
    tags=frozenset({"parameters"}), alt_params=(("k", 1.75), ("c", -0.6)),
)


# a point outside the domain -------------------------------------------------------------

DOMAIN = Scenario(
    name="domain_error", description="log(x) at x = -1: that point fails, the others do not",
    source=_toml("domain", {"x": 1.0, "y": 1.0}, {"f1": "log(x)*y", "f2": "x*y + 1"}),
    points=((2.0, 3.0), (-1.0, 0.5), (0.5, -2.0)),
    value=lambda x, p: [np.log(x[0]) * x[1], x[0] * x[1] + 1],
    jacobian=lambda x, p: [[x[1] / x[0], math.log(x[0])], [x[1], x[0]]],
    hessian=lambda x, p: [[[-x[1] / x[0] ** 2, 1 / x[0]], [1 / x[0], 0]], [[0, 1], [1, 0]]],
    tags=frozenset({"domain_error"}), domain_errors=frozenset({1}),
    structure=((True, True), (True, True)),
)


# non-analytic ---------------------------------------------------------------------------

def _nonan_value(x, p):
    a, b, c = x
    return [abs(a - b) * c, max(a, b ** 2) + c]


def _nonan_jac(x, p):
    a, b, c = x
    s = _sign(a - b)
    left = 1.0 if a >= b ** 2 else 0.0
    return [[s * c, -s * c, abs(a - b)],
            [left, 2 * b * (1 - left), 1]]


def _nonan_hess(x, p):
    # Away from the kinks |x - y| and max(x, y^2) are smooth: |x - y| z is linear in
    # (x, y) for fixed z; max is x (all zero) or y^2 (d2/dy2 = 2).
    a, b, c = x
    s = _sign(a - b)
    left = 1.0 if a >= b ** 2 else 0.0
    return [[[0, 0, s], [0, 0, -s], [s, -s, 0]],
            [[0, 0, 0], [0, 2 * (1 - left), 0], [0, 0, 0]]]


NON_ANALYTIC = Scenario(
    name="non_analytic", description="abs and max, evaluated at least 1 away from their kinks",
    source=_toml("non_analytic", {"x": 1.0, "y": 0.0, "z": 1.0},
                 {"f1": "abs(x - y)*z", "f2": "max(x, y**2) + z"}),
    points=((2.0, 0.5, 1.5), (-1.0, 1.5, 0.5), (0.3, -1.2, -2.0)),
    value=_nonan_value, jacobian=_nonan_jac, hessian=_nonan_hess, tags=frozenset({"non_analytic"}),
    structure=((True, True, True), (True, True, True)),
)


# sparse: tridiagonal, n = 50 ------------------------------------------------------------

_TRI_N = 50


def _tri_source() -> str:
    n = _TRI_N
    outs = {}
    for i in range(1, n + 1):
        terms = []
        if i > 1:
            terms.append(f"x{i - 1} ")
        terms.append(f"- 2*x{i}")
        if i < n:
            terms.append(f" + 0.5*x{i + 1}")
        terms.append(f" + exp(x{i})/10")
        outs[f"F{i}"] = "".join(terms)
    return _toml("tridiagonal", {f"x{i}": 0.0 for i in range(1, n + 1)}, outs)


def _tri_value(x, p):
    n = len(x)
    out = []
    for i in range(n):
        v = -2 * x[i] + math.exp(x[i]) / 10
        if i > 0:
            v += x[i - 1]
        if i < n - 1:
            v += 0.5 * x[i + 1]
        out.append(v)
    return out


def _tri_jac(x, p):
    n = len(x)
    J = np.zeros((n, n))
    for i in range(n):
        J[i, i] = -2 + math.exp(x[i]) / 10
        if i > 0:
            J[i, i - 1] = 1.0
        if i < n - 1:
            J[i, i + 1] = 0.5
    return J


def _tri_hess(x, p):
    # F_i'' = exp(x_i)/10 on the diagonal (i, i) only: the rest is linear.
    n = len(x)
    H = np.zeros((n, n, n))
    for i in range(n):
        H[i, i, i] = math.exp(x[i]) / 10
    return H


def _tri_structure():
    n = _TRI_N
    return tuple(tuple(abs(i - j) <= 1 for j in range(n)) for i in range(n))


SPARSE = Scenario(
    name="tridiagonal", description="n = 50, tridiagonal and non-symmetric (sub 1, super 0.5)",
    source=_tri_source(),
    points=(tuple(0.1 * math.sin(0.3 * i) + 0.2 for i in range(1, _TRI_N + 1)),
            tuple(1.0 - 0.02 * i for i in range(1, _TRI_N + 1))),
    value=_tri_value, jacobian=_tri_jac, tags=frozenset({"sparse", "structure"}),
    structure=_tri_structure(), hessian=_tri_hess,
    # An end and two neighbours in the middle: 3 of 50 keeps differences cheap (fd:
    # ~0.05 s instead of ~15 s for all 50) and still has F_24..F_27 linear in one of them.
    hessian_wrt=("x1", "x25", "x26"),
)


# a batch of 7 points, two of them failing -----------------------------------------------

def _batch_value(x, p):
    a, b = x
    return [np.sqrt(a) * b, b ** 2 / (1 + a ** 2)]


def _batch_jac(x, p):
    a, b = x
    return [[b / (2 * math.sqrt(a)), math.sqrt(a)],
            [-2 * a * b ** 2 / (1 + a ** 2) ** 2, 2 * b / (1 + a ** 2)]]


def _batch_hess(x, p):
    a, b = x
    d = 1 + a * a
    # b^2/d: d/da = -2ab^2/d^2; d2/da2 = -2b^2/d^2 + 8a^2b^2/d^3 = b^2 (6a^2 - 2)/d^3
    return [[[-b / (4 * a ** 1.5), 1 / (2 * math.sqrt(a))], [1 / (2 * math.sqrt(a)), 0]],
            [[b * b * (6 * a * a - 2) / d ** 3, -4 * a * b / d ** 2], [-4 * a * b / d ** 2, 2 / d]]]


BATCH = Scenario(
    name="batch", description="7 points, 2 outside the domain (sqrt of a negative number)",
    source=_toml("batch", {"x": 1.5, "y": 0.5}, {"f1": "sqrt(x)*y", "f2": "y**2/(1 + x**2)"}),
    points=((0.5, 1.0), (2.0, -3.0), (-1.0, 2.0), (3.5, 0.25), (1.0, 1.0), (-0.25, -1.0), (4.0, 2.0)),
    value=_batch_value, jacobian=_batch_jac, hessian=_batch_hess, tags=frozenset({"batch", "domain_error"}),
    domain_errors=frozenset({2, 5}), structure=((True, True), (True, True)),
)


# transcendental mix ---------------------------------------------------------------------

def _trans_value(x, p):
    a, b = x
    return [
        math.exp(a) * math.sqrt(b) + math.tanh(a * b),
        math.log(b) + math.atan2(b, a),
        math.hypot(a, b) * math.erf(a),
        math.gamma(b) + math.lgamma(a + 3),
        np.cbrt(a) + math.log1p(b),
        math.expm1(a * b) + math.asinh(a - b),
        math.sinh(a) * math.cos(b) + math.erfc(b) + math.atan(a),
        math.log10(b) + math.log2(a + 2) + math.tan(a / 3) + math.asin(b / 4) + math.acos(a / 5),
        math.cosh(b) + math.atanh(a / 2) + math.acosh(b + 2),
    ]


def _trans_jac(x, p):
    a, b = x
    r2 = a * a + b * b
    r = math.sqrt(r2)
    th = math.tanh(a * b)
    g = math.exp(-a * a) * 2 / _SQRT_PI
    return [
        [math.exp(a) * math.sqrt(b) + b * (1 - th ** 2),
         math.exp(a) / (2 * math.sqrt(b)) + a * (1 - th ** 2)],
        [-b / r2, 1 / b + a / r2],
        [a / r * math.erf(a) + r * g, b / r * math.erf(a)],
        [_psi(a + 3), math.gamma(b) * _psi(b)],
        [1 / (3 * float(np.cbrt(a)) ** 2), 1 / (1 + b)],
        [b * math.exp(a * b) + 1 / math.sqrt((a - b) ** 2 + 1),
         a * math.exp(a * b) - 1 / math.sqrt((a - b) ** 2 + 1)],
        [math.cosh(a) * math.cos(b) + 1 / (1 + a * a),
         -math.sinh(a) * math.sin(b) - 2 / _SQRT_PI * math.exp(-b * b)],
        [1 / ((a + 2) * math.log(2)) + 1 / (3 * math.cos(a / 3) ** 2) - 1 / (5 * math.sqrt(1 - (a / 5) ** 2)),
         1 / (b * math.log(10)) + 1 / (4 * math.sqrt(1 - (b / 4) ** 2))],
        [1 / (2 * (1 - (a / 2) ** 2)),
         math.sinh(b) + 1 / math.sqrt((b + 2) ** 2 - 1)],
    ]


def _trans_hess(x, p):
    a, b = x
    r2 = a * a + b * b
    r = math.sqrt(r2)
    E = math.erf(a)
    G = 2 / _SQRT_PI * math.exp(-a * a)          # erf'(a); erf''(a) = -2a G
    T = math.tanh(a * b)
    S = 1 - T * T                                # tanh' = S, S' = -2 T S
    ea, eab = math.exp(a), math.exp(a * b)
    u = a - b
    Q3 = (u * u + 1) ** -1.5                     # asinh''(u) = -u Q3
    cb = float(np.cbrt(a))
    sa = 1 - (a / 5) ** 2
    sb = 1 - (b / 4) ** 2
    t3 = math.tan(a / 3)
    c3 = math.cos(a / 3)
    return [
        [[ea * math.sqrt(b) - 2 * b * b * T * S, ea / (2 * math.sqrt(b)) + S - 2 * a * b * T * S],
         [ea / (2 * math.sqrt(b)) + S - 2 * a * b * T * S, -ea / (4 * b ** 1.5) - 2 * a * a * T * S]],
        # atan2(b, a): d/da = -b/r^2, d/db = a/r^2
        [[2 * a * b / r2 ** 2, (b * b - a * a) / r2 ** 2],
         [(b * b - a * a) / r2 ** 2, -1 / b ** 2 - 2 * a * b / r2 ** 2]],
        # r erf(a): r_a = a/r, r_b = b/r, r_aa = b^2/r^3, r_ab = -ab/r^3, r_bb = a^2/r^3
        [[b * b / r ** 3 * E + 2 * a / r * G - 2 * a * r * G, -a * b / r ** 3 * E + b / r * G],
         [-a * b / r ** 3 * E + b / r * G, a * a / r ** 3 * E]],
        [[_trigamma(a + 3), 0], [0, math.gamma(b) * (_psi(b) ** 2 + _trigamma(b))]],
        [[-2 / (9 * cb ** 5), 0], [0, -1 / (1 + b) ** 2]],
        [[b * b * eab - u * Q3, eab + a * b * eab + u * Q3],
         [eab + a * b * eab + u * Q3, a * a * eab - u * Q3]],
        [[math.sinh(a) * math.cos(b) - 2 * a / (1 + a * a) ** 2, -math.cosh(a) * math.sin(b)],
         [-math.cosh(a) * math.sin(b), -math.sinh(a) * math.cos(b) + 4 * b / _SQRT_PI * math.exp(-b * b)]],
        [[-1 / ((a + 2) ** 2 * math.log(2)) + 2 * t3 / (9 * c3 ** 2) - a / 125 * sa ** -1.5, 0],
         [0, -1 / (b * b * math.log(10)) + b / 64 * sb ** -1.5]],
        [[a / (4 * (1 - a * a / 4) ** 2), 0],
         [0, math.cosh(b) - (b + 2) * ((b + 2) ** 2 - 1) ** -1.5]],
    ]


TRANSCENDENTAL = Scenario(
    name="transcendental",
    description="every analytic function of the model language, with branches of cbrt and atan2",
    source=_toml("transcendental", {"x": 0.5, "y": 1.0}, {
        "g1": "exp(x)*sqrt(y) + tanh(x*y)",
        "g2": "log(y) + atan2(y, x)",
        "g3": "hypot(x, y)*erf(x)",
        "g4": "gamma(y) + lgamma(x + 3)",
        "g5": "cbrt(x) + log1p(y)",
        "g6": "expm1(x*y) + asinh(x - y)",
        "g7": "sinh(x)*cos(y) + erfc(y) + atan(x)",
        "g8": "log10(y) + log2(x + 2) + tan(x/3) + asin(y/4) + acos(x/5)",
        "g9": "cosh(y) + atanh(x/2) + acosh(y + 2)",
    }),
    # (-0.8, 0.9): cbrt of a negative number and atan2 in the second quadrant.
    points=((0.6, 1.7), (-0.8, 0.9), (1.3, 2.6)),
    value=_trans_value, jacobian=_trans_jac, hessian=_trans_hess,
)


# Rosenbrock's function and a saddle: the textbook Hessians ----------------------------

def _rosen_value(x, p):
    a, b = x
    return [(1 - a) ** 2 + 100 * (b - a * a) ** 2]


def _rosen_jac(x, p):
    a, b = x
    return [[-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)]]


def _rosen_hess(x, p):
    a, b = x
    return [[[1200 * a * a - 400 * b + 2, -400 * a], [-400 * a, 200]]]


ROSENBROCK = Scenario(
    name="rosenbrock",
    description="Rosenbrock's function: H = [[1200x^2 - 400y + 2, -400x], [-400x, 200]]; "
                "the classic start, the minimum (1, 1) and a point where H is indefinite",
    source=_toml("rosenbrock", {"x": 0.5, "y": 0.5}, {"f": "(1 - x)**2 + 100*(y - x**2)**2"}),
    points=((-1.2, 1.0), (1.0, 1.0), (0.2, 0.9)),
    value=_rosen_value, jacobian=_rosen_jac, hessian=_rosen_hess,
)

SADDLE = Scenario(
    name="saddle", description="x^2 - y^2: constant indefinite Hessian diag(2, -2), zero gradient at the origin",
    source=_toml("saddle", {"x": 1.0, "y": 1.0}, {"f": "x**2 - y**2"}),
    points=((0.0, 0.0), (0.5, -0.3), (-1.0, 2.0)),
    value=lambda x, p: [x[0] ** 2 - x[1] ** 2],
    jacobian=lambda x, p: [[2 * x[0], -2 * x[1]]],
    hessian=lambda x, p: [[[2, 0], [0, -2]]],
)


# Python-function versions --------------------------------------------------------------
#
# The same models written as Python functions (array-API code: it runs under NumPy, JAX and
# PyTorch, and traces into expressions), with the same hand-derived references and points.
# Each exercises one calling convention: a scalar argument, one 1-D array of all inputs,
# named inputs with PARAMETERS, NaN from xp.log/xp.sqrt outside the domain, an
# array-valued input and a 2x2 array output.

def _python(base: Scenario, source: str, **changes) -> Scenario:
    from dataclasses import replace

    tags = frozenset(base.tags | {"python"})
    return replace(base, name="py_" + base.name, source=source, inputs=None, python=True, tags=tags,
                   description=base.description + " (as a Python function)", **changes)


_PY_HEAD = "from array_api_compat import array_namespace\n"

PY_SCALAR = _python(SCALAR, _PY_HEAD + """
INPUTS = {"x": 1.0}
OUTPUTS = ["f"]


def f(x):
    xp = array_namespace(x)
    return x**3 * xp.sin(x) + xp.exp(-x)
""")

PY_WIDE = _python(WIDE, _PY_HEAD + """
INPUTS = {"x": 0.0, "y": 0.0, "z": 1.0}
OUTPUTS = ["u", "v"]


def f(p):                       # one 1-D array of all inputs
    xp = array_namespace(p)
    x, y, z = p[0], p[1], p[2]
    return [x*y*z + y**2, xp.exp(x)*xp.cos(z) - y/z]
""")

PY_PARAMETERS = _python(PARAMETERS, _PY_HEAD + """
INPUTS = {"x": 1.0, "t": 0.0}
PARAMETERS = {"k": 2.5, "c": 0.3}
OUTPUTS = ["y1", "y2"]


def f(x, t, k, c):
    xp = array_namespace(x)
    decay = xp.exp(-c*t)
    return [k*x*decay, x**2 + k*t**2 + c]
""")

# (first order only below: nested-difference Hessians of per-point Python calls are slow,
# and the expression versions already cover these Hessians)
PY_DOMAIN = _python(DOMAIN, _PY_HEAD + """
INPUTS = {"x": 1.0, "y": 1.0}


def f(x, y):
    xp = array_namespace(x)
    return {"f1": xp.log(x)*y, "f2": x*y + 1}
""", hessian=None)

PY_BATCH = _python(BATCH, _PY_HEAD + """
INPUTS = {"x": 1.5, "y": 0.5}


def f(x, y):
    xp = array_namespace(x)
    return xp.stack([xp.sqrt(x)*y, y**2/(1 + x**2)])
""", hessian=None)

PY_EXACT_ZEROS = _python(EXACT_ZEROS, _PY_HEAD + """
INPUTS = {"v": [0.0, 0.0, 0.0, 0.0]}     # an array-valued input: v[0] ... v[3]


def f(v):
    xp = array_namespace(v)
    a, b, c, d = v[0], v[1], v[2], v[3]
    return [[a*b, c**3], [xp.exp(a) + d, 2.5]]     # a 2x2 output: y[0,0] ... y[1,1]
""", hessian=None)

PYTHON_SCENARIOS: tuple = (PY_SCALAR, PY_WIDE, PY_PARAMETERS, PY_DOMAIN, PY_BATCH, PY_EXACT_ZEROS)

SCENARIOS: tuple = (SCALAR, WIDE, WRT_REORDERED, TALL, EXACT_ZEROS, LARGE, TINY, SMALL_SCALE, OSCILLATORY,
                    PARAMETERS, DOMAIN, NON_ANALYTIC, SPARSE, BATCH, TRANSCENDENTAL, ROSENBROCK,
                    SADDLE) + PYTHON_SCENARIOS


def scenario(name: str) -> Scenario:
    """The scenario called ``name``."""
    for s in SCENARIOS:
        if s.name == name:
            return s
    raise KeyError(f"no scenario {name!r}; scenarios: {', '.join(s.name for s in SCENARIOS)}")
