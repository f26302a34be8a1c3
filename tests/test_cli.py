"""The command line: exit codes, one-line errors, formats, batches, files, the installed script."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jacli.cli import main

from helpers import run

ROOT = Path(__file__).resolve().parents[1]
ARM = str(ROOT / "samples" / "arm.toml")


def test_nominal_table(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "jacobian", ARM)
    assert code == 0 and err == ""
    assert "two-link arm" in out and "∂/∂theta1" in out and "-0.7942677" in out


def test_json_matches_hand_derivation(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "jacobian", ARM, "--at", "theta1=0.5", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    t1, t2, l1, l2 = 0.5, 1.2, 1.0, 0.5
    ref = [[-l1 * np.sin(t1) - l2 * np.sin(t1 + t2), -l2 * np.sin(t1 + t2)],
           [l1 * np.cos(t1) + l2 * np.cos(t1 + t2), l2 * np.cos(t1 + t2)]]
    np.testing.assert_allclose(doc["jacobian"], ref, rtol=1e-14)
    assert doc["schema"] == 1 and doc["status"] == "ok" and doc["error"] is None
    assert doc["inputs"] == ["theta1", "theta2"] and doc["outputs"] == ["x", "y"]
    assert doc["at"] == {"theta1": 0.5, "theta2": 1.2}


def test_inline_and_negative_values(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "jacobian", "-e", "x*y, sin(x)+y", "--at=x=-1,y=2",
                       "-f", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["jacobian"] == [[2.0, -1.0], [np.cos(-1.0), 1.0]]
    assert doc["outputs"] == ["f1", "f2"]


def test_inputs_order_and_wrt(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "jacobian", "-e", "x*y**2", "--inputs", "y,x",
                       "--at", "x=3,y=2", "-f", "json")
    assert json.loads(out)["jacobian"] == [[12.0, 4.0]]
    code, out, _ = run(capsys, monkeypatch, "jacobian", ARM, "--wrt", "l2,theta2", "-f", "json")
    doc = json.loads(out)
    assert doc["inputs"] == ["l2", "theta2"]
    np.testing.assert_allclose(doc["jacobian"][0], [np.cos(1.5), -0.5 * np.sin(1.5)], rtol=1e-14)


def test_param_override(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "jacobian", ARM, "--param", "l1=2", "-f", "json")
    doc = json.loads(out)
    assert doc["params"]["l1"] == 2.0
    assert doc["jacobian"][0][0] == pytest.approx(-2 * np.sin(0.3) - 0.5 * np.sin(1.5), rel=1e-14)


def test_model_on_stdin(capsys, monkeypatch):
    text = Path(ARM).read_text()
    code, out, _ = run(capsys, monkeypatch, "jacobian", "-", "-f", "json", stdin=text)
    assert code == 0 and json.loads(out)["model"] == "two-link arm"


@pytest.mark.parametrize("backend", ["sympy", "fd", "fd:order=4", "complex"])
def test_backends_agree(capsys, monkeypatch, backend):
    code, out, _ = run(capsys, monkeypatch, "jacobian", ARM, "-b", backend, "-f", "json")
    doc = json.loads(out)
    assert code == 0
    t1, t2 = 0.3, 1.2
    ref = [[-np.sin(t1) - 0.5 * np.sin(t1 + t2), -0.5 * np.sin(t1 + t2)],
           [np.cos(t1) + 0.5 * np.cos(t1 + t2), 0.5 * np.cos(t1 + t2)]]
    J, E = np.array(doc["jacobian"]), doc["error"]
    if backend.startswith("fd"):
        assert np.all(np.abs(J - ref) <= np.array(E) + 1e-15)
        assert doc["nfev"] > 0
    else:
        np.testing.assert_allclose(J, ref, rtol=1e-14)


def test_points_file_streams_and_reports_bad_rows(capsys, monkeypatch, tmp_path):
    pts = tmp_path / "pts.csv"
    pts.write_text("x\n1\n-1\nabc\n4\n")
    code, out, err = run(capsys, monkeypatch, "jacobian", "-e", "log(x)", "--points", str(pts),
                         "-f", "jsonl")
    assert code == 5
    assert err.count("\n") == 1 and "2 points failed" in err
    lines = [json.loads(s) for s in out.splitlines()]
    assert [d["status"] for d in lines] == ["ok", "domain_error", "bad_input", "ok"]
    assert lines[0]["jacobian"] == [[1.0]] and lines[3]["jacobian"] == [[0.25]]
    assert "log(x)" in lines[1]["message"]
    assert lines[1]["jacobian"] is None or lines[1]["jacobian"] == [[None]]


def test_points_jsonl_from_stdin_batches(capsys, monkeypatch):
    rows = "".join(json.dumps({"x": float(i)}) + "\n" for i in range(1, 50))
    code, out, _ = run(capsys, monkeypatch, "jacobian", "-e", "x**3", "--points", "-",
                       "--batch-size", "7", "-f", "jsonl", stdin=rows)
    assert code == 0
    got = [json.loads(s)["jacobian"][0][0] for s in out.splitlines()]
    assert got == [3.0 * i * i for i in range(1, 50)]


def test_output_file_atomic(capsys, monkeypatch, tmp_path):
    target = tmp_path / "out.json"
    target.write_text("previous")
    code, out, _ = run(capsys, monkeypatch, "jacobian", ARM, "-f", "json", "-o", str(target))
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["status"] == "ok"
    # A failing run (bad model) leaves the existing file untouched.
    bad = tmp_path / "bad.toml"
    bad.write_text('[inputs]\nx = 1\n[outputs]\ny = "sinn(x)"\n')
    target.write_text("previous")
    code, _, _ = run(capsys, monkeypatch, "jacobian", str(bad), "-o", str(target))
    assert code == 3 and target.read_text() == "previous"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("fmt", ["csv", "latex", "table", "jsonl"])
def test_other_formats(capsys, monkeypatch, fmt):
    code, out, err = run(capsys, monkeypatch, "jacobian", ARM, "-f", fmt)
    assert code == 0 and err == "" and out


def test_symbolic(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "jacobian", ARM, "--symbolic", "-f", "json")
    doc = json.loads(out)
    assert doc["symbolic"] is True
    assert doc["jacobian"][0][1] == "-l2*sin(theta1 + theta2)"
    code, out, _ = run(capsys, monkeypatch, "jacobian", ARM, "--symbolic", "-f", "latex")
    assert r"\begin{pmatrix}" in out and r"\sin" in out


def test_symbolic_strings_reparse_to_the_same_derivative(capsys, monkeypatch):
    # The symbolic output is in jacli's grammar: feed it back as a model and compare numbers.
    code, out, _ = run(capsys, monkeypatch, "jacobian", "-e", "where(x < y, x*exp(y), abs(x-y)) + atan2(y, x)",
                       "--symbolic", "-f", "json")
    doc = json.loads(out)
    exprs = ", ".join(doc["jacobian"][0])
    code, out2, _ = run(capsys, monkeypatch, "jacobian", "-e", exprs, "--inputs", "x,y",
                        "--at", "x=0.3,y=1.1", "-f", "json")
    vals = json.loads(out2)["value"]
    code, out3, _ = run(capsys, monkeypatch, "jacobian", "-e", "where(x < y, x*exp(y), abs(x-y)) + atan2(y, x)",
                        "--at", "x=0.3,y=1.1", "-f", "json")
    np.testing.assert_allclose(vals, json.loads(out3)["jacobian"][0], rtol=1e-14)


def test_sparsity(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "jacobian", "-e", "x*y, z", "--sparsity", "-f", "json")
    doc = json.loads(out)
    assert doc["sparsity"]["pattern"] == [[0, 1], [2]]
    code, out, _ = run(capsys, monkeypatch, "jacobian", "-e", "x*y, z", "--sparsity")
    assert code == 0 and "sparsity" in out


@pytest.mark.parametrize("args,code,pattern", [
    (["jacobian", "nope.toml"], 3, "nope.toml: cannot read"),
    (["jacobian", "-e", "sinn(x)"], 3, "unknown function 'sinn' (did you mean 'sin'?)"),
    (["jacobian", "-e", "x.real"], 3, "<expr>:1:"),
    (["jacobian", "-e", "9**9**9**9"], 3, "too large"),
    (["jacobian", ARM, "--at", "thta1=1"], 2, "did you mean 'theta1'"),
    (["jacobian", ARM, "--at", "theta1"], 2, "--at"),
    (["jacobian", ARM, "--wrt", "l3"], 2, "--wrt: 'l3'"),
    (["jacobian", ARM, "--param", "l9=1"], 2, "unknown parameter 'l9'"),
    (["jacobian", ARM, "-b", "nosuch"], 4, "unknown backend 'nosuch'"),
    (["jacobian", ARM, "-b", "fd:order=3"], 2, "order"),
    (["jacobian", ARM, "-b", "fd:bogus=1"], 2, "unknown option 'bogus'"),
    (["jacobian", "-e", "abs(x)", "-b", "complex"], 4, "use --backend sympy"),
    (["jacobian", "-e", "log(x)", "--at=x=-1"], 5, "log(x)"),
    (["jacobian", "-e", "1/x", "--at", "x=0"], 5, "not finite"),
    (["jacobian", "-e", "sqrt(x)", "--at", "x=0"], 5, "d(f1)/d(x)"),
    (["jacobian"], 2, "no model"),
    (["jacobian", ARM, "--format", "xml"], 2, "xml"),
    (["jacobian", ARM, "--points", "missing.csv"], 3, "missing.csv"),
    (["jacobian", ARM, "--symbolic", "-b", "fd"], 4, "--backend sympy"),
    (["frobnicate"], 2, "No such command"),
])
def test_errors_are_one_line_with_exit_code(capsys, monkeypatch, args, code, pattern):
    got, out, err = run(capsys, monkeypatch, *args)
    assert got == code, err
    assert err.startswith("jacli: error: ") and err.count("\n") == 1, err
    assert pattern in err
    assert "Traceback" not in err


def test_debug_shows_traceback(monkeypatch):
    from jacli.errors import ModelError
    with pytest.raises(ModelError):
        main(["--debug", "jacobian", "-e", "sinn(x)"])


def test_help_and_version(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "--help")
    assert code == 0 and "jacli jacobian samples/arm.toml" in out and "Exit codes" in out
    code, out, _ = run(capsys, monkeypatch, "jacobian", "--help")
    assert code == 0 and "Examples" in out and "--wrt" in out
    code, out, _ = run(capsys, monkeypatch, "backends", "--help")
    assert code == 0 and "jacli backends" in out
    code, out, _ = run(capsys, monkeypatch, "--version")
    assert code == 0 and "0.1.0" in out


def test_backends_listing(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "backends", "-f", "json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert {"sympy", "fd", "complex"} <= set(rows)
    assert rows["sympy"]["capabilities"]["exact"] and rows["complex"]["capabilities"]["requires_analytic"]
    code, out, _ = run(capsys, monkeypatch, "backends")
    assert code == 0 and "error_estimate" in out


def test_cache_is_used_and_survives_corruption(capsys, monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    code, first, _ = run(capsys, monkeypatch, "jacobian", ARM, "-f", "json")
    entries = list(cache.glob("*.json"))
    assert len(entries) == 1
    code, second, _ = run(capsys, monkeypatch, "jacobian", ARM, "-f", "json")
    assert first == second
    # A tampered entry (digest mismatch) is ignored and rebuilt, never executed.
    doc = json.loads(entries[0].read_text())
    doc["payload"]["source"] = "def _jac(_a):\n    raise SystemExit(99)\n"
    entries[0].write_text(json.dumps(doc))
    code, third, _ = run(capsys, monkeypatch, "jacobian", ARM, "-f", "json")
    assert code == 0 and third == first
    entries[0].write_text("garbage{")
    code, fourth, _ = run(capsys, monkeypatch, "jacobian", ARM, "-f", "json")
    assert code == 0 and fourth == first


def test_no_cache_writes_nothing(capsys, monkeypatch, tmp_path):
    code, _, _ = run(capsys, monkeypatch, "jacobian", ARM, "--no-cache")
    assert code == 0 and not (tmp_path / "cache").exists()


def test_import_jacli_is_light():
    code = ("import sys, jacli; m = jacli.model_from_expressions('x*y');"
            "bad = [k for k in ('sympy', 'scipy', 'rich', 'click') if k in sys.modules];"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_numeric_jacobian_run_does_not_import_sympy(tmp_path):
    code = ("import sys; from jacli.cli import main\n"
            "try:\n    main(['jacobian', %r, '-f', 'json'])\n"
            "except SystemExit:\n    pass\n"
            "print('SYMPY' if 'sympy' in sys.modules else 'clean', file=sys.stderr)" % ARM)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "JACLI_CACHE_DIR": str(tmp_path)})
    assert out.stderr.strip().endswith("clean")


def test_installed_script_in_subprocess(tmp_path):
    exe = Path(sys.executable).with_name("jacli")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "jacli"]
    out = subprocess.run(cmd + ["jacobian", ARM, "-f", "json"], capture_output=True, text=True,
                         env={**os.environ, "JACLI_CACHE_DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "ok"
    out = subprocess.run([sys.executable, "-m", "jacli", "jacobian", "-e", "sinn(x)"],
                         capture_output=True, text=True)
    assert out.returncode == 3 and out.stderr.count("\n") == 1
