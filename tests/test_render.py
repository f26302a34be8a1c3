"""Renderers: JSON / JSON Lines, CSV, LaTeX and rich tables, from hand-made Results."""
from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from rich.console import Console

from jacli.render import FORMATS, make_writer
from jacli.render.json import (HEADER_KEYS, POINT_KEYS, JsonlWriter, JsonWriter, batch_document,
                               point_document, point_line, symbolic_document)
from jacli.render.tables import TableWriter, render_point, render_sparsity, render_symbolic
from jacli.render.text import (CsvWriter, csv_header, expression_strings, latex_number, latex_point,
                               latex_strings, latex_symbolic)
from jacli.results import Result, Status

AWKWARD = [0.1, 1e-300, 5e-324, -0.0, 1.7976931348623157e308, -2.5, 1 / 3, 123456789.0]


def make(jac, *, value=None, at=None, error=None, status=None, messages=None, structure=None,
         inputs=None, wrt=None, outputs=None, exact=None, backend="sympy", params=None):
    """A Result from a (N, m, n) or (m, n) array."""
    jac = np.asarray(jac, dtype=float)
    exact = error is None if exact is None else exact
    if jac.ndim == 2:
        jac = jac[None]
    N, m, n = jac.shape
    wrt = tuple(wrt or (f"x{j}" for j in range(n)))
    inputs = tuple(inputs or wrt)
    outputs = tuple(outputs or (f"f{i}" for i in range(m)))
    return Result(
        op="jacobian", backend=backend, exact=exact,
        inputs=inputs, wrt=wrt, outputs=outputs,
        at=np.zeros((N, len(inputs))) if at is None else np.asarray(at, dtype=float).reshape(N, -1),
        value=np.zeros((N, m)) if value is None else np.asarray(value, dtype=float).reshape(N, m),
        derivative=jac, error=None if error is None else np.asarray(error, dtype=float).reshape(jac.shape),
        status=np.zeros(N, int) if status is None else np.asarray(status),
        messages=tuple(messages or (None,) * N), nfev=0 if exact else 4,
        params=params or {}, structure=structure)


def same_float(a, b):
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


# --------------------------------------------------------------------------- JSON numbers


def test_awkward_floats_round_trip_exactly():
    r = make([AWKWARD], value=AWKWARD[:1], at=AWKWARD, wrt=[f"x{j}" for j in range(len(AWKWARD))],
             params={"p": 5e-324, "q": -0.0})
    for text in (point_document(r, model="m"), point_line(r, model="m"), batch_document(r, model="m")):
        doc = json.loads(text)
        pt = doc["points"][0] if "points" in doc else doc
        assert all(same_float(a, b) for a, b in zip(pt["jacobian"][0], AWKWARD))
        assert all(same_float(a, b) for a, b in zip(pt["at"].values(), AWKWARD))
        assert same_float(pt["value"][0], 0.1)
        assert same_float(doc["params"]["p"], 5e-324) and same_float(doc["params"]["q"], -0.0)


def test_sparse_and_dense_rows_serialise_identically_to_json():
    rng = np.random.default_rng(7)
    specials = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 0.1, -1e300])
    jac = np.zeros((30, 50))
    for i in range(30):                     # rows from empty to full, exercising both paths
        mask = rng.random(50) < i / 29
        jac[i, mask] = rng.choice(specials, size=mask.sum())
    pt = json.loads(point_document(make(jac, status=[Status.NONFINITE]), model="m"))
    for got, row in zip(pt["jacobian"], jac.tolist()):
        assert len(got) == 50
        for g, v in zip(got, row):
            assert (g is None) if not math.isfinite(v) else same_float(g, v)


def test_nan_is_null_and_failed_status_is_kept():
    r = make([[np.nan, 1.0]], value=[np.nan], status=[Status.DOMAIN_ERROR],
             messages=["log(x): x must be > 0, got -1"])
    doc = json.loads(point_document(r, model="m"))
    assert doc["jacobian"] == [[None, 1.0]] and doc["value"] == [None]
    assert doc["status"] == "domain_error"
    assert doc["message"] == "log(x): x must be > 0, got -1"


def test_ok_point_with_nonfinite_number_is_reported_not_silent():
    doc = json.loads(point_document(make([[np.inf]]), model="m"))
    assert doc["jacobian"] == [[None]]
    assert doc["status"] == "nonfinite"
    assert "written as null" in doc["message"]


def test_no_invalid_json_tokens_anywhere():
    r = make([[np.nan, np.inf, -np.inf]], value=[np.inf], error=[[np.nan, np.inf, 1.0]],
             at=[np.nan, 1, 2], status=[Status.BAD_INPUT])
    for text in (point_document(r, model="m"), point_line(r, model="m")):
        assert "NaN" not in text and "Infinity" not in text and "inf" not in text
        json.loads(text, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))


# --------------------------------------------------------------------------- JSON shapes


def test_single_point_document_exact_text():
    r = make([[1.0, 0.0], [0.5, -2.0]], value=[1.0, 2.0], at=[1.0, 2.0, 3.0],
             inputs=("x", "y", "z"), wrt=("x", "y"), outputs=("u", "v"), params={"a": 0.1})
    assert point_document(r, model="arm") == """\
{
  "schema": 1,
  "command": "jacobian",
  "model": "arm",
  "backend": "sympy",
  "symbolic": false,
  "inputs": ["x", "y"],
  "outputs": ["u", "v"],
  "params": {"a": 0.1},
  "exact": true,
  "nfev": 0,
  "at": {"x": 1.0, "y": 2.0, "z": 3.0},
  "value": [1.0, 2.0],
  "jacobian": [
    [1.0, 0.0],
    [0.5, -2.0]
  ],
  "error": null,
  "status": "ok",
  "message": null
}
"""


def test_error_matrix_for_estimating_backends():
    r = make([[2.0]], error=[[1.5e-9]], backend="fd:order=4")
    doc = json.loads(point_document(r, model="m"))
    assert doc["exact"] is False and doc["error"] == [[1.5e-9]] and doc["nfev"] == 4


def test_jsonl_one_compact_self_contained_line_per_point():
    r = make(np.arange(8.0).reshape(2, 2, 2), status=[0, 3], messages=[None, "no, it did not"])
    buf = io.StringIO()
    w = JsonlWriter(buf, model="m")
    w.write(r)
    w.write(r.point(0))                      # a later chunk continues the index
    w.close()
    lines = buf.getvalue().splitlines()
    assert len(lines) == 3 and w.count == 3
    docs = [json.loads(ln) for ln in lines]
    assert [d["index"] for d in docs] == [0, 1, 2]
    assert [d["status"] for d in docs] == ["ok", "not_converged", "ok"]
    assert docs[1]["jacobian"] == [[4.0, 5.0], [6.0, 7.0]]
    assert all(d["schema"] == 1 and d["model"] == "m" and d["inputs"] == ["x0", "x1"] for d in docs)
    assert lines[1].startswith('{"schema":1,"command":"jacobian",')
    assert '"message":"no, it did not"' in lines[1]


def test_batch_document_streams_points_and_summary():
    r = make(np.arange(8.0).reshape(2, 2, 2), status=[0, 2], messages=[None, "1/0"])
    buf = io.StringIO()
    w = JsonWriter(buf, model="m")
    w.write(r)
    w.write(r.point(1))
    assert buf.getvalue().count('"index"') == 3     # written as they arrive
    w.close()
    doc = json.loads(buf.getvalue())
    assert list(doc) == [*HEADER_KEYS, "points", "summary"]
    assert HEADER_KEYS == ("schema", "command", "model", "backend", "symbolic", "inputs", "outputs",
                           "params", "exact", "nfev")
    assert [p["index"] for p in doc["points"]] == [0, 1, 2]
    assert tuple(doc["points"][0]) == POINT_KEYS
    assert doc["summary"] == {"points": 3, "ok": 1, "failed": 2}
    # one point per line
    assert sum(1 for ln in buf.getvalue().splitlines() if ln.startswith('    {"index":')) == 3


def test_batch_shape_even_for_one_point():
    doc = json.loads(batch_document(make([[1.0]]), model="m"))
    assert len(doc["points"]) == 1


def test_single_writer_refuses_a_second_point():
    w = JsonWriter(io.StringIO(), model="m", single=True)
    w.write(make([[1.0]]))
    with pytest.raises(ValueError, match="more than one point"):
        w.write(make([[1.0]]))


def test_sparsity_structural():
    s = np.array([[True, False, True], [False, False, False]])
    doc = json.loads(point_document(make([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], structure=s),
                                    model="m", sparsity=True))
    assert doc["sparsity"] == {"source": "structural", "nonzeros": 2, "density": 2 / 6,
                               "shape": [2, 3], "pattern": [[0, 2], []]}


def test_sparsity_numerical_counts_nan_as_nonzero():
    r = make([[0.0, np.nan], [-0.0, 3.0]], status=[Status.NONFINITE])
    doc = json.loads(point_line(r, model="m", sparsity=True))
    assert doc["sparsity"]["source"] == "numerical"
    assert doc["sparsity"]["pattern"] == [[1], [1]]


def test_symbolic_document():
    text = symbolic_document(model="m", backend="sympy", inputs=["x", "y"], outputs=["f"],
                             jacobian=[["cos(x)", "0"]], value=["sin(x)"],
                             latex=[[r"\cos{\left(x \right)}", "0"]],
                             structure=[[True, False]])
    doc = json.loads(text)
    assert doc["symbolic"] is True and doc["exact"] is True
    assert doc["jacobian"] == [["cos(x)", "0"]] and doc["value"] == ["sin(x)"]
    assert doc["latex"] == [[r"\cos{\left(x \right)}", "0"]]
    assert doc["at"] is None and doc["error"] is None and doc["status"] == "ok"
    assert doc["sparsity"]["pattern"] == [[0]]
    with pytest.raises(ValueError, match="must be 1x2"):
        symbolic_document(model="m", backend="sympy", inputs=["x", "y"], outputs=["f"],
                          jacobian=[["cos(x)"]])


# --------------------------------------------------------------------------- CSV


def test_csv_rows_header_once_empty_cells_and_quoting():
    r = make([[[1.0, 0.1]], [[np.nan, np.nan]]], value=[[2.0], [np.nan]], at=[[0.5, -0.0], [1, 2]],
             error=[[[1e-9, 5e-324]], [[np.nan, np.nan]]], wrt=("x", "y"), outputs=("f",),
             status=[0, 2], messages=[None, 'log(x): x <= 0, "bad"'])
    buf = io.StringIO()
    w = CsvWriter(buf)
    w.write(r)
    w.write(r.point(0))
    assert buf.getvalue() == (
        "x,y,value.f,df/dx,df/dy,error.df/dx,error.df/dy,status,message\n"
        "0.5,-0.0,2.0,1.0,0.1,1e-09,5e-324,ok,\n"
        '1.0,2.0,,,,,,domain_error,"log(x): x <= 0, ""bad"""\n'
        "0.5,-0.0,2.0,1.0,0.1,1e-09,5e-324,ok,\n")
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    assert rows[2][-1] == 'log(x): x <= 0, "bad"'


def test_csv_header_row_major_and_without_error_columns():
    r = make(np.zeros((2, 3)), inputs=("a", "b", "c", "d"), wrt=("a", "b", "c"), outputs=("u", "v"),
             at=[0, 0, 0, 0])
    assert csv_header(r) == ["a", "b", "c", "d", "value.u", "value.v",
                             "du/da", "du/db", "du/dc", "dv/da", "dv/db", "dv/dc", "status", "message"]


def test_csv_ok_point_with_inf_is_reported():
    buf = io.StringIO()
    CsvWriter(buf).write(make([[np.inf]]))
    assert buf.getvalue().splitlines()[1].startswith("0.0,0.0,,nonfinite,non-finite numbers")


# --------------------------------------------------------------------------- LaTeX


@pytest.mark.parametrize("x,text", [
    (0.0, "0"), (-0.0, "0"), (2.0, "2"), (0.5, "0.5"), (-1.5e-7, r"-1.5 \times 10^{-7}"),
    (1e20, "10^{20}"), (-1e-5, "-10^{-5}"), (1 / 3, "0.333333"), (123456789.0, r"1.23457 \times 10^{8}"),
    (float("nan"), r"\mathrm{NaN}"), (float("inf"), r"\infty"), (float("-inf"), r"-\infty"),
])
def test_latex_number(x, text):
    assert latex_number(x) == text


def test_latex_point_exact_text():
    r = make([[1.0, 0.0], [0.25, -3e-9]], at=[1.0, 2.5], wrt=("x", "y"), outputs=("u", "v"))
    assert latex_point(r, model="arm") == (
        "% jacobian of arm at x=1, y=2.5 (backend sympy, status ok)\n"
        "% rows: u, v\n"
        "% columns: x, y\n"
        "J = \\begin{pmatrix}\n"
        "  1 & 0 \\\\\n"
        "  0.25 & -3 \\times 10^{-9}\n"
        "\\end{pmatrix}\n")


def test_latex_failed_point_and_many_columns():
    r = make(np.full((1, 11), np.nan), status=[Status.DOMAIN_ERROR], messages=["sqrt(-1)"])
    text = latex_point(r, model="m")
    assert "status domain_error" in text and "% sqrt(-1)\n" in text
    assert r"\setcounter{MaxMatrixCols}{11}" in text
    assert r"\mathrm{NaN} & \mathrm{NaN}" in text


def test_latex_writer_labels_points():
    r = make(np.ones((2, 1, 1)))
    buf = io.StringIO()
    w = make_writer("latex", buf, model="m")
    w.write(r)
    w.close()
    assert "J_{0} = " in buf.getvalue() and "J_{1} = " in buf.getvalue()
    single = io.StringIO()
    make_writer("latex", single, model="m", single=True).write(r.point(0))
    assert "\nJ = \\begin{pmatrix}" in single.getvalue()


def test_symbolic_strings_and_latex():
    import sympy
    x, y = sympy.symbols("x y")
    mat = sympy.Matrix([[sympy.cos(x), 0], [2 * x, sympy.sqrt(y)]])
    assert expression_strings(mat) == [["cos(x)", "0"], ["2*x", "sqrt(y)"]]
    lx = latex_strings(mat)
    assert lx == [[r"\cos{\left(x \right)}", "0"], ["2 x", r"\sqrt{y}"]]
    assert latex_symbolic(lx, inputs=["x", "y"], outputs=["f", "g"], model="m") == (
        "% jacobian of m\n% rows: f, g\n% columns: x, y\n"
        "J = \\begin{pmatrix}\n"
        "  \\cos{\\left(x \\right)} & 0 \\\\\n"
        "  2 x & \\sqrt{y}\n"
        "\\end{pmatrix}\n")
    with pytest.raises(TypeError, match="not strings"):
        latex_strings([["cos(x)"]])


# --------------------------------------------------------------------------- tables


def console(width=80, terminal=False):
    buf = io.StringIO()
    return Console(file=buf, width=width, force_terminal=terminal, color_system=None,
                   legacy_windows=False), buf


def test_table_small_point():
    s = np.array([[True, False], [True, True]])
    r = make([[1.2345678901, 0.0], [-2.5e-7, 0.0]], value=[3.0, 4.0], at=[1.0, 2.0],
             wrt=("x", "y"), outputs=("u", "v"), structure=s)
    c, buf = console()
    render_point(r, console=c, model="arm")
    out = buf.getvalue()
    first = out.splitlines()[0]
    assert first == "jacobian of arm · backend sympy (exact) · at x=1, y=2 · status ok"
    assert "1.234568" in out and "-2.5e-07" in out
    assert "·" in out.splitlines()[4]           # structural zero of u/y
    assert out.splitlines()[5].rstrip().endswith("0 │")   # a computed zero that is not structural
    assert "absolute error" not in out


def test_table_decimal_points_line_up():
    r = make([[1.5], [-12.25], [100.0]])
    c, buf = console()
    render_point(r, console=c, model="m")
    rows = [ln for ln in buf.getvalue().splitlines() if ln.startswith("│ f")]
    cols = [ln.rstrip("│ ").rsplit("│", 1)[1] for ln in rows]
    dots = {c.index(".") if "." in c else c.index("100") + 3 for c in cols}
    assert len(dots) == 1


def test_table_error_estimates():
    r = make([[1.0, 2.0]], error=[[1.5e-9, 2e-10]])
    c, buf = console()
    render_point(r, console=c, model="m")
    out = buf.getvalue()
    assert "absolute error estimate" in out and "±1.5e-09" in out and "±2e-10" in out
    assert "(estimated error)" in out


def test_table_failed_point_shows_message_and_no_table():
    r = make([[np.nan]], status=[Status.DOMAIN_ERROR], messages=["log(x): x must be > 0, got -1"])
    c, buf = console()
    render_point(r, console=c, model="m")
    out = buf.getvalue().splitlines()
    assert out[0].endswith("status domain_error")
    assert out[1] == "log(x): x must be > 0, got -1"
    assert len(out) == 2


def test_wide_table_not_squeezed_when_not_a_terminal():
    values = [1.234567e-5 * (j + 1) for j in range(12)]
    r = make([values])
    c, buf = console(width=80)
    render_point(r, console=c, model="m")
    out = buf.getvalue()
    for v in values:
        assert f"{v:.7g}" in out                  # every digit present, nothing cropped
    table = out.splitlines()[1:]
    assert not any("…" in ln for ln in table)
    assert max(len(ln) for ln in table) > 80


def test_wide_table_on_a_narrow_terminal_shows_the_columns_that_fit():
    r = make([[1.234567e-5 * (j + 1) for j in range(10)]])
    c, buf = console(width=60, terminal=True)
    render_point(r, console=c, model="m")
    lines = buf.getvalue().splitlines()
    assert all(len(ln) <= 60 for ln in lines if ln.startswith(("┏", "│", "└")))
    assert "use --format json or --format csv" in buf.getvalue()


def test_big_jacobian_is_summarised():
    n = 50
    jac = np.zeros((n, n))
    jac[np.arange(n), np.arange(n)] = 2.0
    jac[3, 7] = -9.0
    r = make(jac, structure=jac != 0)
    c, buf = console()
    render_point(r, console=c, model="big")
    out = buf.getvalue()
    assert "shape 50 × 50 · 51 non-zeros (structural, 2.04%)" in out
    assert "max |J| = -9" not in out and "max |J| = 9 at ∂f3/∂x7" in out
    assert "showing rows 1–10 of 50 and columns 1–8 of 50" in out
    assert "use --format json or --format csv for the full matrix" in out
    assert len(out.splitlines()) < 25


def test_sparsity_grid_small():
    c, buf = console()
    render_sparsity(np.array([[True, False], [False, True]]), console=c, rows=["f", "g"],
                    cols=["x", "y"])
    assert buf.getvalue() == ("sparsity: 2 of 4 entries non-zero (50%)\n"
                              "  x y\n"
                              "f █ ·\n"
                              "g · █\n")


def test_sparsity_grid_long_names_are_numbered():
    c, buf = console()
    render_sparsity(np.array([[True, False, True]]), console=c, rows=["out"],
                    cols=["alpha", "beta", "gamma"])
    assert buf.getvalue().splitlines()[1:] == ["    1 2 3", "out █ · █",
                                               "columns: 1 alpha, 2 beta, 3 gamma"]


def test_sparsity_grid_big_is_downsampled():
    n = 500
    p = np.zeros((n, n), dtype=bool)
    p[np.arange(n), np.arange(n)] = True
    p[:10, :10] = True
    c, buf = console()
    render_sparsity(p, console=c, rows=[f"f{i}" for i in range(n)], cols=[f"x{i}" for i in range(n)])
    lines = buf.getvalue().splitlines()
    assert len(lines) <= 2 + 48
    assert max(len(ln) for ln in lines[1:-1]) <= 80
    assert "each character is a block of 11 × 8 entries" in lines[-1]
    assert lines[1].split()[-1][0] in "░▒▓"
    assert lines[1].split()[-1][-1] == "·"


def test_table_with_sparsity():
    r = make([[1.0, 0.0]], wrt=("x", "y"), outputs=("f",))
    c, buf = console()
    render_point(r, console=c, model="m", sparsity=True)
    assert "sparsity (numerical, at this point): 1 of 2 entries non-zero (50%)" in buf.getvalue()
    assert "f █ ·" in buf.getvalue()


def test_symbolic_table_and_list():
    c, buf = console()
    render_symbolic(console=c, model="m", backend="sympy", inputs=["x", "y"], outputs=["f"],
                    jacobian=[["cos(x)", "0"]])
    out = buf.getvalue()
    assert "1 of 2 entries non-zero" in out and "cos(x)" in out and "·" in out
    c, buf = console()
    render_symbolic(console=c, model="m", backend="sympy", inputs=[f"x{j}" for j in range(9)],
                    outputs=["f"], jacobian=[["0", "2*x1"] + ["0"] * 7])
    assert buf.getvalue().splitlines()[1:] == ["∂f/∂x1 = 2*x1"]


def test_table_writer_batch_summary():
    r = make(np.ones((3, 1, 1)), status=[0, 2, 0], messages=[None, "1/0", None])
    c, buf = console()
    w = TableWriter(c, model="m", max_points=1)
    w.write(r)
    w.close()
    out = buf.getvalue()
    assert out.startswith("point 0 · jacobian of m")
    assert "point 1 ·" not in out
    assert "3 points: 2 ok, 1 failed · the first 1 are shown" in out
    assert "point 1: domain_error: 1/0" in out


# --------------------------------------------------------------------------- dispatch


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_has_a_writer(fmt):
    buf = io.StringIO()
    w = make_writer(fmt, buf, model="m", single=True)
    w.write(make([[1.0]]))
    w.close()
    assert w.count == 1 and buf.getvalue()


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown output format 'xml'; choose one of table, json"):
        make_writer("xml", io.StringIO(), model="m")


def test_importing_render_does_not_import_rich_or_sympy():
    code = ("import sys, jacli.render, jacli.render.json, jacli.render.text, jacli._io; "
            "print(sorted(m for m in ('rich', 'sympy', 'scipy', 'click') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=str(__import__("pathlib").Path(__file__).parents[1]))
    assert out.stdout.strip() == "[]"
