"""The ``jax`` and ``torch`` backends: every function of the model language, products,
Hessians, chunking, domain errors, availability, the CLI and lazy imports.

The conformance suite runs on both in ``test_conformance.py`` (``TestJax``, ``TestTorch``).
Here each generated-code function's first and second derivatives are compared with the
``sympy`` backend's exact ones (an independent route: symbolic differentiation of jacli's
expression graph, evaluated by NumPy/SciPy), at 1e-12 relative.

Tests needing JAX or PyTorch are skipped, with the reason, where the library is missing;
CI installs both and requires them (``JACLI_REQUIRE_BACKENDS``, ``tests/test_environment.py``),
so there nothing here is skipped.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import jacli
from jacli.backends import get_backend
from jacli.backends import _xp_common as XP
from jacli.errors import BackendUnavailable
from jacli.model import _codegen, _expr, _xpcode
from helpers import run

HERE = os.path.dirname(os.path.abspath(__file__))
ARM = os.path.join(HERE, "..", "samples", "arm.toml")
LIBS = {"jax": "jax", "torch": "torch"}


def _installed(name):
    return importlib.util.find_spec(name) is not None


BACKENDS = [pytest.param(b, marks=pytest.mark.skipif(not _installed(mod), reason=f"{mod} is not installed "
                                                     f"(pip install 'jacli[{b}]')"))
            for b, mod in LIBS.items()]

RTOL = 1e-12


def _close(got, ref, what, rtol=RTOL):
    """Per entry: |got - ref| <= rtol (|ref| + 1e-3 max|ref|) — relative, with a floor for
    entries far below the largest (a cancellation in one of them is not an error)."""
    got, ref = np.asarray(got, dtype=float), np.asarray(ref, dtype=float)
    assert got.shape == ref.shape, f"{what}: shape {got.shape}, expected {ref.shape}"
    assert np.array_equal(np.isnan(got), np.isnan(ref)), f"{what}: NaN pattern differs"
    fin = np.isfinite(ref)
    scale = np.max(np.abs(ref[fin])) if fin.any() else 1.0
    np.testing.assert_allclose(got[fin], ref[fin], rtol=rtol, atol=rtol * 1e-3 * scale, err_msg=what)


# ----------------------------------------------------------------------------- the namespaces


def test_every_generated_name_is_mapped():
    """Every function the model language has (and polygamma, which derivatives produce)
    is in GENERATED_NAMES, under the name the code generator emits."""
    emitted = {_codegen._NP_NAMES.get(f, f) for f in _expr.FUNCTIONS} | set(_expr.INTERNAL_FUNCTIONS)
    emitted |= {"logical_and", "logical_or", "logical_not", "pi", "e"}
    missing = emitted - set(_xpcode.GENERATED_NAMES)
    assert not missing, f"generated names without a JAX/PyTorch function: {sorted(missing)}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_namespace_has_every_name(backend):
    ns = (_xpcode.jax_namespace if backend == "jax" else _xpcode.torch_namespace)(_xpcode.GENERATED_NAMES)
    for f in _xpcode.GENERATED_NAMES:
        key = "_" + f if f in ("pi", "e") else f
        assert key in ns, f
    assert ns["_pi"] == np.pi and ns["_e"] == np.e


# One output per function of the model language (and per branch worth checking), all
# depending on both inputs so that every first and second derivative, mixed ones included,
# is exercised.  The points keep every argument inside its function's domain and away from
# kinks, poles and branch cuts (x != y, x*y < 1, gamma's argument in (-2, -1) and > 0).
EVERY_FUNCTION = {
    "sin": "sin(x*y)", "cos": "cos(x*y)", "tan": "tan(x*y)",
    "asin": "asin(x*y)", "acos": "acos(x*y)", "atan": "atan(x*y)",
    "atan2": "atan2(y, x)", "atan2_q3": "atan2(y - 1, x - 1)",
    "sinh": "sinh(x*y)", "cosh": "cosh(x*y)", "tanh": "tanh(x*y)",
    "asinh": "asinh(x - y)", "acosh": "acosh(1 + x + y)", "atanh": "atanh(x*y)",
    "exp": "exp(x*y)", "expm1": "expm1(x*y)", "log": "log(x + y)", "log_base": "log(x + 2, y + 2)",
    "log1p": "log1p(x*y)", "log10": "log10(x + y)", "log2": "log2(x + y)",
    "sqrt": "sqrt(x + y)", "cbrt": "cbrt(x - y)", "cbrt_pos": "cbrt(x + y)",
    "abs": "abs(x - y)*y", "sign": "sign(x - y)*x*y", "min": "min(x, y)*x", "max": "max(x, y, 0.5)*y",
    "hypot": "hypot(x, y)", "erf": "erf(x*y)", "erfc": "erfc(x + y)",
    "gamma": "gamma(x + y)", "gamma_neg": "gamma(x*y - 1.6)",
    "lgamma": "lgamma(x + y)", "lgamma_neg": "lgamma(x*y - 1.6)",
    "floor": "floor(7*x + y)*y", "ceil": "ceil(7*x + y)*x",
    "heaviside": "heaviside(x - y)*x*y", "heaviside_h0": "heaviside(x - y, 0.3)*(x + y)",
    "where": "where(x > y, x*y, x + y*y)",
    "where_logic": "where(x > 0.5 and y < 0.6, sin(x*y), cos(x + y))",
    "where_not_or": "where(not (x < y) or y > 0.7, x*x*y, y*y*x)",
    "constants": "pi*x*y + e*y",
    "pow": "x**y", "pow_const": "(x + y)**2.5", "pow_neg": "(x + y)**-3",
}
POINTS = np.array([[0.3, 0.4], [0.6, 0.8], [0.7, 0.45]])


def _every_function_model():
    return jacli.model_from_expressions(", ".join(f"f_{k} = {v}" for k, v in EVERY_FUNCTION.items()),
                                        inputs=["x", "y"])


@pytest.fixture(scope="module")
def every_function():
    model = _every_function_model()
    ref = {"jacobian": jacli.jacobian(model, POINTS, backend="sympy"),
           "hessian": jacli.hessian(model, POINTS, backend="sympy", outputs=list(model.output_names))}
    assert ref["jacobian"].ok and ref["hessian"].ok
    return model, ref


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_function_first_and_second_derivatives(backend, every_function):
    """Values, Jacobians, Hessians and gradients of every function = sympy's, 1e-12 relative."""
    model, ref = every_function
    r = jacli.jacobian(model, POINTS, backend=backend)
    assert r.ok and r.exact and r.error is None
    h = jacli.hessian(model, POINTS, backend=backend, outputs=list(model.output_names))
    assert h.ok
    names = model.output_names
    for i, name in enumerate(names):
        what = f"{backend}: {name} = {EVERY_FUNCTION[name[2:]]}"
        _close(r.value[:, i], ref["jacobian"].value[:, i], what + ": value")
        _close(r.derivative[:, i], ref["jacobian"].derivative[:, i], what + ": jacobian")
        _close(h.derivative[:, i], ref["hessian"].derivative[:, i], what + ": hessian")
        _close(h.extra["gradient"][:, i], ref["hessian"].extra["gradient"][:, i], what + ": gradient")
    assert np.array_equal(h.derivative, np.swapaxes(h.derivative, 2, 3)), "Hessians must be exactly symmetric"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", [0, 1, 2])
def test_polygamma(backend, n):
    """polygamma (only in derivative code, never in a model file) = SciPy's."""
    import scipy.special as sp

    ns = (_xpcode.jax_namespace if backend == "jax" else _xpcode.torch_namespace)(["polygamma"])
    x = np.array([0.3, 1.7, 4.2, 12.5])
    if backend == "jax":
        import jax.numpy as jnp
        got = np.asarray(ns["polygamma"](n, jnp.asarray(x)))
    else:
        import torch
        got = ns["polygamma"](n, torch.from_numpy(x)).numpy()
    rtol = 1e-12 if backend == "jax" or n != 1 else 1e-9   # PyTorch's own trigamma: ~5e-10
    np.testing.assert_allclose(got, sp.polygamma(n, x), rtol=rtol)


def test_torch_trigamma_is_accurate():
    """jacli's trigamma for PyTorch (used for lgamma's second derivative) = SciPy's, ~1e-15."""
    pytest.importorskip("torch", reason="torch is not installed (pip install 'jacli[torch]')")
    import scipy.special as sp
    import torch

    x = np.array([-2.7, -0.3, 0.2, 0.5, 0.9, 1.7, 2.6, 9.99, 10.0, 55.0, 1e4])
    got = _xpcode._torch_trigamma(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, sp.polygamma(1, x), rtol=5e-15)


# ----------------------------------------------------------------------------- operators on models


PRODUCT_MODELS = {
    "arm": (ARM, None, [[0.3, 1.2], [-0.7, 2.1], [1.1, -0.4]]),
    "lorenz": (os.path.join(HERE, "..", "samples", "lorenz.toml"), None,
               [[1.0, 2.0, 3.0], [-4.0, 0.5, 20.0], [0.1, -0.2, 0.3]]),
}


@pytest.fixture(scope="module")
def product_models():
    out = {}
    for key, (path, wrt, pts) in PRODUCT_MODELS.items():
        model = jacli.load_model(path)
        wrt = tuple(model.input_names) + tuple(model.parameter_names)[:1]   # a parameter too
        out[key] = (model, wrt, np.array(pts))
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("key", list(PRODUCT_MODELS))
def test_products_and_hessians_match_sympy(backend, key, product_models):
    """jacobian, jvp, vjp, hessian (+ gradient), hvp w.r.t. inputs and a parameter = sympy's."""
    model, wrt, X = product_models[key]
    rng = np.random.default_rng(3)
    k, m = len(wrt), len(model.outputs)
    V, U = rng.uniform(-1, 1, (len(X), k)), rng.uniform(-1, 1, (len(X), m))
    for op, vec in (("jacobian", None), ("jvp", V), ("vjp", U), ("hessian", None), ("hvp", V)):
        fn = getattr(jacli, op)
        kw = {} if vec is None else {"vector": vec}
        got = fn(model, X, wrt=wrt, backend=backend, **kw)
        ref = fn(model, X, wrt=wrt, backend="sympy", **kw)
        assert got.ok, (op, got.messages)
        _close(got.value, ref.value, f"{backend} {key} {op}: value")
        _close(got.derivative, ref.derivative, f"{backend} {key} {op}")
        if op == "hessian":
            _close(got.extra["gradient"], ref.extra["gradient"], f"{backend} {key} hessian gradient")


@pytest.mark.parametrize("backend", BACKENDS)
def test_sumsq_hessian(backend):
    """The Gauss-Newton split of ½‖f‖² on the Puromycin residuals = sympy's."""
    path = os.path.join(HERE, "..", "samples", "puromycin_residuals.toml")
    got = jacli.hessian(path, None, of="sumsq", backend=backend)
    ref = jacli.hessian(path, None, of="sumsq", backend="sympy")
    _close(got.derivative, ref.derivative, "sumsq hessian")
    for key in ("gauss_newton", "neglected", "gradient"):
        _close(got.extra[key], ref.extra[key], f"sumsq {key}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_with_points_outside_the_domain(backend):
    """Points outside the domain are DOMAIN_ERROR with the failing function named; the rest
    are right; derivatives at failed points are NaN."""
    model = jacli.model_from_expressions("u = log(x)*y, v = sqrt(y - x)")
    X = np.array([[1.5, 2.0], [-1.0, 2.0], [0.5, 3.0], [3.0, 1.0], [2.0, 2.5]])
    for op in ("jacobian", "hessian"):
        got = getattr(jacli, op)(model, X, backend=backend)
        ref = getattr(jacli, op)(model, X, backend="sympy")
        assert got.status.tolist() == [0, 2, 0, 2, 0] == ref.status.tolist(), got.messages
        assert "log(x)" in got.messages[1] and "sqrt" in got.messages[3]
        assert np.isnan(got.derivative[[1, 3]]).all()
        _close(got.derivative[[0, 2, 4]], ref.derivative[[0, 2, 4]], f"{backend} {op}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_finite_derivative_at_a_finite_value(backend):
    """sqrt at 0: a finite value with an infinite derivative is NONFINITE, not ok."""
    model = jacli.model_from_expressions("sqrt(x)*y")
    r = jacli.jacobian(model, [[0.0, 1.0], [4.0, 1.0]], backend=backend)
    assert r.status.tolist() == [int(jacli.Status.NONFINITE), 0], r.messages
    assert r.derivative[1, 0].tolist() == [0.25, 2.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_chunks_and_direction_blocks(backend, monkeypatch):
    """Tiny chunk limits (many chunks, padded ones, Jacobians in blocks of directions,
    forward and reverse) give exactly what one chunk gives."""
    model = jacli.model_from_expressions("a = x*y*z, b = sin(x) + y, c = exp(z)*x", inputs=["x", "y", "z"])
    wide = jacli.model_from_expressions("s = x*y + z*z", inputs=["x", "y", "z"])
    X = np.random.default_rng(0).uniform(0.1, 2.0, (37, 3))
    V, U = np.ones((37, 3)), np.ones((37, 3))
    full = {}
    for i, m in enumerate((model, wide)):
        full[i] = [jacli.jacobian(m, X, backend=backend), jacli.hessian(m, X, backend=backend, outputs=m.output_names)]
    full["jvp"] = jacli.jvp(model, X, V, backend=backend)
    full["vjp"] = jacli.vjp(model, X, U, backend=backend)
    monkeypatch.setattr(XP, "CHUNK_ENTRIES", 8)     # 9 entries per point: direction blocks of 2
    for i, m in enumerate((model, wide)):
        j = jacli.jacobian(m, X, backend=backend)
        h = jacli.hessian(m, X, backend=backend, outputs=m.output_names)
        np.testing.assert_array_equal(j.derivative, full[i][0].derivative)
        np.testing.assert_array_equal(j.value, full[i][0].value)
        np.testing.assert_allclose(h.derivative, full[i][1].derivative, rtol=1e-15)
    monkeypatch.setattr(XP, "CHUNK_ENTRIES", 60)    # chunks of 4-8 points, the last one padded
    assert len(XP._chunks(37, 15, XP.library(get_backend(backend).library_class))) == 10
    np.testing.assert_array_equal(jacli.jvp(model, X, V, backend=backend).derivative, full["jvp"].derivative)
    np.testing.assert_array_equal(jacli.vjp(model, X, U, backend=backend).derivative, full["vjp"].derivative)


def test_bucket_sizes():
    """Padded chunk sizes: 8, 64, 512, then powers of two, capped."""
    assert [XP._bucket(n, 2 ** 15, 8) for n in (1, 8, 9, 64, 65, 512, 513, 1500, 5000)] == \
        [8, 8, 64, 64, 512, 512, 1024, 2048, 8192]
    assert XP._bucket(40000, 2 ** 15, 8) == 2 ** 15
    assert XP._bucket(3, 2 ** 15, 1) == 8 and XP._bucket(1, 2 ** 15, 1) == 1


def _jit_choices(eng):
    """Compile-or-not decisions of an engine's jacobian kernels (jit=auto)."""
    return {c for key, k in eng._kernels.items() if key[0] == "jacobian" for c in k.choice.values()}


def test_jax_compiles_small_programs_and_runs_huge_ones_uncompiled(monkeypatch):
    """jit=auto compiles unless the traced program is larger than JIT_MAX_EQNS; jit=no and
    a forced eager run give the same numbers."""
    pytest.importorskip("jax", reason="jax is not installed (pip install 'jacli[jax]')")
    from jacli.backends import jax_ad

    model = jacli.model_from_expressions("u = x*exp(y), v = atan2(y, x)")
    X = np.array([[0.5, 1.0], [2.0, -1.0]])
    ref = jacli.jacobian(model, X, backend="jax")
    eng = get_backend("jax").prepare(model, "jacobian").data
    assert _jit_choices(eng) == {True}
    monkeypatch.setattr(jax_ad, "JIT_MAX_EQNS", 0)
    m2 = jacli.model_from_expressions("u = x*exp(y), v = atan2(y, x) + 0")   # a fresh engine
    r = jacli.jacobian(m2, X, backend="jax")
    eng2 = get_backend("jax").prepare(m2, "jacobian").data
    assert _jit_choices(eng2) == {False}
    np.testing.assert_allclose(r.derivative, ref.derivative, rtol=1e-15)
    r = jacli.jacobian(model, X, backend="jax:jit=no")
    assert r.backend == "jax:jit=no"
    np.testing.assert_allclose(r.derivative, ref.derivative, rtol=1e-15)


# ----------------------------------------------------------------------------- Python models


PY_MODEL = '''
from array_api_compat import array_namespace

INPUTS = {"x": 0.5, "y": 1.5}
PARAMETERS = {"k": 2.0}
OUTPUTS = ["a", "b"]


def f(x, y, k):
    xp = array_namespace(x)
    return [k * xp.sin(x) * y, xp.exp(-x * y) + xp.log(y)]
'''


@pytest.mark.parametrize("backend", BACKENDS)
def test_python_model(backend, tmp_path):
    """A Python-function model directly under JAX/PyTorch = the hand-derived derivatives."""
    path = tmp_path / "pm.py"
    path.write_text(PY_MODEL)
    model = jacli.load_model(str(path))
    X = np.array([[0.5, 1.5], [1.2, 0.3], [-0.4, 2.0]])
    r = jacli.jacobian(model, X, wrt=["x", "y", "k"], backend=backend)
    x, y, k = X[:, 0], X[:, 1], 2.0
    J = np.stack([np.stack([k * np.cos(x) * y, k * np.sin(x), np.sin(x) * y], 1),
                  np.stack([-y * np.exp(-x * y), -x * np.exp(-x * y) + 1 / y, 0 * x], 1)], 1)
    _close(r.derivative, J, f"{backend}: python model jacobian")
    h = jacli.hessian(model, X, backend=backend, outputs=["b"])
    e = np.exp(-x * y)
    H = np.stack([np.stack([y * y * e, (x * y - 1) * e], 1), np.stack([(x * y - 1) * e, x * x * e - 1 / y ** 2], 1)], 1)
    _close(h.derivative[:, 0], H, f"{backend}: python model hessian")
    bad = jacli.jacobian(model, [[0.5, -1.0]], backend=backend)
    assert int(bad.status[0]) == int(jacli.Status.DOMAIN_ERROR)


# ----------------------------------------------------------------------------- availability, CLI, imports


@pytest.mark.parametrize("name, module", list(LIBS.items()))
def test_unavailable_when_library_missing(name, module, monkeypatch, capsys):
    """Without the library: available() says how to install it; the CLI exits 4 with that line."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == module else real(n, *a))
    from jacli.backends import backend_class

    ok, why = backend_class(name).available()
    assert not ok and f"pip install 'jacli[{name}]'" in why and module in why
    with pytest.raises(BackendUnavailable, match=rf"backend '{name}' is not available: .*jacli\[{name}\]"):
        get_backend(name)
    code, out, err = run(capsys, monkeypatch, "jacobian", ARM, "-b", name)
    assert code == 4 and out == ""
    assert err.startswith(f"jacli: error: backend '{name}' is not available") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_cli_jacobian_json(backend, capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "jacobian", ARM, "-b", backend, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    code, ref, _ = run(capsys, monkeypatch, "jacobian", ARM, "--format", "json")
    ref = json.loads(ref)
    assert doc["backend"] == backend and doc["exact"] is True
    _close(doc["jacobian"], ref["jacobian"], "CLI jacobian")


def test_backends_listed_without_importing_libraries():
    """`import jacli`, loading the backend classes and listing backends import neither library."""
    code = ("import sys, jacli\nfrom jacli.backends import backend_info, backend_class\n"
            "rows = {r['name']: r for r in backend_info()}\n"
            "backend_class('jax'); backend_class('torch')\n"
            "print(sorted(k for k in ('jax', 'torch') if k in rows))\n"
            "print(sorted(k for k in ('jax', 'jaxlib', 'torch') if k in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    listed, imported = out.stdout.strip().splitlines()
    assert listed == "['jax', 'torch']" and imported == "[]"


@pytest.mark.parametrize("backend", BACKENDS)
def test_python_model_that_cannot_be_traced(backend, tmp_path, capsys, monkeypatch):
    """Python ``if`` on a value cannot run under JAX/PyTorch transformations: exit 4 with one
    line naming the user's line and what to do, no traceback."""
    path = tmp_path / "branchy.py"
    path.write_text('INPUTS = {"x": 0.5, "y": 1.5}\n\n\ndef f(x, y):\n    if x > 0:\n'
                    '        return [x * y, y]\n    return [-x * y, y]\n')
    code, out, err = run(capsys, monkeypatch, "jacobian", str(path), "-b", backend)
    assert code == 4 and out == "", err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"backend '{backend}' cannot run" in lines[0] and "branchy.py:5" in lines[0]
    assert "--backend fd" in lines[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_where_discarding_an_undefined_branch(backend):
    """where(x > 0, sqrt(x), 0) at x < 0: values and forward-mode products are right; reverse
    mode (Jacobians with more inputs than outputs, Hessians) meets 0 * NaN in the discarded
    branch's pull-back, as in any AD tool: the point is NONFINITE, never a wrong number."""
    model = jacli.model_from_expressions("where(x > 0, sqrt(x), 0)*y", inputs=["x", "y"])
    X = np.array([[-1.0, 2.0], [4.0, 1.0]])
    jv = jacli.jvp(model, X, [[1.0, 0.0], [1.0, 0.0]], backend=backend)
    assert jv.ok and jv.derivative[:, 0].tolist() == [0.0, 0.25]
    r = jacli.jacobian(model, X, backend=backend)
    assert r.value[:, 0].tolist() == [0.0, 2.0]
    assert r.status.tolist() == [int(jacli.Status.NONFINITE), 0] and r.derivative[1, 0].tolist() == [0.25, 2.0]


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_hvp_function_at_a_fixed_point_matches_sympy(backend):
    """hvp_function uses the AD backends' hvp_operator (the point compiled in as a constant):
    the products equal the exact Hessian times V, with parameters and a wrt subset too."""
    pytest.importorskip(backend)
    import os

    m = jacli.load_model(os.path.join(os.path.dirname(__file__), "..", "samples", "arm.toml"))
    m = m.select_outputs(["x"])
    V = np.array([[1.0, -2.0], [0.5, 3.0], [0.0, 1.0]])
    for wrt in (None, ["theta2", "l1", "l2"]):
        at = {"theta1": 0.7, "theta2": -0.4}
        hv, k, names = jacli.hvp_function(m, at, wrt=wrt, backend=backend)
        H = jacli.hessian(m, at, wrt=wrt, backend="sympy").derivative[0, 0]
        W = V[:k]
        np.testing.assert_allclose(hv(W), H @ W, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(hv(W[:, 0]), H @ W[:, 0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_products_over_several_chunks_match_sympy(backend):
    """A batch larger than one chunk (pipelined chunks, the last padded): NumPy arrays go
    straight into the compiled programs, whose generated code must still run there."""
    pytest.importorskip(backend)
    m = jacli.model_from_expressions("sin(x)*y + where(x > 0.5, exp(y), 0), where(y < 1, x^2, hypot(x, y))")
    rng = np.random.default_rng(3)
    N = 70_001
    X = rng.uniform(-2, 2, (N, 2))
    U = rng.standard_normal((N, 2))
    ref = jacli.vjp(m, X, U, backend="sympy")
    got = jacli.vjp(m, X, U, backend=backend)
    np.testing.assert_allclose(got.derivative, ref.derivative, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got.value, ref.value, rtol=1e-13, atol=1e-13)
