"""Generate vectorised NumPy code from expression DAGs.

The generated source never contains a user's name or text: symbols are read by position
(``_a[3]``), temporaries are ``_t0, _t1, ...`` and functions come from a namespace jacli
builds (:func:`namespace`).  So a model can neither inject code nor collide with the
temporaries (the classic ``x0`` trap of CSE code generators).

Every node used more than once becomes one temporary, so common subexpressions are
computed once; a node used once is inlined into its parent (up to a size limit that keeps
lines short for Python's own parser).  The cost is linear in the DAG size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from . import _expr as E

# Functions whose NumPy name differs from the model-file name.
_NP_NAMES = {
    "asin": "arcsin", "acos": "arccos", "atan": "arctan", "atan2": "arctan2", "asinh": "arcsinh",
    "acosh": "arccosh", "atanh": "arctanh", "abs": "absolute", "min": "minimum", "max": "maximum",
    "ceil": "ceil", "lgamma": "gammaln",
}
_SCIPY_SPECIAL = {"erf", "erfc", "gamma", "gammaln", "polygamma"}
_INLINE_LIMIT = 120   # characters of an inlined subexpression before it gets its own temporary
_MAX_TERMS = 100      # terms of one emitted sum or product (CPython's compiler recursion limit)


@dataclass(frozen=True)
class Generated:
    """Source of ``def NAME(_a): ... return (t0, t1, ...)`` and the namespace names it uses."""

    source: str
    name: str
    functions: frozenset
    n_targets: int


def _num(v) -> str:
    if isinstance(v, Fraction):
        return repr(v.numerator / v.denominator)
    if isinstance(v, int):
        if abs(v) < 2 ** 53:
            return f"{v}.0" if v >= 0 else f"({v}.0)"
        return repr(float(v))
    r = repr(v)
    return r if v >= 0 else f"({r})"


def generate(targets, symbols, *, name: str = "_f") -> Generated:
    """Code for a function ``name(_a)`` returning the values of ``targets``.

    Parameters
    ----------
    targets : sequence of Node
    symbols : sequence of str
        Symbol names in argument order: ``_a[i]`` is the value of ``symbols[i]`` (an array
        or a scalar; NumPy broadcasting does the rest).
    """
    targets = list(targets)
    pos = {s: i for i, s in enumerate(symbols)}
    order = E.topo_order(targets)
    uses: dict = {}
    for node in order:
        for a in node.args:
            uses[a.idx] = uses.get(a.idx, 0) + 1
    target_ids = {t.idx for t in targets}
    funcs: set = set()
    text: dict = {}          # node idx -> (code, precedence)
    lines: list = []
    ntemp = 0
    used_syms: dict = {}

    def ref(node):
        return text[node.idx]

    def wrap(node, level):
        s, p = ref(node)
        return s if p > level else f"({s})"

    for node in order:
        op = node.op
        if op == "const":
            s = _num(node.val)
            text[node.idx] = (s, 100)
            continue
        if op == "named":
            funcs.add(node.val)
            text[node.idx] = (f"_{node.val}", 100)
            continue
        if op == "sym":
            if node.val not in pos:
                raise E.ExprError(f"symbol '{node.val}' has no value")
            i = pos[node.val]
            if i not in used_syms:
                used_syms[i] = f"_s{i}"
            text[node.idx] = (used_syms[i], 100)
            continue
        if op in ("add", "mul") and len(node.args) > _MAX_TERMS:
            # CPython's compiler recurses once per operator of a chain: a sum of ~3000 terms
            # in one expression raises RecursionError.  Emit partial sums/products instead.
            part_nodes = [node.args[i:i + _MAX_TERMS] for i in range(0, len(node.args), _MAX_TERMS)]
            names = []
            for chunk in part_nodes:
                sub = E._make(op, tuple(chunk)) if len(chunk) > 1 else chunk[0]
                if sub.idx not in text:
                    c, _ = _node_code(sub, wrap, funcs)
                else:
                    c = text[sub.idx][0]
                t = f"_t{ntemp}"
                ntemp += 1
                lines.append(f"{t} = {c}")
                names.append(t)
            t = f"_t{ntemp}"
            ntemp += 1
            lines.append(f"{t} = {(' + ' if op == 'add' else '*').join(names)}")
            text[node.idx] = (t, 100)
            continue
        code, prec = _node_code(node, wrap, funcs)
        multi = uses.get(node.idx, 0) > 1
        if multi or node.idx in target_ids or len(code) > _INLINE_LIMIT:
            t = f"_t{ntemp}"
            ntemp += 1
            lines.append(f"{t} = {code}")
            text[node.idx] = (t, 100)
        else:
            text[node.idx] = (code, prec)

    head = [f"_s{i} = _a[{i}]" for i in sorted(used_syms)]
    rets = [text[t.idx][0] for t in targets]
    body = head + lines
    src = _assemble(name, body, rets)
    return Generated(source=src, name=name, functions=frozenset(funcs), n_targets=len(targets))


def _assemble(name, body, rets) -> str:
    out = [f"def {name}(_a):"] + ["    " + ln for ln in body]
    if len(rets) == 1:
        out.append(f"    return ({rets[0]},)")
    else:
        out.append("    return (")
        out += [f"        {r}," for r in rets]
        out.append("    )")
    return "\n".join(out) + "\n"


def _node_code(node, wrap, funcs):
    op = node.op
    if op == "add":
        parts = []
        for i, a in enumerate(node.args):
            if i > 0 and a.op == "const" and a.val < 0:
                parts.append(f" - {_num(-a.val)}")
            elif i > 0 and a.op == "mul" and a.args[0].op == "const" and a.args[0].val < 0:
                parts.append(f" - {_mul_code(a.args[1:], wrap, coef=-a.args[0].val)}")
            else:
                parts.append((" + " if i else "") + wrap(a, 10))
        return "".join(parts), 10
    if op == "mul":
        return _mul_code(node.args, wrap), 20
    if op == "pow":
        return _pow_code(node, wrap, funcs)
    if op == "call":
        fname = node.val
        if fname == "polygamma":
            funcs.add("polygamma")
            n = node.args[0].val
            return f"polygamma({int(n)}, {wrap(node.args[1], 0)})", 100
        np_name = _NP_NAMES.get(fname, fname)
        funcs.add(np_name)
        return f"{np_name}({', '.join(wrap(a, 0) for a in node.args)})", 100
    if op == "cmp":
        sym = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}[node.val]
        return f"{wrap(node.args[0], 5)} {sym} {wrap(node.args[1], 5)}", 4
    if op == "logic":
        funcs.add(f"logical_{node.val}")
        return f"logical_{node.val}({', '.join(wrap(a, 0) for a in node.args)})", 100
    raise AssertionError(op)


def _mul_code(args, wrap, coef=1) -> str:
    """``a*b/c`` with a leading ``-`` for a -1 factor; ``coef`` multiplies in front."""
    sign = ""
    if args[0].op == "const" and args[0].val == -1:
        sign, args = "-", args[1:]
    num, den = ([f"{_num(coef)}"] if coef != 1 else []), []
    for a in args:
        if a.op == "pow" and a.args[1].op == "const" and a.args[1].val == -1:
            den.append(a.args[0])
        else:
            num.append(a)
    s = "*".join(a if isinstance(a, str) else wrap(a, 20) for a in num) if num else "1.0"
    for d in den:
        s += "/" + wrap(d, 30)
    return sign + s


def _pow_code(node, wrap, funcs):
    b, e = node.args
    if e.op == "const":
        v = e.val
        if v == Fraction(1, 2):
            funcs.add("sqrt")
            return f"sqrt({wrap(b, 0)})", 100
        if v == Fraction(-1, 2):
            funcs.add("sqrt")
            return f"1.0/sqrt({wrap(b, 0)})", 20
        if v == -1:
            return f"1.0/{wrap(b, 30)}", 20
        if isinstance(v, int) and 2 <= v <= 3:
            bb = wrap(b, 30)
            return "*".join([bb] * v), 20
        if isinstance(v, int) and -3 <= v <= -2:
            bb = wrap(b, 30)
            return "1.0/(" + "*".join([bb] * (-v)) + ")", 20
        return f"{wrap(b, 30)}**{_num(v)}", 30
    return f"{wrap(b, 30)}**{wrap(e, 30)}", 30


# ----------------------------------------------------------------------------- namespaces

def namespace(functions, *, complex_mode: bool = False) -> dict:
    """The names generated code may use, real or complex-step flavoured.

    SciPy is imported only when a special function is used.
    """
    import numpy as np

    ns: dict = {"__builtins__": {}}
    need_special = any(f in _SCIPY_SPECIAL for f in functions)
    sp = None
    if need_special:
        import scipy.special as sp
    for f in functions:
        if f == "pi":
            ns["_pi"] = math.pi
        elif f == "e":
            ns["_e"] = math.e
        elif f in _SCIPY_SPECIAL:
            ns[f] = getattr(sp, f)
        else:
            ns[f] = getattr(np, f)
    if complex_mode:
        ns.update({k: v for k, v in _complex_overrides(functions, sp).items() if k in functions})
    return ns


def _complex_overrides(functions, sp) -> dict:
    """First-order complex extensions ``f(a + ib) = f(a) + i b f'(a)``.

    Complex-step differentiation only needs the first-order term (the step is ~1e-100, so
    the second-order terms vanish in double precision).  These give exactly that for
    functions NumPy/SciPy do not extend to complex arguments, or extend with a branch cut
    that would add a spurious imaginary part on the real axis (lgamma of a negative number).
    """
    import numpy as np

    def lift(f, df):
        def g(z):
            z = np.asarray(z)
            if not np.iscomplexobj(z):
                return f(z)
            a, b = z.real, z.imag
            return f(a) + 1j * b * df(a)
        return g

    out = {
        "cbrt": lift(np.cbrt, lambda a: 1.0 / (3.0 * np.cbrt(a) ** 2)),
    }
    if sp is not None:
        out["gammaln"] = lift(sp.gammaln, lambda a: sp.polygamma(0, a))
        out["erf"] = lift(sp.erf, lambda a: 2.0 / math.sqrt(math.pi) * np.exp(-a * a))
        out["erfc"] = lift(sp.erfc, lambda a: -2.0 / math.sqrt(math.pi) * np.exp(-a * a))
        out["gamma"] = lift(sp.gamma, lambda a: sp.gamma(a) * sp.polygamma(0, a))

        def polygamma(n, z):
            z = np.asarray(z)
            if not np.iscomplexobj(z):
                return sp.polygamma(n, z)
            return sp.polygamma(n, z.real) + 1j * z.imag * sp.polygamma(n + 1, z.real)
        out["polygamma"] = polygamma

    def arctan2(y, x):
        y, x = np.asarray(y), np.asarray(x)
        if not (np.iscomplexobj(y) or np.iscomplexobj(x)):
            return np.arctan2(y, x)
        yr, yi, xr, xi = y.real, y.imag, x.real, x.imag
        return np.arctan2(yr, xr) + 1j * (xr * yi - yr * xi) / (xr * xr + yr * yr)

    def hypot(a, b):
        a, b = np.asarray(a), np.asarray(b)
        if not (np.iscomplexobj(a) or np.iscomplexobj(b)):
            return np.hypot(a, b)
        r = np.hypot(a.real, b.real)
        return r + 1j * (a.real * a.imag + b.real * b.imag) / r

    out["arctan2"] = arctan2
    out["hypot"] = hypot
    return out


def compile_function(gen: Generated, *, complex_mode: bool = False):
    """Compile generated source into a callable (the source is jacli's, never the user's).

    The real-mode callable takes ``_a``, a sequence of arrays (one per symbol), and
    returns a tuple of arrays or scalars.  It is an :class:`Evaluator`: called with rows
    of one point each, it first runs the same code on Python floats with :mod:`math`
    functions (20-50x faster than NumPy on 1-element arrays) and falls back to NumPy when
    that raises or gives a non-finite or complex number, so domain errors keep NumPy's
    NaN/inf semantics and their per-point diagnosis.
    """
    code = compile(gen.source, "<jacli-generated>", "exec")
    ns = namespace(gen.functions, complex_mode=complex_mode)
    exec(code, ns)  # noqa: S102 - jacli-generated code over positional arguments only
    if complex_mode:
        return ns[gen.name]
    sns = scalar_namespace(gen.functions)
    exec(code, sns)  # noqa: S102 - the same jacli-generated code, scalar functions
    return Evaluator(ns[gen.name], sns[gen.name])


class Evaluator:
    """Generated code with a scalar fast path for single points (see :func:`compile_function`)."""

    __slots__ = ("array", "scalar")

    def __init__(self, array, scalar):
        self.array, self.scalar = array, scalar

    def __call__(self, _a):
        if len(_a) and getattr(_a[0], "shape", None) == (1,):
            try:
                vals = self.scalar([float(c[0]) for c in _a])
            except (ArithmeticError, ValueError, TypeError):
                vals = None
            if vals is not None and all(isinstance(v, _FINITE_TYPES) and math.isfinite(v) for v in vals):
                return vals
        return self.array(_a)


def scalar_namespace(functions) -> dict:
    """Names for generated code running on Python floats: :mod:`math`, raising on domain errors."""
    ns: dict = {"__builtins__": {}}
    table = {
        "sin": math.sin, "cos": math.cos, "tan": math.tan, "arcsin": math.asin, "arccos": math.acos,
        "arctan": math.atan, "arctan2": math.atan2, "sinh": math.sinh, "cosh": math.cosh,
        "tanh": math.tanh, "arcsinh": math.asinh, "arccosh": math.acosh, "arctanh": math.atanh,
        "exp": math.exp, "expm1": math.expm1, "log": math.log, "log1p": math.log1p,
        "log10": math.log10, "log2": math.log2, "sqrt": math.sqrt, "absolute": math.fabs,
        "sign": lambda x: float((x > 0) - (x < 0)), "minimum": min, "maximum": max,
        "floor": lambda x: float(math.floor(x)), "ceil": lambda x: float(math.ceil(x)),
        "hypot": math.hypot, "erf": math.erf, "erfc": math.erfc, "gamma": math.gamma,
        "gammaln": math.lgamma,
        "heaviside": lambda x, h0: 0.0 if x < 0 else (1.0 if x > 0 else float(h0)),
        "where": lambda c, a, b: a if c else b,
        "logical_and": lambda a, b: bool(a) and bool(b), "logical_or": lambda a, b: bool(a) or bool(b),
        "logical_not": lambda a: not a, "pi": math.pi, "e": math.e,
    }
    for f in functions:
        if f in ("pi", "e"):
            ns["_" + f] = table[f]
        elif f in table:
            ns[f] = table[f]
        else:  # cbrt, polygamma: NumPy/SciPy on a float returns a NumPy float (a float subclass)
            ns.update({k: v for k, v in namespace([f]).items() if k != "__builtins__"})
    return ns


_FINITE_TYPES = (float, int)
