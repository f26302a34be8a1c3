"""``jacli hessian``: Hessians, curvature, sum of squares, hvp, symbolic and matrix-free, against
hand-derived references."""
import json
from pathlib import Path

import numpy as np
import pytest

from helpers import run

ROOT = Path(__file__).resolve().parents[1]
ARM = str(ROOT / "samples" / "arm.toml")
PUROMYCIN = str(ROOT / "samples" / "puromycin_residuals.toml")
ROSENBROCK = "(1-x)^2 + 100*(y-x^2)^2"
L2 = 0.5


def doc_of(capsys, monkeypatch, *args):
    code, out, err = run(capsys, monkeypatch, *args, "-f", "json")
    assert code == 0, err
    assert err == ""
    return json.loads(out)


def rosenbrock_hessian(x, y):
    """Hand-derived: f = (1-x)² + 100(y-x²)²; f_xx = 2 - 400y + 1200x², f_xy = -400x, f_yy = 200."""
    return np.array([[2 - 400 * y + 1200 * x * x, -400 * x], [-400 * x, 200.0]])


def arm_hessians(t1, t2, l1=1.0, l2=L2):
    """Hand-derived Hessians of x = l1 cos t1 + l2 cos(t1+t2) and y = l1 sin t1 + l2 sin(t1+t2)."""
    c1, s1, c12, s12 = np.cos(t1), np.sin(t1), np.cos(t1 + t2), np.sin(t1 + t2)
    Hx = -np.array([[l1 * c1 + l2 * c12, l2 * c12], [l2 * c12, l2 * c12]])
    Hy = -np.array([[l1 * s1 + l2 * s12, l2 * s12], [l2 * s12, l2 * s12]])
    return Hx, Hy


# --------------------------------------------------------------------------- dense Hessians


@pytest.mark.parametrize("backend", ["sympy", "fd", "complex"])
def test_rosenbrock_minimum(capsys, monkeypatch, backend):
    doc = doc_of(capsys, monkeypatch, "hessian", "-e", ROSENBROCK, "--at", "x=1,y=1", "-b", backend)
    H = np.array(doc["hessian"])
    ref = [[802.0, -400.0], [-400.0, 200.0]]
    if backend == "sympy":
        assert doc["error"] is None and doc["exact"]
        np.testing.assert_array_equal(H, ref)
    else:
        assert np.all(np.abs(H - ref) <= np.array(doc["error"]) + 1e-9)
    c = doc["curvature"]
    assert c["definiteness"] == "positive definite" and c["critical"] is True
    assert c["classification"] == "minimum" and c["rank"] == 2
    lam = np.linalg.eigvalsh(np.array(ref))            # 501 ± sqrt(301² + 400²)
    np.testing.assert_allclose(c["eigenvalues"], lam, rtol=1e-8)
    np.testing.assert_allclose(c["condition"], lam[1] / lam[0], rtol=1e-8)
    assert c["inertia"] == {"positive": 2, "zero": 0, "negative": 0}


@pytest.mark.parametrize("expr,kind,eigs", [
    ("x^2 - y^2", "saddle", [-2.0, 2.0]),
    ("-x^2 - y^2", "maximum", [-2.0, -2.0]),
    ("x^4 + y^2", "degenerate", [0.0, 2.0]),
    ("x^2 + 3*y^2 + x*y", "minimum", [4 - np.sqrt(5), 4 + np.sqrt(5)]),
])
def test_classification_at_the_origin(capsys, monkeypatch, expr, kind, eigs):
    doc = doc_of(capsys, monkeypatch, "hessian", "-e", expr, "--inputs", "x,y", "--at", "x=0,y=0")
    c = doc["curvature"]
    assert c["critical"] is True and c["classification"] == kind
    np.testing.assert_allclose(c["eigenvalues"], eigs, atol=1e-14)
    if kind == "degenerate":
        assert c["definiteness"] == "positive semidefinite" and c["condition"] is None


@pytest.mark.parametrize("backend", ["fd", "complex"])
def test_estimated_hessian_zero_eigenvalue_within_its_error_stays_zero(capsys, monkeypatch, backend):
    # x⁴ + y² at 0: H = diag(0, 2); the estimate's noise must not turn "degenerate" into "minimum".
    doc = doc_of(capsys, monkeypatch, "hessian", "-e", "x^4 + y^2", "--inputs", "x,y",
                 "--at", "x=0,y=0", "-b", backend)
    H, E = np.array(doc["hessian"]), np.array(doc["error"])
    assert np.all(np.abs(H - [[0.0, 0.0], [0.0, 2.0]]) <= E + 1e-15)
    c = doc["curvature"]
    assert c["classification"] == "degenerate" and c["inertia"]["zero"] == 1
    assert c["rtol"] >= np.linalg.norm(E) / 2.0 * (1 - 1e-12)


def test_output_file_named_like_an_output_with_a_selection_is_a_file(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, monkeypatch, "hessian", ARM, "--output-name", "x", "-o", "x", "-f", "json")
    assert code == 0 and out == "" and json.loads((tmp_path / "x").read_text())["outputs"] == ["x"]


def test_not_a_critical_point_is_not_classified(capsys, monkeypatch):
    doc = doc_of(capsys, monkeypatch, "hessian", "-e", ROSENBROCK, "--at", "x=0,y=0")
    np.testing.assert_array_equal(doc["hessian"], rosenbrock_hessian(0.0, 0.0))
    assert doc["gradient"] == [-2.0, 0.0]
    c = doc["curvature"]
    assert c["critical"] is False and c["classification"] is None and c["gradient_norm"] == 2.0


def test_table_shows_the_curvature_under_the_matrix(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "hessian", "-e", "x^2 - y^2", "--at", "x=0,y=0")
    assert code == 0 and err == ""
    assert out.index("∂/∂x") < out.index("eigenvalues") < out.index("indefinite") < out.index("saddle")


def test_all_outputs_keyed_and_one_output_bare(capsys, monkeypatch):
    Hx, Hy = arm_hessians(0.3, 1.2)
    doc = doc_of(capsys, monkeypatch, "hessian", ARM, "--all")
    assert set(doc["hessian"]) == {"x", "y"} and set(doc["curvature"]) == {"x", "y"}
    np.testing.assert_allclose(doc["hessian"]["x"], Hx, rtol=1e-14)
    np.testing.assert_allclose(doc["hessian"]["y"], Hy, rtol=1e-14)
    assert doc["curvature"]["x"]["definiteness"] == "negative definite"
    one = doc_of(capsys, monkeypatch, "hessian", ARM, "--output-name", "y", "--at", "theta2=0.4")
    assert one["outputs"] == ["y"]
    np.testing.assert_allclose(one["hessian"], arm_hessians(0.3, 0.4)[1], rtol=1e-14)
    two = doc_of(capsys, monkeypatch, "hessian", ARM, "--output-name", "y,x")
    assert list(two["hessian"]) == ["y", "x"]


def test_wrt_parameters(capsys, monkeypatch):
    # x is linear in l1 and l2, so its Hessian w.r.t. (l1, theta1) is [[0, -sin t1], [-sin t1, -x]].
    doc = doc_of(capsys, monkeypatch, "hessian", ARM, "--output-name", "x", "--wrt", "l1,theta1")
    x = np.cos(0.3) + L2 * np.cos(1.5)
    np.testing.assert_allclose(doc["hessian"], [[0.0, -np.sin(0.3)], [-np.sin(0.3), -x]], rtol=1e-14)


def test_sumsq_gauss_newton_is_jtj_of_the_jacobian_command(capsys, monkeypatch):
    jac = doc_of(capsys, monkeypatch, "jacobian", PUROMYCIN)
    J, f = np.array(jac["jacobian"]), np.array(jac["value"])
    doc = doc_of(capsys, monkeypatch, "hessian", PUROMYCIN, "--of", "sumsq")
    assert doc["outputs"] == ["sumsq"] and doc["of"] == "sumsq"
    assert doc["residual_names"] == [f"r{i}" for i in range(1, 13)]
    np.testing.assert_allclose(doc["gauss_newton"], J.T @ J, rtol=1e-13)
    np.testing.assert_allclose(doc["value"], [0.5 * f @ f], rtol=1e-14)
    np.testing.assert_allclose(doc["gradient"], J.T @ f, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(doc["residuals"], f, rtol=1e-14)
    S = np.array(doc["hessian"]) - np.array(doc["gauss_newton"])
    np.testing.assert_allclose(doc["neglected_norm"], np.linalg.norm(S, 2), rtol=1e-8)
    # Bates & Watts: S(θ̂) = 1195 at the published estimates (rounded here: 0.5·S ≈ 597.7).
    assert abs(2 * doc["value"][0] - 1195.4) < 1.0
    # Residual curvature: d²r/dK² = -2 Vm x/(K+x)³ per residual, hand-derived.
    x = np.array([0.02, 0.02, 0.06, 0.06, 0.11, 0.11, 0.22, 0.22, 0.56, 0.56, 1.10, 1.10])
    Vm, K = 212.7, 0.06412
    d2K = -2 * Vm * x / (K + x) ** 3
    dVmK = x / (K + x) ** 2
    S_ref = np.array([[0.0, f @ dVmK], [f @ dVmK, f @ d2K]])
    np.testing.assert_allclose(S, S_ref, rtol=1e-8)


def test_sumsq_with_finite_differences_agrees_within_its_error(capsys, monkeypatch):
    exact = doc_of(capsys, monkeypatch, "hessian", PUROMYCIN, "--of", "sumsq")
    fd = doc_of(capsys, monkeypatch, "hessian", PUROMYCIN, "--of", "sumsq", "-b", "fd")
    assert np.all(np.abs(np.array(fd["hessian"]) - exact["hessian"]) <= np.array(fd["error"]) + 1e-9)
    assert fd["curvature"]["definiteness"] == "positive definite"


@pytest.mark.parametrize("fmt", ["table", "csv", "latex"])
def test_sumsq_formats(capsys, monkeypatch, fmt):
    code, out, err = run(capsys, monkeypatch, "hessian", PUROMYCIN, "--of", "sumsq", "-f", fmt)
    assert code == 0 and err == ""
    if fmt == "table":
        assert "Gauss–Newton" in out and "neglected term" in out
    elif fmt == "csv":
        header, row = out.splitlines()
        cols = dict(zip(header.split(","), row.split(",")))
        assert "gauss_newton.Vm.K" in cols and "d2sumsq/dK/dK" in cols and cols["status"] == "ok"
        assert cols["curvature.sumsq.definiteness"] == "positive definite"
    else:
        assert r"H = \begin{pmatrix}" in out and r"H_{\mathrm{GN}} = \begin{pmatrix}" in out


def test_batch_of_hessians_with_failures(capsys, monkeypatch, tmp_path):
    pts = tmp_path / "pts.csv"
    pts.write_text("x,y\n1,1\n-1,2\nabc,1\n0,0\n")
    code, out, err = run(capsys, monkeypatch, "hessian", "-e", "log(x) + " + ROSENBROCK,
                         "--inputs", "x,y", "--points", str(pts), "-f", "jsonl", "--batch-size", "2")
    assert code == 5 and err.count("\n") == 1 and "3 points failed" in err
    lines = [json.loads(s) for s in out.splitlines()]
    assert [d["status"] for d in lines] == ["ok", "domain_error", "bad_input", "domain_error"]
    np.testing.assert_allclose(lines[0]["hessian"], rosenbrock_hessian(1, 1) + [[-1, 0], [0, 0]])
    assert lines[1]["curvature"] is None and "log(x)" in lines[1]["message"]


def test_csv_and_latex_of_several_outputs(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "hessian", ARM, "--all", "-f", "csv")
    header, row = out.splitlines()
    cols = dict(zip(header.split(","), row.split(",")))
    Hx, Hy = arm_hessians(0.3, 1.2)
    assert float(cols["d2x/dtheta1/dtheta2"]) == pytest.approx(Hx[0, 1], rel=1e-14)
    assert float(cols["d2y/dtheta2/dtheta2"]) == pytest.approx(Hy[1, 1], rel=1e-14)
    assert cols["curvature.x.definiteness"] == "negative definite"
    code, out, _ = run(capsys, monkeypatch, "hessian", ARM, "--all", "-f", "latex")
    assert r"H_{\mathrm{x}} = \begin{pmatrix}" in out and r"H_{\mathrm{y}}" in out


# --------------------------------------------------------------------------- hvp


@pytest.mark.parametrize("backend", ["sympy", "fd"])
def test_hvp_is_h_times_v(capsys, monkeypatch, backend):
    Hx, Hy = arm_hessians(0.3, 1.2)
    v = np.array([1.0, -2.0])
    doc = doc_of(capsys, monkeypatch, "hessian", ARM, "--all", "--hvp", "--vector", "1,-2", "-b", backend)
    assert doc["command"] == "hvp" and doc["vector"] == v.tolist()
    for name, H in (("x", Hx), ("y", Hy)):
        if backend == "fd":
            assert np.all(np.abs(np.array(doc["hvp"][name]) - H @ v) <= np.array(doc["error"][name]) + 1e-12)
        else:
            np.testing.assert_allclose(doc["hvp"][name], H @ v, rtol=1e-14)
    one = doc_of(capsys, monkeypatch, "hessian", "-e", ROSENBROCK, "--at", "x=1,y=1", "--hvp",
                 "--vector", "y=1")
    np.testing.assert_allclose(one["hvp"], [-400.0, 200.0])


def test_hvp_with_per_point_vectors(capsys, monkeypatch, tmp_path):
    pts = tmp_path / "pts.csv"
    pts.write_text("x,y,v.x,v.y\n1,1,1,0\n0,2,0,1\n")
    code, out, err = run(capsys, monkeypatch, "hessian", "-e", ROSENBROCK, "--inputs", "x,y", "--hvp",
                         "--points", str(pts), "-f", "jsonl")
    assert code == 0, err
    a, b = (json.loads(s) for s in out.splitlines())
    np.testing.assert_allclose(a["hvp"], rosenbrock_hessian(1, 1) @ [1, 0])
    np.testing.assert_allclose(b["hvp"], rosenbrock_hessian(0, 2) @ [0, 1])


# --------------------------------------------------------------------------- symbolic


def test_symbolic_hessian_reparses_to_the_numbers(capsys, monkeypatch):
    doc = doc_of(capsys, monkeypatch, "hessian", "-e", ROSENBROCK, "--symbolic")
    assert doc["symbolic"] is True and doc["at"] is None
    H = doc["hessian"]
    assert H[0][1] == H[1][0] and H[1][1] == "200"
    exprs = ", ".join([H[0][0], H[0][1], H[1][1]])
    num = doc_of(capsys, monkeypatch, "jacobian", "-e", exprs, "--inputs", "x,y", "--at", "x=0.5,y=-1")
    ref = rosenbrock_hessian(0.5, -1.0)
    np.testing.assert_allclose(num["value"], [ref[0, 0], ref[0, 1], ref[1, 1]], rtol=1e-14)


def test_symbolic_sumsq_and_formats(capsys, monkeypatch):
    doc = doc_of(capsys, monkeypatch, "hessian", "-e", "x - 1, x*y", "--symbolic", "--of", "sumsq")
    # s = ½((x-1)² + x²y²): s_xx = 1 + y², s_xy = 2xy, s_yy = x².
    assert doc["outputs"] == ["sumsq"] and doc["of"] == "sumsq"
    exprs = ", ".join([doc["hessian"][0][0], doc["hessian"][0][1], doc["hessian"][1][1]])
    num = doc_of(capsys, monkeypatch, "jacobian", "-e", exprs, "--inputs", "x,y", "--at", "x=2,y=3")
    np.testing.assert_allclose(num["value"], [10.0, 12.0, 4.0], rtol=1e-14)
    code, out, _ = run(capsys, monkeypatch, "hessian", ARM, "--all", "--symbolic", "-f", "latex")
    assert code == 0 and r"H_{\mathrm{x}} = \begin{pmatrix}" in out and r"\cos" in out
    code, out, _ = run(capsys, monkeypatch, "hessian", ARM, "--output-name", "x", "--symbolic")
    assert code == 0 and "∂²/∂theta1∂theta2 = -l2*cos(theta1 + theta2)" in out


# --------------------------------------------------------------------------- matrix-free


def extended_rosenbrock(path, n, seed=0):
    """f = Σ 100(x_{2i} - x_{2i-1}²)² + (1 - x_{2i-1})², nominal point near the minimum.

    Each 2×2 block of the Hessian has determinant 80000(x² - y) + 400 > 0 when y < x²: the
    point is chosen so, making H positive definite (log det defined) with distinct blocks.
    """
    rng = np.random.default_rng(seed)
    x0 = np.empty(n)
    x0[0::2] = 1.0 + 0.2 * rng.standard_normal(n // 2)
    x0[1::2] = x0[0::2] ** 2 - rng.random(n // 2)
    lines = ['name = "extended rosenbrock"', "[inputs]"]
    lines += [f"x{i + 1} = {float(v)!r}" for i, v in enumerate(x0)]
    terms = [f"100*(x{2 * i + 2} - x{2 * i + 1}^2)^2 + (1 - x{2 * i + 1})^2" for i in range(n // 2)]
    lines += ["[outputs]", 'f = "' + " + ".join(terms) + '"']
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_matrix_free_agrees_with_dense_within_its_error(capsys, monkeypatch, tmp_path):
    model = extended_rosenbrock(tmp_path / "rosen.toml", 200)
    dense = doc_of(capsys, monkeypatch, "hessian", model, "--dense")
    H = np.array(dense["hessian"])
    lam = np.array(dense["curvature"]["eigenvalues"])
    np.testing.assert_allclose(lam, np.linalg.eigvalsh(H), rtol=1e-10, atol=1e-10)
    mf = doc_of(capsys, monkeypatch, "hessian", model, "--matrix-free", "--eigs", "3", "--trace",
                "--diag", "--logdet", "--samples", "60", "--seed", "3")
    assert mf["matrix_free"] is True and mf["k"] == 200 and "hessian" not in mf
    eig = mf["eigenvalues"]
    assert eig["converged"] and eig["method"] == "arpack"
    rounding = 1e-10 * np.abs(lam).max()
    for got, res, ref in ((eig["largest"], eig["largest_residuals"], lam[::-1][:3]),
                          (eig["smallest"], eig["smallest_residuals"], lam[:3])):
        assert np.all(np.abs(np.array(got) - ref) <= np.array(res) + rounding)
    assert mf["definiteness"] == "positive definite" == dense["curvature"]["definiteness"]
    tr = mf["trace"]
    assert abs(tr["estimate"] - np.trace(H)) <= 4 * tr["standard_error"] and tr["hvps"] == 60
    dg = mf["diagonal"]
    assert np.all(np.abs(np.array(dg["estimate"]) - np.diag(H)) <= 5 * np.array(dg["standard_error"]) + 1e-9)
    ld = mf["logdet"]
    assert abs(ld["estimate"] - np.log(lam).sum()) <= 4 * ld["standard_error"] + ld["quadrature_change"]
    hvps = eig["hvps"] + tr["hvps"] + dg["hvps"] + ld["hvps"]
    assert mf["hvps"] == hvps
    # The same seed repeats the estimates exactly.
    again = doc_of(capsys, monkeypatch, "hessian", model, "--matrix-free", "--eigs", "0", "--trace",
                   "--diag", "--logdet", "--samples", "60", "--seed", "3")
    assert "eigenvalues" not in again
    assert [again[key] for key in ("trace", "diagonal", "logdet")] == [tr, dg, ld]


def test_matrix_free_table_and_saddle(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "hessian", "-e", "x^2 - y^2", "--at", "x=0,y=0",
                         "--matrix-free", "--eigs", "1", "--logdet")
    assert code == 0 and err == ""
    assert "indefinite" in out and "saddle" in out and "log det H is undefined" in out
    doc = doc_of(capsys, monkeypatch, "hessian", "-e", "x^2 - y^2", "--at", "x=0,y=0",
                 "--matrix-free", "--eigs", "1", "--logdet")
    assert doc["classification"] == "saddle" and doc["logdet"]["estimate"] is None


def test_matrix_free_automatically_when_dense_does_not_fit(capsys, monkeypatch):
    import jacli.cli.hessian_cmd as hessian_cmd

    monkeypatch.setattr(hessian_cmd, "_dense_fits", lambda k, count=1: (False, 8 * 2**40, 2**30))
    doc = doc_of(capsys, monkeypatch, "hessian", "-e", ROSENBROCK, "--at", "x=1,y=1")
    assert doc["matrix_free"] is True and "computed matrix-free" in doc["reason"]
    assert doc["classification"] == "minimum"
    np.testing.assert_allclose(sorted(doc["eigenvalues"]["largest"] + doc["eigenvalues"]["smallest"]),
                               sorted(2 * list(np.linalg.eigvalsh(rosenbrock_hessian(1, 1)))), rtol=1e-12)
    for extra in (["--output-name", "f1", "--dense"], ["--all"], ["--of", "sumsq"],
                  ["--output-name", "f1", "-f", "csv"], ["--output-name", "f1", "--points", "-"]):
        code, out, err = run(capsys, monkeypatch, "hessian", "-e", ROSENBROCK + ", x", *extra)
        assert code == 2 and out == "" and "use --matrix-free" in err and err.count("\n") == 1


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("args,code,pattern", [
    (["hessian", ARM], 2, "'two-link arm' has 2 outputs (x, y); choose one with --output-name NAME"),
    (["hessian", ARM, "--output-name", "z"], 2, "--output-name: 'z' is not an output"),
    (["hessian", ARM, "--output-name", "x,x"], 2, "named twice"),
    (["hessian", ARM, "--output-name", "x", "--all"], 2, "--output-name or --all"),
    (["hessian", ARM, "--all", "--of", "sumsq"], 2, "pick one"),
    (["hessian", ARM, "-o", "x"], 2, "use --output-name x"),
    (["hessian", ARM, "--of", "nope"], 2, "nope"),
    (["hessian", ARM, "--all", "--at", "theta1=1", "--points", "p.csv"], 2, "--at or --points"),
    (["hessian", ARM, "--all", "--symbolic", "--at", "theta1=1"], 2, "drop --at/--points"),
    (["hessian", ARM, "--all", "--symbolic", "-f", "csv"], 2, "not csv"),
    (["hessian", ARM, "--all", "--symbolic", "-b", "fd"], 4, "use --backend sympy"),
    (["hessian", ARM, "--all", "--hvp"], 2, "--hvp needs a vector"),
    (["hessian", ARM, "--all", "--vector", "1,0"], 2, "--vector goes with --hvp"),
    (["hessian", ARM, "--of", "sumsq", "--hvp", "--vector", "1,0"], 2, "not supported"),
    (["hessian", ARM, "--all", "--hvp", "--vector", "1,0,0"], 3, "expected 2 values (theta1, theta2)"),
    (["hessian", ARM, "--all", "--hvp", "--vector", "q=1"], 3, "'q' is not one of the inputs"),
    (["hessian", ARM, "--all", "--matrix-free"], 2, "one output"),
    (["hessian", ARM, "--output-name", "x", "--matrix-free", "--points", "p.csv"], 2, "use --at"),
    (["hessian", ARM, "--output-name", "x", "--trace", "--dense"], 2, "drop --dense"),
    (["hessian", ARM, "--output-name", "x", "--matrix-free", "-f", "latex"], 2, "not latex"),
    (["hessian", ARM, "--output-name", "x", "--wrt", "l9"], 2, "--wrt: 'l9'"),
    (["hessian", ARM, "--output-name", "x", "-b", "nosuch"], 4, "unknown backend 'nosuch'"),
    (["hessian", "-e", "abs(x)", "-b", "complex"], 4, "use --backend sympy"),
    (["hessian", "-e", "log(x)", "--at=x=-1"], 5, "log(x)"),
    (["hessian", "-e", "log(x)", "--at=x=-1", "--matrix-free"], 5, "log(x)"),
    (["hessian", "-e", "sinn(x)"], 3, "unknown function 'sinn'"),
])
def test_errors_are_one_line_with_exit_code(capsys, monkeypatch, args, code, pattern):
    got, out, err = run(capsys, monkeypatch, *args)
    assert got == code, err
    assert err.startswith("jacli: error: ") and err.count("\n") == 1, err
    assert pattern in err
    assert "Traceback" not in err


def test_help(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "hessian", "--help")
    assert code == 0 and "Examples" in out and "--matrix-free" in out and "--of" in out


def test_fd_hessian_of_a_linear_output_is_ok(capsys, monkeypatch):
    """An exactly zero Hessian by differences has rounding-level estimates: not 'unreliable'
    (the floor follows second differences and the inputs' scale: x = 0.01 m in coulomb_friction)."""
    import json

    for args in (["-e", "3*x + 2*y", "--at", "x=1,y=2"],
                 [str(ROOT / "samples" / "coulomb_friction.toml"), "--all"]):
        code, out, err = run(capsys, monkeypatch, "hessian", *args, "-b", "fd", "--format", "json")
        assert code == 0, err
        doc = json.loads(out)
        assert doc["status"] == "ok"


def test_fd_hessian_across_a_kink_is_not_converged_without_a_crash(capsys, monkeypatch):
    import json

    code, out, err = run(capsys, monkeypatch, "hessian", "-e", "abs(x - 1) + y^2",
                         "--at", "x=1.0000001,y=2", "-b", "fd", "--format", "json")
    assert code == 5 and err.count("\n") == 1 and "not smooth" in err
    doc = json.loads(out)
    assert doc["status"] == "not_converged" and doc["curvature"] is None
