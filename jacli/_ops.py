"""The operators: validate arguments once, batch points, assign a status to every point."""
from __future__ import annotations

import math
from typing import Iterable, Iterator, Optional

from .errors import InputError, PointsFailed, UsageError
from .results import Result, Status

_DIAGNOSE_PER_BATCH = 50   # points per batch whose failure is traced to the failing function
UNRELIABLE_REL = 1e-4      # error estimate / row scale above which a numeric result is not "ok"
SCALE_FLOOR_REL = 1e-8     # floor of that scale, relative to 1 + max |f| (stationary points)
ROW_FLOOR_REL = 1e-6       # ... and relative to the point's largest derivative (zero rows)
#: The floor for second derivatives: differences of differences lose twice the digits
#: (rounding error ~ eps·|f|/h² ~ 1e-8·|f| for unit-scale inputs), so a Hessian that is
#: exactly zero (a linear output) is judged against 1e-6·(1 + |f|), not 1e-8·(1 + |f|).
SCALE_FLOOR_REL_2 = 1e-6


def _as_model(model, params):
    from .model import Model, load_model

    if not isinstance(model, Model):
        model = load_model(model)
    if params:
        model = model.with_params(dict(params))
    return model


def _points_array(model, at):
    """(N, n_inputs) float array from None (nominal), a dict, a sequence or an array."""
    import numpy as np

    names = model.input_names
    n = len(names)
    if at is None:
        return np.array([model.nominal], dtype=float).reshape(1, n)
    if isinstance(at, dict):
        unknown = [k for k in at if k not in names]
        if unknown:
            import difflib
            close = difflib.get_close_matches(unknown[0], names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UsageError(f"--at: '{unknown[0]}' is not an input of {model.name!r}{hint}; "
                             f"inputs: {', '.join(names)}")
        row = [float(at[k]) if k in at else v for k, v in zip(names, model.nominal)]
        return np.array([row], dtype=float)
    arr = np.asarray(at, dtype=float)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != n:
        raise UsageError(f"points must have {n} columns ({', '.join(names)}), got shape {arr.shape}")
    return arr


def _full_args(model, X):
    """Append parameter columns to the input points: the backends' ``A`` array."""
    import numpy as np

    pv = [q.value for q in model.parameters]
    if not pv:
        return np.ascontiguousarray(X, dtype=float)
    P = np.broadcast_to(np.asarray(pv, dtype=float), (X.shape[0], len(pv)))
    return np.concatenate([X, P], axis=1)


def prepare(model, op="jacobian", *, wrt=None, backend="auto", params=None):
    """Backend and Prep for ``op``: the one-time work, reusable across calls.

    Returns ``(model, backend, prep)``.
    """
    from .backends import get_backend

    model = _as_model(model, params)
    if backend == "auto" and getattr(model, "function", None) is not None:
        return model, *_prepare_auto_python(model, op, wrt)
    be = get_backend(backend, model)
    prep = be.prepare(model, op, wrt)
    return model, be, prep


def _prepare_auto_python(model, op, wrt):
    """``auto`` on a Python model: the first of jax, torch (where usable) and fd that runs it.

    AD backends need array code (``xp.sin``, no ``math.sin`` or ``if x > 0`` on inputs):
    each candidate is prepared and run once at the nominal point, and the next one is tried
    when that raises.  fd runs any code that evaluates, so it is the last resort.
    """
    import numpy as np

    from .backends import get_backend
    from .backends._registry import python_auto_candidates

    A0 = _full_args(model, np.array([model.nominal], dtype=float).reshape(1, -1))
    for name in python_auto_candidates():
        be = get_backend(name, model)
        if name == "fd":
            return be, be.prepare(model, op, wrt)
        try:
            p = be.prepare(model, op, wrt)
            width = {"jvp": len(p.wrt), "hvp": len(p.wrt), "vjp": len(p.outputs)}.get(op)
            _compute(be, p, op, A0, None if width is None else np.zeros((1, width)))
        except Exception:  # noqa: BLE001 - any failure of the user's code under AD: next candidate
            continue
        return be, p
    raise AssertionError("unreachable: fd is always a candidate")  # pragma: no cover


def jacobian(model, at=None, *, wrt=None, backend="auto", params=None, throw: bool = False,
             prep=None) -> Result:
    """The Jacobian of ``model`` at one or more points.

    Parameters
    ----------
    model : Model or str
        A model, or a path to a model file.
    at : None, dict, sequence or array of shape (N, n)
        The point(s); None is the nominal point; a dict may omit inputs (nominal values).
    wrt : sequence of str, optional
        Differentiation variables (inputs and/or parameters); default all inputs.
    backend : str or Backend
        ``"auto"``, ``"sympy"``, ``"fd"``, ``"fd:order=4"``, ``"complex"``, or an instance.
    params : dict, optional
        Parameter overrides.
    throw : bool
        Raise :class:`~jacli.errors.PointsFailed` if any point fails, instead of
        returning its status.
    prep : tuple, optional
        ``(backend, Prep)`` from :func:`prepare`, to skip the one-time work.

    Returns
    -------
    Result
        ``derivative`` has shape (N, m, k).

    Examples
    --------
    >>> import jacli
    >>> m = jacli.model_from_expressions("x*y, sin(x) + y")
    >>> r = jacli.jacobian(m, {"x": 1.0, "y": 2.0})
    >>> r.derivative[0].tolist()
    [[2.0, 1.0], [0.5403023058681398, 1.0]]
    """
    return _operator("jacobian", model, at, None, wrt=wrt, backend=backend, params=params,
                     throw=throw, prep=prep)


def jvp(model, at=None, vector=None, *, wrt=None, backend="auto", params=None, throw=False,
        prep=None) -> Result:
    """Jacobian-vector products ``J v`` without forming ``J`` (where the backend allows).

    ``vector`` has length k (= len(wrt)) or shape (N, k).  ``derivative`` has shape (N, m).

    Examples
    --------
    >>> import jacli
    >>> m = jacli.model_from_expressions("x*y, sin(x) + y")
    >>> jacli.jvp(m, {"x": 0.0, "y": 2.0}, [1.0, -1.0]).derivative.tolist()
    [[2.0, 0.0]]
    """
    return _operator("jvp", model, at, vector, wrt=wrt, backend=backend, params=params,
                     throw=throw, prep=prep)


def vjp(model, at=None, vector=None, *, wrt=None, backend="auto", params=None, throw=False,
        prep=None) -> Result:
    """Vector-Jacobian products ``uᵀJ``; with ``sympy`` by reverse accumulation (cost ~ f).

    ``vector`` has length m or shape (N, m).  ``derivative`` has shape (N, k).  Backends
    without a reverse mode form the Jacobian and say so in ``extra["cost"]``.

    Examples
    --------
    >>> import jacli
    >>> m = jacli.model_from_expressions("x*y, sin(x) + y")
    >>> jacli.vjp(m, {"x": 0.0, "y": 2.0}, [1.0, 1.0]).derivative.tolist()
    [[3.0, 1.0]]
    """
    return _operator("vjp", model, at, vector, wrt=wrt, backend=backend, params=params,
                     throw=throw, prep=prep)


def hessian(model, at=None, *, outputs=None, of=None, wrt=None, backend="auto", params=None,
            throw=False, prep=None) -> Result:
    """Hessians of the selected outputs (or of ``½‖f‖²`` with ``of="sumsq"``).

    ``derivative`` has shape (N, q, k, k) for q selected outputs (q = 1 with ``sumsq``);
    ``extra["gradient"]`` (N, q, k).  With ``of="sumsq"`` also ``extra["gauss_newton"]``
    (JᵀJ, (N, k, k)), ``extra["neglected"]`` (Σ fᵢ∇²fᵢ) and ``extra["neglected_norm"]``
    (its spectral norm, (N,)).

    Examples
    --------
    >>> import jacli
    >>> m = jacli.model_from_expressions("x**2*y")
    >>> jacli.hessian(m, {"x": 1.0, "y": 3.0}).derivative[0, 0].tolist()
    [[6.0, 2.0], [2.0, 0.0]]
    """
    if of not in (None, "sumsq"):
        raise UsageError(f"--of: unknown objective {of!r}; supported: sumsq")
    model = _as_model(model, params)
    if of is None:
        model = model.select_outputs(outputs)
    elif outputs is not None:
        model = model.select_outputs(outputs)
    res = _operator("hessian", model, at, None, wrt=wrt, backend=backend, params=None,
                    throw=throw, prep=prep)
    return _sumsq(res) if of == "sumsq" else res


def hvp(model, at=None, vector=None, *, outputs=None, wrt=None, backend="auto", params=None,
        throw=False, prep=None) -> Result:
    """Hessian-vector products ``∇²fᵢ v`` of the selected outputs without forming the Hessian
    (forward over reverse with ``sympy``).  ``derivative`` has shape (N, q, k).

    Examples
    --------
    >>> import jacli
    >>> m = jacli.model_from_expressions("x**2*y")
    >>> jacli.hvp(m, {"x": 1.0, "y": 3.0}, [1.0, 0.0]).derivative[0, 0].tolist()
    [6.0, 2.0]
    """
    model = _as_model(model, params).select_outputs(outputs)
    return _operator("hvp", model, at, vector, wrt=wrt, backend=backend, params=None,
                     throw=throw, prep=prep)


def hvp_function(model, at=None, *, output=None, wrt=None, backend="auto", params=None):
    """A matrix-free Hessian operator of one output at one point: ``(hvp, k, names)``.

    ``hvp(V)`` takes a vector (k,) or a block (k, p) and returns ∇²f·V of the same shape,
    without ever forming the k×k Hessian (sympy: forward over reverse, one generated
    evaluation per column of V; a backend with ``hvp_operator`` — jax, torch — compiles the
    products at the point once).  For matrix-free curvature (Lanczos, trace estimates).

    Examples
    --------
    >>> import jacli, numpy as np
    >>> m = jacli.model_from_expressions("x**2*y + y**3")
    >>> hv, k, names = jacli.hvp_function(m, {"x": 1.0, "y": 2.0})
    >>> hv(np.array([1.0, 0.0])).tolist()
    [4.0, 2.0]
    """
    import numpy as np

    model = _as_model(model, params)
    if output is None:
        if len(model.outputs) != 1:
            raise UsageError(f"{model.name!r} has {len(model.outputs)} outputs; choose one "
                             f"({', '.join(model.output_names)})")
        output = model.output_names[0]
    model = model.select_outputs([output])
    model, be, p = prepare(model, "hvp", wrt=wrt, backend=backend)
    X = _points_array(model, at)
    if X.shape[0] != 1:
        raise UsageError("a matrix-free Hessian operator is defined at one point")
    A1 = _full_args(model, X)
    k = len(p.wrt)
    at_point = getattr(be, "hvp_operator", None)      # a backend's operator at a fixed point
    if at_point is not None:
        fixed = at_point(p, A1[0])

        def hv(V):
            V = np.asarray(V, dtype=float)
            single = V.ndim == 1
            out = fixed(np.ascontiguousarray(V.reshape(k, -1).T))       # (p, k)
            return out[0] if single else out.T
        return hv, k, p.wrt

    def hv(V):
        V = np.asarray(V, dtype=float)
        single = V.ndim == 1
        Vb = V.reshape(k, -1).T                       # (p, k): one product per column
        A = np.broadcast_to(A1, (Vb.shape[0], A1.shape[1]))
        out = _compute(be, p, "hvp", A, Vb).derivative[:, 0, :]   # (p, k)
        return out[0] if single else out.T

    return hv, k, p.wrt


def _operator(op, model, at, vector, *, wrt, backend, params, throw, prep) -> Result:
    model = _as_model(model, params)
    if prep is None:
        model, be, p = prepare(model, op, wrt=wrt, backend=backend)
    else:
        be, p = prep
        p.check(be.spec, model.fingerprint, op, tuple(wrt) if wrt is not None else model.input_names)
    X = _points_array(model, at)
    W = _vectors(op, p, vector, X.shape[0])
    res = _evaluate(model, be, p, X, W)
    if throw and not res.ok:
        bad = int((res.status != Status.OK).argmax())
        raise PointsFailed(f"point {bad}: {res.messages[bad]}")
    return res


def _vectors(op, p, vector, N):
    """Validate the vector of a product: (N, len) array, or None for jacobian/hessian."""
    import numpy as np

    if op in ("jacobian", "hessian"):
        if vector is not None:
            raise UsageError(f"{op} takes no vector")
        return None
    names = p.outputs if op == "vjp" else p.wrt
    if vector is None:
        raise UsageError(f"{op} needs a vector of length {len(names)} ({', '.join(names)})")
    if isinstance(vector, dict):
        unknown = [k for k in vector if k not in names]
        if unknown:
            raise InputError(f"--vector: '{unknown[0]}' is not one of {', '.join(names)}")
        vector = [float(vector.get(k, 0.0)) for k in names]
    W = np.asarray(vector, dtype=float)
    if W.ndim == 1:
        W = np.broadcast_to(W, (N, W.shape[0]))
    if W.ndim != 2 or W.shape[1] != len(names) or W.shape[0] != N:
        raise InputError(f"--vector: expected {len(names)} values ({', '.join(names)}), "
                         f"got shape {tuple(np.shape(vector))}")
    if not np.isfinite(W).all():
        raise InputError("--vector: values must be finite numbers")
    return np.ascontiguousarray(W)


def stream(op, model, records: Iterable, *, wrt=None, backend="auto", params=None, outputs=None,
           of=None, batch_size: int = 4096) -> Iterator[Result]:
    """Results over a stream of points, one :class:`Result` per batch.

    ``records`` yields ``(values, error)`` or ``(values, error, vector)``: ``values`` a
    sequence in input order, or None with ``error`` a message (a bad row), which becomes
    a BAD_INPUT point while the others go on.  Memory is bounded by ``batch_size``.
    """
    import numpy as np

    model = _as_model(model, params)
    if op in ("hessian", "hvp"):
        model = model.select_outputs(outputs)
    model, be, p = prepare(model, op, wrt=wrt, backend=backend)
    n = len(model.input_names)
    batch: list = []

    def flush():
        X = np.full((len(batch), n), np.nan)
        bad, good, vecs = {}, [], []
        for i, rec in enumerate(batch):
            vals, err = rec[0], rec[1]
            if vals is None:
                bad[i] = err or "bad input"
                continue
            X[i] = vals
            good.append(i)
            if len(rec) > 2:
                vecs.append(rec[2])
        res = None
        if good:
            W = _vectors(op, p, np.asarray(vecs) if op in ("jvp", "vjp", "hvp") else None, len(good))
            res = _evaluate(model, be, p, X[good], W)
            if of == "sumsq":
                res = _sumsq(res)
        return _merge_bad(model, be, p, X, good, res, bad, op, of)

    for rec in records:
        batch.append(rec)
        if len(batch) >= batch_size:
            yield flush()
            batch = []
    if batch:
        yield flush()


def jacobian_stream(model, records: Iterable, **kw) -> Iterator[Result]:
    """Jacobians over a stream of points; see :func:`stream`."""
    return stream("jacobian", model, records, **kw)


def _shape(op, p):
    m, k = len(p.outputs), len(p.wrt)
    return {"jacobian": (m, k), "jvp": (m,), "vjp": (k,), "hessian": (m, k, k), "hvp": (m, k)}[op]


def _merge_bad(model, be, p, X, good, res, bad, op="jacobian", of=None) -> Result:
    import numpy as np

    if not bad:
        return res
    N = X.shape[0]
    template = res
    if res is None and of == "sumsq":
        # every point of the batch was bad: still the shapes and keys of a sum-of-squares result
        k, m0 = len(p.wrt), len(p.outputs)
        nan = np.nan
        res_outputs = ("sumsq",)
        extra0 = {"gradient": np.full((0, 1, k), nan), "gauss_newton": np.full((0, k, k), nan),
                  "neglected": np.full((0, k, k), nan), "neglected_norm": np.full((0,), nan),
                  "residuals": np.full((0, m0), nan), "residual_names": p.outputs}
        template = Result(op=op, backend=be.spec, exact=be.capabilities.exact, inputs=model.input_names,
                          wrt=p.wrt, outputs=res_outputs, at=X[:0], value=np.full((0, 1), nan),
                          derivative=np.full((0, 1, k, k), nan), error=None, status=np.zeros(0, int),
                          messages=(), nfev=0, extra=extra0)
        good, res = [], template
    m = len(res.outputs) if res is not None else len(p.outputs)
    shape = res.derivative.shape[1:] if res is not None else _shape(op, p)
    value = np.full((N, m), np.nan)
    D = np.full((N,) + tuple(shape), np.nan)
    has_err = res.error is not None if res is not None else not be.capabilities.exact
    err = np.full(D.shape, np.nan) if has_err else None
    status = np.full(N, int(Status.BAD_INPUT))
    messages = [None] * N
    for i, msg in bad.items():
        messages[i] = msg
    extra = {}
    if res is not None:
        value[good] = res.value
        D[good] = res.derivative
        if err is not None:
            err[good] = res.error
        status[good] = res.status
        for gi, i in enumerate(good):
            messages[i] = res.messages[gi]
        for key, v in res.extra.items():
            if isinstance(v, np.ndarray) and v.shape[:1] == (len(good),):
                full = np.full((N,) + v.shape[1:], np.nan)
                full[good] = v
                extra[key] = full
            else:
                extra[key] = v
    return Result(op=op, backend=be.spec, exact=be.capabilities.exact, inputs=model.input_names,
                  wrt=p.wrt, outputs=template.outputs if template is not None else p.outputs, at=X,
                  value=value, derivative=D, error=err, status=status, messages=tuple(messages),
                  nfev=res.nfev if res is not None else 0, params=model.param_values,
                  structure=res.structure if res is not None else be.structure(p), extra=extra)


def _compute(be, p, op, A, W):
    from .backends._derived import jvp_from_jacobian, vjp_from_jacobian
    from .backends._protocol import Backend

    if op == "jacobian":
        return be.jacobian(p, A)
    if op == "jvp":
        return be.jvp(p, A, W) if be.capabilities.forward else jvp_from_jacobian(be, p, A, W)
    if op == "vjp":
        if not be.capabilities.reverse and type(be).vjp is Backend.vjp:
            return vjp_from_jacobian(be, p, A, W)
        return be.vjp(p, A, W)
    if op == "hessian":
        return be.hessian(p, A)
    return be.hvp(p, A, W)


def _evaluate(model, be, p, X, W=None) -> Result:
    import numpy as np

    op = p.op
    A = _full_args(model, X)
    block = _compute(be, p, op, A, W)
    value = np.asarray(block.value, dtype=float)
    D = np.asarray(block.derivative, dtype=float)
    err = None if block.error is None else np.asarray(block.error, dtype=float)
    status, messages = point_status(model, p, A, value, D, err)
    if getattr(model, "function", None) is not None and op == "jacobian":
        shapes = array_shapes(model, p.wrt)
        if shapes is not None:
            block.extra = {**block.extra, "shapes": shapes}
    failed = (status == Status.DOMAIN_ERROR) | (status == Status.USER_ERROR)
    extra = dict(block.extra)
    if W is not None:
        extra["vector"] = W
    if failed.any():
        # A derivative at a point where the model is undefined is meaningless: never report it.
        D = D.copy()
        D[failed] = np.nan
        if err is not None:
            err = err.copy()
            err[failed] = np.nan
        for key, v in extra.items():
            if key != "vector" and isinstance(v, np.ndarray) and v.shape[:1] == (len(X),):
                v = v.copy()
                v[failed] = np.nan
                extra[key] = v
    return Result(op=op, backend=be.spec, exact=be.capabilities.exact, inputs=model.input_names,
                  wrt=p.wrt, outputs=p.outputs, at=X, value=value, derivative=D, error=err,
                  status=status, messages=messages, nfev=block.nfev, params=model.param_values,
                  structure=be.structure(p) if op == "jacobian" else None, extra=extra)


def array_shapes(model, wrt) -> Optional[dict]:
    """Shapes of a Python model's array-valued inputs and outputs, for reshaping a Jacobian.

    None when every input, parameter and output is a scalar.  Otherwise
    ``{"inputs": {name: shape}, "outputs": {name: shape}, "columns": {name: [j, ...]},
    "rows": {name: [i, ...]}}``: the wrt columns and output rows of each named array, in
    C order (an input only when ``wrt`` holds all its elements, in order).
    """
    pf = model.function
    if pf is None or not pf.has_arrays:
        return None
    from .model._python import _element_names

    col = {w: j for j, w in enumerate(wrt)}
    inputs, columns = {}, {}
    for name, shape in list(pf.input_shapes.items()) + list(pf.param_shapes.items()):
        elems = _element_names(name, shape)
        if all(e in col for e in elems):
            inputs[name], columns[name] = list(shape), [col[e] for e in elems]
    row = {o: i for i, o in enumerate(model.output_names)}
    outputs, rows = {}, {}
    for name, shape in pf.output_shapes.items():
        elems = _element_names(name, shape)
        if all(e in row for e in elems):
            outputs[name], rows[name] = list(shape), [row[e] for e in elems]
    return {"inputs": inputs, "outputs": outputs, "columns": columns, "rows": rows}


def _sumsq(res: Result) -> Result:
    """Hessian of s = ½‖f‖² from per-output Hessians: JᵀJ + Σ fᵢ∇²fᵢ (Gauss–Newton split)."""
    import numpy as np
    from dataclasses import replace

    f = res.value                                  # (N, m)
    J = res.extra["gradient"]                      # (N, m, k)
    H = res.derivative                             # (N, m, k, k)
    gn = np.einsum("nik,nil->nkl", J, J)
    S = np.einsum("ni,nikl->nkl", f, H)
    with np.errstate(all="ignore"):
        norms = np.array([np.linalg.norm(Si, 2) if np.isfinite(Si).all() else np.nan for Si in S])
    Hs = (gn + S)[:, None]
    err = None
    if res.error is not None:
        gerr = res.extra.get("gradient_error")
        e = np.einsum("ni,nikl->nkl", np.abs(f), res.error)
        if gerr is not None:
            aJ = np.abs(J)
            e = e + np.einsum("nik,nil->nkl", aJ, gerr) + np.einsum("nik,nil->nkl", gerr, aJ)
        err = e[:, None]
    value = 0.5 * np.sum(f * f, axis=1, keepdims=True)
    grad = np.einsum("ni,nik->nk", f, J)[:, None]
    extra = {"gradient": grad, "gauss_newton": gn, "neglected": S, "neglected_norm": norms,
             "residuals": f, "residual_names": res.outputs}
    return replace(res, outputs=("sumsq",), value=value, derivative=Hs, error=err, extra=extra)


def point_status(model, p, A, value, D, err=None):
    """Status and message per point from the finiteness of values and derivatives."""
    import numpy as np

    N = value.shape[0]
    status = np.zeros(N, dtype=int)
    messages: list = [None] * N
    dflat = D.reshape(N, -1)
    if np.isfinite(value).all() and np.isfinite(dflat).all():
        # the usual case, checked as a whole (row-wise all() over a short axis is 8x slower:
        # 4 ms of a 25 ms batch of 1e5 vector-Jacobian products)
        vbad = dbad = np.zeros(N, dtype=bool)
    else:
        vbad = ~np.isfinite(value).all(axis=1)
        dbad = ~np.isfinite(dflat).all(axis=1)
    diagnosed = 0
    python = getattr(model, "function", None) is not None
    for i in np.flatnonzero(vbad | dbad):
        if vbad[i]:
            status[i] = Status.DOMAIN_ERROR
            outs = [p.outputs[j] for j in np.flatnonzero(~np.isfinite(value[i]))]
            detail = None
            if python:
                # Always re-run a failed point: whether the user's code raised decides the status.
                raised = model.function.explain(A[i])
                if raised is not None:
                    status[i] = Status.USER_ERROR
                    messages[i] = raised
                    continue
                messages[i] = (f"output {', '.join(map(repr, outs[:3]))}{' ...' if len(outs) > 3 else ''} "
                               "is not finite (NaN or infinity from the model's code)")
                continue
            if diagnosed < _DIAGNOSE_PER_BATCH:
                diagnosed += 1
                detail = diagnose(model, A[i], [model.output_names.index(o) for o in outs[:1]])
            msg = f"output {', '.join(map(repr, outs[:3]))}{' ...' if len(outs) > 3 else ''} is not finite"
            messages[i] = msg + (f": {detail}" if detail else " (a function is outside its domain)")
        else:
            status[i] = Status.NONFINITE
            bad = np.flatnonzero(~np.isfinite(D[i].reshape(-1)))
            k = len(p.wrt)
            if p.op == "jacobian":
                r, c = divmod(int(bad[0]), k)
                what = f"d({p.outputs[r]})/d({p.wrt[c]})"
            elif p.op == "hessian":
                r, rest = divmod(int(bad[0]), k * k)
                a, b = divmod(rest, k)
                what = f"d²({p.outputs[r]})/d({p.wrt[a]})d({p.wrt[b]})"
            else:
                what = f"a {p.op} entry"
            messages[i] = (f"{what} is not finite here ({len(bad)} entr{'y' if len(bad) == 1 else 'ies'}); "
                           "the model is not differentiable at this point or overflows near it")
    if err is not None:
        nc = ~np.isfinite(err.reshape(N, -1)).all(axis=1) & (status == 0)
        for i in np.flatnonzero(nc):
            status[i] = Status.NOT_CONVERGED
            messages[i] = "the error estimate is not finite: the model is not smooth or not finite near this point"
        # An estimate above UNRELIABLE_REL of its row's scale means the differences did not
        # settle (a singularity or kink within the step): say so instead of reporting "ok".
        Dm = D.reshape(N, D.shape[1], -1) if D.ndim >= 3 else D.reshape(N, 1, -1)
        Em = err.reshape(Dm.shape)
        with np.errstate(all="ignore"):
            scale = np.abs(Dm).max(axis=2, keepdims=True)
            # At a stationary point the row's scale is ~0 (J ~ 1e-17 at a minimum) while an
            # honest estimate sits at rounding level: floor the scale by the outputs' size so
            # a correct near-zero derivative is not called unreliable.
            # Rows that are exactly zero (structural zeros) are judged against the point's
            # largest derivative instead.
            fmag = np.nan_to_num(np.abs(value), nan=0.0, posinf=0.0).max(axis=1)
            dmag = np.nan_to_num(np.abs(Dm), nan=0.0, posinf=0.0).reshape(N, -1).max(axis=1)
            if p.op == "hessian":
                # Entry (a, b) has the units of f / (x_a x_b): scale the floor by the inputs'
                # magnitudes (the point's, else the nominal's, else 1), so small-valued inputs
                # (x = 0.01 m) do not make an exactly zero Hessian look unreliable.
                k = len(p.wrt)
                xs = np.abs(np.asarray(A, dtype=float)[:, list(p.wrt_idx)])
                nom = _nominal_scales(model, p)
                xs = np.where(xs > 0, xs, nom[None, :])
                outer = (xs[:, :, None] * xs[:, None, :]).reshape(N, 1, k * k)
                floor = np.maximum(SCALE_FLOOR_REL_2 * (1.0 + fmag)[:, None, None] / outer,
                                   ROW_FLOOR_REL * dmag[:, None, None])
            else:
                rel = SCALE_FLOOR_REL_2 if p.op == "hvp" else SCALE_FLOOR_REL
                floor = np.maximum(rel * (1.0 + fmag), ROW_FLOOR_REL * dmag)[:, None, None]
            ratio = Em / np.maximum(scale, floor)
        worst = np.nan_to_num(ratio, nan=0.0, posinf=0.0).reshape(N, -1).max(axis=1)
        for i in np.flatnonzero((worst > UNRELIABLE_REL) & (status == 0)):
            status[i] = Status.NOT_CONVERGED
            messages[i] = (f"the error estimate is {worst[i]:.1e} of the derivative's scale: the "
                           "result is unreliable (a singularity or kink near this point?); try "
                           "--backend sympy or complex")
    return status, tuple(messages)


def _nominal_scales(model, p):
    """|nominal value| of each differentiation variable, 1 where it is 0."""
    import numpy as np

    values = dict(zip(model.input_names, model.nominal))
    values.update(model.param_values)
    v = np.abs(np.array([float(values.get(w, 0.0)) for w in p.wrt]))
    return np.where(v > 0, v, 1.0)


def diagnose(model, a_row, output_indices) -> Optional[str]:
    """Trace a non-finite output to the first function that failed, e.g.
    ``log(x - 2) with argument -1`` — interpreting the DAG at one point.

    For a Python-function model: the exception its code raises at this point, as
    ``model.py:12 in f: ValueError: math domain error`` (None if it raises none).
    """
    import numpy as np

    from .model import _codegen, _expr

    if getattr(model, "function", None) is not None:
        return model.function.explain(a_row)

    roots = [model.outputs[i].expr for i in output_indices] or [eq.expr for eq in model.outputs]
    names = tuple(model.input_names) + tuple(model.parameter_names)
    env = dict(zip(names, (float(v) for v in a_row)))
    order = _expr.topo_order(roots)
    funcs = set()
    for n in order:
        if n.op == "call":
            funcs.add(_codegen._NP_NAMES.get(n.val, n.val))
    ns = _codegen.namespace(funcs | {"sqrt"})
    val: dict = {}
    with np.errstate(all="ignore"):
        for n in order:
            a = [val[c] for c in n.args]
            if n.op == "const":
                v = float(n.val)
            elif n.op == "named":
                v = math.pi if n.val == "pi" else math.e
            elif n.op == "sym":
                v = env.get(n.val, float("nan"))
            elif n.op == "add":
                v = float(np.sum(a))
            elif n.op == "mul":
                v = float(np.prod(a))
            elif n.op == "pow":
                v = float(np.power(a[0], a[1]))
            elif n.op == "call":
                if n.val == "polygamma":
                    v = float(ns["polygamma"](int(n.args[0].val), a[1]))
                else:
                    v = float(ns[_codegen._NP_NAMES.get(n.val, n.val)](*a))
            elif n.op == "cmp":
                v = float({"lt": a[0] < a[1], "le": a[0] <= a[1], "gt": a[0] > a[1], "ge": a[0] >= a[1],
                           "eq": a[0] == a[1], "ne": a[0] != a[1]}[n.val])
            else:
                v = float({"and": lambda: bool(a[0]) and bool(a[1]), "or": lambda: bool(a[0]) or bool(a[1]),
                           "not": lambda: not a[0]}[n.val]())
            val[n] = v
            if not math.isfinite(v) and all(math.isfinite(x) for x in a):
                if n.op == "call" and n.val == "where":
                    continue
                text = _short(n)
                args = ", ".join(_fmt(x) for x in a)
                if n.op == "pow":
                    if a[0] == 0:
                        return f"{text} divides by zero"
                    return f"{text} is undefined for base {_fmt(a[0])} and exponent {_fmt(a[1])}"
                if n.op == "call":
                    return f"{text} is undefined or infinite at argument{'s' if len(a) > 1 else ''} {args}"
                return f"{text} overflows"
    return None


def _short(n) -> str:
    from .model import _expr

    s = _expr.to_str(n)
    return s if len(s) <= 60 else s[:57] + "..."


def _fmt(x: float) -> str:
    return f"{x:.6g}"

