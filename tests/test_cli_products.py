"""``jacli jvp`` and ``jacli vjp``: values against hand-derived Jacobians, vectors, batches, errors."""
import json
from pathlib import Path

import numpy as np
import pytest

from helpers import run

ROOT = Path(__file__).resolve().parents[1]
ARM = str(ROOT / "samples" / "arm.toml")
L1, L2 = 1.0, 0.5


def arm_jacobian(t1, t2):
    """Hand-derived: x = l1 cos t1 + l2 cos(t1+t2), y = l1 sin t1 + l2 sin(t1+t2)."""
    s1, c1, s12, c12 = np.sin(t1), np.cos(t1), np.sin(t1 + t2), np.cos(t1 + t2)
    return np.array([[-L1 * s1 - L2 * s12, -L2 * s12],
                     [L1 * c1 + L2 * c12, L2 * c12]])


def doc_of(capsys, monkeypatch, *args):
    code, out, err = run(capsys, monkeypatch, *args, "-f", "json")
    assert code == 0, err
    assert err == ""
    return json.loads(out)


@pytest.mark.parametrize("backend", ["sympy", "fd", "complex"])
def test_vjp_with_unit_vectors_gives_jacobian_rows(capsys, monkeypatch, backend):
    J = arm_jacobian(0.3, 1.2)
    for i, u in enumerate(["1,0", "0,1"]):
        doc = doc_of(capsys, monkeypatch, "vjp", ARM, "--vector", u, "-b", backend)
        assert doc["command"] == "vjp" and doc["vector"] == [float(i == 0), float(i == 1)]
        assert len(doc["vjp"]) == 2 and doc["inputs"] == ["theta1", "theta2"]
        if backend == "fd":
            assert np.all(np.abs(np.array(doc["vjp"]) - J[i]) <= np.array(doc["error"]) + 1e-15)
        else:
            np.testing.assert_allclose(doc["vjp"], J[i], rtol=1e-13, atol=1e-15)


def test_vjp_equals_rows_of_the_jacobian_command(capsys, monkeypatch):
    J = np.array(doc_of(capsys, monkeypatch, "jacobian", ARM, "--at", "theta1=0.7")["jacobian"])
    for i, name in enumerate(["x", "y"]):
        doc = doc_of(capsys, monkeypatch, "vjp", ARM, "--at", "theta1=0.7", "--vector", f"{name}=1")
        np.testing.assert_allclose(doc["vjp"], J[i], rtol=1e-14)


@pytest.mark.parametrize("backend", ["sympy", "fd", "complex"])
def test_jvp_with_unit_vectors_gives_jacobian_columns(capsys, monkeypatch, backend):
    J = arm_jacobian(0.3, 1.2)
    for j, v in enumerate(["theta1=1", "theta2=1"]):
        doc = doc_of(capsys, monkeypatch, "jvp", ARM, "--vector", v, "-b", backend)
        assert len(doc["jvp"]) == 2 and doc["vector"] == [float(j == 0), float(j == 1)]
        if backend == "fd":
            assert np.all(np.abs(np.array(doc["jvp"]) - J[:, j]) <= np.array(doc["error"]) + 1e-15)
        else:
            np.testing.assert_allclose(doc["jvp"], J[:, j], rtol=1e-13, atol=1e-15)
        assert "note" not in doc


def test_vector_by_name_and_in_order_agree_and_missing_names_are_zero(capsys, monkeypatch):
    a = doc_of(capsys, monkeypatch, "jvp", ARM, "--vector", "theta2=-2")
    b = doc_of(capsys, monkeypatch, "jvp", ARM, "--vector", "0,-2")
    assert a["jvp"] == b["jvp"] and a["vector"] == [0.0, -2.0]
    np.testing.assert_allclose(a["jvp"], arm_jacobian(0.3, 1.2) @ [0.0, -2.0], rtol=1e-14)
    c = doc_of(capsys, monkeypatch, "vjp", ARM, "--vector=y=3,x=-1")
    np.testing.assert_allclose(c["vjp"], np.array([-1.0, 3.0]) @ arm_jacobian(0.3, 1.2), rtol=1e-14)


def test_vjp_with_wrt_parameters(capsys, monkeypatch):
    # d(u·f)/d(l1, l2) with u = (1, 1): cos t1 + sin t1, cos(t1+t2) + sin(t1+t2).
    doc = doc_of(capsys, monkeypatch, "vjp", ARM, "--wrt", "l1,l2", "--vector", "1,1")
    assert doc["inputs"] == ["l1", "l2"]
    np.testing.assert_allclose(doc["vjp"], [np.cos(0.3) + np.sin(0.3), np.cos(1.5) + np.sin(1.5)],
                               rtol=1e-14)


def test_no_reverse_mode_says_the_cost_in_json_and_table(capsys, monkeypatch):
    doc = doc_of(capsys, monkeypatch, "vjp", ARM, "--vector", "1,0", "-b", "fd")
    assert "no reverse mode" in doc["note"] and "full Jacobian" in doc["note"]
    assert "note" not in doc_of(capsys, monkeypatch, "vjp", ARM, "--vector", "1,0", "-b", "sympy")
    code, out, err = run(capsys, monkeypatch, "vjp", ARM, "--vector", "1,0", "-b", "fd")
    assert code == 0 and err == "" and "no reverse mode" in out and "uᵀJ" in out


def test_per_point_vectors_from_the_points_file(capsys, monkeypatch, tmp_path):
    pts = tmp_path / "pts.csv"
    pts.write_text("theta1,theta2,u.y,u.x\n0.1,0.2,1,2\n0.5,abc,1,1\n-1,2,0,-3\n")
    code, out, err = run(capsys, monkeypatch, "vjp", ARM, "--points", str(pts), "-f", "jsonl")
    assert code == 5 and err.count("\n") == 1 and "1 point failed" in err
    lines = [json.loads(s) for s in out.splitlines()]
    assert [d["status"] for d in lines] == ["ok", "bad_input", "ok"]
    for d, (t1, t2, u) in zip([lines[0], lines[2]], [(0.1, 0.2, [2.0, 1.0]), (-1.0, 2.0, [-3.0, 0.0])]):
        assert d["vector"] == u
        np.testing.assert_allclose(d["vjp"], np.array(u) @ arm_jacobian(t1, t2), rtol=1e-13)
    assert "pts.csv:3: theta2" in lines[1]["message"]


def test_one_vector_for_every_point_and_jsonl_rows_with_their_own(capsys, monkeypatch):
    rows = ('{"theta1": 0.1}\n'
            '{"theta1": 0.2, "v.theta2": 1}\n'
            '{"theta1": 0.3, "v.theta3": 1}\n')
    code, out, err = run(capsys, monkeypatch, "jvp", ARM, "--points", "-", "--vector", "1,0",
                         "-f", "csv", stdin=rows)
    assert code == 5
    lines = out.splitlines()
    assert lines[0] == ("theta1,theta2,value.x,value.y,v.theta1,v.theta2,jvp.x,jvp.y,status,message")
    first = [float(c) for c in lines[1].split(",")[:8]]
    np.testing.assert_allclose(first[6:8], arm_jacobian(0.1, 1.2)[:, 0], rtol=1e-13)
    second = [float(c) for c in lines[2].split(",")[:8]]
    assert second[4:6] == [0.0, 1.0]
    np.testing.assert_allclose(second[6:8], arm_jacobian(0.2, 1.2)[:, 1], rtol=1e-13)
    assert lines[3].endswith("'v.theta3' is not a vector entry: the vector's inputs are theta1, theta2 "
                             "(columns v.theta1, v.theta2)\"")


@pytest.mark.parametrize("fmt", ["table", "csv", "latex", "jsonl"])
@pytest.mark.parametrize("op,vec", [("jvp", "1,0"), ("vjp", "0,1")])
def test_other_formats(capsys, monkeypatch, fmt, op, vec):
    code, out, err = run(capsys, monkeypatch, op, ARM, "--vector", vec, "-f", fmt)
    assert code == 0 and err == "" and out
    if fmt == "latex":
        assert r"\begin{pmatrix}" in out and ("(J v) =" in out or r"(u^\top J) =" in out)
    if fmt == "jsonl":
        assert json.loads(out)[op]


@pytest.mark.parametrize("args,code,pattern", [
    (["jvp", ARM, "--vector", "1,2,3"], 3, "--vector: expected 2 values (theta1, theta2), got 3"),
    (["vjp", ARM, "--vector", "1"], 3, "expected 2 values (x, y)"),
    (["vjp", ARM, "--vector", "z=1"], 3, "'z' is not one of the outputs; the outputs are x, y"),
    (["jvp", ARM, "--vector", "thta1=1"], 3, "did you mean 'theta1'"),
    (["jvp", ARM, "--vector", "1,abc"], 3, "'abc' is not a number"),
    (["jvp", ARM, "--vector", "1,nan"], 3, "finite"),
    (["jvp", ARM, "--vector", "theta1=1,2"], 3, "mixes plain values and name=value pairs"),
    (["jvp", ARM, "--vector", "theta1=1,theta1=2"], 3, "given twice"),
    (["jvp", ARM, "--vector", ""], 3, "--vector: empty"),
    (["jvp", ARM], 2, "jvp needs a vector: --vector with 2 values (theta1, theta2)"),
    (["vjp", ARM, "--at", "theta1=1", "--points", "p.csv", "--vector", "1,0"], 2, "--at or --points"),
    (["vjp", ARM, "--vector", "1,0", "--wrt", "l3"], 2, "--wrt: 'l3'"),
    (["vjp", ARM, "--vector", "1,0", "-b", "nosuch"], 4, "unknown backend 'nosuch'"),
    (["jvp", "-e", "log(x)", "--at=x=-1", "--vector", "1"], 5, "log(x)"),
    (["vjp", "-e", "sinn(x)", "--vector", "1"], 3, "unknown function 'sinn'"),
])
def test_errors_are_one_line_with_exit_code(capsys, monkeypatch, args, code, pattern):
    got, out, err = run(capsys, monkeypatch, *args)
    assert got == code, err
    assert err.startswith("jacli: error: ") and err.count("\n") == 1, err
    assert pattern in err
    assert "Traceback" not in err


@pytest.mark.parametrize("header,extra,code,pattern", [
    ("theta1,u.z", [], 3, "'u.z' is not a vector entry: the vector's outputs are x, y"),
    ("theta1,v.theta1", [], 3, "unknown column 'v.theta1'"),
    ("theta1,u.x", ["--vector", "1,0"], 2, "the vector is given twice"),
    ("theta1", [], 2, "no vector: give --vector or u.NAME columns"),
])
def test_points_file_vector_errors(capsys, monkeypatch, tmp_path, header, extra, code, pattern):
    pts = tmp_path / "p.csv"
    pts.write_text(header + "\n" + ",".join(["1"] * len(header.split(","))) + "\n")
    got, out, err = run(capsys, monkeypatch, "vjp", ARM, "--points", str(pts), *extra)
    assert got == code, err
    assert err.count("\n") == 1 and pattern in err and out == ""


def test_help_lists_the_commands(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "--help")
    assert code == 0 and "jvp" in out and "vjp" in out and "hessian" in out
    code, out, _ = run(capsys, monkeypatch, "vjp", "--help")
    assert code == 0 and "Examples" in out and "--vector" in out and "u.NAME" in out
