"""Model loaders: TOML model files, stdin, and inline expression lists (``-e``).

Model files are data: TOML read by ``tomllib``, expressions read by the whitelist parser
(:mod:`jacli.model._parser`).  Every mistake is a :class:`~jacli.errors.ModelError`
located at ``file:line:col`` with the field path, e.g.
``arm.toml:5:10: inputs.theta1: expected a number, got string "abc"``.
The format is described in ``docs/model-format.md``.
"""
from __future__ import annotations

import bisect
import difflib
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional, Union

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from ..errors import ModelError, UsageError
from . import _expr
from ._model import Equation, Model, Position, Quantity
from ._parser import name_problem, parse_expression

__all__ = ["load_model", "model_from_expressions", "model_from_toml", "MAX_FILE_BYTES",
           "MAX_MODEL_NODES", "DISTRIBUTIONS"]

#: Largest model file read (bytes).  tomllib needs about 1.4 s for 10 MB.
MAX_FILE_BYTES = 8 * 2**20
#: Largest model, in distinct expression nodes after definitions are substituted.
MAX_MODEL_NODES = 200_000
#: Known input distributions.
DISTRIBUTIONS = ("normal", "uniform", "triangular", "lognormal")

_SECTIONS = ("name", "description", "inputs", "parameters", "definitions", "outputs", "correlations")
_INPUT_KEYS = ("value", "sigma", "unit", "distribution", "bounds")
_PARAM_KEYS = ("value", "unit", "sigma")
_KIND = {"inputs": "an input", "parameters": "a parameter", "definitions": "a definition",
         "outputs": "an output"}


# ----------------------------------------------------------------------------- public API

def load_model(source, *, params: Optional[Mapping[str, float]] = None,
               inputs: Optional[Iterable[str]] = None, name: Optional[str] = None) -> Model:
    """Load a model from a TOML file, or from stdin when ``source`` is ``"-"``.

    Parameters
    ----------
    source : str or pathlib.Path
        Path of a ``.toml`` model file, or ``"-"`` for stdin.  Stdin holds a TOML model;
        text that is not TOML, has no ``[table]`` header and no quotes is read as an
        inline expression list instead (as :func:`model_from_expressions`).
    params : mapping, optional
        Parameter values overriding the file's; an unknown name raises
        :class:`~jacli.errors.UsageError`.  For an inline list on stdin, declares parameters.
    inputs : iterable of str, optional
        Only for an inline list on stdin: the inputs, in Jacobian-column order.  Ignored
        for a TOML model, whose ``[inputs]`` table fixes them.
    name : str, optional
        Model name; defaults to the file's ``name`` key, else the file stem.

    Returns
    -------
    Model

    Raises
    ------
    ModelError
        The file cannot be read or the model is wrong (with file:line:col and field).
    UsageError
        ``params`` names an unknown parameter or gives a non-number.

    Examples
    --------
    >>> m = load_model("samples/arm.toml")            # doctest: +SKIP
    >>> m.input_names, m.output_names                  # doctest: +SKIP
    (('theta1', 'theta2'), ('x', 'y'))
    """
    if isinstance(source, str) and source == "-":
        text = sys.stdin.read()
        if len(text) > MAX_FILE_BYTES:
            raise ModelError(f"model too large ({len(text)} characters on stdin; the limit is "
                             f"{MAX_FILE_BYTES})", file="<stdin>")
        if not text.strip():
            raise ModelError("empty model: nothing on stdin", file="<stdin>")
        try:
            doc = _loads(text, "<stdin>")
        except ModelError:
            if not _looks_inline(text):
                raise
            return model_from_expressions(text, inputs=inputs, params=params, name=name or "stdin",
                                          _source="<stdin>")
        return _TomlModel(text, doc, "<stdin>", name or "stdin").build(params)
    if not isinstance(source, (str, Path)):
        raise UsageError(f"model source must be a path or '-', got {type(source).__name__}")
    file = str(source)
    path = Path(source)
    if path.suffix == ".py":
        raise ModelError("expected a TOML model file (.toml); Python model files are not read "
                         "by load_model", file=file)
    text = _read(path, file)
    doc = _loads(text, file)
    return _TomlModel(text, doc, file, name or path.stem).build(params)


def model_from_toml(text: str, *, source: str = "<string>", name: Optional[str] = None,
                    params: Optional[Mapping[str, float]] = None) -> Model:
    """Build a model from TOML text (what :func:`load_model` does after reading the file).

    Examples
    --------
    >>> m = model_from_toml('[inputs]\\nx = 1.0\\n[outputs]\\ny = "x^2"\\n')
    >>> str(m.outputs[0].expr), m.nominal
    ('x**2', (1.0,))
    """
    if len(text) > MAX_FILE_BYTES:
        raise ModelError(f"model too large ({len(text)} characters; the limit is {MAX_FILE_BYTES})",
                         file=source)
    doc = _loads(text, source)
    return _TomlModel(text, doc, source, name or "model").build(params)


def model_from_expressions(text_or_list: Union[str, Iterable[str]], *,
                           inputs: Optional[Iterable[str]] = None,
                           params: Optional[Mapping[str, float]] = None,
                           name: Optional[str] = None, _source: str = "<expr>") -> Model:
    """Build a model from inline expressions, as given to ``jacli ... -e "x*y, sin(x)+y"``.

    Parameters
    ----------
    text_or_list : str or iterable of str
        Expressions separated by top-level commas or newlines (commas inside brackets
        belong to function calls).  A list is split the same way, element by element.
        An item ``name = expr`` names its output; the others are ``f1, f2, ...`` by position.
    inputs : iterable of str, optional
        The inputs in Jacobian-column order; any other name is an error.  By default every
        name that is not a parameter, a function or ``pi``/``e``/``E`` is an input, in order
        of first appearance.  Inline inputs have nominal value 0.0 (the CLI's ``--at``
        supplies the point).
    params : mapping, optional
        Names that are parameters, with their values.
    name : str, optional
        Model name (default ``"expr"``).

    Returns
    -------
    Model
        With ``source="<expr>"``.

    Examples
    --------
    >>> m = model_from_expressions("r = hypot(x, y), t = atan2(y, x)")
    >>> m.input_names, m.output_names
    (('x', 'y'), ('r', 't'))
    >>> model_from_expressions("x*y, sin(x) + y").output_names
    ('f1', 'f2')
    """
    file = _source
    texts = [text_or_list] if isinstance(text_or_list, str) else list(text_or_list)
    items = []                     # (name or None, expr text, line, col)
    for t in texts:
        if not isinstance(t, str):
            raise UsageError(f"expressions must be strings, got {type(t).__name__}")
        if len(t) > MAX_FILE_BYTES:
            raise ModelError(f"expression list too long ({len(t)} characters)", file=file)
        items.extend(_split_items(t, file))
    if not items:
        raise ModelError("no expressions given", file=file)

    params = dict(params or {})
    param_q = []
    for p, v in params.items():
        why = name_problem(p)
        if why:
            raise UsageError(f"parameter name: {why}")
        param_q.append(Quantity(p, _usage_number(v, f"parameter '{p}'"), pos=Position(file=file)))

    explicit = None
    if inputs is not None:
        explicit = list(inputs)
        for x in explicit:
            why = name_problem(x)
            if why:
                raise UsageError(f"input name: {why}")
            if x in params:
                raise UsageError(f"'{x}' is given both as an input and as a parameter")
        dup = {x for x in explicit if explicit.count(x) > 1}
        if dup:
            raise UsageError(f"input '{sorted(dup)[0]}' is given twice")

    out_names = []
    for i, (oname, _, line, col) in enumerate(items):
        oname = oname or f"f{i + 1}"
        if oname in out_names:
            raise ModelError(f"output name '{oname}' is used twice", file=file, line=line, col=col)
        if oname in params or (explicit and oname in explicit):
            what = "a parameter" if oname in params else "an input"
            raise ModelError(f"output name '{oname}' is already {what}", file=file, line=line, col=col)
        out_names.append(oname)

    seen: list = []                # inputs in order of first appearance
    table = {p: _expr.symbol(p) for p in params}
    if explicit is not None:
        table.update((x, _expr.symbol(x)) for x in explicit)

    def resolve(n: str):
        node = table.get(n)
        if node is not None:
            return node
        if n in out_names:
            raise ModelError(f"'{n}' is an output; an output cannot be used in another expression")
        if explicit is not None:
            return None
        why = name_problem(n)
        if why:
            raise ModelError(why)
        seen.append(n)
        table[n] = node = _expr.symbol(n)
        return node

    outputs = []
    for oname, (_, text, line, col) in zip(out_names, items):
        expr = parse_expression(text, symbols=resolve, known=list(table) if explicit is not None
                                else list(params), file=file, line=line, col=col,
                                field=f"outputs.{oname}")
        outputs.append(Equation(oname, text, expr, Position(file, line, col, f"outputs.{oname}")))
    names = explicit if explicit is not None else seen
    if not names:
        raise ModelError("the expressions use no variables: nothing to differentiate "
                         "(pass inputs=[...] to declare inputs)", file=file)
    model = Model(name=name or "expr",
                  inputs=tuple(Quantity(x, 0.0, pos=Position(file=file, field=f"inputs.{x}"))
                               for x in names),
                  parameters=tuple(param_q), definitions=(), outputs=tuple(outputs),
                  source=file)
    _check_size(model, file)
    return model


# ----------------------------------------------------------------------------- reading

def _read(path: Path, file: str) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ModelError(f"model file too large ({size} bytes; the limit is {MAX_FILE_BYTES})",
                             file=file)
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError("cannot read model file: no such file", file=file) from None
    except IsADirectoryError:
        raise ModelError("cannot read model file: it is a directory", file=file) from None
    except OSError as e:
        raise ModelError(f"cannot read model file: {e.strerror or e}", file=file) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ModelError("not UTF-8 text (TOML files are UTF-8)", file=file, line=line, col=col) from None
    if not text.strip():
        raise ModelError("empty model file: it needs [inputs] and [outputs] tables", file=file)
    return text


_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END = re.compile(r"\s*\(at end of document\)\s*$")


def _loads(text: str, file: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e.args[0] if e.args else e)
        line = col = None
        m = _TOML_AT.search(msg)
        if m:
            line, col = int(m.group(1)), int(m.group(2))
            msg = msg[:m.start()]
        elif _TOML_END.search(msg):
            msg = _TOML_END.sub("", msg) + " (at end of file)"
            line = text.count("\n") + 1
        if getattr(e, "lineno", None):      # Python >= 3.14 has the numbers as attributes
            line, col = e.lineno, e.colno
        msg = msg[:1].lower() + msg[1:]
        raise ModelError(f"invalid TOML: {msg}", file=file, line=line, col=col) from None
    except RecursionError:
        raise ModelError("invalid TOML: nested too deeply", file=file) from None


def _looks_inline(text: str) -> bool:
    """Stdin text that is not TOML and could be an inline expression list."""
    if "'" in text or '"' in text:
        return False
    return not any(line.lstrip().startswith("[") for line in text.splitlines())


def _split_items(text: str, file: str) -> list:
    """Split an inline list at top-level commas and newlines: [(name, expr, line, col)]."""
    items = []
    depth, start = 0, 0
    for i, ch in enumerate(text + "\n"):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif depth == 0 and (ch == "," or ch == "\n"):
            piece = text[start:i]
            if piece.strip():
                items.append(_item(piece, start, text, file))
            elif ch == "," and text[:start].rstrip()[-1:] in ("", ","):
                # ",," or a leading ","; blank lines and a trailing comma are fine
                line, col = _line_col(text, i)
                raise ModelError("empty expression in the list (two commas in a row, or a "
                                 "leading comma?)", file=file, line=line, col=col)
            start = i + 1
    return items


def _item(piece: str, start: int, text: str, file: str) -> tuple:
    """One ``expr`` or ``name = expr`` item of an inline list."""
    eq = _assignment_eq(piece)
    name = None
    if eq is not None:
        lhs = piece[:eq].strip()
        line, col = _line_col(text, start + len(piece[:eq]) - len(piece[:eq].lstrip()))
        why = name_problem(lhs)
        if why:
            raise ModelError(f"output name: {why}", file=file, line=line, col=col)
        name = lhs
        start += eq + 1
        piece = piece[eq + 1:]
    lead = len(piece) - len(piece.lstrip())
    line, col = _line_col(text, start + lead)
    expr = piece.strip()
    if not expr:
        raise ModelError("empty expression after '='", file=file, line=line, col=col)
    return name, expr, line, col


def _assignment_eq(piece: str):
    """Offset of a top-level '=' that is not part of ==, !=, <=, >=; or None."""
    depth = 0
    for i, ch in enumerate(piece):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "=" and depth == 0:
            before = piece[i - 1] if i else ""
            after = piece[i + 1] if i + 1 < len(piece) else ""
            if before not in "=!<>" and after != "=":
                return i
    return None


def _line_col(text: str, offset: int) -> tuple:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _usage_number(v, what: str) -> float:
    try:
        if isinstance(v, bool):
            raise TypeError
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"{what}: expected a number, got {v!r}") from None
    if not math.isfinite(f):
        raise UsageError(f"{what}: expected a finite number, got {v!r}")
    return f


def _apply_params(model: Model, params) -> Model:
    if not params:
        return model
    checked = {k: _usage_number(v, f"--param {k}") for k, v in dict(params).items()}
    return model.with_params(checked)


def _check_size(model: Model, file: str) -> None:
    n = _expr.count_nodes([e.expr for e in model.definitions + model.outputs])
    if n > MAX_MODEL_NODES:
        raise ModelError(f"model too large: {n} expression nodes after substituting definitions "
                         f"(the limit is {MAX_MODEL_NODES})", file=file)


class _Names:
    """The names an expression may use, as a live view (no per-expression copies)."""

    __slots__ = ("maps",)

    def __init__(self, *maps):
        self.maps = maps

    def __contains__(self, name) -> bool:
        return any(name in m for m in self.maps)

    def __iter__(self):
        for m in self.maps:
            yield from m


def _describe(v) -> str:
    """How a TOML value is shown in 'expected X, got Y'."""
    if isinstance(v, bool):
        return f"boolean {str(v).lower()}"
    if isinstance(v, str):
        s = v if len(v) <= 40 else v[:37] + "..."
        return 'string "' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, int):
        return f"integer {v}"
    if isinstance(v, float):
        return f"float {v}"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "a table"
    return f"{type(v).__name__} {v}"


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


# ----------------------------------------------------------------------------- TOML models

class _TomlModel:
    """Validates a parsed TOML document and builds the Model, locating every error."""

    def __init__(self, text: str, doc: dict, file: str, default_name: str):
        self.text, self.doc, self.file, self.default_name = text, doc, file, default_name
        self.locs = _toml_positions(text)
        self.owner: dict = {}       # name -> (section, path)

    # -- errors ---------------------------------------------------------------------
    def pos(self, path: tuple, at: str = "value") -> tuple:
        loc = self.locs.get(path)
        if loc is None:
            return None, None
        if at == "value" and loc.val_line is not None:
            return loc.val_line, loc.val_col
        return loc.key_line, loc.key_col

    def error(self, message: str, path: tuple, at: str = "value") -> ModelError:
        line, col = self.pos(path, at)
        field = ".".join(str(p) for p in path if not isinstance(p, int)) or None
        return ModelError(message, file=self.file, line=line, col=col, field=field)

    def where(self, path: tuple) -> str:
        line, col = self.pos(path, "key")
        return f"{self.file}:{line}:{col}" if line is not None else self.file

    def position(self, path: tuple) -> Position:
        line, col = self.pos(path, "key")
        return Position(self.file, line, col, ".".join(path))

    # -- numbers and tables ---------------------------------------------------------
    def number(self, v, path: tuple) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            hint = ""
            if isinstance(v, str):
                try:
                    float(v)
                    hint = " (remove the quotes)"
                except ValueError:
                    pass
            raise self.error(f"expected a number, got {_describe(v)}{hint}", path)
        try:
            f = float(v)
        except OverflowError:
            raise self.error("number out of range (does not fit a double)", path) from None
        if not math.isfinite(f):
            raise self.error(f"expected a finite number, got {v}", path)
        return f

    def table(self, key: str) -> dict:
        v = self.doc.get(key, {})
        if not isinstance(v, dict):
            raise self.error(f"expected a table [{key}], got {_describe(v)}", (key,))
        return v

    def check_name(self, section: str, name: str) -> None:
        path = (section, name)
        why = name_problem(name)
        if why:
            raise self.error(why, path, at="key")
        prev = self.owner.get(name)
        if prev is not None:
            psec, ppath = prev
            raise self.error(f"'{name}' is already {_KIND[psec]} ({self.where(ppath)}); a name "
                             "can be used once across inputs, parameters, definitions and outputs",
                             path, at="key")
        self.owner[name] = (section, path)

    # -- sections -------------------------------------------------------------------
    def build(self, params) -> Model:
        doc = self.doc
        for key in doc:
            if key not in _SECTIONS:
                raise self.error(f"unknown section{_suggest(key, _SECTIONS)}; a model has "
                                 f"{', '.join(_SECTIONS)}", (key,), at="key")
        name = doc.get("name", self.default_name)
        if not isinstance(name, str):
            raise self.error(f"expected a string, got {_describe(name)}", ("name",))
        description = doc.get("description", "")
        if not isinstance(description, str):
            raise self.error(f"expected a string, got {_describe(description)}", ("description",))
        if "outputs" not in doc:
            raise ModelError('no [outputs] table: a model needs at least one output, e.g. '
                             '[outputs] y = "x^2"', file=self.file)
        inputs = tuple(self.quantity("inputs", k, v) for k, v in self.table("inputs").items())
        if not inputs:
            raise self.error("no inputs: a model needs at least one input to differentiate, "
                             "e.g. [inputs] x = 1.0", ("inputs",), at="key")
        parameters = tuple(self.quantity("parameters", k, v)
                           for k, v in self.table("parameters").items())
        env = {q.name: _expr.symbol(q.name) for q in inputs + parameters}
        outs_raw = self.table("outputs")
        if not outs_raw:
            raise self.error('[outputs] is empty: a model needs at least one output, e.g. y = "x^2"',
                             ("outputs",), at="key")
        defs_raw = self.table("definitions")
        for k in defs_raw:
            self.check_name("definitions", k)
        for k in outs_raw:
            self.check_name("outputs", k)
        out_names = set(outs_raw)   # built once: per output it would make loading O(m^2)
        definitions = self.definitions(defs_raw, env, out_names)
        built = {d.name: d.expr for d in definitions}
        outputs = []
        for k, text in outs_raw.items():
            expr = self.expression("outputs", k, text, env, out_names, built)
            outputs.append(Equation(k, text, expr, self.position(("outputs", k))))
        model = Model(name=name, inputs=inputs, parameters=parameters,
                      definitions=tuple(definitions), outputs=tuple(outputs),
                      description=description, source=self.file,
                      correlations=self.correlations({q.name for q in inputs}, {q.name for q in parameters}))
        _check_size(model, self.file)
        return _apply_params(model, params)

    def quantity(self, section: str, key: str, raw) -> Quantity:
        self.check_name(section, key)
        path = (section, key)
        if not isinstance(raw, dict):
            return Quantity(key, self.number(raw, path), pos=self.position(path))
        allowed = _INPUT_KEYS if section == "inputs" else _PARAM_KEYS
        for k in raw:
            if k not in allowed:
                raise self.error(f"unknown key '{k}'{_suggest(k, allowed)}; allowed: {', '.join(allowed)}",
                                 path + (k,), at="key")
        sigma = unit = dist = bounds = None
        if "sigma" in raw:
            sigma = self.number(raw["sigma"], path + ("sigma",))
            if not sigma > 0:
                raise self.error(f"sigma must be > 0, got {raw['sigma']}", path + ("sigma",))
        if "unit" in raw:
            unit = raw["unit"]
            if not isinstance(unit, str):
                raise self.error(f"expected a string, got {_describe(unit)}", path + ("unit",))
        if "bounds" in raw:
            b = raw["bounds"]
            if not isinstance(b, list) or len(b) != 2:
                got = f"an array of {len(b)}" if isinstance(b, list) else _describe(b)
                raise self.error(f"expected [lower, upper], got {got}", path + ("bounds",))
            bounds = (self.number(b[0], path + ("bounds", 0)), self.number(b[1], path + ("bounds", 1)))
            if not bounds[0] < bounds[1]:
                raise self.error(f"bounds must have lower < upper, got [{b[0]}, {b[1]}]",
                                 path + ("bounds",))
        if "value" in raw:
            value = self.number(raw["value"], path + ("value",))
            if bounds and not bounds[0] <= value <= bounds[1]:
                raise self.error(f"value {raw['value']} is outside bounds [{bounds[0]:g}, {bounds[1]:g}]",
                                 path + ("value",))
        elif bounds:
            value = 0.5 * (bounds[0] + bounds[1])   # documented: the midpoint of the bounds
        else:
            hint = " (or bounds = [lo, hi] to use their midpoint)" if section == "inputs" else ""
            raise self.error(f"missing 'value'{hint}", path, at="key")
        if "distribution" in raw:
            dpath = path + ("distribution",)
            dist = raw["distribution"]
            if not isinstance(dist, str):
                raise self.error(f"expected a string, got {_describe(dist)}", dpath)
            if dist not in DISTRIBUTIONS:
                raise self.error(f"unknown distribution '{dist}'{_suggest(dist, DISTRIBUTIONS)}; "
                                 f"known: {', '.join(DISTRIBUTIONS)}", dpath)
            if dist in ("normal", "lognormal") and sigma is None:
                raise self.error(f"distribution '{dist}' needs sigma", dpath)
            if dist in ("uniform", "triangular") and bounds is None:
                raise self.error(f"distribution '{dist}' needs bounds = [lo, hi]", dpath)
            if dist == "lognormal" and not value > 0:
                raise self.error(f"distribution 'lognormal' needs value > 0, got {value:g}", dpath)
        return Quantity(key, value, sigma=sigma, unit=unit, distribution=dist, bounds=bounds,
                        pos=self.position(path))

    def definitions(self, defs_raw: dict, env: dict, outputs: set) -> list:
        order = list(defs_raw)
        out = []
        built: dict = {}
        for i, k in enumerate(order):
            later = set(order[i:])
            expr = self.expression("definitions", k, defs_raw[k], env, outputs, built,
                                   later=later, defs_raw=defs_raw)
            built[k] = expr
            out.append(Equation(k, defs_raw[k], expr, self.position(("definitions", k))))
        return out

    def expression(self, section, key, text, env, outputs, built, later=(), defs_raw=None):
        path = (section, key)
        if not isinstance(text, str):
            raise self.error(f"expected an expression string, got {_describe(text)}", path)

        def resolve(n):
            node = env.get(n)
            if node is None:
                node = built.get(n)
            if node is not None:
                return node
            if n == key and section == "definitions":
                raise ModelError(f"circular definition: '{n}' refers to itself")
            if n in later:
                cycle = _find_cycle(key, n, defs_raw)
                if cycle:
                    raise ModelError("circular definition: " + " -> ".join(cycle))
                raise ModelError(f"'{n}' is used before its definition ({self.where(('definitions', n))}); "
                                 "definitions must come before their use")
            if n in outputs:
                raise ModelError(f"'{n}' is an output; an output cannot be used in an expression "
                                 "(move it to [definitions])")
            return None

        known = _Names(env, built)
        loc = self.locs.get(path)
        # Equal characters (CRLF line ends aside) map columns exactly; escapes do not.
        if loc is not None and loc.raw is not None and loc.raw.replace("\r\n", "\n") == text:
            line, col, exact = loc.str_line, loc.str_col, True
        else:
            line, col = self.pos(path)
            exact = False
        return parse_expression(text, symbols=resolve, known=known, file=self.file, line=line,
                                col=col, field=f"{section}.{key}", exact=exact)

    def correlations(self, inputs: set, parameters: set) -> dict:
        raw = self.table("correlations")
        out: dict = {}
        for key, r in raw.items():
            path = ("correlations", key)
            names = [s.strip() for s in key.split(",")]
            if len(names) != 2 or not all(names):
                raise self.error(f"a correlation key names two inputs, \"a,b\"; got \"{key}\"", path,
                                 at="key")
            for n in names:
                if n not in inputs:
                    what = "is a parameter" if n in parameters else "is not an input"
                    hint = _suggest(n, inputs) if n not in parameters else ""
                    raise self.error(f"'{n}' {what}{hint}; correlations are between inputs", path, at="key")
            a, b = names
            if a == b:
                raise self.error(f"an input cannot be correlated with itself ('{a}')", path, at="key")
            if (a, b) in out or (b, a) in out:
                raise self.error(f"correlation of '{a}' and '{b}' is given twice", path, at="key")
            value = self.number(r, path)
            if abs(value) > 1:
                raise self.error(f"a correlation must be between -1 and 1, got {r}", path)
            out[(a, b)] = value
        return out


def _find_cycle(start: str, first: str, defs_raw: dict) -> list:
    """A reference path first -> ... -> start among definitions, as [start, first, ..., start]."""
    refs = {k: set(_IDENT.findall(v)) if isinstance(v, str) else set() for k, v in defs_raw.items()}
    stack = [(first, [start, first])]
    seen = set()
    while stack:
        node, path = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for r in sorted(refs.get(node, ())):
            if r == start:
                return path + [start]
            if r in defs_raw and r not in seen:
                stack.append((r, path + [r]))
    return []


_IDENT = re.compile(r"(?<![\w.])[A-Za-z_][A-Za-z0-9_]*")


# ----------------------------------------------------------------------------- TOML positions

@dataclass(frozen=True)
class _Loc:
    """Where a key path was written: 1-based lines and columns."""

    key_line: int
    key_col: int
    val_line: Optional[int] = None
    val_col: Optional[int] = None
    str_line: Optional[int] = None     # first character of a string's content
    str_col: Optional[int] = None
    raw: Optional[str] = None          # the string's characters as written


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_WS = " \t"


class _Stop(Exception):
    pass


class _Scanner:
    def __init__(self, text: str):
        self.s = text
        self.n = len(text)
        self.starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
        self.locs: dict = {}

    def lc(self, i: int) -> tuple:
        k = bisect.bisect_right(self.starts, i) - 1
        return k + 1, i - self.starts[k] + 1

    # -- whitespace ---------------------------------------------------------------------
    def ws(self, i: int) -> int:
        while i < self.n and self.s[i] in _WS:
            i += 1
        return i

    def ws_nl(self, i: int) -> int:
        """Skip whitespace, newlines and comments."""
        while i < self.n:
            c = self.s[i]
            if c in " \t\r\n":
                i += 1
            elif c == "#":
                j = self.s.find("\n", i)
                i = self.n if j < 0 else j + 1
            else:
                break
        return i

    # -- keys -----------------------------------------------------------------------------
    def key(self, i: int) -> tuple:
        """A dotted key at i: (tuple of parts, index after it)."""
        parts = []
        while True:
            i = self.ws(i)
            c = self.s[i] if i < self.n else ""
            if c == '"' or c == "'":
                j = self.basic_end(i + 1) if c == '"' else self.s.index("'", i + 1)
                parts.append(tomllib.loads("k = " + self.s[i:j + 1])["k"])
                i = j + 1
            else:
                m = _BARE_KEY.match(self.s, i)
                if not m:
                    raise _Stop
                parts.append(m.group())
                i = m.end()
            i = self.ws(i)
            if i < self.n and self.s[i] == ".":
                i += 1
                continue
            return tuple(parts), i

    # -- strings --------------------------------------------------------------------------
    def basic_end(self, i: int) -> int:
        """Index of the closing quote of a basic string whose content starts at i."""
        while True:
            c = self.s[i]
            if c == "\\":
                i += 2
            elif c == '"' or c == "\n":
                if c == "\n":
                    raise _Stop
                return i
            else:
                i += 1

    def ml_end(self, i: int, delim: str) -> int:
        """Index of the closing delimiter of a multi-line string whose content starts at i."""
        while True:
            j = self.s.index(delim, i)
            if delim == '"""':
                k = j
                bs = 0
                while k > i and self.s[k - 1] == "\\":
                    bs += 1
                    k -= 1
                if bs % 2:
                    i = j + 1
                    continue
            # Up to two quotes may end the content just before the delimiter.
            extra = 0
            while extra < 2 and self.s.startswith(delim[0], j + 3 + extra):
                extra += 1
            return j + extra

    # -- values ---------------------------------------------------------------------------
    def value(self, i: int, path: tuple, key_at: int) -> int:
        """Record the value at i under path; return the index after it."""
        kl, kc = self.lc(key_at)
        vl, vc = self.lc(i)
        c = self.s[i]
        if self.s.startswith('"""', i) or self.s.startswith("'''", i):
            delim = self.s[i:i + 3]
            cs = i + 3
            if self.s.startswith("\r\n", cs):
                cs += 2
            elif self.s.startswith("\n", cs):
                cs += 1
            end = self.ml_end(cs, delim)
            self.locs[path] = _Loc(kl, kc, vl, vc, *self.lc(cs), self.s[cs:end])
            return end + 3
        if c == '"' or c == "'":
            end = self.basic_end(i + 1) if c == '"' else self.s.index("'", i + 1)
            self.locs[path] = _Loc(kl, kc, vl, vc, *self.lc(i + 1), self.s[i + 1:end])
            return end + 1
        self.locs[path] = _Loc(kl, kc, vl, vc)
        if c == "[":
            i, k = i + 1, 0
            while True:
                i = self.ws_nl(i)
                if self.s[i] == "]":
                    return i + 1
                i = self.value(i, path + (k,), i)
                k += 1
                i = self.ws_nl(i)
                if self.s[i] == ",":
                    i += 1
        if c == "{":
            i += 1
            while True:
                i = self.ws(i)
                if self.s[i] == "}":
                    return i + 1
                at = i
                keys, i = self.key(i)
                i = self.ws(i)
                if self.s[i] != "=":
                    raise _Stop
                i = self.ws(i + 1)
                i = self.value(i, path + keys, at)
                i = self.ws(i)
                if self.s[i] == ",":
                    i += 1
        # number, boolean, date-time: up to a delimiter
        j = i
        while j < self.n and self.s[j] not in ",]}#\r\n":
            j += 1
        return j

    def run(self) -> dict:
        table: tuple = ()
        i = 0
        while True:
            i = self.ws_nl(i)
            if i >= self.n:
                return self.locs
            if self.s[i] == "[":
                at = i
                double = self.s.startswith("[[", i)
                keys, i = self.key(i + (2 if double else 1))
                table = keys
                self.locs.setdefault(table, _Loc(*self.lc(at)))
                i = self.s.find("\n", i)
                if i < 0:
                    return self.locs
                continue
            at = i
            keys, i = self.key(i)
            i = self.ws(i)
            if i >= self.n or self.s[i] != "=":
                raise _Stop
            i = self.ws(i + 1)
            i = self.value(i, table + keys, at)


def _toml_positions(text: str) -> dict:
    """``{key path tuple: Loc}`` for a document ``tomllib`` accepted; partial on surprises.

    Examples
    --------
    >>> locs = _toml_positions('[outputs]\\ny = "sin(x)"\\n')
    >>> locs[("outputs", "y")]
    _Loc(key_line=2, key_col=1, val_line=2, val_col=5, str_line=2, str_col=6, raw='sin(x)')
    """
    sc = _Scanner(text)
    try:
        return sc.run()
    except (_Stop, IndexError, ValueError, RecursionError, tomllib.TOMLDecodeError):
        return sc.locs
