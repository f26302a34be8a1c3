"""Derivative checking: every backend against the most trustworthy one, or a user's own Jacobian.

:func:`check` computes the Jacobian (or, with ``hessian=True``, the Hessians) of a model
with every available backend at the same points and compares each one, entry by entry,
with a *reference*: the most trustworthy backend that could do the model.  With
``jacobian_fn`` it checks a user's hand-written Jacobian function instead (the gradcheck
people want for their own code).  The answer is a :class:`CheckReport`: the reference, one
:class:`BackendCheck` per backend (skipped ones with their reason), the points and a
verdict.

Reference
---------
Backends are ranked by what they *declare* (never by name):

==========  ==========================================  =========================
rank        declared capabilities                       built-ins
==========  ==========================================  =========================
symbolic    ``exact`` and ``symbolic_output``           ``sympy``
complex     ``requires_analytic`` (complex step)        ``complex``
AD          ``exact`` (without symbolic output)         ``jax``, ``torch``
estimate    ``error_estimate``                          ``fd``
numeric     nothing of the above                        (a plug-in)
==========  ==========================================  =========================

For Hessians, complex step ranks after AD: its Hessian is a difference of complex-step
gradients, no longer exact to rounding.  The reference is the best-ranked backend that
ran and has at least one good point (ties: registration order, built-ins first).

Relative error
--------------
For an entry ``a`` and its reference value ``r`` at one point, the relative error is
``|a - r| / s``, where the scale ``s`` is the largest ``|r|`` of the entry's *row* — the
output's gradient for a Jacobian, the output's whole Hessian for a Hessian — floored at
``1e-6`` times the largest ``|r|`` at that point (so a row that is exactly zero is not
judged against nothing); at a point where the reference is zero everywhere, ``s = 1``
(the error is absolute).  Scaling by the row rather than the entry keeps entries that are
zero up to rounding (``1e-17`` against ``0``) from producing huge relative errors.

Tolerances (``allowed |a - r|`` per entry)
------------------------------------------
Each follows the checked method:

* exact (symbolic, AD): ``1e-10 s`` — both sides are exact up to rounding; the slack
  covers differently ordered arithmetic with cancellation.
* complex step (Jacobian): ``1e-12 s`` (measured: at most 1.0e-14 over the 14 samples
  at 201 points each; see docs/check.md).
* with an error estimate (``fd``; complex-step Hessians): ``2·(e_a + e_r) + 1e-12 s`` —
  within twice the two methods' own error estimates (an estimate is not a bound; measured
  on the samples, ``fd`` used at most 14 % of this allowance).
* no declared accuracy: ``1e-6 s``.
* a user's Jacobian function: ``1e-10 s`` (plus ``2 e_r`` when the reference has an
  error estimate).

``rtol`` replaces the relative part (``1e-10``/``1e-12``/``1e-6``) for every method.

Points
------
The nominal point, ``at`` (a dict, or an (N, n) array), or ``points`` (records
``(values, error)`` as :func:`jacli.stream` takes; a bad record is reported), followed
by ``random`` points drawn (``numpy.random.default_rng(seed)``) uniformly within each
input's ``bounds``, or, for an input without bounds, within ±10 % of its nominal value
(±1 when the nominal value is 0).  A point where the model is undefined (the reference
reports a domain error) is reported and not compared; a point where the reference
failed otherwise is reported too.  A backend that reports its own point as
``not_converged`` is not compared there (it said its number is unreliable); any other
failure of a backend at a point where the reference is fine counts against it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .errors import BackendUnavailable, CapabilityError, InputError, JacliError, UsageError
from .results import Status

__all__ = ["check", "CheckReport", "BackendCheck", "Entry", "PointInfo", "TOLERANCES",
           "ERROR_FACTOR", "ROW_FLOOR"]

#: Relative tolerance (times the row scale) by tolerance class.
TOLERANCES = {"exact": 1e-10, "complex": 1e-12, "estimate": 1e-12, "numeric": 1e-6, "user": 1e-10}
#: Error estimates count this many times (an estimate, not a bound).
ERROR_FACTOR = 2.0
#: A row's scale is at least this fraction of the point's largest reference entry.
ROW_FLOOR = 1e-6
#: Entries beyond tolerance listed per backend (the worst first).
MAX_ENTRIES = 10
#: Fraction of the nominal value spanned by random points for an input without bounds.
SPREAD = 0.1

_KIND_LABEL = {"symbolic": "exact (symbolic)", "complex": "complex step", "ad": "exact (AD)",
               "estimate": "estimated", "numeric": "numeric", "user": "your function"}
_RANK = {"jacobian": ("symbolic", "complex", "ad", "estimate", "numeric"),
         "hessian": ("symbolic", "ad", "complex", "estimate", "numeric")}
_OK, _NOT_CONVERGED = Status.OK, Status.NOT_CONVERGED
#: Reference statuses meaning "the model is undefined here": a domain error, or a Python
#: model that raised.
_UNDEFINED = (Status.DOMAIN_ERROR, Status.USER_ERROR)


# ----------------------------------------------------------------------------- report types


@dataclass(frozen=True)
class Entry:
    """One derivative entry beyond tolerance (or the worst one of a backend)."""

    point: int
    output: str
    wrt: tuple              # (input,) for a Jacobian entry, (a, b) for a Hessian entry
    value: float
    reference: float
    abs_err: float
    rel_err: float
    allowed: float          # the allowed |value - reference| at this entry

    @property
    def label(self) -> str:
        """``d(y)/d(x)`` or ``d²(y)/d(a)d(b)``."""
        if len(self.wrt) == 1:
            return f"d({self.output})/d({self.wrt[0]})"
        return f"d²({self.output})/d({self.wrt[0]})d({self.wrt[1]})"

    def to_dict(self) -> dict:
        return {"point": self.point, "entry": self.label, "output": self.output,
                "wrt": list(self.wrt), "value": self.value, "reference": self.reference,
                "abs_err": self.abs_err, "rel_err": self.rel_err, "allowed": self.allowed}


@dataclass(frozen=True)
class BackendCheck:
    """How one backend (or the user's function) compares with the reference.

    ``status``: ``"reference"``, ``"agree"``, ``"disagree"``, ``"unverified"`` (it ran
    but no point could be compared), ``"skipped"`` (with ``reason``: not installed, cannot
    do this model) or ``"error"`` (it raised while computing; counts as a failure).
    """

    name: str
    kind: str                       # symbolic, complex, ad, estimate, numeric, user
    status: str
    reason: Optional[str] = None
    rtol: Optional[float] = None
    error_factor: Optional[float] = None   # set when error estimates enter the tolerance
    compared_points: int = 0
    max_rel_err: Optional[float] = None
    max_excess: Optional[float] = None     # largest |a - r| / allowed (> 1 fails)
    disagreements: int = 0                 # entries beyond tolerance, over all points
    failed_points: tuple = ()              # ((point, message), ...) counted as failures
    unreliable_points: tuple = ()          # ((point, message), ...) not compared
    worst: tuple = ()                      # Entry, worst first (failing entries only)
    notes: tuple = ()

    @property
    def label(self) -> str:
        return _KIND_LABEL.get(self.kind, self.kind)

    @property
    def failed(self) -> bool:
        return self.status in ("disagree", "error")

    @property
    def tolerance_text(self) -> Optional[str]:
        if self.rtol is None:
            return None
        rel = f"{self.rtol:.0e}·scale"
        if self.error_factor:
            return f"{self.error_factor:g}·err + {rel}"
        return rel

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "method": self.label, "status": self.status,
                "reason": self.reason, "reference": self.status == "reference",
                "tolerance": None if self.rtol is None else
                {"rtol": self.rtol, "error_factor": self.error_factor, "text": self.tolerance_text},
                "compared_points": self.compared_points, "max_rel_err": self.max_rel_err,
                "max_excess": self.max_excess, "disagreements": self.disagreements,
                "failed_points": [{"point": p, "message": m} for p, m in self.failed_points],
                "unreliable_points": [{"point": p, "message": m} for p, m in self.unreliable_points],
                "worst": [e.to_dict() for e in self.worst], "notes": list(self.notes)}


@dataclass(frozen=True)
class PointInfo:
    """A point of the check: where it came from and whether it could be compared.

    ``status``: ``"ok"``, ``"undefined"`` (the model is undefined there), ``"reference_failed"``
    or ``"bad_input"``; ``origin``: ``"nominal"``, ``"at"``, ``"points"`` or ``"random"``.
    """

    index: int
    origin: str
    at: Optional[dict]
    status: str = "ok"
    message: Optional[str] = None

    def to_dict(self) -> dict:
        return {"index": self.index, "origin": self.origin, "at": self.at, "status": self.status,
                "message": self.message}


@dataclass(frozen=True)
class CheckReport:
    """The outcome of :func:`check`.

    ``verdict``: ``"agree"`` (every method within its tolerance at every compared point),
    ``"disagree"`` (a method is beyond its tolerance somewhere, or failed where the reference
    did not), ``"not_compared"`` (no point could be compared: the model is undefined or the
    reference failed at every point) or ``"insufficient"`` (no second method gave
    comparable numbers: the others were skipped, or unreliable at every point).
    """

    model: str
    op: str                         # "jacobian" or "hessian"
    inputs: tuple
    outputs: tuple
    params: dict
    reference: Optional[str]
    backends: tuple                 # of BackendCheck, in the order they were asked for
    points: tuple                   # of PointInfo
    verdict: str
    random: int = 0
    seed: Optional[int] = None
    notes: tuple = ()

    @property
    def ok(self) -> bool:
        return self.verdict == "agree"

    @property
    def failures(self) -> list:
        """Names of the backends that disagree or failed."""
        return [b.name for b in self.backends if b.failed]

    def summary(self) -> str:
        """One line: the verdict in words."""
        used = [b for b in self.backends if b.status in ("reference", "agree")]
        compared = sum(1 for p in self.points if p.status == "ok")
        pts = f"{compared} point{'s' if compared != 1 else ''}"
        if self.verdict == "agree":
            others = [f"{b.name} {b.status}" for b in self.backends if b.status in ("skipped", "unverified")]
            return (f"{'all ' if not others else ''}{len(used)} methods agree with {self.reference} "
                    f"within their tolerances at {pts}"
                    + (f" ({', '.join(others)})" if others else ""))
        if self.verdict == "disagree":
            bad = self.failures
            what = []
            for b in self.backends:
                if b.name in bad:
                    if b.status == "error":
                        what.append(f"{b.name} failed ({_one_line(b.reason or '', 100)})")
                    else:
                        n = b.disagreements
                        f = len(b.failed_points)
                        parts = []
                        if n:
                            parts.append(f"{n} entr{'y' if n == 1 else 'ies'} beyond tolerance")
                        if f:
                            parts.append(f"{f} failed point{'s' if f != 1 else ''}")
                        what.append(f"{b.name} ({', '.join(parts)})")
            if any(b.status == "disagree" for b in self.backends):
                return f"disagreement with {self.reference}: " + "; ".join(what)
            return "; ".join(what)
        if self.verdict == "not_compared":
            return ("no point could be compared (at every point the model is undefined, the "
                    "reference failed or the input is bad)")
        why = [f"{b.name} {b.status}" for b in self.backends if b.status in ("skipped", "unverified")]
        ran = [b.name for b in self.backends if b.status == "reference"]
        return (f"nothing to compare: no second method gave comparable numbers"
                f" ({', '.join(ran) or 'no method'} ran; {', '.join(why) or 'no other backend'})")

    def to_dict(self) -> dict:
        return {"model": self.model, "operation": self.op, "verdict": self.verdict, "ok": self.ok,
                "summary": self.summary(), "reference": self.reference,
                "inputs": list(self.inputs), "outputs": list(self.outputs), "params": dict(self.params),
                "random": self.random, "seed": self.seed,
                "points": [p.to_dict() for p in self.points],
                "backends": [b.to_dict() for b in self.backends], "notes": list(self.notes)}


# ----------------------------------------------------------------------------- the check


def check(model, at=None, *, points=None, backends=None, hessian: bool = False,
          jacobian_fn=None, random: int = 0, seed: Optional[int] = 0, rtol: Optional[float] = None,
          params=None) -> CheckReport:
    """Check derivatives: every backend against the most trustworthy one, or your own Jacobian.

    Parameters
    ----------
    model : Model or str
        A model or a path to a model file (``model.toml``, ``model.py:f``).
    at : None, dict or array of shape (N, n)
        The point(s); None is the nominal point; a dict may omit inputs.
    points : iterable of ``(values, error)``, optional
        Records as :func:`jacli.stream` takes them (e.g. from a points file); a record whose
        ``values`` is None is reported as a ``bad_input`` point.  Not together with ``at``.
    backends : sequence of str, optional
        Backend specs (``"sympy"``, ``"fd:order=4"``, ...); default every registered one
        (with ``jacobian_fn``: only the best available reference).
    hessian : bool
        Check Hessians (of every output) instead of Jacobians.
    jacobian_fn : callable or str, optional
        Your Jacobian: a function, or ``"file.py:name"``.  It receives the same arguments
        as the model's function (Python models), or the inputs as one 1-D array (formula
        models), and returns an (m, n) array-like (a length-n gradient when m = 1).
    random : int
        Number of random points added (see the module notes for the rule).
    seed : int or None
        Seed of the random points (None: fresh entropy, not reproducible).
    rtol : float, optional
        Replaces the relative part of every method's tolerance.
    params : dict, optional
        Parameter overrides.

    Returns
    -------
    CheckReport

    Raises
    ------
    UsageError
        Bad arguments (an unknown backend name in ``backends``, ``hessian`` with
        ``jacobian_fn``, a negative ``random``...).
    InputError
        Your Jacobian function returned the wrong shape.

    Examples
    --------
    >>> import jacli
    >>> m = jacli.model_from_expressions("x*y, sin(x) + y")
    >>> r = jacli.check(m, {"x": 1.0, "y": 2.0}, backends=["sympy", "fd"])
    >>> r.verdict, r.reference
    ('agree', 'sympy')
    >>> jac = lambda v: [[v[1], v[0]], [-1.0, 1.0]]              # d(sin x)/dx is wrong
    >>> r = jacli.check(m, {"x": 1.0, "y": 2.0}, jacobian_fn=jac)
    >>> r.verdict, r.backends[-1].worst[0].label
    ('disagree', 'd(f2)/d(x)')
    """
    from ._ops import _as_model

    _validate(hessian=hessian, jacobian_fn=jacobian_fn, random=random, seed=seed, rtol=rtol,
              at=at, points=points)
    model = _as_model(model, params)
    op = "hessian" if hessian else "jacobian"
    X, infos = _points(model, at, points, random, seed)
    user = _resolve_user(jacobian_fn) if jacobian_fn is not None else None
    specs = _specs(backends)
    if not len(X):
        runs = []                       # every record was bad: nothing to compute
    elif user is not None and backends is None:
        runs = _reference_only(model, op, specs, X)
    else:
        runs = [_run(model, op, spec, X) for spec in specs]
    ranked = _ranked(runs, op)
    ref = _choose_reference(ranked)
    infos = _point_status(infos, ref)
    checks = []
    for r in runs:
        if r.result is None:
            checks.append(BackendCheck(name=r.name, kind=r.kind, status=r.status, reason=r.reason))
        elif r is ref:
            checks.append(BackendCheck(name=r.name, kind=r.kind, status="reference",
                                       compared_points=sum(1 for p in infos if p.status == "ok")))
        else:
            checks.append(_compare(r, ref, infos, op, rtol))
    if user is not None and ref is not None:
        checks.append(_check_user(model, user, X, ref, infos, rtol))
    verdict = _verdict(checks, infos, ref)
    notes = _notes(checks, ref)
    return CheckReport(model=model.name, op=op, inputs=tuple(model.input_names),
                       outputs=tuple(model.output_names), params=dict(model.param_values),
                       reference=ref.name if ref is not None else None, backends=tuple(checks),
                       points=tuple(infos), verdict=verdict, random=random,
                       seed=seed if random else None, notes=tuple(notes))


def _validate(*, hessian, jacobian_fn, random, seed, rtol, at, points):
    if hessian and jacobian_fn is not None:
        raise UsageError("--hessian checks jacli's own backends; --jacobian checks your Jacobian "
                         "function: give one of them")
    if isinstance(random, bool) or not isinstance(random, int) or random < 0:
        raise UsageError(f"--random must be a non-negative integer, got {random!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise UsageError(f"--seed must be a non-negative integer, got {seed!r}")
    if rtol is not None and not (isinstance(rtol, (int, float)) and 0 < rtol < 1):
        raise UsageError(f"--rtol must be a number in (0, 1), e.g. 1e-8, got {rtol!r}")
    if at is not None and points is not None:
        raise UsageError("give either --at or --points, not both")


# ----------------------------------------------------------------------------- points


def _points(model, at, points, random, seed):
    """(X (N, n) of good points, [PointInfo]) — bad records keep their index, X skips them."""
    import numpy as np

    from ._ops import _points_array

    names = model.input_names
    infos, rows = [], []
    if points is not None:
        for rec in points:
            values, error = rec[0], rec[1]
            if values is None:
                infos.append(PointInfo(len(infos), "points", None, "bad_input", error or "bad input"))
            else:
                rows.append(np.asarray(values, dtype=float))
                infos.append(PointInfo(len(infos), "points", None))
        if not infos:
            raise InputError("no points to check (the points file has no data rows)")
        X = np.array(rows, dtype=float).reshape(len(rows), len(names))
    else:
        X = _points_array(model, at)
        origin = "nominal" if at is None else "at"
        infos = [PointInfo(i, origin, None) for i in range(len(X))]
    if random:
        R = random_points(model, random, seed)
        infos += [PointInfo(len(infos) + i, "random", None) for i in range(random)]
        X = np.concatenate([X, R]) if len(X) else R
    good = [p for p in infos if p.status == "ok"]
    infos_out, g = [], 0
    for p in infos:
        if p.status == "ok":
            p = PointInfo(p.index, p.origin, dict(zip(names, X[g].tolist())))
            g += 1
        infos_out.append(p)
    assert g == len(good) == len(X)
    return X, infos_out


def random_points(model, n: int, seed: Optional[int] = 0):
    """``n`` points drawn uniformly within each input's bounds, else within ±10 % of its
    nominal value (±1 when that is 0): an (n, len(inputs)) array, reproducible by ``seed``.

    Examples
    --------
    >>> import jacli
    >>> m = jacli.model_from_expressions("x*y", inputs=["x", "y"])
    >>> random_points(m, 3, seed=1).shape
    (3, 2)
    """
    import numpy as np

    lo, hi = [], []
    for q in model.inputs:
        if q.bounds is not None:
            a, b = q.bounds
        elif q.value != 0:
            a, b = q.value - SPREAD * abs(q.value), q.value + SPREAD * abs(q.value)
        else:
            a, b = -1.0, 1.0
        lo.append(a)
        hi.append(b)
    rng = np.random.default_rng(seed)
    return rng.uniform(np.array(lo), np.array(hi), size=(n, len(lo)))


# ----------------------------------------------------------------------------- running backends


@dataclass
class _Run:
    name: str
    kind: str
    status: str                     # "ran", "skipped", "error"
    reason: Optional[str] = None
    result: Any = None
    order: int = 0


def _specs(backends) -> list:
    from .backends import _registry

    if backends is None:
        return list(_registry.backend_names())
    if isinstance(backends, str):
        backends = split_specs(backends)
    specs = [str(s).strip() for s in backends]
    if not specs or any(not s for s in specs):
        raise UsageError("--backends: give comma-separated backend names, e.g. sympy,fd,complex")
    names = [_registry.parse_spec(s)[0] for s in specs]
    known = set(_registry.backend_names())
    for n in names:
        if n not in known:
            import difflib
            close = difflib.get_close_matches(n, sorted(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UsageError(f"--backends: unknown backend '{n}'{hint}; registered: "
                             f"{', '.join(sorted(known))} (see `jacli backends`)")
    if len(set(specs)) != len(specs):
        raise UsageError("--backends: a backend is listed twice")
    return specs


def split_specs(text: str) -> list:
    """``"sympy,fd:order=4,levels=3,complex"`` -> ``["sympy", "fd:order=4,levels=3", "complex"]``:
    an item ``name=value`` continues the options of the backend before it.

    >>> split_specs("sympy,fd:order=4,levels=3,complex")
    ['sympy', 'fd:order=4,levels=3', 'complex']
    """
    out: list = []
    for item in text.split(","):
        if out and "=" in item and ":" not in item:
            out[-1] += "," + item
        else:
            out.append(item)
    return out


def _one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _kind(caps) -> str:
    if caps.exact and caps.symbolic_output:
        return "symbolic"
    if caps.requires_analytic:
        return "complex"
    if caps.exact:
        return "ad"
    if caps.error_estimate:
        return "estimate"
    return "numeric"


def _run(model, op, spec, X) -> _Run:
    """Compute with one backend; not being able to is a reason, not an error."""
    from . import _ops
    from .backends import _registry

    name, opts = _registry.parse_spec(spec)
    try:
        cls = _registry.backend_class(name)
    except BackendUnavailable as exc:
        return _Run(spec, "numeric", "skipped", str(exc))
    kind = _kind(cls.capabilities)
    ok, why = cls.available()
    if not ok:
        return _Run(spec, kind, "skipped", why or "not available")
    if op == "hessian" and not cls.capabilities.second_order:
        return _Run(spec, kind, "skipped", "computes no Hessians (second_order is not declared)")
    if getattr(model, "function", None) is not None and not cls.capabilities.python_models:
        return _Run(spec, kind, "skipped", "does not take Python-function models")
    be = cls(**opts)                    # a bad option is the user's mistake: UsageError
    fn = _ops.hessian if op == "hessian" else _ops.jacobian
    try:
        model2, be, prep = _ops.prepare(model, op, backend=be)
        res = fn(model2, X, backend=be, prep=(be, prep))
    except (CapabilityError, BackendUnavailable) as exc:
        return _Run(be.spec, kind, "skipped", str(exc))
    except JacliError:
        raise
    except Exception as exc:  # noqa: BLE001 - a backend that crashes fails the check
        return _Run(be.spec, kind, "error", _one_line(f"{type(exc).__name__}: {exc}"))
    return _Run(res.backend, kind, "ran", result=res)


def _ranked(runs, op) -> list:
    order = _RANK[op]
    ran = [(i, r) for i, r in enumerate(runs) if r.result is not None]
    ran.sort(key=lambda t: (order.index(t[1].kind), t[0]))
    return [r for _, r in ran]


def _reference_only(model, op, specs, X) -> list:
    """Your Jacobian needs one reference: try backends best-ranked first until one has a
    good point (the ones tried before it stay in the report with their reasons)."""
    from .backends import _registry

    order = _RANK[op]

    def rank(t):
        i, spec = t
        try:
            kind = _kind(_registry.backend_class(_registry.parse_spec(spec)[0]).capabilities)
        except BackendUnavailable:
            kind = "numeric"
        return order.index(kind), i

    runs = []
    for _, spec in sorted(enumerate(specs), key=rank):
        r = _run(model, op, spec, X)
        runs.append(r)
        if r.result is not None and (r.result.status == _OK).any():
            break
    return runs


def _choose_reference(ranked):
    for r in ranked:
        if (r.result.status == _OK).any():
            return r
    return ranked[0] if ranked else None


def _point_status(infos, ref) -> list:
    """Mark the points the reference could not do: undefined (domain error) or failed."""
    if ref is None:
        return infos
    out, g = [], 0
    for p in infos:
        if p.status == "bad_input":
            out.append(p)
            continue
        s = int(ref.result.status[g])
        msg = ref.result.messages[g]
        if s in _UNDEFINED:
            p = PointInfo(p.index, p.origin, p.at, "undefined", msg)
        elif s != _OK:
            p = PointInfo(p.index, p.origin, p.at, "reference_failed", f"{ref.name}: {msg}")
        out.append(p)
        g += 1
    return out


# ----------------------------------------------------------------------------- comparing


def _tolerance(kind, op, has_error, rtol):
    """(relative part, error factor or None) for a method of this kind."""
    if kind in ("symbolic", "ad"):
        cls = "exact"
    elif kind == "complex" and op == "jacobian":
        cls = "complex"
    elif has_error:
        cls = "estimate"
    elif kind == "user":
        cls = "user"
    else:
        cls = "numeric"
    rel = TOLERANCES[cls] if rtol is None else float(rtol)
    return rel, (ERROR_FACTOR if cls == "estimate" else None)


def _scales(R, op):
    """Per-entry scale s (broadcastable to R's shape (N, m, ...)): see the module notes."""
    import numpy as np

    N = R.shape[0]
    A = np.abs(np.nan_to_num(R, nan=0.0, posinf=0.0, neginf=0.0))
    axes = tuple(range(2, R.ndim))
    row = A.max(axis=axes, keepdims=True)                           # (N, m, 1[, 1])
    whole = A.reshape(N, -1).max(axis=1).reshape((N,) + (1,) * (R.ndim - 1))
    s = np.maximum(row, ROW_FLOOR * whole)
    return np.where(whole > 0, s, 1.0)


def _compare_arrays(D, R, E, ER, op, rel, factor, ref_factor):
    """|D - R|, the relative error and the allowed deviation per entry (same shapes)."""
    import numpy as np

    S = _scales(R, op)
    with np.errstate(all="ignore"):
        diff = np.abs(D - R)
        diff = np.where(np.isfinite(diff), diff, np.inf)
        allowed = rel * S
        if factor and E is not None:
            allowed = allowed + factor * np.nan_to_num(np.abs(E), nan=np.inf)
        if ref_factor and ER is not None:
            allowed = allowed + ref_factor * np.nan_to_num(np.abs(ER), nan=np.inf)
        relerr = diff / S
    return diff, relerr, np.broadcast_to(allowed, D.shape)


def _entries(idx, D, R, diff, relerr, allowed, outputs, wrt, op, point_index):
    out = []
    for t in idx:
        p, i = int(t[0]), int(t[1])
        w = (wrt[int(t[2])],) if op == "jacobian" else (wrt[int(t[2])], wrt[int(t[3])])
        key = tuple(int(v) for v in t)
        out.append(Entry(point=point_index[p], output=outputs[i], wrt=w, value=float(D[key]),
                         reference=float(R[key]), abs_err=float(diff[key]),
                         rel_err=float(relerr[key]), allowed=float(allowed[key])))
    return out


def _ref_factor(ref, op):
    """The reference's error estimates enter every tolerance when it is itself estimated."""
    if ref.result.error is None or ref.kind in ("symbolic", "ad") or (ref.kind == "complex" and op == "jacobian"):
        return None
    return ERROR_FACTOR


def _compare(run, ref, infos, op, rtol) -> BackendCheck:
    import numpy as np

    res, rres = run.result, ref.result
    rel, factor = _tolerance(run.kind, op, res.error is not None, rtol)
    rf = _ref_factor(ref, op)
    good = [p for p in infos if p.status != "bad_input"]          # rows of X, in order
    point_index = [p.index for p in good]
    compare, failed, unreliable = [], [], []
    for g, p in enumerate(good):
        if p.status != "ok":
            continue
        s = int(res.status[g])
        if s == _OK:
            compare.append(g)
        elif s == _NOT_CONVERGED:
            unreliable.append((p.index, res.messages[g]))
        else:
            failed.append((p.index, res.messages[g] or "failed"))
    if not compare:
        why = (f"unreliable at every point ({unreliable[0][1]})" if unreliable
               else "no point could be compared")
        return BackendCheck(name=run.name, kind=run.kind, status="disagree" if failed else "unverified",
                            reason=None if failed else why,
                            rtol=rel, error_factor=factor if factor or rf else None,
                            failed_points=tuple(failed), unreliable_points=tuple(unreliable))
    c = np.array(compare)
    D, R = res.derivative[c], rres.derivative[c]
    E = None if res.error is None else res.error[c]
    ER = None if rres.error is None else rres.error[c]
    diff, relerr, allowed = _compare_arrays(D, R, E, ER, op, rel, factor, rf)
    with np.errstate(all="ignore"):
        excess = np.where(allowed > 0, diff / allowed, np.where(diff > 0, np.inf, 0.0))
    bad = excess > 1
    order = np.argsort(-excess[bad], kind="stable")[:MAX_ENTRIES]
    idx = np.argwhere(bad)[order]
    worst = _entries(idx, D, R, diff, relerr, allowed, res.outputs, res.wrt, op,
                     [point_index[g] for g in compare])
    n_bad = int(bad.sum())
    status = "disagree" if n_bad or failed else "agree"
    return BackendCheck(name=run.name, kind=run.kind, status=status, rtol=rel,
                        error_factor=factor if (factor or rf) else None,
                        compared_points=len(compare), max_rel_err=_finite_max(relerr),
                        max_excess=_finite_max(excess), disagreements=n_bad,
                        failed_points=tuple(failed), unreliable_points=tuple(unreliable),
                        worst=tuple(worst))


def _finite_max(a) -> float:
    import numpy as np

    m = float(np.max(a)) if a.size else 0.0
    return m if math.isfinite(m) else math.inf


def _verdict(checks, infos, ref) -> str:
    if any(b.failed for b in checks):
        return "disagree"
    if not any(p.status == "ok" for p in infos):
        return "not_compared"
    if not any(b.status == "agree" for b in checks):
        return "insufficient"
    return "agree"


def _notes(checks, ref) -> list:
    notes = []
    others = [b for b in checks if b.status in ("agree", "disagree") and b.kind != "user"]
    if ref is not None and len(others) >= 2 and all(b.status == "disagree" for b in others):
        notes.append(f"every other method disagrees with the reference {ref.name}: the reference "
                     "itself may be wrong (or the model is not differentiable at these points)")
    for b in checks:
        if b.unreliable_points:
            n = len(b.unreliable_points)
            notes.append(f"{b.name}: {n} point{'s' if n != 1 else ''} not compared: it reported "
                         f"its own result unreliable ({b.unreliable_points[0][1]})")
    return notes


# ----------------------------------------------------------------------------- your Jacobian


@dataclass(frozen=True)
class _User:
    label: str
    func: Callable
    filename: Optional[str] = None


def _resolve_user(fn) -> _User:
    """A callable, or ``"file.py:name"`` (running that file's code, as a Python model does)."""
    if callable(fn):
        return _User(getattr(fn, "__name__", "your function"), fn)
    if not isinstance(fn, str):
        raise UsageError(f"--jacobian: expected FILE.py:FUNCTION or a function, got {type(fn).__name__}")
    from pathlib import Path

    from .errors import ModelError
    from .model._python import _execute, split_spec

    path_text, name = split_spec(fn)
    if name is None:
        raise UsageError(f"--jacobian {fn}: name the function, e.g. {path_text}:jacobian")
    path = Path(path_text)
    try:
        source = path.read_bytes()
    except FileNotFoundError:
        raise ModelError("no such file", file=path_text, field="--jacobian") from None
    except OSError as exc:
        raise ModelError(f"cannot read it: {exc.strerror or exc}", file=path_text,
                         field="--jacobian") from None
    module = _execute(source, str(path.resolve()), path_text)
    func = getattr(module, name, None)
    if not callable(func):
        import difflib
        funcs = [k for k, v in vars(module).items() if callable(v) and not k.startswith("_")
                 and getattr(v, "__module__", None) == module.__name__]
        close = difflib.get_close_matches(name, funcs, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        what = "no function" if func is None else f"'{name}' is not a function:"
        raise ModelError(f"{what} '{name}' in the file{hint}", file=path_text, field="--jacobian")
    return _User(f"{path_text}:{name}", func, str(path.resolve()))


def _call_user(model, user, x, pvals):
    """Your Jacobian at one point, as an (m, n) float array (InputError on a wrong shape is
    raised by the caller, which knows the point)."""
    import numpy as np

    pf = getattr(model, "function", None)
    if pf is not None:
        from dataclasses import replace

        z = np.concatenate([np.asarray(x, dtype=float), np.asarray(pvals, dtype=float)])
        raw = replace(pf, func=user.func).call(z)
    else:
        raw = user.func(np.array(x, dtype=float))
    with np.errstate(all="ignore"):
        return np.asarray(_to_numpy(raw), dtype=float)


def _to_numpy(raw):
    """Nested sequences and arrays of any library (JAX, PyTorch) as NumPy."""
    import numpy as np

    if hasattr(raw, "detach"):                  # torch
        raw = raw.detach().cpu().numpy()
    if isinstance(raw, (list, tuple)):
        return [_to_numpy(v) for v in raw]
    return np.asarray(raw)


def _user_error(exc, user) -> str:
    if user.filename:
        from .model._python import describe_exception

        return "your function raised " + describe_exception(exc, user.filename, user.label.rsplit(":", 1)[0])[1]
    return f"your function raised {type(exc).__name__}: {exc}"


def _shaped(J, m, n, model, user, point):
    """J as (m, n), or InputError naming the expected shape (and a transposition)."""
    if J.shape == (m, n):
        return J
    if J.ndim == 1 and J.size == m * n and (m == 1 or n == 1):
        return J.reshape(m, n)
    if J.ndim == 0 and m == n == 1:
        return J.reshape(1, 1)
    pf = getattr(model, "function", None)
    if (pf is not None and pf.out_index is None and len(pf.output_shapes) == 1
            and len(pf.input_shapes) == 1):
        # one array output of shape S and one array input of shape T: J may be S + T
        (so,), (si,) = pf.output_shapes.values(), pf.input_shapes.values()
        if J.shape == tuple(so) + tuple(si):
            return J.reshape(m, n)
    outs = ", ".join(model.output_names[:4]) + (", ..." if m > 4 else "")
    ins = ", ".join(model.input_names[:4]) + (", ..." if n > 4 else "")
    hint = ""
    if J.shape == (n, m):
        hint = "; it looks transposed: rows must be outputs and columns inputs (return J.T)"
    raise InputError(f"{user.label} returned shape {J.shape} at point {point}; expected ({m}, {n}): "
                     f"{m} output{'s' if m != 1 else ''} ({outs}) × {n} input{'s' if n != 1 else ''} ({ins})"
                     f"{hint}")


def _check_user(model, user, X, ref, infos, rtol) -> BackendCheck:
    import numpy as np

    rres = ref.result
    m, n = len(rres.outputs), len(rres.wrt)
    pvals = [q.value for q in model.parameters]
    good = [p for p in infos if p.status != "bad_input"]
    compare, failed, mats = [], [], []
    for g, p in enumerate(good):
        if p.status != "ok":
            continue
        try:
            with np.errstate(all="ignore"):
                J = _call_user(model, user, X[g], pvals)
        except JacliError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's code failing is data, per point
            failed.append((p.index, _user_error(exc, user)))
            continue
        J = _shaped(J, m, n, model, user, p.index)
        if not np.isfinite(J).all():
            i, j = np.argwhere(~np.isfinite(J))[0]
            failed.append((p.index, f"d({rres.outputs[i]})/d({rres.wrt[j]}) is {J[i, j]} in yours, "
                                    f"{rres.derivative[g, i, j]:.10g} in {ref.name}"))
            continue
        compare.append(g)
        mats.append(J)
    rel, _ = _tolerance("user", "jacobian", False, rtol)
    rf = _ref_factor(ref, "jacobian")
    if not compare:
        return BackendCheck(name=user.label, kind="user", status="disagree" if failed else "unverified",
                            reason=None if failed else "no point could be compared", rtol=rel,
                            error_factor=rf, failed_points=tuple(failed))
    c = np.array(compare)
    D = np.array(mats)
    R = rres.derivative[c]
    ER = None if rres.error is None else rres.error[c]
    diff, relerr, allowed = _compare_arrays(D, R, None, ER, "jacobian", rel, None, rf)
    with np.errstate(all="ignore"):
        excess = np.where(allowed > 0, diff / allowed, np.where(diff > 0, np.inf, 0.0))
    bad = excess > 1
    pidx = [good[g].index for g in compare]
    order = np.argsort(-excess[bad], kind="stable")[:MAX_ENTRIES]
    worst = _entries(np.argwhere(bad)[order], D, R, diff, relerr, allowed, rres.outputs,
                     rres.wrt, "jacobian", pidx)
    notes = _diagnose(D, R, allowed, bad, rres.outputs, rres.wrt) if bad.any() else []
    n_bad = int(bad.sum())
    return BackendCheck(name=user.label, kind="user", status="disagree" if n_bad or failed else "agree",
                        rtol=rel, error_factor=rf, compared_points=len(compare),
                        max_rel_err=_finite_max(relerr), max_excess=_finite_max(excess),
                        disagreements=n_bad, failed_points=tuple(failed), worst=tuple(worst),
                        notes=tuple(notes))


def _diagnose(D, R, allowed, bad, outputs, wrt) -> list:
    """Common mistakes behind the wrong entries: transposed, sign, a constant factor, zeros."""
    import numpy as np

    notes = []
    m, n = D.shape[1], D.shape[2]

    def close(A, B):
        return bool((np.abs(A - B) <= allowed).all())

    if m == n and m > 1 and close(D, R.transpose(0, 2, 1)):
        return ["yours is jacli's Jacobian transposed: rows must be outputs and columns inputs "
                "(return J.T)"]
    if close(D, -R):
        return ["yours is jacli's Jacobian with the sign flipped (yours = -jacli everywhere)"]
    c = _common_ratio(D[bad], R[bad])
    if c is not None and bad.any(axis=0).sum() > 1:       # several entries, one factor
        what = "the sign flipped" if abs(c + 1) < 1e-9 else f"a constant factor {c:.6g} (missing or extra?)"
        everywhere = bad.all()
        notes.append(f"{'every entry' if everywhere else 'every wrong entry'}: yours = {c:.6g} × jacli "
                     f"— {what}")
        return notes
    for i in range(m):
        for j in range(n):
            b = bad[:, i, j]
            if not b.any():
                continue
            label = f"d({outputs[i]})/d({wrt[j]})"
            d, r = D[:, i, j], R[:, i, j]
            if (d[b] == 0).all() and (r[b] != 0).all():
                notes.append(f"{label}: yours is 0 where jacli's is not (a missing term?)")
                continue
            if (r[b] == 0).all():
                notes.append(f"{label}: should be 0 (the output does not depend on {wrt[j]} here)")
                continue
            ratio = _common_ratio(d, r) if b.all() and len(d) > 1 else None
            if ratio is not None:
                if abs(ratio + 1) < 1e-9:
                    notes.append(f"{label}: sign flipped at every point")
                else:
                    notes.append(f"{label}: yours = {ratio:.6g} × jacli at every point (a missing "
                                 "or extra factor?)")
            elif not b.all():
                notes.append(f"{label}: wrong at {int(b.sum())} of {len(b)} points")
    return notes


def _common_ratio(d, r):
    """The constant c with d = c·r (to 1e-8), or None."""
    import numpy as np

    d, r = np.ravel(d), np.ravel(r)
    if not len(r) or (r == 0).any():
        return None
    q = d / r
    c = float(np.median(q))
    if c == 0 or c == 1 or not math.isfinite(c):
        return None
    return c if bool((np.abs(q - c) <= 1e-8 * abs(c)).all()) else None
