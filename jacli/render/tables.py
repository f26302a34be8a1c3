"""Rich tables for the terminal: the only module that imports :mod:`rich`.

Everything renders to a :class:`rich.console.Console` given by the caller (the CLI
passes ``Console(file=sys.stdout)``).  When the output is not a terminal, rich
assumes 80 columns; tables that need more are rendered at their natural width
instead of being squeezed, so piping ``jacli jacobian ... | less`` keeps every digit.
On a terminal, a table too wide for the window shows as many columns as fit.

Layout of one point::

    jacobian of arm · backend fd:order=4 · at x=1, y=2 · status ok
    ┏━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━┓
    ┃ output ┃    value ┃         x ┃         y ┃
    ...

Structural zeros (``Result.structure`` False) show as ``·``; an exact zero that is not
structural shows as ``0``.  Error estimates, when the backend has them, follow in a
second table of ``±`` figures.  A Jacobian with more than ``max_cols`` columns or
``max_rows`` rows is summarised (shape, non-zeros, norm, largest entry) with its
top-left corner, and the user is pointed at ``--format json`` / ``--format csv``.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
from rich.console import Console, RenderableType
from rich.segment import Segments
from rich.table import Table
from rich.text import Text

from jacli.results import Result, Status

__all__ = [
    "TableWriter",
    "curvature_lines",
    "render_check",
    "render_matrix_free",
    "render_op_point",
    "render_point",
    "render_sparsity",
    "render_symbolic",
    "render_symbolic_hessian",
]

DIGITS = 7            # significant digits of a table entry
MAX_ROWS = 40         # beyond this, summary + corner
MAX_COLS = 12
CORNER_ROWS = 10
CORNER_COLS = 8
ZERO = "·"            # structural zero
ELLIPSIS = "…"
FULL_HINT = "use --format json or --format csv for the full matrix"


# --------------------------------------------------------------------------- output


def _emit(console: Console, renderable: RenderableType) -> None:
    """Print, at natural width when the output is not a terminal and 80 columns are too few."""
    if console.is_terminal:
        console.print(renderable)
        return
    need = console.measure(renderable, options=console.options.update_width(1 << 16)).maximum
    if need <= console.width:
        console.print(renderable)
        return
    lines = list(console.render(renderable, console.options.update_width(need)))
    console.print(Segments(lines), crop=False)


def _fits(console: Console, renderable: RenderableType) -> bool:
    """Whether the renderable fits the window (always true when not a terminal)."""
    if not console.is_terminal:
        return True
    need = console.measure(renderable, options=console.options.update_width(1 << 16)).maximum
    return need <= console.width


# --------------------------------------------------------------------------- numbers


def _fmt(x: float, digits: int = DIGITS) -> str:
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def _align(cells: list, header: str = "") -> tuple:
    """(header, cells) padded to one width, right-aligned with decimal points lined up.

    Rich strips trailing spaces from right-justified cells, which would undo the
    decimal alignment, so columns are padded here and added with ``justify="left"``.
    """
    def frac(s):
        if "e" in s or not s[-1:].isdigit():
            return None
        k = s.find(".")
        return 0 if k < 0 else len(s) - k
    fr = [frac(s) for s in cells]
    fw = max([f for f in fr if f is not None], default=0)
    cells = [s if f is None else s + " " * (fw - f) for s, f in zip(cells, fr)]
    width = max([len(header)] + [len(s) for s in cells])
    return header.rjust(width), [s.rjust(width) for s in cells]


def _matrix_cells(mat, structure, headers: Sequence[str], digits: int = DIGITS) -> tuple:
    """(headers, rows of cells), column-aligned; structural zeros as ZERO."""
    m, n = mat.shape
    heads, cols = [], []
    for j in range(n):
        col = [_fmt(v, digits) for v in mat[:, j].tolist()]
        if structure is not None:
            col = [ZERO if not structure[i, j] else c for i, c in enumerate(col)]
        head, col = _align(col, headers[j])
        heads.append(head)
        cols.append(col)
    return heads, [[cols[j][i] for j in range(n)] for i in range(m)]


# --------------------------------------------------------------------------- pieces


def _status_text(code: Status) -> Text:
    return Text(code.label, style="bold green" if code == Status.OK else "bold red")


def _point_text(names: Sequence[str], values, limit: int = 8) -> str:
    pairs = [f"{n}={_fmt(v)}" for n, v in zip(names, np.asarray(values, dtype=float).tolist())]
    if len(pairs) > limit:
        return ", ".join(pairs[:limit]) + f", {ELLIPSIS} ({len(pairs)} inputs)"
    return ", ".join(pairs)


def _header(result: Result, i: int, model: str, index: Optional[int]) -> Text:
    code = Status(int(result.status[i]))
    exact = "exact" if result.exact else "estimated error" if result.error is not None else "approximate"
    t = Text()
    if index is not None:
        t.append(f"point {index} · ", style="dim")
    t.append(f"{result.op} of ")
    t.append(model, style="bold")
    where = ("an unreadable row" if code == Status.BAD_INPUT
             else _point_text(result.inputs, result.at[i]))
    t.append(f" · backend {result.backend} ({exact}) · at {where} · status ")
    t.append_text(_status_text(code))
    return t


def _structure(result: Result):
    return None if result.structure is None else np.asarray(result.structure, dtype=bool)


def _jacobian_table(result: Result, i: int, rows: Sequence[int], cols: Sequence[int],
                    more_rows: bool, more_cols: bool) -> Table:
    jac = np.asarray(result.derivative[i], dtype=np.float64)
    value = np.asarray(result.value[i], dtype=np.float64)
    structure = _structure(result)
    sub = jac[np.ix_(rows, cols)]
    heads, cells = _matrix_cells(sub, None if structure is None else structure[np.ix_(rows, cols)],
                                 [f"∂/∂{result.wrt[j]}" for j in cols])
    vhead, vcells = _align([_fmt(v) for v in value[list(rows)].tolist()], "value")
    table = Table(show_edge=True, header_style="bold", pad_edge=True)
    table.add_column("output", no_wrap=True)
    table.add_column(vhead, no_wrap=True, style="dim")
    for head in heads:
        table.add_column(head, no_wrap=True)
    if more_cols:
        table.add_column(ELLIPSIS, no_wrap=True)
    for r, k in enumerate(rows):
        row = [result.outputs[k], vcells[r]] + [_styled(c) for c in cells[r]]
        if more_cols:
            row.append(ELLIPSIS)
        table.add_row(*row)
    if more_rows:
        table.add_row(ELLIPSIS, ELLIPSIS, *([ELLIPSIS] * (len(cols) + more_cols)))
    return table


def _styled(cell: str):
    if cell.strip() == ZERO:
        return Text(cell, style="dim")
    if cell.strip() in ("nan", "inf", "-inf"):
        return Text(cell, style="red")
    return cell


def _error_table(result: Result, i: int, rows, cols, more_rows, more_cols) -> Table:
    err = np.asarray(result.error[i], dtype=np.float64)[np.ix_(rows, cols)]
    structure = _structure(result)
    table = Table(header_style="bold")
    table.add_column("output", no_wrap=True)
    columns = []
    for c, j in enumerate(cols):
        col = [ZERO if structure is not None and not structure[k, j] else "±" + _fmt(err[r, c], 2)
               for r, k in enumerate(rows)]
        head, col = _align(col, f"∂/∂{result.wrt[j]}")
        table.add_column(head, no_wrap=True)
        columns.append(col)
    if more_cols:
        table.add_column(ELLIPSIS, no_wrap=True)
    for r, k in enumerate(rows):
        cells = [_styled(col[r]) for col in columns]
        if more_cols:
            cells.append(ELLIPSIS)
        table.add_row(result.outputs[k], *cells)
    if more_rows:
        table.add_row(ELLIPSIS, *([ELLIPSIS] * (len(cols) + more_cols)))
    return table


def _summary(result: Result, i: int) -> Text:
    jac = np.asarray(result.derivative[i], dtype=np.float64)
    m, n = jac.shape
    structure = _structure(result)
    if structure is not None:
        nnz, source = int(structure.sum()), "structural"
    else:
        nnz, source = int(np.count_nonzero(jac)), "numerical"
    finite = np.isfinite(jac)
    t = Text()
    t.append(f"shape {m} × {n} · {nnz} non-zeros ({source}, {100.0 * nnz / max(m * n, 1):.3g}%)")
    if finite.any():
        a = np.where(finite, np.abs(jac), 0.0)
        k = int(np.argmax(a))
        r, c = divmod(k, n)
        t.append(f" · ‖J‖_F = {_fmt(float(np.sqrt((a * a).sum())))}"
                 f" · max |J| = {_fmt(float(a.flat[k]))} at ∂{result.outputs[r]}/∂{result.wrt[c]}")
    if not finite.all():
        t.append(f" · {int((~finite).sum())} non-finite entries", style="red")
    if result.error is not None:
        e = np.asarray(result.error[i], dtype=np.float64)
        ef = e[np.isfinite(e)]
        if ef.size:
            t.append(f" · error estimate ≤ ±{_fmt(float(ef.max()), 2)}")
    return t


def _choose_corner(console: Console, result: Result, i: int, max_rows: int, max_cols: int):
    """(rows, cols, truncated) to show for point i."""
    m, n = len(result.outputs), len(result.wrt)
    big = m > max_rows or n > max_cols
    nr = min(m, CORNER_ROWS) if big else m
    nc = min(n, CORNER_COLS) if big else n
    while True:
        rows, cols = list(range(nr)), list(range(nc))
        table = _jacobian_table(result, i, rows, cols, nr < m, nc < n)
        if nc <= 1 or _fits(console, table):
            return rows, cols, table, (nr < m or nc < n)
        nc -= 1


def _has_numbers(result: Result, i: int) -> bool:
    return bool(np.isfinite(np.asarray(result.derivative[i], dtype=np.float64)).any())


# --------------------------------------------------------------------------- public


def render_point(result: Result, i: int = 0, *, console: Console, model: str,
                 sparsity: bool = False, index: Optional[int] = None,
                 max_rows: int = MAX_ROWS, max_cols: int = MAX_COLS) -> None:
    """Render point ``i`` of a Jacobian result as a table.

    Parameters
    ----------
    result : Result
        The result.
    i : int
        Which point of it.
    console : rich.console.Console
        Where to render.
    model : str
        Model name for the header line.
    sparsity : bool
        Also draw the sparsity pattern (:func:`render_sparsity`).
    index : int, optional
        Point number to show in the header (for batches).
    max_rows, max_cols : int
        Above either, show a summary and the top-left corner instead of the full table.

    Notes
    -----
    A point whose status is not OK shows its message in red; its table is drawn only if
    some derivative is finite.  Results of jvp, vjp, hvp and hessian are drawn by
    :func:`render_op_point`.
    """
    if result.op != "jacobian":
        return render_op_point(result, i, console=console, model=model, index=index,
                               max_rows=max_rows, max_cols=max_cols)
    code = Status(int(result.status[i]))
    console.print(_header(result, i, model, index), soft_wrap=True)
    if code != Status.OK:
        console.print(Text(result.messages[i] or code.label.replace("_", " "), style="red"),
                      soft_wrap=True)
        if not _has_numbers(result, i):
            return
    rows, cols, table, truncated = _choose_corner(console, result, i, max_rows, max_cols)
    m, n = len(result.outputs), len(result.wrt)
    if truncated:
        console.print(_summary(result, i), soft_wrap=True)
    _emit(console, table)
    if truncated:
        console.print(Text(f"showing rows 1–{len(rows)} of {m} and columns 1–{len(cols)} of {n}; "
                           f"{FULL_HINT}", style="dim"), soft_wrap=True)
    if result.error is not None and _has_numbers(result, i):
        console.print(Text("absolute error estimate", style="bold"))
        _emit(console, _error_table(result, i, rows, cols, len(rows) < m, len(cols) < n))
    if sparsity:
        if result.structure is not None:
            pattern, source = _structure(result), "structural"
        else:
            pattern = np.asarray(result.derivative[i], dtype=np.float64) != 0
            source = "numerical, at this point"
        render_sparsity(pattern, console=console, rows=result.outputs, cols=result.wrt,
                        title=f"sparsity ({source})")


_SHADES = "·░▒▓█"


def _shade(fraction: float) -> str:
    if fraction <= 0:
        return _SHADES[0]
    if fraction >= 1:
        return _SHADES[4]
    return _SHADES[1 + min(2, int(fraction * 3))]


def render_sparsity(pattern, *, console: Console, rows: Sequence[str], cols: Sequence[str],
                    title: str = "sparsity", max_rows: int = 48, max_cols: int = 64) -> None:
    """Draw a sparsity pattern as a grid of ``█`` (non-zero) and ``·`` (zero).

    Parameters
    ----------
    pattern : array of bool, shape (m, n)
        True where the entry is (or may be) non-zero.
    console : rich.console.Console
        Where to render.
    rows, cols : sequence of str
        Row (output) and column (input) names.
    title : str
        First line, followed by the count of non-zeros.
    max_rows, max_cols : int
        A bigger pattern is drawn in blocks: each character covers a block of entries
        and is shaded by the fraction that are non-zero (``·`` none, ``░ ▒ ▓`` some, ``█`` all).

    Notes
    -----
    In the full-resolution grid columns are numbered (ones digit on the ruler line);
    when the names are short they are printed above the grid instead, and otherwise
    listed below it.
    """
    p = np.asarray(pattern, dtype=bool)
    m, n = p.shape
    nnz = int(p.sum())
    head = Text(f"{title}: {nnz} of {m * n} entries non-zero ({100.0 * nnz / max(m * n, 1):.3g}%)",
                style="bold")
    console.print(head, soft_wrap=True)
    if m == 0 or n == 0:
        return
    lines = []
    if m <= max_rows and n <= max_cols:
        label_w = min(16, max(len(r) for r in rows))
        short = all(len(c) == 1 for c in cols)
        ruler = " ".join(cols) if short else " ".join(str((j + 1) % 10) for j in range(n))
        lines.append(Text(" " * (label_w + 1) + ruler, style="dim"))
        for i in range(m):
            t = Text(_clip(rows[i], label_w).rjust(label_w) + " ", style="bold")
            t.append(" ".join("█" if v else "·" for v in p[i].tolist()))
            lines.append(t)
        if not short and n <= 40:
            lines.append(Text("columns: " + ", ".join(f"{j + 1} {c}" for j, c in enumerate(cols)),
                              style="dim"))
        elif not short:
            lines.append(Text(f"columns 1–{n}: {cols[0]} … {cols[-1]}", style="dim"))
    else:
        br = math.ceil(m / max_rows)
        bc = math.ceil(n / max_cols)
        gr, gc = math.ceil(m / br), math.ceil(n / bc)
        # block sums via padding to whole blocks
        padded = np.zeros((gr * br, gc * bc), dtype=np.int64)
        padded[:m, :n] = p
        counts = padded.reshape(gr, br, gc, bc).sum(axis=(1, 3))
        sizes = (np.minimum(np.arange(1, gr + 1) * br, m) - np.arange(gr) * br)[:, None] * \
                (np.minimum(np.arange(1, gc + 1) * bc, n) - np.arange(gc) * bc)[None, :]
        frac = counts / sizes
        label_w = len(f"{m}")
        for i in range(gr):
            t = Text(f"{i * br + 1}".rjust(label_w) + " ", style="dim")
            t.append("".join(_shade(f) for f in frac[i].tolist()))
            lines.append(t)
        lines.append(Text(f"each character is a block of {br} × {bc} entries "
                          f"(rows × columns of {m} × {n}); · none, ░▒▓ some, █ all non-zero",
                          style="dim"))
    for t in lines:
        t.no_wrap = True
        _emit(console, t)


def _clip(s: str, w: int) -> str:
    return s if len(s) <= w else s[: w - 1] + ELLIPSIS


def render_symbolic(*, console: Console, model: str, backend: str, inputs: Sequence[str],
                    outputs: Sequence[str], jacobian: Sequence[Sequence[str]], structure=None,
                    max_cols: int = 6, max_rows: int = MAX_ROWS, max_entries: int = 200) -> None:
    """Render a symbolic Jacobian: an expression string per entry.

    Parameters
    ----------
    console : rich.console.Console
        Where to render.
    model, backend : str
        For the header line.
    inputs, outputs : sequence of str
        Column and row names.
    jacobian : sequence of sequence of str
        ``jacobian[i][j]`` is ∂outputs[i]/∂inputs[j] as an expression string.
    structure : array of bool, optional
        Structural non-zeros; default: entries whose expression is not ``"0"``.
    max_cols, max_rows : int
        Up to these sizes a table is drawn (long expressions wrap); beyond, the
        non-zero entries are listed one per line, ``∂f/∂x = expr``.
    max_entries : int
        At most this many entries are listed.
    """
    m, n = len(outputs), len(inputs)
    s = (np.array([[str(e).strip() != "0" for e in r] for r in jacobian], dtype=bool).reshape(m, n)
         if structure is None else np.asarray(structure, dtype=bool))
    t = Text("jacobian of ")
    t.append(model, style="bold")
    t.append(f" · backend {backend} · symbolic · {int(s.sum())} of {m * n} entries non-zero")
    console.print(t, soft_wrap=True)
    if n <= max_cols and m <= max_rows:
        table = Table(header_style="bold", show_lines=True)
        table.add_column("output", no_wrap=True)
        for name in inputs:
            table.add_column(f"∂/∂{name}", overflow="fold")
        for i in range(m):
            table.add_row(outputs[i], *[str(jacobian[i][j]) if s[i, j] else Text(ZERO, style="dim")
                                        for j in range(n)])
        console.print(table)       # expressions wrap; width is never a problem
        return
    shown = 0
    for i in range(m):
        for j in range(n):
            if not s[i, j]:
                continue
            if shown == max_entries:
                console.print(Text(f"{ELLIPSIS} {int(s.sum()) - shown} more non-zero entries; "
                                   "use --format json for all of them", style="dim"))
                return
            line = Text(f"∂{outputs[i]}/∂{inputs[j]}", style="bold")
            line.append(f" = {jacobian[i][j]}")
            console.print(line, soft_wrap=True)
            shown += 1


# --------------------------------------------------------------------------- products, Hessians


def _vector_line(label: str, names: Sequence[str], values) -> Text:
    t = Text(f"{label}: ", style="bold")
    t.append(_point_text(names, values), style="")
    return t


def _column_table(first: str, names: Sequence[str], columns: list) -> Table:
    """A table with a name column and aligned numeric columns ``[(header, cells), ...]``."""
    table = Table(header_style="bold")
    table.add_column(first, no_wrap=True)
    aligned = []
    for head, cells in columns:
        head, cells = _align(cells, head)
        table.add_column(head, no_wrap=True)
        aligned.append(cells)
    for r, name in enumerate(names):
        table.add_row(name, *[_styled(col[r]) for col in aligned])
    return table


def _product_table(result: Result, i: int) -> Table:
    d = np.asarray(result.derivative[i], dtype=np.float64)
    err = None if result.error is None else np.asarray(result.error[i], dtype=np.float64)
    if result.op == "jvp":
        value = np.asarray(result.value[i], dtype=np.float64)
        cols = [("value", [_fmt(v) for v in value.tolist()]), ("J·v", [_fmt(v) for v in d.tolist()])]
        first, names = "output", result.outputs
    else:
        cols = [("uᵀJ", [_fmt(v) for v in d.tolist()])]
        first, names = "input", result.wrt
    if err is not None:
        cols.append(("± error", ["±" + _fmt(e, 2) for e in err.tolist()]))
    return _column_table(first, names, cols)


def _hvp_table(result: Result, i: int) -> Table:
    d = np.asarray(result.derivative[i], dtype=np.float64)          # (q, k)
    err = None if result.error is None else np.asarray(result.error[i], dtype=np.float64)
    vec = np.asarray(result.extra["vector"][i], dtype=np.float64)
    cols = [("v", [_fmt(v) for v in vec.tolist()])]
    for q, out in enumerate(result.outputs):
        cols.append((f"∇²{out}·v", [_fmt(v) for v in d[q].tolist()]))
        if err is not None:
            cols.append(("± error", ["±" + _fmt(e, 2) for e in err[q].tolist()]))
    return _column_table("input", result.wrt, cols)


def _square_table(mat, names: Sequence[str], rows, cols, more_rows: bool, more_cols: bool,
                  error: bool = False) -> Table:
    sub = np.asarray(mat, dtype=np.float64)[np.ix_(rows, cols)]
    table = Table(header_style="bold")
    table.add_column("", no_wrap=True)
    columns = []
    for c, j in enumerate(cols):
        cells = [("±" + _fmt(v, 2)) if error else _fmt(v) for v in sub[:, c].tolist()]
        head, cells = _align(cells, f"∂/∂{names[j]}")
        table.add_column(head, no_wrap=True)
        columns.append(cells)
    if more_cols:
        table.add_column(ELLIPSIS, no_wrap=True)
    for r, k in enumerate(rows):
        cells = [_styled(col[r]) for col in columns] + ([ELLIPSIS] if more_cols else [])
        table.add_row(Text(f"∂/∂{names[k]}", style="bold"), *cells)
    if more_rows:
        table.add_row(ELLIPSIS, *([ELLIPSIS] * (len(cols) + more_cols)))
    return table


def _emit_square(console: Console, mat, names: Sequence[str], max_rows: int, max_cols: int,
                 error: bool = False) -> None:
    """A k × k matrix, or its top-left corner (as many columns as fit) when it is big."""
    k = len(names)
    big = k > max_rows or k > max_cols
    nr = min(k, CORNER_ROWS) if big else k
    nc = min(k, CORNER_COLS) if big else k
    while True:
        rows, cols = list(range(nr)), list(range(nc))
        table = _square_table(mat, names, rows, cols, nr < k, nc < k, error)
        if nc <= 1 or _fits(console, table):
            break
        nc -= 1
    _emit(console, table)
    if nr < k or nc < k:
        console.print(Text(f"showing rows 1–{nr} and columns 1–{nc} of {k}; {FULL_HINT}",
                           style="dim"), soft_wrap=True)


def _list_text(values, limit: int = 8) -> str:
    vals = [_fmt(v) for v in values]
    if len(vals) > limit:
        return ", ".join(vals[:limit // 2]) + f", {ELLIPSIS}, " + ", ".join(vals[-(limit // 2):])
    return ", ".join(vals)


def curvature_lines(c: Optional[dict], what: str = "H") -> list:
    """The curvature summary (a :meth:`jacli.curvature.CurvatureReport.to_dict`) as text lines."""
    if c is None:
        return [Text("curvature: not available (the Hessian or its error estimate is not finite here)", style="red")]
    lines = []
    if c.get("eigenvalues") is None:
        lines.append(Text(f"curvature: {c.get('message') or 'not available'}", style="red"))
        return lines
    eig = [np.nan if v is None else v for v in c["eigenvalues"]]
    t = Text("eigenvalues", style="bold")
    t.append(f" ({len(eig)}, ascending): {_list_text(eig)}")
    lines.append(t)
    inertia = c.get("inertia") or {}
    cond = c.get("condition")
    t = Text(f"{what} is ")
    t.append(str(c.get("definiteness")), style="bold")
    t.append(f" · condition number {'∞' if cond is None else _fmt(cond, 3)}"
             f" · rank {c.get('rank')} of {c.get('k')}"
             f" · inertia {inertia.get('positive', '?')} positive, {inertia.get('zero', '?')} zero, "
             f"{inertia.get('negative', '?')} negative")
    lines.append(t)
    if c.get("gradient_norm") is not None:
        g, gtol = c["gradient_norm"], c.get("gtol")
        t = Text(f"‖∇‖ = {_fmt(g, 3)}")
        if c.get("critical"):
            t.append(f" ≤ {_fmt(gtol, 2)}: critical point, ")
            t.append(str(c.get("classification")), style="bold green")
        else:
            t.append(f" > {_fmt(gtol, 2)}: not a critical point")
        lines.append(t)
    if c.get("message"):
        lines.append(Text(str(c["message"]), style="red"))
    for note in c.get("notes") or ():
        lines.append(Text(f"note: {note}", style="dim"))
    return lines


def _render_hessian(result: Result, i: int, console: Console, max_rows: int, max_cols: int) -> None:
    H = np.asarray(result.derivative[i], dtype=np.float64)            # (q, k, k)
    err = None if result.error is None else np.asarray(result.error[i], dtype=np.float64)
    grad = result.extra.get("gradient")
    curv = result.extra.get("curvature")
    sumsq = "gauss_newton" in result.extra
    names = result.wrt
    for q, out in enumerate(result.outputs):
        t = Text("∇²(½‖f‖²)" if sumsq else f"∇²{out}", style="bold")
        t.append(f" · value {_fmt(float(result.value[i][q]))}")
        if grad is not None:
            g = np.asarray(grad[i][q], dtype=np.float64)
            t.append(f" · gradient ({_list_text(g.tolist())})")
        console.print(t, soft_wrap=True)
        _emit_square(console, H[q], names, max_rows, max_cols)
        if err is not None:
            console.print(Text("absolute error estimate", style="bold"))
            _emit_square(console, err[q], names, max_rows, max_cols, error=True)
        if curv is not None:
            for line in curvature_lines(curv[i][q] if curv[i] is not None else None):
                console.print(line, soft_wrap=True)
    if sumsq:
        gn = np.asarray(result.extra["gauss_newton"][i], dtype=np.float64)
        console.print(Text("Gauss–Newton approximation JᵀJ", style="bold"))
        _emit_square(console, gn, names, max_rows, max_cols)
        nn = float(result.extra["neglected_norm"][i])
        with np.errstate(all="ignore"):
            scale = float(np.linalg.norm(H[0], 2)) if np.isfinite(H[0]).all() else math.nan
        t = Text(f"neglected term Σ fᵢ∇²fᵢ: ‖·‖₂ = {_fmt(nn, 3)}")
        if scale > 0:
            t.append(f" ({_fmt(100 * nn / scale, 2)}% of ‖∇²(½‖f‖²)‖₂)")
        console.print(t, soft_wrap=True)


def render_op_point(result: Result, i: int = 0, *, console: Console, model: str,
                    index: Optional[int] = None, max_rows: int = MAX_ROWS,
                    max_cols: int = MAX_COLS) -> None:
    """Render point ``i`` of a jvp, vjp, hvp or hessian result.

    The header line as for a Jacobian; the vector of a product; a table of the product (with
    error estimates when the backend has them) or, for Hessians, each output's matrix
    followed by its curvature summary (``result.extra["curvature"]``) and, for ``sumsq``,
    the Gauss–Newton matrix and the size of the neglected term.  A cost note
    (``result.extra["cost"]``) ends the point.
    """
    code = Status(int(result.status[i]))
    console.print(_header(result, i, model, index), soft_wrap=True)
    if code != Status.OK:
        console.print(Text(result.messages[i] or code.label.replace("_", " "), style="red"),
                      soft_wrap=True)
    if _has_numbers(result, i):
        vec = result.extra.get("vector")
        if vec is not None:
            names = result.outputs if result.op == "vjp" else result.wrt
            label = "u" if result.op == "vjp" else "v"
            if result.op != "hvp":
                console.print(_vector_line(label, names, vec[i]), soft_wrap=True)
        if result.op in ("jvp", "vjp"):
            _emit(console, _product_table(result, i))
        elif result.op == "hvp":
            _emit(console, _hvp_table(result, i))
        else:
            _render_hessian(result, i, console, max_rows, max_cols)
    if result.extra.get("cost"):
        console.print(Text(f"note: {result.extra['cost']}", style="dim"), soft_wrap=True)


def render_matrix_free(report: dict, *, console: Console) -> None:
    """Render the matrix-free curvature report built by ``jacli hessian --matrix-free``."""
    t = Text("hessian of ")
    t.append(str(report["model"]), style="bold")
    t.append(f" · output {report['outputs'][0]} · matrix-free · backend {report['backend']} · "
             f"k = {report['k']} · at {_point_text(report['inputs'], list(report['at'].values()))}")
    console.print(t, soft_wrap=True)
    if report.get("value") is not None:
        line = Text(f"value {_fmt(report['value'])}")
        if report.get("gradient_norm") is not None:
            line.append(f" · ‖∇‖ = {_fmt(report['gradient_norm'], 3)}")
        console.print(line, soft_wrap=True)
    if report.get("reason"):
        console.print(Text(report["reason"], style="dim"), soft_wrap=True)
    eig = report.get("eigenvalues")
    if eig is not None:
        table = Table(header_style="bold", title=None)
        table.add_column("end", no_wrap=True)
        table.add_column("eigenvalue", no_wrap=True, justify="right")
        table.add_column("residual ‖Hv−λv‖", no_wrap=True, justify="right")
        for end, key in (("largest", "largest"), ("smallest", "smallest")):
            for lam, r in zip(eig.get(key) or [], eig.get(f"{key}_residuals") or []):
                table.add_row(end, _fmt(np.nan if lam is None else lam),
                              "±" + _fmt(np.nan if r is None else r, 2))
        console.print(Text(f"extreme eigenvalues ({eig['method']}, {eig['hvps']} HVPs)", style="bold"))
        _emit(console, table)
        if eig.get("message"):
            console.print(Text(eig["message"], style="red"), soft_wrap=True)
        t = Text("H is ")
        if report.get("definiteness"):
            t.append(report["definiteness"], style="bold")
            t.append(" (the extreme eigenvalues are away from zero by more than their residuals)")
        else:
            t.append("of undecided definiteness", style="bold")
            t.append(" (an extreme eigenvalue is within its residual of zero, or did not converge)")
        console.print(t, soft_wrap=True)
        if report.get("critical"):
            t = Text(f"‖∇‖ ≤ {_fmt(report['gtol'], 2)}: critical point, ")
            t.append(str(report.get("classification")), style="bold green")
            console.print(t, soft_wrap=True)
    tr = report.get("trace")
    if tr is not None:
        console.print(Text(f"trace ≈ {_fmt(tr['estimate'])} ± {_fmt(tr['standard_error'], 2)} "
                           f"({tr['method']}, {tr['hvps']} HVPs, seed {tr['seed']})"), soft_wrap=True)
    dg = report.get("diagonal")
    if dg is not None:
        est = [np.nan if v is None else v for v in dg["estimate"]]
        se = [np.nan if v is None else v for v in dg["standard_error"]]
        console.print(Text(f"diagonal ({dg['method']}, {dg['hvps']} HVPs, seed {dg['seed']}): "
                           f"{_list_text(est)} · largest standard error ±{_fmt(max(se), 2)}"),
                      soft_wrap=True)
    ld = report.get("logdet")
    if ld is not None:
        if ld.get("estimate") is None:
            console.print(Text(f"log det: {ld.get('message')}", style="red"), soft_wrap=True)
        else:
            console.print(Text(f"log det ≈ {_fmt(ld['estimate'])} ± {_fmt(ld['standard_error'], 2)} "
                               f"(SLQ, {ld['probes']} probes × {ld['lanczos_steps']} steps, "
                               f"{ld['hvps']} HVPs, seed {ld['seed']})"), soft_wrap=True)
        for note in ld.get("notes") or ():
            console.print(Text(f"note: {note}", style="dim"), soft_wrap=True)
    console.print(Text(f"{report['hvps']} Hessian-vector products in all; the dense matrix was never formed",
                       style="dim"), soft_wrap=True)


def render_symbolic_hessian(*, console: Console, model: str, backend: str, inputs: Sequence[str],
                            hessians: dict) -> None:
    """Render symbolic Hessians ``{output: k×k expression strings}``: the entries on and above
    the diagonal that are not zero, one per line (the matrix is symmetric)."""
    for out, H in hessians.items():
        t = Text("hessian of ")
        t.append(model, style="bold")
        t.append(f" · ∇²{out} · backend {backend} · symbolic")
        console.print(t, soft_wrap=True)
        shown = 0
        for a in range(len(inputs)):
            for b in range(a, len(inputs)):
                if str(H[a][b]).strip() == "0":
                    continue
                line = Text(f"∂²/∂{inputs[a]}∂{inputs[b]}", style="bold")
                line.append(f" = {H[a][b]}")
                console.print(line, soft_wrap=True)
                shown += 1
        if not shown:
            console.print(Text("all entries are 0", style="dim"))


class TableWriter:
    """Renders ``--format table`` point by point as results arrive.

    The first ``max_points`` points are drawn in full; after that only failures are
    counted, and :meth:`close` prints a one-line summary for batches (points, ok,
    failed) with the first few failure messages that were not shown.

    Parameters
    ----------
    console : rich.console.Console
        Where to render.
    model : str
        Model name.
    single : bool
        One point: no point numbers and no summary.
    sparsity : bool
        Draw the sparsity pattern of each shown point.
    max_points : int
        How many points to draw in full.
    """

    def __init__(self, console: Console, *, model: str, single: bool = False,
                 sparsity: bool = False, max_points: int = 20):
        self.console, self.model, self.single = console, model, single
        self.sparsity, self.max_points = sparsity, max_points
        self.count = self.ok = 0
        self._failed_shown = 0
        self._hidden_failures: list = []

    def write(self, result: Result) -> None:
        """Render (or count) every point of ``result``."""
        for i in range(len(result)):
            code = Status(int(result.status[i]))
            if self.count < self.max_points:
                if self.count:
                    self.console.print()
                render_point(result, i, console=self.console, model=self.model,
                             sparsity=self.sparsity, index=None if self.single else self.count)
                self._failed_shown += code != Status.OK
            elif code != Status.OK and len(self._hidden_failures) < 10:
                self._hidden_failures.append((self.count, code, result.messages[i]))
            self.ok += code == Status.OK
            self.count += 1

    def close(self) -> None:
        """Print the batch summary (nothing for a single point)."""
        if self.single or self.count == 0:
            return
        failed = self.count - self.ok
        self.console.print()
        t = Text(f"{self.count} points: {self.ok} ok, ")
        t.append(f"{failed} failed", style="bold red" if failed else "")
        if self.count > self.max_points:
            t.append(f" · the first {self.max_points} are shown; use --format jsonl or --format csv "
                     "for all of them", style="dim")
        self.console.print(t, soft_wrap=True)
        for k, code, msg in self._hidden_failures:
            self.console.print(Text(f"point {k}: {code.label}: {msg or ''}", style="red"),
                               soft_wrap=True)
        more = failed - self._failed_shown - len(self._hidden_failures)
        if more > 0:
            self.console.print(Text(f"{ELLIPSIS} and {more} more failures", style="red"))


# --------------------------------------------------------------------------- jacli check
# (one function for `jacli check`; its lines are prepared by jacli.render.check.table_data)


def render_check(data: dict, *, console: Console) -> None:
    """The table of ``jacli check``: one row per backend, then the entries beyond tolerance,
    skipped backends with their reasons, points not compared, and the verdict."""
    console.print(Text(data["title"], style="bold"), soft_wrap=True)
    t = Table(show_edge=True)
    for col, justify in (("backend", "left"), ("method", "left"), ("points", "right"),
                         ("max rel err", "right"), ("tolerance", "right"), ("verdict", "left")):
        t.add_column(col, justify=justify, no_wrap=col != "verdict")
    for r in data["rows"]:
        style = "" if r["ok"] else "bold red"
        verdict = Text(r["verdict"], style=style or ("green" if r["verdict"] == "✓" else ""))
        t.add_row(r["backend"], r["method"], r["points"], r["max_rel_err"], r["tolerance"], verdict)
    _emit(console, t)
    for d in data["details"]:
        console.print(Text(d["title"], style="bold red" if any(not line.startswith("note:")
                                                                for line in d["lines"]) else "bold"),
                      soft_wrap=True)
        for line in d["lines"]:
            console.print(Text("  " + line), soft_wrap=True)
    for s in data["skipped"]:
        console.print(Text(s, style="dim"), soft_wrap=True)
    for p in data["points"]:
        console.print(Text(p, style="yellow"), soft_wrap=True)
    for n in data["notes"]:
        console.print(Text(f"note: {n}", style="dim"), soft_wrap=True)
    console.print(Text(("✓ " if data["ok"] else "✗ ") + data["verdict"],
                       style="bold green" if data["ok"] else "bold red"), soft_wrap=True)
