"""Atomic output files and streaming point readers.

Two jobs, both small and both shared by every command:

* **Writing.** :func:`atomic_write` and :func:`atomic_open` put a result file in
  place only once it is complete: the data go to a temporary file in the target's
  directory, are flushed and fsync'ed, and the temporary file is renamed over the
  target with :func:`os.replace` (atomic on POSIX and Windows).  If anything fails
  the target is untouched and the temporary file is removed.  The path ``"-"``
  means standard output.

* **Reading points.** :func:`read_points` streams points from a CSV file with a
  header line or from JSON Lines, one point at a time, so memory stays flat in the
  number of points.  A bad row is reported *as data* (its :class:`PointRow` carries
  the message) and reading goes on; a mistake that concerns the whole file (unknown
  column, empty file, unreadable file) raises :class:`~jacli.errors.InputError`
  before any point is produced.

:func:`parse_assignments` parses ``name=value`` lists such as ``--at x=1,y=2``.
"""
from __future__ import annotations

import contextlib
import csv
import difflib
import itertools
import json
import math
import os
import sys
import tempfile
from typing import IO, Any, Iterator, Mapping, NamedTuple, Optional, Sequence, Union

from jacli.errors import InputError, UsageError

__all__ = [
    "PointRow",
    "PointReader",
    "atomic_open",
    "atomic_write",
    "parse_assignments",
    "read_points",
    "read_points_batched",
    "resolve_point",
]

Source = Union[str, "os.PathLike[str]", IO[str]]


# --------------------------------------------------------------------------- writing


def _is_stdout(path) -> bool:
    return isinstance(path, str) and path == "-"


def _new_file_mode() -> int:
    # mkstemp creates files 0600; a result file should get the permissions any
    # other new file would get, i.e. 0666 minus the umask.  Reading the umask
    # requires setting it, so do it once.
    global _NEW_FILE_MODE
    if _NEW_FILE_MODE is None:
        mask = os.umask(0)
        os.umask(mask)
        _NEW_FILE_MODE = 0o666 & ~mask
    return _NEW_FILE_MODE


_NEW_FILE_MODE: Optional[int] = None


def _cannot_write(path, exc: OSError) -> UsageError:
    reason = exc.strerror or str(exc)
    return UsageError(f"cannot write '{os.fspath(path)}': {reason}")


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", *, encoding: str = "utf-8",
                newline: Optional[str] = None) -> Iterator[IO]:
    """Open ``path`` for writing so that it appears complete or not at all.

    Parameters
    ----------
    path : str or os.PathLike
        The target file, or ``"-"`` for standard output (written directly, not
        closed, flushed at the end).
    mode : {"w", "wb"}
        Text or binary.
    encoding : str
        Text encoding (text mode only).
    newline : str or None
        Passed to :func:`open` (text mode only); use ``""`` for the :mod:`csv` module.

    Yields
    ------
    file object
        A temporary file in the target's directory.  When the ``with`` block ends
        normally it is flushed, fsync'ed and renamed over ``path``; when the block
        raises, it is deleted, ``path`` is left as it was and the exception propagates.

    Raises
    ------
    jacli.errors.UsageError
        The temporary file cannot be created or renamed (missing directory,
        permission denied); the message names the path.

    Examples
    --------
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "out.txt")
    >>> with atomic_open(target) as f:
    ...     _ = f.write("hello\\n")
    >>> open(target).read()
    'hello\\n'
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    binary = mode == "wb"
    if _is_stdout(path):
        stream = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return

    target = os.path.abspath(os.fspath(path))
    directory, base = os.path.split(target)
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{base}.", suffix=".tmp")
    except OSError as exc:
        raise _cannot_write(path, exc) from exc
    try:
        if binary:
            f = os.fdopen(fd, "wb")
        else:
            f = os.fdopen(fd, "w", encoding=encoding, newline=newline)
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:
            mode_bits = os.stat(target).st_mode & 0o7777   # keep an existing file's permissions
        except FileNotFoundError:
            mode_bits = _new_file_mode()
        try:
            os.chmod(tmp, mode_bits)
            os.replace(tmp, target)
        except OSError as exc:
            raise _cannot_write(path, exc) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable on POSIX; not possible (nor needed) everywhere.
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def atomic_write(path, data: Union[str, bytes], *, encoding: str = "utf-8") -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`).

    Parameters
    ----------
    path : str or os.PathLike
        The target file, or ``"-"`` for standard output.
    data : str or bytes
        The whole content; ``bytes`` are written in binary mode.
    encoding : str
        Encoding for ``str`` data.

    Raises
    ------
    jacli.errors.UsageError
        The file cannot be written; the target is then unchanged.

    Examples
    --------
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "out.json")
    >>> atomic_write(target, '{"schema": 1}\\n')
    >>> open(target).read()
    '{"schema": 1}\\n'
    """
    binary = isinstance(data, (bytes, bytearray, memoryview))
    with atomic_open(path, "wb" if binary else "w", encoding=encoding, newline="") as f:
        f.write(data)


# --------------------------------------------------------------------------- numbers


def _parse_number(text: str) -> float:
    """A finite float from user text; ValueError with a readable reason otherwise."""
    s = text.strip()
    if not s:
        raise ValueError("empty value; expected a number")
    try:
        v = float(s)
    except ValueError:
        raise ValueError(f"{s!r} is not a number") from None
    if not math.isfinite(v):
        what = "overflows to infinity" if s.lower().lstrip("+-") not in (
            "inf", "infinity", "nan") else "is not a finite number"
        raise ValueError(f"{s!r} {what}; points must be finite")
    return v


def _did_you_mean(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --------------------------------------------------------------------------- assignments


def split_list(text: str) -> list:
    """Split at commas outside brackets: ``"W[0,1]=2, x=1"`` -> ``["W[0,1]=2", " x=1"]``.

    Element names of array-valued inputs (``W[0,1]``, Python-function models) contain
    commas; everything that reads a comma-separated list of names uses this.

    Examples
    --------
    >>> split_list("a,W[0,1],b")
    ['a', 'W[0,1]', 'b']
    """
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(depth - 1, 0)
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return items


def parse_assignments(text: str, what: str = "--at") -> dict:
    """Parse ``"x=1, y=2.5e-3"`` into ``{"x": 1.0, "y": 0.0025}``.

    Used for ``--at`` and ``--param``.  Names are not checked against a model here;
    use :func:`resolve_point` for that.

    Parameters
    ----------
    text : str
        Comma-separated ``name=value`` pairs; spaces around names and values are ignored.
    what : str
        The option name used in error messages.

    Returns
    -------
    dict of str to float
        In the order written.

    Raises
    ------
    jacli.errors.UsageError
        Empty text or item, an item without ``=``, an empty name, a value that is not a
        finite number, or a name given twice.  The message starts with ``what``.

    Examples
    --------
    >>> parse_assignments("x=1, y=-2.5e-3")
    {'x': 1.0, 'y': -0.0025}
    >>> parse_assignments("x=1,x=2")
    Traceback (most recent call last):
    ...
    jacli.errors.UsageError: --at: 'x' is given twice
    """
    if not text or not text.strip():
        raise UsageError(f"{what}: empty; expected name=value pairs such as 'x=1,y=2'")
    out: dict = {}
    for item in split_list(text):
        item = item.strip()
        if not item:
            raise UsageError(f"{what}: empty item in {text!r}; expected name=value pairs "
                             "separated by single commas, such as 'x=1,y=2'")
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq:
            raise UsageError(f"{what}: {item!r} has no '='; expected name=value, such as 'x=1'")
        if not name:
            raise UsageError(f"{what}: {item!r} has no name before '='")
        try:
            number = _parse_number(value)
        except ValueError as exc:
            raise UsageError(f"{what}: {name}: {exc}") from None
        if name in out:
            raise UsageError(f"{what}: '{name}' is given twice")
        out[name] = number
    return out


def resolve_point(assignments: Mapping[str, float], input_names: Sequence[str],
                  nominal: Sequence[float], *, what: str = "--at") -> tuple:
    """A full point from partial assignments; unassigned inputs take their nominal value.

    Parameters
    ----------
    assignments : mapping of str to float
        Typically from :func:`parse_assignments`.
    input_names : sequence of str
        The model's inputs, in order.
    nominal : sequence of float
        Their nominal values, same order.
    what : str
        Option name for error messages.

    Returns
    -------
    tuple of float
        The point in input order.

    Raises
    ------
    jacli.errors.UsageError
        A name that is not an input; the message lists the inputs and suggests a
        close match.

    Examples
    --------
    >>> resolve_point({"y": 5.0}, ("x", "y"), (1.0, 2.0))
    (1.0, 5.0)
    """
    index = {n: i for i, n in enumerate(input_names)}
    values = [float(v) for v in nominal]
    for name, v in assignments.items():
        if name not in index:
            raise UsageError(f"{what}: '{name}' is not an input{_did_you_mean(name, input_names)}; "
                             f"the inputs are {', '.join(input_names)}")
        values[index[name]] = float(v)
    return tuple(values)


# --------------------------------------------------------------------------- points


class PointRow(NamedTuple):
    """One point read from a points source.

    Attributes
    ----------
    index : int
        0-based position among the data rows (bad rows count too, so ``index``
        identifies the row in the output whatever happened to the others).
    values : tuple of float or None
        The point in input order (missing columns filled with nominal values);
        None when the row is bad.
    error : str or None
        For a bad row, the message with ``file:line:`` and the column; else None.
    extra : dict of str to float
        Values of allowed extra columns (see ``extra_prefixes``), e.g. ``{"u.x": 1.0}``;
        empty when there are none.
    """

    index: int
    values: Optional[tuple]
    error: Optional[str]
    extra: dict


class PointReader:
    """Iterator of :class:`PointRow` over a points source; made by :func:`read_points`.

    Attributes
    ----------
    name : str
        The name used in messages (file name or ``"<stdin>"``).
    format : {"csv", "jsonl"}
        The detected format.
    columns : tuple of str or None
        For CSV, the header columns; None for JSON Lines.

    The reader closes its file when exhausted, on :meth:`close`, or when used as a
    context manager.  Standard input and caller-supplied streams are never closed.
    """

    def __init__(self, name: str, fmt: str, columns: Optional[tuple], rows: Iterator[PointRow],
                 closer):
        self.name, self.format, self.columns = name, fmt, columns
        self._rows, self._closer = rows, closer

    def __iter__(self) -> "PointReader":
        return self

    def __next__(self) -> PointRow:
        try:
            return next(self._rows)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the file (idempotent)."""
        closer, self._closer = self._closer, None
        if closer is not None:
            closer()

    def __enter__(self) -> "PointReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        self.close()


class _Lines:
    """A text stream's lines with their 1-based numbers; the first can be pushed back."""

    def __init__(self, stream: IO[str], name: str):
        self.stream, self.name, self.lineno = stream, name, 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        try:
            line = next(self.stream)
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start} of the line)",
                             file=self.name, line=self.lineno + 1) from None
        self.lineno += 1
        return line


def _open_source(source, name_for_errors):
    """(stream, name, closer) for a path, "-" or a text stream."""
    if isinstance(source, (str, os.PathLike)) and not _is_stdout(source):
        path = os.fspath(source)
        name = name_for_errors or path
        try:
            # utf-8-sig: spreadsheet programs like to start CSV files with a BOM
            f = open(path, encoding="utf-8-sig", newline="")
        except FileNotFoundError:
            raise InputError("points file not found", file=name) from None
        except IsADirectoryError:
            raise InputError("is a directory, not a points file", file=name) from None
        except OSError as exc:
            raise InputError(f"cannot read points file: {exc.strerror or exc}", file=name) from None
        return f, name, f.close
    if _is_stdout(source):
        return sys.stdin, name_for_errors or "<stdin>", None
    if not hasattr(source, "readline"):
        raise TypeError(f"read_points: source must be a path, '-' or a text stream, "
                        f"got {type(source).__name__}")
    name = name_for_errors or getattr(source, "name", None)
    return source, (name if isinstance(name, str) else "<points>"), None


def _is_comment_or_blank(line: str) -> bool:
    s = line.strip()
    return not s or s.startswith("#")


def read_points(source: Source, input_names: Sequence[str], nominal: Sequence[float], *,
                name_for_errors: Optional[str] = None, extra_prefixes: Sequence[str] = (),
                format: Optional[str] = None) -> PointReader:
    """Stream points from a CSV file with a header or from JSON Lines.

    The format is detected from the first line that is neither blank nor a ``#``
    comment: ``{`` starts JSON Lines, anything else is a CSV header.

    **CSV**: the header names the columns, in any order; each later line is one point.
    **JSON Lines**: one object per line, ``{"x": 1.0, "y": 2}``.
    In both, an input that is absent takes its nominal value; blank lines and lines
    starting with ``#`` are skipped; numbers must be finite (``nan``, ``inf`` and
    values that overflow are rejected).

    Parameters
    ----------
    source : str, os.PathLike or text stream
        A file path, ``"-"`` for standard input, or an open text stream.
    input_names : sequence of str
        The model's inputs, in order.
    nominal : sequence of float
        Their nominal values (used for absent columns/keys).
    name_for_errors : str, optional
        The name used in messages; default the path, ``"<stdin>"`` or the stream's name.
    extra_prefixes : sequence of str
        Column/key prefixes that are accepted besides the inputs and returned in
        :attr:`PointRow.extra`, e.g. ``("u.",)`` for a direction vector.
    format : {"csv", "jsonl"}, optional
        Skip detection.

    Returns
    -------
    PointReader
        An iterator of :class:`PointRow` ``(index, values, error, extra)``.  It reads
        lazily; the file is opened and its header checked before this function returns.

    Raises
    ------
    jacli.errors.InputError
        At call time: unreadable or missing file, empty file (or header without data
        rows), a CSV header naming a column that is neither an input nor extra (the
        message names it and lists the inputs), duplicate header columns, a JSON array
        instead of JSON Lines.  Problems in one row are **not** raised: that row's
        :attr:`PointRow.error` says what is wrong and the reading goes on.

    Examples
    --------
    >>> import io
    >>> rows = read_points(io.StringIO("y,x\\n2,1\\n3,abc\\n"), ("x", "y", "z"), (0.0, 0.0, 9.0),
    ...                    name_for_errors="pts.csv")
    >>> for row in rows:
    ...     print(row.index, row.values, row.error)
    0 (1.0, 2.0, 9.0) None
    1 None pts.csv:3: x: 'abc' is not a number
    """
    input_names = tuple(input_names)
    nominal = tuple(float(v) for v in nominal)
    if len(nominal) != len(input_names):
        raise ValueError(f"read_points: {len(input_names)} input names but {len(nominal)} nominal values")
    if format not in (None, "csv", "jsonl"):
        raise ValueError(f"read_points: format must be 'csv' or 'jsonl', got {format!r}")
    extra_prefixes = tuple(extra_prefixes)

    stream, name, closer = _open_source(source, name_for_errors)
    try:
        lines = _Lines(stream, name)
        first = next((ln for ln in lines if not _is_comment_or_blank(ln)), None)
        if first is None:
            what = "is empty" if lines.lineno == 0 else "has no data (only blank or comment lines)"
            raise InputError(
                f"{what}; expected a CSV header naming inputs ({','.join(input_names)}) "
                f"and one point per line, or JSON Lines such as "
                f"{json.dumps({n: v for n, v in zip(input_names[:2], nominal[:2])})}",
                file=name)
        fmt = format or ("jsonl" if first.lstrip().startswith("{") else "csv")
        if fmt == "csv" and first.lstrip().startswith("["):
            raise InputError("a JSON array is not a points file; write one JSON object per line "
                             "(JSON Lines) or CSV with a header", file=name, line=lines.lineno)
        spec = _Spec(name, input_names, nominal, extra_prefixes)
        if fmt == "csv":
            columns, rows = _csv_rows(first, lines, spec)
        else:
            columns, rows = None, _jsonl_rows(first, lines, spec)
        # Peek one row so that "no data" is reported before any work starts.
        head = next(rows, None)
        if head is None:
            raise InputError("has a header but no data rows", file=name)
    except BaseException:
        if closer:
            closer()
        raise
    return PointReader(name, fmt, columns, itertools.chain([head], rows), closer)


def read_points_batched(source: Source, input_names: Sequence[str], nominal: Sequence[float],
                        batch_size: int, **kwargs: Any) -> Iterator[list]:
    """Like :func:`read_points`, but yields lists of up to ``batch_size`` rows.

    Parameters
    ----------
    source, input_names, nominal, **kwargs
        As for :func:`read_points` (whose errors are raised at call time).
    batch_size : int
        Positive maximum length of each list.

    Yields
    ------
    list of PointRow
        Consecutive rows; only the last list may be shorter.

    Examples
    --------
    >>> import io
    >>> text = "x\\n" + "\\n".join(str(i) for i in range(5)) + "\\n"
    >>> [len(b) for b in read_points_batched(io.StringIO(text), ("x",), (0.0,), 2)]
    [2, 2, 1]
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    reader = read_points(source, input_names, nominal, **kwargs)

    def batches():
        with reader:
            while True:
                batch = list(itertools.islice(reader, batch_size))
                if not batch:
                    return
                yield batch

    return batches()


class _Spec:
    """What a points source may contain, and how to report on it."""

    def __init__(self, name, input_names, nominal, extra_prefixes):
        self.name, self.input_names, self.nominal = name, input_names, nominal
        self.extra_prefixes = extra_prefixes
        self.index = {n: i for i, n in enumerate(input_names)}

    def is_extra(self, column: str) -> bool:
        return any(column.startswith(p) and len(column) > len(p) for p in self.extra_prefixes)

    def unknown(self, column: str, what: str) -> str:
        allowed = f"the inputs are {', '.join(self.input_names)}"
        if self.extra_prefixes:
            allowed += " (extra " + ("columns" if what == "column" else "keys") + " must start with " + \
                " or ".join(repr(p) for p in self.extra_prefixes) + ")"
        return f"unknown {what} '{column}'{_did_you_mean(column, self.input_names)}; {allowed}"

    def error(self, detail: str, line: int, field: Optional[str] = None) -> str:
        return str(InputError(detail, file=self.name, line=line, field=field))


def _csv_rows(first: str, lines: _Lines, spec: _Spec):
    offset = lines.lineno - 1          # physical lines before the header
    reader = csv.reader(itertools.chain([first], lines))
    header = [c.strip() for c in next(reader)]
    line = offset + reader.line_num
    if header and all(_looks_numeric(c) for c in header):
        raise InputError("the first line looks like data; a CSV points file needs a header "
                         f"line naming the inputs, such as '{','.join(spec.input_names)}'",
                         file=spec.name, line=line)
    slots = []                         # per column: ("in", index) or ("extra", name)
    seen = set()
    for col in header:
        if not col:
            raise InputError("empty column name in the header", file=spec.name, line=line)
        if col in seen:
            raise InputError(f"column '{col}' appears twice in the header", file=spec.name, line=line)
        seen.add(col)
        if col in spec.index:
            slots.append((spec.index[col], col))
        elif spec.is_extra(col):
            slots.append((None, col))
        else:
            raise InputError(spec.unknown(col, "column"), file=spec.name, line=line)
    ncol = len(header)

    def rows():
        index = 0
        for cells in reader:
            line = offset + reader.line_num
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue                               # blank line
            if cells[0].lstrip().startswith("#"):
                continue                               # comment line
            yield _csv_row(index, cells, line, slots, ncol, header, spec)
            index += 1

    return tuple(header), rows()


def _csv_row(index, cells, line, slots, ncol, header, spec) -> PointRow:
    if len(cells) != ncol:
        return PointRow(index, None, spec.error(
            f"expected {ncol} values ({','.join(header)}), got {len(cells)}", line), {})
    values = list(spec.nominal)
    extra = {}
    for (slot, col), cell in zip(slots, cells):
        try:
            v = _parse_number(cell)
        except ValueError as exc:
            return PointRow(index, None, spec.error(str(exc), line, col), {})
        if slot is None:
            extra[col] = v
        else:
            values[slot] = v
    return PointRow(index, tuple(values), None, extra)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _RowError(ValueError):
    def __init__(self, detail, field=None):
        super().__init__(detail)
        self.detail, self.field = detail, field


class _NotFinite(str):
    """A JSON number token that does not give a finite float (NaN, Infinity, 1e999)."""


def _parse_json_float(text):
    v = float(text)
    return v if math.isfinite(v) else _NotFinite(text)


def _unique_pairs(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise _RowError(f"key '{k}' appears twice in the object")
        out[k] = v
    return out


def _jsonl_rows(first: str, lines: _Lines, spec: _Spec):
    def rows():
        index = 0
        for text in itertools.chain([first], lines):
            if _is_comment_or_blank(text):
                continue
            yield _jsonl_row(index, text, lines.lineno, spec)
            index += 1
    return rows()


def _jsonl_row(index, text, line, spec) -> PointRow:
    try:
        obj = json.loads(text.strip(), parse_constant=_NotFinite, parse_float=_parse_json_float,
                         object_pairs_hook=_unique_pairs)
    except _RowError as exc:
        return PointRow(index, None, spec.error(exc.detail, line, exc.field), {})
    except json.JSONDecodeError as exc:
        return PointRow(index, None, spec.error(f"invalid JSON: {exc.msg} (column {exc.colno})", line), {})
    if not isinstance(obj, dict):
        return PointRow(index, None, spec.error(
            f"expected a JSON object such as {{\"{spec.input_names[0]}\": 1.0}}, "
            f"got {_json_kind(obj)}" if spec.input_names else
            f"expected a JSON object, got {_json_kind(obj)}", line), {})
    values = list(spec.nominal)
    extra = {}
    for key, v in obj.items():
        slot = spec.index.get(key)
        if slot is None and not spec.is_extra(key):
            return PointRow(index, None, spec.error(spec.unknown(key, "key"), line), {})
        if isinstance(v, _NotFinite):
            return PointRow(index, None, spec.error(
                f"{v} is not a finite number; points must be finite", line, key), {})
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return PointRow(index, None, spec.error(f"expected a number, got {_json_kind(v)}", line, key), {})
        try:
            f = float(v)
        except OverflowError:
            return PointRow(index, None, spec.error(
                "integer too large for a float; points must be finite", line, key), {})
        if slot is None:
            extra[key] = f
        else:
            values[slot] = f
    return PointRow(index, tuple(values), None, extra)


def _json_kind(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f"the string {json.dumps(v)}"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__
