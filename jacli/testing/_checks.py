"""The conformance checks: plain functions ``check_xxx(backend, scenario)``.

Each check raises :class:`AssertionError` with a message naming the scenario, the point,
the entry, what was got, what was expected and the allowed deviation; it returns None when
the backend conforms.  :class:`~jacli.testing.BackendConformance` wraps each one in a
pytest test method; :func:`~jacli.testing.run_suite` runs them all without pytest (used to
cover every registered backend, and to show that deliberately broken backends fail).
Second-order checks live in :mod:`jacli.testing._second_order`; the list of all checks in
:mod:`jacli.testing._registry`.

Tolerances come from the capabilities a backend *declares* (:func:`tolerance`), never
from how it behaves:

=====================  ====================================================================
declared               allowed ``|J - J_ref|`` per entry
=====================  ====================================================================
``exact``              ``1e-12 |J_ref|`` (symbolic, AD: exact up to rounding)
``requires_analytic``  ``1e-13 |J_ref|`` (complex step has no cancellation: Martins et al. 2003)
``error_estimate``     ``error + 1e-14 |J_ref|`` (the backend's own estimate must cover the error)
nothing                ``1e-8 |J_ref|``
=====================  ====================================================================

A backend declaring ``error_estimate`` is also held to its estimate being finite at every
good point and not absurd (``error <= 1e-5`` times the row's scale), whatever else it
declares; one declaring ``exact`` must report no error (None or zeros).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ._scenarios import Scenario

__all__ = ["Tolerance", "tolerance", "resolve_backend", "is_builtin"]

#: Values f(x) are computed in double precision by every backend, whatever it declares.
VALUE_RTOL = 1e-12
#: Slack for the rounding of the hand-written references themselves (~45 eps).
REFERENCE_RTOL = 1e-14
#: An error estimate larger than this times the row's scale is useless, however honest.
ABSURD_ERROR = 1e-5


@dataclass(frozen=True)
class Tolerance:
    """Allowed deviation from a reference, chosen from declared capabilities.

    ``allowed(scale, error) = factor * (rtol * scale + (error if uses_error else 0))``
    per entry, where ``scale`` is the magnitude of the reference entry (or, for a
    product, of the terms summed into it).
    """

    basis: str
    rtol: float
    uses_error: bool = False

    def allowed(self, scale, error=None, factor: float = 1.0):
        a = self.rtol * np.abs(scale)
        if self.uses_error and error is not None:
            a = a + np.abs(error)
        return factor * a


def tolerance(capabilities) -> Tolerance:
    """The :class:`Tolerance` a backend with these declared capabilities is held to."""
    if capabilities.exact:
        return Tolerance("declared exact", 1e-12)
    if capabilities.requires_analytic:
        return Tolerance("complex step (requires_analytic)", 1e-13)
    if capabilities.error_estimate:
        return Tolerance("its own error estimate", REFERENCE_RTOL, uses_error=True)
    return Tolerance("no declared accuracy", 1e-8)


# ----------------------------------------------------------------------------- helpers


def resolve_backend(backend):
    """A backend instance from a spec string (``"fd:order=4"``), a class or an instance."""
    from ..backends import get_backend

    return get_backend(backend)


def is_builtin(name: str) -> bool:
    """True for backends that ship with jacli and need nothing beyond its required
    dependencies (their entry point lives in ``jacli.``): these are never skipped.

    ``jax`` and ``torch`` ship with jacli but need an extra; like plug-ins, they are
    skipped with their reason where their library is not installed.
    """
    from ..backends._registry import OPTIONAL_BUILTIN, _entry_points

    ep = _entry_points().get(name)
    return (ep is not None and ep.value.split(":")[0].startswith("jacli.")
            and name not in OPTIONAL_BUILTIN)


def _jacobian(be, sc: Scenario, X=None, **kw):
    import jacli

    return jacli.jacobian(sc.model(), sc.points_array() if X is None else X, wrt=sc.wrt, backend=be,
                          **kw)


def _fmt(v) -> str:
    return f"{float(v):.17g}"


def _where(sc: Scenario, i, r=None, c=None) -> str:
    m = sc.model()
    s = f"scenario {sc.name!r}, point {i} {tuple(sc.points[i]) if len(sc.points[i]) <= 6 else '(...)'}"
    if r is not None:
        s += f", d({m.output_names[r]})/d({sc.wrt_names()[c]})" if c is not None else f", output {m.output_names[r]!r}"
    return s


def _worst(diff, allowed):
    """Index of the entry exceeding its allowance the most, or None.

    NaN anywhere (in the difference or in the allowance, e.g. a NaN error estimate) is a
    failure: ``~(diff <= allowed)``.
    """
    bad = ~(diff <= allowed)
    if not bad.any():
        return None
    with np.errstate(all="ignore"):
        over = np.where(bad, diff - allowed, -np.inf)
    over = np.where(bad & ~np.isfinite(over), np.inf, over)
    return np.unravel_index(int(np.argmax(over)), diff.shape)


def _assert_close(got, ref, allowed, what: str, describe) -> None:
    """|got - ref| <= allowed everywhere, else an AssertionError on the worst entry."""
    with np.errstate(all="ignore"):
        diff = np.abs(np.asarray(got, dtype=float) - ref)
    idx = _worst(diff, allowed)
    if idx is not None:
        nbad = int(np.sum(~(diff <= allowed)))
        raise AssertionError(
            f"{what}: {describe(idx)}: got {_fmt(got[idx])}, expected {_fmt(ref[idx])} "
            f"(|difference| {diff[idx]:.3g} > allowed {float(allowed[idx]):.3g}); "
            f"{nbad} of {diff.size} entries out of tolerance")


def _shape(arr, shape, what):
    if arr is None or np.shape(arr) != tuple(shape):
        got = None if arr is None else np.shape(arr)
        raise AssertionError(f"{what} has shape {got}, expected {tuple(shape)}")


def _product_op(caps) -> Optional[str]:
    return "jvp" if caps.forward else ("vjp" if caps.reverse else None)


# ----------------------------------------------------------------------------- the checks


def check_value(backend, scenario: Scenario) -> None:
    """The model's value f(x) in the Result equals the hand-written value (1e-12 relative)."""
    be = resolve_backend(backend)
    sc = scenario
    res = _jacobian(be, sc)
    Vref, _ = sc.reference()
    _shape(res.value, Vref.shape, f"scenario {sc.name!r}: Result.value")
    V = np.asarray(res.value, dtype=float)
    finite = np.isfinite(Vref)
    nf = np.argwhere(~finite & np.isfinite(V))
    if len(nf):
        i, r = nf[0]
        raise AssertionError(f"value: {_where(sc, i, r)}: the model is undefined there, but the backend "
                             f"returned the finite value {_fmt(V[i, r])} (a silent number instead of NaN)")
    allowed = np.where(finite, VALUE_RTOL * np.abs(Vref), np.inf)
    _assert_close(np.where(finite, V, 0.0), np.where(finite, Vref, 0.0), allowed, "value",
                  lambda idx: _where(sc, idx[0], idx[1]))


def check_status(backend, scenario: Scenario) -> None:
    """Each point's status: DOMAIN_ERROR where the model is undefined, OK everywhere else."""
    from ..results import Status

    be = resolve_backend(backend)
    sc = scenario
    res = _jacobian(be, sc)
    _shape(res.status, (len(sc.points),), f"scenario {sc.name!r}: Result.status")
    for i in range(len(sc.points)):
        want = Status.DOMAIN_ERROR if i in sc.domain_errors else Status.OK
        got = int(res.status[i])
        if got != want:
            label = Status(got).name if got in {int(x) for x in Status} else str(got)
            raise AssertionError(f"status: {_where(sc, i)}: got {label} ({res.messages[i]!r}), "
                                 f"expected {want.name}")


def check_jacobian(backend, scenario: Scenario) -> None:
    """Jacobian within the declared tolerance at good points; NaN at failed ones; Result metadata."""
    be = resolve_backend(backend)
    sc = scenario
    tol = tolerance(be.capabilities)
    res = _jacobian(be, sc)
    _, Jref = sc.reference()
    N, m, k = Jref.shape
    _shape(res.derivative, (N, m, k), f"scenario {sc.name!r}: Result.derivative (points, outputs, wrt)")
    if tuple(res.wrt) != sc.wrt_names():
        raise AssertionError(f"scenario {sc.name!r}: Result.wrt is {res.wrt}, expected {sc.wrt_names()}")
    if bool(res.exact) != bool(be.capabilities.exact):
        raise AssertionError(f"scenario {sc.name!r}: Result.exact is {res.exact}, but the backend declares "
                             f"exact={be.capabilities.exact}")
    J = np.asarray(res.derivative, dtype=float)
    for i in sorted(sc.domain_errors):
        if np.isfinite(J[i]).any():
            raise AssertionError(f"jacobian: {_where(sc, i)} is outside the domain, but derivative numbers "
                                 f"were reported: {J[i].tolist()} (expected NaN)")
    ok = sc.ok_points()
    err = None if res.error is None else np.asarray(res.error, dtype=float)[ok]
    allowed = tol.allowed(Jref[ok], err)
    _assert_close(J[ok], Jref[ok], allowed, f"jacobian (tolerance: {tol.basis})",
                  lambda idx: _where(sc, ok[idx[0]], idx[1], idx[2]))


def check_exact_zeros(backend, scenario: Scenario) -> None:
    """Entries outside the scenario's explicit structure are exactly 0.0 (not 1e-17, not NaN)."""
    be = resolve_backend(backend)
    sc = scenario
    S = sc.expected_structure()
    res = _jacobian(be, sc)
    J = np.asarray(res.derivative, dtype=float)
    for i in sc.ok_points():
        bad = np.argwhere(~S & (J[i] != 0))
        if len(bad):
            r, c = bad[0]
            raise AssertionError(f"exact zeros: {_where(sc, i, r, c)} does not depend on that variable, "
                                 f"but the backend returned {_fmt(J[i, r, c])} instead of exactly 0.0 "
                                 f"({len(bad)} such entries)")


def check_error_estimate(backend, scenario: Scenario) -> None:
    """Error estimates as declared: an array (finite, >= 0) if error_estimate, none if exact."""
    be = resolve_backend(backend)
    caps = be.capabilities
    sc = scenario
    res = _jacobian(be, sc)
    ok = sc.ok_points()
    shape = np.shape(res.derivative)
    if caps.error_estimate:
        if res.error is None:
            raise AssertionError(f"error estimate: scenario {sc.name!r}: the backend declares "
                                 "error_estimate=True but returned error=None")
        _shape(res.error, shape, f"scenario {sc.name!r}: Result.error")
        E = np.asarray(res.error, dtype=float)[ok]
        bad = np.argwhere(~(np.isfinite(E) & (E >= 0)))
        if len(bad):
            i, r, c = bad[0]
            raise AssertionError(f"error estimate: {_where(sc, ok[i], r, c)}: error {_fmt(E[i, r, c])} is not a "
                                 f"finite non-negative number at a point that succeeded")
    elif caps.exact:
        if res.error is not None and np.any(np.asarray(res.error, dtype=float)[ok] != 0):
            raise AssertionError(f"error estimate: scenario {sc.name!r}: the backend declares exact=True but "
                                 f"returned non-zero error estimates (max {np.nanmax(res.error):.3g})")
    elif res.error is not None:
        _shape(res.error, shape, f"scenario {sc.name!r}: Result.error")


def check_error_bounds(backend, scenario: Scenario) -> None:
    """The declared error estimate covers the true error and is not absurdly large."""
    be = resolve_backend(backend)
    sc = scenario
    res = _jacobian(be, sc)
    Vref, Jref = sc.reference()
    ok = sc.ok_points()
    if res.error is None:
        raise AssertionError(f"error bounds: scenario {sc.name!r}: the backend declares error_estimate=True "
                             "but returned error=None")
    J = np.asarray(res.derivative, dtype=float)[ok]
    E = np.asarray(res.error, dtype=float)[ok]
    R = Jref[ok]
    _assert_close(J, R, E + REFERENCE_RTOL * np.abs(R), "error bounds: |J - J_ref| > the backend's own "
                  "error estimate", lambda idx: _where(sc, ok[idx[0]], idx[1], idx[2]))
    # Scale of an entry: itself, the largest entry of its row, and the output's value; at a
    # point where all of these vanish (a stationary point with f = 0, e.g. Rosenbrock's
    # minimum), the output's scale over the scenario's other points.
    rowmax = np.max(np.abs(R), axis=2, keepdims=True)
    scale = np.maximum(np.maximum(np.abs(R), rowmax), np.abs(Vref[ok])[:, :, None])
    scale = np.where(scale > 0, scale, np.max(scale, axis=(0, 2), keepdims=True))
    limit = ABSURD_ERROR * scale
    with np.errstate(all="ignore"):
        idx = _worst(E, limit)
    if idx is not None:
        i, r, c = idx
        raise AssertionError(f"error bounds: {_where(sc, ok[i], r, c)}: error estimate {E[idx]:.3g} is "
                             f"absurdly large (more than {ABSURD_ERROR:g} x the scale {scale[idx]:.3g}); "
                             f"derivative {_fmt(J[idx])}, reference {_fmt(R[idx])}")


def _product_setup(be, sc, op):
    p = be.prepare(sc.model(), op, sc.wrt)
    A = sc.args_array()
    res = _jacobian(be, sc)
    # Consistency is checked where jacobian() succeeded; its failures are check_status's.
    ok = [i for i in sc.ok_points() if int(res.status[i]) == 0]
    J = np.asarray(res.derivative, dtype=float)
    EJ = None if res.error is None else np.asarray(res.error, dtype=float)
    return p, A, J, EJ, ok


def _check_products(be, sc, op):
    tol = tolerance(be.capabilities)
    p, A, J, EJ, ok = _product_setup(be, sc, op)
    N, m, k = J.shape
    Vref, _ = sc.reference()
    rng = np.random.default_rng(20240611)
    width, other = (k, m) if op == "jvp" else (m, k)
    directions = [np.tile(np.eye(width)[j], (N, 1)) for j in range(width)]
    directions.append(rng.uniform(-1.0, 1.0, size=(N, width)))
    fn = be.jvp if op == "jvp" else be.vjp
    for d, W in enumerate(directions):
        b = fn(p, A.copy(), W.copy())
        _shape(b.derivative, (N, other), f"scenario {sc.name!r}: {op} derivative")
        _shape(b.value, (N, m), f"scenario {sc.name!r}: {op} value")
        got = np.asarray(b.derivative, dtype=float)[ok]
        if op == "jvp":
            want = np.einsum("nij,nj->ni", J, W)[ok]
            scale = np.einsum("nij,nj->ni", np.abs(J), np.abs(W))[ok]
            errJ = None if EJ is None else np.einsum("nij,nj->ni", EJ, np.abs(W))[ok]
        else:
            want = np.einsum("ni,nij->nj", W, J)[ok]
            scale = np.einsum("ni,nij->nj", np.abs(W), np.abs(J))[ok]
            errJ = None if EJ is None else np.einsum("ni,nij->nj", np.abs(W), EJ)[ok]
        err = errJ
        if b.error is not None:
            _shape(b.error, (N, other), f"scenario {sc.name!r}: {op} error")
            eb = np.asarray(b.error, dtype=float)[ok]
            err = eb if err is None else err + eb
        elif be.capabilities.error_estimate:
            raise AssertionError(f"{op}: scenario {sc.name!r}: the backend declares error_estimate=True "
                                 f"but {op}() returned error=None")
        # Two approximations of the same numbers: each may be off by its own allowance.
        allowed = tol.allowed(scale, err, factor=2.0)
        label = f"unit vector e_{d}" if d < width else "a random direction"
        names = sc.model().output_names if op == "jvp" else sc.wrt_names()
        relation = "J v" if op == "jvp" else "u^T J"
        _assert_close(got, want, allowed, f"{op} along {label} differs from {relation} with the Jacobian "
                      f"from jacobian() (tolerance: {tol.basis})",
                      lambda idx: _where(sc, ok[idx[0]]) + f", component {names[idx[1]]!r}")
        V = np.asarray(b.value, dtype=float)[ok]
        _assert_close(V, Vref[ok], VALUE_RTOL * np.abs(Vref[ok]), f"{op} value",
                      lambda idx: _where(sc, ok[idx[0]], idx[1]))


def check_jvp(backend, scenario: Scenario) -> None:
    """Stacked jvps along unit vectors = the Jacobian's columns; J v along a random v."""
    _check_products(resolve_backend(backend), scenario, "jvp")


def check_vjp(backend, scenario: Scenario) -> None:
    """Stacked vjps along unit vectors = the Jacobian's rows; u^T J along a random u."""
    _check_products(resolve_backend(backend), scenario, "vjp")


def check_library_products(backend, scenario: Scenario) -> None:
    """``jacli.jvp``/``jacli.vjp`` give the Jacobian's columns/rows (first, middle, last) and J v, u^T J.

    A backend without a cheap product (no ``forward`` for jvp, no ``reverse`` for vjp)
    must still give the right numbers, and say what they cost in ``extra["cost"]``.
    Points outside the domain are DOMAIN_ERROR with NaN products.
    """
    import jacli
    from ..errors import CapabilityError
    from ..results import Status

    be = resolve_backend(backend)
    caps = be.capabilities
    sc = scenario
    tol = tolerance(caps)
    model = sc.model()
    X = sc.points_array()
    N = len(X)
    Vref, Jref = sc.reference()
    m, k = Jref.shape[1], Jref.shape[2]
    ok = sc.ok_points()
    rng = np.random.default_rng(20240612)
    for op, width, cheap in (("jvp", k, caps.forward), ("vjp", m, caps.reverse)):
        fn = getattr(jacli, op)
        directions = [(f"unit vector e_{j}", np.tile(np.eye(width)[j], (N, 1)))
                      for j in sorted({0, width // 2, width - 1})]
        directions.append(("a random direction", rng.uniform(-1.0, 1.0, size=(N, width))))
        names = model.output_names if op == "jvp" else sc.wrt_names()
        for label, W in directions:
            try:
                res = fn(model, X, W, wrt=sc.wrt, backend=be)
            except CapabilityError as exc:
                how = "" if cheap else (f", forming the Jacobian when it has no "
                                        f"{'forward' if op == 'jvp' else 'reverse'} mode")
                raise AssertionError(f"jacli.{op}: scenario {sc.name!r}: raised CapabilityError ({exc}); every "
                                     f"backend must compute {op}s{how}") from None
            other = m if op == "jvp" else k
            _shape(res.derivative, (N, other), f"scenario {sc.name!r}: jacli.{op} derivative")
            D = np.asarray(res.derivative, dtype=float)
            for i in range(N):
                want = Status.DOMAIN_ERROR if i in sc.domain_errors else Status.OK
                if int(res.status[i]) != want:
                    raise AssertionError(f"jacli.{op}: {_where(sc, i)}: status {int(res.status[i])} "
                                         f"({res.messages[i]!r}), expected {want.name}")
                if i in sc.domain_errors and np.isfinite(D[i]).any():
                    raise AssertionError(f"jacli.{op}: {_where(sc, i)} is outside the domain, but numbers were "
                                         f"reported: {D[i].tolist()} (expected NaN)")
            if op == "jvp":
                want = np.einsum("nij,nj->ni", Jref, W)[ok]
                scale = np.einsum("nij,nj->ni", np.abs(Jref), np.abs(W))[ok]
            else:
                want = np.einsum("ni,nij->nj", W, Jref)[ok]
                scale = np.einsum("ni,nij->nj", np.abs(W), np.abs(Jref))[ok]
            err = None
            if res.error is not None:
                _shape(res.error, (N, other), f"scenario {sc.name!r}: jacli.{op} error")
                err = np.asarray(res.error, dtype=float)[ok]
            elif caps.error_estimate:
                raise AssertionError(f"jacli.{op}: scenario {sc.name!r}: the backend declares "
                                     "error_estimate=True but the result has error=None")
            _assert_close(D[ok], want, tol.allowed(scale, err),
                          f"jacli.{op} along {label} differs from the hand-derived "
                          f"{'J v' if op == 'jvp' else 'u^T J'} (tolerance: {tol.basis})",
                          lambda idx: _where(sc, ok[idx[0]]) + f", component {names[idx[1]]!r}")
            if not cheap:
                cost = res.extra.get("cost")
                if not isinstance(cost, str) or not cost.strip():
                    raise AssertionError(
                        f"jacli.{op}: scenario {sc.name!r}: backend '{be.name}' declares "
                        f"{'forward' if op == 'jvp' else 'reverse'}=False, so its {op} is not a cheap "
                        f"product; the result must say what it cost in extra['cost'] (got {cost!r})")


def check_prep_reuse(backend, scenario: Scenario) -> None:
    """A Prep is point- and parameter-independent: made once, right at every other point."""
    be = resolve_backend(backend)
    sc = scenario
    tol = tolerance(be.capabilities)
    model = sc.model()
    # prepare sees the model with its nominal point, which is none of the scenario's points
    p = be.prepare(model, "jacobian", sc.wrt)
    X = sc.points_array()
    _, Jref = sc.reference()
    order = list(reversed(sc.ok_points())) + sc.ok_points()
    for i in order:
        r = _jacobian(be, sc, X[i:i + 1], prep=(be, p))
        err = None if r.error is None else np.asarray(r.error, dtype=float)
        _assert_close(np.asarray(r.derivative, dtype=float), Jref[i:i + 1], tol.allowed(Jref[i:i + 1], err),
                      "prepared once, evaluated at one point after another",
                      lambda idx, i=i: _where(sc, i, idx[1], idx[2]))
    if sc.alt_params:
        import jacli

        alt = dict(sc.alt_params)
        _, Jalt = sc.reference(params=alt)
        ok = sc.ok_points()
        r = jacli.jacobian(model.with_params(alt), X, wrt=sc.wrt, backend=be, prep=(be, p))
        err = None if r.error is None else np.asarray(r.error, dtype=float)[ok]
        _assert_close(np.asarray(r.derivative, dtype=float)[ok], Jalt[ok], tol.allowed(Jalt[ok], err),
                      f"prepared with the file's parameters, evaluated with {alt}",
                      lambda idx: _where(sc, ok[idx[0]], idx[1], idx[2]))


def check_inputs_unchanged(backend, scenario: Scenario) -> None:
    """Neither the operator nor the backend's methods modify the arrays they are given."""
    be = resolve_backend(backend)
    caps = be.capabilities
    sc = scenario
    model = sc.model()

    def same(before, after, what):
        if not np.array_equal(before, after, equal_nan=True):
            i, j = np.argwhere(~((before == after) | (np.isnan(before) & np.isnan(after))))[0]
            raise AssertionError(f"inputs changed: scenario {sc.name!r}: {what} modified its input at "
                                 f"[{i}, {j}]: {_fmt(before[i, j])} -> {_fmt(after[i, j])}")

    X = sc.points_array()
    X0 = X.copy()
    _jacobian(be, sc, X)
    same(X0, X, "jacli.jacobian(model, points)")
    A = sc.args_array()
    A0 = A.copy()
    be.jacobian(be.prepare(model, "jacobian", sc.wrt), A)
    same(A0, A, "backend.jacobian(prep, A)")
    rng = np.random.default_rng(7)
    N, k, m = len(X), len(sc.wrt_names()), len(model.outputs)
    for op, cap, width in (("jvp", caps.forward, k), ("vjp", caps.reverse, m)):
        if not cap:
            continue
        W = rng.uniform(-1, 1, size=(N, width))
        W0 = W.copy()
        getattr(be, op)(be.prepare(model, op, sc.wrt), A, W)
        same(A0, A, f"backend.{op}(prep, A, ...)")
        same(W0, W, f"backend.{op}(prep, A, vectors): the vectors")


def check_batch_equals_loop(backend, scenario: Scenario) -> None:
    """A batch gives what the loop over single points gives: statuses, values, derivatives, errors."""
    be = resolve_backend(backend)
    sc = scenario
    tol = tolerance(be.capabilities)
    full = _jacobian(be, sc)
    p = be.prepare(sc.model(), "jacobian", sc.wrt)
    X = sc.points_array()
    for i in range(len(X)):
        one = _jacobian(be, sc, X[i:i + 1], prep=(be, p))
        if int(one.status[0]) != int(full.status[i]):
            raise AssertionError(f"batch vs loop: {_where(sc, i)}: status {int(full.status[i])} in the batch, "
                                 f"{int(one.status[0])} alone ({full.messages[i]!r} vs {one.messages[0]!r})")
        v1, vb = np.asarray(one.value[0], dtype=float), np.asarray(full.value[i], dtype=float)
        if not np.array_equal(np.isnan(v1), np.isnan(vb)):
            raise AssertionError(f"batch vs loop: {_where(sc, i)}: values {vb.tolist()} in the batch, "
                                 f"{v1.tolist()} alone")
        fin = np.isfinite(v1) & np.isfinite(vb)
        _assert_close(np.where(fin, vb, 0), np.where(fin, v1, 0), 2 * VALUE_RTOL * np.abs(np.where(fin, v1, 0)),
                      "batch vs loop: value", lambda idx, i=i: _where(sc, i, idx[0]))
        d1, db = np.asarray(one.derivative[0], dtype=float), np.asarray(full.derivative[i], dtype=float)
        if not np.array_equal(np.isnan(d1), np.isnan(db)):
            raise AssertionError(f"batch vs loop: {_where(sc, i)}: derivative NaN where the other is a number: "
                                 f"batch {db.tolist()}, alone {d1.tolist()}")
        if (one.error is None) != (full.error is None):
            raise AssertionError(f"batch vs loop: {_where(sc, i)}: an error estimate in one and not the other")
        err = None
        if one.error is not None:
            e1, eb = np.asarray(one.error[0], dtype=float), np.asarray(full.error[i], dtype=float)
            err = np.where(np.isnan(e1), 0.0, e1) + np.where(np.isnan(eb), 0.0, eb)
        fin = np.isfinite(d1) & np.isfinite(db)
        _assert_close(np.where(fin, db, 0), np.where(fin, d1, 0),
                      tol.allowed(np.where(fin, d1, 0), err, factor=2.0),
                      f"batch vs loop: derivative (tolerance: {tol.basis})",
                      lambda idx, i=i: _where(sc, i, idx[0], idx[1]))


def check_prep_mismatch(backend, scenario: Scenario) -> None:
    """The Prep records model, op, wrt and backend; using it for anything else raises PrepMismatch."""
    import jacli
    from ..errors import PrepMismatch

    be = resolve_backend(backend)
    sc = scenario
    model = sc.model()
    wrt = sc.wrt_names()
    p = be.prepare(model, "jacobian", sc.wrt)
    symbols = tuple(model.input_names) + tuple(model.parameter_names)
    expect = {"backend": be.spec, "fingerprint": model.fingerprint, "op": "jacobian", "wrt": wrt,
              "outputs": tuple(model.output_names), "symbols": symbols,
              "wrt_idx": tuple(symbols.index(w) for w in wrt)}
    for field, want in expect.items():
        got = getattr(p, field, None)
        if (tuple(got) if isinstance(got, (list, tuple)) else got) != want:
            raise AssertionError(f"prep: scenario {sc.name!r}: Prep.{field} is {got!r}, expected {want!r}")
    X = sc.points_array()
    _jacobian(be, sc, X, prep=(be, p))  # the right use must work

    def must_raise(what, call):
        try:
            call()
        except PrepMismatch:
            return
        raise AssertionError(f"prep mismatch: scenario {sc.name!r}: a Prep for 'jacobian' on this model was "
                             f"accepted with {what}; expected PrepMismatch")

    from ._scenarios import SCALAR, WIDE

    other = SCALAR.model()
    if other.fingerprint == model.fingerprint:
        other = WIDE.model()
    must_raise("another model", lambda: jacli.jacobian(other, None, backend=be, prep=(be, p)))
    op2 = _product_op(be.capabilities)
    if op2 is not None:
        p2 = be.prepare(model, op2, sc.wrt)
        must_raise(f"operation 'jacobian' (it was prepared for {op2!r})",
                   lambda: _jacobian(be, sc, X, prep=(be, p2)))
    candidates = list(model.input_names) + list(model.parameter_names)
    wrt2 = tuple(reversed(wrt)) if len(wrt) > 1 else tuple(c for c in candidates if c not in wrt)[:1]
    if wrt2:
        must_raise(f"wrt={list(wrt2)} (it was prepared for {list(wrt)})",
                   lambda: jacli.jacobian(model, X, wrt=wrt2, backend=be, prep=(be, p)))


def check_structure(backend, scenario: Scenario) -> None:
    """A backend declaring ``sparse`` reports exactly the hand-derived zero pattern."""
    be = resolve_backend(backend)
    sc = scenario
    p = be.prepare(sc.model(), "jacobian", sc.wrt)
    S = be.structure(p)
    want = sc.expected_structure()
    if S is None:
        raise AssertionError(f"structure: scenario {sc.name!r}: the backend declares sparse=True but "
                             "structure(prep) returned None")
    _shape(S, want.shape, f"scenario {sc.name!r}: structure(prep)")
    S = np.asarray(S, dtype=bool)
    diff = np.argwhere(S != want)
    if len(diff):
        r, c = diff[0]
        m = sc.model()
        raise AssertionError(f"structure: scenario {sc.name!r}: d({m.output_names[r]})/d({sc.wrt_names()[c]}) "
                             f"is {'structurally non-zero' if want[r, c] else 'structurally zero'} but "
                             f"structure() says {bool(S[r, c])} ({len(diff)} entries differ)")
    res = _jacobian(be, sc)
    if res.structure is None or not np.array_equal(np.asarray(res.structure, dtype=bool), want):
        raise AssertionError(f"structure: scenario {sc.name!r}: Result.structure does not match structure(prep)")


def check_capability_refusal(backend, scenario: Scenario) -> None:
    """On a model it cannot handle, the backend raises CapabilityError naming one that can."""
    from ..backends import backend_names
    from ..errors import CapabilityError

    be = resolve_backend(backend)
    sc = scenario
    caps = be.capabilities
    ops = ["jacobian"] + [op for op, cap in (("jvp", caps.forward), ("vjp", caps.reverse),
                                             ("hessian", caps.second_order), ("hvp", caps.second_order)) if cap]
    for op in ops:
        try:
            p = be.prepare(sc.model(), op, sc.wrt)
        except CapabilityError as exc:
            others = [n for n in backend_names() if n != be.name]
            if others and not any(n in str(exc) for n in others):
                raise AssertionError(f"capability: scenario {sc.name!r}: the CapabilityError for {op!r} does "
                                     f"not name a backend that can do it (one of {', '.join(others)}): "
                                     f"{exc}") from None
            continue
        raise AssertionError(f"capability: scenario {sc.name!r}: {sc.compatible(be.capabilities)[1]}, yet "
                             f"prepare(model, {op!r}) returned a Prep instead of raising CapabilityError "
                             f"(got {p!r})")
    import jacli

    calls = [("jacli.jacobian", lambda: _jacobian(be, sc))]
    if caps.second_order:
        calls.append(("jacli.hessian", lambda: jacli.hessian(sc.model(), sc.points_array(), wrt=sc.wrt,
                                                             backend=be)))
    for what, call in calls:
        try:
            res = call()
        except CapabilityError:
            continue
        raise AssertionError(f"capability: scenario {sc.name!r}: {what} returned numbers "
                             f"({np.asarray(res.derivative).ravel()[:4].tolist()} ...) instead of raising "
                             "CapabilityError")
