"""CSV and LaTeX output, and the string forms of symbolic matrices.

CSV: one row per point, header once, streamed by :class:`CsvWriter`.  Columns, in order:

* every model input (``result.inputs``), the point's coordinates;
* ``value.OUT`` for every output;
* ``dOUT/dIN`` for every output (rows of the Jacobian) and, within it, every
  differentiation variable (columns): row-major order;
* ``error.dOUT/dIN`` in the same order, only when the backend estimates errors;
* ``status`` (``ok``, ``domain_error``, ... as in JSON) and ``message``.

Numbers are written with ``repr`` (exact round trip).  NaN and infinities are written
as **empty cells**, like ``null`` in JSON; the ``status`` and ``message`` columns say why.

LaTeX: an ``amsmath`` ``pmatrix`` labelled ``J =`` with ``%`` comment lines naming
the rows, the columns, the point and the status (:func:`latex_point`,
:func:`latex_symbolic`, :class:`LatexWriter`).
"""
from __future__ import annotations

import csv
import math
from typing import IO, Iterable, Optional, Sequence

import numpy as np

from jacli.results import Result, Status

__all__ = [
    "CsvWriter",
    "LatexWriter",
    "csv_header",
    "expression_strings",
    "latex_number",
    "latex_op_point",
    "latex_point",
    "latex_strings",
    "latex_symbolic",
]


# --------------------------------------------------------------------------- CSV


def csv_header(result: Result) -> list:
    """The CSV column names for ``result`` (see the module docstring for the order).

    Examples
    --------
    >>> import numpy as np
    >>> from jacli.results import Result
    >>> r = Result(op="jacobian", backend="sympy", exact=True, inputs=("x", "y"), wrt=("x",),
    ...            outputs=("f",), at=np.zeros((1, 2)), value=np.zeros((1, 1)),
    ...            derivative=np.zeros((1, 1, 1)), error=None, status=np.zeros(1, int),
    ...            messages=(None,), nfev=0)
    >>> csv_header(r)
    ['x', 'y', 'value.f', 'df/dx', 'status', 'message']
    """
    if result.op != "jacobian":
        return _op_header(result)
    cols = list(result.inputs)
    cols += [f"value.{o}" for o in result.outputs]
    d = [f"d{o}/d{w}" for o in result.outputs for w in result.wrt]
    cols += d
    if result.error is not None:
        cols += [f"error.{c}" for c in d]
    cols += ["status", "message"]
    return cols


def _cells(a) -> list:
    """repr of each finite entry, '' for NaN/inf."""
    flat = np.asarray(a, dtype=np.float64).ravel()
    cells = list(map(repr, flat.tolist()))
    if not np.isfinite(flat).all():
        for j in np.flatnonzero(~np.isfinite(flat)).tolist():
            cells[j] = ""
    return cells


class CsvWriter:
    """Streams ``--format csv`` output: the header with the first point, then one row per point.

    Parameters
    ----------
    fp : text file
        Where to write.  Lines end with ``\\n`` whatever the file's newline setting.

    Examples
    --------
    >>> import io, numpy as np
    >>> from jacli.results import Result
    >>> r = Result(op="jacobian", backend="fd", exact=False, inputs=("x",), wrt=("x",),
    ...            outputs=("f",), at=np.array([[0.1], [-1.0]]), value=np.array([[1.0], [np.nan]]),
    ...            derivative=np.array([[[2.0]], [[np.nan]]]), error=np.array([[[1e-9]], [[np.nan]]]),
    ...            status=np.array([0, 2]), messages=(None, "log of a negative number"), nfev=3)
    >>> buf = io.StringIO()
    >>> w = CsvWriter(buf); w.write(r); w.close()
    >>> print(buf.getvalue(), end="")
    x,value.f,df/dx,error.df/dx,status,message
    0.1,1.0,2.0,1e-09,ok,
    -1.0,,,,domain_error,log of a negative number
    """

    def __init__(self, fp: IO[str]):
        self.fp = fp
        self._writer = csv.writer(fp, lineterminator="\n")
        self._header: Optional[list] = None
        self.count = 0

    def write(self, result: Result) -> None:
        """Write one row per point of ``result`` (and the header before the first)."""
        header = csv_header(result)
        if self._header is None:
            self._header = header
            self._writer.writerow(header)
        elif header != self._header:
            raise ValueError("CsvWriter: a later result has different columns than the first")
        err = result.error
        if result.op != "jacobian":
            for i in range(len(result)):
                self._writer.writerow(_op_row(result, i))
                self.count += 1
            return
        for i in range(len(result)):
            value = np.asarray(result.value[i], dtype=np.float64)
            jac = np.asarray(result.derivative[i], dtype=np.float64)
            e = None if err is None else np.asarray(err[i], dtype=np.float64)
            row = _cells(result.at[i]) + _cells(value) + _cells(jac)
            if e is not None:
                row += _cells(e)
            status, message = _status(result, i, value, jac, e)
            row += [status, message or ""]
            self._writer.writerow(row)
            self.count += 1

    def close(self) -> None:
        """Nothing to finish; present so every writer has the same interface."""


_CURVATURE_SCALARS = ("definiteness", "condition", "rank", "gradient_norm", "critical", "classification")


def _op_header(result: Result) -> list:
    """CSV columns of a jvp, vjp, hvp or hessian result (see docs/json-schema.md)."""
    cols = list(result.inputs) + [f"value.{o}" for o in result.outputs]
    op, ex = result.op, result.extra
    if op == "jvp":
        d = [f"jvp.{o}" for o in result.outputs]
        cols += [f"v.{w}" for w in result.wrt]
    elif op == "vjp":
        d = [f"vjp.{w}" for w in result.wrt]
        cols += [f"u.{o}" for o in result.outputs]
    elif op == "hvp":
        d = [f"hvp.{o}.{w}" for o in result.outputs for w in result.wrt]
        cols += [f"v.{w}" for w in result.wrt]
    else:
        d = [f"d2{o}/d{a}/d{b}" for o in result.outputs for a in result.wrt for b in result.wrt]
        if "gradient" in ex:
            cols += [f"d{o}/d{w}" for o in result.outputs for w in result.wrt]
    cols += d
    if result.error is not None:
        cols += [f"error.{c}" for c in d]
    if op == "hessian":
        if "gauss_newton" in ex:
            cols += [f"gauss_newton.{a}.{b}" for a in result.wrt for b in result.wrt]
            cols += ["neglected_norm"] + [f"residual.{r}" for r in ex.get("residual_names", ())]
        if "curvature" in ex:
            for o in result.outputs:
                cols += [f"curvature.{o}.eig{j + 1}" for j in range(len(result.wrt))]
                cols += [f"curvature.{o}.{key}" for key in _CURVATURE_SCALARS]
    return cols + ["status", "message"]


def _scalar_cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (float, np.floating)):
        return repr(float(v)) if math.isfinite(v) else ""
    return str(v)


def _op_row(result: Result, i: int) -> list:
    ex = result.extra
    value = np.asarray(result.value[i], dtype=np.float64)
    d = np.asarray(result.derivative[i], dtype=np.float64)
    e = None if result.error is None else np.asarray(result.error[i], dtype=np.float64)
    row = _cells(result.at[i]) + _cells(value)
    checked = [value, d, e]
    if result.op in ("jvp", "vjp", "hvp"):
        row += _cells(ex["vector"][i])
    elif "gradient" in ex:
        checked.append(np.asarray(ex["gradient"][i], dtype=np.float64))
        row += _cells(ex["gradient"][i])
    row += _cells(d)
    if e is not None:
        row += _cells(e)
    if result.op == "hessian":
        if "gauss_newton" in ex:
            row += _cells(ex["gauss_newton"][i]) + _cells([ex["neglected_norm"][i]])
            row += _cells(ex["residuals"][i])
        if "curvature" in ex:
            reports = ex["curvature"][i] or [None] * len(result.outputs)
            for c in reports:
                c = c or {}
                eig = c.get("eigenvalues") or [None] * len(result.wrt)
                row += [_scalar_cell(v) for v in eig]
                row += [_scalar_cell(c.get(key)) for key in _CURVATURE_SCALARS]
    status, message = _status(result, i, *checked)
    return row + [status, message or ""]


def _status(result: Result, i: int, *arrays) -> tuple:
    """(label, message); an OK point with non-finite numbers is reported as nonfinite."""
    code = Status(int(result.status[i]))
    msg = result.messages[i]
    if code == Status.OK and not all(a is None or bool(np.isfinite(a).all()) for a in arrays):
        return Status.NONFINITE.label, "non-finite numbers (NaN or infinity) were written as empty cells"
    return code.label, msg


# --------------------------------------------------------------------------- LaTeX


def latex_number(x: float, digits: int = 6) -> str:
    r"""A float as LaTeX math with ``digits`` significant digits.

    Examples
    --------
    >>> latex_number(0.5), latex_number(-1.5e-7), latex_number(1e20), latex_number(0.0)
    ('0.5', '-1.5 \\times 10^{-7}', '10^{20}', '0')
    >>> latex_number(float("nan")), latex_number(float("-inf"))
    ('\\mathrm{NaN}', '-\\infty')
    """
    x = float(x)
    if math.isnan(x):
        return r"\mathrm{NaN}"
    if math.isinf(x):
        return r"\infty" if x > 0 else r"-\infty"
    if x == 0:
        return "0"
    s = f"{x:.{digits}g}"
    if "e" not in s:
        return s
    mant, exp = s.split("e")
    exp = int(exp)
    if mant in ("1", "-1"):
        return f"{'-' if mant == '-1' else ''}10^{{{exp}}}"
    return rf"{mant} \times 10^{{{exp}}}"


def _pmatrix(rows: Sequence[Sequence[str]], label: str) -> list:
    lines = [rf"{label} = \begin{{pmatrix}}"]
    body = [" & ".join(r) for r in rows]
    lines += [f"  {b} \\\\" for b in body[:-1]] + [f"  {body[-1]}"] if body else []
    lines.append(r"\end{pmatrix}")
    return lines


def _names_comment(outputs, inputs) -> list:
    lines = [f"% rows: {', '.join(outputs)}", f"% columns: {', '.join(inputs)}"]
    if len(inputs) > 10:
        # amsmath matrices have 10 columns unless told otherwise
        lines.append(rf"% needs \setcounter{{MaxMatrixCols}}{{{len(inputs)}}} in the preamble")
    return lines


def latex_point(result: Result, i: int = 0, *, model: str, label: str = "J",
                digits: int = 6) -> str:
    r"""Point ``i`` of ``result`` as a labelled LaTeX ``pmatrix``.

    Parameters
    ----------
    result : Result
        A Jacobian result.
    i : int
        Which point.
    model : str
        Model name, for the comment line.
    label : str
        The left-hand side, ``J`` by default.
    digits : int
        Significant digits of each entry.

    Returns
    -------
    str
        Comment lines (model, point, backend, status; row and column names) and
        ``label = \begin{pmatrix} ... \end{pmatrix}``, ending with a newline.

    Examples
    --------
    >>> import numpy as np
    >>> from jacli.results import Result
    >>> r = Result(op="jacobian", backend="sympy", exact=True, inputs=("x", "y"), wrt=("x", "y"),
    ...            outputs=("f",), at=np.array([[1.0, 2.0]]), value=np.array([[3.0]]),
    ...            derivative=np.array([[[2.0, 1e-8]]]), error=None, status=np.zeros(1, int),
    ...            messages=(None,), nfev=0)
    >>> print(latex_point(r, model="m"), end="")
    % jacobian of m at x=1, y=2 (backend sympy, status ok)
    % rows: f
    % columns: x, y
    J = \begin{pmatrix}
      2 & 10^{-8}
    \end{pmatrix}
    """
    at = ", ".join(f"{n}={float(v):.{digits}g}" for n, v in zip(result.inputs, result.at[i]))
    status = Status(int(result.status[i]))
    lines = [f"% {result.op} of {model} at {at} (backend {result.backend}, status {status.label})"]
    if status != Status.OK and result.messages[i]:
        lines.append(f"% {result.messages[i]}")
    lines += _names_comment(result.outputs, result.wrt)
    jac = np.asarray(result.derivative[i], dtype=np.float64)
    rows = [[latex_number(v, digits) for v in r] for r in jac.tolist()]
    lines += _pmatrix(rows, label)
    return "\n".join(lines) + "\n"


def latex_symbolic(latex: Sequence[Sequence[str]], *, inputs: Sequence[str],
                   outputs: Sequence[str], model: Optional[str] = None, label: str = "J") -> str:
    r"""A symbolic Jacobian as a labelled LaTeX ``pmatrix``.

    Parameters
    ----------
    latex : sequence of sequence of str
        LaTeX of each entry, e.g. from :func:`latex_strings`.
    inputs, outputs : sequence of str
        Column and row names (for the comment lines).
    model : str, optional
        Model name for the first comment line.
    label : str
        The left-hand side.

    Examples
    --------
    >>> print(latex_symbolic([[r"\cos{\left(x \right)}", "0"]], inputs=["x", "y"], outputs=["f"]), end="")
    % rows: f
    % columns: x, y
    J = \begin{pmatrix}
      \cos{\left(x \right)} & 0
    \end{pmatrix}
    """
    lines = [f"% jacobian of {model}"] if model else []
    lines += _names_comment(outputs, inputs)
    lines += _pmatrix([list(r) for r in latex], label)
    return "\n".join(lines) + "\n"


def _column(values, digits) -> list:
    return [[latex_number(v, digits)] for v in np.asarray(values, dtype=np.float64).tolist()]


def latex_op_point(result: Result, i: int = 0, *, model: str, index: Optional[int] = None,
                   digits: int = 6) -> str:
    r"""Point ``i`` of a jvp, vjp, hvp or hessian result as labelled LaTeX ``pmatrix`` blocks.

    Labels: ``J v`` (a column), ``u^\top J`` (a row), ``H v`` (a column per output),
    ``H`` (one output; ``H_{\mathrm{NAME}}`` for several) and, for ``sumsq``,
    ``H_{\mathrm{GN}}`` for the Gauss–Newton matrix.  With ``index`` (batches) the label
    gets the point number as a subscript.
    """
    at = ", ".join(f"{n}={float(v):.{digits}g}" for n, v in zip(result.inputs, result.at[i]))
    status = Status(int(result.status[i]))
    lines = [f"% {result.op} of {model} at {at} (backend {result.backend}, status {status.label})"]
    if status != Status.OK and result.messages[i]:
        lines.append(f"% {result.messages[i]}")
    d = np.asarray(result.derivative[i], dtype=np.float64)
    ex = result.extra
    several = len(result.outputs) > 1

    def sub(name=None):
        parts = ([str(index)] if index is not None else []) + \
            ([rf"\mathrm{{{name}}}"] if name is not None else [])
        return f"_{{{','.join(parts)}}}" if parts else ""

    def names(label, vals):
        return f"% {label}: " + ", ".join(f"{n}={float(v):.{digits}g}" for n, v in vals)

    if result.op == "jvp":
        lines.append(names("v", zip(result.wrt, ex["vector"][i])))
        lines.append(f"% rows: {', '.join(result.outputs)}")
        lines += _pmatrix(_column(d, digits), f"(J v){sub()}")
    elif result.op == "vjp":
        lines.append(names("u", zip(result.outputs, ex["vector"][i])))
        lines.append(f"% columns: {', '.join(result.wrt)}")
        lines += _pmatrix([[latex_number(v, digits) for v in d.tolist()]], rf"(u^\top J){sub()}")
    elif result.op == "hvp":
        lines.append(names("v", zip(result.wrt, ex["vector"][i])))
        lines.append(f"% rows: {', '.join(result.wrt)}")
        for q, out in enumerate(result.outputs):
            lines += _pmatrix(_column(d[q], digits), f"(H v){sub(out if several else None)}")
    else:
        lines += _names_comment(result.wrt, result.wrt)
        for q, out in enumerate(result.outputs):
            rows = [[latex_number(v, digits) for v in r] for r in d[q].tolist()]
            lines += _pmatrix(rows, f"H{sub(out if several else None)}")
        if "gauss_newton" in ex:
            gn = np.asarray(ex["gauss_newton"][i], dtype=np.float64)
            nn = float(ex["neglected_norm"][i])
            lines.append(f"% Gauss-Newton J^T J; neglected term norm {nn:.{digits}g}")
            lines += _pmatrix([[latex_number(v, digits) for v in r] for r in gn.tolist()],
                              f"H{sub('GN')}")
    return "\n".join(lines) + "\n"


class LatexWriter:
    """Streams ``--format latex``: one labelled matrix per point, blank line between.

    With ``single=True`` the matrix is labelled ``J``; otherwise ``J_{k}`` with the
    0-based point index ``k``.  Other operations are written by :func:`latex_op_point`.
    """

    def __init__(self, fp: IO[str], *, model: str, single: bool = False, digits: int = 6):
        self.fp, self.model, self.single, self.digits = fp, model, single, digits
        self.count = 0

    def write(self, result: Result) -> None:
        """Write every point of ``result``."""
        for i in range(len(result)):
            label = "J" if self.single else f"J_{{{self.count}}}"
            if self.count:
                self.fp.write("\n")
            if result.op != "jacobian":
                self.fp.write(latex_op_point(result, i, model=self.model, digits=self.digits,
                                             index=None if self.single else self.count))
                self.count += 1
                continue
            self.fp.write(latex_point(result, i, model=self.model, label=label, digits=self.digits))
            self.count += 1

    def close(self) -> None:
        """Nothing to finish."""


# --------------------------------------------------------------------------- symbolic strings


def _rows(exprs) -> list:
    if hasattr(exprs, "tolist"):          # sympy Matrix, numpy object array
        exprs = exprs.tolist()
    return [list(r) for r in exprs]


def expression_strings(exprs: Iterable) -> list:
    """Each entry of a matrix of SymPy expressions as a plain expression string.

    Parameters
    ----------
    exprs : sympy.Matrix or nested sequence
        Entries are SymPy expressions, numbers or strings (kept as they are).

    Returns
    -------
    list of list of str

    Examples
    --------
    >>> import sympy
    >>> x = sympy.Symbol("x")
    >>> expression_strings(sympy.Matrix([[sympy.cos(x), 0]]))
    [['cos(x)', '0']]
    """
    return [[e if isinstance(e, str) else str(e) for e in r] for r in _rows(exprs)]


def latex_strings(exprs: Iterable) -> list:
    r"""Each entry of a matrix of SymPy expressions as LaTeX.

    Parameters
    ----------
    exprs : sympy.Matrix or nested sequence
        Entries are SymPy expressions or numbers.  Strings are refused: turning text
        back into an expression would need parsing, which belongs to the model layer.

    Returns
    -------
    list of list of str

    Examples
    --------
    >>> import sympy
    >>> x = sympy.Symbol("x")
    >>> latex_strings([[sympy.sqrt(x), 2]])
    [['\\sqrt{x}', '2']]
    """
    import sympy   # only needed for symbolic output

    out = []
    for r in _rows(exprs):
        row = []
        for e in r:
            if isinstance(e, str):
                raise TypeError("latex_strings: entries must be SymPy expressions or numbers, "
                                f"not strings ({e!r})")
            row.append(sympy.latex(e))
        out.append(row)
    return out
