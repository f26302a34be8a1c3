"""The safe expression parser: model text in, expression DAG out, never code.

Model files are data.  An expression is read with :func:`ast.parse` (``mode="eval"``,
which only builds a syntax tree) and the tree is walked with a strict whitelist:
numbers, names, ``+ - * / ** ^``, unary ``- +``, comparisons, ``and or not`` and calls of
the functions in :data:`jacli.model._expr.FUNCTIONS`.  Everything else (attributes,
subscripts, lambdas, strings, comprehensions, keyword arguments, ...) is a
:class:`~jacli.errors.ModelError` that names the construct.  Nothing is ever evaluated:
there is no ``eval``, ``exec`` or ``sympify`` on user text.

Hostile input gets a clear error, never a hang or a crash: the text length and the
bracket depth are checked *before* Python's parser sees the text (its C recursion is the
thing to protect), the depth of the syntax tree is checked while walking it, and the
size of exact constants is bounded (``9**9**9**9`` is an error, not a hang).

Errors carry the position of the offending token.  The caller passes where the
expression text starts in its file (``line``, ``col``) and the parser adds the token's
offset, so a TOML model reports ``arm.toml:14:9: outputs.y: unknown function 'sinn'
(did you mean 'sin'?)``.
"""
from __future__ import annotations

import ast
import difflib
import keyword
import re
from fractions import Fraction
from typing import Callable, Iterable, Mapping, Optional, Union

from ..errors import ModelError
from . import _expr
from ._expr import FUNCTIONS, ExprError, Node

__all__ = [
    "parse_expression", "name_problem", "CONSTANTS", "MAX_EXPR_CHARS", "MAX_NESTING", "MAX_DEPTH",
]

#: Longest expression text accepted (characters).
MAX_EXPR_CHARS = 100_000
#: Deepest bracket nesting accepted.  Python's tokenizer stops at 200; the pre-scan
#: rejects earlier with a message about the model rather than about Python.
MAX_NESTING = 100
#: Deepest syntax tree accepted after flattening ``a + b + c`` and ``a * b * c`` chains
#: (only unary chains like ``- - - x`` and ``x**x**x`` grow it without brackets).
MAX_DEPTH = 200
#: Constant names, always meaning the constant (the loader forbids them as input names).
CONSTANTS = {"pi": "pi", "e": "e", "E": "e"}

# Bound on the bits of large exact constants one constructor call may combine.  Products
# and sums of exact fractions are not size-bounded in _expr, so ``(1/97)**2048 *
# (1/89)**2048 * ...`` would otherwise grow a multi-megabit fraction (measured: 400
# such factors take 8 s, quadratic beyond).  Small constants (<= 64 bits) cannot blow up.
_BIG_BITS = 64
_MAX_COMBINED_BITS = 65_536
_MAX_CONST_BITS = 4 * _expr.MAX_INT_BITS

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

Symbols = Union[Mapping[str, Node], Callable[[str], Optional[Node]]]


def name_problem(name) -> Optional[str]:
    """Why ``name`` cannot name an input, parameter, definition or output; None if it can.

    Examples
    --------
    >>> name_problem("theta1") is None
    True
    >>> name_problem("sin")
    "'sin' is a function name"
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        return (f"{name!r} is not a valid name: use letters, digits and '_', "
                "starting with a letter or '_'")
    if name.startswith("__"):
        return f"'{name}' is not allowed: names may not start with '__'"
    if name in FUNCTIONS:
        return f"'{name}' is a function name"
    if name in CONSTANTS:
        return f"'{name}' is the constant {CONSTANTS[name]}"
    if keyword.iskeyword(name):
        return f"'{name}' is a reserved word"
    return None


class _Fail(Exception):
    """A parse error at a position of the expression text (line 1-based, col 0-based)."""

    def __init__(self, message: str, line: int = 1, col: int = 0):
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


def parse_expression(text: str, *, symbols: Symbols, known: Optional[Iterable[str]] = None,
                     file: Optional[str] = None, line: Optional[int] = None,
                     col: Optional[int] = None, field: Optional[str] = None,
                     exact: bool = True) -> Node:
    """Parse one expression into an interned :class:`~jacli.model._expr.Node`.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"L1*cos(theta1) + L2*cos(theta1 + theta2)"``.
    symbols : mapping or callable
        Resolves a name to its node: a dict ``{name: Node}``, or a function
        ``name -> Node | None`` (None means unknown).  The function may raise
        :class:`~jacli.errors.ModelError`; its message is reported at the name.
        Names of definitions map to their already-built nodes, so substitution is free
        and the DAG shares them.
    known : iterable of str, optional
        Names offered in "did you mean" hints; defaults to the keys of a dict ``symbols``.
    file, line, col, field : optional
        Where ``text`` starts (1-based line and column of its first character) and the
        field path, used to locate errors in the file.
    exact : bool
        True when the characters of ``text`` are exactly those in the file from
        ``line:col`` on; False (escapes in a string, ...) reports errors at ``line:col``.

    Returns
    -------
    Node

    Raises
    ------
    ModelError
        For anything outside the grammar (see ``docs/model-format.md``), with position.

    Examples
    --------
    >>> from jacli.model._expr import symbol
    >>> str(parse_expression("2*x^2", symbols={"x": symbol("x")}))
    '2*x**2'
    """
    try:
        return _Parser(text, symbols, known).parse()
    except _Fail as f:
        if file is not None and line is None:
            fl = fc = None      # the caller does not know where the text is in its file
        elif line is not None and col is not None:
            if not exact:
                fl, fc = line, col
            elif f.line == 1:
                fl, fc = line, col + f.col
            else:
                fl, fc = line + f.line - 1, f.col + 1
        else:
            fl, fc = f.line, f.col + 1
        raise ModelError(f.message, file=file, line=fl, col=fc, field=field) from None


# ----------------------------------------------------------------------------- pre-scan

_OPEN, _CLOSE = "([{", ")]}"


def _prescan(text: str) -> list:
    """Check characters and brackets before Python's parser; return offsets of '^'."""
    if not isinstance(text, str):
        raise _Fail(f"expected an expression string, got {type(text).__name__}")
    if len(text) > MAX_EXPR_CHARS:
        raise _Fail(f"expression too long ({len(text)} characters; the limit is {MAX_EXPR_CHARS}): "
                    "split it with [definitions]")
    if not text.strip():
        raise _Fail("empty expression")
    carets = []
    stack = []          # offsets of open brackets
    quote = None
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quote is not None:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in _OPEN:
            stack.append(i)
            if len(stack) > MAX_NESTING:
                raise _Fail(f"brackets nested too deeply (more than {MAX_NESTING} levels)", *_lc(text, i))
        elif ch in _CLOSE:
            if not stack or _OPEN[_CLOSE.index(ch)] != text[stack[-1]]:
                raise _Fail(f"unmatched '{ch}'", *_lc(text, i))
            stack.pop()
        elif ch == "^":
            carets.append(i)
        elif ch == "#":
            raise _Fail("'#' is not allowed in an expression (comments belong outside the string)",
                        *_lc(text, i))
        if not (" " <= ch <= "~" or ch in "\t\n\r"):
            what = f"non-ASCII character {ch!r} (U+{ord(ch):04X})" if ord(ch) > 127 else \
                f"control character U+{ord(ch):04X}"
            hint = ": names must be ASCII identifiers" if ord(ch) > 127 else ""
            raise _Fail(f"{what} is not allowed in an expression{hint}", *_lc(text, i))
        i += 1
    if stack:
        raise _Fail(f"'{text[stack[-1]]}' is never closed", *_lc(text, stack[-1]))
    return carets


def _lc(text: str, offset: int) -> tuple:
    """(1-based line, 0-based column) of a character offset."""
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start


# ----------------------------------------------------------------------------- the walker

_BINOP_SYMBOL = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<",
                 ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&"}
_BINOP_HINT = {ast.FloorDiv: " (use floor(a/b))", ast.Mod: "", ast.BitOr: " (use 'or' for conditions)",
               ast.BitAnd: " (use 'and' for conditions)"}
_CMP_SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_FORBIDDEN = {
    ast.Attribute: "attribute access ('.') is not allowed in an expression",
    ast.Subscript: "indexing ('[...]') is not allowed in an expression",
    ast.Lambda: "lambda is not allowed in an expression",
    ast.IfExp: "a conditional expression ('a if c else b') is not allowed; use where(c, a, b)",
    ast.List: "a list ('[...]') is not allowed in an expression",
    ast.Tuple: "a tuple ('a, b') is not allowed in an expression: write one expression per output",
    ast.Set: "a set ('{...}') is not allowed in an expression",
    ast.Dict: "a dict ('{...}') is not allowed in an expression",
    ast.ListComp: "a comprehension is not allowed in an expression",
    ast.SetComp: "a comprehension is not allowed in an expression",
    ast.DictComp: "a comprehension is not allowed in an expression",
    ast.GeneratorExp: "a generator expression is not allowed in an expression",
    ast.JoinedStr: "an f-string is not allowed in an expression",
    ast.NamedExpr: "an assignment (':=') is not allowed in an expression",
    ast.Await: "'await' is not allowed in an expression",
    ast.Yield: "'yield' is not allowed in an expression",
    ast.YieldFrom: "'yield' is not allowed in an expression",
    ast.Starred: "'*' unpacking is not allowed in an expression",
    ast.Slice: "a slice is not allowed in an expression",
}
_COND_AS_VALUE = ("a comparison or logical expression can only be a condition (first argument of "
                  "where(), or operand of and/or/not); for a 0/1 value write where(cond, 1, 0)")


class _Parser:
    def __init__(self, text: str, symbols: Symbols, known):
        self.text = text
        # ``known`` is only read for hints and name checks: keep the caller's object (a
        # model-wide view) rather than copying thousands of names per expression.
        if isinstance(symbols, Mapping):
            self.mapping, self.lookup = symbols, symbols.get
            self.known = known if known is not None else symbols
        else:
            self.mapping, self.lookup = None, symbols
            self.known = known if known is not None else ()
        self.shifts: dict = {}   # line of parsed source -> columns where a '**' replaced '^'

    # -- positions ------------------------------------------------------------------
    def _orig(self, line: int, col: int) -> tuple:
        """Map a position in the parsed source (wrapped, '^' -> '**') to the user's text."""
        col -= sum(1 for s in self.shifts.get(line, ()) if s < col)
        if line == 1:
            col -= 1    # the opening bracket the parser added
        lines = self.text.split("\n")
        if 1 <= line <= len(lines):
            col = min(max(col, 0), len(lines[line - 1]))
        return line, col

    def fail(self, message: str, node) -> "_Fail":
        return _Fail(message, *self._orig(node.lineno, node.col_offset))

    def _op_fail(self, message: str, node: ast.BinOp) -> "_Fail":
        # The operator is the first character after the left operand that is not ')' or space.
        line, col = node.left.end_lineno, node.left.end_col_offset
        lines = self.src.split("\n")
        while line <= len(lines):
            rest = lines[line - 1]
            while col < len(rest) and rest[col] in " \t)":
                col += 1
            if col < len(rest):
                break
            line, col = line + 1, 0
        return _Fail(message, *self._orig(line, col))

    # -- entry ----------------------------------------------------------------------
    def parse(self) -> Node:
        carets = _prescan(self.text)
        # Strings and comments are rejected, so every '^' is the power operator: replace
        # it character-wise (exact, and free of the tokenize module's version-dependent
        # errors).  Python's own '^' binds looser than '+', hence the replacement.
        src = self.text.replace("\r", " ")
        if carets:
            parts, prev = [], 0
            for off in carets:
                line, col = _lc(self.text, off)
                col += 1 if line == 1 else 0
                self.shifts.setdefault(line, []).append(col + len(self.shifts.get(line, ())))
                parts.append(src[prev:off])
                parts.append("**")
                prev = off + 1
            parts.append(src[prev:])
            src = "".join(parts)
        # The brackets let an expression span lines, as in a TOML multi-line string.
        self.src = src = "(" + src + ")"
        try:
            tree = ast.parse(src, mode="eval")
        except SyntaxError as e:
            raise self._syntax(e) from None
        except (RecursionError, MemoryError, OverflowError, ValueError):
            chunks = _split_long_sum(self.text)
            if chunks:
                return self._parse_chunks(chunks)
            raise _Fail("expression too complex for the parser (too long a chain of operators or "
                        "too deeply nested): split it with [definitions]") from None
        node, is_cond = self.walk(tree.body, 0)
        if is_cond:
            raise self.fail(_COND_AS_VALUE, tree.body)
        return node

    def _parse_chunks(self, chunks: list) -> Node:
        """Parse a long top-level sum piecewise (see :func:`_split_long_sum`)."""
        terms = []
        for start, chunk in chunks:
            sub = _Parser(chunk, self.mapping if self.mapping is not None else self.lookup, self.known)
            try:
                terms.append(sub.parse())
            except _Fail as f:
                line, col = _lc(self.text, start)
                raise _Fail(f.message, line + f.line - 1, f.col + (col if f.line == 1 else 0)) from None
        try:
            _check_combined(_expr.add, terms)
            return _expr.add(*terms)
        except (_TooBig, ExprError, ArithmeticError, ValueError) as e:
            raise _Fail(str(e)) from None

    def _syntax(self, e: SyntaxError) -> _Fail:
        msg = e.msg or "invalid syntax"
        if "forgot a comma" in msg:
            msg = "invalid syntax (missing an operator between two terms?)"
        elif "instead of '='" in msg:
            msg = "invalid syntax ('=' is not an operator; compare with '==')"
        elif "integer string conversion" in msg:
            msg = "number too long"
        line = e.lineno or 1
        col = (e.offset or 1) - 1
        if line > self.src.count("\n") + 1:
            line, col = self.src.count("\n") + 1, len(self.src.rsplit("\n", 1)[-1])
        return _Fail(f"syntax error: {msg}", *self._orig(line, col))

    # -- building -------------------------------------------------------------------
    def build(self, node, fn, *args) -> Node:
        """Call an _expr constructor; its errors become errors at ``node``."""
        try:
            if fn is _expr.add or fn is _expr.mul:
                _check_combined(fn, args)
            out = fn(*args)
        except _TooBig as e:
            raise self.fail(str(e), node) from None
        except (ExprError, ArithmeticError, ValueError) as e:
            raise self.fail(str(e), node) from None
        if out.op == "const" and _bits(out.val) > _MAX_CONST_BITS:
            raise self.fail(f"exact constant too large (more than {_MAX_CONST_BITS} bits)", node)
        return out

    def value(self, node, depth: int) -> Node:
        out, is_cond = self.walk(node, depth)
        if is_cond:
            raise self.fail(_COND_AS_VALUE, node)
        return out

    def cond(self, node, depth: int, what: str) -> Node:
        out, is_cond = self.walk(node, depth)
        if not is_cond:
            raise self.fail(f"{what} must be a condition such as 'x > 0', not a value", node)
        return out

    def walk(self, node, depth: int) -> tuple:
        """(Node, is_condition) for an ast node."""
        if depth > MAX_DEPTH:
            raise self.fail(f"expression nested too deeply (more than {MAX_DEPTH} levels): "
                            "split it with [definitions]", node)
        d = depth + 1
        t = type(node)
        if t is ast.BinOp:
            op = type(node.op)
            if op in (ast.Add, ast.Sub):
                items = self._chain(node, (ast.Add, ast.Sub), ast.Sub)
                terms = [self.build(n, _expr.neg, self.value(n, d)) if minus else self.value(n, d)
                         for minus, n in items]
                return self.build(node, _expr.add, *terms), False
            if op in (ast.Mult, ast.Div):
                items = self._chain(node, (ast.Mult, ast.Div), ast.Div)
                factors = [self.build(n, _expr.pow_, self.value(n, d), _expr.const(-1)) if inv
                           else self.value(n, d) for inv, n in items]
                return self.build(node, _expr.mul, *factors), False
            if op in (ast.Pow, ast.BitXor):
                base = self.value(node.left, d)
                return self.build(node, _expr.pow_, base, self.value(node.right, d)), False
            sym = _BINOP_SYMBOL.get(op, op.__name__)
            raise self._op_fail(f"operator '{sym}' is not supported{_BINOP_HINT.get(op, '')}", node)
        if t is ast.UnaryOp:
            op = type(node.op)
            if op is ast.USub:
                operand = node.operand
                if type(operand) is ast.Constant and type(operand.value) is float:
                    # A negative literal is one constant: '-0.0' stays -0.0, as printed.
                    return self._constant(operand, negate=True), False
                return self.build(node, _expr.neg, self.value(operand, d)), False
            if op is ast.UAdd:
                return self.value(node.operand, d), False
            if op is ast.Not:
                c = self.cond(node.operand, d, "the operand of 'not'")
                return self.build(node, _expr.logical, "not", c), True
            raise self.fail("operator '~' is not supported (use 'not' for conditions)", node)
        if t is ast.Compare:
            return self._compare(node, d), True
        if t is ast.BoolOp:
            word = "and" if isinstance(node.op, ast.And) else "or"
            conds = [self.cond(v, d, f"each operand of '{word}'") for v in node.values]
            return self.build(node, _expr.logical, word, *conds), True
        if t is ast.Call:
            return self._call(node, d), False
        if t is ast.Name:
            return self._name(node), False
        if t is ast.Constant:
            return self._constant(node), False
        raise self.fail(_FORBIDDEN.get(t, f"'{t.__name__}' is not allowed in an expression"), node)

    def _chain(self, node, ops, inverse) -> list:
        """Flatten a left-associated chain ``a - b + c`` into [(False, a), (True, b), (False, c)].

        Flattening keeps long sums out of the recursion and lets _expr fold them in one
        call (folding ``((a + b) + c) + ...`` pairwise would be quadratic).
        """
        items = []
        while type(node) is ast.BinOp and type(node.op) in ops:
            items.append((type(node.op) is inverse, node.right))
            node = node.left
        items.append((False, node))
        items.reverse()
        return items

    def _compare(self, node: ast.Compare, d: int) -> Node:
        operands = [self.value(node.left, d)]
        pairs = []
        prev_ast = node.left
        for op, right in zip(node.ops, node.comparators):
            sym = _CMP_SYMBOL.get(type(op))
            if sym is None:
                word = {ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}[type(op)]
                raise self.fail(f"'{word}' is not supported in an expression", right)
            operands.append(self.value(right, d))
            pairs.append(self.build(prev_ast, _expr.compare, sym, operands[-2], operands[-1]))
            prev_ast = right
        if len(pairs) == 1:
            return pairs[0]
        # a < b < c means a < b and b < c, as in Python and in mathematics.
        return self.build(node, _expr.logical, "and", *pairs)

    def _call(self, node: ast.Call, d: int) -> Node:
        func = node.func
        if type(func) is not ast.Name:
            raise self.fail("only the built-in functions can be called, by name: e.g. sin(x)", node)
        name = func.id
        if name.startswith("__"):
            raise self.fail(f"name '{name}' is not allowed", func)
        if name not in FUNCTIONS:
            if name in CONSTANTS:
                raise self.fail(f"'{name}' is a constant, not a function", func)
            if self._resolvable(name):
                raise self.fail(f"'{name}' is a variable, not a function (missing '*' before '('?)", func)
            close = difflib.get_close_matches(name, list(FUNCTIONS), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else \
                f"; functions are: {', '.join(sorted(FUNCTIONS))}"
            raise self.fail(f"unknown function '{name}'{hint}", func)
        if node.keywords:
            kw = node.keywords[0]
            what = f"'{kw.arg}='" if kw.arg else "'**'"
            raise self.fail(f"keyword arguments are not allowed: {name}() got {what}",
                            kw if hasattr(kw, "lineno") else kw.value)
        for a in node.args:
            if type(a) is ast.Starred:
                raise self.fail(_FORBIDDEN[ast.Starred], a)
        if name == "where" and len(node.args) == 3:
            args = [self.cond(node.args[0], d, "the first argument of where()"),
                    self.value(node.args[1], d), self.value(node.args[2], d)]
        else:
            args = [self.value(a, d) for a in node.args]
        return self.build(node, _expr.call, name, *args)

    def _resolvable(self, name: str) -> bool:
        # A resolver function may create names on lookup (inline models), so only a
        # mapping is asked; for a function, the ``known`` names decide.
        if name in self.known:
            return True
        return self.mapping is not None and self.mapping.get(name) is not None

    def _name(self, node: ast.Name) -> Node:
        name = node.id
        if name.startswith("__"):
            raise self.fail(f"name '{name}' is not allowed", node)
        if name in CONSTANTS:
            return _expr.named_const(CONSTANTS[name])
        if name in FUNCTIONS:
            raise self.fail(f"'{name}' is a function; call it as {name}(...)", node)
        try:
            out = self.lookup(name)
        except ModelError as e:
            raise self.fail(e.detail, node) from None
        if out is None:
            names = [k for k in self.known if k != name] + ["pi", "e"]
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise self.fail(f"unknown name '{name}'{hint}", node)
        return out

    def _constant(self, node: ast.Constant, negate: bool = False) -> Node:
        v = -node.value if negate else node.value
        if type(v) is int:
            return self.build(node, _expr.const, v)
        if type(v) is float:
            if v != v or v in (float("inf"), float("-inf")):
                raise self.fail("number out of range (does not fit a double)", node)
            return self.build(node, _expr.const, v)
        if isinstance(v, bool):
            raise self.fail(f"'{v}' is not allowed in an expression; use 1 or 0, or a condition "
                            "inside where()", node)
        if isinstance(v, complex):
            raise self.fail("complex numbers are not supported", node)
        if isinstance(v, (str, bytes)):
            raise self.fail("a string literal is not allowed in an expression", node)
        raise self.fail(f"'{v!r}' is not allowed in an expression", node)


# ----------------------------------------------------------------------------- long sums

_SUM_CHUNK = 500
_SUM_SAFE = re.compile(r"[A-Za-z0-9_.+\-*/^ \t\n\r]*\Z")
_NUMBER_EXP = re.compile(r"(?:^|[^A-Za-z0-9_.])(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9][0-9_]*)[eE]\Z")


def _split_long_sum(text: str) -> list:
    """Split ``t1 + t2 - t3 ...`` at top-level ``+``/``-`` into chunks of a few hundred terms.

    Python 3.11 and 3.12 build the syntax tree of ``a + b + c ...`` recursively and give
    up near 3000 terms; a generated polynomial easily has more.  Addition is associative,
    so ``a + b - c - d`` == ``(a + b) + (- c - d)``: each chunk keeps its leading
    operator as a unary sign.  Applied only when the top level holds nothing but terms
    and arithmetic (no comparisons, commas or keywords), where this is exact.
    Returns [(offset, chunk_text), ...], or [] when not applicable.
    """
    depth, top, splits = 0, [], []
    prev = ""           # last non-space character at depth 0
    for i, ch in enumerate(text):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        if depth == 0:
            top.append(ch if ch not in _CLOSE else " ")
            if ch in "+-" and (prev.isalnum() or prev in "_.)]") and not (
                    prev in "eE" and _NUMBER_EXP.search(text[max(0, i - 40):i])):
                splits.append(i)
        elif ch in _OPEN and depth == 1:
            top.append(" ")
        if depth == 0 and not ch.isspace():
            prev = ch
        elif depth == 1 and ch in _OPEN:
            prev = ""
    toptext = "".join(top)
    if len(splits) < _SUM_CHUNK or not _SUM_SAFE.match(toptext) or any(
            keyword.iskeyword(w) for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", toptext)):
        return []
    cuts = [0] + splits[_SUM_CHUNK - 1::_SUM_CHUNK] + [len(text)]
    return [(a, text[a:b]) for a, b in zip(cuts, cuts[1:]) if a < b]


# ----------------------------------------------------------------------------- constant size guard

class _TooBig(Exception):
    pass


def _bits(v) -> int:
    if isinstance(v, Fraction):
        return v.numerator.bit_length() + v.denominator.bit_length()
    if isinstance(v, int):
        return v.bit_length()
    return 0


def _check_combined(fn, args) -> None:
    """Refuse an add/mul call that would fold large exact constants into a huge one.

    Looks at exactly what the constructor folds: constants, coefficients of terms (add)
    and constant exponents of factors (mul), one flattening level down.
    """
    total = 0
    is_add = fn is _expr.add
    flat_op = "add" if is_add else "mul"
    for a in args:
        for t in (a.args if a.op == flat_op else (a,)):
            if t.op == "const":
                b = _bits(t.val)
            elif is_add and t.op == "mul" and t.args[0].op == "const":
                b = _bits(t.args[0].val)
            elif not is_add and t.op == "pow" and t.args[1].op == "const":
                b = _bits(t.args[1].val)
            else:
                continue
            if b > _BIG_BITS:
                total += b
    if total > _MAX_COMBINED_BITS:
        raise _TooBig(f"exact constants too large to combine (more than {_MAX_COMBINED_BITS} bits); "
                      "write them as decimals (e.g. 0.333) to use floating point")
