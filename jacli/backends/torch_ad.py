"""``torch``: automatic differentiation with PyTorch's ``torch.func`` (extra ``jacli[torch]``).

Expression models run as jacli's own generated code over ``torch`` functions (see
:mod:`jacli.model._xpcode`); Python models run directly.  Jacobians by
``torch.func.jacfwd`` or ``jacrev`` (whichever has fewer sweeps), products by
``torch.func.jvp``/``vjp``, Hessians and Hessian-vector products forward over reverse,
all ``torch.func.vmap``-ped over the points of a batch, in float64 on the CPU.  PyTorch
runs eagerly: nothing is compiled, so there is no first-call delay beyond the import.
Derivatives are exact up to rounding.  See :mod:`jacli.backends._xp_common`.

PyTorch is imported on first use, never when jacli starts; ``available()`` only asks the
import system whether it is installed.

Threads (option ``threads``, default 1): the vmapped derivative code is a long sequence of
small elementwise operations, which PyTorch's intra-op threads speed up modestly on idle
cores and slow down badly on busy ones (measured on 2 cores, 10 × 10 Jacobians: idle,
two threads 1.5x faster than one at 1e5 points; with other work running, 5 us per point
with one thread and 50-300 us with two at 4,096 points).  jacli sets PyTorch's (process-wide) thread count for the duration of its
own calls only and restores it afterwards; ``torch:threads=0`` leaves PyTorch's setting
alone, ``torch:threads=4`` uses four.

Examples
--------
>>> import jacli                                                  # doctest: +SKIP
>>> m = jacli.model_from_expressions("x*y, sin(x) + y")          # doctest: +SKIP
>>> jacli.jacobian(m, {"x": 0.0, "y": 2.0}, backend="torch").derivative[0].tolist()  # doctest: +SKIP
[[2.0, 0.0], [1.0, 1.0]]
"""
from __future__ import annotations

from ._protocol import Option
from ._xp_common import ADBackend, Library


class TorchLibrary(Library):
    name = "torch"
    pad = False         # eager: any chunk size costs the same
    # Each eager call costs ~10 us per operation of the vmapped code whatever the chunk:
    # fewer, longer chunks for products (1e5 vjps: 65536-point chunks 1.0x the hand-written
    # single call, 32768-point ones 1.1x).  Jacobians stay within MAX_CHUNK_WIDTH.
    max_chunk_points = 2 ** 16

    def load(self):
        import warnings

        import torch
        import torch.func

        self.torch = torch
        # PyTorch's forward mode loads its decompositions through torch.jit.script on first
        # use, which warns that torch.jit.script is deprecated (PyTorch's own internals,
        # nothing a user can act on): load them once here with that warning silenced.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            one = torch.ones(1, dtype=torch.float64)
            torch.func.jvp(torch.sin, (one,), (one,))
        return torch.func

    def jit(self, fn, options: dict):
        threads = options.get("threads", 1)
        if threads <= 0:
            return fn
        torch = self.torch

        def run_with_threads(*args):
            # PyTorch's thread count is process-wide: set it for this call only.
            prev = torch.get_num_threads()
            if prev != threads:
                torch.set_num_threads(threads)
            try:
                return fn(*args)
            finally:
                if prev != threads:
                    torch.set_num_threads(prev)
        return run_with_threads

    def asarray(self, a):
        import numpy as np

        a = np.ascontiguousarray(a, dtype=np.float64)
        if not a.flags.writeable:   # e.g. a broadcast vector: PyTorch wants its own memory
            a = a.copy()
        return self.torch.from_numpy(a)

    def numpy(self, x):
        return x.detach().numpy()

    def index(self, idx):
        return self.torch.as_tensor(idx, dtype=self.torch.int64)

    def concat(self, parts):
        return self.torch.cat(parts)

    def symmetrize(self, H):
        return 0.5 * (H + H.transpose(-1, -2))


class Torch(ADBackend):
    """Exact derivatives by PyTorch automatic differentiation (torch.func), vmapped."""

    name = "torch"
    description = ("exact: PyTorch automatic differentiation (torch.func jacfwd/jacrev, jvp, vjp, "
                   "forward-over-reverse Hessians), vmapped; extra jacli[torch]")
    options = (Option("threads", int, 1, "PyTorch threads while jacli computes (0: PyTorch's own setting)"),)
    library_class = TorchLibrary

    def validate_options(self) -> None:
        from ..errors import UsageError

        if self.options_dict["threads"] < 0:
            raise UsageError(f"backend 'torch': threads must be >= 0, got {self.options_dict['threads']}")
    module_name = "torch"
    extra_name = "torch"
