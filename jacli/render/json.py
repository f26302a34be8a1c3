"""JSON and JSON Lines output (schema version 1); the format is documented in docs/json-schema.md.

Numbers are written with Python's ``repr`` of the float, which is the shortest text
that reads back as the same double: ``0.1``, ``1e-300``, ``5e-324`` and ``-0.0``
round-trip exactly.  NaN and infinities are not JSON; they are written as ``null``
and the point's ``status``/``message`` say why (an ``"ok"`` point that would contain
one is reported as ``"nonfinite"`` by the renderer, so a ``null`` is never silent).

Matrices are serialised row by row from NumPy arrays, with a fast path for zeros,
instead of through :func:`json.dumps` of nested lists: a 3000×3000 Jacobian that is
mostly zeros takes a few tens of milliseconds.

Shapes
------
* one point (``--at`` or the nominal point): one object, :func:`point_document`;
* several points with ``--format json``: one object with a ``points`` array,
  streamed by :class:`JsonWriter`;
* ``--format jsonl``: one compact self-contained object per line, :class:`JsonlWriter`.
"""
from __future__ import annotations

import json as _json
import math
from typing import IO, Iterator, Optional, Sequence

import numpy as np

from jacli.results import Result, Status

__all__ = [
    "SCHEMA_VERSION",
    "JsonWriter",
    "JsonlWriter",
    "batch_document",
    "data_document",
    "iter_lines",
    "point_document",
    "point_line",
    "symbolic_document",
]

SCHEMA_VERSION = 1

# Keys that describe the whole run; in the batch shape they appear once, at the top.
HEADER_KEYS = ("schema", "command", "model", "backend", "symbolic", "inputs", "outputs",
               "params", "exact", "nfev")
# Keys that describe one point; in the batch shape each element of "points" has these.
POINT_KEYS = ("index", "at", "value", "jacobian", "error", "status", "message")


# --------------------------------------------------------------------------- numbers


def _num(x: float) -> str:
    """One float as JSON text (``null`` when not finite)."""
    x = float(x)
    return repr(x) if math.isfinite(x) else "null"


def _str(s) -> str:
    return _json.dumps(s)


_ZERO_ROWS: dict = {}


def _zero_row(n: int, sep: str) -> str:
    key = (n, sep)
    row = _ZERO_ROWS.get(key)
    if row is None:
        row = _ZERO_ROWS[key] = "[" + sep.join(["0.0"] * n) + "]"
        if len(_ZERO_ROWS) > 64:
            _ZERO_ROWS.clear()
    return row


def _row_strings(mat, sep: str = ", ") -> list:
    """Each row of a 2-D float array as JSON array text.

    Zeros (+0.0) take a shared cached string; only the other entries go through
    ``repr``.  Non-finite entries become ``null``; ``-0.0`` keeps its sign.
    """
    a = np.ascontiguousarray(mat, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {a.shape}")
    m, n = a.shape
    if n == 0:
        return ["[]"] * m
    # Entries that are not a plain +0.0 (nonzero, NaN, -0.0) are exactly those whose
    # bit pattern is not all zeros: one comparison instead of three.
    special = a.view(np.int64) != 0
    counts = special.sum(axis=1)
    nonfinite_rows = ~np.isfinite(a).all(axis=1)
    zero = _zero_row(n, sep)
    zeros = zero[1:-1] + sep        # "0.0, " * n
    w = 3 + len(sep)
    out = []
    for i in range(m):
        k = counts[i]
        if k == 0:
            out.append(zero)
            continue
        row = a[i]
        if k * 4 >= n:
            parts = list(map(repr, row.tolist()))     # dense row: repr everything (C loop)
            if nonfinite_rows[i]:
                for j in np.flatnonzero(~np.isfinite(row)).tolist():
                    parts[j] = "null"
            out.append("[" + sep.join(parts) + "]")
        else:
            # Sparse row: runs of zeros are slices of one cached "0.0, 0.0, ..." string.
            idx = np.flatnonzero(special[i])
            pieces = ["["]
            prev = 0
            for j, v in zip(idx.tolist(), row[idx].tolist()):
                pieces.append(zeros[:w * (j - prev)])
                pieces.append(repr(v) if math.isfinite(v) else "null")
                pieces.append(sep)
                prev = j + 1
            if prev < n:
                pieces.append(zeros[:w * (n - prev) - len(sep)])
            else:
                pieces.pop()
            pieces.append("]")
            out.append("".join(pieces))
    return out


def _vector(v, sep: str = ", ") -> str:
    a = np.asarray(v, dtype=np.float64).reshape(1, -1)
    return _row_strings(a, sep)[0]


# Big values travel as lists of string chunks so that a matrix of tens of megabytes is
# copied once (into the final document) or not at all (written chunk by chunk).


def _matrix(mat, sep: str, indent: str) -> list:
    rows = _row_strings(mat, sep)
    if not rows:
        return ["[]"]
    chunks = ["[\n" + indent if indent else "["]
    between = ",\n" + indent if indent else sep
    for r in rows:
        chunks.append(r)
        chunks.append(between)
    chunks[-1] = "\n" + indent[:-2] + "]" if indent else "]"
    return chunks


def _obj(pairs, sep: str = ", ", colon: str = ": ") -> str:
    return "{" + sep.join(f"{_str(k)}{colon}{v}" for k, v in pairs) + "}"


def _obj_chunks(pairs, sep: str, colon: str) -> list:
    """Like :func:`_obj`, for values that are strings or lists of chunks."""
    chunks = ["{"]
    for k, v in pairs:
        chunks.append(f"{_str(k)}{colon}")
        if isinstance(v, list):
            chunks.extend(v)
        else:
            chunks.append(v)
        chunks.append(sep)
    chunks[-1] = "}"
    return chunks


# --------------------------------------------------------------------------- pieces


def _all_finite(*arrays) -> bool:
    return all(a is None or bool(np.isfinite(a).all()) for a in arrays)


def _status(result: Result, i: int, nulls: bool) -> tuple:
    """(status label, message) for point i, promoting a silent non-finite OK to "nonfinite"."""
    code = Status(int(result.status[i]))
    msg = result.messages[i] if i < len(result.messages) else None
    if code == Status.OK and nulls:
        return Status.NONFINITE.label, ("non-finite numbers (NaN or infinity) in the result were "
                                        "written as null")
    return code.label, msg


def _sparsity(result: Result, i: int, sep: str, colon: str) -> str:
    """The sparsity object of point i (see docs/json-schema.md)."""
    if result.structure is not None:
        pattern = np.asarray(result.structure, dtype=bool)
        source = "structural"
    else:
        d = np.asarray(result.derivative[i], dtype=np.float64)
        pattern = (d != 0.0)            # NaN counts as non-zero: it is not known to be zero
        source = "numerical"
    m, n = pattern.shape
    k = int(pattern.sum())
    density = k / (m * n) if m * n else 0.0
    rows = "[" + sep.join("[" + sep.join(map(str, np.flatnonzero(r).tolist())) + "]"
                          for r in pattern) + "]"
    return _obj([("source", _str(source)), ("nonzeros", str(k)), ("density", repr(float(density))),
                 ("shape", f"[{m}{sep}{n}]"), ("pattern", rows)], sep, colon)


def _header_pairs(result: Result, model: str, command: Optional[str], sep: str, colon: str) -> list:
    params = _obj([(k, _num(v)) for k, v in result.params.items()], sep, colon)
    return [
        ("schema", str(SCHEMA_VERSION)),
        ("command", _str(command or result.op)),
        ("model", _str(model)),
        ("backend", _str(result.backend)),
        ("symbolic", "false"),
        ("inputs", "[" + sep.join(map(_str, result.wrt)) + "]"),
        ("outputs", "[" + sep.join(map(_str, result.outputs)) + "]"),
        ("params", params),
        ("exact", "true" if result.exact else "false"),
        ("nfev", str(int(result.nfev))),
    ] + (_op_header_pairs(result, sep) if result.op != "jacobian" else []) + _shapes_pairs(result, sep, colon)


def _shapes_pairs(result: Result, sep: str, colon: str) -> list:
    """``"shapes"`` of a Python model's array-valued inputs and outputs (see docs/json-schema.md)."""
    shapes = result.extra.get("shapes")
    if not shapes:
        return []

    def obj(d):
        return _obj([(k, "[" + sep.join(map(str, v)) + "]") for k, v in d.items()], sep, colon)

    return [("shapes", _obj([("inputs", obj(shapes["inputs"])), ("outputs", obj(shapes["outputs"]))],
                            sep, colon))]


def _blocks(result: Result, i: int, sep: str, colon: str) -> str:
    """``{output: {input: nested list of shape out_shape + in_shape}}`` of point i."""
    shapes = result.extra["shapes"]
    J = np.asarray(result.derivative[i], dtype=np.float64)
    outer = []
    for o, oshape in shapes["outputs"].items():
        rows = shapes["rows"][o]
        inner = []
        for name, ishape in shapes["inputs"].items():
            block = J[np.ix_(rows, shapes["columns"][name])].reshape(tuple(oshape) + tuple(ishape))
            inner.append((name, _nested(block, sep)))
        outer.append((o, _obj(inner, sep, colon)))
    return _obj(outer, sep, colon)


def _nested(a, sep: str) -> str:
    if a.ndim == 0:
        return _num(a)
    if a.ndim == 1:
        return _vector(a, sep)
    return "[" + sep.join(_nested(x, sep) for x in a) + "]"


def _point_pairs(result: Result, i: int, *, sep: str, colon: str, indent: str,
                 index: Optional[int], sparsity: bool, keyed: Optional[bool] = None) -> list:
    if result.op != "jacobian":
        return _op_point_pairs(result, i, sep=sep, colon=colon, indent=indent, index=index,
                               keyed=keyed)
    at = np.asarray(result.at[i], dtype=np.float64)
    value = np.asarray(result.value[i], dtype=np.float64)
    jac = np.asarray(result.derivative[i], dtype=np.float64)
    err = None if result.error is None else np.asarray(result.error[i], dtype=np.float64)
    nulls = not _all_finite(value, jac, err)
    status, message = _status(result, i, nulls)
    at_obj = _obj([(name, _num(x)) for name, x in zip(result.inputs, at.tolist())], sep, colon)
    pairs = [] if index is None else [("index", str(int(index)))]
    pairs += [
        ("at", at_obj),
        ("value", _vector(value, sep)),
        ("jacobian", _matrix(jac, sep, indent)),
        ("error", "null" if err is None else _matrix(err, sep, indent)),
        ("status", _str(status)),
        ("message", "null" if message is None else _str(message)),
    ]
    if sparsity:
        pairs.append(("sparsity", _sparsity(result, i, sep, colon)))
    if index is None and result.extra.get("shapes"):
        pairs.append(("blocks", _blocks(result, i, sep, colon)))
    if "stages" in result.extra:            # a chain of models with --per-stage (render/stages.py)
        from jacli.render.stages import stages_json
        pairs.append(("stages", stages_json(result, i, sep=sep, colon=colon, indent=indent)))
    return pairs


def _pretty(pairs) -> list:
    """Chunks of an object with one top-level key per line."""
    chunks = ["{\n"]
    for k, v in pairs:
        chunks.append(f"  {_str(k)}: ")
        if isinstance(v, list):
            chunks.extend(v)
        else:
            chunks.append(v)
        chunks.append(",\n")
    chunks[-1] = "\n}\n"
    return chunks


def _point_document_chunks(result, i, model, command, sparsity, keyed=None) -> list:
    pairs = _header_pairs(result, model, command, ", ", ": ")
    pairs += _point_pairs(result, i, sep=", ", colon=": ", indent="    ", index=None,
                          sparsity=sparsity, keyed=keyed)
    return _pretty(pairs)


def _point_line_chunks(result, i, model, index, command, sparsity, keyed=None) -> list:
    pairs = _header_pairs(result, model, command, ",", ":")
    pairs += _point_pairs(result, i, sep=",", colon=":", indent="", index=index,
                          sparsity=sparsity, keyed=keyed)
    chunks = _obj_chunks(pairs, ",", ":")
    chunks.append("\n")
    return chunks


# --------------------------------------------------------------------------- products, Hessians


def _json_value(v, sep: str = ", ", colon: str = ": ") -> str:
    """Plain data (dict, list, array, number, string, bool, None) as compact JSON text.

    Floats round-trip as everywhere else; NaN and infinities become ``null``.
    """
    if v is None:
        return "null"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return _num(v)
    if isinstance(v, str):
        return _str(v)
    if isinstance(v, dict):
        return _obj([(str(k), _json_value(x, sep, colon)) for k, x in v.items()], sep, colon)
    if isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.ndim in (1, 2):
        return _vector(v, sep) if v.ndim == 1 else "[" + sep.join(_row_strings(v, sep)) + "]"
    if isinstance(v, (list, tuple, np.ndarray)):
        return "[" + sep.join(_json_value(x, sep, colon) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as JSON")


def _per_output(names, arrays, fn, keyed: bool, sep: str, colon: str, indent: str):
    """``fn(arrays[0])`` alone, or ``{name: fn(arrays[q])}`` (one key per line when pretty)."""
    if not keyed:
        return fn(arrays[0])
    chunks = ["{\n" + indent if indent else "{"]
    for q, name in enumerate(names):
        chunks.append(f"{_str(name)}{colon}")
        v = fn(arrays[q])
        chunks.extend(v) if isinstance(v, list) else chunks.append(v)
        chunks.append(",\n" + indent if indent else sep)
    chunks[-1] = "\n" + indent[:-2] + "}" if indent else "}"
    return chunks


def _extra_at(result: Result, key: str, i: int):
    v = result.extra.get(key)
    return None if v is None else np.asarray(v[i], dtype=np.float64)


def _op_header_pairs(result: Result, sep: str) -> list:
    """Header keys of jvp/vjp/hvp/hessian results beyond the Jacobian's."""
    pairs = []
    if "gauss_newton" in result.extra:
        pairs.append(("of", _str("sumsq")))
        names = result.extra.get("residual_names")
        if names is not None:
            pairs.append(("residual_names", "[" + sep.join(map(_str, names)) + "]"))
    if result.extra.get("cost"):
        pairs.append(("note", _str(result.extra["cost"])))
    return pairs


def _op_point_pairs(result: Result, i: int, *, sep: str, colon: str, indent: str,
                    index: Optional[int], keyed: Optional[bool]) -> list:
    """Point keys of a jvp, vjp, hvp or hessian result (see docs/json-schema.md)."""
    op = result.op
    keyed = len(result.outputs) > 1 if keyed is None else keyed
    at = np.asarray(result.at[i], dtype=np.float64)
    value = np.asarray(result.value[i], dtype=np.float64)
    d = np.asarray(result.derivative[i], dtype=np.float64)
    err = None if result.error is None else np.asarray(result.error[i], dtype=np.float64)
    vec, grad = _extra_at(result, "vector", i), _extra_at(result, "gradient", i)
    gn = _extra_at(result, "gauss_newton", i)
    status, message = _status(result, i, not _all_finite(value, d, err, vec, grad, gn))
    inner = indent + "  " if keyed and indent else indent

    def per(arrays, fn):
        return _per_output(result.outputs, arrays, fn, keyed, sep, colon, indent)

    def vec_text(a):
        return _vector(a, sep)

    def mat_text(a):
        return _matrix(a, sep, inner)

    pairs = [] if index is None else [("index", str(int(index)))]
    pairs += [("at", _obj([(n, _num(x)) for n, x in zip(result.inputs, at.tolist())], sep, colon)),
              ("value", _vector(value, sep))]
    if vec is not None:
        pairs.append(("vector", _vector(vec, sep)))
    if op in ("jvp", "vjp"):
        pairs += [(op, _vector(d, sep)), ("error", "null" if err is None else _vector(err, sep))]
    elif op == "hvp":
        pairs += [("hvp", per(d, vec_text)), ("error", "null" if err is None else per(err, vec_text))]
    else:
        if grad is not None:
            pairs.append(("gradient", per(grad, vec_text)))
        pairs += [("hessian", per(d, mat_text)), ("error", "null" if err is None else per(err, mat_text))]
        if gn is not None:
            pairs += [("gauss_newton", _matrix(gn, sep, indent)),
                      ("neglected_norm", _num(result.extra["neglected_norm"][i])),
                      ("residuals", _vector(_extra_at(result, "residuals", i), sep))]
        curvature = result.extra.get("curvature")
        if curvature is not None:
            pairs.append(("curvature", per(curvature[i] if curvature[i] is not None
                                           else [None] * len(result.outputs),
                                           lambda c: _json_value(c, sep, colon))))
    pairs += [("status", _str(status)), ("message", "null" if message is None else _str(message))]
    return pairs


def _is_matrix(v) -> bool:
    if isinstance(v, np.ndarray):
        return v.ndim == 2
    return isinstance(v, (list, tuple)) and len(v) > 0 and all(isinstance(r, (list, tuple)) for r in v)


def _has_matrix(v) -> bool:
    return _is_matrix(v) or (isinstance(v, dict) and any(_has_matrix(x) for x in v.values()))


def _pretty_value(v, indent: str) -> str:
    """Like :func:`_json_value`, with matrix rows (and objects holding matrices) one per line."""
    inner = indent + "  "
    if isinstance(v, dict) and _has_matrix(v):
        return "{\n" + ",\n".join(f"{inner}{_str(str(k))}: {_pretty_value(x, inner)}"
                                  for k, x in v.items()) + "\n" + indent + "}"
    if _is_matrix(v):
        return "[\n" + ",\n".join(inner + _json_value(r) for r in v) + "\n" + indent + "]"
    return _json_value(v)


def data_document(data: dict, *, compact: bool = False) -> str:
    """A JSON document from plain data (dict of str to lists, arrays, numbers, ...).

    Used for outputs that are not per-point results: symbolic Hessians and the matrix-free
    curvature report.  Pretty (one top-level key per line, matrix rows one per line) or
    ``compact`` (one line, as in JSON Lines).  NaN and infinities become ``null``.

    Examples
    --------
    >>> print(data_document({"schema": 1, "hessian": [[2.0, 0.0], [0.0, float("inf")]]}), end="")
    {
      "schema": 1,
      "hessian": [
        [2.0, 0.0],
        [0.0, null]
      ]
    }
    >>> data_document({"a": [1.0], "b": None}, compact=True)
    '{"a":[1.0],"b":null}\\n'
    """
    if compact:
        return _json_value(data, ",", ":") + "\n"
    return "{\n" + ",\n".join(f"  {_str(str(k))}: {_pretty_value(v, '  ')}"
                              for k, v in data.items()) + "\n}\n"


# --------------------------------------------------------------------------- public


def point_document(result: Result, i: int = 0, *, model: str, command: Optional[str] = None,
                   sparsity: bool = False) -> str:
    """The single-point JSON document for point ``i`` of ``result``.

    Keys in order: ``schema, command, model, backend, symbolic, inputs, outputs, params,
    exact, nfev, at, value, jacobian, error, status, message`` and, with ``sparsity``,
    ``sparsity``.  Top-level keys and matrix rows are one per line.

    Parameters
    ----------
    result : Result
        A Jacobian result.
    i : int
        Which point.
    model : str
        The model's name.
    command : str, optional
        The command name; default ``result.op``.
    sparsity : bool
        Add the ``sparsity`` object.

    Returns
    -------
    str
        The document, ending with a newline.

    Examples
    --------
    >>> import json, numpy as np
    >>> from jacli.results import Result
    >>> r = Result(op="jacobian", backend="sympy", exact=True, inputs=("x",), wrt=("x",),
    ...            outputs=("y",), at=np.array([[0.1]]), value=np.array([[np.nan]]),
    ...            derivative=np.array([[[-0.0]]]), error=None, status=np.array([2]),
    ...            messages=("log(x): x <= 0",), nfev=0)
    >>> doc = json.loads(point_document(r, model="m"))
    >>> doc["at"], doc["value"], doc["jacobian"], doc["status"]
    ({'x': 0.1}, [None], [[-0.0]], 'domain_error')
    """
    return "".join(_point_document_chunks(result, i, model, command, sparsity))


def point_line(result: Result, i: int = 0, *, model: str, index: Optional[int] = None,
               command: Optional[str] = None, sparsity: bool = False) -> str:
    """Point ``i`` as one compact, self-contained JSON Lines record (with newline).

    Same keys as :func:`point_document` plus ``index`` (0-based position of the point
    in its source; default ``i``), all on one line without spaces.
    """
    return "".join(_point_line_chunks(result, i, model, i if index is None else index,
                                      command, sparsity))


def batch_document(result: Result, *, model: str, command: Optional[str] = None,
                   sparsity: bool = False) -> str:
    """All points of ``result`` as one batch JSON document (see :class:`JsonWriter`)."""
    import io

    buf = io.StringIO()
    w = JsonWriter(buf, model=model, command=command, sparsity=sparsity, single=False)
    w.write(result)
    w.close()
    return buf.getvalue()


class JsonWriter:
    """Streams ``--format json`` output to a text file as results arrive.

    With ``single=True`` the output is the single-point document
    (:func:`point_document`) and exactly one point must be written.  Otherwise it is
    the batch document::

        {
          "schema": 1, ... header keys ...,
          "points": [
            {"index":0,"at":{...},"value":[...],"jacobian":[[...]],"error":null,"status":"ok","message":null},
            ...
          ],
          "summary": {"points": 2, "ok": 2, "failed": 0}
        }

    with one compact point per line, written as soon as its chunk is given to
    :meth:`write`.  Which shape to use depends on how the points were given (one
    ``--at`` point or a points file), never on how many there turned out to be.

    Parameters
    ----------
    fp : text file
        Where to write (e.g. from :func:`jacli._io.atomic_open`).
    model : str
        The model's name.
    single : bool
        Single-point shape.
    command : str, optional
        Command name; default the result's ``op``.
    sparsity : bool
        Add a ``sparsity`` object to each point.
    keyed : bool, optional
        Hessian-type results: write per-output values as ``{output: ...}`` objects (True) or
        bare (False); default keyed when there are several outputs.
    """

    def __init__(self, fp: IO[str], *, model: str, single: bool = False,
                 command: Optional[str] = None, sparsity: bool = False,
                 keyed: Optional[bool] = None):
        self.fp, self.model, self.single = fp, model, single
        self.command, self.sparsity, self.keyed = command, sparsity, keyed
        self.count = self.ok = 0
        self._closed = False

    def write(self, result: Result) -> None:
        """Write every point of ``result`` (a chunk of the run)."""
        if self.single:
            if self.count + len(result) > 1:
                raise ValueError("JsonWriter(single=True) got more than one point")
            for i in range(len(result)):
                self.fp.writelines(_point_document_chunks(result, i, self.model, self.command,
                                                          self.sparsity, self.keyed))
                self._count(result, i)
            return
        for i in range(len(result)):
            if self.count == 0:
                head = _header_pairs(result, self.model, self.command, ", ", ": ")
                self.fp.write("{\n" + "".join(f"  {_str(k)}: {v},\n" for k, v in head)
                              + '  "points": [\n')
            else:
                self.fp.write(",\n")
            pairs = _point_pairs(result, i, sep=",", colon=":", indent="", index=self.count,
                                 sparsity=self.sparsity, keyed=self.keyed)
            self.fp.write("    ")
            self.fp.writelines(_obj_chunks(pairs, ",", ":"))
            self._count(result, i)

    def _count(self, result: Result, i: int) -> None:
        self.count += 1
        self.ok += int(result.status[i]) == Status.OK

    def close(self) -> None:
        """Finish the document (does not close ``fp``).  Nothing is written if no point was."""
        if self._closed:
            return
        self._closed = True
        if self.single or self.count == 0:
            return
        summary = _obj([("points", str(self.count)), ("ok", str(self.ok)),
                        ("failed", str(self.count - self.ok))])
        self.fp.write(f'\n  ],\n  "summary": {summary}\n}}\n')


class JsonlWriter:
    """Streams ``--format jsonl`` output: one :func:`point_line` per point.

    Parameters are as for :class:`JsonWriter` (without ``single``).
    """

    def __init__(self, fp: IO[str], *, model: str, command: Optional[str] = None,
                 sparsity: bool = False, keyed: Optional[bool] = None):
        self.fp, self.model, self.command, self.sparsity = fp, model, command, sparsity
        self.keyed = keyed
        self.count = 0

    def write(self, result: Result) -> None:
        """Write one line per point of ``result``."""
        for i in range(len(result)):
            self.fp.writelines(_point_line_chunks(result, i, self.model, self.count,
                                                  self.command, self.sparsity, self.keyed))
            self.count += 1

    def close(self) -> None:
        """Nothing to finish; present so every writer has the same interface."""


def iter_lines(result: Result, *, model: str, command: Optional[str] = None,
               sparsity: bool = False) -> Iterator[str]:
    """The JSON Lines records of every point of ``result`` (each ends with a newline)."""
    for i in range(len(result)):
        yield point_line(result, i, model=model, index=i, command=command, sparsity=sparsity)


# --------------------------------------------------------------------------- symbolic


def symbolic_document(*, model: str, backend: str, inputs: Sequence[str], outputs: Sequence[str],
                      jacobian: Sequence[Sequence[str]], value: Optional[Sequence[str]] = None,
                      params: Optional[dict] = None, latex: Optional[Sequence[Sequence[str]]] = None,
                      structure=None, command: str = "jacobian") -> str:
    """The JSON document of a symbolic Jacobian (expressions instead of numbers).

    Same keys as the numeric single-point document, with ``"symbolic": true``,
    ``"jacobian"`` a matrix of expression strings, ``"value"`` the output expressions
    (or null), ``"at"``/``"error"`` null, ``"exact": true``, ``"nfev": 0``,
    ``"status": "ok"``; plus ``"latex"`` (same shape as ``jacobian``) when given and
    ``"sparsity"`` when ``structure`` is given.

    Parameters
    ----------
    model, backend : str
        Model name and backend spec.
    inputs, outputs : sequence of str
        Column and row names.
    jacobian : sequence of sequence of str
        ``jacobian[i][j]`` is d outputs[i] / d inputs[j] as an expression string
        (see :func:`jacli.render.text.expression_strings`).
    value : sequence of str, optional
        The output expressions.
    params : dict, optional
        Parameter values substituted (or left symbolic: then omit).
    latex : sequence of sequence of str, optional
        LaTeX of each entry (see :func:`jacli.render.text.latex_strings`).
    structure : array of bool, optional
        Structural non-zeros, shape (len(outputs), len(inputs)).
    command : str
        Command name.

    Returns
    -------
    str
        The document, ending with a newline.

    Examples
    --------
    >>> import json
    >>> doc = json.loads(symbolic_document(model="m", backend="sympy", inputs=["x"], outputs=["y"],
    ...                                    jacobian=[["cos(x)"]]))
    >>> doc["symbolic"], doc["jacobian"]
    (True, [['cos(x)']])
    """
    m, n = len(outputs), len(inputs)
    if len(jacobian) != m or any(len(r) != n for r in jacobian):
        raise ValueError(f"symbolic_document: jacobian must be {m}x{n} (outputs x inputs)")

    def smat(rows):
        return "[\n    " + ",\n    ".join("[" + ", ".join(_str(str(e)) for e in r) + "]"
                                          for r in rows) + "\n  ]" if rows else "[]"

    pairs = [
        ("schema", str(SCHEMA_VERSION)),
        ("command", _str(command)),
        ("model", _str(model)),
        ("backend", _str(backend)),
        ("symbolic", "true"),
        ("inputs", "[" + ", ".join(map(_str, inputs)) + "]"),
        ("outputs", "[" + ", ".join(map(_str, outputs)) + "]"),
        ("params", _obj([(k, _num(v)) for k, v in (params or {}).items()])),
        ("exact", "true"),
        ("nfev", "0"),
        ("at", "null"),
        ("value", "null" if value is None else "[" + ", ".join(_str(str(e)) for e in value) + "]"),
        ("jacobian", smat(jacobian)),
        ("error", "null"),
        ("status", _str("ok")),
        ("message", "null"),
    ]
    if latex is not None:
        pairs.append(("latex", smat(latex)))
    if structure is not None:
        s = np.asarray(structure, dtype=bool)
        k = int(s.sum())
        rows = "[" + ", ".join("[" + ", ".join(map(str, np.flatnonzero(r).tolist())) + "]"
                               for r in s) + "]"
        pairs.append(("sparsity", _obj([("source", '"structural"'), ("nonzeros", str(k)),
                                        ("density", repr(k / s.size if s.size else 0.0)),
                                        ("shape", f"[{m}, {n}]"), ("pattern", rows)])))
    return "".join(_pretty(pairs))
