"""Conversion of expression nodes to SymPy (the exact reference and the printer).

Objects are built with SymPy constructors node by node — never by parsing text — so
nothing a user wrote is ever handed to ``sympify``.
"""
from __future__ import annotations

from fractions import Fraction

from . import _expr

_SIMPLIFY_MAX_OPS = 60   # sympy.simplify is exponential-ish: only small entries get it
_SIMPLIFY_UNTIMED_OPS = 12   # ... and without a timer, only tiny ones


def to_sympy(roots, *, params: dict | None = None):
    """SymPy expressions for ``roots`` (a node or list); ``params`` substitutes numbers."""
    import sympy as sp

    single = isinstance(roots, _expr.Node)
    roots = [roots] if single else list(roots)
    fn = {
        "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "asin": sp.asin, "acos": sp.acos, "atan": sp.atan,
        "atan2": sp.atan2, "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "asinh": sp.asinh,
        "acosh": sp.acosh, "atanh": sp.atanh, "exp": sp.exp, "log": sp.log,
        "expm1": lambda x: sp.exp(x) - 1, "log1p": lambda x: sp.log(1 + x),
        "log10": lambda x: sp.log(x, 10), "log2": lambda x: sp.log(x, 2), "cbrt": lambda x: sp.real_root(x, 3),
        "abs": sp.Abs, "sign": sp.sign, "min": sp.Min, "max": sp.Max,
        "hypot": lambda a, b: sp.sqrt(a ** 2 + b ** 2), "erf": sp.erf, "erfc": sp.erfc,
        "gamma": sp.gamma,
        "lgamma": lambda x: sp.log(sp.Abs(sp.gamma(x))),  # log|Γ(x)|, like scipy's gammaln
        "floor": sp.floor, "ceil": sp.ceiling,
        "heaviside": lambda x, h0: sp.Heaviside(x, h0), "polygamma": sp.polygamma,
        "where": lambda c, a, b: sp.Piecewise((a, c), (b, True)),
    }
    cmp = {"lt": sp.Lt, "le": sp.Le, "gt": sp.Gt, "ge": sp.Ge, "eq": sp.Eq, "ne": sp.Ne}
    out: dict = {}
    params = params or {}
    for n in _expr.topo_order(roots):
        a = [out[c] for c in n.args]
        op = n.op
        if op == "const":
            v = n.val
            out[n] = (sp.Rational(v.numerator, v.denominator) if isinstance(v, Fraction)
                      else sp.Integer(v) if isinstance(v, int) else sp.Float(v, 17))
        elif op == "named":
            out[n] = sp.pi if n.val == "pi" else sp.E
        elif op == "sym":
            out[n] = sp.Float(params[n.val], 17) if n.val in params else sp.Symbol(n.val, real=True)
        elif op == "add":
            out[n] = sp.Add(*a)
        elif op == "mul":
            out[n] = sp.Mul(*a)
        elif op == "pow":
            out[n] = sp.Pow(*a)
        elif op == "call":
            out[n] = fn[n.val](*a)
        elif op == "cmp":
            out[n] = cmp[n.val](*a)
        elif op == "logic":
            out[n] = (sp.And(*a) if n.val == "and" else sp.Or(*a) if n.val == "or" else sp.Not(*a))
    res = [out[r] for r in roots]
    return res[0] if single else res


class _OutOfTime(BaseException):
    """Raised by the alarm inside a simplification that ran out of time (not an Exception,
    so SymPy's own ``except Exception`` clauses cannot swallow it)."""


def _alarm_usable() -> bool:
    import signal
    import threading

    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def simplified(e, *, seconds: float = 0.5):
    """A sensible simplification: ``simplify`` for small entries, within a time limit.

    ``sympy.simplify`` has no time bound and can run for minutes on a 40-operation entry
    with hyperbolic functions and many symbols; it gets ``seconds`` (an interval timer, in
    the main thread) and the entry is returned as derived when it runs out.  Where no timer
    can be set (other threads, Windows) only very small entries are simplified.
    """
    import sympy as sp

    if e.is_Number or e.is_Symbol:
        return e
    ops = sp.count_ops(e)
    if ops > _SIMPLIFY_MAX_OPS:
        return e
    if not _alarm_usable():
        if ops > _SIMPLIFY_UNTIMED_OPS:
            return e
        s = sp.simplify(e)
        return s if sp.count_ops(s) <= ops else e
    import signal

    def _raise(signum, frame):
        raise _OutOfTime()

    old = signal.signal(signal.SIGALRM, _raise)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            s = sp.simplify(e)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _OutOfTime:
        return e
    finally:
        signal.signal(signal.SIGALRM, old)
    return s if sp.count_ops(s) <= ops else e


def simplify_all(exprs, *, seconds: float = 0.5, total: float = 10.0) -> list:
    """:func:`simplified` of each expression (equal ones once), within ``total`` seconds overall;
    entries past the budget are returned as derived."""
    import time

    deadline = time.monotonic() + total
    memo: dict = {}
    out = []
    for e in exprs:
        if e not in memo:
            left = deadline - time.monotonic()
            memo[e] = simplified(e, seconds=min(seconds, left)) if left > 0.01 else e
        out.append(memo[e])
    return out


def jacli_str(e) -> str:
    """SymPy expression as a string in jacli's model grammar (abs, min, max, where, lgamma...)."""
    from sympy.printing.str import StrPrinter

    class _Printer(StrPrinter):
        def _print_Abs(self, expr):
            return f"abs({self._print(expr.args[0])})"

        def _print_Min(self, expr):
            return f"min({', '.join(self._print(a) for a in expr.args)})"

        def _print_Max(self, expr):
            return f"max({', '.join(self._print(a) for a in expr.args)})"

        def _print_loggamma(self, expr):
            return f"lgamma({self._print(expr.args[0])})"

        def _print_ceiling(self, expr):
            return f"ceil({self._print(expr.args[0])})"

        def _print_Heaviside(self, expr):
            return f"heaviside({', '.join(self._print(a) for a in expr.args)})"

        def _print_Exp1(self, expr):
            return "e"

        def _print_Piecewise(self, expr):
            pieces = list(expr.args)
            text = self._print(pieces[-1][0])
            for val, cond in reversed(pieces[:-1]):
                text = f"where({self._print(cond)}, {self._print(val)}, {text})"
            return text

        def _print_And(self, expr):
            return "(" + " and ".join(self._print(a) for a in expr.args) + ")"

        def _print_Or(self, expr):
            return "(" + " or ".join(self._print(a) for a in expr.args) + ")"

        def _print_Not(self, expr):
            return f"(not {self._print(expr.args[0])})"

    return _Printer({"full_prec": False}).doprint(e)
