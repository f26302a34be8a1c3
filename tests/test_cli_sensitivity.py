"""``jacli sensitivity``: exit codes, one-line errors, JSON keys and table rendering."""
import io
import json
import sys
from pathlib import Path

import pytest

from jacli.cli import main

ROOT = Path(__file__).resolve().parents[1]
ARM = str(ROOT / "samples" / "arm.toml")
H2 = str(ROOT / "samples" / "gum_impedance.toml")
H1 = str(ROOT / "samples" / "gum_end_gauge.toml")


def run(capsys, monkeypatch, *args, stdin=None):
    """Run ``jacli ARGS``; returns (exit code, stdout, stderr)."""
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("JACLI_CACHE_DIR", str(tmp_path / "cache"))
    from jacli import _cache
    _cache.disable(False)


def doc_of(capsys, monkeypatch, *args):
    code, out, err = run(capsys, monkeypatch, "sensitivity", *args, "-f", "json")
    assert code == 0, err
    return json.loads(out), err


def test_listed_in_help(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "--help")
    assert code == 0 and "sensitivity" in out
    code, out, _ = run(capsys, monkeypatch, "sensitivity", "--help")
    assert code == 0 and "[local|gum]" in out


def test_local_json_keys(capsys, monkeypatch):
    doc, err = doc_of(capsys, monkeypatch, ARM, "--at", "theta1=0.5")
    assert err == ""
    assert doc["schema"] == 1 and doc["command"] == "sensitivity" and doc["method"] == "local"
    assert doc["at"]["theta1"] == 0.5
    x = doc["outputs"]["x"]
    for key in ("estimate", "std_uncertainty", "sensitivity_coefficients", "budget", "normalized",
                "ranking"):
        assert key in x
    assert set(x["budget"][0]) == {"input", "u_input", "contribution", "share"}
    assert doc["correlation"] is None and doc["covariance"] is None


def test_gum_json_keys_and_values(capsys, monkeypatch):
    doc, err = doc_of(capsys, monkeypatch, H2, "--method", "gum", "--coverage", "0.95")
    assert err == ""
    assert list(doc["outputs"]) == ["R", "X", "Z"]
    R = doc["outputs"]["R"]
    assert R["std_uncertainty"] == pytest.approx(0.071, rel=0.02)
    assert R["expanded_uncertainty"] == pytest.approx(1.959964 * R["std_uncertainty"], rel=1e-6)
    assert set(R["sensitivity_coefficients"]) == {"V", "I", "phi"}
    assert doc["correlation"][1][2] == pytest.approx(0.993, abs=0.01)
    assert len(doc["covariance"]) == 3 and doc["coverage_factor"] == pytest.approx(1.959964, abs=1e-6)


def test_gum_check_mc_warns_on_stderr(capsys, monkeypatch):
    doc, err = doc_of(capsys, monkeypatch, "-e", "exp(x)", "--method", "gum", "--check-mc", "20000",
                      "--seed", "1")
    # an inline model has no sigma: exact input, u = 0, and Monte Carlo agrees trivially
    assert doc["exact_inputs"] == ["x"] and doc["monte_carlo"]["outputs"]["f1"]["agree"] is True
    doc, err = doc_of(capsys, monkeypatch, H1, "--method", "gum", "--check-mc", "20000", "--seed", "2")
    assert "second_order" in doc and "monte_carlo" in doc
    assert doc["second_order"]["l"]["std_uncertainty"] == pytest.approx(34e-6, abs=0.5e-6)
    assert err.startswith("jacli: warning: l: Monte Carlo gives") and err.count("\n") == 1


def test_seeded_runs_are_identical(capsys, monkeypatch):
    a, _ = doc_of(capsys, monkeypatch, H2, "-m", "gum", "--check-mc", "3000", "--seed", "5")
    b, _ = doc_of(capsys, monkeypatch, H2, "-m", "gum", "--check-mc", "3000", "--seed", "5")
    assert a["monte_carlo"] == b["monte_carlo"]


def test_tables_render(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "sensitivity", H2)
    assert code == 0 and err == ""
    assert "local sensitivity" in out and "tornado" in out and "█" in out and "│" in out
    code, out, err = run(capsys, monkeypatch, "sensitivity", H1, "-m", "gum", "--coverage", "0.95",
                         "--second-order")
    assert code == 0 and err == ""
    assert "u_c = 3.167e-05" in out and "k = 1.96" in out and "second order" in out
    assert "0 at the estimate" in out
    code, out, err = run(capsys, monkeypatch, "sensitivity", H2, "-m", "gum")
    assert "correlation between" in out and "0.993" in out


def test_output_file(capsys, monkeypatch, tmp_path):
    target = tmp_path / "s.json"
    code, out, err = run(capsys, monkeypatch, "sensitivity", ARM, "-f", "json", "-o", str(target))
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["method"] == "local"


@pytest.mark.parametrize("args, code, match", [
    (["--method", "sobol"], 2, "Invalid value for '-m' / '--method'"),
    (["--coverage", "0.95"], 2, "--coverage applies to --method gum, not local"),
    (["--check-mc", "100"], 2, "--check-mc applies to --method gum"),
    (["-m", "gum", "--seed", "1"], 2, "--seed seeds the Monte Carlo check"),
    (["-m", "gum", "--check-mc", "1"], 2, "at least 2 samples"),
    (["-m", "gum", "--coverage", "2"], 2, "--coverage must be a probability"),
    (["--at", "nope=1"], 2, "'nope' is not an input"),
])
def test_usage_errors(capsys, monkeypatch, args, code, match):
    rc, out, err = run(capsys, monkeypatch, "sensitivity", ARM, *args)
    assert rc == code
    assert err.startswith("jacli: error: ") and match in err and err.count("\n") == 1
    assert out == ""


def test_not_psd_is_a_model_error(capsys, monkeypatch, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[inputs]\na = { value = 1, sigma = 1 }\nb = { value = 1, sigma = 1 }\n'
                   'c = { value = 1, sigma = 1 }\n[correlations]\n"a,b" = 0.9\n"b,c" = 0.9\n'
                   '"a,c" = -0.9\n[outputs]\ny = "a + b + c"\n')
    rc, out, err = run(capsys, monkeypatch, "sensitivity", str(bad), "-m", "gum")
    assert rc == 3 and "not positive semidefinite" in err and err.count("\n") == 1


def test_no_model_and_failed_point(capsys, monkeypatch):
    rc, _, err = run(capsys, monkeypatch, "sensitivity")
    assert rc == 2 and err.startswith("jacli: error: no model")
    rc, _, err = run(capsys, monkeypatch, "sensitivity", "-e", "log(x)", "--at", "x=-1")
    assert rc == 5 and "log" in err and err.count("\n") == 1
