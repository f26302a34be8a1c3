"""What the ``jax`` and ``torch`` backends share: the per-point model function, the AD
kernels, and the driver that runs them over batches of points in bounded memory.

Both libraries offer the same function transformations with the same calling
conventions — ``vmap``, ``jvp``, ``vjp``, ``jacfwd``, ``jacrev`` with ``has_aux`` — so
the kernels are written once against a small adaptor (:class:`Library`) and each backend
module only says how to import its library, convert arrays and compile (``jax.jit``;
PyTorch runs eagerly).

The per-point function
----------------------
``g(w, zb, zs) -> (m,)``: the model's outputs at one point.  The point's row of the
backends' ``A`` array (inputs then parameters, ``prep.symbols`` order) is split into the
columns carried per point (``zb``) and the parameters that are not differentiated and
have one value over the whole batch (``zs``, passed once instead of N times); ``w`` are
the values of the differentiation variables (``prep.wrt``, gathered from ``zb`` inside
the kernel), which replace their columns.  Differentiating with respect to ``w`` only
means parameters are constants unless they are in ``wrt``.

* expression models: jacli's generated code run on the library's arrays
  (:mod:`jacli.model._xpcode`);
* Python models (``model.function``): ``model.function.flat(z)`` — a pure function of a
  1-D array in any Array-API namespace returning the m outputs.  Code that cannot run
  under the library's transformations (Python ``if`` on a value, ``math.sin``) raises a
  CapabilityError naming the user's line.

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

Memory and speed: points are processed in chunks of at most :data:`CHUNK_ENTRIES` output
numbers (values plus derivatives), so a batch of any size runs in bounded memory, and of
at most :data:`MAX_CHUNK_WIDTH` points × directions, which keeps a chunk's temporaries in
cache (faster than the whole batch at once).  JAX compiles once per shape, so its chunks
are padded (by repeating the last point) to a few sizes.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from ._protocol import Backend, Block, Capabilities, Prep, make_prep

#: Output numbers (float64) one chunk of points may produce: 2**22 = 32 MiB.
CHUNK_ENTRIES = 2 ** 22
#: Longest vector one operation of a kernel works on (points x directions pushed or pulled
#: at once): 2**17 keeps a chunk's temporaries in cache (measured, 10 x 10 Jacobians at 1e5
#: points, i.e. 8192-point chunks: JAX 2x, PyTorch 1.5x faster than all points at once).
MAX_CHUNK_WIDTH = 2 ** 17
#: Most points in one chunk, whatever the kernel (products at 1e5 points: 16384-65536
#: measured best, within noise of each other).
MAX_CHUNK_POINTS = 2 ** 15
#: Chunks dispatched ahead of the one being copied out (JAX dispatches asynchronously: the
#: next chunks compute while this one is converted).
PIPELINE = 3
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
    max_chunk_points = None     # None: MAX_CHUNK_POINTS

    def __init__(self):
        self.ad = self.load()

    def load(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def jit(self, fn, options: dict):
        """``fn`` ready to call: compiled (JAX), or wrapped to run with the backend's thread
        count (PyTorch); ``options`` are the backend's options."""
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


def _sources(layout) -> list:
    """For each symbol column, where its value comes from: ``(0, p)`` = ``zb[p]``, ``(1, p)`` =
    ``zs[p]``, ``(2, j)`` = ``w[j]`` (a differentiation variable replaces its column)."""
    B, S, wrt_idx = layout
    src = [None] * (len(B) + len(S))
    for p, i in enumerate(B):
        src[i] = (0, p)
    for p, i in enumerate(S):
        src[i] = (1, p)
    for j, i in enumerate(wrt_idx):
        src[i] = (2, j)
    return src


def _runs(src) -> list:
    """``[(part, lo, hi)]``: ``src`` (a list of ``(part, position)``) as runs of consecutive
    positions of one part, so a row can be assembled from slices."""
    runs: list = []
    for a, p in src:
        if runs and runs[-1][0] == a and runs[-1][2] == p:
            runs[-1][2] = p + 1
        else:
            runs.append([a, p, p + 1])
    return [tuple(r) for r in runs]


def _positions(lib, pos):
    """An index for ``zb[pos]``: a slice when the positions are consecutive (slicing
    differentiates to a pad, a gather to a scatter-add), else the library's index array."""
    pos = list(pos)
    if pos and pos == list(range(pos[0], pos[0] + len(pos))):
        return slice(pos[0], pos[0] + len(pos))
    return lib.index(pos)


def point_maker(model, lib: Library):
    """``make(layout) -> g(w, zb, zs)``: the model at one point in ``lib``'s arrays.

    ``layout = (B, S, wrt_idx)``: the symbol columns carried per point (``zb``, in B's
    order), those shared by every point of the batch (``zs``: parameters that are not
    differentiated, passed once rather than once per point) and the differentiation
    variables, whose values ``w`` replace their columns.
    """
    if is_python_model(model):
        flat = model.function.flat
        concat = lib.concat

        def make(layout):
            # the full row z from runs of consecutive columns of zb, zs and w: slices and
            # one concatenation, not a gather (whose reverse is a scatter-add: 20x the cost
            # of the function's gradient at n = 1e6 on the CPU)
            runs = _runs(_sources(layout))

            def g(w, zb, zs):
                parts = (zb, zs, w)
                pieces = [parts[a][lo:hi] for a, lo, hi in runs]
                return flat(pieces[0] if len(pieces) == 1 else concat(pieces))
            return g
        return make

    from ..model._xpcode import point_function as expr_point_function

    raw = expr_point_function(model, lib.name)

    def make(layout):
        src = tuple(_sources(layout))

        def g(w, zb, zs):
            parts = (zb, zs, w)
            return raw([parts[a][p] for a, p in src])
        return g
    return make


# ----------------------------------------------------------------------------- kernels


class Engine:
    """The kernels of one (model, wrt) for one library, built (and compiled) on first use.

    A kernel takes the per-point columns ZB (N, |B|), the op's per-point vectors (jvp,
    vjp, hvp), then the shared columns ZS (|S|,) and a shared block of directions (blocked
    Jacobians); it computes ``w = ZB[:, wrt]`` itself.
    """

    def __init__(self, lib: Library, make, n_inputs: int, n_symbols: int, wrt_idx: tuple, m: int,
                 function=None):
        self.lib, self.make, self.m, self.k = lib, make, m, len(wrt_idx)
        self.function = function          # the PythonFunction of a Python model, else None
        self.n_inputs, self.n_symbols, self.wrt_idx = n_inputs, n_symbols, tuple(wrt_idx)
        self._kernels: dict = {}

    def layout(self, A):
        """``(B, S, wrt_idx)`` for the batch ``A``: parameters that are not differentiated
        and have one value over the whole batch are shared, every other column is per point."""
        wset = self.__dict__.get("_wset")
        if wset is None:
            wset = self._wset = frozenset(self.wrt_idx)
        cand = [i for i in range(self.n_inputs, self.n_symbols) if i not in wset]
        if cand and A.shape[0] > 0:
            P = A[:, cand]
            if not (P == P[:1]).all():
                cand = []
        S = tuple(cand)
        if not S:
            # the common case (no shared parameters): one layout object per kernel set, so
            # kernel lookups hash the same tuples (1e5 entries for a 1e5-input model) once
            full = self.__dict__.get("_full_layout")
            if full is None:
                full = self._full_layout = (tuple(range(self.n_symbols)), (), self.wrt_idx)
            return full
        sset = frozenset(S)
        B = tuple(i for i in range(self.n_symbols) if i not in sset)
        return B, S, self.wrt_idx

    def kernel(self, op: str, options: tuple, layout):
        """The kernel of ``op`` for the backend options ``options`` (sorted items)."""
        # B is the complement of S and wrt_idx is fixed per kernel set: S alone identifies the
        # layout, and hashing it is cheap (B holds every column: 1e5 of them on large models).
        key = (op, options, layout[1])
        fn = self._kernels.get(key)
        if fn is None:
            B, S, wrt_idx = layout
            where = {c: j for j, c in enumerate(B)}
            wpos = [where[i] for i in wrt_idx]
            fn = self.lib.jit(getattr(self, "_build_" + op)(self.make(layout), _positions(self.lib, wpos)),
                              dict(options))
            self._kernels[key] = fn
        return fn

    @staticmethod
    def _aux(g):
        def f(w, zb, zs):
            y = g(w, zb, zs)
            return y, y
        return f

    def _build_jacobian(self, g, wpos):
        ad = self.lib.ad
        jac = ad.jacfwd if self.k <= self.m else ad.jacrev
        inner = jac(self._aux(g), has_aux=True)

        def point(zb, zs):
            J, y = inner(zb[wpos], zb, zs)
            return y, J
        return ad.vmap(point, (0, None))

    def _build_jacobian_fwd_block(self, g, wpos):
        """J E^T for a block E (c, k) of directions: (y (m,), (m, c))."""
        ad = self.lib.ad

        def point(zb, zs, E):
            f = lambda w_: g(w_, zb, zs)  # noqa: E731
            w = zb[wpos]
            cols = ad.vmap(lambda e: ad.jvp(f, (w,), (e,))[1], (0,))(E)   # (c, m)
            return f(w), cols.T
        return ad.vmap(point, (0, None, None))

    def _build_jacobian_rev_block(self, g, wpos):
        """U J for a block U (c, m) of cotangents: (y (m,), (c, k))."""
        ad = self.lib.ad

        def point(zb, zs, U):
            y, pull = ad.vjp(lambda w_: g(w_, zb, zs), zb[wpos])
            rows = ad.vmap(lambda u: pull(u)[0], (0,))(U)                  # (c, k)
            return y, rows
        return ad.vmap(point, (0, None, None))

    def _build_jvp(self, g, wpos):
        ad = self.lib.ad

        def point(zb, v, zs):
            return ad.jvp(lambda w_: g(w_, zb, zs), (zb[wpos],), (v,))
        return ad.vmap(point, (0, 0, None))

    def _build_vjp(self, g, wpos):
        ad = self.lib.ad

        def point(zb, u, zs):
            y, pull = ad.vjp(lambda w_: g(w_, zb, zs), zb[wpos])
            return y, pull(u)[0]
        return ad.vmap(point, (0, 0, None))

    def _grad_aux(self, g):
        grad = self.lib.ad.jacrev(self._aux(g), has_aux=True)

        def f(w, zb, zs):
            J, y = grad(w, zb, zs)
            return J, (J, y)
        return f

    def _build_hessian(self, g, wpos):
        ad, lib = self.lib.ad, self.lib
        hess = ad.jacfwd(self._grad_aux(g), has_aux=True)

        def point(zb, zs):
            H, (J, y) = hess(zb[wpos], zb, zs)
            return y, J, lib.symmetrize(H)
        return ad.vmap(point, (0, None))

    def hvp_at(self, layout, zb, zs, options: tuple):
        """``hv(Vb)``: Hessian-vector products (Vb (p, k) -> (p, k)) of output 0 at one fixed
        point, compiled with the point as a constant (as a hand-written ``jit(jvp(grad f))``
        at ``x0`` is: what depends on the point alone is computed once, not per product)."""
        lib = self.lib
        ad = lib.ad
        B, S, wrt_idx = layout
        where = {c: j for j, c in enumerate(B)}
        wpos = _positions(lib, [where[i] for i in wrt_idx])
        g = self.make(layout)
        zb, zs = lib.asarray(zb), lib.asarray(zs)
        w0 = zb[wpos]
        grad = ad.jacrev(lambda w_: g(w_, zb, zs))

        def one(v):
            return ad.jvp(grad, (w0,), (v,))[1][0]
        fn = lib.jit(ad.vmap(one), dict(options))

        def hv(Vb):
            return lib.numpy(fn(lib.asarray(Vb)))
        return hv

    def _build_hvp(self, g, wpos):
        ad = self.lib.ad
        grad = ad.jacrev(self._aux(g), has_aux=True)

        def point(zb, v, zs):
            (J, y), (HV, _) = ad.jvp(lambda w_: grad(w_, zb, zs), (zb[wpos],), (v,))
            return y, HV
        return ad.vmap(point, (0, 0, None))


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
    return Engine(lib, point_maker(model, lib), len(model.input_names), len(prep.symbols), prep.wrt_idx,
                  len(prep.outputs), model.function if is_python_model(model) else None)


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


def _chunks(N: int, per_point: int, lib: Library, width: int = 1):
    """``[(start, stop, padded_size)]`` covering N points: at most CHUNK_ENTRIES output
    numbers (``per_point`` per point) and MAX_CHUNK_WIDTH points x ``width`` directions."""
    most = lib.max_chunk_points or MAX_CHUNK_POINTS
    cap = max(1, min(most, CHUNK_ENTRIES // max(per_point, 1), MAX_CHUNK_WIDTH // max(width, 1)))
    cap = 1 << (cap.bit_length() - 1)   # a power of two
    out = []
    s = 0
    # single points (the common case on the command line and in optimisation loops) get
    # their own shape: padding them to 8 would do 8x the work on every call
    smallest = 8 if per_point * 8 <= 2 ** 15 and N > 1 else 1
    while s < N:
        e = min(s + cap, N)
        n = e - s
        # a batch of many chunks pads its last chunk to a full one: one compiled shape
        # serves every large batch, for at most 1/8 more work
        size = (cap if 8 * cap <= N else _bucket(n, cap, smallest)) if lib.pad else n
        out.append((s, e, size))
        s = e
    return out


def _pad(a, size):
    import numpy as np

    n = a.shape[0]
    if n == size:
        return a
    return np.concatenate([a, np.repeat(a[-1:], size - n, axis=0)])


def run(lib: Library, kernel, arrays, shared=(), per_point: int = 1, width: int = 1, out_shapes=()):
    """Apply ``kernel(*chunk_arrays, *shared)`` over chunks of points.

    ``arrays``: NumPy arrays with N rows (chunked); ``shared``: NumPy arrays passed whole
    to every chunk; ``per_point``: output numbers per point; ``width``: directions the
    kernel pushes or pulls at once (its vectors are points x width long); ``out_shapes``:
    the per-point shape of each output.  Returns NumPy arrays (N, *shape).
    """
    import numpy as np

    N = arrays[0].shape[0]
    sh = [lib.asarray(x) for x in shared]
    parts = _chunks(N, per_point, lib, width)
    if len(parts) == 1 and parts[0][2] == N:
        outs = kernel(*[lib.asarray(a) for a in arrays], *sh)
        return [lib.numpy(o) for o in outs]
    res = [np.empty((N,) + tuple(s)) for s in out_shapes]
    pending: list = []

    def copy_out(s, e, outs):
        for r, o in zip(res, outs):
            r[s:e] = lib.numpy(o)[:e - s]

    for s, e, size in parts:
        pending.append((s, e, kernel(*[lib.asarray(_pad(a[s:e], size)) for a in arrays], *sh)))
        if len(pending) > PIPELINE:
            copy_out(*pending.pop(0))
    for item in pending:
        copy_out(*item)
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

    def _run(self, eng, kernel, arrays, **kw):
        """:func:`run`; a Python model's code that cannot run under the library (Python
        ``if`` on a value, ``math.sin``, ``float(x)``, NumPy calls...) is a CapabilityError
        naming the user's line, not an internal error."""
        if eng.function is None:
            return run(eng.lib, kernel, arrays, **kw)
        try:
            return run(eng.lib, kernel, arrays, **kw)
        except Exception as exc:  # noqa: BLE001 - whatever the user's code raised under tracing
            from ..errors import CapabilityError
            from ..model._python import describe_exception

            fn = eng.function
            _, where = describe_exception(exc, fn.filename, fn.path)
            raise CapabilityError(
                f"backend '{self.name}' cannot run {fn.label} under {eng.lib.name} ({where}); write it "
                f"with array operations only (xp.where instead of if on values, xp.sin instead of "
                f"math.sin), or use --backend fd") from exc

    def _kernel(self, eng, op, layout):
        return eng.kernel(op, tuple(sorted(self.options_dict.items())), layout)

    def prepare(self, model, op, wrt=None) -> Prep:
        prep = make_prep(self, model, op, wrt)
        eng = engine(self.library_class, model, prep)
        return Prep(**{**prep.__dict__, "data": eng})

    @staticmethod
    def _split(eng, A):
        """``(layout, ZB, ZS)``: per-point columns and shared columns of A (see Engine.layout)."""
        import numpy as np

        A = np.asarray(A, dtype=np.float64)
        layout = eng.layout(A)
        B, S, _ = layout
        if not S:
            return layout, A, np.zeros(0)
        # B is usually the leading columns (inputs, then differentiated parameters): a view,
        # copied once when each chunk goes to the library.
        ZB = A[:, :len(B)] if B == tuple(range(len(B))) else A[:, list(B)]
        return layout, ZB, np.ascontiguousarray(A[0, list(S)])

    def jacobian(self, prep: Prep, A) -> Block:
        import numpy as np

        eng: Engine = prep.data
        layout, ZB, ZS = self._split(eng, A)
        m, k = eng.m, eng.k
        if m * k <= CHUNK_ENTRIES:
            y, J = self._run(eng, self._kernel(eng, "jacobian", layout), [ZB], shared=[ZS], per_point=m + m * k,
                       width=min(m, k), out_shapes=[(m,), (m, k)])
            return Block(value=y, derivative=J, error=None, nfev=1)
        # One point's Jacobian alone exceeds the chunk: blocks of directions, point by point.
        N = ZB.shape[0]
        J = np.empty((N, m, k))
        y = None
        fwd = k <= m
        width, other = (k, m) if fwd else (m, k)
        c = max(1, CHUNK_ENTRIES // other)
        c = 1 << (c.bit_length() - 1)
        kern = self._kernel(eng, "jacobian_fwd_block" if fwd else "jacobian_rev_block", layout)
        for s in range(0, width, c):
            e = min(s + c, width)
            E = np.zeros((c, width))
            E[np.arange(e - s), np.arange(s, e)] = 1.0
            yb, blk = self._run(eng, kern, [ZB], shared=[ZS, E], per_point=m + other * c, width=c,
                          out_shapes=[(m,), (m, c) if fwd else (c, k)])
            if y is None:
                y = yb
            if fwd:
                J[:, :, s:e] = blk[:, :, :e - s]
            else:
                J[:, s:e, :] = blk[:, :e - s, :]
        return Block(value=y, derivative=J, error=None, nfev=1)

    def _product(self, prep, op, A, V, per_point, width, out_shapes):
        import numpy as np

        eng: Engine = prep.data
        layout, ZB, ZS = self._split(eng, A)
        V = np.ascontiguousarray(V, dtype=np.float64)
        return self._run(eng, self._kernel(eng, op, layout), [ZB, V], shared=[ZS], per_point=per_point,
                   width=width, out_shapes=out_shapes)

    def hvp_operator(self, prep: Prep, a_row):
        """Hessian-vector products of output 0 at the point ``a_row`` (a row of ``A``), for
        matrix-free curvature: ``hv(Vb)`` with Vb (p, k) -> (p, k).  Used by
        :func:`jacli.hvp_function`; the point is a constant of the compiled program."""
        import numpy as np

        eng: Engine = prep.data
        layout, ZB, ZS = self._split(eng, np.asarray(a_row, dtype=np.float64).reshape(1, -1))
        return eng.hvp_at(layout, ZB[0], ZS, tuple(sorted(self.options_dict.items())))

    def jvp(self, prep: Prep, A, V) -> Block:
        m = len(prep.outputs)
        y, jv = self._product(prep, "jvp", A, V, 2 * m, 1, [(m,), (m,)])
        return Block(value=y, derivative=jv, error=None, nfev=1)

    def vjp(self, prep: Prep, A, U) -> Block:
        m, k = len(prep.outputs), len(prep.wrt)
        y, uj = self._product(prep, "vjp", A, U, m + k, 1, [(m,), (k,)])
        return Block(value=y, derivative=uj, error=None, nfev=1)

    def hessian(self, prep: Prep, A) -> Block:
        eng: Engine = prep.data
        layout, ZB, ZS = self._split(eng, A)
        m, k = eng.m, eng.k
        y, G, H = self._run(eng, self._kernel(eng, "hessian", layout), [ZB], shared=[ZS],
                      per_point=m + m * k + m * k * k, width=m * k, out_shapes=[(m,), (m, k), (m, k, k)])
        return Block(value=y, derivative=H, error=None, nfev=1, extra={"gradient": G})

    def hvp(self, prep: Prep, A, V) -> Block:
        m, k = len(prep.outputs), len(prep.wrt)
        y, HV = self._product(prep, "hvp", A, V, m + m * k, m, [(m,), (m, k)])
        return Block(value=y, derivative=HV, error=None, nfev=1)
