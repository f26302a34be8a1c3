"""Python-function models (``model.py:f``): loading rules, names and shapes, errors, and
derivatives against hand-derived references (tangent-linear RK4, back-propagation, the
Rosenbrock gradient) and against the same model written as TOML.

The conformance suite runs the Python versions of its scenarios on every backend that
declares ``python_models`` (tests/test_conformance.py); these tests cover the rest.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers import run

import jacli
from jacli.errors import CapabilityError, ModelError, UsageError
from jacli.results import Status

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def write(tmp_path, text, name="model.py"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def one_line_error(code, err, want_code, pattern):
    """exit code, exactly one line on stderr starting 'jacli: error: ', matching pattern, no traceback."""
    import re

    assert code == want_code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("jacli: error: "), err
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in err


# ----------------------------------------------------------------------------- loading rules


def test_function_choice(tmp_path):
    p = write(tmp_path, """
        def g(a=1.0):
            return a
        def f(a=2.0):
            return 2 * a
        """)
    assert jacli.load_model(str(p)).function.func_name == "f"
    assert jacli.load_model(f"{p}:g").nominal == (1.0,)
    p2 = write(tmp_path, """
        import math
        from math import sin
        def _helper(x):
            return x
        def model(a=1.0):
            return _helper(a)
        def other(a=1.0):
            return a
        """, "m2.py")
    assert jacli.load_model(str(p2)).function.func_name == "model"
    p3 = write(tmp_path, """
        from math import sin
        def energy(v=1.0):
            return 0.5 * v * v
        """, "m3.py")
    assert jacli.load_model(str(p3)).function.func_name == "energy"   # the only public function
    p4 = write(tmp_path, """
        def a(x=1.0):
            return x
        def b(x=1.0):
            return x
        """, "m4.py")
    with pytest.raises(ModelError, match=r"m4\.py: which function\? .* its functions: a, b$"):
        jacli.load_model(str(p4))
    with pytest.raises(ModelError, match=r"m4\.py: no function 'aa' in the file \(did you mean 'a'\?\); "
                                         r"its functions: a, b"):
        jacli.load_model(f"{p4}:aa")


def test_inputs_from_INPUTS_one_array_argument(tmp_path):
    p = write(tmp_path, """
        INPUTS = {"a": 1.0, "b": {"value": 2.0, "sigma": 0.1, "unit": "m"}}
        def f(x):
            return [x[0] * x[1], x[0] + x[1]]
        """)
    m = jacli.load_model(str(p))
    assert m.kind == "python" and m.function.calling == "vector"
    assert m.input_names == ("a", "b") and m.nominal == (1.0, 2.0)
    assert m.inputs[1].sigma == 0.1 and m.inputs[1].unit == "m"
    assert m.output_names == ("y[0]", "y[1]") and m.definitions == ()
    assert all(eq.expr is None for eq in m.outputs)
    r = jacli.jacobian(m, {"a": 3.0, "b": -2.0}, backend="sympy")
    np.testing.assert_array_equal(r.derivative[0], [[-2.0, 3.0], [1.0, 1.0]])


def test_inputs_from_signature_defaults(tmp_path):
    p = write(tmp_path, """
        def f(a=1.5, w=[0.5, -1.0], n=3, flag=True, label=None, ints=[1, 2]):
            return a * w[0] + w[1] ** 2 * n
        """)
    m = jacli.load_model(str(p))
    # float and float-array defaults are inputs; int, bool, None and int lists are left alone
    assert m.input_names == ("a", "w[0]", "w[1]") and m.nominal == (1.5, 0.5, -1.0)
    assert m.function.calling == "named" and m.function.input_shapes == {"a": (), "w": (2,)}
    assert m.output_names == ("y",)
    r = jacli.jacobian(m, backend="sympy")
    np.testing.assert_allclose(r.derivative[0], [[0.5, 1.5, 2 * -1.0 * 3]], rtol=1e-15)


def test_inputs_option_count_and_names(tmp_path):
    p = write(tmp_path, """
        def f(x, s=2.0):
            return [s * x[0] * x[1], x[1] - x[0]]
        """)
    m = jacli.load_model(str(p), inputs=2)
    assert m.input_names == ("x[0]", "x[1]") and m.nominal == (0.0, 0.0)     # zeros by default
    assert m.function.input_shapes == {"x": (2,)}
    m = jacli.load_model(str(p), inputs="3")
    assert len(m.inputs) == 3
    m = jacli.load_model(str(p), inputs="u,v")          # names not in the signature: one array
    assert m.input_names == ("u", "v") and m.function.calling == "vector"
    r = jacli.jacobian(m, {"u": 2.0, "v": 5.0}, backend="sympy")
    np.testing.assert_array_equal(r.derivative[0], [[10.0, 4.0], [-1.0, 1.0]])
    q = write(tmp_path, """
        def f(a, b=4.0):
            return a * b
        """, "named.py")
    m = jacli.load_model(str(q), inputs="b,a")          # names of its parameters: named, in this order
    assert m.input_names == ("b", "a") and m.nominal == (4.0, 0.0) and m.function.calling == "named"
    with pytest.raises(UsageError, match=r"--inputs: the count must be between 1 and"):
        jacli.load_model(str(p), inputs="0")
    with pytest.raises(UsageError, match=r"--inputs: '1a' is not a valid input name"):
        jacli.load_model(str(p), inputs="1a,b")


def test_parameters_and_wrt(tmp_path):
    p = write(tmp_path, """
        INPUTS = {"x": 2.0}
        PARAMETERS = {"k": 3.0, "W": [[1.0, 2.0], [3.0, 4.0]]}
        def f(x, k, W):
            return k * x ** 2 + W[0, 1] * x
        """)
    m = jacli.load_model(str(p))
    assert m.parameter_names == ("k", "W[0,0]", "W[0,1]", "W[1,0]", "W[1,1]")
    r = jacli.jacobian(m, wrt=["x", "k", "W[0,1]"], backend="sympy")
    np.testing.assert_allclose(r.derivative[0], [[2 * 3.0 * 2.0 + 2.0, 4.0, 2.0]], rtol=1e-15)
    r = jacli.jacobian(m, wrt=["x", "k"], backend="fd", params={"k": -1.0})
    np.testing.assert_allclose(r.derivative[0], [[-4.0 + 2.0, 4.0]], rtol=1e-9)
    assert r.params["k"] == -1.0


def test_outputs_declared_and_returned(tmp_path):
    p = write(tmp_path, """
        INPUTS = {"a": 1.0, "b": 2.0}
        OUTPUTS = ["p", "q", "r"]
        def f(a, b):
            return (a * b, [a + b, a - b])          # nested sequences are flattened in order
        """)
    assert jacli.load_model(str(p)).output_names == ("p", "q", "r")
    p = write(tmp_path, """
        INPUTS = {"a": 1.0}
        OUTPUTS = {"M": [2, 2], "s": []}
        def f(a):
            return [[a, 2 * a], [3 * a, 4 * a]], a * a
        """, "m2.py")
    m = jacli.load_model(str(p))
    assert m.output_names == ("M[0,0]", "M[0,1]", "M[1,0]", "M[1,1]", "s")
    assert m.function.output_shapes == {"M": (2, 2), "s": ()}
    p = write(tmp_path, """
        INPUTS = {"a": 1.0, "b": 2.0}
        def f(a, b):
            return {"prod": a * b, "pair": [a, b]}
        """, "m3.py")
    m = jacli.load_model(str(p))
    assert m.output_names == ("prod", "pair[0]", "pair[1]")
    r = jacli.jacobian(m, {"a": 3.0}, backend="complex")
    np.testing.assert_allclose(r.derivative[0], [[2.0, 3.0], [1.0, 0.0], [0.0, 1.0]], rtol=1e-15)
    p = write(tmp_path, """
        import numpy as np
        INPUTS = {"a": 1.0}
        OUTPUTS = "z"
        def f(a):
            return np.array([[a, a], [a, a], [a, a]]) * 2
        """, "m4.py")
    m = jacli.load_model(str(p))
    assert m.output_names[:2] == ("z[0,0]", "z[0,1]") and m.function.output_shapes == {"z": (3, 2)}


def test_select_outputs_and_hessian(tmp_path):
    p = write(tmp_path, """
        INPUTS = {"a": 1.0, "b": 2.0}
        OUTPUTS = ["p", "q"]
        def f(a, b):
            return [a * a * b, a + b ** 3]
        """)
    m = jacli.load_model(str(p))
    for be in ("sympy", "fd", "complex"):
        r = jacli.hessian(m, {"a": 1.5, "b": -0.5}, outputs=["q"], backend=be)
        assert r.outputs == ("q",)
        tol = 1e-12 if be == "sympy" else 1e-6
        np.testing.assert_allclose(r.derivative[0, 0], [[0.0, 0.0], [0.0, 6 * -0.5]], atol=tol)
        np.testing.assert_allclose(r.value[0], [1.5 - 0.125], rtol=1e-15)


def test_fingerprint_follows_the_file(tmp_path):
    text = "def f(a=1.0):\n    return a * {}\n"
    p = tmp_path / "m.py"
    p.write_text(text.format(2))
    f1 = jacli.load_model(str(p)).fingerprint
    assert jacli.load_model(str(p)).fingerprint == f1
    p.write_text(text.format(3))
    m = jacli.load_model(str(p))
    assert m.fingerprint != f1
    assert jacli.jacobian(m, backend="sympy").derivative[0, 0, 0] == 3.0   # no stale cached code


def test_module_does_not_stay_imported(tmp_path):
    p = write(tmp_path, "import sys\nFOLDER_FIRST = sys.path[0]\ndef f(a=1.0):\n    return a\n")
    before = set(sys.modules)
    path0 = list(sys.path)
    m = jacli.load_model(str(p))
    assert not [n for n in set(sys.modules) - before if n.startswith("_jacli_model")]
    assert sys.path == path0
    assert m.function.func.__globals__["FOLDER_FIRST"] == str(tmp_path.resolve())


# ----------------------------------------------------------------------------- errors


ERROR_CASES = [
    # (file text or None for a missing file, extra args, exit code, pattern of the one line)
    (None, [], 3, r"nofile\.py: no such file$"),
    ("def f(a=1.0):\n    return a +\n", [], 3, r"model\.py:2:\d+: syntax error: invalid syntax"),
    ("import math\nx = 1 / 0\ndef f(a=1.0):\n    return a\n", [], 3,
     r"model\.py:2: running the file raised ZeroDivisionError: division by zero$"),
    ("INPUTS = {'a': 1.0}\nOUTPUTS = ['p', 'q', 'r']\ndef f(a):\n    return [a, a]\n", [], 3,
     r"model\.py:2: OUTPUTS: OUTPUTS names 3 numbers but f returned 2 at the nominal point$"),
    ("def f(a=1.0):\n    return 'abc'\n", [], 3,
     r"model\.py: f returned a string \('abc'\); expected a number, a sequence or an array of numbers"),
    ("def f(a=1.0):\n    return None\n", [], 3, r"f returned None; expected a number"),
    ("INPUTS = [1.0, 2.0]\ndef f(x):\n    return x\n", [], 3,
     r"model\.py:1: INPUTS: expected a dict \{name: value\}, got a list"),
    ("INPUTS = {'a': 'one'}\ndef f(a):\n    return a\n", [], 3,
     r"model\.py:1: INPUTS\.a: expected a number or an array of numbers, got a string"),
    ("INPUTS = {'a': [[1.0, 2.0], [3.0]]}\ndef f(a):\n    return a\n", [], 3,
     r"INPUTS\.a: expected a number or a \(nested\) list of numbers of a regular shape"),
    ("INPUTS = {'a': 1.0}\ndef f(a):\n    return a\n", ["--inputs", "2"], 3,
     r"model\.py:1: INPUTS: --inputs conflicts with INPUTS in the file"),
    ("def f(x):\n    return x[0]\n", [], 3,
     r"parameter 'x' has no default, so jacli does not know the inputs; set INPUTS"),
    ("import math\ndef f(a=-1.0):\n    return math.sqrt(a)\n", [], 3,
     r"model\.py:3: f raised at the nominal point: model\.py:3 in f: ValueError: math domain error"),
    ("INPUTS = {'a': 1.0}\nPARAMETERS = {'k': 2.0}\ndef f(a):\n    return a\n", [], 3,
     r"model\.py:2: PARAMETERS: 'k' is not a parameter of f\(a\)"),
    ("INPUTS = {'a': 1.0, 'b': 2.0}\ndef f(a, c):\n    return a\n", [], 3,
     r"f\(a, c\) has no parameter 'b'"),
    ("def f(a=1.0):\n    return a\n", ["--inputs", "0"], 2, r"--inputs: the count must be between 1"),
]


@pytest.mark.parametrize("text, extra, want, pattern", ERROR_CASES,
                         ids=[f"case{i}" for i in range(len(ERROR_CASES))])
def test_bad_model_is_one_line(tmp_path, monkeypatch, capsys, text, extra, want, pattern):
    monkeypatch.chdir(tmp_path)
    name = "nofile.py" if text is None else "model.py"
    if text is not None:
        (tmp_path / name).write_text(text)
    code, out, err = run(capsys, monkeypatch, "jacobian", name, "-b", "fd", *extra)
    one_line_error(code, err, want, pattern)
    assert out == ""


def test_no_function_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text("def g(a=1.0):\n    return a\n")
    code, out, err = run(capsys, monkeypatch, "jacobian", "m.py:h")
    one_line_error(code, err, 3, r"m\.py: no function 'h' in the file; its functions: g$")


def test_debug_shows_the_traceback(tmp_path, monkeypatch, capsys):
    """With --debug the error is re-raised: its cause is the user's exception, with their frames."""
    import traceback

    from jacli.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text("def helper():\n    raise KeyError('boom')\nhelper()\n")
    with pytest.raises(ModelError, match=r"m\.py:2: running the file raised KeyError: 'boom'") as exc:
        main(["--debug", "jacobian", "m.py"])
    cause = exc.value.__cause__
    assert isinstance(cause, KeyError)
    frames = [(Path(fs.filename).name, fs.lineno) for fs in traceback.extract_tb(cause.__traceback__)]
    assert ("m.py", 3) in frames and ("m.py", 2) in frames


def test_inputs_option_for_toml_is_refused(monkeypatch, capsys):
    code, out, err = run(capsys, monkeypatch, "jacobian", str(SAMPLES / "arm.toml"), "--inputs", "2")
    one_line_error(code, err, 2, r"--inputs applies to -e and Python \(\.py\) models only")


# ----------------------------------------------------------------------------- per-point failures


RAISES = """
import math
INPUTS = {"x": 1.0, "y": 2.0}
OUTPUTS = ["g"]
def f(x, y):
    if x < 0:
        raise ValueError(f"x must be >= 0, got {float(x)}")
    return math.sqrt(x) * y
"""


def test_a_point_where_the_code_raises(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, RAISES)
    m = jacli.load_model("model.py")
    X = [[1.0, 2.0], [-1.0, 2.0], [4.0, 1.0]]
    r = jacli.jacobian(m, X, backend="fd")
    assert r.status.tolist() == [Status.OK, Status.USER_ERROR, Status.OK]
    assert Status.USER_ERROR.label == "user_error"
    assert r.messages[1] == "model.py:7 in f: ValueError: x must be >= 0, got -1.0"
    assert np.isnan(r.value[1]).all() and np.isnan(r.derivative[1]).all()
    # d/dx sqrt(x) y = y / (2 sqrt(x)), d/dy = sqrt(x)
    want = np.array([[[2.0 / 2.0, 1.0]], [[np.nan, np.nan]], [[1.0 / 4.0, 2.0]]])
    ok = [0, 2]
    assert (np.abs(r.derivative[ok] - want[ok]) <= r.error[ok] + 1e-14).all()
    # the same point alone is the same failure
    one = jacli.jacobian(m, X[1], backend="fd")
    assert one.status.tolist() == [Status.USER_ERROR] and one.messages == r.messages[1:2]
    from jacli.errors import PointsFailed

    with pytest.raises(PointsFailed, match=r"point 1: model\.py:7 in f: ValueError"):
        jacli.jacobian(m, X, backend="fd", throw=True)


def test_raising_point_in_a_cli_batch(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, RAISES)
    (tmp_path / "pts.csv").write_text("x,y\n1,2\n-1,2\n4,1\n")
    code, out, err = run(capsys, monkeypatch, "jacobian", "model.py", "-b", "fd", "--points", "pts.csv",
                         "--format", "jsonl")
    assert code == 5
    lines = [json.loads(s) for s in out.splitlines()]
    assert [d["status"] for d in lines] == ["ok", "user_error", "ok"]
    assert lines[1]["message"] == "model.py:7 in f: ValueError: x must be >= 0, got -1.0"
    assert lines[1]["jacobian"] == [[None, None]]
    assert err.strip() == ("jacli: error: 1 point failed (see their status and message in the output); "
                           "the others were written")
    code, out, err = run(capsys, monkeypatch, "jacobian", "model.py", "-b", "fd", "--at=x=-2")
    one_line_error(code, err, 5, r"model\.py:7 in f: ValueError: x must be >= 0, got -2\.0$")


def test_wrong_return_size_at_a_point(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, """
        INPUTS = {"n": 2.0}
        def f(n):
            return [1.0 * n] * (2 if n < 3 else 3)
        """)
    m = jacli.load_model("model.py")
    r = jacli.jacobian(m, [[1.0], [5.0]], backend="fd")
    assert r.status.tolist() == [Status.OK, Status.USER_ERROR]
    assert r.messages[1] == "model.py:f returned 3 numbers, expected 2 (outputs y (shape [2]))"


# ----------------------------------------------------------------------------- backends that cannot run it


MATH = """
import math
INPUTS = {"a": 0.5, "b": 2.0}
def f(x):
    return [x[0] * x[1], math.sin(x[0]) + x[1]]
"""

BRANCH = """
from array_api_compat import array_namespace
INPUTS = {"a": 0.5}
def f(a):
    xp = array_namespace(a)
    if a > 0:
        return xp.sin(a)
    return a
"""

FLOAT_ARRAY = """
import numpy as np
INPUTS = {"a": 0.5, "b": 1.0}
def f(a, b):
    out = np.zeros(2)
    out[0] = a * b
    out[1] = a + b
    return out
"""


def test_sympy_cannot_trace_math(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, MATH)
    code, out, err = run(capsys, monkeypatch, "jacobian", "model.py", "-b", "sympy")
    one_line_error(code, err, 4, r"model\.py:f cannot be traced symbolically \(model\.py:5: "
                                 r"`return \[x\[0\] \* x\[1\], math\.sin\(x\[0\]\) \+ x\[1\]\]`: needs a number "
                                 r"here: math\.\* functions.*\); use --backend fd or complex")
    write(tmp_path, BRANCH, "branch.py")
    code, out, err = run(capsys, monkeypatch, "jacobian", "branch.py", "-b", "sympy")
    one_line_error(code, err, 4, r"branch\.py:6: `if a > 0:`: branches on an input-dependent value")
    write(tmp_path, FLOAT_ARRAY, "arr.py")
    code, out, err = run(capsys, monkeypatch, "jacobian", "arr.py", "-b", "sympy")
    one_line_error(code, err, 4, r"arr\.py:6: `out\[0\] = a \* b`: needs a number here")


def test_complex_step_refuses_real_only_code(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name, text, line in (("m.py", MATH, 5), ("arr.py", FLOAT_ARRAY, 6)):
        write(tmp_path, text, name)
        code, out, err = run(capsys, monkeypatch, "jacobian", name, "-b", "complex")
        one_line_error(code, err, 4, rf"backend 'complex' needs a function written for complex numbers, "
                                     rf"but {name}:f is not \({name}:{line} in f: .*\); use --backend fd")


def test_fd_runs_any_code(tmp_path):
    for text in (MATH, BRANCH, FLOAT_ARRAY):
        m = jacli.load_model(str(write(tmp_path, text)))
        r = jacli.jacobian(m, backend="fd")
        assert r.ok
    # MATH at (0.5, 2): [[b, a], [cos a, 1]]
    m = jacli.load_model(str(write(tmp_path, MATH)))
    r = jacli.jacobian(m, backend="fd")
    want = np.array([[2.0, 0.5], [math.cos(0.5), 1.0]])
    assert (np.abs(r.derivative[0] - want) <= r.error[0] + 1e-15).all()


def test_auto_falls_back_to_a_backend_that_runs_the_code(tmp_path):
    m = jacli.load_model(str(write(tmp_path, MATH)))
    model, be, prep = jacli.prepare(m, "jacobian")
    r = jacli.jacobian(model, prep=(be, prep))
    np.testing.assert_allclose(r.derivative[0], [[2.0, 0.5], [math.cos(0.5), 1.0]], rtol=1e-8)
    from jacli.backends._registry import python_auto_candidates

    assert be.name in python_auto_candidates()


def test_backend_without_python_models_refuses(tmp_path):
    from jacli.backends import Capabilities
    from jacli.backends.finite_diff import FiniteDiff

    class NoPython(FiniteDiff):
        name = "nopython"
        capabilities = Capabilities(error_estimate=True, forward=True, second_order=True)

    m = jacli.load_model(str(write(tmp_path, MATH)))
    with pytest.raises(CapabilityError, match=r"backend 'nopython' does not run Python-function models "
                                              r"\(.*model\.py:f\); use --backend fd, complex or sympy"):
        jacli.jacobian(m, backend=NoPython())


# ----------------------------------------------------------------------------- derivatives vs references


ARM_PY = """
from array_api_compat import array_namespace
INPUTS = {"theta1": 0.3, "theta2": 1.2}
PARAMETERS = {"l1": 1.0, "l2": 0.5}
OUTPUTS = ["x", "y"]
def f(theta1, theta2, l1, l2):
    xp = array_namespace(theta1)
    c12 = xp.cos(theta1 + theta2)
    return [l1 * xp.cos(theta1) + l2 * c12, l1 * xp.sin(theta1) + l2 * xp.sin(theta1 + theta2)]
"""


def test_traced_python_model_equals_the_toml_model(tmp_path):
    py = jacli.load_model(str(write(tmp_path, ARM_PY)))
    toml = jacli.load_model(str(SAMPLES / "arm.toml"))
    assert py.input_names == toml.input_names and py.parameter_names == toml.parameter_names
    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, size=(20, 2))
    wrt = ["theta1", "theta2", "l2"]
    a = jacli.jacobian(py, X, wrt=wrt, backend="sympy")
    b = jacli.jacobian(toml, X, wrt=wrt, backend="sympy")
    np.testing.assert_allclose(a.value, b.value, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a.derivative, b.derivative, rtol=1e-12, atol=1e-15)
    assert a.exact and np.array_equal(a.structure, b.structure)
    ha = jacli.hessian(py, X[:3], outputs=["y"], backend="sympy")
    hb = jacli.hessian(toml, X[:3], outputs=["y"], backend="sympy")
    np.testing.assert_allclose(ha.derivative, hb.derivative, rtol=1e-12, atol=1e-15)
    # and the traced expressions are the model's: d x / d l2 = cos(theta1 + theta2)
    J = jacli.symbolic_jacobian(py, ["l2"])
    assert str(J[0][0]) == "cos(theta1 + theta2)"


def _pendulum_reference(theta0, omega0, c, g=9.81, L=1.0, steps=50, h=0.02):
    """State after RK4 steps and its derivative w.r.t. (theta0, omega0, c), by the chain rule
    applied by hand to each RK4 stage (the tangent-linear scheme), independent of jacli."""
    def f(y):
        return np.array([y[1], -(g / L) * math.sin(y[0]) - c * y[1]])

    def jac(y):                                 # d f / d (theta, omega)
        return np.array([[0.0, 1.0], [-(g / L) * math.cos(y[0]), -c]])

    def fc(y):                                  # d f / d c
        return np.array([0.0, -y[1]])

    y = np.array([theta0, omega0])
    dy = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    ec = np.array([0.0, 0.0, 1.0])
    for _ in range(steps):
        y1, d1 = y, dy
        k1, dk1 = f(y1), jac(y1) @ d1 + np.outer(fc(y1), ec)
        y2, d2 = y + 0.5 * h * k1, dy + 0.5 * h * dk1
        k2, dk2 = f(y2), jac(y2) @ d2 + np.outer(fc(y2), ec)
        y3, d3 = y + 0.5 * h * k2, dy + 0.5 * h * dk2
        k3, dk3 = f(y3), jac(y3) @ d3 + np.outer(fc(y3), ec)
        y4, d4 = y + h * k3, dy + h * dk3
        k4, dk4 = f(y4), jac(y4) @ d4 + np.outer(fc(y4), ec)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        dy = dy + h / 6 * (dk1 + 2 * dk2 + 2 * dk3 + dk4)
    return y, dy


@pytest.mark.parametrize("backend", ["sympy", "complex", "fd"])
def test_pendulum_rk4_against_the_tangent_linear_scheme(backend):
    m = jacli.load_model(str(SAMPLES / "pendulum_rk4.py"))
    assert m.input_names == ("theta0", "omega0") and m.output_names == ("theta", "omega")
    points = [(1.0, 0.0), (0.3, -1.5), (2.5, 0.4)]
    r = jacli.jacobian(m, points, wrt=["theta0", "omega0", "c"], backend=backend, params={"c": 0.35})
    assert r.ok
    for i, (t0, w0) in enumerate(points):
        y, J = _pendulum_reference(t0, w0, 0.35)
        np.testing.assert_allclose(r.value[i], y, rtol=1e-13)
        scale = np.abs(J).max()
        if backend == "fd":
            assert (np.abs(r.derivative[i] - J) <= r.error[i] + 1e-14 * scale).all()
        else:   # exact (sympy) or complex step: rounding level
            np.testing.assert_allclose(r.derivative[i], J, rtol=1e-11, atol=1e-13 * scale)


def _mlp_reference(W1, b1, w2, b2):
    """Loss and gradient of the XOR MLP by back-propagation, written out by hand."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    T = np.array([0.0, 1.0, 1.0, 0.0])
    n = len(T)
    h = np.tanh(X @ W1.T + b1)
    r = h @ w2 + b2 - T
    loss = (r @ r) / (2 * n)
    delta = (r[:, None] * w2[None, :]) * (1 - h ** 2)          # (n, 3): dL/d(pre-activation) * n
    gW1 = delta.T @ X / n
    gb1 = delta.sum(axis=0) / n
    gw2 = h.T @ r / n
    gb2 = r.sum() / n
    return loss, np.concatenate([gW1.ravel(), gb1, gw2, [gb2]])


@pytest.mark.parametrize("backend", ["sympy", "complex", "fd"])
def test_mlp_gradient_is_backpropagation(backend):
    m = jacli.load_model(str(SAMPLES / "mlp.py"))
    assert m.input_names[:3] == ("W1[0,0]", "W1[0,1]", "W1[1,0]") and m.input_names[-1] == "b2"
    assert m.function.input_shapes == {"W1": (3, 2), "b1": (3,), "w2": (3,), "b2": ()}
    rng = np.random.default_rng(11)
    X = np.vstack([m.nominal, rng.normal(size=(2, len(m.inputs)))])
    r = jacli.jacobian(m, X, backend=backend)
    assert r.ok
    for i, z in enumerate(X):
        loss, g = _mlp_reference(z[:6].reshape(3, 2), z[6:9], z[9:12], z[12])
        np.testing.assert_allclose(r.value[i, 0], loss, rtol=1e-13)
        if backend == "fd":
            assert (np.abs(r.derivative[i, 0] - g) <= r.error[i, 0] + 1e-15).all()
        else:
            np.testing.assert_allclose(r.derivative[i, 0], g, rtol=1e-11, atol=1e-15)
    shapes = r.extra["shapes"]
    assert shapes["inputs"] == {"W1": [3, 2], "b1": [3], "w2": [3], "b2": []}
    assert shapes["outputs"] == {"loss": []}


def test_rosenbrock_nd_gradient_and_hessian():
    m = jacli.load_model(str(SAMPLES / "rosenbrock_nd.py"), inputs=5)
    x = np.array([-1.2, 1.0, 0.5, -0.3, 2.0])
    # Nocedal & Wright (2.22): g_i = -400 x_i (x_{i+1} - x_i^2) - 2 (1 - x_i) + 200 (x_i - x_{i-1}^2)
    g = np.zeros(5)
    g[:-1] += -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    H = np.zeros((5, 5))
    for i in range(4):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i + 1, i + 1] += 200
        H[i, i + 1] = H[i + 1, i] = -400 * x[i]
    r = jacli.jacobian(m, x, backend="sympy")
    np.testing.assert_allclose(r.derivative[0, 0], g, rtol=1e-13)
    h = jacli.hessian(m, x, backend="sympy")
    np.testing.assert_allclose(h.derivative[0, 0], H, rtol=1e-13)
    c = jacli.jacobian(m, x, backend="complex")
    np.testing.assert_allclose(c.derivative[0, 0], g, rtol=1e-13)


# ----------------------------------------------------------------------------- CLI and JSON


def test_cli_json_with_shapes_and_blocks(monkeypatch, capsys):
    code, out, err = run(capsys, monkeypatch, "jacobian", f"{SAMPLES / 'mlp.py'}:f", "-b", "sympy",
                         "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["shapes"] == {"inputs": {"W1": [3, 2], "b1": [3], "w2": [3], "b2": []},
                             "outputs": {"loss": []}}
    m = jacli.load_model(str(SAMPLES / "mlp.py"))
    _, g = _mlp_reference(np.array(m.nominal[:6]).reshape(3, 2), np.array(m.nominal[6:9]),
                          np.array(m.nominal[9:12]), m.nominal[12])
    np.testing.assert_allclose(np.array(doc["blocks"]["loss"]["W1"]), g[:6].reshape(3, 2), rtol=1e-12)
    np.testing.assert_allclose(doc["blocks"]["loss"]["b2"], g[12], rtol=1e-12)
    assert doc["jacobian"][0] == doc["blocks"]["loss"]["W1"][0] + doc["blocks"]["loss"]["W1"][1] \
        + doc["blocks"]["loss"]["W1"][2] + doc["blocks"]["loss"]["b1"] + doc["blocks"]["loss"]["w2"] \
        + [doc["blocks"]["loss"]["b2"]]


def test_cli_inputs_count_at_and_wrt_with_brackets(monkeypatch, capsys):
    code, out, err = run(capsys, monkeypatch, "jacobian", str(SAMPLES / "rosenbrock_nd.py"), "--inputs", "3",
                         "-b", "sympy", "--at", "x[0]=-1.2,x[1]=1", "--wrt", "x[1],x[0]", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["inputs"] == ["x[1]", "x[0]"] and doc["at"] == {"x[0]": -1.2, "x[1]": 1.0, "x[2]": 0.0}
    # f = 100 (x1 - x0^2)^2 + (1 - x0)^2 + 100 (x2 - x1^2)^2 at x = (-1.2, 1, 0)
    g0 = -400 * -1.2 * (1 - 1.44) - 2 * (1 + 1.2)
    g1 = 200 * (1 - 1.44) - 400 * 1.0 * (0 - 1.0)
    np.testing.assert_allclose(doc["jacobian"][0], [g1, g0], rtol=1e-13)
    # x is not whole in --wrt, so no input block; the output is a scalar
    assert doc["shapes"] == {"inputs": {}, "outputs": {"y": []}} and doc["blocks"] == {"y": {}}
    code, out, err = run(capsys, monkeypatch, "jvp", str(SAMPLES / "rosenbrock_nd.py"), "--inputs", "3",
                         "-b", "fd", "--vector", "x[1]=1", "--at", "x[0]=-1.2,x[1]=1", "--format", "json")
    assert code == 0, err
    np.testing.assert_allclose(json.loads(out)["jvp"], [g1], rtol=1e-8)


def test_cli_pendulum_table_and_sensitivity(monkeypatch, capsys):
    code, out, err = run(capsys, monkeypatch, "jacobian", str(SAMPLES / "pendulum_rk4.py"), "-b", "complex",
                         "--wrt", "theta0,omega0,c")
    assert code == 0, err
    assert "damped pendulum, RK4" in out and "∂/∂c" in out
    code, out, err = run(capsys, monkeypatch, "sensitivity", str(SAMPLES / "pendulum_rk4.py"), "-b", "fd",
                         "--format", "json")
    assert code == 0, err


def test_symbolic_hessian_of_a_python_model(monkeypatch, capsys):
    code, out, err = run(capsys, monkeypatch, "hessian", str(SAMPLES / "rosenbrock_nd.py"), "--inputs", "2",
                         "--symbolic", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["hessian"][0][1] == "-400.0*x[0]" and doc["hessian"][1][1] == "200.0"


def test_import_and_numeric_python_model_load_no_heavy_modules():
    code = textwrap.dedent(f"""
        import sys, jacli
        m = jacli.load_model({str(SAMPLES / 'pendulum_rk4.py')!r})
        r = jacli.jacobian(m, backend="fd")
        assert r.ok
        heavy = [n for n in ("sympy", "scipy", "rich", "click", "jax", "torch") if n in sys.modules]
        print(",".join(heavy))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_symbolic_jacobian_of_a_python_model(capsys, monkeypatch):
    """--symbolic traces the function (auto means sympy here) and prints exact entries."""
    import json
    import os

    from helpers import run

    sample = os.path.join(os.path.dirname(__file__), "..", "samples", "mlp.py")
    code, out, err = run(capsys, monkeypatch, "jacobian", sample, "--symbolic", "--wrt", "b2",
                         "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    text = doc["jacobian"][0][0]
    # dL/db2 = (1/n) sum r: four residuals over n = 4 patterns
    assert "tanh" in text and "b2" in text
    code, out, err = run(capsys, monkeypatch, "jacobian", sample, "--symbolic", "-b", "fd")
    assert code == 4 and "use --backend sympy" in err and err.count("\n") == 1
