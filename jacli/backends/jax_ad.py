"""``jax``: automatic differentiation with JAX, compiled by XLA (extra ``jacli[jax]``).

Expression models run as jacli's own generated code over ``jax.numpy`` (see
:mod:`jacli.model._xpcode`); Python models run directly.  Jacobians by ``jacfwd`` or
``jacrev`` (whichever has fewer sweeps), products by ``jvp``/``vjp``, Hessians and
Hessian-vector products forward over reverse, all ``vmap``-ped over the points of a batch
and ``jit``-compiled once per model, operation and chunk size (kept for the life of the
process).  Derivatives are exact up to rounding.  See :mod:`jacli.backends._xp_common`.

Float64: the backend turns on JAX's ``jax_enable_x64`` when it is first used.  That is
a process-wide JAX setting: other JAX code in the same process then also defaults to
float64.  JAX is imported on first use, never when jacli starts; ``available()`` only
asks the import system whether it is installed.

Batches are split into chunks padded to a few fixed sizes (8, 64, 512, then powers of
two), so a stream of batches of varying size compiles a handful of shapes.

Compilation (option ``jit``): XLA's compile time grows faster than linearly with the
size of straight-line code, and unrolled loops (an ODE integrator written as a Python
loop) or large expression models trace into very long programs.  With ``jit=auto``
(default) a program of more than :data:`JIT_MAX_EQNS` equations runs op by op instead
(no compile; ~50 us per equation per call); ``jax:jit=yes`` always compiles (worth it
for many calls on one big model), ``jax:jit=no`` never does.

Examples
--------
>>> import jacli                                                  # doctest: +SKIP
>>> m = jacli.model_from_expressions("x*y, sin(x) + y")          # doctest: +SKIP
>>> jacli.jacobian(m, {"x": 0.0, "y": 2.0}, backend="jax").derivative[0].tolist()  # doctest: +SKIP
[[2.0, 0.0], [1.0, 1.0]]
"""
from __future__ import annotations

from ._protocol import Option
from ._xp_common import ADBackend, Library


#: Largest traced program (equations, nested ones included) that ``jit="auto"`` compiles.
#: XLA's CPU compile time grows faster than linearly with straight-line code (measured,
#: jacfwd of an unrolled RK4 loop, 2 cores: 960 equations 0.6 s, 1,900 1.6 s, 3,700 6.8 s,
#: ~9,000 over 4 minutes), while running the same program op by op costs ~50 us per
#: equation per call: beyond this size one call is cheaper uncompiled.
JIT_MAX_EQNS = 2500


def count_equations(jaxpr) -> int:
    """Equations of a jaxpr, those of nested jaxprs (jit, custom_jvp, cond...) included."""
    n = 0
    stack = [jaxpr]
    while stack:
        j = stack.pop()
        j = getattr(j, "jaxpr", j)
        for eqn in j.eqns:
            n += 1
            for v in eqn.params.values():
                for sub in (v if isinstance(v, (list, tuple)) else (v,)):
                    if hasattr(sub, "eqns") or hasattr(getattr(sub, "jaxpr", None), "eqns"):
                        stack.append(sub)
    return n


class _AutoJit:
    """``fn`` compiled by XLA once per argument shape, or run op by op when its traced
    program is larger than :data:`JIT_MAX_EQNS` (``mode="auto"``); ``"yes"``/``"no"``
    force either.  The program is traced once: the trace that is measured is the one
    compiled."""

    def __init__(self, jax, fn, mode: str):
        self.jax, self.fn, self.mode = jax, fn, mode
        self.jitted = jax.jit(fn)
        self.compiled: dict = {}    # argument shapes -> compiled program, or None (op by op)

    @property
    def choice(self) -> dict:
        """argument shapes -> compiled (True) or op by op (False)."""
        return {k: v is not None for k, v in self.compiled.items()}

    def __call__(self, *args):
        if self.mode == "yes":
            return self.jitted(*args)
        if self.mode == "no":
            return self.fn(*args)
        key = tuple(a.shape for a in args)
        if key not in self.compiled:
            if hasattr(self.jitted, "trace"):
                traced = self.jitted.trace(*args)
                small = count_equations(traced.jaxpr) <= JIT_MAX_EQNS
                self.compiled[key] = traced.lower().compile() if small else None
            else:   # JAX before jit(...).trace: trace twice
                small = count_equations(self.jax.make_jaxpr(self.fn)(*args)) <= JIT_MAX_EQNS
                self.compiled[key] = self.jitted if small else None
        prog = self.compiled[key]
        return self.fn(*args) if prog is None else prog(*args)


#: NumPy arrays up to this many numbers go into compiled programs as they are (less per-call
#: overhead: single points, matrix-free products); larger chunks are put on the device first,
#: which lets JAX overlap one chunk's transfer with the previous chunk's work.
_DIRECT_MAX = 1 << 21


class JaxLibrary(Library):
    name = "jax"
    pad = True          # XLA compiles once per shape: pad chunks to a few sizes

    def load(self):
        import jax

        # Derivatives in double precision, as every jacli backend computes them.
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        self.jnp = jnp
        self._jax = jax
        return jax

    def jit(self, fn, options: dict):
        return _AutoJit(self._jax, fn, options.get("jit", "auto"))

    def asarray(self, a):
        # NumPy float64 in: compiled programs take NumPy arrays directly (the transfer happens
        # in JAX's C++ dispatch, ~3x less per-call overhead than jnp.asarray first), and the
        # uncompiled path converts on first use.
        import numpy as np

        if isinstance(a, np.ndarray) and a.size <= _DIRECT_MAX:
            return np.ascontiguousarray(a, dtype=np.float64)
        return self.jnp.asarray(a, dtype=self.jnp.float64)

    def numpy(self, x):
        import numpy as np

        return np.asarray(x)

    def index(self, idx):
        import numpy as np

        return np.asarray(idx, dtype=np.int64)

    def concat(self, parts):
        return self.jnp.concatenate(parts)

    def symmetrize(self, H):
        return 0.5 * (H + self.jnp.swapaxes(H, -1, -2))


class Jax(ADBackend):
    """Exact derivatives by JAX automatic differentiation, jit-compiled and vmapped."""

    name = "jax"
    description = ("exact: JAX automatic differentiation (jacfwd/jacrev, jvp, vjp, forward-over-reverse "
                   "Hessians), vmapped and jit-compiled; extra jacli[jax]")
    options = (Option("jit", str, "auto", "compile with XLA: auto (unless the traced program is huge), "
                                          "yes, no", choices=("auto", "yes", "no")),)
    library_class = JaxLibrary
    module_name = "jax"
    extra_name = "jax"
