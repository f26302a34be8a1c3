"""``jacli sensitivity``: exit codes, one-line errors, JSON keys and table rendering."""
import json
from pathlib import Path

import pytest

from helpers import run

ROOT = Path(__file__).resolve().parents[1]
ARM = str(ROOT / "samples" / "arm.toml")
H2 = str(ROOT / "samples" / "gum_impedance.toml")
H1 = str(ROOT / "samples" / "gum_end_gauge.toml")


def doc_of(capsys, monkeypatch, *args):
    code, out, err = run(capsys, monkeypatch, "sensitivity", *args, "-f", "json")
    assert code == 0, err
    return json.loads(out), err


def test_listed_in_help(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "--help")
    assert code == 0 and "sensitivity" in out
    code, out, _ = run(capsys, monkeypatch, "sensitivity", "--help")
    assert code == 0 and "[local|gum|sobol|morris|dgsm]" in out


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
    (["--method", "nope"], 2, "Invalid value for '-m' / '--method'"),
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


# --------------------------------------------------------------------------- global methods

import math  # noqa: E402

ISHIGAMI = """\
[inputs]
x1 = { value = 0, bounds = [-3.141592653589793, 3.141592653589793] }
x2 = { value = 0, bounds = [-3.141592653589793, 3.141592653589793] }
x3 = { value = 0, bounds = [-3.141592653589793, 3.141592653589793] }
{extra}
[parameters]
a = 7
b = 0.1
[outputs]
y = "sin(x1) + a*sin(x2)**2 + b*x3**4*sin(x1)"
"""


def ishigami(tmp_path, extra=""):
    path = tmp_path / "ishigami.toml"
    path.write_text(ISHIGAMI.replace("{extra}", extra))
    return str(path)


def ishigami_analytic(a=7.0, b=0.1):
    pi = math.pi
    V = a ** 2 / 8 + b * pi ** 4 / 5 + b ** 2 * pi ** 8 / 18 + 0.5
    V1 = (1 + b * pi ** 4 / 5) ** 2 / 2
    V2 = a ** 2 / 8
    V13 = b ** 2 * pi ** 8 * (1 / 18 - 1 / 50)
    S1 = {"x1": V1 / V, "x2": V2 / V, "x3": 0.0}
    ST = {"x1": (V1 + V13) / V, "x2": V2 / V, "x3": V13 / V}
    return S1, ST


def test_sobol_ishigami_within_conf(capsys, monkeypatch, tmp_path):
    model = ishigami(tmp_path)
    doc, err = doc_of(capsys, monkeypatch, model, "--method", "sobol", "--samples", "4096",
                      "--seed", "1")
    assert err == ""
    assert doc["method"] == "sobol" and doc["samples"] == 4096 and doc["seed"] == 1
    assert doc["evaluations"] == 4096 * 5 and doc["notes"] == []
    S1, ST = ishigami_analytic()
    y = doc["indices"]["y"]
    assert set(y) == {"S1", "S1_conf", "ST", "ST_conf"}
    for i in ("x1", "x2", "x3"):
        assert abs(y["S1"][i] - S1[i]) <= y["S1_conf"][i], (i, y["S1"][i], S1[i])
        assert abs(y["ST"][i] - ST[i]) <= y["ST_conf"][i], (i, y["ST"][i], ST[i])
        assert 0 < y["ST_conf"][i] < 0.1
    again, _ = doc_of(capsys, monkeypatch, model, "--method", "sobol", "--samples", "4096",
                      "--seed", "1")
    assert again == doc
    _, out, _ = run(capsys, monkeypatch, "sensitivity", model, "--method", "sobol", "--samples",
                    "4096", "--seed", "1", "-f", "json")
    _, out2, _ = run(capsys, monkeypatch, "sensitivity", model, "--method", "sobol", "--samples",
                     "4096", "--seed", "1", "-f", "json")
    assert out == out2


def test_sobol_second_order_and_table(capsys, monkeypatch, tmp_path):
    model = ishigami(tmp_path)
    doc, _ = doc_of(capsys, monkeypatch, model, "-m", "sobol", "--samples", "1024", "--seed", "3",
                    "--second-order", "--confidence", "0.9")
    y = doc["indices"]["y"]
    assert doc["confidence"] == 0.9 and doc["evaluations"] == 1024 * 8
    assert set(y["S2"]) == {"x1", "x2"} and set(y["S2"]["x1"]) == {"x2", "x3"}
    V13 = 0.01 * math.pi ** 8 * (1 / 18 - 1 / 50)
    V = 49 / 8 + 0.1 * math.pi ** 4 / 5 + 0.01 * math.pi ** 8 / 18 + 0.5
    assert abs(y["S2"]["x1"]["x3"] - V13 / V) <= y["S2_conf"]["x1"]["x3"]
    code, out, err = run(capsys, monkeypatch, "sensitivity", model, "-m", "sobol", "--samples",
                         "256", "--seed", "1")
    assert code == 0 and err == ""
    assert "Sobol' indices" in out and " ± " in out and "█" in out
    rows = [ln.split()[0] for ln in out.splitlines() if ln[:2] in ("x1", "x2", "x3")]
    assert rows == ["x1", "x2", "x3"]                     # ranked by ST


def test_constant_output_is_null_with_note(capsys, monkeypatch, tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[inputs]\nx = { value = 0.5, bounds = [0, 1] }\n[outputs]\nc = "1 + 0*x"\n'
                 'y = "x**2"\n')
    doc, _ = doc_of(capsys, monkeypatch, str(p), "-m", "sobol", "--samples", "256", "--seed", "1")
    assert doc["indices"]["c"]["S1"]["x"] is None and doc["indices"]["c"]["ST_conf"]["x"] is None
    assert doc["indices"]["y"]["S1"]["x"] == pytest.approx(1.0, abs=0.05)
    assert any("'c' is constant" in n for n in doc["notes"])


def test_morris_ranks_unused_input_last(capsys, monkeypatch, tmp_path):
    model = ishigami(tmp_path, "x4 = { value = 0.5, bounds = [0, 1] }")
    doc, err = doc_of(capsys, monkeypatch, model, "--method", "morris", "--trajectories", "30",
                      "--levels", "6", "--seed", "2")
    assert err == "" and doc["method"] == "morris"
    assert doc["trajectories"] == 30 and doc["levels"] == 6 and doc["evaluations"] == 30 * 5
    y = doc["indices"]["y"]
    assert y["mu_star"]["x4"] == 0.0 and y["sigma"]["x4"] == 0.0
    assert min(y["mu_star"][i] for i in ("x1", "x2", "x3")) > 0
    code, out, _ = run(capsys, monkeypatch, "sensitivity", model, "-m", "morris", "--seed", "2")
    assert code == 0 and "μ*" in out
    rows = [ln.split()[0] for ln in out.splitlines() if ln[:2] in ("x1", "x2", "x3", "x4")]
    assert len(rows) == 4 and rows[-1] == "x4"


def test_dgsm_bound_above_analytic_total(capsys, monkeypatch, tmp_path):
    model = ishigami(tmp_path)
    doc, err = doc_of(capsys, monkeypatch, model, "--method", "dgsm", "--samples", "1024",
                      "--seed", "1")
    assert err == "" and doc["method"] == "dgsm" and doc["samples"] == 1024
    _, ST = ishigami_analytic()
    y = doc["indices"]["y"]
    for i in ("x1", "x2", "x3"):
        assert y["nu"][i] > 0 and y["ST_bound"][i] >= ST[i]
    code, out, _ = run(capsys, monkeypatch, "sensitivity", model, "-m", "dgsm", "--samples", "64",
                       "--seed", "1")
    assert code == 0 and "ST bound" in out


def test_global_missing_bounds_is_model_error(capsys, monkeypatch):
    for method in ("sobol", "morris", "dgsm"):
        rc, out, err = run(capsys, monkeypatch, "sensitivity", ARM, "-m", method)
        assert rc == 3 and out == "" and "has no distribution" in err and err.count("\n") == 1


@pytest.mark.parametrize("args, match", [
    (["-m", "sobol", "--samples", "1000"], "--samples must be a power of 2"),
    (["-m", "dgsm", "--samples", "0"], "--samples must be a power of 2"),
    (["-m", "morris", "--samples", "1024"], "--samples applies to --method sobol or dgsm"),
    (["-m", "sobol", "--trajectories", "5"], "--trajectories applies to --method morris"),
    (["-m", "morris", "--levels", "5"], "--levels must be even"),
    (["-m", "dgsm", "--second-order"], "--second-order applies to --method gum or sobol"),
    (["-m", "sobol", "--at", "x1=0"], "--at applies to --method local or gum"),
    (["-m", "sobol", "--confidence", "1.5"], "--confidence must be a probability"),
    (["-m", "morris", "--confidence", "0.9"], "--confidence applies to --method sobol"),
    (["-m", "sobol", "-b", "fd"], "--backend applies to --method local or gum or dgsm"),
    (["--seed", "1"], "--seed applies to"),
])
def test_global_usage_errors(capsys, monkeypatch, tmp_path, args, match):
    rc, out, err = run(capsys, monkeypatch, "sensitivity", ishigami(tmp_path), *args)
    assert rc == 2 and out == ""
    assert err.startswith("jacli: error: ") and match in err and err.count("\n") == 1


def test_no_progress_bar_when_not_a_terminal(capsys, monkeypatch, tmp_path):
    from jacli.cli import sensitivity_cmd

    monkeypatch.setattr(sensitivity_cmd, "PROGRESS_EVALUATIONS", 1)
    code, _, err = run(capsys, monkeypatch, "sensitivity", ishigami(tmp_path), "-m", "sobol",
                       "--samples", "64", "-f", "json")
    assert code == 0 and err == ""


def test_progress_bar_counts_real_evaluations(capsys, monkeypatch, tmp_path):
    """On a terminal, the bar advances with the evaluations actually done and ends at the total."""
    import sys

    from jacli.cli import sensitivity_cmd

    calls = []
    real = sensitivity_cmd._live_progress

    def spy(label, total):
        cm = real(label, total)

        class Wrapped:
            def __enter__(self):
                fn = cm.__enter__()

                def update(done, tot):
                    calls.append((done, tot))
                    fn(done, tot)
                return update

            def __exit__(self, *exc):
                return cm.__exit__(*exc)
        return Wrapped()

    monkeypatch.setattr(sensitivity_cmd, "PROGRESS_EVALUATIONS", 1)
    monkeypatch.setattr(sensitivity_cmd, "_live_progress", spy)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    from jacli.sensitivity import variance
    monkeypatch.setattr(variance, "EVAL_ROWS", 256)    # several blocks
    for method, extra, total in (("sobol", ["--samples", "128"], 128 * 5),
                                 ("morris", ["--trajectories", "100"], 100 * 4),
                                 ("dgsm", ["--samples", "64"], 64)):
        calls.clear()
        code, out, _ = run(capsys, monkeypatch, "sensitivity", ishigami(tmp_path), "-m", method,
                           *extra, "-f", "json")
        assert code == 0, method
        assert calls and calls[-1] == (total, total), (method, calls)
        done = [c[0] for c in calls]
        assert done == sorted(done) and len(set(done)) == len(done), (method, calls)
        if method != "dgsm":
            assert len(calls) > 1, (method, calls)
