"""What the ``jax`` and ``torch`` backends share: the per-point model function, the AD
kernels, and the driver that runs them over batches of points in bounded memory.

Both libraries offer the same function transformations with the same calling
conventions — ``vmap``, ``jvp``, ``vjp``, ``jacfwd``, ``jacrev`` with ``has_aux`` — so
the kernels are written once against a small adaptor (:class:`Library`) and each backend
module only says how to import its library, convert arrays and compile (``jax.jit``;
PyTorch runs eagerly).

The per-point function
----------------------
``g(w, z) -> (m,)``: the model's outputs at one point, where ``z`` is the point's row of
the backends' ``A`` array (inputs then parameters, ``prep.symbols`` order) and ``w`` the
values of the differentiation variables (``prep.wrt``), which replace their columns of
``z``.  Differentiating with respect to ``w`` only means parameters are constants unless
they are in ``wrt``.

* expression models: jacli's generated code run on the library's arrays
  (:mod:`jacli.model._xpcode`);
* Python models (``model.function``): ``model.function.flat(z)`` — a pure function of a
  1-D array in any Array-API namespace returning the m outputs.

The kernels (each vmapped over points)
--------------------------------------
=========  ====================================================================
jacobian   ``jacfwd`` when k <= m, else ``jacrev`` (value as ``has_aux``); when one
           point's Jacobian has more than :data:`CHUNK_ENTRIES` entries, blocks of
           directions (``vmap`` of ``jvp`` over unit vectors, or of the ``vjp``
           pull-back over unit cotangents)
jvp        ``jvp``: one forward sweep
vjp        ``vjp``: one reverse sweep
hessian    forward over reverse: ``jacfwd(jacrev(g))``, with the gradient and the
           value as auxiliary outputs; symmetrised as (H + Hᵀ)/2 (AD's two triangles
           differ by rounding; the conformance suite asks exact backends for H = Hᵀ
           bit for bit)
hvp        forward over reverse: ``jvp`` of ``jacrev(g)`` along v
=========  ====================================================================

Memory: points are processed in chunks of at most :data:`CHUNK_ENTRIES` output numbers
(per chunk: values plus derivatives), so a batch of any size runs in bounded memory.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from ._protocol import Backend, Block, Capabilities, Prep, make_prep

#: Output numbers (float64) one chunk of points may produce: 2**22 = 32 MiB.
CHUNK_ENTRIES = 2 ** 22
#: Most points in one chunk (more gains nothing once the vectors are long).
MAX_CHUNK_POINTS = 2 ** 15
#: Prepared engines kept per process (expression models, keyed on their fingerprint).
ENGINE_CACHE_SIZE = 64

_ENGINES: "OrderedDict" = OrderedDict()
_LOCK = threading.Lock()


class Library:
    """Adaptor to one AD library: imports, transformations, array conversion.

    Subclasses set ``name`` and implement :meth:`load` (import, enable float64, return
    the module with ``vmap``, ``jvp``, ``vjp``, ``jacfwd``, ``jacrev``), :meth:`jit`,
    :meth:`asarray` (NumPy -> library, float64) and :meth:`numpy` (library -> NumPy).
    ``pad`` says whether chunks are padded to a few fixed sizes (a compiling library
    compiles once per shape).
    """

    name = ""
    pad = False

    def __init__(self):
        self.ad = self.load()

    def load(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def jit(self, fn, mode: str = "auto"):
        """``fn`` compiled (JAX) or as it is (PyTorch); ``mode`` is the backend's ``jit`` option."""
        return fn

    def asarray(self, a):  # pragma: no cover - abstract
        raise NotImplementedError

    def numpy(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def index(self, idx):
        """A constant integer index array (from a list) for ``x[index]``."""
        raise NotImplementedError  # pragma: no cover - abstract

    def concat(self, parts):
        raise NotImplementedError  # pragma: no cover - abstract

    def symmetrize(self, H):
        """(H + Hᵀ)/2 over the last two axes."""
        raise NotImplementedError  # pragma: no cover - abstract


# ----------------------------------------------------------------------------- per-point function


def is_python_model(model) -> bool:
    return getattr(model, "function", None) is not None


def point_function(model, symbols, wrt_idx, lib: Library):
    """``g(w, z) -> (m,)`` in ``lib``'s arrays (see the module docstring)."""
    s = len(symbols)
    if is_python_model(model):
        flat = model.function.flat
        # z with its wrt columns replaced by w, as one gather from concat([z, w]).
        perm = list(range(s))
        for j, i in enumerate(wrt_idx):
            perm[i] = s + j
        index = lib.index(perm)
        concat = lib.concat

        def g(w, z):
            return flat(concat([z, w])[index])
        return g

    from ..model._xpcode import point_function as expr_point_function

    raw = expr_point_function(model, lib.name)
    src = [("z", i) for i in range(s)]
    for j, i in enumerate(wrt_idx):
        src[i] = ("w", j)

    def g(w, z):
        return raw([w[i] if where == "w" else z[i] for where, i in src])
    return g


# ----------------------------------------------------------------------------- kernels


class Engine:
    """The compiled kernels of one (model, wrt) for one library, built on first use."""

    def __init__(self, lib: Library, g, m: int, k: int):
        self.lib, self.g, self.m, self.k = lib, g, m, k
        self._kernels: dict = {}

    def kernel(self, op: str, jit: str = "auto"):
        fn = self._kernels.get((op, jit))
        if fn is None:
            fn = self.lib.jit(getattr(self, "_build_" + op)(), jit)
            self._kernels[(op, jit)] = fn
        return fn

    def _aux(self):
        g = self.g

        def f(w, z):
            y = g(w, z)
            return y, y
        return f

    def _build_jacobian(self):
        ad = self.lib.ad
        jac = ad.jacfwd if self.k <= self.m else ad.jacrev
        inner = jac(self._aux(), has_aux=True)

        def point(w, z):
            J, y = inner(w, z)
            return y, J
        return ad.vmap(point, (0, 0))

    def _build_jacobian_fwd_block(self):
        """J E^T for a block E (c, k) of directions: (y (m,), (m, c))."""
        ad, g = self.lib.ad, self.g

        def point(w, z, E):
            f = lambda w_: g(w_, z)  # noqa: E731
            cols = ad.vmap(lambda e: ad.jvp(f, (w,), (e,))[1], (0,))(E)   # (c, m)
            return f(w), cols.T
        return ad.vmap(point, (0, 0, None))

    def _build_jacobian_rev_block(self):
        """U J for a block U (c, m) of cotangents: (y (m,), (c, k))."""
        ad, g = self.lib.ad, self.g

        def point(w, z, U):
            y, pull = ad.vjp(lambda w_: g(w_, z), w)
            rows = ad.vmap(lambda u: pull(u)[0], (0,))(U)                  # (c, k)
            return y, rows
        return ad.vmap(point, (0, 0, None))

    def _build_jvp(self):
        ad, g = self.lib.ad, self.g

        def point(w, z, v):
            return ad.jvp(lambda w_: g(w_, z), (w,), (v,))
        return ad.vmap(point, (0, 0, 0))

    def _build_vjp(self):
        ad, g = self.lib.ad, self.g

        def point(w, z, u):
            y, pull = ad.vjp(lambda w_: g(w_, z), w)
            return y, pull(u)[0]
        return ad.vmap(point, (0, 0, 0))

    def _grad_aux(self):
        grad = self.lib.ad.jacrev(self._aux(), has_aux=True)

        def f(w, z):
            J, y = grad(w, z)
            return J, (J, y)
        return f

    def _build_hessian(self):
        ad, lib = self.lib.ad, self.lib
        hess = ad.jacfwd(self._grad_aux(), has_aux=True)

        def point(w, z):
            H, (J, y) = hess(w, z)
            return y, J, lib.symmetrize(H)
        return ad.vmap(point, (0, 0))

    def _build_hvp(self):
        ad = self.lib.ad
        grad = ad.jacrev(self._aux(), has_aux=True)

        def point(w, z, v):
            (J, y), (HV, _) = ad.jvp(lambda w_: grad(w_, z), (w,), (v,))
            return y, HV
        return ad.vmap(point, (0, 0, 0))


def engine(lib_cls, model, prep: Prep) -> Engine:
    """The (cached) engine of ``model`` w.r.t. ``prep.wrt`` for the library ``lib_cls``.

    Expression models are keyed on their fingerprint (which determines the generated
    code), so every Model object with the same text shares one engine and its compiled
    kernels; Python models keep theirs in ``model.extra``.
    """
    key = (lib_cls.name, prep.fingerprint, prep.symbols, prep.wrt_idx, prep.outputs)
    if is_python_model(model):
        store = model.extra.setdefault("_jacli_ad_engines", {})
        eng = store.get(key)
        if eng is None:
            eng = store[key] = _new_engine(lib_cls, model, prep)
        return eng
    with _LOCK:
        eng = _ENGINES.get(key)
        if eng is not None:
            _ENGINES.move_to_end(key)
            return eng
    eng = _new_engine(lib_cls, model, prep)
    with _LOCK:
        _ENGINES[key] = eng
        while len(_ENGINES) > ENGINE_CACHE_SIZE:
            _ENGINES.popitem(last=False)
    return eng


_LIBS: dict = {}


def library(lib_cls) -> Library:
    lib = _LIBS.get(lib_cls.name)
    if lib is None:
        lib = _LIBS[lib_cls.name] = lib_cls()
    return lib


def _new_engine(lib_cls, model, prep) -> Engine:
    lib = library(lib_cls)
    g = point_function(model, prep.symbols, prep.wrt_idx, lib)
    return Engine(lib, g, len(prep.outputs), len(prep.wrt))


# ----------------------------------------------------------------------------- the driver


def _bucket(n: int, cap: int, smallest: int) -> int:
    """The padded size of a chunk of ``n`` points: one of a few sizes (``smallest``, then
    x8 up to 512, then x2 up to ``cap``), so a compiling library compiles a handful of
    shapes whatever the batch sizes (at most 1/8 of a batch is padding beyond 512)."""
    if n >= cap:
        return cap
    b = smallest
    while b < n:
        b = b * 8 if b < 512 else b * 2
    return min(b, cap)


def _chunks(N: int, per_point: int, lib: Library):
    """``[(start, stop, padded_size)]`` covering N points."""
    cap = max(1, min(MAX_CHUNK_POINTS, CHUNK_ENTRIES // max(per_point, 1)))
    cap = 1 << (cap.bit_length() - 1)   # a power of two
    out = []
    s = 0
    smallest = 8 if per_point * 8 <= 2 ** 15 else 1
    while s < N:
        e = min(s + cap, N)
        n = e - s
        out.append((s, e, _bucket(n, cap, smallest) if lib.pad else n))
        s = e
    return out


def _pad(a, size):
    import numpy as np

    n = a.shape[0]
    if n == size:
        return a
    return np.concatenate([a, np.repeat(a[-1:], size - n, axis=0)])


def run(lib: Library, kernel, arrays, shared=(), per_point: int = 1, out_shapes=()):
    """Apply ``kernel(*chunk_arrays, *shared)`` over chunks of points.

    ``arrays``: NumPy arrays with N rows (chunked); ``shared``: NumPy arrays passed whole
    to every chunk; ``out_shapes``: the per-point shape of each output.  Returns NumPy
    arrays (N, *shape).
    """
    import numpy as np

    N = arrays[0].shape[0]
    sh = [lib.asarray(x) for x in shared]
    parts = _chunks(N, per_point, lib)
    if len(parts) == 1 and parts[0][2] == N:
        outs = kernel(*[lib.asarray(a) for a in arrays], *sh)
        return [lib.numpy(o) for o in outs]
    res = [np.empty((N,) + tuple(s)) for s in out_shapes]
    for s, e, size in parts:
        outs = kernel(*[lib.asarray(_pad(a[s:e], size)) for a in arrays], *sh)
        for r, o in zip(res, outs):
            r[s:e] = lib.numpy(o)[:e - s]
    return res


# ----------------------------------------------------------------------------- the backend


class ADBackend(Backend):
    """Base of the ``jax`` and ``torch`` backends (not registered itself: no ``name``)."""

    capabilities = Capabilities(exact=True, forward=True, reverse=True, second_order=True,
                                python_models=True)
    options = ()
    library_class: type = Library
    module_name = ""          # the import name of the library
    extra_name = ""           # the pip extra that installs it

    @classmethod
    def available(cls) -> tuple:
        """Installed or not, from the import system's metadata (nothing is imported)."""
        import importlib.util

        try:
            found = importlib.util.find_spec(cls.module_name) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            return True, ""
        return False, (f"{cls.module_name} is not installed; install it with "
                       f"pip install 'jacli[{cls.extra_name}]'")

    def _kernel(self, eng, op):
        return eng.kernel(op, self.options_dict.get("jit", "auto"))

    def prepare(self, model, op, wrt=None) -> Prep:
        prep = make_prep(self, model, op, wrt)
        eng = engine(self.library_class, model, prep)
        return Prep(**{**prep.__dict__, "data": eng})

    @staticmethod
    def _split(prep, A):
        import numpy as np

        A = np.ascontiguousarray(A, dtype=np.float64)
        W = np.ascontiguousarray(A[:, list(prep.wrt_idx)])
        return A, W

    def jacobian(self, prep: Prep, A) -> Block:
        import numpy as np

        eng: Engine = prep.data
        A, W = self._split(prep, A)
        m, k = eng.m, eng.k
        if m * k <= CHUNK_ENTRIES:
            y, J = run(eng.lib, self._kernel(eng, "jacobian"), [W, A], per_point=m + m * k,
                       out_shapes=[(m,), (m, k)])
            return Block(value=y, derivative=J, error=None, nfev=1)
        # One point's Jacobian alone exceeds the chunk: blocks of directions, point by point.
        N = A.shape[0]
        J = np.empty((N, m, k))
        y = None
        fwd = k <= m
        width, other = (k, m) if fwd else (m, k)
        c = max(1, CHUNK_ENTRIES // other)
        c = 1 << (c.bit_length() - 1)
        kern = self._kernel(eng, "jacobian_fwd_block" if fwd else "jacobian_rev_block")
        for s in range(0, width, c):
            e = min(s + c, width)
            E = np.zeros((c, width))
            E[np.arange(e - s), np.arange(s, e)] = 1.0
            yb, blk = run(eng.lib, kern, [W, A], shared=[E], per_point=m + other * c,
                          out_shapes=[(m,), (m, c) if fwd else (c, k)])
            if y is None:
                y = yb
            if fwd:
                J[:, :, s:e] = blk[:, :, :e - s]
            else:
                J[:, s:e, :] = blk[:, :e - s, :]
        return Block(value=y, derivative=J, error=None, nfev=1)

    def jvp(self, prep: Prep, A, V) -> Block:
        import numpy as np

        eng: Engine = prep.data
        A, W = self._split(prep, A)
        V = np.ascontiguousarray(V, dtype=np.float64)
        y, jv = run(eng.lib, self._kernel(eng, "jvp"), [W, A, V], per_point=2 * eng.m,
                    out_shapes=[(eng.m,), (eng.m,)])
        return Block(value=y, derivative=jv, error=None, nfev=1)

    def vjp(self, prep: Prep, A, U) -> Block:
        import numpy as np

        eng: Engine = prep.data
        A, W = self._split(prep, A)
        U = np.ascontiguousarray(U, dtype=np.float64)
        y, uj = run(eng.lib, self._kernel(eng, "vjp"), [W, A, U], per_point=eng.m + eng.k,
                    out_shapes=[(eng.m,), (eng.k,)])
        return Block(value=y, derivative=uj, error=None, nfev=1)

    def hessian(self, prep: Prep, A) -> Block:
        eng: Engine = prep.data
        A, W = self._split(prep, A)
        m, k = eng.m, eng.k
        y, G, H = run(eng.lib, self._kernel(eng, "hessian"), [W, A], per_point=m + m * k + m * k * k,
                      out_shapes=[(m,), (m, k), (m, k, k)])
        return Block(value=y, derivative=H, error=None, nfev=1, extra={"gradient": G})

    def hvp(self, prep: Prep, A, V) -> Block:
        import numpy as np

        eng: Engine = prep.data
        A, W = self._split(prep, A)
        V = np.ascontiguousarray(V, dtype=np.float64)
        m, k = eng.m, eng.k
        y, HV = run(eng.lib, self._kernel(eng, "hvp"), [W, A, V], per_point=m + m * k,
                    out_shapes=[(m,), (m, k)])
        return Block(value=y, derivative=HV, error=None, nfev=1)
