"""Dual numbers over NumPy arrays: ``Dual(v, d)`` stands for ``v + d ε`` with ``ε² = 0``.

Evaluating a function on ``Dual(x, v)`` gives ``Dual(f(x), f'(x) v)``: the value and the
directional derivative along ``v``, exact up to rounding (forward-mode automatic
differentiation; Griewank & Walther, *Evaluating Derivatives*, 2nd ed., SIAM 2008, ch. 3).

A :class:`Dual` takes part in NumPy's ufunc protocol (``__array_ufunc__``), so code written
with ``np.sin``, ``np.hypot``, ``scipy.special.erf``, ``+``, ``*``, ``**`` runs on it
unchanged; each ufunc has one derivative rule in :data:`_RULES`.  A ufunc without a rule
raises ``TypeError`` rather than returning a wrong number.

Zero tangents are *strong* zeros: ``f'(x) * 0`` is 0 even where ``f'(x)`` is infinite or
NaN.  Without that, ``sqrt(x) * y`` differentiated along ``y`` at ``x = 0`` would be NaN
(``inf * 0``) although ``∂/∂y = sqrt(0) = 0`` is perfectly defined.

>>> import numpy as np
>>> x = Dual(np.array([0.5]), np.array([1.0]))
>>> y = np.sin(x) * x + 1.0
>>> float(y.d[0]) == float(np.cos(0.5) * 0.5 + np.sin(0.5))
True
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["Dual", "supported_functions", "namespace"]


class Dual:
    """``v + d ε``: values ``v`` and tangents ``d``, arrays of one shape."""

    __slots__ = ("v", "d")

    def __init__(self, v, d):
        self.v = v
        self.d = d

    def __repr__(self) -> str:
        return f"Dual({self.v!r}, {self.d!r})"

    def __bool__(self):
        raise TypeError("a Dual has no truth value; compare its values (.v) instead")

    # -- the ufunc protocol: every operation goes through _RULES -----------------------

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs:
            return NotImplemented
        vals = [x.v if isinstance(x, Dual) else x for x in inputs]
        if ufunc in _VALUE_ONLY:          # comparisons and logic: conditions, not numbers
            return ufunc(*vals)
        rule = _RULES.get(ufunc)
        if rule is None:
            raise TypeError(f"no derivative rule for numpy ufunc {ufunc.__name__!r}")
        y = ufunc(*vals)
        partials = rule(y, *vals)
        d = 0.0
        for x, p in zip(inputs, partials):
            if isinstance(x, Dual):
                d = d + _times(p, x.d)
        return Dual(y, d)

    # Python operators defer to the ufuncs (and so to the rules above).
    def __add__(self, o): return np.add(self, o)
    def __radd__(self, o): return np.add(o, self)
    def __sub__(self, o): return np.subtract(self, o)
    def __rsub__(self, o): return np.subtract(o, self)
    def __mul__(self, o): return np.multiply(self, o)
    def __rmul__(self, o): return np.multiply(o, self)
    def __truediv__(self, o): return np.true_divide(self, o)
    def __rtruediv__(self, o): return np.true_divide(o, self)
    def __pow__(self, o): return np.power(self, o)
    def __rpow__(self, o): return np.power(o, self)
    def __neg__(self): return np.negative(self)
    def __pos__(self): return self
    def __lt__(self, o): return np.less(self, o)
    def __le__(self, o): return np.less_equal(self, o)
    def __gt__(self, o): return np.greater(self, o)
    def __ge__(self, o): return np.greater_equal(self, o)
    def __eq__(self, o): return np.equal(self, o)
    def __ne__(self, o): return np.not_equal(self, o)
    __hash__ = None


def _times(p, d):
    """``p * d`` with a strong zero: 0 wherever ``d == 0``, whatever ``p`` is."""
    return np.where(d == 0, 0.0, p * d)


def _value(x):
    return x.v if isinstance(x, Dual) else x


def _tangent(x):
    return x.d if isinstance(x, Dual) else 0.0


def where(c, a, b):
    """``where(cond, a, b)``: the value and the tangent of the branch taken."""
    c = _value(c)
    return Dual(np.where(c, _value(a), _value(b)), np.where(c, _tangent(a), _tangent(b)))


_VALUE_ONLY = frozenset({np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal,
                         np.logical_and, np.logical_or, np.logical_not})

_LN10, _LN2 = math.log(10.0), math.log(2.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _zero(y, *xs):
    return tuple(np.zeros_like(np.asarray(y, dtype=float)) for _ in xs)


# Each rule maps (y, *x) -> the partial derivatives of y = f(*x) with respect to each x.
# Formulas are chosen to keep full relative accuracy where the textbook form cancels:
# sech² as 1/cosh² (1 - tanh² is 0 for x > 19), exp(x) for expm1 (y + 1 loses e^-40),
# (1 - x)(1 + x) instead of 1 - x².
_NUMPY_RULES = {
    np.add: lambda y, a, b: (1.0, 1.0),
    np.subtract: lambda y, a, b: (1.0, -1.0),
    np.multiply: lambda y, a, b: (b, a),
    np.true_divide: lambda y, a, b: (1.0 / b, -y / b),
    # a**b: b a^(b-1) and a^b log(a); the log term only counts where b's tangent is non-zero
    np.power: lambda y, a, b: (b * np.power(a, b - 1.0), y * np.log(a)),
    np.negative: lambda y, a: (-1.0,),
    np.positive: lambda y, a: (1.0,),
    np.sin: lambda y, a: (np.cos(a),),
    np.cos: lambda y, a: (-np.sin(a),),
    np.tan: lambda y, a: (1.0 / np.cos(a) ** 2,),
    np.arcsin: lambda y, a: (1.0 / np.sqrt((1.0 - a) * (1.0 + a)),),
    np.arccos: lambda y, a: (-1.0 / np.sqrt((1.0 - a) * (1.0 + a)),),
    np.arctan: lambda y, a: (1.0 / (1.0 + a * a),),
    np.arctan2: lambda y, a, b: (b / (a * a + b * b), -a / (a * a + b * b)),
    np.sinh: lambda y, a: (np.cosh(a),),
    np.cosh: lambda y, a: (np.sinh(a),),
    np.tanh: lambda y, a: (1.0 / np.cosh(a) ** 2,),
    np.arcsinh: lambda y, a: (1.0 / np.hypot(a, 1.0),),
    np.arccosh: lambda y, a: (1.0 / np.sqrt((a - 1.0) * (a + 1.0)),),
    np.arctanh: lambda y, a: (1.0 / ((1.0 - a) * (1.0 + a)),),
    np.exp: lambda y, a: (y,),
    np.expm1: lambda y, a: (np.exp(a),),
    np.log: lambda y, a: (1.0 / a,),
    np.log1p: lambda y, a: (1.0 / (1.0 + a),),
    np.log10: lambda y, a: (1.0 / (a * _LN10),),
    np.log2: lambda y, a: (1.0 / (a * _LN2),),
    np.sqrt: lambda y, a: (0.5 / y,),
    np.cbrt: lambda y, a: (1.0 / (3.0 * y * y),),
    np.hypot: lambda y, a, b: (a / y, b / y),
    np.absolute: lambda y, a: (np.sign(a),),
    # the branch taken (the first argument on a tie), like where()
    np.minimum: lambda y, a, b: (np.where(a <= b, 1.0, 0.0), np.where(a <= b, 0.0, 1.0)),
    np.maximum: lambda y, a, b: (np.where(a >= b, 1.0, 0.0), np.where(a >= b, 0.0, 1.0)),
    # piecewise constant: derivative 0 wherever it exists
    np.sign: _zero, np.floor: _zero, np.ceil: _zero, np.heaviside: _zero,
}

#: NumPy's rules, plus SciPy's special functions once a model needs them.
_RULES: dict = dict(_NUMPY_RULES)


def _add_special_rules() -> None:
    import scipy.special as sp

    _RULES.update({
        sp.erf: lambda y, a: (_TWO_OVER_SQRT_PI * np.exp(-a * a),),
        sp.erfc: lambda y, a: (-_TWO_OVER_SQRT_PI * np.exp(-a * a),),
        sp.gamma: lambda y, a: (y * sp.psi(a),),
        sp.gammaln: lambda y, a: (sp.psi(a),),
    })


_SPECIAL = frozenset({"erf", "erfc", "gamma", "gammaln", "polygamma"})


def supported_functions() -> frozenset:
    """Names generated code may call that dual numbers can differentiate."""
    names = {f.__name__ for f in _NUMPY_RULES} | _SPECIAL | {"where", "pi", "e"}
    names |= {"true_divide", "divide", "absolute", "logical_and", "logical_or", "logical_not"}
    return frozenset(names)


def _polygamma(n, x):
    import scipy.special as sp

    return Dual(sp.polygamma(n, x.v), _times(sp.polygamma(n + 1, x.v), x.d)) if isinstance(x, Dual) \
        else sp.polygamma(n, x)


def namespace(functions) -> dict:
    """The globals generated code needs, for the names in ``functions``.

    Every function is the NumPy (or SciPy) ufunc itself, so real arrays go through it
    unchanged and :class:`Dual` arrays through :meth:`Dual.__array_ufunc__`.
    """
    ns: dict = {"__builtins__": {}}
    for f in functions:
        if f in ("pi", "e"):
            ns["_" + f] = getattr(math, f)
        elif f == "where":
            ns[f] = where
        elif f == "polygamma":
            ns[f] = _polygamma
        elif f in _SPECIAL:
            import scipy.special as sp

            _add_special_rules()
            ns[f] = getattr(sp, f)
        else:
            ns[f] = getattr(np, f)
    return ns
