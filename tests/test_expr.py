"""The expression DAG, its derivatives and the code generator, checked against SymPy.

SymPy is the independent route: our derivative of every whitelisted function is compared
with ``sympy.diff`` of the same expression, both evaluated numerically.
"""
import math

import numpy as np
import pytest
import sympy as sp

from jacli.model import _codegen, _expr as E
from jacli.model._sympy import to_sympy

x, y, z = E.symbol("x"), E.symbol("y"), E.symbol("z")

# (expression builder, point) — points inside every function's domain
CASES = [
    (lambda: E.call("sin", E.mul(x, y)), (0.7, 1.3, 0.0)),
    (lambda: E.call("cos", E.add(x, y)), (0.7, 1.3, 0.0)),
    (lambda: E.call("tan", x), (0.4, 1.0, 0.0)),
    (lambda: E.call("asin", E.mul(E.const(0.5), x)), (0.7, 1.0, 0.0)),
    (lambda: E.call("acos", E.mul(E.const(0.5), x)), (0.7, 1.0, 0.0)),
    (lambda: E.call("atan", E.mul(x, y)), (0.7, 2.0, 0.0)),
    (lambda: E.call("atan2", y, x), (0.7, -2.0, 0.0)),
    (lambda: E.call("sinh", x), (0.7, 1.0, 0.0)),
    (lambda: E.call("cosh", x), (0.7, 1.0, 0.0)),
    (lambda: E.call("tanh", E.mul(x, y)), (0.7, 1.1, 0.0)),
    (lambda: E.call("asinh", x), (0.7, 1.0, 0.0)),
    (lambda: E.call("acosh", E.add(x, y)), (0.7, 1.0, 0.0)),
    (lambda: E.call("atanh", E.mul(E.const(0.5), x)), (0.7, 1.0, 0.0)),
    (lambda: E.call("exp", E.mul(x, y)), (0.7, 1.0, 0.0)),
    (lambda: E.call("expm1", x), (1e-3, 1.0, 0.0)),
    (lambda: E.call("log", E.mul(x, y)), (0.7, 1.9, 0.0)),
    (lambda: E.call("log", x, y), (0.7, 1.9, 0.0)),
    (lambda: E.call("log1p", x), (0.7, 1.0, 0.0)),
    (lambda: E.call("log10", x), (0.7, 1.0, 0.0)),
    (lambda: E.call("log2", E.mul(x, y)), (0.7, 3.0, 0.0)),
    (lambda: E.call("sqrt", E.add(x, E.pow_(y, E.const(2)))), (0.7, 1.5, 0.0)),
    (lambda: E.call("cbrt", E.mul(x, y)), (-0.7, 1.5, 0.0)),
    (lambda: E.call("abs", E.sub(x, y)), (0.7, 1.5, 0.0)),
    (lambda: E.call("min", x, y), (0.7, 1.5, 0.0)),
    (lambda: E.call("max", x, y, z), (0.7, 1.5, -1.0)),
    (lambda: E.call("hypot", x, y), (0.7, -1.5, 0.0)),
    (lambda: E.call("erf", E.mul(x, y)), (0.7, 1.5, 0.0)),
    (lambda: E.call("erfc", x), (0.7, 1.5, 0.0)),
    (lambda: E.call("gamma", E.add(x, y)), (0.7, 1.5, 0.0)),
    (lambda: E.call("lgamma", x), (-0.7, 1.5, 0.0)),
    (lambda: E.mul(E.call("floor", x), y), (2.7, 1.5, 0.0)),
    (lambda: E.mul(E.call("ceil", y), x), (2.7, 1.5, 0.0)),
    (lambda: E.mul(E.call("sign", x), y), (-2.7, 1.5, 0.0)),
    (lambda: E.mul(E.call("heaviside", x), y), (2.7, 1.5, 0.0)),
    (lambda: E.call("where", E.compare("<", x, y), E.mul(x, x), E.call("sin", y)), (0.7, 1.5, 0.0)),
    (lambda: E.call("where", E.logical("and", E.compare(">", x, E.ZERO), E.compare("<", y, E.ONE)),
                    x, y), (0.7, 1.5, 0.0)),
    (lambda: E.pow_(x, y), (0.7, 1.5, 0.0)),
    (lambda: E.pow_(E.named_const("pi"), E.mul(x, y)), (0.7, 1.5, 0.0)),
    (lambda: E.div(E.add(x, E.const(1)), E.sub(y, x)), (0.7, 1.5, 0.0)),
    (lambda: E.pow_(E.add(x, y), E.const(-3)), (0.7, 1.5, 0.0)),
    (lambda: E.pow_(x, E.const(2.5)), (0.7, 1.5, 0.0)),
]


def _ours(expr, point, wrt):
    targets = [expr] + [E.diff(expr, w) for w in wrt]
    fn = _codegen.compile_function(_codegen.generate(targets, ["x", "y", "z"]))
    with np.errstate(all="raise"):
        vals = fn([np.array([v]) for v in point])
    return [float(np.asarray(v).reshape(-1)[0]) for v in vals]


def _reference(expr, point, wrt):
    e = to_sympy(expr)
    subs = {sp.Symbol(n, real=True): sp.Float(v, 30) for n, v in zip("xyz", point)}
    vals = [e] + [sp.diff(e, sp.Symbol(w, real=True)) for w in wrt]
    # SymPy leaves d floor(x)/dx unevaluated; it is 0 wherever it exists (as at our points).
    vals = [v.subs({d: 0 for d in v.atoms(sp.Derivative)}) for v in vals]
    return [float(sp.N(v.subs(subs), 30)) for v in vals]


@pytest.mark.parametrize("build,point", CASES, ids=[str(i) for i in range(len(CASES))])
def test_derivatives_match_sympy(build, point):
    expr = build()
    got = _ours(expr, point, ["x", "y", "z"])
    ref = _reference(expr, point, ["x", "y", "z"])
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-15, err_msg=str(expr))


def test_interning_gives_identity():
    a = E.add(E.mul(x, y), E.call("sin", x))
    b = E.add(E.call("sin", x), E.mul(y, x))
    assert a is b


def test_simplification():
    assert E.add(x, x) is E.mul(E.const(2), x)
    assert E.mul(x, x) is E.pow_(x, E.const(2))
    assert E.sub(x, x) is E.ZERO
    assert E.div(x, x) is E.ONE
    assert E.call("exp", E.call("log", x)) is x
    assert E.diff(E.mul(E.const(3), y), "x") is E.ZERO


@pytest.mark.parametrize("build", [
    lambda: E.pow_(E.const(9), E.pow_(E.const(9), E.pow_(E.const(9), E.const(9)))),
    lambda: E.pow_(E.const(2), E.const(10 ** 10)),
    lambda: E.const(10 ** 2000),
    lambda: E.pow_(E.const(10.0), E.const(400)),
])
def test_constant_folding_is_bounded(build):
    with pytest.raises(E.ExprError):
        build()


def test_unknown_function_and_arity():
    with pytest.raises(E.ExprError, match="unknown function 'sinn'"):
        E.call("sinn", x)
    with pytest.raises(E.ExprError, match="atan2"):
        E.call("atan2", x)


def test_generated_code_never_contains_user_names():
    # CSE temporaries must not collide with user names such as x0 or _t0.
    names = ["x0", "x1", "_t0", "_s0", "_a", "exp"]
    syms = [E.symbol(n) for n in names]
    expr = E.add(*[E.mul(s, E.call("exp", syms[0])) for s in syms])
    gen = _codegen.generate([expr, E.diff(expr, "x0")], names)
    for n in ("x0", "x1"):
        assert n not in gen.source
    fn = _codegen.compile_function(gen)
    vals = [np.array([float(i + 1)]) for i in range(len(names))]
    v, d = (np.ravel(t) for t in fn(vals))
    e0 = math.exp(1.0)
    assert v[0] == pytest.approx(sum(i + 1 for i in range(len(names))) * e0, rel=1e-15)
    # d/dx0 of sum_i s_i exp(x0) = exp(x0) + sum_i s_i exp(x0)
    assert d[0] == pytest.approx(e0 + sum(i + 1 for i in range(len(names))) * e0, rel=1e-15)


def test_deep_chains_do_not_recurse():
    e = x
    for _ in range(20000):
        e = E.call("sin", e)
    assert E.count_nodes(e) == 20001
    d = E.diff(e, "x")
    assert "x" in d.deps


def test_reverse_gradient_equals_forward():
    expr = E.mul(E.call("exp", E.mul(x, y)), E.call("hypot", x, z), E.call("atan2", y, z))
    rev = E.gradient_reverse(expr, ["x", "y", "z"])
    fwd = [E.diff(expr, w) for w in "xyz"]
    f1 = _codegen.compile_function(_codegen.generate(rev, ["x", "y", "z"]))
    f2 = _codegen.compile_function(_codegen.generate(fwd, ["x", "y", "z"]))
    pt = [np.array([0.3]), np.array([-1.2]), np.array([0.8])]
    np.testing.assert_allclose(np.ravel(f1(pt)), np.ravel(f2(pt)), rtol=1e-14)


def test_complex_namespace_first_order():
    # Complex-step extensions of functions NumPy does not extend (cbrt, hypot, atan2, lgamma).
    h = 1e-100
    for name, args in [("cbrt", (x,)), ("hypot", (x, y)), ("atan2", (y, x)), ("lgamma", (x,)),
                       ("erf", (x,)), ("gamma", (x,))]:
        expr = E.call(name, *args)
        gen = _codegen.generate([expr, E.diff(expr, "x")], ["x", "y"])
        real = _codegen.compile_function(gen)
        cplx = _codegen.compile_function(gen, complex_mode=True)
        pt = -0.7 if name in ("cbrt", "lgamma") else 0.7
        d_exact = real([np.array([pt]), np.array([1.3])])[1]
        v = cplx([np.array([pt + 1j * h]), np.array([1.3 + 0j])])[0]
        assert np.imag(v)[0] / h == pytest.approx(float(np.ravel(d_exact)[0]), rel=1e-14), name


def test_scalar_fast_path_matches_numpy_and_falls_back_on_domain_errors():
    # One point runs on Python floats; a domain error falls back to NumPy's NaN semantics.
    expr = E.add(E.call("log", x), E.call("sqrt", y), E.call("cbrt", z), E.call("lgamma", y),
                 E.call("where", E.compare("<", x, y), E.call("floor", y), E.call("heaviside", z)))
    fn = _codegen.compile_function(_codegen.generate([expr, E.diff(expr, "y")], ["x", "y", "z"]))
    one = fn([np.array([0.5]), np.array([2.5]), np.array([-8.0])])
    many = fn([np.array([0.5, 0.5]), np.array([2.5, 2.5]), np.array([-8.0, -8.0])])
    assert all(isinstance(v, float) for v in one)          # the fast path ran
    np.testing.assert_allclose(one, [m[0] for m in many], rtol=4e-16)
    with np.errstate(all="ignore"):
        bad = fn([np.array([-1.0]), np.array([2.5]), np.array([1.0])])   # log(-1)
    assert np.isnan(np.ravel(bad[0])[0])
    neg_pow = _codegen.compile_function(_codegen.generate([E.pow_(x, E.const(0.5))], ["x"]))
    with np.errstate(all="ignore"):
        assert np.isnan(np.ravel(neg_pow([np.array([-4.0])])[0])[0])    # never a complex number


def test_very_long_sums_and_products_compile():
    # One 5000-term sum (and product) must not hit CPython's compiler recursion limit.
    syms = [E.symbol(f"x{i}") for i in range(5000)]
    total = E.add(*[E.mul(E.const(i + 1), s) for i, s in enumerate(syms)])
    prod = E.mul(*[E.add(s, E.ONE) for s in syms[:3000]])
    names = [f"x{i}" for i in range(5000)]
    fn = _codegen.compile_function(_codegen.generate([total, prod], names))
    for pt in ([np.array([1e-4])] * 5000, [np.array([1e-4, 1e-4])] * 5000):   # scalar and array paths
        v = fn(pt)
        assert float(np.ravel(v[0])[0]) == pytest.approx(1e-4 * sum(range(1, 5001)), rel=1e-12)
        assert float(np.ravel(v[1])[0]) == pytest.approx(1.0001 ** 3000, rel=1e-12)
