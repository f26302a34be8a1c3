"""jacli's expression DAG: hash-consed nodes, light simplification, exact differentiation.

Why not SymPy or SymEngine objects here: measured on the 1-D Bratu residual at n = 3000,
SymEngine's ``cse`` alone takes 1.2 s and names its temporaries ``x0, x1, ...`` (colliding
with user inputs of the same names), and neither SymPy nor SymEngine differentiates
``abs``, ``min``, ``max`` or ``floor`` into something evaluable.  A DAG of interned nodes
gives common-subexpression elimination for free (equal subtrees *are* the same object),
differentiation that only visits nodes depending on the variable, and a code generator
that is linear in the DAG size.  SymPy stays the exact reference and the printer
(:func:`jacli.model._sympy.to_sympy`).

Nodes are immutable and interned: building the same expression twice returns the same
object, so ``a is b`` is structural equality.  Constants are exact (``int`` or
:class:`fractions.Fraction`) when written as integers and ``float`` when written with a
decimal point or exponent.
"""
from __future__ import annotations

import math
import weakref
from fractions import Fraction
from typing import Callable, Iterable

__all__ = [
    "Node", "ExprError", "const", "symbol", "named_const", "add", "sub", "mul", "div", "neg", "pow_",
    "call", "compare", "logical", "FUNCTIONS", "NON_ANALYTIC", "diff", "free_symbols", "count_nodes",
    "substitute", "topo_order", "ZERO", "ONE",
]

# Bounds that keep hostile input from hanging the process.
MAX_INT_BITS = 4096          # largest exact integer a constant may fold to
MAX_FOLDED_EXPONENT = 10_000  # |n| of an exact constant power that is folded
# Products with more factors than this are not flattened into their parents: the chain
# rule through a deep composition (sin(sin(...))) builds products of growing length, and
# flattening each would make differentiation quadratic in the depth.  Sums are always
# flattened so that a sum has one canonical form however it was grouped.
FLATTEN_LIMIT = 64


class ExprError(ValueError):
    """An expression cannot be built (bad arity, constant too large, ...).

    The parser turns it into a :class:`jacli.errors.ModelError` with the position.
    """


class Node:
    """An interned expression node.

    Attributes
    ----------
    op : str
        ``"const"``, ``"named"`` (pi, e), ``"sym"``, ``"add"``, ``"mul"``, ``"pow"``,
        ``"call"`` (function ``val`` applied to ``args``), ``"cmp"`` (comparison ``val``),
        ``"logic"`` (``and``/``or``/``not``).
    args : tuple of Node
    val : object
        The number for ``const``, the name for ``sym``/``named``, the function name for
        ``call``, the operator for ``cmp``/``logic``; None otherwise.
    idx : int
        Creation serial number; gives a deterministic canonical order of arguments.
    """

    __slots__ = ("op", "args", "val", "idx", "_deps", "__weakref__")

    def __repr__(self) -> str:
        return f"Node({to_str(self)})"

    def __str__(self) -> str:
        return to_str(self)

    @property
    def is_const(self) -> bool:
        return self.op == "const"

    @property
    def deps(self) -> frozenset:
        """Names of the symbols this node depends on."""
        d = self._deps
        if d is None:
            d = _compute_deps(self)
        return d


_TABLE: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()
_SERIAL = [0]


def _make(op: str, args: tuple, val=None) -> Node:
    if op == "const":
        key = (op, type(val).__name__, val, math.copysign(1.0, val) if isinstance(val, float) else 0)
    else:
        key = (op, tuple(a.idx for a in args), val)
    node = _TABLE.get(key)
    if node is None:
        node = Node.__new__(Node)
        node.op, node.args, node.val, node._deps = op, args, val, None
        _SERIAL[0] += 1
        node.idx = _SERIAL[0]
        if op in ("const", "named"):
            node._deps = frozenset()
        elif op == "sym":
            node._deps = frozenset((val,))
        _TABLE[key] = node
    return node


def _compute_deps(root: Node) -> frozenset:
    # Iterative post-order so deep chains do not hit the recursion limit.
    stack = [root]
    while stack:
        node = stack[-1]
        pending = [a for a in node.args if a._deps is None]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        if node._deps is None:
            ds = [a._deps for a in node.args]
            if not ds:
                node._deps = frozenset()
            elif len(ds) == 1:
                node._deps = ds[0]
            else:
                big = max(ds, key=len)
                if all(d <= big for d in ds):
                    node._deps = big
                else:
                    node._deps = frozenset().union(*ds)
    return root._deps


# ----------------------------------------------------------------------------- numbers

def _norm_number(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, Fraction):
        if v.numerator.bit_length() + v.denominator.bit_length() > MAX_INT_BITS:
            raise ExprError(f"exact constant too large (more than {MAX_INT_BITS} bits)")
        return v.numerator if v.denominator == 1 else v
    if isinstance(v, int):
        if v.bit_length() > MAX_INT_BITS:
            raise ExprError(f"integer constant too large (more than {MAX_INT_BITS} bits)")
        return v
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            raise ExprError("constant is not finite")
        return v
    raise ExprError(f"not a number: {v!r}")


def const(v) -> Node:
    """A numeric constant (int, Fraction or finite float)."""
    return _make("const", (), _norm_number(v))


ZERO = const(0)
ONE = const(1)
_MINUS_ONE = const(-1)
_HALF = const(Fraction(1, 2))


def named_const(name: str) -> Node:
    """``pi`` or ``e``: kept symbolic so SymPy output stays exact."""
    if name not in ("pi", "e"):
        raise ExprError(f"unknown constant {name!r}")
    return _make("named", (), name)


def symbol(name: str) -> Node:
    """A symbol (input, parameter) by name."""
    return _make("sym", (), name)


def _num(n: Node):
    return n.val if n.op == "const" else None


def _is_zero(n: Node) -> bool:
    return n.op == "const" and n.val == 0


def _check_exact(r):
    if isinstance(r, int) and r.bit_length() > MAX_INT_BITS:
        raise ExprError(f"integer constant too large (more than {MAX_INT_BITS} bits)")
    if isinstance(r, Fraction) and r.numerator.bit_length() + r.denominator.bit_length() > MAX_INT_BITS:
        raise ExprError(f"exact constant too large (more than {MAX_INT_BITS} bits)")
    return r


def _add_numbers(a, b):
    return _check_exact(a + b)


def _mul_numbers(a, b):
    r = _check_exact(a * b)
    if isinstance(r, float) and not math.isfinite(r):
        raise ExprError("constant overflows a double")
    return r


def _pow_numbers(b, e):
    """Fold b**e exactly when cheap and real; return None to keep the power symbolic."""
    if isinstance(e, int) and not isinstance(b, float):
        if abs(e) > MAX_FOLDED_EXPONENT:
            if b in (0, 1, -1):
                pass
            else:
                raise ExprError(f"exponent {e} too large to fold (limit {MAX_FOLDED_EXPONENT})")
        if b == 0 and e < 0:
            return None  # 1/0: leave for evaluation, which reports a domain error
        if b not in (0, 1, -1):
            bits = abs(Fraction(b).numerator).bit_length() + abs(Fraction(b).denominator).bit_length()
            if bits * abs(e) > 4 * MAX_INT_BITS:
                raise ExprError(f"constant power too large (more than {MAX_INT_BITS} bits)")
        return Fraction(b) ** e if e < 0 else b ** e
    if isinstance(b, float) or isinstance(e, float):
        if b == 0 and e < 0:
            return None
        try:
            r = float(b) ** float(e)
        except OverflowError:
            raise ExprError("constant power overflows a double") from None
        except ZeroDivisionError:
            return None
        if isinstance(r, complex) or not math.isfinite(r):
            return None
        return r
    return None  # exact base with fractional exponent: keep symbolic (sqrt(2))


# ----------------------------------------------------------------------------- add / mul

def _coef_rest(n: Node):
    """Split ``c*rest`` into (c, rest); a node without a numeric factor has c = 1."""
    if n.op == "mul" and n.args[0].op == "const":
        rest = n.args[1:]
        return n.args[0].val, (rest[0] if len(rest) == 1 else _make("mul", rest))
    return 1, n


def add(*args: Node) -> Node:
    """Sum with constants folded and like terms collected (``x + x -> 2*x``)."""
    c = 0
    terms: dict = {}
    stack = list(args)
    flat = []
    while stack:
        a = stack.pop()
        if a.op == "add":
            stack.extend(a.args)
        else:
            flat.append(a)
    for a in flat:
        if a.op == "const":
            c = _add_numbers(c, a.val)
        else:
            k, rest = _coef_rest(a)
            if rest in terms:
                terms[rest] = _add_numbers(terms[rest], k)
            else:
                terms[rest] = k
    items = []
    for rest, k in terms.items():
        if k == 0 and not isinstance(k, float):
            continue
        if k == 0:
            continue
        items.append(_scale(k, rest))
    if not items:
        return const(c)
    items.sort(key=lambda n: n.idx)
    if c != 0:
        items.insert(0, const(c))
    if len(items) == 1:
        return items[0]
    return _make("add", tuple(items))


def _scale(k, rest: Node) -> Node:
    if k == 1:
        return rest
    if rest.op == "mul":
        return _make("mul", (const(k),) + rest.args)
    return _make("mul", (const(k), rest))


_PLAIN = frozenset({"sym", "call", "add", "named", "cmp", "logic"})


def mul(*args: Node) -> Node:
    """Product with constants folded and powers of equal bases collected (``x*x -> x**2``)."""
    if len(args) == 2:
        # Fast paths for the products derivatives make most (adjoint × local partial):
        # the same results the general path gives, without its bookkeeping.
        a, b = args
        if a.op != "const":
            a, b = b, a
        if a.op == "const":
            if b.op == "const":
                r = _mul_numbers(a.val, b.val)
                return ZERO if r == 0 else const(r)
            if a.val == 1:
                return b
            if a.val == 0:
                return ZERO
            if b.op in _PLAIN:
                return _make("mul", (a, b))
    c = 1
    powers: dict = {}
    others = []
    stack = list(args)
    flat = []
    while stack:
        a = stack.pop()
        if a.op == "mul" and len(a.args) <= FLATTEN_LIMIT:
            stack.extend(a.args)
        else:
            flat.append(a)
    for a in flat:
        if a.op == "const":
            c = _mul_numbers(c, a.val)
        elif a.op == "pow" and a.args[1].op == "const":
            b, e = a.args[0], a.args[1].val
            powers[b] = _add_numbers(powers.get(b, 0), e)
        else:
            powers[a] = _add_numbers(powers.get(a, 0), 1)
    if c == 0:
        return ZERO
    factors = []
    for b, e in powers.items():
        if e == 0:
            continue
        factors.append(b if e == 1 and not isinstance(e, float) else pow_(b, const(e)))
    factors.extend(others)
    # pow_ may have folded to constants or products; flatten once more
    final = []
    for f in factors:
        if f.op == "const":
            c = _mul_numbers(c, f.val)
        elif f.op == "mul" and len(f.args) <= FLATTEN_LIMIT:
            for g in f.args:
                if g.op == "const":
                    c = _mul_numbers(c, g.val)
                else:
                    final.append(g)
        else:
            final.append(f)
    if c == 0:
        return ZERO
    if not final:
        return const(c)
    final.sort(key=lambda n: n.idx)
    if c != 1:
        final.insert(0, const(c))
    if len(final) == 1:
        return final[0]
    return _make("mul", tuple(final))


def neg(a: Node) -> Node:
    return mul(_MINUS_ONE, a)


def sub(a: Node, b: Node) -> Node:
    return add(a, neg(b))


def div(a: Node, b: Node) -> Node:
    return mul(a, pow_(b, _MINUS_ONE))


def pow_(b: Node, e: Node) -> Node:
    """Power ``b**e``; constant powers are folded within size bounds."""
    if e.op == "const":
        ev = e.val
        if ev == 0:
            return ONE
        if ev == 1:
            return b
        if b.op == "const":
            r = _pow_numbers(b.val, ev)
            if r is not None:
                return const(r)
        if b.op == "pow" and b.args[1].op == "const" and isinstance(ev, int):
            return pow_(b.args[0], const(_mul_numbers(b.args[1].val, ev)))
        if b.op == "mul" and isinstance(ev, int):
            return mul(*[pow_(f, e) for f in b.args])
    if b.op == "const" and b.val == 1:
        return ONE
    if b.op == "named" and b.val == "e":
        return call("exp", e)
    return _make("pow", (b, e))


# ----------------------------------------------------------------------------- functions

# name -> (min args, max args); None = unbounded
FUNCTIONS: dict = {
    "sin": (1, 1), "cos": (1, 1), "tan": (1, 1), "asin": (1, 1), "acos": (1, 1), "atan": (1, 1),
    "atan2": (2, 2), "sinh": (1, 1), "cosh": (1, 1), "tanh": (1, 1), "asinh": (1, 1),
    "acosh": (1, 1), "atanh": (1, 1), "exp": (1, 1), "expm1": (1, 1), "log": (1, 2),
    "log1p": (1, 1), "log10": (1, 1), "log2": (1, 1), "sqrt": (1, 1), "cbrt": (1, 1),
    "abs": (1, 1), "sign": (1, 1), "min": (2, None), "max": (2, None), "hypot": (2, 2),
    "erf": (1, 1), "erfc": (1, 1), "gamma": (1, 1), "lgamma": (1, 1), "floor": (1, 1),
    "ceil": (1, 1), "heaviside": (1, 2), "where": (3, 3),
}
#: Internal functions that derivatives produce (not callable from model files).
INTERNAL_FUNCTIONS = {"polygamma": (2, 2)}
#: Functions without a complex-analytic extension: the complex-step backend refuses them.
NON_ANALYTIC = frozenset({"abs", "sign", "min", "max", "floor", "ceil", "heaviside", "where"})
#: Piecewise-constant functions: derivative 0 wherever it exists.
_STEP_FUNCTIONS = frozenset({"sign", "floor", "ceil", "heaviside"})

_EXACT_FOLDS: dict = {
    ("sin", 0): 0, ("tan", 0): 0, ("asin", 0): 0, ("atan", 0): 0, ("sinh", 0): 0, ("tanh", 0): 0,
    ("asinh", 0): 0, ("atanh", 0): 0, ("expm1", 0): 0, ("log1p", 0): 0, ("erf", 0): 0,
    ("cos", 0): 1, ("cosh", 0): 1, ("exp", 0): 1, ("log", 1): 0, ("log10", 1): 0, ("log2", 1): 0,
    ("erfc", 0): 1, ("acos", 1): 0, ("acosh", 1): 0, ("cbrt", 0): 0, ("cbrt", 1): 1,
}


def call(name: str, *args: Node) -> Node:
    """Apply a whitelisted function. Raises :class:`ExprError` on an unknown name or bad arity."""
    spec = FUNCTIONS.get(name) or INTERNAL_FUNCTIONS.get(name)
    if spec is None:
        raise ExprError(f"unknown function '{name}'")
    lo, hi = spec
    if len(args) < lo or (hi is not None and len(args) > hi):
        want = str(lo) if lo == hi else (f"{lo} or more" if hi is None else f"{lo} to {hi}")
        raise ExprError(f"{name}() takes {want} argument{'s' if want != '1' else ''}, got {len(args)}")
    if name == "sqrt":
        return pow_(args[0], _HALF)
    if name == "log" and len(args) == 2:
        return div(call("log", args[0]), call("log", args[1]))
    if name in ("min", "max") and len(args) > 2:
        acc = args[0]
        for a in args[1:]:
            acc = call(name, acc, a)
        return acc
    if name == "heaviside" and len(args) == 1:
        args = (args[0], _HALF)
    if name == "exp" and args[0].op == "call" and args[0].val == "log":
        return args[0].args[0]
    if len(args) == 1 and args[0].op == "const":
        v = args[0].val
        folded = _EXACT_FOLDS.get((name, v)) if not isinstance(v, float) else None
        if folded is not None:
            return const(folded)
        if name == "abs":
            return const(abs(v))
        if name == "sign":
            return const((v > 0) - (v < 0))
        if name == "floor" and not isinstance(v, float):
            return const(math.floor(v))
        if name == "ceil" and not isinstance(v, float):
            return const(math.ceil(v))
    if name == "where":
        c = args[0]
        if c.op == "const":
            return args[1] if c.val else args[2]
        if args[1] is args[2]:
            return args[1]
    if name in ("min", "max") and args[0] is args[1]:
        return args[0]
    return _make("call", tuple(args), name)


_CMP = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
_CMP_FN = {"lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "gt": lambda a, b: a > b,
           "ge": lambda a, b: a >= b, "eq": lambda a, b: a == b, "ne": lambda a, b: a != b}


def compare(op: str, a: Node, b: Node) -> Node:
    """Comparison ``a op b`` with op in ``< <= > >= == !=`` (or their names lt, le, ...)."""
    name = _CMP.get(op, op)
    if name not in _CMP_FN:
        raise ExprError(f"unknown comparison {op!r}")
    if a.op == "const" and b.op == "const":
        return const(int(_CMP_FN[name](a.val, b.val)))
    return _make("cmp", (a, b), name)


def logical(op: str, *args: Node) -> Node:
    """``and``/``or`` of two or more conditions, ``not`` of one."""
    if op == "not":
        if len(args) != 1:
            raise ExprError("not takes one condition")
        if args[0].op == "const":
            return const(int(not args[0].val))
        return _make("logic", args, "not")
    if op not in ("and", "or") or len(args) < 2:
        raise ExprError(f"bad logical operator {op!r}")
    acc = args[0]
    for a in args[1:]:
        if acc.op == "const" and a.op == "const":
            acc = const(int(bool(acc.val) and bool(a.val)) if op == "and"
                        else int(bool(acc.val) or bool(a.val)))
        elif acc.op == "const" or a.op == "const":
            # A known operand decides or drops out: (c and 1) is c, (c or 1) is 1.
            k, other = (acc, a) if acc.op == "const" else (a, acc)
            truth = bool(k.val)
            if op == "and":
                acc = other if truth else ZERO
            else:
                acc = ONE if truth else other
        else:
            acc = _make("logic", (acc, a), op)
    return acc


# ----------------------------------------------------------------------------- traversal

def topo_order(roots: Iterable[Node]) -> list:
    """All nodes reachable from ``roots``, children before parents, each once."""
    seen = set()
    order = []
    for root in roots:
        if root.idx in seen:
            continue
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if node.idx in seen:
                continue
            seen.add(node.idx)
            stack.append((node, True))
            for a in reversed(node.args):
                if a.idx not in seen:
                    stack.append((a, False))
    return order


def count_nodes(roots) -> int:
    """Number of distinct nodes in the DAG below ``roots`` (a node or an iterable)."""
    if isinstance(roots, Node):
        roots = [roots]
    return len(topo_order(roots))


def free_symbols(node: Node) -> frozenset:
    return node.deps


def rebuild(node: Node, args: tuple) -> Node:
    """The same operation applied to new arguments (re-simplifying)."""
    op = node.op
    if op == "add":
        return add(*args)
    if op == "mul":
        return mul(*args)
    if op == "pow":
        return pow_(*args)
    if op == "call":
        return call(node.val, *args)
    if op == "cmp":
        return compare(node.val, *args)
    if op == "logic":
        return logical(node.val, *args)
    return node


def substitute(roots, mapping: dict) -> list:
    """Replace nodes (usually symbols) by other nodes throughout ``roots``; returns new roots."""
    single = isinstance(roots, Node)
    roots = [roots] if single else list(roots)
    memo = dict(mapping)
    names = frozenset(k.val for k in mapping if k.op == "sym")
    for node in topo_order(roots):
        if node in memo:
            continue
        if names and node.deps.isdisjoint(names) and all(k.op == "sym" for k in mapping):
            memo[node] = node
            continue
        new_args = tuple(memo[a] for a in node.args)
        memo[node] = node if all(x is y for x, y in zip(new_args, node.args)) else rebuild(node, new_args)
    out = [memo[r] for r in roots]
    return out[0] if single else out


# ----------------------------------------------------------------------------- derivatives

def _dfunc(name: str, args: tuple, node: Node) -> list:
    """Partial derivatives of ``name(*args)`` with respect to each argument."""
    x = args[0]
    if name == "sin":
        return [call("cos", x)]
    if name == "cos":
        return [neg(call("sin", x))]
    if name == "tan":
        return [add(ONE, pow_(node, const(2)))]
    if name == "asin":
        return [pow_(sub(ONE, pow_(x, const(2))), const(Fraction(-1, 2)))]
    if name == "acos":
        return [neg(pow_(sub(ONE, pow_(x, const(2))), const(Fraction(-1, 2))))]
    if name == "atan":
        return [pow_(add(ONE, pow_(x, const(2))), _MINUS_ONE)]
    if name == "atan2":
        y, xx = args
        r2 = pow_(add(pow_(xx, const(2)), pow_(y, const(2))), _MINUS_ONE)
        return [mul(xx, r2), neg(mul(y, r2))]
    if name == "sinh":
        return [call("cosh", x)]
    if name == "cosh":
        return [call("sinh", x)]
    if name == "tanh":
        return [sub(ONE, pow_(node, const(2)))]
    if name == "asinh":
        return [pow_(add(pow_(x, const(2)), ONE), const(Fraction(-1, 2)))]
    if name == "acosh":
        return [mul(pow_(sub(x, ONE), const(Fraction(-1, 2))), pow_(add(x, ONE), const(Fraction(-1, 2))))]
    if name == "atanh":
        return [pow_(sub(ONE, pow_(x, const(2))), _MINUS_ONE)]
    if name == "exp":
        return [node]
    if name == "expm1":
        return [call("exp", x)]
    if name == "log":
        return [pow_(x, _MINUS_ONE)]
    if name == "log1p":
        return [pow_(add(ONE, x), _MINUS_ONE)]
    if name == "log10":
        return [pow_(mul(x, call("log", const(10))), _MINUS_ONE)]
    if name == "log2":
        return [pow_(mul(x, call("log", const(2))), _MINUS_ONE)]
    if name == "cbrt":
        return [mul(const(Fraction(1, 3)), pow_(node, const(-2)))]
    if name == "abs":
        return [call("sign", x)]
    if name in _STEP_FUNCTIONS:
        return [ZERO] * len(args)
    if name == "min":
        a, b = args
        c = compare("le", a, b)
        return [call("where", c, ONE, ZERO), call("where", c, ZERO, ONE)]
    if name == "max":
        a, b = args
        c = compare("ge", a, b)
        return [call("where", c, ONE, ZERO), call("where", c, ZERO, ONE)]
    if name == "hypot":
        a, b = args
        inv = pow_(node, _MINUS_ONE)
        return [mul(a, inv), mul(b, inv)]
    if name == "erf":
        return [mul(const(2), pow_(named_const("pi"), const(Fraction(-1, 2))),
                    call("exp", neg(pow_(x, const(2)))))]
    if name == "erfc":
        return [mul(const(-2), pow_(named_const("pi"), const(Fraction(-1, 2))),
                    call("exp", neg(pow_(x, const(2)))))]
    if name == "gamma":
        return [mul(node, call("polygamma", ZERO, x))]
    if name == "lgamma":
        return [call("polygamma", ZERO, x)]
    if name == "polygamma":
        n, xx = args
        if n.op != "const":
            raise ExprError("polygamma order must be a constant")
        return [ZERO, call("polygamma", const(n.val + 1), xx)]
    if name == "where":
        return [ZERO, call("where", args[0], ONE, ZERO), call("where", args[0], ZERO, ONE)]
    raise ExprError(f"no derivative rule for {name}")  # pragma: no cover - table is complete


def _d_local(node: Node, dargs: list) -> Node:
    """Derivative of ``node`` given the derivatives of its arguments (forward mode)."""
    op = node.op
    if op == "add":
        # most terms of a long sum do not depend on the variable: skip their zeros
        nz = [d for d in dargs if not (d.op == "const" and d.val == 0)]
        return add(*nz) if nz else ZERO
    if op == "mul":
        terms = []
        for i, da in enumerate(dargs):
            if _is_zero(da):
                continue
            others = node.args[:i] + node.args[i + 1:]
            terms.append(mul(da, *others))
        return add(*terms) if terms else ZERO
    if op == "pow":
        b, e = node.args
        db, de = dargs
        if e.op == "const" or _is_zero(de):
            # d(b^e) = e b^(e-1) db
            return mul(e, pow_(b, add(e, _MINUS_ONE)), db)
        # d(b^e) = b^e (de log b + e db / b)
        return mul(node, add(mul(de, call("log", b)), mul(e, db, pow_(b, _MINUS_ONE))))
    if op == "call":
        if node.val == "where":
            # The condition is piecewise constant: differentiate the branches only.
            _, da, db = dargs
            if _is_zero(da) and _is_zero(db):
                return ZERO
            return call("where", node.args[0], da, db)
        if node.val in _STEP_FUNCTIONS:
            return ZERO
        partials = _dfunc(node.val, node.args, node)
        return add(*[mul(p, d) for p, d in zip(partials, dargs) if not _is_zero(d)])
    if op in ("cmp", "logic"):
        return ZERO
    return ZERO


def diff(node: Node, name: str, memo: dict | None = None) -> Node:
    """Exact derivative of ``node`` with respect to the symbol ``name``.

    Only nodes that depend on ``name`` are visited.  Pass the same ``memo`` dict when
    differentiating several outputs with respect to one variable so shared
    subexpressions are differentiated once.

    Examples
    --------
    >>> x = symbol("x")
    >>> str(diff(mul(x, call("sin", x)), "x"))
    'sin(x) + x*cos(x)'
    """
    if memo is None:
        memo = {}
    if name not in node.deps:
        return ZERO
    if node in memo:
        return memo[node]
    # Post-order over just the nodes that depend on ``name`` and are not differentiated yet
    # (a full topological sort per entry was ~30% of a sparse Jacobian's derivative time).
    order = []
    seen = set()
    stack = [(node, False)]
    while stack:
        n, expanded = stack.pop()
        if expanded:
            order.append(n)
            continue
        if n.idx in seen:
            continue
        seen.add(n.idx)
        stack.append((n, True))
        for a in n.args:
            if a.idx not in seen and a not in memo and name in a.deps:
                stack.append((a, False))
    for n in order:
        if n.op == "sym":
            memo[n] = ONE
            continue
        if n.op == "add":
            memo[n] = _d_local(n, [memo[a] for a in n.args if name in a.deps])
            continue
        dargs = [memo[a] if name in a.deps else ZERO for a in n.args]
        memo[n] = _d_local(n, dargs)
    return memo[node]


def directional(roots, tangents: dict) -> list:
    """Forward-mode directional derivatives: ``sum_s tangents[s] * d root / d s`` for each root.

    ``tangents`` maps symbol names to nodes (often symbols of a direction vector); one
    sweep over the DAG serves every root, visiting only nodes that depend on a seeded
    symbol.  Applied to a gradient it gives the Hessian-vector product (forward over
    reverse) without forming the Hessian.
    """
    roots = list(roots)
    seeded = frozenset(tangents)
    memo: dict = {}
    for n in topo_order(roots):
        if n.deps.isdisjoint(seeded):
            continue
        if n.op == "sym":
            memo[n] = tangents[n.val]
            continue
        dargs = [memo.get(a, ZERO) for a in n.args]
        memo[n] = _d_local(n, dargs)
    return [memo.get(r, ZERO) for r in roots]


def gradient_reverse(node: Node, names: list) -> list:
    """All partial derivatives of one node by reverse accumulation over the DAG.

    One sweep from the root down gives ``d node / d s`` for every symbol ``s`` in
    ``names``; cheaper than forward mode when the node depends on many symbols.
    """
    order = topo_order([node])
    wanted = frozenset(names)
    # Contributions are collected per node and summed once when the node is reached
    # (all its parents come first in reverse topological order); adding them one parent at
    # a time re-flattened a growing sum per parent, quadratic for a shared subexpression.
    contribs: dict = {node: [ONE]}
    adj: dict = {}
    for n in reversed(order):
        parts_in = contribs.pop(n, None)
        if parts_in is None:
            continue
        a = parts_in[0] if len(parts_in) == 1 else add(*parts_in)
        adj[n] = a
        if _is_zero(a) or not n.args:
            continue
        if n.op == "add":
            parts = [ONE] * len(n.args)
        elif n.op == "mul":
            parts = [mul(*(n.args[:i] + n.args[i + 1:])) for i in range(len(n.args))]
        elif n.op == "pow":
            b, e = n.args
            parts = [mul(e, pow_(b, add(e, _MINUS_ONE))),
                     ZERO if e.op == "const" else mul(n, call("log", b))]
        elif n.op == "call":
            if n.val == "where":
                parts = [ZERO, call("where", n.args[0], ONE, ZERO), call("where", n.args[0], ZERO, ONE)]
            elif n.val in _STEP_FUNCTIONS:
                parts = [ZERO] * len(n.args)
            else:
                parts = _dfunc(n.val, n.args, n)
        else:
            parts = [ZERO] * len(n.args)
        for child, p in zip(n.args, parts):
            if _is_zero(p) or child.deps.isdisjoint(wanted):
                continue
            contribs.setdefault(child, []).append(mul(a, p))
    return [adj.get(symbol(s), ZERO) for s in names]


# ----------------------------------------------------------------------------- printing

_PREC = {"add": 10, "mul": 20, "pow": 30}


def to_str(root: Node) -> str:
    """A readable infix string in the model-file grammar (re-parses to the same node)."""
    cache: dict = {}
    for node in topo_order([root]):
        cache[node] = _str_node(node, cache)
    return cache[root][0]


def _num_str(v) -> str:
    if isinstance(v, Fraction):
        return f"{v.numerator}/{v.denominator}"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _str_node(node: Node, cache: dict):
    op = node.op
    if op == "const":
        v = node.val
        s = _num_str(v)
        prec = 100 if (not isinstance(v, Fraction) and v >= 0 and "e" not in s) else 15
        if isinstance(v, Fraction) or v < 0:
            prec = 15
        return s, prec
    if op in ("sym", "named"):
        return node.val, 100

    def wrap(child, level):
        s, p = cache[child]
        return s if p > level else f"({s})"

    if op == "add":
        parts = []
        args = node.args
        if args[0].op == "const" and len(args) > 1:   # x - 2 reads better than -2 + x
            args = args[1:] + args[:1]
        for i, a in enumerate(args):
            k, rest = _coef_rest(a)
            if i > 0 and a.op == "const" and a.val < 0:
                parts.append(f" - {_num_str(-a.val)}")
            elif i > 0 and isinstance(k, float) and k == -1.0:
                # keep the float coefficient: 'x + (-1.0)*y' re-reads as the same node; 'x - y'
                # and 'x - 1.0*y' would not (1.0*y simplifies to y)
                parts.append(f" + (-1.0)*{to_str(rest) if rest.op != 'add' else '(' + to_str(rest) + ')'}")
            elif i > 0 and isinstance(k, (int, float, Fraction)) and k < 0:
                pos = _scale(-k, rest) if not (a.op == "const") else const(-a.val)
                s = cache.get(pos)
                if s is None:
                    s = (to_str(pos), _PREC["mul"] if pos.op == "mul" else 100)
                txt = s[0] if s[1] > _PREC["add"] else f"({s[0]})"
                parts.append(f" - {txt}")
            else:
                parts.append((" + " if i else "") + wrap(a, _PREC["add"]))
        return "".join(parts), _PREC["add"]
    if op == "mul":
        args = node.args
        sign = ""
        if args[0].op == "const" and args[0].val == -1 and type(args[0].val) is int:
            sign, args = "-", args[1:]
        num, den = [], []
        for a in args:
            if a.op == "pow" and a.args[1].op == "const" and a.args[1].val < 0 and not (
                    a.args[0].op == "const"):
                inv = pow_(a.args[0], const(-a.args[1].val))
                den.append(inv)
            else:
                num.append(a)
        s = "*".join(wrap(a, _PREC["mul"]) for a in num) if num else "1"
        if den:
            ds = [to_str(d) if d.op in ("sym", "call", "named") else f"({to_str(d)})" for d in den]
            s += "/" + ("/".join(ds))
        return sign + s, (_PREC["mul"] - 5 if sign else _PREC["mul"])
    if op == "pow":
        b, e = node.args
        if e.op == "const" and isinstance(e.val, Fraction) and e.val == Fraction(1, 2):
            return f"sqrt({cache[b][0]})", 100
        bs = cache[b]
        btxt = bs[0] if bs[1] >= 100 and not bs[0].startswith("-") else f"({bs[0]})"
        es = cache[e]
        etxt = es[0] if es[1] >= 100 and not es[0].startswith("-") else f"({es[0]})"
        return f"{btxt}**{etxt}", _PREC["pow"]
    if op == "call":
        return f"{node.val}({', '.join(cache[a][0] for a in node.args)})", 100
    if op == "cmp":
        sym = {v: k for k, v in _CMP.items()}[node.val]
        return f"({cache[node.args[0]][0]} {sym} {cache[node.args[1]][0]})", 100
    if op == "logic":
        if node.val == "not":
            return f"(not {cache[node.args[0]][0]})", 100
        return f"({cache[node.args[0]][0]} {node.val} {cache[node.args[1]][0]})", 100
    raise AssertionError(op)


def uses_functions(roots) -> frozenset:
    """Names of the functions called anywhere in ``roots``."""
    return frozenset(n.val for n in topo_order(roots) if n.op == "call")
