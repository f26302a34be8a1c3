"""The operators: validate arguments once, batch points, assign a status to every point."""
from __future__ import annotations

import math
from typing import Iterable, Iterator, Optional

from .errors import PointsFailed, UsageError
from .results import Result, Status

_DIAGNOSE_PER_BATCH = 50   # points per batch whose failure is traced to the failing function
UNRELIABLE_REL = 1e-4      # error estimate / row scale above which a numeric result is not "ok"


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
    be = get_backend(backend, model)
    prep = be.prepare(model, op, wrt)
    return model, be, prep


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

    Examples
    --------
    >>> import jacli
    >>> m = jacli.model_from_expressions("x*y, sin(x) + y")
    >>> r = jacli.jacobian(m, {"x": 1.0, "y": 2.0})
    >>> r.derivative[0].tolist()
    [[2.0, 1.0], [0.5403023058681398, 1.0]]
    """
    model = _as_model(model, params)
    if prep is None:
        model, be, p = prepare(model, "jacobian", wrt=wrt, backend=backend)
    else:
        be, p = prep
        p.check(be.spec, model.fingerprint, "jacobian", tuple(wrt) if wrt is not None else model.input_names)
    X = _points_array(model, at)
    res = _evaluate(model, be, p, X)
    if throw and not res.ok:
        bad = int((res.status != Status.OK).argmax())
        raise PointsFailed(f"point {bad}: {res.messages[bad]}")
    return res


def jacobian_stream(model, records: Iterable, *, wrt=None, backend="auto", params=None,
                    batch_size: int = 4096) -> Iterator[Result]:
    """Jacobians over a stream of points, one :class:`Result` per batch.

    ``records`` yields ``(values, error)``: ``values`` a sequence in input order, or None
    with ``error`` a message (a bad row), which becomes a BAD_INPUT point while the others go on.
    Memory is bounded by ``batch_size``.
    """
    import numpy as np

    model, be, p = prepare(model, "jacobian", wrt=wrt, backend=backend, params=params)
    n = len(model.input_names)
    batch: list = []

    def flush():
        X = np.full((len(batch), n), np.nan)
        bad = {}
        good = []
        for i, (vals, err) in enumerate(batch):
            if vals is None:
                bad[i] = err or "bad input"
            else:
                X[i] = vals
                good.append(i)
        if good:
            res = _evaluate(model, be, p, X[good])
        else:
            res = None
        return _merge_bad(model, be, p, X, good, res, bad)

    for rec in records:
        batch.append(rec)
        if len(batch) >= batch_size:
            yield flush()
            batch = []
    if batch:
        yield flush()


def _merge_bad(model, be, p, X, good, res, bad) -> Result:
    import numpy as np

    if not bad:
        return res
    N = X.shape[0]
    m, k = len(p.outputs), len(p.wrt)
    value = np.full((N, m), np.nan)
    J = np.full((N, m, k), np.nan)
    err = None if be.capabilities.exact else np.full((N, m, k), np.nan)
    status = np.full(N, int(Status.BAD_INPUT))
    messages = [None] * N
    for i, msg in bad.items():
        messages[i] = msg
    if res is not None:
        value[good] = res.value
        J[good] = res.derivative
        if err is not None and res.error is not None:
            err[good] = res.error
        status[good] = res.status
        for gi, i in enumerate(good):
            messages[i] = res.messages[gi]
    structure = res.structure if res is not None else be.structure(p)
    return Result(op="jacobian", backend=be.spec, exact=be.capabilities.exact, inputs=model.input_names,
                  wrt=p.wrt, outputs=p.outputs, at=X, value=value, derivative=J, error=err,
                  status=status, messages=tuple(messages), nfev=res.nfev if res is not None else 0,
                  params=model.param_values, structure=structure)


def _evaluate(model, be, p, X) -> Result:
    import numpy as np

    A = _full_args(model, X)
    block = be.jacobian(p, A)
    value = np.asarray(block.value, dtype=float)
    J = np.asarray(block.derivative, dtype=float)
    err = None if block.error is None else np.asarray(block.error, dtype=float)
    status, messages = point_status(model, p, A, value, J, err)
    failed = status == Status.DOMAIN_ERROR
    if failed.any():
        # A derivative at a point where the model is undefined is meaningless: never report it.
        J[failed] = np.nan
        if err is not None:
            err[failed] = np.nan
    return Result(op="jacobian", backend=be.spec, exact=be.capabilities.exact, inputs=model.input_names,
                  wrt=p.wrt, outputs=p.outputs, at=X, value=value, derivative=J, error=err,
                  status=status, messages=messages, nfev=block.nfev, params=model.param_values,
                  structure=be.structure(p))


def point_status(model, p, A, value, D, err=None):
    """Status and message per point from the finiteness of values and derivatives."""
    import numpy as np

    N = value.shape[0]
    status = np.zeros(N, dtype=int)
    messages: list = [None] * N
    vbad = ~np.isfinite(value).all(axis=1)
    dflat = D.reshape(N, -1)
    dbad = ~np.isfinite(dflat).all(axis=1)
    diagnosed = 0
    for i in np.flatnonzero(vbad | dbad):
        if vbad[i]:
            status[i] = Status.DOMAIN_ERROR
            outs = [p.outputs[j] for j in np.flatnonzero(~np.isfinite(value[i]))]
            detail = None
            if diagnosed < _DIAGNOSE_PER_BATCH:
                diagnosed += 1
                detail = diagnose(model, A[i], [model.output_names.index(o) for o in outs[:1]])
            msg = f"output {', '.join(map(repr, outs[:3]))}{' ...' if len(outs) > 3 else ''} is not finite"
            messages[i] = msg + (f": {detail}" if detail else " (a function is outside its domain)")
        else:
            status[i] = Status.NONFINITE
            bad = np.argwhere(~np.isfinite(D[i].reshape(len(p.outputs), -1)))
            r, c = bad[0]
            wrt = p.wrt[c] if D.ndim == 3 else None
            what = f"d({p.outputs[r]})/d({wrt})" if wrt else "a derivative"
            messages[i] = (f"{what} is not finite here ({len(bad)} entr{'y' if len(bad) == 1 else 'ies'}); "
                           "the model is not differentiable at this point or overflows near it")
    if err is not None:
        nc = ~np.isfinite(err.reshape(N, -1)).all(axis=1) & (status == 0)
        for i in np.flatnonzero(nc):
            status[i] = Status.NOT_CONVERGED
            messages[i] = "the error estimate is not finite: the model is not smooth or not finite near this point"
        # An estimate above UNRELIABLE_REL of its row's scale means the differences did not
        # settle (a singularity or kink within the step): say so instead of reporting "ok".
        Dm = D.reshape(N, D.shape[1], -1) if D.ndim == 3 else D.reshape(N, 1, -1)
        Em = err.reshape(Dm.shape)
        with np.errstate(all="ignore"):
            scale = np.abs(Dm).max(axis=2, keepdims=True)
            ratio = np.where(scale > 0, Em / scale, Em)
        worst = np.nan_to_num(ratio, nan=0.0, posinf=0.0).reshape(N, -1).max(axis=1)
        for i in np.flatnonzero((worst > UNRELIABLE_REL) & (status == 0)):
            status[i] = Status.NOT_CONVERGED
            messages[i] = (f"the error estimate is {worst[i]:.1e} of the derivative's scale: the "
                           "result is unreliable (a singularity or kink near this point?); try "
                           "--backend sympy or complex")
    return status, tuple(messages)


def diagnose(model, a_row, output_indices) -> Optional[str]:
    """Trace a non-finite output to the first function that failed, e.g.
    ``log(x - 2) with argument -1`` — interpreting the DAG at one point."""
    import numpy as np

    from .model import _codegen, _expr

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

