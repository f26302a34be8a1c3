"""Backend registry: entry points in the group ``jacli.backends``.

Built-ins register exactly like plug-ins (see ``pyproject.toml``), so every test run
exercises the plug-in path.  Loading an entry point imports only the backend's module,
which must not import heavy libraries at module level.
"""
from __future__ import annotations

import difflib
from functools import lru_cache

from ..errors import BackendUnavailable, UsageError

GROUP = "jacli.backends"
#: Backends that ship with jacli and need only its required dependencies.
BUILTIN = ("sympy", "fd", "complex")
#: Backends that ship with jacli but need an extra (``pip install 'jacli[jax]'``): name -> extra.
OPTIONAL_BUILTIN = {"jax": "jax", "torch": "torch"}


@lru_cache(maxsize=1)
def _entry_points() -> dict:
    from importlib.metadata import entry_points

    eps = entry_points(group=GROUP) if _has_select() else entry_points().get(GROUP, [])
    return {ep.name: ep for ep in eps}


def _has_select() -> bool:
    import sys
    return sys.version_info >= (3, 10)


_LOADED: dict = {}


def backend_class(name: str):
    """The Backend class registered under ``name``."""
    if name in _LOADED:
        return _LOADED[name]
    eps = _entry_points()
    if name not in eps:
        close = difflib.get_close_matches(name, list(eps) + ["auto"], n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise BackendUnavailable(f"unknown backend '{name}'{hint}; available: "
                                 f"{', '.join(['auto'] + sorted(eps))} (see `jacli backends`)")
    try:
        cls = eps[name].load()
    except Exception as exc:  # a broken plug-in must not take jacli down
        raise BackendUnavailable(f"backend '{name}' failed to load: {type(exc).__name__}: {exc}") from exc
    _LOADED[name] = cls
    return cls


def backend_names() -> list:
    """Registered backend names: built-ins, then those needing an extra, then plug-ins."""
    first = list(BUILTIN) + list(OPTIONAL_BUILTIN)
    names = list(_entry_points())
    return [n for n in first if n in names] + sorted(n for n in names if n not in first)


def parse_spec(spec: str) -> tuple:
    """``"fd:order=4,step=1e-3"`` -> ``("fd", {"order": "4", "step": "1e-3"})``."""
    name, _, rest = spec.strip().partition(":")
    opts = {}
    if rest:
        for item in rest.split(","):
            if not item.strip():
                continue
            k, eq, v = item.partition("=")
            if not eq or not k.strip():
                raise UsageError(f"--backend {spec!r}: options are written name=value, got {item!r}")
            opts[k.strip()] = v.strip()
    if not name:
        raise UsageError("--backend: empty backend name")
    return name, opts


def get_backend(spec="auto", model=None):
    """A backend instance from a spec string, a class or an instance.

    ``auto`` picks ``sympy`` for expression models; for a Python-function model, ``jax``
    (then ``torch``) when registered and available — exact, and without tracing limits —
    else ``fd``, which runs any code that evaluates.
    """
    from ._protocol import Backend

    if isinstance(spec, Backend):
        return spec
    if isinstance(spec, type) and issubclass(spec, Backend):
        return spec()
    name, opts = parse_spec(spec)
    if name == "auto":
        if opts:
            raise UsageError("--backend auto takes no options")
        name = _auto_python() if getattr(model, "function", None) is not None else "sympy"
    cls = backend_class(name)
    ok, why = cls.available()
    if not ok:
        raise BackendUnavailable(f"backend '{name}' is not available: {why}")
    return cls(**opts)


def python_auto_candidates() -> list:
    """Backends ``auto`` tries for a Python-function model, in order: the registered and
    available AD backends (``jax``, ``torch``), then ``fd``."""
    eps = _entry_points()
    out = []
    for name in ("jax", "torch"):
        if name in eps:
            try:
                ok, _ = backend_class(name).available()
            except BackendUnavailable:
                continue
            if ok:
                out.append(name)
    return out + ["fd"]


def _auto_python() -> str:
    """The ``auto`` backend of a Python-function model: an AD backend if one is usable, else fd."""
    return python_auto_candidates()[0]


def backend_info() -> list:
    """One dict per registered backend: name, available, reason, capabilities, options."""
    rows = []
    for name in backend_names():
        try:
            cls = backend_class(name)
        except BackendUnavailable as exc:
            rows.append({"name": name, "available": False, "reason": str(exc), "capabilities": {},
                         "options": [], "description": ""})
            continue
        ok, why = cls.available()
        rows.append({"name": name, "available": bool(ok), "reason": why,
                     "capabilities": cls.capabilities.as_dict(),
                     "options": [{"name": o.name, "type": o.type.__name__, "default": o.default,
                                  "help": o.help} for o in cls.options],
                     "description": cls.description})
    return rows
