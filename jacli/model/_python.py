"""Python-function models: ``model.py:f`` — a model that is code, not formulas.

This is the one place where jacli runs a user's code, and it does so only because the
user named a ``.py`` file on the command line or passed it to :func:`jacli.load_model`:
loading ``model.py`` executes it like ``import`` would (its top level runs, with its own
directory first on ``sys.path``).  Model files in TOML are never executed.

A Python model is a function of its inputs (a 1-D array, or named scalars and arrays)
returning a number, a sequence or an array.  Written with plain operators and array-API
functions (``xp = array_namespace(x)``), the same function runs under NumPy (finite
differences, complex step), JAX and PyTorch, and can often be traced into jacli's
expression graph for exact symbolic derivatives.

Every backend calls it through :meth:`PythonFunction.flat`: one 1-D array ``z`` holding
all inputs (flattened, in ``Model.inputs`` order) followed by the parameter values, in
whatever array library ``z`` comes from; it returns the outputs as one 1-D array of the
same library.  The format (``INPUTS``, ``PARAMETERS``, ``OUTPUTS``, calling conventions)
is described in ``docs/model-format.md``, section "Python function models".
"""
from __future__ import annotations

import ast
import hashlib
import inspect
import itertools
import linecache
import math
import re
import sys
import types
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

from ..errors import CapabilityError, ModelError, UsageError
from ._model import Equation, Model, Position, Quantity

__all__ = ["PythonFunction", "load_python_model", "is_python_spec", "trace", "traced_model"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SPEC = re.compile(r"(?P<path>.+\.py)(?::(?P<func>[A-Za-z_][A-Za-z0-9_]*))?\Z", re.DOTALL)
_DISTRIBUTIONS = ("normal", "uniform", "triangular", "lognormal")
_INPUT_KEYS = ("value", "sigma", "unit", "distribution", "bounds")
_PARAM_KEYS = ("value", "unit", "sigma")
#: Default function names tried for ``model.py`` without ``:name``, in this order.
DEFAULT_FUNCTIONS = ("f", "model")
#: Largest number of flattened inputs + parameters + outputs (names are materialised).
MAX_SIZE = 1_000_000
_COUNTER = itertools.count()
_ALTERNATIVES = "use --backend fd or complex (or jax/torch where installed)"


def is_python_spec(source) -> bool:
    """True for ``"model.py"`` and ``"model.py:func"`` (a path or a string)."""
    if isinstance(source, Path):
        return source.suffix == ".py"
    return isinstance(source, str) and _SPEC.match(source) is not None


# ----------------------------------------------------------------------------- user errors


class _ReturnError(Exception):
    """The function returned something that is not numbers of the expected size."""


def _user_frames(tb, filename: str) -> list:
    import traceback

    return [fs for fs in traceback.extract_tb(tb) if fs.filename == filename]


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _exc_text(exc: BaseException) -> str:
    msg = _one_line(str(exc))
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def describe_exception(exc: BaseException, filename: str, shown: str) -> tuple:
    """``(line or None, "model.py:12 in f: ValueError: math domain error")``.

    The traceback is trimmed to the user's own frames (those in ``filename``); the last
    of them is where the user's code was when the exception was raised.
    """
    if isinstance(exc, _ReturnError):
        return None, str(exc)
    frames = _user_frames(exc.__traceback__, filename)
    if not frames:
        return None, _exc_text(exc)
    fs = frames[-1]
    return fs.lineno, f"{shown}:{fs.lineno} in {fs.name}: {_exc_text(exc)}"


# ----------------------------------------------------------------------------- the function


@dataclass(frozen=True)
class _Arg:
    """One argument of the user's function: a slice of ``z`` reshaped to ``shape``."""

    name: Optional[str]     # keyword name; None: passed positionally
    start: int
    size: int
    shape: tuple


def _element_names(name: str, shape: tuple) -> list:
    if shape == ():
        return [name]
    return [f"{name}[{','.join(map(str, idx))}]" for idx in itertools.product(*(range(s) for s in shape))]


def _size(shape: tuple) -> int:
    return int(math.prod(shape)) if shape else 1


@dataclass(frozen=True, eq=False)
class PythonFunction:
    """A user's Python function as jacli calls it.

    Attributes
    ----------
    path : str
        The file as the user named it (used in messages).
    func_name : str
        The function's name in the module.
    func : callable
        The function itself.
    input_shapes : dict
        ``{name: shape}`` of the inputs, in order; ``()`` for a scalar.  Array inputs are
        flattened in C order into ``name[i,j]`` entries of ``Model.inputs``.
    param_shapes : dict
        ``{name: shape}`` of the parameters (``PARAMETERS``), passed as keyword arguments.
    output_shapes : dict
        ``{name: shape}`` of the function's outputs, in order (all of them, before any
        :meth:`select`).
    calling : str
        ``"vector"``: the inputs arrive as one 1-D array (first positional parameter);
        ``"named"``: each input is its own argument (0-d array or array of its shape).
    digest : str
        SHA-256 of the file's content, the function name, the names and shapes and the
        calling convention: part of ``Model.fingerprint``.
    filename : str
        The resolved path (tracebacks are trimmed to frames in this file).
    out_keys : tuple or None
        Keys of a returned dict, in output order.
    out_index : tuple or None
        Selected flat outputs (after ``Model.select_outputs``); None means all.
    """

    path: str
    func_name: str
    func: Callable = field(repr=False)
    input_shapes: dict
    param_shapes: dict
    output_shapes: dict
    calling: str
    digest: str
    filename: str
    args: tuple = field(default=(), repr=False)
    out_keys: Optional[tuple] = None
    out_index: Optional[tuple] = None

    # -- sizes and names -------------------------------------------------------------------

    @property
    def label(self) -> str:
        """``model.py:f``, as the user would name it."""
        return f"{self.path}:{self.func_name}"

    @property
    def n_inputs(self) -> int:
        return sum(_size(s) for s in self.input_shapes.values())

    @property
    def n_params(self) -> int:
        return sum(_size(s) for s in self.param_shapes.values())

    @property
    def n_outputs_total(self) -> int:
        return sum(_size(s) for s in self.output_shapes.values())

    @property
    def n_outputs(self) -> int:
        """Length of :meth:`flat`'s result."""
        return len(self.out_index) if self.out_index is not None else self.n_outputs_total

    @property
    def has_arrays(self) -> bool:
        """True when an input, parameter or output is array-valued (not a scalar)."""
        return any(s != () for d in (self.input_shapes, self.param_shapes, self.output_shapes)
                   for s in d.values())

    def select(self, indices) -> "PythonFunction":
        """The same function returning only the flat outputs ``indices`` (in that order)."""
        base = self.out_index if self.out_index is not None else range(self.n_outputs_total)
        base = tuple(base)
        return replace(self, out_index=tuple(base[i] for i in indices))

    # -- evaluation ------------------------------------------------------------------------

    def call(self, z, xp=None):
        """The user's function at ``z`` (1-D: inputs then parameters), its raw return value."""
        if xp is None:
            from array_api_compat import array_namespace

            xp = array_namespace(z)
        pos, kw = [], {}
        for a in self.args:
            v = z[a.start:a.start + a.size]
            v = xp.reshape(v, a.shape)
            if a.name is None:
                pos.append(v)
            else:
                kw[a.name] = v
        return self.func(*pos, **kw)

    def flat(self, z):
        """The outputs at ``z`` as one 1-D array of length ``n_outputs``, in ``z``'s library.

        ``z`` is a 1-D array (NumPy, JAX, PyTorch, or NumPy ``object`` for tracing) of
        length ``n_inputs + n_params``: the flattened inputs in ``Model.inputs`` order, then
        the parameter values.  Only array-API operations are used here (slicing, reshape,
        ``asarray``, ``concat``, ``take``), so this works under ``jax.jit``/``jax.vmap``
        and ``torch.func.vmap``; it has no side effects of its own.

        Raises whatever the user's function raises, and ``_ReturnError`` (an
        ``Exception``) when the result is not numbers of the expected size.
        """
        from array_api_compat import array_namespace

        return self._flat(z, array_namespace(z))

    def _flat(self, z, xp):
        out = self.call(z, xp)
        if xp is _FastNumpy:
            y = _simple_numpy(out, z.dtype)
            if y is not None and y.shape[0] == self.n_outputs_total:
                return y if self.out_index is None else y[list(self.out_index)]
        parts: list = []
        self._collect(out, parts, xp, z, top=True)
        if not parts:
            raise _ReturnError(f"{self.label} returned no numbers")
        y = parts[0] if len(parts) == 1 else xp.concat(parts)
        if y.shape[0] != self.n_outputs_total:
            raise _ReturnError(f"{self.label} returned {y.shape[0]} number"
                               f"{'s' if y.shape[0] != 1 else ''}, expected {self.n_outputs_total} "
                               f"({self._outputs_text()})")
        if self.out_index is not None:
            y = xp.take(y, xp.asarray(self.out_index), axis=0)
        return y

    def _outputs_text(self) -> str:
        names = list(self.output_shapes)
        shapes = [f"{n} (shape {list(s)})" if s else n for n, s in self.output_shapes.items()]
        return "outputs " + ", ".join(shapes[:6]) + (" ..." if len(names) > 6 else "")

    def _collect(self, v, parts, xp, like, top=False):
        import numpy as np

        if isinstance(v, dict):
            if not top:
                raise _ReturnError(f"{self.label} returned a nested dict; return {{name: value}} "
                                   "with numbers or arrays as values")
            keys = self.out_keys if self.out_keys is not None else tuple(v)
            for k in keys:
                if k not in v:
                    raise _ReturnError(f"{self.label} returned a dict without the key {k!r} "
                                       f"(keys at load time: {', '.join(map(str, keys))})")
                self._collect(v[k], parts, xp, like)
            if len(v) != len(keys):
                extra = [k for k in v if k not in keys]
                raise _ReturnError(f"{self.label} returned a dict with the unexpected key {extra[0]!r}")
            return
        if isinstance(v, (list, tuple)):
            for e in v:
                self._collect(e, parts, xp, like)
            return
        if isinstance(v, (bool, np.bool_)) or v is None or isinstance(v, (str, bytes)):
            raise _ReturnError(f"{self.label} returned {_describe_value(v)}; expected a number, "
                               "a sequence or an array of numbers")
        if isinstance(v, (int, float, complex, np.number)):
            parts.append(xp.reshape(xp.asarray(v, dtype=like.dtype), (1,)))
            return
        if hasattr(v, "shape") and hasattr(v, "dtype"):
            if isinstance(v, np.ndarray) and v.dtype.kind not in "iufcO":
                raise _ReturnError(f"{self.label} returned an array of {v.dtype}; expected numbers")
            parts.append(xp.reshape(v, (-1,)))
            return
        if getattr(like, "dtype", None) == np.dtype(object):
            parts.append(xp.reshape(xp.asarray(v, dtype=object), (1,)))     # a traced value
            return
        raise _ReturnError(f"{self.label} returned {_describe_value(v)}; expected a number, a "
                           "sequence or an array of numbers")

    def numpy_batch(self, A, *, complex_mode: bool = False):
        """``(N, n_outputs)`` NumPy array: the function at each row of ``A`` (N, n_inputs + n_params).

        Each row is evaluated on its own (a copy, so the user's function may modify its
        arguments).  A row where the function raises, or returns something of the wrong
        size, gives NaN values and the rest go on; :meth:`explain` says why.  In
        ``complex_mode`` the rows are complex (complex step); a function that rejects
        complex numbers (``math.sin``, ``float(x)``, discarding an imaginary part) raises
        :class:`~jacli.errors.CapabilityError`.
        """
        import warnings

        import numpy as np

        A = np.asarray(A)
        N = A.shape[0]
        dtype = complex if (complex_mode or np.iscomplexobj(A)) else float
        out = np.full((N, self.n_outputs), np.nan, dtype=dtype)
        complex_warning = getattr(getattr(np, "exceptions", np), "ComplexWarning")
        A = np.asarray(A, dtype=dtype)
        xp = _FastNumpy
        flat = self._flat
        with np.errstate(all="ignore"), warnings.catch_warnings():
            if dtype is complex:
                warnings.simplefilter("error", complex_warning)
            for i in range(N):
                z = A[i].copy()         # the user's function may modify its arguments
                try:
                    y = flat(z, xp)
                    if dtype is float and np.iscomplexobj(y):
                        raise _ReturnError(f"{self.label} returned complex numbers for real inputs")
                    out[i] = y
                except Exception as exc:
                    if dtype is complex and isinstance(exc, (TypeError, complex_warning)):
                        _, where = describe_exception(exc, self.filename, self.path)
                        raise CapabilityError(
                            f"backend 'complex' needs a function written for complex numbers, but "
                            f"{self.label} is not ({where}); {_ALTERNATIVES.replace(' or complex', '')}"
                        ) from exc
        return out

    def explain(self, a_row) -> Optional[str]:
        """Why the function fails at this row: ``"model.py:12 in f: ValueError: ..."``, or
        None when it returns normally (its value may still be NaN)."""
        import numpy as np

        z = np.array(a_row, dtype=float)
        try:
            with np.errstate(all="ignore"):
                self._flat(z, _FastNumpy)
        except Exception as exc:
            return describe_exception(exc, self.filename, self.path)[1]
        return None


def _describe_value(v) -> str:
    if v is None:
        return "None"
    if isinstance(v, (bool,)):
        return f"a bool ({v})"
    if isinstance(v, str):
        return f"a string ({_one_line(repr(v), 40)})"
    return f"a {type(v).__name__}"


# ----------------------------------------------------------------------------- loading


def split_spec(spec) -> tuple:
    """``"dir/model.py:f"`` -> ``("dir/model.py", "f")``; ``"model.py"`` -> ``("model.py", None)``."""
    if isinstance(spec, Path):
        return str(spec), None
    m = _SPEC.match(spec)
    if m is None:
        raise UsageError(f"{spec!r} is not a Python model: expected FILE.py or FILE.py:FUNCTION")
    return m.group("path"), m.group("func")


def load_python_model(spec, *, inputs=None, params=None, name: Optional[str] = None) -> Model:
    """Load a Python-function model from ``path.py:func`` (this runs the file's code).

    Parameters
    ----------
    spec : str or pathlib.Path
        ``"model.py:f"``; ``"model.py"`` means the function named ``f``, else ``model``,
        else the module's only public function.
    inputs : int, str or sequence of str, optional
        What ``--inputs`` gives: a count ``N`` (one array input of length N, at zeros unless
        the signature says otherwise) or input names.  Conflicts with a module-level ``INPUTS``.
    params : mapping, optional
        Parameter overrides (names from ``PARAMETERS``).
    name : str, optional
        Model name (default: ``NAME`` in the module, else ``file:function``).

    Returns
    -------
    Model
        With ``function`` set (``model.kind == "python"``).

    Raises
    ------
    ModelError
        Missing file or function, a syntax error (file:line:col), an exception at import
        or at the nominal point (file:line of the user's frame), bad ``INPUTS``,
        ``PARAMETERS`` or ``OUTPUTS``, or a return value that is not numbers.
    """
    path_text, func_name = split_spec(spec)
    path = Path(path_text)
    shown = path_text
    try:
        source = path.read_bytes()
    except FileNotFoundError:
        raise ModelError("no such file", file=shown) from None
    except IsADirectoryError:
        raise ModelError("is a directory, not a Python file", file=shown) from None
    except OSError as exc:
        raise ModelError(f"cannot read it: {exc.strerror or exc}", file=shown) from None
    filename = str(path.resolve())
    module = _execute(source, filename, shown)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):  # pragma: no cover - it compiled above
        tree = None
    loader = _Loader(module, tree, shown, filename, source)
    func_name = loader.pick_function(func_name)
    model = loader.build(func_name, inputs, name)
    if params:
        from ._loader import _apply_params

        model = _apply_params(model, params)
    return model


def _execute(source: bytes, filename: str, shown: str):
    """Run the file's code in a fresh module (removed from ``sys.modules`` afterwards)."""
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        col = exc.offset if exc.offset else None
        raise ModelError(f"syntax error: {exc.msg}", file=shown, line=exc.lineno, col=col) from None
    except ValueError as exc:      # e.g. null bytes
        raise ModelError(f"cannot compile it: {exc}", file=shown) from None
    modname = f"_jacli_model_{next(_COUNTER)}_{Path(filename).stem}"
    module = types.ModuleType(modname)
    module.__file__ = filename
    folder = str(Path(filename).parent)
    sys.modules[modname] = module     # dataclasses, typing and pickling look modules up there
    sys.path.insert(0, folder)        # sibling modules import as they would for `python model.py`
    try:
        exec(code, module.__dict__)
    except (Exception, SystemExit) as exc:
        line, where = describe_exception(exc, filename, shown)
        raise ModelError(f"running the file raised {where}" if line is None else
                         f"running the file raised {_exc_text(exc)}", file=shown, line=line) from exc
    finally:
        sys.modules.pop(modname, None)
        try:
            sys.path.remove(folder)
        except ValueError:  # pragma: no cover - the user's code removed it
            pass
    return module


def _is_float_like(v) -> bool:
    import numpy as np

    return isinstance(v, (float, np.floating)) or (isinstance(v, int) and not isinstance(v, bool))


class _Loader:
    def __init__(self, module, tree, shown, filename, source):
        self.module, self.tree, self.shown, self.filename, self.source = module, tree, shown, filename, source

    # -- locations ------------------------------------------------------------------------

    def line_of(self, name: str) -> Optional[int]:
        """Line of the module-level assignment to ``name``."""
        if self.tree is None:
            return None
        for node in self.tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, ast.AnnAssign) else [])
            for t in targets:
                if isinstance(t, ast.Name) and t.id == name:
                    return node.lineno
        return None

    def error(self, message: str, field_name: Optional[str] = None, line: Optional[int] = None) -> ModelError:
        if line is None and field_name is not None:
            line = self.line_of(field_name.split(".")[0])
        return ModelError(message, file=self.shown, line=line, field=field_name)

    # -- the function ---------------------------------------------------------------------

    def functions(self) -> list:
        return [k for k, v in vars(self.module).items()
                if not k.startswith("_") and callable(v) and not isinstance(v, type)
                and getattr(v, "__module__", None) == self.module.__name__]

    def pick_function(self, func_name: Optional[str]) -> str:
        ns = vars(self.module)
        if func_name is None:
            for cand in DEFAULT_FUNCTIONS:
                if callable(ns.get(cand)):
                    return cand
            funcs = self.functions()
            if len(funcs) == 1:
                return funcs[0]
            listing = f"; its functions: {', '.join(funcs)}" if funcs else "; it defines no functions"
            raise self.error(f"which function? name it as {self.shown}:NAME (without a name jacli looks "
                             f"for 'f', then 'model', then the only public function){listing}")
        if func_name not in ns:
            import difflib

            funcs = self.functions()
            close = difflib.get_close_matches(func_name, funcs, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            listing = f"; its functions: {', '.join(funcs)}" if funcs else ""
            raise self.error(f"no function '{func_name}' in the file{hint}{listing}")
        if not callable(ns[func_name]):
            raise self.error(f"'{func_name}' is a {type(ns[func_name]).__name__}, not a function",
                             field_name=func_name)
        return func_name

    def signature(self, func):
        try:
            return inspect.signature(func)
        except (TypeError, ValueError):
            return None

    # -- values ---------------------------------------------------------------------------

    def array_value(self, raw, where: str):
        """A finite float array (shape () for a number) from a number, nested list or array."""
        import numpy as np

        if isinstance(raw, bool) or isinstance(raw, np.bool_):
            raise self.error("expected a number or an array of numbers, got a bool", where)
        if isinstance(raw, (str, bytes)) or raw is None:
            raise self.error(f"expected a number or an array of numbers, got {_describe_value(raw)}", where)
        try:
            with np.errstate(all="ignore"):
                arr = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            raise self.error(f"expected a number or a (nested) list of numbers of a regular shape, "
                             f"got {_one_line(repr(raw), 60)}", where) from None
        if arr.size == 0:
            raise self.error("an empty array has nothing to differentiate", where)
        if not np.isfinite(arr).all():
            raise self.error("values must be finite numbers (not nan or inf)", where)
        return arr

    def quantity_dict(self, key: str, raw: dict, section: str) -> Quantity:
        where = f"{section}.{key}"
        allowed = _INPUT_KEYS if section == "INPUTS" else _PARAM_KEYS
        for k in raw:
            if k not in allowed:
                raise self.error(f"unknown key {k!r}; allowed: {', '.join(allowed)}", where)

        def number(k):
            v = raw[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise self.error(f"{k}: expected a finite number, got {_one_line(repr(v), 40)}", where)
            return float(v)

        sigma = number("sigma") if "sigma" in raw else None
        if sigma is not None and not sigma > 0:
            raise self.error(f"sigma must be > 0, got {sigma:g}", where)
        unit = raw.get("unit")
        if unit is not None and not isinstance(unit, str):
            raise self.error("unit: expected a string", where)
        bounds = None
        if "bounds" in raw:
            b = raw["bounds"]
            if not isinstance(b, (list, tuple)) or len(b) != 2:
                raise self.error("bounds: expected [lower, upper]", where)
            bounds = tuple(float(x) if isinstance(x, (int, float)) and not isinstance(x, bool)
                           and math.isfinite(x) else math.nan for x in b)
            if not bounds[0] < bounds[1]:
                raise self.error(f"bounds must be two numbers with lower < upper, got {list(b)}", where)
        if "value" in raw:
            value = number("value")
            if bounds and not bounds[0] <= value <= bounds[1]:
                raise self.error(f"value {value:g} is outside bounds [{bounds[0]:g}, {bounds[1]:g}]", where)
        elif bounds:
            value = 0.5 * (bounds[0] + bounds[1])
        else:
            raise self.error("missing 'value'", where)
        dist = raw.get("distribution")
        if dist is not None:
            if dist not in _DISTRIBUTIONS:
                raise self.error(f"unknown distribution {dist!r}; known: {', '.join(_DISTRIBUTIONS)}", where)
            if dist in ("normal", "lognormal") and sigma is None:
                raise self.error(f"distribution '{dist}' needs sigma", where)
            if dist in ("uniform", "triangular") and bounds is None:
                raise self.error(f"distribution '{dist}' needs bounds = [lo, hi]", where)
            if dist == "lognormal" and not value > 0:
                raise self.error(f"distribution 'lognormal' needs value > 0, got {value:g}", where)
        return Quantity(key, value, sigma=sigma, unit=unit, distribution=dist, bounds=bounds,
                        pos=Position(file=self.shown, line=self.line_of(section), field=where))

    def table(self, section: str) -> tuple:
        """``({name: shape}, [Quantity, ...])`` from a module-level dict (INPUTS or PARAMETERS)."""
        raw = getattr(self.module, section)
        if not isinstance(raw, dict):
            raise self.error(f"expected a dict {{name: value}}, got {_describe_value(raw)}", section)
        if not raw:
            raise self.error("is empty", section)
        shapes, quantities = {}, []
        for key, v in raw.items():
            if not isinstance(key, str) or not _IDENT.match(key):
                raise self.error(f"{key!r} is not a valid name (a Python identifier)", section)
            if isinstance(v, dict):
                shapes[key] = ()
                quantities.append(self.quantity_dict(key, v, section))
                continue
            arr = self.array_value(v, f"{section}.{key}")
            shapes[key] = arr.shape
            pos = Position(file=self.shown, line=self.line_of(section), field=f"{section}.{key}")
            quantities += [Quantity(n, float(x), pos=pos)
                           for n, x in zip(_element_names(key, arr.shape), arr.reshape(-1).tolist())]
        return shapes, quantities

    # -- building -------------------------------------------------------------------------

    def build(self, func_name: str, inputs, name: Optional[str]) -> Model:
        import numpy as np

        func = getattr(self.module, func_name)
        sig = self.signature(func)
        if sig is None:
            raise self.error(f"cannot read the signature of '{func_name}'", field_name=func_name)
        params = list(sig.parameters.values())
        accepts_kwargs = any(p.kind is p.VAR_KEYWORD for p in params)
        by_name = {p.name: p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        label = f"{self.shown}:{func_name}"

        # parameters
        pshapes, pquant = ({}, [])
        if hasattr(self.module, "PARAMETERS"):
            pshapes, pquant = self.table("PARAMETERS")
            for k in pshapes:
                if k not in by_name and not accepts_kwargs:
                    raise self.error(f"'{k}' is not a parameter of {func_name}{sig}; jacli passes "
                                     "PARAMETERS as keyword arguments", "PARAMETERS")
                if k in by_name and by_name[k].kind is inspect.Parameter.POSITIONAL_ONLY:
                    raise self.error(f"'{k}' is positional-only in {func_name}{sig}; jacli passes "
                                     "PARAMETERS as keyword arguments", "PARAMETERS")

        # inputs and the calling convention
        count, names = _parse_inputs_option(inputs)
        has_inputs = hasattr(self.module, "INPUTS")
        if has_inputs and (count is not None or names is not None):
            raise self.error("--inputs conflicts with INPUTS in the file (they would disagree); "
                             "drop one of them", "INPUTS")
        free = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                and p.name not in pshapes]
        positional = [p for p in free if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if has_inputs:
            ishapes, iquant = self.table("INPUTS")
            where = "INPUTS"
        elif count is not None:
            if not positional:
                raise UsageError(f"--inputs {count}: {func_name}{sig} has no positional parameter "
                                 "to receive the input array")
            first = positional[0].name
            ishapes = {first: (count,)}
            iquant = [Quantity(n, 0.0) for n in _element_names(first, (count,))]
            where = "--inputs"
        elif names is not None:
            ishapes = {n: () for n in names}
            iquant = []
            for n in names:
                d = by_name[n].default if n in by_name else inspect.Parameter.empty
                iquant.append(Quantity(n, float(d) if _is_float_like(d) else 0.0))
            where = "--inputs"
        else:
            ishapes, iquant = self.signature_inputs(func_name, sig, free)
            where = "signature"
        for k in ishapes:
            if k in pshapes:
                raise self.error(f"'{k}' is both an input and a parameter", "PARAMETERS")

        # how to call it
        calling, args = self.calling(func_name, sig, free, positional, ishapes, pshapes, where)

        n_total = sum(_size(s) for s in ishapes.values()) + sum(_size(s) for s in pshapes.values())
        if n_total > MAX_SIZE:
            raise self.error(f"too many inputs and parameters ({n_total}; the limit is {MAX_SIZE})")
        digest_base = hashlib.sha256(self.source)
        pf = PythonFunction(path=self.shown, func_name=func_name, func=func, input_shapes=ishapes,
                            param_shapes=pshapes, output_shapes={}, calling=calling, digest="",
                            filename=self.filename, args=args)
        z0 = np.array([q.value for q in iquant] + [q.value for q in pquant], dtype=float)
        oshapes, out_keys = self.outputs(pf, z0, func_name, label)
        pf = replace(pf, output_shapes=oshapes, out_keys=out_keys)
        digest_base.update(repr((func_name, calling, list(ishapes.items()), list(pshapes.items()),
                                 list(oshapes.items()), out_keys)).encode())
        pf = replace(pf, digest=digest_base.hexdigest())
        outputs = tuple(Equation(n, "", None, pos=Position(file=self.shown))
                        for o, s in oshapes.items() for n in _element_names(o, s))
        if pf.n_outputs_total > MAX_SIZE:
            raise self.error(f"too many outputs ({pf.n_outputs_total}; the limit is {MAX_SIZE})")
        in_names = [q.name for q in iquant] + [q.name for q in pquant]
        if len(set(in_names)) != len(in_names):
            raise self.error("an input or parameter name is used twice")
        if len({e.name for e in outputs}) != len(outputs):
            raise self.error("an output name is used twice", "OUTPUTS")
        model_name = name or getattr(self.module, "NAME", None)
        if not isinstance(model_name, str) or not model_name:
            model_name = f"{Path(self.shown).stem}:{func_name}"
        description = getattr(self.module, "DESCRIPTION", None)
        if not isinstance(description, str):
            description = (inspect.getdoc(func) or "").strip().split("\n")[0]
        return Model(name=model_name, inputs=tuple(iquant), parameters=tuple(pquant), definitions=(),
                     outputs=outputs, description=description, source=self.shown, function=pf)

    def signature_inputs(self, func_name, sig, free) -> tuple:
        """Inputs from the signature: parameters whose default is a float or an array of floats."""
        import numpy as np

        shapes, quantities = {}, []
        missing = []
        for p in free:
            d = p.default
            if d is inspect.Parameter.empty:
                missing.append(p.name)
                continue
            if isinstance(d, bool) or d is None:
                continue
            if isinstance(d, (float, np.floating)):
                shapes[p.name] = ()
                quantities.append(Quantity(p.name, float(d)))
            elif isinstance(d, (list, tuple, np.ndarray)):
                try:
                    arr = np.asarray(d)
                except (TypeError, ValueError):
                    continue
                if arr.dtype.kind != "f" or arr.size == 0:
                    continue
                arr = self.array_value(arr, f"{func_name}.{p.name}")
                shapes[p.name] = arr.shape
                quantities += [Quantity(n, float(x)) for n, x in
                               zip(_element_names(p.name, arr.shape), arr.reshape(-1).tolist())]
        if missing:
            raise self.error(f"{func_name}{sig}: parameter '{missing[0]}' has no default, so jacli does not "
                             f"know the inputs; set INPUTS = {{...}} in the file, or give --inputs N "
                             f"(one array of N inputs) or --inputs a,b,c (named inputs)")
        if not shapes:
            raise self.error(f"{func_name}{sig} has no inputs: no parameter has a float (or float-array) "
                             "default; set INPUTS = {name: value, ...} in the file or give --inputs")
        return shapes, quantities

    def calling(self, func_name, sig, free, positional, ishapes, pshapes, where) -> tuple:
        """("vector" | "named", args): how z is split into the function's arguments.

        "named" when every input is a parameter of the function (or it takes ``**kwargs``
        and has no positional parameter); otherwise "vector": the first positional
        parameter receives all (scalar) inputs as one 1-D array.
        """
        kinds = {p.name: p.kind for p in free}
        accepts_kwargs = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        names = list(ishapes)
        args, start = [], 0
        if all(n in kinds for n in names) or (accepts_kwargs and not positional):
            pos_only = [p.name for p in positional if p.kind is p.POSITIONAL_ONLY]
            given_pos = [n for n in names if n in pos_only]
            if given_pos != pos_only[:len(given_pos)] or names[:len(given_pos)] != given_pos:
                raise self.error(f"{func_name}{sig}: positional-only parameters must be the first "
                                 "inputs, in order")
            for n, s in ishapes.items():
                args.append(_Arg(None if n in pos_only else n, start, _size(s), s))
                start += _size(s)
            calling = "named"
        else:
            unknown = [n for n in names if n not in kinds]
            field_name = "INPUTS" if where == "INPUTS" else None
            if any(s != () for s in ishapes.values()):
                arrays = [n for n, s in ishapes.items() if s != ()]
                raise self.error(f"the array-valued input '{arrays[0]}' is not a parameter of "
                                 f"{func_name}{sig}: name the function's parameters after the inputs",
                                 field_name)
            if not positional or len(unknown) < len(names):     # none, or only some, match
                raise self.error(f"{func_name}{sig} has no parameter '{unknown[0]}': name its parameters "
                                 f"after the inputs ({', '.join(names)}), or give it one parameter to "
                                 "receive all inputs as a 1-D array", field_name)
            n = sum(_size(s) for s in ishapes.values())
            p0 = positional[0]
            args.append(_Arg(None if p0.kind is p0.POSITIONAL_ONLY else p0.name, 0, n, (n,)))
            start = n
            calling = "vector"
        for k, s in pshapes.items():
            args.append(_Arg(k, start, _size(s), s))
            start += _size(s)
        # every parameter without a default must receive something
        given = {a.name for a in args if a.name is not None}
        n_pos = sum(1 for a in args if a.name is None)
        for i, p in enumerate(positional):
            if p.default is inspect.Parameter.empty and p.name not in given and i >= n_pos:
                raise self.error(f"{func_name}{sig}: parameter '{p.name}' has no default and is neither "
                                 "an input nor in PARAMETERS")
        for p in free:
            if p.kind is p.KEYWORD_ONLY and p.default is inspect.Parameter.empty and p.name not in given:
                raise self.error(f"{func_name}{sig}: keyword parameter '{p.name}' has no default and is "
                                 "neither an input nor in PARAMETERS")
        return calling, tuple(args)

    def outputs(self, pf: PythonFunction, z0, func_name: str, label: str) -> tuple:
        """``({name: shape}, out_keys)`` from OUTPUTS and/or one evaluation at the nominal point."""
        import numpy as np

        declared = getattr(self.module, "OUTPUTS", None)
        spec_shapes = None          # shapes fully given by OUTPUTS
        if declared is not None:
            if isinstance(declared, str):
                if not _IDENT.match(declared):
                    raise self.error(f"{declared!r} is not a valid name", "OUTPUTS")
            elif isinstance(declared, (list, tuple)):
                if not declared or not all(isinstance(n, str) and _IDENT.match(n) for n in declared):
                    raise self.error("expected a list of output names (Python identifiers)", "OUTPUTS")
                spec_shapes = {n: () for n in declared}
            elif isinstance(declared, dict):
                spec_shapes = {}
                for n, s in declared.items():
                    if not isinstance(n, str) or not _IDENT.match(n):
                        raise self.error(f"{n!r} is not a valid output name", "OUTPUTS")
                    if isinstance(s, int) and not isinstance(s, bool):
                        s = (s,) if s != 0 else ()
                    if not isinstance(s, (list, tuple)) or not all(
                            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in s):
                        raise self.error(f"{n}: expected a shape such as [2, 3], 4 or [] (a scalar), got "
                                         f"{_one_line(repr(s), 40)}", "OUTPUTS")
                    spec_shapes[n] = tuple(s)
                if not spec_shapes:
                    raise self.error("is empty", "OUTPUTS")
            else:
                raise self.error(f"expected a list of names, a name, or a dict {{name: shape}}, got "
                                 f"{_describe_value(declared)}", "OUTPUTS")
        try:
            with np.errstate(all="ignore"):
                raw = pf.call(np.array(z0))
        except Exception as exc:
            if spec_shapes is not None:
                return spec_shapes, (tuple(spec_shapes) if isinstance(declared, dict) else None)
            line, where = describe_exception(exc, self.filename, self.shown)
            raise ModelError(f"{func_name} raised at the nominal point: {where}; jacli calls it there "
                             "once to learn its outputs (declare OUTPUTS to skip that, or fix the "
                             "nominal values)", file=self.shown, line=line) from exc
        out_keys = None
        if isinstance(raw, dict):
            if not raw or not all(isinstance(k, str) and _IDENT.match(k) for k in raw):
                raise self.error(f"{func_name} returned a dict whose keys are not output names "
                                 "(Python identifiers)")
            out_keys = tuple(spec_shapes) if isinstance(declared, dict) else tuple(raw)
        probe = replace(pf, output_shapes={"_": (10 ** 12,)}, out_keys=out_keys)
        parts: list = []
        try:
            probe._collect(raw, parts, _numpy_namespace(), np.zeros(1), top=True)
        except _ReturnError as exc:
            raise self.error(str(exc).replace(probe.label, f"{func_name}") + " (at the nominal point)") from None
        sizes = [int(p.shape[0]) for p in parts]
        total = sum(sizes)
        if total == 0:
            raise self.error(f"{func_name} returned no numbers")
        if spec_shapes is not None:
            want = sum(_size(s) for s in spec_shapes.values())
            if want != total:
                raise self.error(f"OUTPUTS names {want} number{'s' if want != 1 else ''} but {func_name} "
                                 f"returned {total} at the nominal point", "OUTPUTS")
            if isinstance(raw, dict) and isinstance(declared, dict) and set(raw) != set(spec_shapes):
                raise self.error(f"{func_name} returns a dict with keys {', '.join(raw)} but OUTPUTS "
                                 f"names {', '.join(spec_shapes)}", "OUTPUTS")
            return spec_shapes, out_keys
        if isinstance(raw, dict):
            shapes = {k: _shape_of(v) for k, v in raw.items()}
            if sum(_size(s) for s in shapes.values()) != total:  # ragged values: flat
                shapes = {k: (n,) for k, n in zip(raw, _dict_sizes(probe, raw))}
            return shapes, out_keys
        oname = declared if isinstance(declared, str) else "y"
        shape = _shape_of(raw)
        if _size(shape) != total:
            shape = (total,)
        return {oname: shape}, None


def _simple_numpy(out, dtype):
    """``out`` as a 1-D array when it is a numeric array or a flat list/tuple of plain numbers
    (one C call); None otherwise (the general path then checks and flattens it)."""
    import numpy as np

    t = type(out)
    if t is np.ndarray:
        return out.reshape(-1) if out.dtype.kind in "iuf" or (out.dtype.kind == "c" and dtype.kind == "c") \
            else None
    if t is list or t is tuple:
        real, cplx = _simple_types()
        simple = real if dtype.kind != "c" else cplx
        for e in out:
            if type(e) not in simple:
                return None
        return np.array(out, dtype=dtype)
    return None


_SIMPLE: list = []


def _simple_types() -> tuple:
    """(real, complex) sets of the scalar types :func:`_simple_numpy` takes as they are."""
    if not _SIMPLE:
        import numpy as np

        real = frozenset({float, int, np.float64, np.float32, np.int64, np.int32})
        _SIMPLE.extend([real, real | {complex, np.complex128, np.complex64}])
    return _SIMPLE[0], _SIMPLE[1]


class _FastNumpy:
    """The few array operations :meth:`PythonFunction._flat` uses, as plain NumPy calls.

    array-api-compat's wrappers cost ~5 µs each; per-point evaluation calls them several
    times per point, so the NumPy path uses NumPy itself (same results for NumPy arrays).
    """

    @staticmethod
    def reshape(v, shape):
        import numpy as np

        return v.reshape(shape) if type(v) is np.ndarray else np.reshape(v, shape)

    @staticmethod
    def asarray(v, dtype=None):
        import numpy as np

        return np.asarray(v, dtype=dtype)

    @staticmethod
    def concat(parts):
        import numpy as np

        return np.concatenate(parts)

    @staticmethod
    def take(v, idx, axis=0):
        import numpy as np

        return np.take(v, idx, axis=axis)


_NP_XP: list = []


def _numpy_namespace():
    """array-api-compat's NumPy namespace (what ``array_namespace`` gives for NumPy arrays)."""
    if not _NP_XP:
        import numpy as np
        from array_api_compat import array_namespace

        _NP_XP.append(array_namespace(np.zeros(1)))
    return _NP_XP[0]


def _shape_of(v) -> tuple:
    import numpy as np

    try:
        with np.errstate(all="ignore"):
            return tuple(np.shape(np.asarray(v, dtype=complex)))
    except (TypeError, ValueError):
        return (-1,)


def _dict_sizes(probe, raw) -> list:
    import numpy as np

    out = []
    for v in raw.values():
        parts: list = []
        probe._collect(v, parts, _numpy_namespace(), np.zeros(1))
        out.append(sum(int(p.shape[0]) for p in parts))
    return out


def _parse_inputs_option(inputs) -> tuple:
    """``(count, names)`` from ``--inputs``: ``"3"`` or ``3`` -> (3, None); ``"a,b"`` -> (None, [a, b])."""
    if inputs is None:
        return None, None
    if isinstance(inputs, bool):
        raise UsageError("--inputs: expected a count or names")
    if isinstance(inputs, int):
        text = str(inputs)
    elif isinstance(inputs, str):
        text = inputs.strip()
    else:
        names = [str(s).strip() for s in inputs]
        text = ",".join(names)
    if re.fullmatch(r"[+-]?\d+", text):
        n = int(text)
        if not 1 <= n <= MAX_SIZE:
            raise UsageError(f"--inputs: the count must be between 1 and {MAX_SIZE}, got {n}")
        return n, None
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise UsageError("--inputs: give a count (--inputs 3) or names (--inputs a,b,c)")
    for n in names:
        if not _IDENT.match(n):
            raise UsageError(f"--inputs: {n!r} is not a valid input name (a Python identifier)")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise UsageError(f"--inputs: '{dup}' is given twice")
    return None, names


# ----------------------------------------------------------------------------- tracing


class _TraceError(Exception):
    """The user's code did something a traced value cannot do (branch on it, call math.*)."""


_NEEDS_NUMBER = ("needs a number here: math.* functions, float(), int() and storing into a float "
                 "array (np.zeros(n)[i] = ...) cannot take a symbolic value; use xp.* functions "
                 "and build arrays from the inputs (xp.stack, xp.zeros_like)")
_BRANCHES = ("branches on an input-dependent value (if/while, and/or, min/max, sorting, or a "
             "comparison used as a bool); the derivative would depend on the branch taken")


def _lift(v):
    """An expression node for a traced value or a plain real number; None for anything else."""
    import numpy as np

    from . import _expr

    if isinstance(v, Traced):
        return v.node
    if isinstance(v, (bool, np.bool_)):
        return _expr.const(int(v))
    if isinstance(v, (int, np.integer)):
        return _expr.const(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return _expr.const(v) if math.isfinite(v) else None
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return _lift(v[()])
    return None


class Traced:
    """A value in the user's function while jacli traces it into its expression graph.

    Arithmetic builds :mod:`jacli.model._expr` nodes; NumPy's ``object`` arrays of these
    call their methods (``np.sin(a)`` calls ``a[i].sin()``), so the same array code that
    runs on floats builds the model's expressions.  Anything that needs an actual number
    (``math.sin``, ``float()``, ``if x > 0``) raises, and the trace reports where.
    """

    __slots__ = ("node",)
    __hash__ = object.__hash__

    def __init__(self, node):
        self.node = node

    def __repr__(self) -> str:
        from . import _expr

        s = _expr.to_str(self.node)
        return f"Traced({s if len(s) < 80 else s[:77] + '...'})"

    # -- arithmetic -----------------------------------------------------------------------

    def _bin(self, other, fn, reflected=False):
        o = _lift(other)
        if o is None:
            return NotImplemented
        from . import _expr

        try:
            return Traced(fn(o, self.node) if reflected else fn(self.node, o))
        except _expr.ExprError as exc:
            raise _TraceError(str(exc)) from None

    def __add__(self, o):
        from ._expr import add
        return self._bin(o, add)

    def __radd__(self, o):
        from ._expr import add
        return self._bin(o, add, True)

    def __sub__(self, o):
        from ._expr import sub
        return self._bin(o, sub)

    def __rsub__(self, o):
        from ._expr import sub
        return self._bin(o, sub, True)

    def __mul__(self, o):
        from ._expr import mul
        return self._bin(o, mul)

    def __rmul__(self, o):
        from ._expr import mul
        return self._bin(o, mul, True)

    def __truediv__(self, o):
        from ._expr import div
        return self._bin(o, div)

    def __rtruediv__(self, o):
        from ._expr import div
        return self._bin(o, div, True)

    def __pow__(self, o, mod=None):
        from ._expr import pow_
        return self._bin(o, pow_)

    def __rpow__(self, o):
        from ._expr import pow_
        return self._bin(o, pow_, True)

    def __neg__(self):
        from ._expr import neg
        return Traced(neg(self.node))

    def __pos__(self):
        return self

    def __abs__(self):
        return self._call("abs")

    def __floordiv__(self, o):
        raise _TraceError("// (floor division) of an input-dependent value; write floor(a/b) as xp.floor(a/b)")

    __rfloordiv__ = __floordiv__

    def __mod__(self, o):
        raise _TraceError("% of an input-dependent value cannot be traced")

    __rmod__ = __mod__
    __divmod__ = __mod__

    # -- comparisons: symbolic, but never a Python bool --------------------------------------

    def _cmp(self, other, op):
        o = _lift(other)
        if o is None:
            return NotImplemented
        from ._expr import compare
        return Traced(compare(op, self.node, o))

    def __lt__(self, o):
        return self._cmp(o, "lt")

    def __le__(self, o):
        return self._cmp(o, "le")

    def __gt__(self, o):
        return self._cmp(o, "gt")

    def __ge__(self, o):
        return self._cmp(o, "ge")

    def __eq__(self, o):
        return self._cmp(o, "eq")

    def __ne__(self, o):
        return self._cmp(o, "ne")

    def __bool__(self):
        raise _TraceError(_BRANCHES)

    def __float__(self):
        raise _TraceError(_NEEDS_NUMBER)

    __int__ = __index__ = __complex__ = __round__ = __trunc__ = __float__

    # -- the functions NumPy's object loops call --------------------------------------------

    def _call(self, name, *others):
        from . import _expr

        args = [self.node]
        for o in others:
            n = _lift(o)
            if n is None:
                raise _TraceError(f"{name} of a traced value and a {type(o).__name__}")
            args.append(n)
        try:
            return Traced(_expr.call(name, *args))
        except _expr.ExprError as exc:
            raise _TraceError(str(exc)) from None

    def sin(self): return self._call("sin")                  # noqa: E704
    def cos(self): return self._call("cos")                  # noqa: E704
    def tan(self): return self._call("tan")                  # noqa: E704
    def arcsin(self): return self._call("asin")              # noqa: E704
    def arccos(self): return self._call("acos")              # noqa: E704
    def arctan(self): return self._call("atan")              # noqa: E704
    def arctan2(self, o): return self._call("atan2", o)      # noqa: E704
    def sinh(self): return self._call("sinh")                # noqa: E704
    def cosh(self): return self._call("cosh")                # noqa: E704
    def tanh(self): return self._call("tanh")                # noqa: E704
    def arcsinh(self): return self._call("asinh")            # noqa: E704
    def arccosh(self): return self._call("acosh")            # noqa: E704
    def arctanh(self): return self._call("atanh")            # noqa: E704
    def exp(self): return self._call("exp")                  # noqa: E704
    def expm1(self): return self._call("expm1")              # noqa: E704
    def log(self): return self._call("log")                  # noqa: E704
    def log1p(self): return self._call("log1p")              # noqa: E704
    def log10(self): return self._call("log10")              # noqa: E704
    def log2(self): return self._call("log2")                # noqa: E704
    def sqrt(self): return self._call("sqrt")                # noqa: E704
    def cbrt(self): return self._call("cbrt")                # noqa: E704
    def hypot(self, o): return self._call("hypot", o)        # noqa: E704
    def __floor__(self): return self._call("floor")          # noqa: E704
    def __ceil__(self): return self._call("ceil")            # noqa: E704

    def exp2(self):
        from ._expr import const, pow_
        return Traced(pow_(const(2), self.node))

    def conjugate(self):
        return self         # the traced values are real

    @property
    def real(self):
        return self


def _dag_hashes(roots) -> list:
    """A structural SHA-256 of each root (equal expressions, equal hashes; linear in the DAG)."""
    from . import _expr

    h: dict = {}
    for n in _expr.topo_order(roots):
        d = hashlib.sha256(repr((n.op, type(n.val).__name__, repr(n.val))).encode())
        for a in n.args:
            d.update(h[a])
        h[n] = d.digest()
    return [h[r].hex() for r in roots]


def _trace_failure(model, exc) -> CapabilityError:
    pf = model.function
    frames = _user_frames(exc.__traceback__, pf.filename)
    where = ""
    if frames:
        fs = frames[-1]
        code = (linecache.getline(pf.filename, fs.lineno) or "").strip()
        where = f"{pf.path}:{fs.lineno}" + (f": `{_one_line(code, 80)}`" if code else "")
    reason = str(exc) if isinstance(exc, (_TraceError, _ReturnError)) else (
        f"{_exc_text(exc)} while tracing")
    detail = f"{where}: {reason}" if where else reason
    return CapabilityError(f"{pf.label} cannot be traced symbolically ({detail}); {_ALTERNATIVES}")


def trace(model) -> Model:
    """The expression model of a Python-function model, by running it on traced values.

    Inputs and parameters become symbols (named as in ``model``); the function runs once
    on a NumPy ``object`` array of :class:`Traced` values.  Raises
    :class:`~jacli.errors.CapabilityError` naming the line when the code cannot be traced
    (branches on an input, ``math.*`` on an input, an unsupported NumPy function).
    """
    import numpy as np

    from . import _expr

    pf = model.function
    names = tuple(model.input_names) + tuple(model.parameter_names)
    z = np.empty(len(names), dtype=object)
    for i, n in enumerate(names):
        z[i] = Traced(_expr.symbol(n))
    try:
        with np.errstate(all="ignore"):
            y = pf.flat(z)
    except CapabilityError:
        raise
    except Exception as exc:
        raise _trace_failure(model, exc) from exc
    nodes = []
    for i, v in enumerate(np.asarray(y, dtype=object).reshape(-1)):
        node = _lift(v)
        if node is None:
            raise CapabilityError(f"{pf.label} cannot be traced symbolically (output "
                                  f"'{model.output_names[i]}' is a {type(v).__name__}, not a real "
                                  f"expression); {_ALTERNATIVES}")
        nodes.append(node)
    count = _expr.count_nodes(nodes)
    from ._loader import MAX_MODEL_NODES

    if count > MAX_MODEL_NODES:
        raise CapabilityError(f"{pf.label} traced into {count} expression nodes (the limit is "
                              f"{MAX_MODEL_NODES}); {_ALTERNATIVES}")
    outputs = tuple(Equation(eq.name, f"<traced {h}>", node, pos=eq.pos)
                    for eq, node, h in zip(model.outputs, nodes, _dag_hashes(nodes)))
    return Model(name=model.name, inputs=model.inputs, parameters=model.parameters, definitions=(),
                 outputs=outputs, description=model.description, source=model.source,
                 correlations=model.correlations)


def traced_model(model) -> Model:
    """:func:`trace`, cached in ``model.extra`` (expression models are returned as they are)."""
    if model.function is None:
        return model
    cached = model.extra.get("_jacli_traced")
    if cached is None:
        cached = model.extra["_jacli_traced"] = trace(model)
    if cached.parameters != model.parameters:       # --param after loading: same expressions
        cached = replace(cached, parameters=model.parameters)
    return cached
