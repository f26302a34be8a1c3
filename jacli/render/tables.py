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
    "render_point",
    "render_sparsity",
    "render_symbolic",
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
    t.append(f" · backend {result.backend} ({exact}) · at {_point_text(result.inputs, result.at[i])}"
             " · status ")
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
    some derivative is finite.
    """
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
