"""Renderers: rich tables, JSON / JSON Lines, CSV and LaTeX.

Every format has a *writer* with the same small interface, so a command streams its
results the same way whatever the format::

    with atomic_open(output) as fp:                      # jacli._io; "-" is stdout
        writer = make_writer(fmt, fp, model=model.name, single=len(points) == 1)
        for chunk in results:                            # Result objects, in point order
            writer.write(chunk)
        writer.close()

``single`` says the command was given exactly one point (``--at`` or the nominal
point); it selects the single-point JSON document and plain ``J =`` labels.  A points
file always gives the batch shapes, even with one row (see docs/json-schema.md).

Results of every operation (``jacobian``, ``jvp``, ``vjp``, ``hvp``, ``hessian``) go through
the same writers; the shape of each format per operation is in docs/json-schema.md.

Importing this package imports neither :mod:`rich` nor SymPy; :mod:`jacli.render.tables`
is imported only when a table is asked for.
"""
from __future__ import annotations

from typing import IO, Optional, Protocol

from jacli.results import Result

__all__ = ["FORMATS", "Writer", "make_writer"]

#: Output formats of the numeric commands, in the order shown by ``--help``.
FORMATS = ("table", "json", "jsonl", "csv", "latex")


class Writer(Protocol):
    """What :func:`make_writer` returns."""

    count: int
    """Points written so far."""

    def write(self, result: Result) -> None:
        """Render every point of ``result``, in order, right away."""

    def close(self) -> None:
        """Finish the output (closing brackets, batch summary); does not close the file."""


def make_writer(fmt: str, fp: IO[str], *, model: str, single: bool = False,
                sparsity: bool = False, command: Optional[str] = None,
                console=None, keyed: Optional[bool] = None) -> Writer:
    """The streaming writer for output format ``fmt``.

    Parameters
    ----------
    fmt : {"table", "json", "jsonl", "csv", "latex"}
        The output format.
    fp : text file
        Where to write (for ``"table"``, ignored when ``console`` is given).
    model : str
        The model's name.
    single : bool
        The command was given exactly one point.
    sparsity : bool
        Add the sparsity pattern (JSON, JSON Lines, table; ignored by CSV and LaTeX).
    command : str, optional
        Command name recorded in JSON; default the result's ``op``.
    console : rich.console.Console, optional
        For ``"table"``: the console to render to; default ``Console(file=fp)``.
    keyed : bool, optional
        JSON of hvp/hessian results: per-output values as ``{output: ...}`` (True) or bare
        (False); default keyed when a result has several outputs.

    Returns
    -------
    Writer
        An object with ``write(result)``, ``close()`` and ``count``.

    Raises
    ------
    ValueError
        Unknown format (the CLI restricts the choice to :data:`FORMATS`).

    Examples
    --------
    >>> import io, numpy as np
    >>> from jacli.results import Result
    >>> r = Result(op="jacobian", backend="sympy", exact=True, inputs=("x",), wrt=("x",),
    ...            outputs=("f",), at=np.array([[2.0]]), value=np.array([[4.0]]),
    ...            derivative=np.array([[[4.0]]]), error=None, status=np.zeros(1, int),
    ...            messages=(None,), nfev=0)
    >>> buf = io.StringIO()
    >>> w = make_writer("csv", buf, model="sq"); w.write(r); w.close()
    >>> buf.getvalue()
    'x,value.f,df/dx,status,message\\n2.0,4.0,4.0,ok,\\n'
    """
    if fmt == "json":
        from jacli.render.json import JsonWriter
        return JsonWriter(fp, model=model, single=single, command=command, sparsity=sparsity,
                          keyed=keyed)
    if fmt == "jsonl":
        from jacli.render.json import JsonlWriter
        return JsonlWriter(fp, model=model, command=command, sparsity=sparsity, keyed=keyed)
    if fmt == "csv":
        from jacli.render.text import CsvWriter
        return CsvWriter(fp)
    if fmt == "latex":
        from jacli.render.text import LatexWriter
        return LatexWriter(fp, model=model, single=single)
    if fmt == "table":
        from jacli.render.tables import TableWriter
        if console is None:
            from rich.console import Console
            console = Console(file=fp)
        return TableWriter(console, model=model, single=single, sparsity=sparsity)
    raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
