"""jacli's generated model code under JAX and PyTorch (the ``jax`` and ``torch`` backends).

The code generator (:mod:`jacli.model._codegen`) emits ``def NAME(_a)`` that reads symbols
by position and calls functions only through the names of a namespace.  Giving it a
namespace of ``jax.numpy`` / ``torch`` functions instead of NumPy ones makes the *same*
source a JAX or PyTorch function, which those libraries can differentiate, vectorise and
(JAX) compile.  No SymPy printer is involved, and the source never contains user text.

Every name the generator can emit is mapped (:data:`GENERATED_NAMES`; a test checks the
list against :data:`jacli.model._expr.FUNCTIONS`).  PyTorch needs a few adaptations:

* many of its functions take tensors only (``torch.minimum``, ``torch.where``,
  ``torch.logical_and``...), while generated code may pass Python floats (constants):
  every function converts plain numbers to float64 tensors first;
* it has no ``cbrt`` and no ``gamma``: ``cbrt(x) = sign(x) |x|^(1/3)`` and
  ``gamma(x) = sign Γ(x) · exp(lgamma(x))`` (sign from the reflection formula), both
  differentiable with the right derivative (``|x|^(-2/3)/3``, ``Γ(x) ψ(x)``);
* ``torch.heaviside`` has no derivative: it is written with ``where`` (derivative 0);
* PyTorch's trigamma (``polygamma(1, x)``, the derivative of its digamma) is accurate to
  only ~5e-10 relative (measured against SciPy, torch 2.13), so the second derivatives of
  ``lgamma`` and ``gamma`` would miss the 1e-12 of an exact backend: ``lgamma`` is a
  custom autograd function whose derivative is PyTorch's digamma (accurate to ~1e-15),
  whose own derivative is :func:`_torch_trigamma`, jacli's trigamma from torch operations
  (recurrence to x >= 10, asymptotic series, reflection for x < 1/2; ~1e-15 relative).
  Both define ``backward`` and ``jvp``, so forward, reverse and forward-over-reverse work.

Both libraries return NaN or ±inf outside a function's domain (``log(-1)``,
``sqrt(-1)``, ``lgamma(-1)``), as NumPy does, so points outside the domain keep their
per-point DOMAIN_ERROR status.
"""
from __future__ import annotations

import math

from . import _codegen

#: Every function name generated code may use (after _codegen._NP_NAMES renaming),
#: plus the constants ``pi`` and ``e`` (emitted as ``_pi``, ``_e``).
GENERATED_NAMES = (
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh",
    "arcsinh", "arccosh", "arctanh", "exp", "expm1", "log", "log1p", "log10", "log2", "sqrt",
    "cbrt", "absolute", "sign", "minimum", "maximum", "hypot", "erf", "erfc", "gamma", "gammaln",
    "polygamma", "floor", "ceil", "heaviside", "where", "logical_and", "logical_or", "logical_not",
    "pi", "e",
)

LIBRARIES = ("jax", "torch")


def _with_constants(ns: dict, functions) -> dict:
    if "pi" in functions:
        ns["_pi"] = math.pi
    if "e" in functions:
        ns["_e"] = math.e
    return ns


def jax_namespace(functions) -> dict:
    """``jax.numpy`` / ``jax.scipy.special`` functions under the generated names."""
    import jax.numpy as jnp
    import jax.scipy.special as jss

    special = {"erf", "erfc", "gamma", "gammaln", "polygamma"}
    # C-level code that imports a module lazily (JAX's array conversion of NumPy input, as
    # PyTorch's comparisons below) looks up ``__import__`` in the calling frame's builtins:
    # the generated code (jacli's own, never user text) gets that and nothing else.
    import builtins

    ns: dict = {"__builtins__": {"__import__": builtins.__import__}}
    for f in functions:
        if f in ("pi", "e"):
            continue
        if f not in GENERATED_NAMES:
            raise KeyError(f"no JAX function for generated name {f!r}")
        ns[f] = getattr(jss if f in special else jnp, f)
    return _with_constants(ns, functions)


def torch_namespace(functions) -> dict:
    """``torch`` functions under the generated names, taking Python floats as well as tensors."""
    import torch

    f64 = torch.float64

    def t(x):
        return x if isinstance(x, torch.Tensor) else torch.tensor(x, dtype=f64)

    def lift(fn):
        def g(*args):
            return fn(*[t(a) for a in args])
        g.__name__ = getattr(fn, "__name__", "f")
        return g

    def cbrt(x):
        x = t(x)
        return torch.sign(x) * torch.abs(x) ** (1.0 / 3.0)

    def gamma(x):
        # Γ(x) = sign · exp(lgamma(x)); for x < 0 the sign alternates between the poles:
        # Γ(x) < 0 on (-1, 0), (-3, -2), ... i.e. sign = (-1)^(floor(-x) + 1) there.
        x = t(x)
        neg_sign = torch.where(torch.remainder(torch.floor(-x), 2.0) == 0, -1.0, 1.0)
        sgn = torch.where(x > 0, torch.ones_like(x), neg_sign.to(f64))
        return sgn * torch.exp(gammaln(x))

    def heaviside(x, h0):
        x, h0 = t(x), t(h0)
        one, zero = torch.ones_like(x), torch.zeros_like(x)
        return torch.where(x > 0, one, torch.where(x < 0, zero, h0 + zero))

    def where(c, a, b):
        c, a, b = t(c), t(a), t(b)
        if c.dtype != torch.bool:
            c = c != 0
        return torch.where(c, a, b)

    def polygamma(n, x):
        return torch.special.polygamma(int(n), t(x))

    gammaln_fn = _torch_gammaln()

    def gammaln(x):
        return gammaln_fn(t(x))

    table = {
        "sin": torch.sin, "cos": torch.cos, "tan": torch.tan, "arcsin": torch.asin,
        "arccos": torch.acos, "arctan": torch.atan, "arctan2": torch.atan2, "sinh": torch.sinh,
        "cosh": torch.cosh, "tanh": torch.tanh, "arcsinh": torch.asinh, "arccosh": torch.acosh,
        "arctanh": torch.atanh, "exp": torch.exp, "expm1": torch.expm1, "log": torch.log,
        "log1p": torch.log1p, "log10": torch.log10, "log2": torch.log2, "sqrt": torch.sqrt,
        "absolute": torch.abs, "sign": torch.sign, "minimum": torch.minimum, "maximum": torch.maximum,
        "hypot": torch.hypot, "erf": torch.special.erf, "erfc": torch.special.erfc,
        "floor": torch.floor, "ceil": torch.ceil,
        "logical_and": torch.logical_and, "logical_or": torch.logical_or, "logical_not": torch.logical_not,
    }
    custom = {"cbrt": cbrt, "gamma": gamma, "gammaln": gammaln, "heaviside": heaviside, "where": where,
              "polygamma": polygamma}
    # PyTorch's C++ comparison of a tensor with a Python float imports a module through the
    # calling frame's builtins: the generated code (jacli's own, never user text) gets
    # ``__import__`` and nothing else.
    import builtins

    ns: dict = {"__builtins__": {"__import__": builtins.__import__}}
    for f in functions:
        if f in ("pi", "e"):
            continue
        if f in custom:
            ns[f] = custom[f]
        elif f in table:
            ns[f] = lift(table[f])
        else:
            raise KeyError(f"no PyTorch function for generated name {f!r}")
    return _with_constants(ns, functions)


_TORCH_GAMMALN = []


def _torch_trigamma(x):
    """ψ₁(x) = d²/dx² lgamma(x) from differentiable torch operations, ~1e-15 relative.

    ψ₁(x) = Σ_{j<n} 1/(x+j)² + ψ₁(x+n) with x + n >= 10, then the asymptotic series
    ψ₁(z) ~ 1/z + 1/(2z²) + Σ B_{2j}/z^{2j+1} (Abramowitz & Stegun 6.4.12; the first omitted
    term is below 1e-17 of the sum at z >= 10); for x < 1/2 the reflection formula
    ψ₁(1-x) + ψ₁(x) = π²/sin²(πx) (A&S 6.4.7).
    """
    import torch

    neg = x < 0.5
    z = torch.where(neg, 1.0 - x, x)
    acc = torch.zeros_like(x)
    for _ in range(10):
        small = z < 10.0
        acc = acc + torch.where(small, 1.0 / (z * z), 0.0)
        z = torch.where(small, z + 1.0, z)
    r = 1.0 / z
    r2 = r * r
    series = r + r2 * (0.5 + r * (1.0 / 6 + r2 * (-1.0 / 30 + r2 * (1.0 / 42 + r2 * (
        -1.0 / 30 + r2 * (5.0 / 66 + r2 * (-691.0 / 2730 + r2 * 7.0 / 6)))))))
    res = acc + series
    xs = torch.where(neg, x, 0.5)       # keeps the unused branch finite (no NaN in reverse mode)
    refl = (math.pi / torch.sin(math.pi * xs)) ** 2
    return torch.where(neg, refl - res, res)


def _with_derivative(torch, f, df):
    """``f`` as a PyTorch function whose derivative (reverse and forward mode, vmappable) is
    ``df`` — accurate where PyTorch's own is not (see :func:`_torch_trigamma`)."""

    class Fn(torch.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(x):
            return f(x)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])
            ctx.save_for_forward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            return g * df(ctx.saved_tensors[0])

        @staticmethod
        def jvp(ctx, t):
            return t * df(ctx.saved_tensors[0])

    return Fn.apply


def _torch_gammaln():
    """``lgamma`` for PyTorch whose first and second derivatives are accurate (see above)."""
    if _TORCH_GAMMALN:
        return _TORCH_GAMMALN[0]
    import torch

    digamma = _with_derivative(torch, torch.special.digamma, _torch_trigamma)
    gammaln = _with_derivative(torch, torch.special.gammaln, digamma)
    _TORCH_GAMMALN.append(gammaln)
    return gammaln


def compile_for(gen: _codegen.Generated, library: str):
    """The generated ``raw(_a) -> tuple`` running on ``library`` ("jax" or "torch") arrays.

    The source is jacli's own (positional symbols, namespace functions), never user text.
    """
    ns = jax_namespace(gen.functions) if library == "jax" else torch_namespace(gen.functions)
    code = compile(gen.source, f"<jacli-generated:{library}>", "exec")
    exec(code, ns)  # noqa: S102 - jacli-generated code over positional arguments only
    return ns[gen.name]


def stacker(library: str):
    """``stack(values) -> 1-D float64 array``: outputs of generated code (arrays, booleans or
    Python floats for constant outputs) as one vector."""
    if library == "jax":
        import jax.numpy as jnp

        def stack(vals):
            return jnp.stack([jnp.asarray(v, dtype=jnp.float64) for v in vals])
        return stack
    import torch

    f64 = torch.float64

    def stack(vals):
        return torch.stack([v.to(f64) if isinstance(v, torch.Tensor) else torch.tensor(v, dtype=f64)
                            for v in vals])
    return stack


def point_function(model, library: str):
    """``g(args) -> (m,)``: the model's outputs at one point from a sequence of scalars, one
    per symbol (inputs then parameters), in ``library``'s arrays."""
    from ._numeric import function_source

    gen = model.extra.get("_jacli_gen")
    if gen is None:
        gen = function_source(model)
        model.extra["_jacli_gen"] = gen
    raw = compile_for(gen, library)
    stack = stacker(library)

    def g(args):
        return stack(raw(args))
    return g
