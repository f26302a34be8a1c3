"""jacli: derivatives of real models — Jacobians, products, Hessians, sensitivities.

The public API.  Importing ``jacli`` loads neither SymPy, SciPy, rich nor click; each is
imported by the function that needs it.

>>> import jacli
>>> m = jacli.model_from_expressions("x**2 * y")
>>> jacli.jacobian(m, {"x": 3.0, "y": 2.0}).derivative[0].tolist()
[[12.0, 9.0]]
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = [
    "__version__", "load_model", "model_from_expressions", "Model", "jacobian", "jacobian_stream",
    "jvp", "vjp", "hessian", "hvp", "stream", "hvp_function",
    "prepare", "symbolic_jacobian", "get_backend", "backend_names", "Result", "Status", "compose",
    "check", "CheckReport",
]

_LAZY = {
    "load_model": ("jacli.model", "load_model"),
    "model_from_expressions": ("jacli.model", "model_from_expressions"),
    "Model": ("jacli.model", "Model"),
    "jacobian": ("jacli._ops", "jacobian"),
    "jvp": ("jacli._ops", "jvp"),
    "vjp": ("jacli._ops", "vjp"),
    "hessian": ("jacli._ops", "hessian"),
    "hvp": ("jacli._ops", "hvp"),
    "stream": ("jacli._ops", "stream"),
    "hvp_function": ("jacli._ops", "hvp_function"),
    "jacobian_stream": ("jacli._ops", "jacobian_stream"),
    "prepare": ("jacli._ops", "prepare"),
    "symbolic_jacobian": ("jacli.backends.symbolic", "symbolic_jacobian"),
    "get_backend": ("jacli.backends", "get_backend"),
    "backend_names": ("jacli.backends", "backend_names"),
    "Result": ("jacli.results", "Result"),
    "Status": ("jacli.results", "Status"),
    "compose": ("jacli.compose", "_module"),   # callable module: compose([...]), compose.jacobian(...)
    "check": ("jacli._check", "check"),
    "CheckReport": ("jacli._check", "CheckReport"),
}


def __getattr__(name):
    try:
        mod, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'jacli' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(mod), attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
