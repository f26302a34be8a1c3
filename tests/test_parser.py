"""The safe expression parser: grammar, error messages with positions, hostile input."""
from __future__ import annotations

import ast
import builtins
import contextlib
import time
from fractions import Fraction
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jacli.errors import ModelError
from jacli.model import _expr as E
from jacli.model._parser import MAX_EXPR_CHARS, name_problem, parse_expression

x, y, z, theta1 = (E.symbol(n) for n in ("x", "y", "z", "theta1"))
SYMS = {"x": x, "y": y, "z": z, "theta1": theta1}


def parse(text, **kw):
    return parse_expression(text, symbols=SYMS, **kw)


def located(text):
    """Parse as if the expression started at arm.toml line 14, column 9."""
    return parse_expression(text, symbols=SYMS, file="arm.toml", line=14, col=9, field="outputs.y")


# ----------------------------------------------------------------------------- grammar

@pytest.mark.parametrize("text, expected", [
    ("2*x^2", E.mul(E.const(2), E.pow_(x, E.const(2)))),
    ("-x^2", E.neg(E.pow_(x, E.const(2)))),
    ("2^3^2", E.const(512)),                       # right-associative, like **
    ("x^-1", E.pow_(x, E.const(-1))),
    ("x**y", E.pow_(x, y)),
    ("(x + y)^2", E.pow_(E.add(x, y), E.const(2))),
    ("x - y + z", E.add(x, E.neg(y), z)),
    ("x / y / z", E.mul(x, E.pow_(y, E.const(-1)), E.pow_(z, E.const(-1)))),
    ("x / y * z", E.mul(x, E.pow_(y, E.const(-1)), z)),
    ("+x", x),
    ("1/3", E.const(Fraction(1, 3))),
    ("0.5", E.const(0.5)),
    ("1e-3", E.const(1e-3)),
    ("-0.0", E.const(-0.0)),
    ("pi*e", E.mul(E.named_const("pi"), E.named_const("e"))),
    ("E", E.named_const("e")),
    ("sin(theta1)", E.call("sin", theta1)),
    ("atan2(y, x)", E.call("atan2", y, x)),
    ("min(x, y, z)", E.call("min", E.call("min", x, y), z)),
    ("log(x, 2)", E.div(E.call("log", x), E.call("log", E.const(2)))),
    ("where(x > 0, x, -x)", E.call("where", E.compare(">", x, E.ZERO), x, E.neg(x))),
    ("where(0 < x < 1, x, 0)",
     E.call("where", E.logical("and", E.compare("<", E.ZERO, x), E.compare("<", x, E.ONE)), x, E.ZERO)),
    ("where(x < 1 and not y >= 2 or z != 0, 1, 2)",
     E.call("where", E.logical("or", E.logical("and", E.compare("<", x, E.ONE),
                                                E.logical("not", E.compare(">=", y, E.const(2)))),
                               E.compare("!=", z, E.ZERO)), E.ONE, E.const(2))),
    ("x +\n  y", E.add(x, y)),
    ("\tx\r\n* y ", E.mul(x, y)),
])
def test_grammar_builds_the_same_node(text, expected):
    assert parse(text) is expected


def test_caret_inside_function_and_multiline():
    assert parse("sin(x)^2 +\n  cos(x)^2") is E.add(E.pow_(E.call("sin", x), E.const(2)),
                                                     E.pow_(E.call("cos", x), E.const(2)))


def test_definitions_map_to_their_nodes():
    d = E.call("cos", theta1)
    assert parse_expression("2*c1", symbols={"c1": d}) is E.mul(E.const(2), d)


def test_resolver_function_and_its_errors_are_located():
    def resolve(name):
        if name == "later":
            raise ModelError("'later' is used before its definition")
        return x if name == "x" else None

    assert parse_expression("x", symbols=resolve) is x
    with pytest.raises(ModelError, match=r"^f:2:7: d\.a: 'later' is used before its definition$"):
        parse_expression("x + later", symbols=resolve, file="f", line=2, col=3, field="d.a")


def test_long_sum_beyond_pythons_parser_limit():
    # Python 3.11/3.12 give up near 3000 terms; the parser splits long top-level sums.
    n = 4000
    text = " + ".join(f"{'-' if i % 3 == 0 else ''}{i}*x**{i}" for i in range(1, n)) + " - 1e-3*y"
    expected = E.add(*[E.mul(E.const(-i if i % 3 == 0 else i), E.pow_(x, E.const(i)))
                       for i in range(1, n)], E.mul(E.const(-1e-3), y))
    t0 = time.perf_counter()
    assert parse(text) is expected
    assert time.perf_counter() - t0 < 10


def test_long_sum_error_is_located_in_the_right_chunk():
    text = "x + " * 4000 + "sinn(x)"
    with pytest.raises(ModelError, match=r"^arm\.toml:14:16009: outputs\.y: unknown function 'sinn'"):
        located(text)


# ----------------------------------------------------------------------------- names

@pytest.mark.parametrize("name, problem", [
    ("theta1", None), ("_x", None), ("L2", None),
    ("2x", "not a valid name"), ("a-b", "not a valid name"), ("", "not a valid name"),
    ("θ", "not a valid name"), ("__x", "may not start with '__'"), ("sin", "is a function name"),
    ("pi", "is the constant pi"), ("E", "is the constant e"), ("lambda", "is a reserved word"),
])
def test_name_problem(name, problem):
    got = name_problem(name)
    assert (got is None) if problem is None else (problem in got)


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("text, col, message", [
    ("sinn(x)", 9, r"unknown function 'sinn' \(did you mean 'sin'\?\)"),
    ("x + qqq(x)", 13, r"unknown function 'qqq'; functions are: abs, acos, "),
    ("thta1 + 1", 9, r"unknown name 'thta1' \(did you mean 'theta1'\?\)"),
    ("x + qqq", 13, r"unknown name 'qqq'$"),
    ("sin + 1", 9, r"'sin' is a function; call it as sin\(\.\.\.\)"),
    ("x(2)", 9, r"'x' is a variable, not a function \(missing '\*' before '\('\?\)"),
    ("pi(2)", 9, r"'pi' is a constant, not a function"),
    ("sin(x, y)", 9, r"sin\(\) takes 1 argument, got 2"),
    ("atan2(x)", 9, r"atan2\(\) takes 2 arguments, got 1"),
    ("sin(x=1)", 13, r"keyword arguments are not allowed: sin\(\) got 'x='"),
    ("sin(*x)", 13, r"'\*' unpacking is not allowed"),
    ("x + (y < 1)", 14, r"a comparison or logical expression can only be a condition"),
    ("x < 1", 9, r"a comparison .* can only be a condition .* write where\(cond, 1, 0\)"),
    ("where(x, 1, 2)", 15, r"the first argument of where\(\) must be a condition such as 'x > 0'"),
    ("where(x < 1 and y, 1, 2)", 25, r"each operand of 'and' must be a condition"),
    ("where(not x, 1, 2)", 19, r"the operand of 'not' must be a condition"),
    ("x if y else z", 9, r"a conditional expression \('a if c else b'\) is not allowed; use where\(c, a, b\)"),
    ("x // y", 11, r"operator '//' is not supported \(use floor\(a/b\)\)"),
    ("x %  y", 11, r"operator '%' is not supported"),
    ("x | y", 11, r"operator '\|' is not supported"),
    ("~x", 9, r"operator '~' is not supported"),
    ("x in y", 14, r"'in' is not supported"),
    ("x.real", 9, r"attribute access \('\.'\) is not allowed"),
    ("().__class__", 9, r"attribute access"),
    ("x[0]", 9, r"indexing \('\[\.\.\.\]'\) is not allowed"),
    ("[1, 2]", 9, r"a list \('\[\.\.\.\]'\) is not allowed"),
    ("x, y", 9, r"a tuple \('a, b'\) is not allowed"),
    ("{1: 2}", 9, r"a dict"),
    ("lambda: 1", 9, r"lambda is not allowed"),
    ("[a for a in x]", 9, r"a comprehension is not allowed"),
    ("(y := 1)", 10, r"an assignment \(':='\) is not allowed"),
    ("'s'", 9, r"a string literal is not allowed"),
    ("f'{x}'", 9, r"an f-string is not allowed"),
    ("True", 9, r"'True' is not allowed in an expression; use 1 or 0"),
    ("None", 9, r"'None' is not allowed"),
    ("...", 9, r"'Ellipsis' is not allowed"),
    ("2j", 9, r"complex numbers are not supported"),
    ("1e999", 9, r"number out of range"),
    ("__import__('os').system('x')", 9, r"only the built-in functions can be called"),
    ("__import__", 9, r"name '__import__' is not allowed"),
    ("__builtins__(1)", 9, r"name '__builtins__' is not allowed"),
    ("x + #", 13, r"'#' is not allowed in an expression"),
    ("θ1 + 1", 9, r"non-ASCII character 'θ' \(U\+03B8\) is not allowed in an expression"),
    ("x\x00", 10, r"control character U\+0000"),
    ("x)", 10, r"unmatched '\)'"),
    ("(x]", 11, r"unmatched '\]'"),
    ("sin(x", 12, r"'\(' is never closed"),
    ("x +", 12, r"syntax error: invalid syntax"),
    ("x y", 9, r"syntax error: invalid syntax \(missing an operator between two terms\?\)"),
    ("x = 1", 9, r"syntax error: invalid syntax \('=' is not an operator; compare with '=='\)"),
    ("x^^2", 11, r"syntax error"),
    ("0777", 9, r"syntax error: leading zeros"),
    ("", 9, r"empty expression"),
    ("   ", 9, r"empty expression"),
    ("9**9**9**9", 12, r"exponent 387420489 too large to fold"),
    ("2**10**10", 9, r"exponent 10000000000 too large to fold"),
    ("1e308*10.0", 9, r"constant overflows a double"),
    ("1" * 5000, 9, r"syntax error: number too long"),
])
def test_error_messages_with_file_line_col(text, col, message):
    with pytest.raises(ModelError, match=rf"^arm\.toml:14:{col}: outputs\.y: {message}") as info:
        located(text)
    err = info.value
    assert (err.file, err.line, err.col, err.field) == ("arm.toml", 14, col, "outputs.y")


def test_error_column_after_carets_is_in_the_users_text():
    # '^' becomes '**' internally; columns must still count the user's characters.
    with pytest.raises(ModelError, match=r"^arm\.toml:14:21: outputs\.y: unknown function 'sinn'"):
        located("x^2 + x^3 + sinn(x)")  # 'sinn' is the 13th character


def test_error_on_a_later_line_of_a_multiline_expression():
    with pytest.raises(ModelError, match=r"^arm\.toml:16:5: outputs\.y: unknown name 'thta1'"):
        located("x +\n  y +\n    thta1")


def test_inexact_strings_report_the_string_start():
    with pytest.raises(ModelError, match=r"^arm\.toml:14:9: outputs\.y: unknown function 'sinn'"):
        parse_expression("x + sinn(x)", symbols=SYMS, file="arm.toml", line=14, col=9,
                         field="outputs.y", exact=False)


def test_a_file_without_a_known_position_gets_no_line():
    with pytest.raises(ModelError, match=r"^m\.toml: outputs\.y: unknown function 'sinn'") as info:
        parse_expression("x + sinn(x)", symbols=SYMS, file="m.toml", field="outputs.y")
    assert (info.value.line, info.value.col) == (None, None)


def test_without_a_file_the_error_still_has_line_and_col():
    with pytest.raises(ModelError, match=r"^unknown function 'sinn'") as info:
        parse("x + sinn(x)")
    assert (info.value.line, info.value.col) == (1, 5)


# ----------------------------------------------------------------------------- hostile input

@contextlib.contextmanager
def no_code_execution():
    """Fail if anything evaluates, executes, imports or compiles to bytecode."""
    real_compile = builtins.compile

    def forbidden(*a, **k):
        raise AssertionError("code execution attempted")

    def ast_only(source, filename, mode, flags=0, *a, **k):
        if not flags & ast.PyCF_ONLY_AST:
            raise AssertionError("compile to bytecode attempted")
        return real_compile(source, filename, mode, flags, *a, **k)

    with mock.patch.object(builtins, "eval", forbidden), mock.patch.object(builtins, "exec", forbidden), \
            mock.patch.object(builtins, "__import__", forbidden), \
            mock.patch.object(builtins, "compile", ast_only):
        yield


HOSTILE = {
    "import": "__import__('os').system('touch /tmp/jacli-pwned')",
    "class": "().__class__.__bases__[0].__subclasses__()",
    "lambda": "(lambda: 1)()",
    "attribute": "x.real",
    "list": "[1,2]",
    "string": '"s"',
    "tower": "9**9**9**9",
    "big power": "2**10**10",
    "10 MB": "x+" * 5_000_000 + "x",
    "10000 parens": "(" * 10_000 + "x" + ")" * 10_000,
    "10000 closing": ")" * 10_000,
    "ifexp": "x if y else z",
    "unary chain": "-" * 99_000 + "x",
    "not chain": "not " * 24_000 + "x",
    "power chain": "x**" * 30_000 + "x",
    "short unary chain": "-" * 500 + "x",
    "nested calls": "sin(" * 150 + "x" + ")" * 150,
    "fraction blowup": "*".join(f"(1/{p})**2048" for p in [97, 89, 83, 79, 73, 71, 67, 61] * 50),
    "fraction sum": "+".join(f"(1/{p})**2048*x" for p in [97, 89, 83, 79, 73, 71, 67, 61] * 50),
    "many digits": "1" * 99_000,
    "dunder": "x.__dict__",
    "walrus": "(x := 1)",
    "yield": "(yield x)",
    "await": "await x",
    "starred": "sin(*[x])",
    "generator": "sum(a for a in x)",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_is_a_model_error_quickly(text, tmp_path):
    t0 = time.perf_counter()
    with no_code_execution(), pytest.raises(ModelError):
        parse(text)
    # A generous bound: this detects hangs, not slowness.
    assert time.perf_counter() - t0 < 2.0


def test_long_sum_inside_a_call_is_a_node_or_a_clear_error():
    # Python 3.10 and 3.13 parse it; 3.11 and 3.12 give up (only top-level sums are split).
    t0 = time.perf_counter()
    try:
        out = parse("sin(" + "x*y+" * 24_000 + "x)")
    except ModelError as err:
        assert "too complex for the parser" in str(err)
    else:
        assert out is E.call("sin", E.add(x, E.mul(E.const(24_000), x, y)))
    assert time.perf_counter() - t0 < 5.0


def test_nested_brackets_limit_is_checked_before_python():
    with pytest.raises(ModelError, match=r"brackets nested too deeply \(more than 100 levels\)"):
        parse("(" * 101 + "x" + ")" * 101)
    assert parse("(" * 100 + "x" + ")" * 100) is x


def test_length_limit():
    with pytest.raises(ModelError, match=rf"expression too long \({MAX_EXPR_CHARS + 1} characters"):
        parse("x" * (MAX_EXPR_CHARS + 1))


def test_operator_depth_limit():
    with pytest.raises(ModelError, match=r"nested too deeply \(more than 200 levels\)"):
        parse("-" * 300 + "x")
    assert parse("-" * 150 + "x") is x


def test_non_string_is_a_model_error():
    with pytest.raises(ModelError, match=r"expected an expression string, got int"):
        parse_expression(3, symbols=SYMS)


# ----------------------------------------------------------------------------- properties

NAMES = ("x", "y", "theta1")
UNARY = sorted(f for f, (lo, hi) in E.FUNCTIONS.items() if lo == 1 and f != "where")
BINARY = ("atan2", "hypot", "min", "max", "log", "heaviside")

# Trees are drawn as plain tuples (small reprs) and built inside the test, where a tree
# that _expr refuses to build (a constant too large) is simply skipped.
leaf = st.one_of(
    st.tuples(st.just("const"), st.integers(-50, 50)),
    st.tuples(st.just("const"), st.fractions(min_value=-20, max_value=20, max_denominator=9)),
    st.tuples(st.just("const"), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)),
    st.tuples(st.just("sym"), st.sampled_from(NAMES)),
    st.tuples(st.just("named"), st.sampled_from(["pi", "e"])),
)

@st.composite
def values(draw, depth=4):
    if depth == 0 or draw(st.booleans()):
        return draw(leaf)
    kind = draw(st.sampled_from(["binop", "neg", "ipow", "call1", "call2", "where"]))
    sub = values(depth - 1)
    if kind == "binop":
        return (draw(st.sampled_from(["add", "sub", "mul", "div", "pow_"])), draw(sub), draw(sub))
    if kind == "neg":
        return ("neg", draw(sub))
    if kind == "ipow":
        return ("ipow", draw(sub), draw(st.integers(-3, 4)))
    if kind == "call1":
        return ("call", draw(st.sampled_from(UNARY)), draw(sub))
    if kind == "call2":
        return ("call", draw(st.sampled_from(BINARY)), draw(sub), draw(sub))
    return ("where", draw(conditions(depth - 1)), draw(sub), draw(sub))


@st.composite
def conditions(draw, depth):
    kind = draw(st.sampled_from(["cmp", "cmp", "and", "or", "not"])) if depth > 0 else "cmp"
    if kind == "cmp":
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        return ("cmp", op, draw(values(max(depth - 1, 0))), draw(values(max(depth - 1, 0))))
    if kind == "not":
        return ("not", draw(conditions(depth - 1)))
    return (kind, draw(conditions(depth - 1)), draw(conditions(depth - 1)))


def build(t):
    k = t[0]
    if k == "const":
        return E.const(t[1])
    if k == "sym":
        return E.symbol(t[1])
    if k == "named":
        return E.named_const(t[1])
    if k in ("add", "sub", "mul", "div", "pow_"):
        return getattr(E, k)(build(t[1]), build(t[2]))
    if k == "neg":
        return E.neg(build(t[1]))
    if k == "ipow":
        return E.pow_(build(t[1]), E.const(t[2]))
    if k == "call":
        return E.call(t[1], *map(build, t[2:]))
    if k == "where":
        return E.call("where", *map(build, t[1:]))
    if k == "cmp":
        return E.compare(t[1], build(t[2]), build(t[3]))
    return E.logical(k, *map(build, t[1:]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values())
def test_printed_expressions_reparse_to_the_same_node(tree):
    try:
        node = build(tree)
    except (E.ExprError, ArithmeticError):
        assume(False)
    # An exact constant may fold to more bits than a literal may have (1/3**5000).
    assume(all(Fraction(n.val).numerator.bit_length() <= E.MAX_INT_BITS
               and Fraction(n.val).denominator.bit_length() <= E.MAX_INT_BITS
               for n in E.topo_order([node]) if n.op == "const" and not isinstance(n.val, float)))
    text = E.to_str(node)
    assert parse_expression(text, symbols={n: E.symbol(n) for n in NAMES}) is node, text


def test_logical_with_a_folded_constant_round_trips():
    # 'c and (1 < 2)' folds to c, so no constant is printed as a condition.
    cond = E.logical("and", E.compare("<", x, y), E.compare("<", E.ONE, E.const(2)))
    node = E.call("where", cond, x, y)
    assert E.to_str(node) == "where((x < y), x, y)"
    assert parse(E.to_str(node)) is node


def test_float_minus_one_coefficient_round_trips():
    for node in (E.mul(E.const(-1.0), y), E.add(x, E.mul(E.const(-1.0), y)),
                 E.add(x, E.mul(E.const(-1.0), E.add(y, E.ONE)))):
        assert parse(E.to_str(node)) is node, E.to_str(node)


def test_float_half_power_round_trips():
    # x**0.5 (float exponent) and sqrt(x) == x**(1/2) (exact) are different nodes.
    node = E.pow_(x, E.const(0.5))
    assert parse(E.to_str(node)) is node
    assert parse("sqrt(x)") is E.pow_(x, E.const(Fraction(1, 2))) is not node


ALPHABET = list("xyz0123456789.+-*/^()<>=!, e_\n\t") + [
    "sin", "where", "and", "or", "not", "pi", "**", "theta1", "1e5", "lambda", "'", "[", "]", ":",
    "__import__", ".real", "if", "else", "{", "}", "#", "%", "\\", "θ", "\x00"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(st.sampled_from(ALPHABET), max_size=40).map("".join)))
def test_random_text_is_a_node_or_a_model_error_and_never_code(text):
    with no_code_execution():
        try:
            out = parse(text)
        except ModelError as err:
            assert err.line is not None and err.col is not None
            return
    assert isinstance(out, E.Node)
