"""``jacli check`` and :func:`jacli.check`: backends against the reference, your own Jacobian.

Every verdict is shown to be reachable, and every tolerance to be able to fail: broken
backends (off by a little, claiming an error estimate they do not honour, crashing, a wrong
Hessian) are registered for one test by patching the registry, and wrong user Jacobians
(one entry, transposed, sign, factor, shape) are checked.
"""
from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest

import jacli
from helpers import run
from jacli._check import TOLERANCES, random_points, split_specs
from jacli.backends import Block, Capabilities, backend_names
from jacli.backends.complex_step import ComplexStep
from jacli.backends.finite_diff import FiniteDiff
from jacli.backends.symbolic import Symbolic
from jacli.errors import InputError, UsageError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = sorted(glob.glob(os.path.join(ROOT, "samples", "*.toml")))
ARM = os.path.join(ROOT, "samples", "arm.toml")
COULOMB = os.path.join(ROOT, "samples", "coulomb_friction.toml")
SPHERICAL = os.path.join(ROOT, "samples", "spherical.toml")
BUILTIN_NUMPY = ["sympy", "fd", "complex"]


# ----------------------------------------------------------------------------- broken backends


class _EP:
    """Stands in for an importlib.metadata entry point."""

    def __init__(self, name, cls):
        self.name, self.value, self._cls = name, f"tests:{cls.__name__}", cls

    def load(self):
        return self._cls


@pytest.fixture
def register(monkeypatch):
    """register(cls): make ``cls`` a registered backend (under ``cls.name``) for one test."""
    from jacli.backends import _registry

    eps = dict(_registry._entry_points())
    monkeypatch.setattr(_registry, "_entry_points", lambda: eps)

    def add(cls):
        eps[cls.name] = _EP(cls.name, cls)
        monkeypatch.setitem(_registry._LOADED, cls.name, cls)
        return cls.name
    return add


class OffByAMillionth(Symbolic):
    """An 'exact' backend whose Jacobian is off by 1e-6 relative (a float32 intermediate)."""

    name = "offby"

    def jacobian(self, prep, A):
        b = Symbolic.jacobian(self, prep, A)
        return Block(value=b.value, derivative=b.derivative * (1 + 1e-6), nfev=b.nfev)


class SymbolicOff(OffByAMillionth):
    """Declares itself symbolic (ranks like sympy) while being off: a wrong reference."""

    name = "symoff"


class ComplexOff(ComplexStep):
    """Complex step off by 1e-11 relative: passes an exact tolerance (1e-10), not its own."""

    name = "complexoff"

    def jacobian(self, prep, A):
        b = ComplexStep.jacobian(self, prep, A)
        return Block(value=b.value, derivative=b.derivative * (1 + 1e-11), error=b.error, nfev=b.nfev)


class OverconfidentFD(FiniteDiff):
    """Finite differences with a low-order formula that reports a rounding-level estimate."""

    name = "fdliar"
    capabilities = Capabilities(error_estimate=True, forward=True, second_order=True)

    def jacobian(self, prep, A):
        b = FiniteDiff.jacobian(self, prep, A)
        # 1e-7 relative off, with an "estimate" of 1e-15 |J|
        D = b.derivative * (1 + 1e-7)
        return Block(value=b.value, derivative=D, error=1e-15 * np.abs(D), nfev=b.nfev)


class Crashing(Symbolic):
    name = "crashing"

    def jacobian(self, prep, A):
        raise ZeroDivisionError("a bug\n  in the plug-in")            # two lines


class HessianOff(Symbolic):
    name = "hessoff"

    def hessian(self, prep, A):
        b = Symbolic.hessian(self, prep, A)
        D = np.array(b.derivative, copy=True)
        D[:, 0, 0, 1] += 1e-3 * (1 + np.abs(D[:, 0, 0, 1]))   # one entry (and not its mirror)
        return Block(value=b.value, derivative=D, error=None, nfev=b.nfev, extra=b.extra)


# ----------------------------------------------------------------------------- agreement


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: os.path.basename(p))
def test_builtin_backends_agree_on_every_sample(path):
    r = jacli.check(path, backends=BUILTIN_NUMPY, random=3, seed=1)
    assert r.verdict == "agree", r.summary()
    assert r.reference == "sympy"
    for b in r.backends:
        assert b.status in ("reference", "agree", "skipped"), (b.name, b.status, b.reason)
        if b.status == "agree":
            assert b.compared_points == 4 and b.max_excess <= 1
    # an independent recomputation of one backend's largest relative error
    fd = next(b for b in r.backends if b.name == "fd")
    X = np.array([list(p.at.values()) for p in r.points])
    R = jacli.jacobian(path, X, backend="sympy").derivative
    D = jacli.jacobian(path, X, backend="fd").derivative
    scale = np.abs(R).max(axis=2, keepdims=True)
    scale = np.maximum(scale, 1e-6 * np.abs(R).reshape(len(X), -1).max(axis=1)[:, None, None])
    assert fd.max_rel_err == pytest.approx(float((np.abs(D - R) / scale).max()), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("name", ["arm", "black_scholes", "michaelis_menten", "neural_layer"])
def test_builtin_hessians_agree(name):
    r = jacli.check(os.path.join(ROOT, "samples", f"{name}.toml"), hessian=True,
                    backends=BUILTIN_NUMPY, random=2)
    assert r.op == "hessian" and r.verdict == "agree", r.summary()
    assert [b.status for b in r.backends] == ["reference", "agree", "agree"]


def test_every_registered_backend_agrees(capsys, monkeypatch):
    """Whatever is registered (jax, torch, plug-ins): agreeing, or skipped with a reason."""
    code, out, err = run(capsys, monkeypatch, "check", ARM, "--random", "2", "--format", "json")
    doc = json.loads(out)
    assert code == 0, err
    assert [b["name"] for b in doc["backends"]] == backend_names()
    for b in doc["backends"]:
        assert b["status"] in ("reference", "agree", "skipped"), b
        if b["status"] == "skipped":
            assert b["reason"]
            assert b["name"] not in BUILTIN_NUMPY


def test_non_analytic_model_skips_complex_with_reason(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "check", COULOMB, "--backends", "sympy,fd,complex")
    assert code == 0, err
    assert "complex skipped" in out and "sign" in out
    r = jacli.check(COULOMB, backends=BUILTIN_NUMPY)
    cx = next(b for b in r.backends if b.name == "complex")
    assert cx.status == "skipped" and "complex-analytic" in cx.reason and not cx.failed
    assert r.verdict == "agree"


# ----------------------------------------------------------------------------- each verdict can fail


def test_broken_exact_backend_exits_5_naming_it(register, capsys, monkeypatch):
    register(OffByAMillionth)
    code, out, err = run(capsys, monkeypatch, "check", ARM, "--backends", "sympy,offby,fd")
    assert code == 5
    assert err.count("\n") == 1 and err.startswith("jacli: error: ") and "offby" in err
    assert "✗ 4 entries" in out
    assert "d(x)/d(theta1) at point 0: offby" in out
    r = jacli.check(ARM, backends=["sympy", "offby", "fd"])
    b = r.backends[1]
    assert b.status == "disagree" and b.disagreements == 4 and r.failures == ["offby"]
    assert b.max_rel_err == pytest.approx(1e-6, rel=0.1)
    e = b.worst[0]
    assert abs(e.value - e.reference) == pytest.approx(e.abs_err) and e.abs_err > e.allowed
    # the same backend within a looser tolerance
    assert jacli.check(ARM, backends=["sympy", "offby"], rtol=1e-5).verdict == "agree"


def test_complex_step_is_held_to_its_own_tolerance(register):
    register(ComplexOff)
    r = jacli.check(ARM, backends=["sympy", "complexoff"])
    assert r.verdict == "disagree" and r.backends[1].rtol == TOLERANCES["complex"]
    assert 1e-12 < r.backends[1].max_rel_err < 1e-10          # would pass as 'exact'


def test_an_error_estimate_that_does_not_cover_the_error_fails(register):
    register(OverconfidentFD)
    r = jacli.check(ARM, backends=["sympy", "fdliar", "fd"])
    liar, fd = r.backends[1], r.backends[2]
    assert liar.status == "disagree" and fd.status == "agree"
    assert liar.error_factor == 2.0 and liar.max_excess > 1


def test_a_crashing_backend_fails_the_check(register, capsys, monkeypatch):
    register(Crashing)
    code, out, err = run(capsys, monkeypatch, "check", ARM, "--backends", "sympy,crashing,fd")
    assert code == 5 and err.count("\n") == 1
    assert err == "jacli: error: crashing failed (ZeroDivisionError: a bug in the plug-in)\n"
    assert "✗ error" in out


def test_a_wrong_reference_is_suspected(register):
    register(SymbolicOff)
    r = jacli.check(ARM, backends=["symoff", "fd", "complex"])
    assert r.reference == "symoff" and r.verdict == "disagree"
    assert any("reference itself may be wrong" in n for n in r.notes)


def test_hessian_check_names_the_wrong_entry(register, capsys, monkeypatch):
    register(HessianOff)
    code, out, err = run(capsys, monkeypatch, "check", ARM, "--hessian", "--backends",
                         "sympy,hessoff,complex")
    assert code == 5, err
    assert "d²(x)/d(theta1)d(theta2) at point 0: hessoff" in out
    r = jacli.check(ARM, hessian=True, backends=["sympy", "hessoff", "complex", "fd"])
    assert [b.status for b in r.backends] == ["reference", "disagree", "agree", "agree"]
    assert r.backends[1].disagreements == 1
    assert r.backends[1].worst[0].wrt == ("theta1", "theta2")


def test_nothing_to_compare_exits_4(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "check", COULOMB, "--backends", "sympy,complex")
    assert code == 4 and err.count("\n") == 1 and "nothing to compare" in err
    assert jacli.check(ARM, backends=["sympy"]).verdict == "insufficient"


def test_undefined_points_are_reported_not_counted(tmp_path, capsys, monkeypatch):
    pts = tmp_path / "p.csv"
    pts.write_text("x,y\n1,2\n-1,2\n2,oops\n3,1\n")
    code, out, err = run(capsys, monkeypatch, "check", "-e", "log(x)*y", "--points", str(pts),
                         "--backends", "sympy,fd,complex", "--format", "json")
    doc = json.loads(out)
    assert code == 0, err
    assert [p["status"] for p in doc["points"]] == ["ok", "undefined", "bad_input", "ok"]
    assert "log(x)" in doc["points"][1]["message"] and "oops" in doc["points"][2]["message"]
    assert all(b["compared_points"] == 2 for b in doc["backends"])
    # undefined everywhere: nothing was compared
    code, out, err = run(capsys, monkeypatch, "check", "-e", "log(x)*y", "--at=x=-1,y=1",
                         "--backends", "sympy,fd")
    assert code == 5 and "no point could be compared" in err
    pts.write_text("x,y\nfoo,2\n")                       # no good row at all
    code, out, err = run(capsys, monkeypatch, "check", "-e", "log(x)*y", "--points", str(pts))
    assert code == 5 and "no point could be compared" in err and "'foo' is not a number" in out


# ----------------------------------------------------------------------------- your Jacobian


XY = "x*y, sin(x) + y^2"


def _jac(v):
    x, y = v
    return [[y, x], [np.cos(x), 2 * y]]


def test_correct_user_jacobian_agrees():
    r = jacli.check(jacli.model_from_expressions(XY), {"x": 0.3, "y": -2.0}, jacobian_fn=_jac,
                    random=5)
    assert r.verdict == "agree" and r.backends[-1].kind == "user"
    assert r.backends[-1].compared_points == 6
    assert [b.name for b in r.backends] == ["sympy", "_jac"]    # one reference only


def test_one_wrong_entry_is_named(tmp_path, capsys, monkeypatch):
    f = tmp_path / "jac.py"
    f.write_text("import numpy as np\n"
                 "def jac(v):\n"
                 "    x, y = v\n"
                 "    return [[y, x], [np.cos(x), y]]\n")        # d(f2)/dy should be 2y
    code, out, err = run(capsys, monkeypatch, "check", "-e", XY, "--at", "x=1,y=3",
                         "--jacobian", f"{f}:jac")
    assert code == 5 and err.count("\n") == 1
    assert "d(f2)/d(y) at point 0: yours 3, jacli 6 (rel err 0.5" in out
    r = jacli.check(jacli.model_from_expressions(XY), {"x": 1.0, "y": 3.0},
                    jacobian_fn=f"{f}:jac", random=3)
    user = r.backends[-1]
    assert {(e.output, e.wrt) for e in user.worst} == {("f2", ("y",))}
    assert user.disagreements == 4
    assert any("d(f2)/d(y): yours = 0.5 × jacli at every point" in n for n in user.notes)


@pytest.mark.parametrize("wrong, note", [
    (lambda v: np.array(_jac(v)).T, "transposed"),
    (lambda v: -np.array(_jac(v)), "sign flipped"),
    (lambda v: 2 * np.array(_jac(v)), "every entry: yours = 2 × jacli"),
])
def test_common_mistakes_are_recognised(wrong, note):
    r = jacli.check(jacli.model_from_expressions(XY), {"x": 0.7, "y": 1.5}, jacobian_fn=wrong,
                    random=2)
    assert r.verdict == "disagree"
    assert any(note in n for n in r.backends[-1].notes), r.backends[-1].notes


def test_wrong_shape_exits_3(tmp_path, capsys, monkeypatch):
    f = tmp_path / "jac.py"
    f.write_text("import numpy as np\n"
                 "def jac_t(v):\n    return np.array([[v[1], 1.0], [v[0], 0.0], [0.0, 2.0]])\n"
                 "def jac_bad(v):\n    return np.zeros((4, 4))\n")
    model = ["-e", "x*y + z, 2*z", "--inputs", "x,y,z"]
    code, out, err = run(capsys, monkeypatch, "check", *model, "--jacobian", f"{f}:jac_t")
    assert code == 3 and out == "" and err.count("\n") == 1
    assert "shape (3, 2)" in err and "expected (2, 3)" in err and "transposed" in err
    code, out, err = run(capsys, monkeypatch, "check", *model, "--jacobian", f"{f}:jac_bad")
    assert code == 3 and "shape (4, 4)" in err and "transposed" not in err
    with pytest.raises(InputError):
        jacli.check(jacli.model_from_expressions("x*y"), jacobian_fn=lambda v: [1.0, 2.0, 3.0])
    # a gradient for a scalar model is accepted
    r = jacli.check(jacli.model_from_expressions("x*y"), {"x": 2.0, "y": 5.0},
                    jacobian_fn=lambda v: [v[1], v[0]])
    assert r.verdict == "agree"


def test_user_jacobian_against_an_estimated_reference():
    """With only fd as reference, its error estimate enters the tolerance — and still catches
    an entry off by 1e-4."""
    m = jacli.model_from_expressions(XY)
    r = jacli.check(m, {"x": 0.7, "y": 1.5}, backends=["fd"], jacobian_fn=_jac, random=3)
    user = r.backends[-1]
    assert r.reference == "fd" and r.verdict == "agree" and user.error_factor == 2.0

    def off(v):
        J = np.array(_jac(v))
        J[1, 0] *= 1 + 1e-4
        return J
    r = jacli.check(m, {"x": 0.7, "y": 1.5}, backends=["fd"], jacobian_fn=off)
    assert r.verdict == "disagree" and r.backends[-1].worst[0].label == "d(f2)/d(x)"


def test_a_user_function_that_raises_is_reported_per_point():
    def jac(v):
        if v[0] > 1.0:
            raise ValueError("not here")
        return _jac(v)
    r = jacli.check(jacli.model_from_expressions(XY), [[0.5, 1.0], [1.5, 1.0], [0.9, 2.0]],
                    jacobian_fn=jac)
    user = r.backends[-1]
    assert r.verdict == "disagree" and user.compared_points == 2
    assert user.failed_points == ((1, "your function raised ValueError: not here"),)


def test_python_model_with_its_jacobian(tmp_path, capsys, monkeypatch):
    f = tmp_path / "model.py"
    f.write_text("import numpy as np\n"
                 "INPUTS = {'a': 1.0, 'b': {'value': 2.0, 'bounds': [1.0, 3.0]}}\n"
                 "def f(a, b):\n    return [a * b, np.exp(a) - b**3]\n"
                 "def jac(a, b):\n    return [[b, a], [np.exp(a), -3 * b**2]]\n"
                 "def jac_wrong(a, b):\n    return [[b, a], [np.exp(a), -3 * b]]\n")
    code, out, err = run(capsys, monkeypatch, "check", f"{f}:f", "--jacobian", f"{f}:jac",
                         "--random", "4", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["verdict"] == "agree" and doc["backends"][-1]["compared_points"] == 5
    code, out, err = run(capsys, monkeypatch, "check", f"{f}:f", "--jacobian", f"{f}:jac_wrong")
    assert code == 5 and "yours -6, jacli -12" in out


def test_python_model_with_array_shaped_jacobian(tmp_path):
    """One array output (2, 3) of one array input (3,): the Jacobian may have shape (2, 3, 3)."""
    f = tmp_path / "arr.py"
    f.write_text("import numpy as np\n"
                 "INPUTS = {'x': [1.0, 2.0, 3.0]}\n"
                 "def f(x):\n    return np.stack([2.0 * x, x ** 2])\n"
                 "def jac(x):\n    return np.stack([2.0 * np.eye(3), np.diag(2 * x)])\n"
                 "def jac_swapped(x):\n    return np.stack([np.diag(2 * x), 2.0 * np.eye(3)])\n")
    assert jacli.check(f"{f}:f", jacobian_fn=f"{f}:jac", random=2).verdict == "agree"
    r = jacli.check(f"{f}:f", jacobian_fn=f"{f}:jac_swapped")
    assert r.verdict == "disagree" and r.backends[-1].worst[0].output.startswith("y[")


# ----------------------------------------------------------------------------- points


def test_random_points_are_reproducible_and_follow_the_rule(capsys, monkeypatch):
    args = ["check", SPHERICAL, "--random", "50", "--backends", "sympy,fd", "--format", "json"]
    a = json.loads(run(capsys, monkeypatch, *args, "--seed", "7")[1])
    b = json.loads(run(capsys, monkeypatch, *args, "--seed", "7")[1])
    c = json.loads(run(capsys, monkeypatch, *args, "--seed", "8")[1])
    assert a["points"] == b["points"] and a["points"] != c["points"] and a["seed"] == 7
    m = jacli.load_model(SPHERICAL)
    X = np.array([list(p["at"].values()) for p in a["points"][1:]])
    assert [p["origin"] for p in a["points"]] == ["nominal"] + ["random"] * 50
    for j, q in enumerate(m.inputs):
        lo, hi = q.bounds if q.bounds else (q.value - 0.1 * abs(q.value), q.value + 0.1 * abs(q.value))
        if q.value == 0 and not q.bounds:
            lo, hi = -1.0, 1.0
        assert lo <= X[:, j].min() and X[:, j].max() <= hi
        assert X[:, j].max() - X[:, j].min() > 0.5 * (hi - lo)      # spread over the range
    zero = jacli.model_from_expressions("x + y", inputs=["x", "y"])   # nominal 0: within ±1
    R = random_points(zero, 200, seed=0)
    assert -1 <= R.min() < -0.9 and 0.9 < R.max() <= 1


# ----------------------------------------------------------------------------- output and errors


def test_json_document_schema(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "check", ARM, "--backends", "sympy,fd,complex",
                         "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert list(doc)[:2] == ["schema", "command"] and doc["schema"] == 1 and doc["command"] == "check"
    for key in ("model", "operation", "verdict", "ok", "summary", "reference", "inputs", "outputs",
                "params", "random", "seed", "points", "backends", "notes"):
        assert key in doc
    b = doc["backends"][1]
    assert set(b) == {"name", "kind", "method", "status", "reason", "reference", "tolerance",
                      "compared_points", "max_rel_err", "max_excess", "disagreements",
                      "failed_points", "unreliable_points", "worst", "notes"}
    assert b["tolerance"] == {"rtol": 1e-12, "error_factor": 2.0, "text": "2·err + 1e-12·scale"}
    code, out, _ = run(capsys, monkeypatch, "check", ARM, "--backends", "sympy,fd", "--format", "jsonl")
    assert out.count("\n") == 1 and json.loads(out)["ok"] is True


def test_output_file(tmp_path, capsys, monkeypatch):
    target = tmp_path / "report.json"
    code, out, err = run(capsys, monkeypatch, "check", ARM, "--backends", "sympy,fd", "-f", "json",
                         "-o", str(target))
    assert code == 0 and out == "" and json.loads(target.read_text())["verdict"] == "agree"


@pytest.mark.parametrize("args, code, message", [
    (["--backends", "sympy,fdd"], 2, "unknown backend 'fdd' (did you mean 'fd'?)"),
    (["--backends", "sympy,,fd"], 2, "--backends"),
    (["--backends", "sympy,fd:order=3"], 2, "order"),
    (["--format", "csv"], 2, "table, json or jsonl"),
    (["--at", "thet1=1"], 2, "did you mean 'theta1'"),
    (["--rtol", "2"], 2, "--rtol"),
    (["--random", "-1"], 2, "--random"),
    (["--hessian", "--jacobian", "x.py:j"], 2, "give one of them"),
    (["--jacobian", "missing.py:jac"], 3, "missing.py: --jacobian: no such file"),
    (["--jacobian", "nofunc.py"], 2, "name the function"),
])
def test_bad_input(args, code, message, capsys, monkeypatch):
    got, out, err = run(capsys, monkeypatch, "check", ARM, *args)
    assert got == code and out == ""
    assert err.count("\n") == 1 and err.startswith("jacli: error: ") and message in err, err


def test_unknown_function_in_the_jacobian_file(tmp_path, capsys, monkeypatch):
    f = tmp_path / "j.py"
    f.write_text("def jacobian(v):\n    return [[1.0, 0.0]]\n")
    code, out, err = run(capsys, monkeypatch, "check", "-e", "x+y", "--jacobian", f"{f}:jacobain")
    assert code == 3 and "no function 'jacobain'" in err and "did you mean 'jacobian'" in err
    with pytest.raises(UsageError):
        jacli.check(ARM, backends=["sympy"], random=-2)


def test_backend_options_with_commas():
    assert split_specs("sympy,fd:order=4,levels=3,complex") == ["sympy", "fd:order=4,levels=3", "complex"]
    r = jacli.check(ARM, backends="sympy,fd:order=4,levels=3")
    assert [b.name for b in r.backends] == ["sympy", "fd:order=4,levels=3"] and r.ok
