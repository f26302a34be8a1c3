"""Second-order conformance checks: Hessians, Hessian-vector products, Gauss–Newton.

They apply to backends declaring ``second_order`` and to scenarios with a hand-derived
``hessian`` (a scenario without one is skipped, not failed); a backend that does not
declare ``second_order`` is held to refusing Hessians instead
(:func:`check_second_order_refusal`).  Each check is a plain function
``check_xxx(backend, scenario)`` raising AssertionError, like the first-order ones.

Tolerances come from the declared capabilities (:func:`hessian_tolerance`):

=====================  ====================================================================
declared               allowed ``|H - H_ref|`` per entry
=====================  ====================================================================
``exact``              ``1e-12 |H_ref|``
``error_estimate``     ``error + 1e-14 |H_ref|`` (whatever else is declared: a Hessian from
                       a complex-step gradient is still a difference, so complex step is
                       held to its own estimate here, not to 1e-13)
nothing                ``1e-6 |H_ref|``
=====================  ====================================================================

Hessians are compared on the scenario's ``hessian_wrt`` variables (default its ``wrt``).
Points listed in a scenario's ``hessian_hard`` may be NOT_CONVERGED for a backend that
is not exact; their numbers must still be within its error estimate.
"""
from __future__ import annotations

import numpy as np

from ._checks import (ABSURD_ERROR, REFERENCE_RTOL, VALUE_RTOL, Tolerance, _assert_close, _fmt, _shape,
                      resolve_backend, tolerance)
from ._scenarios import Scenario

__all__ = ["hessian_tolerance"]


def hessian_tolerance(capabilities) -> Tolerance:
    """The :class:`~jacli.testing.Tolerance` a backend's Hessians are held to."""
    if capabilities.exact:
        return Tolerance("declared exact", 1e-12)
    if capabilities.error_estimate:
        return Tolerance("its own error estimate", REFERENCE_RTOL, uses_error=True)
    return Tolerance("no declared accuracy (second order)", 1e-6)


# ----------------------------------------------------------------------------- helpers


def _hessian(be, sc: Scenario, X=None, **kw):
    import jacli

    return jacli.hessian(sc.model(), sc.points_array() if X is None else X, wrt=sc.second_order_wrt(),
                         backend=be, **kw)


def _hvp(be, sc: Scenario, V, X=None, **kw):
    import jacli

    return jacli.hvp(sc.model(), sc.points_array() if X is None else X, V, wrt=sc.second_order_wrt(),
                     backend=be, **kw)


def _entry(sc: Scenario, i, r=None, a=None, b=None) -> str:
    pt = tuple(sc.points[i]) if len(sc.points[i]) <= 6 else "(...)"
    s = f"scenario {sc.name!r}, point {i} {pt}"
    if r is not None:
        out = sc.model().output_names[r]
        names = sc.second_order_names()
        if a is None:
            s += f", output {out!r}"
        elif b is None:
            s += f", output {out!r}, component {names[a]!r}"
        else:
            s += f", d2({out})/d({names[a]})d({names[b]})"
    return s


def _directions(N: int, k: int, seed: int):
    rng = np.random.default_rng(seed)
    out = [("a random direction", rng.uniform(-1.0, 1.0, size=(N, k)))]
    out.append((f"unit vector e_{k - 1}", np.tile(np.eye(k)[k - 1], (N, 1))))
    return out


def _error_array(res_error, shape, caps, what):
    """The error array of a second-order result (None for backends without estimates)."""
    if res_error is None:
        if caps.error_estimate:
            raise AssertionError(f"{what}: the backend declares error_estimate=True but returned error=None")
        return None
    _shape(res_error, shape, what + ": error")
    return np.asarray(res_error, dtype=float)


def _status_ok(sc: Scenario, caps, i: int, got: int, what: str, message) -> None:
    from ..results import Status

    if i in sc.domain_errors:
        allowed = {int(Status.DOMAIN_ERROR)}
    elif i in sc.hessian_hard and not caps.exact:
        allowed = {int(Status.OK), int(Status.NOT_CONVERGED)}
    else:
        allowed = {int(Status.OK)}
    if got not in allowed:
        label = Status(got).name if got in {int(x) for x in Status} else str(got)
        raise AssertionError(f"{what}: {_entry(sc, i)}: status {label} ({message!r}), expected "
                             f"{' or '.join(Status(a).name for a in sorted(allowed))}")


def _hvp_compare(sc, caps, tol, got, err, H, V, ok, what):
    want = np.einsum("nikl,nl->nik", H, V)[ok]
    scale = np.einsum("nikl,nl->nik", np.abs(H), np.abs(V))[ok]
    _assert_close(np.asarray(got, dtype=float)[ok], want, tol.allowed(scale, None if err is None else err[ok]),
                  f"{what} differs from H_ref v (tolerance: {tol.basis})",
                  lambda idx: _entry(sc, ok[idx[0]], idx[1], idx[2]))


# ----------------------------------------------------------------------------- the checks


def check_hessian(backend, scenario: Scenario) -> None:
    """Hessians within the declared tolerance of the hand-derived ones; errors as declared, not absurd."""
    be = resolve_backend(backend)
    caps = be.capabilities
    sc = scenario
    tol = hessian_tolerance(caps)
    res = _hessian(be, sc)
    Vref, Gref, Href = sc.hessian_reference()
    N, m, k, _ = Href.shape
    _shape(res.derivative, (N, m, k, k), f"scenario {sc.name!r}: jacli.hessian derivative "
           "(points, outputs, wrt, wrt)")
    if res.op != "hessian" or tuple(res.wrt) != sc.second_order_names():
        raise AssertionError(f"scenario {sc.name!r}: jacli.hessian result has op={res.op!r}, wrt={res.wrt}; "
                             f"expected 'hessian', {sc.second_order_names()}")
    if bool(res.exact) != bool(caps.exact):
        raise AssertionError(f"scenario {sc.name!r}: Result.exact is {res.exact} for a Hessian, but the "
                             f"backend declares exact={caps.exact}")
    ok = sc.ok_points()
    H = np.asarray(res.derivative, dtype=float)
    E = _error_array(res.error, H.shape, caps, f"hessian: scenario {sc.name!r}")
    if caps.exact and E is not None and np.any(E[ok] != 0):
        raise AssertionError(f"hessian: scenario {sc.name!r}: the backend declares exact=True but returned "
                             f"non-zero Hessian error estimates (max {np.nanmax(E[ok]):.3g})")
    if caps.error_estimate:
        bad = np.argwhere(~(np.isfinite(E[ok]) & (E[ok] >= 0)))
        if len(bad):
            i, r, a, b = bad[0]
            raise AssertionError(f"hessian: {_entry(sc, ok[i], r, a, b)}: error {_fmt(E[ok][i, r, a, b])} is "
                                 "not a finite non-negative number at a point inside the domain")
    _assert_close(H[ok], Href[ok], tol.allowed(Href[ok], None if E is None else E[ok]),
                  f"hessian (tolerance: {tol.basis})", lambda idx: _entry(sc, ok[idx[0]], *idx[1:]))
    if caps.error_estimate:
        # Not absurd where the scenario does not say differences cannot resolve H.
        easy = [i for i in ok if i not in sc.hessian_hard]
        if easy:
            R = Href[easy]
            scale = np.maximum(np.abs(R), np.max(np.abs(R), axis=(2, 3), keepdims=True))
            scale = np.maximum(scale, np.max(np.abs(Gref[easy]), axis=2)[:, :, None, None])
            scale = np.maximum(scale, np.abs(Vref[easy])[:, :, None, None])
            scale = np.where(scale > 0, scale, np.max(scale, axis=(0, 2, 3), keepdims=True))
            Ee = E[easy]
            with np.errstate(all="ignore"):
                bad = np.argwhere(~(Ee <= ABSURD_ERROR * scale))
            if len(bad):
                i, r, a, b = bad[0]
                raise AssertionError(
                    f"hessian: {_entry(sc, easy[i], r, a, b)}: error estimate {Ee[i, r, a, b]:.3g} is absurdly "
                    f"large (more than {ABSURD_ERROR:g} x the scale {scale[i, r, a, b]:.3g}); Hessian "
                    f"{_fmt(H[easy[i], r, a, b])}, reference {_fmt(R[i, r, a, b])}")


def check_hessian_status(backend, scenario: Scenario) -> None:
    """Hessians and hvps: DOMAIN_ERROR with NaN numbers outside the domain, OK inside."""
    be = resolve_backend(backend)
    caps = be.capabilities
    sc = scenario
    res = _hessian(be, sc)
    N = len(sc.points)
    k = len(sc.second_order_names())
    _shape(res.status, (N,), f"scenario {sc.name!r}: jacli.hessian status")
    H = np.asarray(res.derivative, dtype=float)
    G = res.extra.get("gradient")
    V = np.random.default_rng(3).uniform(-1, 1, size=(N, k))
    hv = _hvp(be, sc, V)
    HV = np.asarray(hv.derivative, dtype=float)
    for i in range(N):
        _status_ok(sc, caps, i, int(res.status[i]), "hessian status", res.messages[i])
        _status_ok(sc, caps, i, int(hv.status[i]), "hvp status", hv.messages[i])
        if i in sc.domain_errors:
            for what, arr in (("Hessian", H), ("gradient (extra['gradient'])", G), ("hvp", HV)):
                if arr is not None and np.isfinite(np.asarray(arr, dtype=float)[i]).any():
                    raise AssertionError(f"hessian status: {_entry(sc, i)} is outside the domain, but a "
                                         f"{what} was reported: {np.asarray(arr)[i].ravel()[:6].tolist()} "
                                         "(expected NaN)")
            if not res.messages[i]:
                raise AssertionError(f"hessian status: {_entry(sc, i)}: DOMAIN_ERROR without a message")


def check_hessian_symmetric(backend, scenario: Scenario) -> None:
    """Hessians are symmetric: bit for bit if exact, else within their error estimates."""
    be = resolve_backend(backend)
    caps = be.capabilities
    sc = scenario
    tol = hessian_tolerance(caps)
    res = _hessian(be, sc)
    ok = sc.ok_points()
    H = np.asarray(res.derivative, dtype=float)[ok]
    Ht = np.swapaxes(H, 2, 3)
    describe = lambda idx: (_entry(sc, ok[idx[0]], *idx[1:]) + f" vs its transpose entry "  # noqa: E731
                            f"({_fmt(Ht[idx])})")
    if caps.exact:
        bad = np.argwhere(~((H == Ht) | (np.isnan(H) & np.isnan(Ht))))
        if len(bad):
            idx = tuple(bad[0])
            raise AssertionError(f"hessian symmetry: the backend declares exact=True, so H must equal H^T "
                                 f"exactly: {describe(idx)}: got {_fmt(H[idx])} ({len(bad)} asymmetric entries)")
        return
    E = _error_array(res.error, res.derivative.shape, caps, f"hessian symmetry: scenario {sc.name!r}")
    err = None if E is None else E[ok] + np.swapaxes(E[ok], 2, 3)
    _assert_close(H, Ht, tol.allowed(np.abs(H) + np.abs(Ht), err), "hessian symmetry: |H - H^T| exceeds the "
                  f"Hessian's own allowance (tolerance: {tol.basis})", describe)


def check_hessian_exact_zeros(backend, scenario: Scenario) -> None:
    """Hessian zeros are exactly 0.0: every identically-zero entry if exact; else where f ignores a variable."""
    be = resolve_backend(backend)
    sc = scenario
    if be.capabilities.exact:
        Z = ~sc.expected_hessian_structure()
        why = "is identically zero"
    else:
        Z = sc.independent_hessian_entries()
        why = "is zero because the output does not depend on one of the two variables"
    res = _hessian(be, sc)
    H = np.asarray(res.derivative, dtype=float)
    for i in sc.ok_points():
        bad = np.argwhere(Z & (H[i] != 0))
        if len(bad):
            r, a, b = bad[0]
            raise AssertionError(f"hessian exact zeros: {_entry(sc, i, r, a, b)} {why}, but the backend "
                                 f"returned {_fmt(H[i, r, a, b])} instead of exactly 0.0 ({len(bad)} such entries)")


def check_hessian_gradient(backend, scenario: Scenario) -> None:
    """``extra["gradient"]`` of a Hessian result equals the Jacobian (hand-derived, and the backend's own)."""
    import jacli

    be = resolve_backend(backend)
    caps = be.capabilities
    sc = scenario
    tol = tolerance(caps)
    res = _hessian(be, sc)
    _, Gref, _ = sc.hessian_reference()
    N, m, k = Gref.shape
    G = res.extra.get("gradient")
    if G is None:
        raise AssertionError(f"hessian gradient: scenario {sc.name!r}: the result has no extra['gradient'] "
                             f"(keys: {sorted(res.extra)})")
    _shape(G, (N, m, k), f"scenario {sc.name!r}: extra['gradient']")
    G = np.asarray(G, dtype=float)
    ok = sc.ok_points()
    jac = jacli.jacobian(sc.model(), sc.points_array(), wrt=sc.second_order_wrt(), backend=be)
    EJ = None if jac.error is None else np.asarray(jac.error, dtype=float)[ok]
    gerr = res.extra.get("gradient_error")
    EG = None if gerr is None else np.asarray(gerr, dtype=float)[ok]
    if EG is None and caps.error_estimate:
        EG = EJ        # no estimate of its own: the backend's Jacobian estimate stands in
    _assert_close(G[ok], Gref[ok], tol.allowed(Gref[ok], EG),
                  f"hessian gradient: extra['gradient'] vs the hand-derived Jacobian (tolerance: {tol.basis})",
                  lambda idx: _entry(sc, ok[idx[0]], idx[1], idx[2]))
    J = np.asarray(jac.derivative, dtype=float)[ok]
    both = None if EG is None and EJ is None else (0 if EG is None else EG) + (0 if EJ is None else EJ)
    _assert_close(G[ok], J, tol.allowed(np.abs(J), both, factor=2.0),
                  "hessian gradient: extra['gradient'] vs jacli.jacobian with the same backend",
                  lambda idx: _entry(sc, ok[idx[0]], idx[1], idx[2]))


def check_hvp(backend, scenario: Scenario) -> None:
    """H v for random and unit v: backend.hvp (its "hvp" prep), the default fallback, and jacli.hvp."""
    from ..backends import Backend

    be = resolve_backend(backend)
    caps = be.capabilities
    sc = scenario
    tol = hessian_tolerance(caps)
    model = sc.model()
    w2 = sc.second_order_wrt()
    _, _, Href = sc.hessian_reference()
    N, m, k, _ = Href.shape
    A = sc.args_array()
    ok = sc.ok_points()
    p_hvp = be.prepare(model, "hvp", w2)
    p_hess = be.prepare(model, "hessian", w2)
    (label, V), (ulabel, U) = _directions(N, k, 11)
    calls = [(f"backend.hvp(prep for 'hvp') along {label}", lambda: be.hvp(p_hvp, A.copy(), V.copy()), V),
             (f"backend.hvp(prep for 'hvp') along {ulabel}", lambda: be.hvp(p_hvp, A.copy(), U.copy()), U),
             (f"the default Backend.hvp (from hessian()) along {label}",
              lambda: Backend.hvp(be, p_hess, A.copy(), V.copy()), V)]
    for what, call, W in calls:
        b = call()
        _shape(b.derivative, (N, m, k), f"scenario {sc.name!r}: {what}: derivative")
        _shape(b.value, (N, m), f"scenario {sc.name!r}: {what}: value")
        err = _error_array(b.error, (N, m, k), caps, f"scenario {sc.name!r}: {what}")
        _hvp_compare(sc, caps, tol, b.derivative, err, Href, W, ok, what)
    res = _hvp(be, sc, V)
    _shape(res.derivative, (N, m, k), f"scenario {sc.name!r}: jacli.hvp derivative")
    err = _error_array(res.error, (N, m, k), caps, f"scenario {sc.name!r}: jacli.hvp")
    _hvp_compare(sc, caps, tol, res.derivative, err, Href, V, ok, f"jacli.hvp along {label}")


def check_hvp_function(backend, scenario: Scenario) -> None:
    """``jacli.hvp_function`` (matrix-free, one output at one point) gives H v for a vector and a block."""
    import jacli

    be = resolve_backend(backend)
    caps = be.capabilities
    sc = scenario
    tol = hessian_tolerance(caps)
    model = sc.model()
    w2 = sc.second_order_wrt()
    names = sc.second_order_names()
    _, _, Href = sc.hessian_reference()
    N, m, k, _ = Href.shape
    X = sc.points_array()
    rng = np.random.default_rng(5)
    i = sc.ok_points()[-1]
    E = None
    if caps.error_estimate:
        # hv carries no error estimate; the Hessian's own (|H v - H_ref v| <= E |v|) stands in.
        r = jacli.hessian(model, X[i:i + 1], wrt=w2, backend=be)
        E = _error_array(r.error, (1, m, k, k), caps, f"hvp_function: scenario {sc.name!r}")[0]
    for o in sorted({0, m - 1}):
        out = model.output_names[o]
        hv, kk, nn = jacli.hvp_function(model, X[i], output=out, wrt=w2, backend=be)
        if kk != k or tuple(nn) != names:
            raise AssertionError(f"hvp_function: scenario {sc.name!r}: returned k={kk}, names={nn}; "
                                 f"expected {k}, {names}")
        v = rng.uniform(-1, 1, size=k)
        B = rng.uniform(-1, 1, size=(k, 2))
        v0, B0 = v.copy(), B.copy()
        g1, gB = hv(v), hv(B)
        if not (np.array_equal(v, v0) and np.array_equal(B, B0)):
            raise AssertionError(f"hvp_function: scenario {sc.name!r}: the operator modified its argument")
        _shape(g1, (k,), f"hvp_function: scenario {sc.name!r}: hv(vector (k,))")
        _shape(gB, (k, 2), f"hvp_function: scenario {sc.name!r}: hv(block (k, 2))")
        got = np.concatenate([np.asarray(g1, dtype=float)[None], np.asarray(gB, dtype=float).T])  # (3, k)
        W = np.concatenate([v[None], B.T])                                                       # (3, k)
        Hi = Href[i, o]
        want = W @ Hi.T
        scale = np.abs(W) @ np.abs(Hi).T
        err = None if E is None else np.abs(W) @ E[o].T
        _assert_close(got, want, tol.allowed(scale, err, factor=2.0),
                      f"hvp_function for output {out!r} differs from H_ref v (tolerance: {tol.basis})",
                      lambda idx, i=i, o=o: _entry(sc, i, o, idx[1])
                      + (" (the vector)" if idx[0] == 0 else f" (block column {idx[0] - 1})"))


def check_gauss_newton(backend, scenario: Scenario) -> None:
    """``of="sumsq"``: Hessian of ½‖f‖² = JᵀJ + Σ fᵢ Hᵢ, with ``extra["gauss_newton"]`` = JᵀJ."""
    import jacli

    be = resolve_backend(backend)
    caps = be.capabilities
    sc = scenario
    tol1, tol2 = tolerance(caps), hessian_tolerance(caps)
    model = sc.model()
    X = sc.points_array()
    w2 = sc.second_order_wrt()
    Vref, Gref, Href = sc.hessian_reference()
    N, m, k, _ = Href.shape
    ok = sc.ok_points()
    res = jacli.hessian(model, X, of="sumsq", wrt=w2, backend=be)
    _shape(res.derivative, (N, 1, k, k), f"scenario {sc.name!r}: hessian(of='sumsq') derivative")
    _shape(res.value, (N, 1), f"scenario {sc.name!r}: hessian(of='sumsq') value")
    GN = res.extra.get("gauss_newton")
    _shape(GN, (N, k, k), f"scenario {sc.name!r}: hessian(of='sumsq') extra['gauss_newton']")
    GN = np.asarray(GN, dtype=float)
    jac = jacli.jacobian(model, X, wrt=w2, backend=be)
    J = np.asarray(jac.derivative, dtype=float)[ok]
    EJ = None if jac.error is None else np.asarray(jac.error, dtype=float)[ok]
    aJ = np.abs(J)
    gn_err = None if EJ is None else np.einsum("nik,nil->nkl", aJ, EJ) + np.einsum("nik,nil->nkl", EJ, aJ)
    _assert_close(GN[ok], np.einsum("nik,nil->nkl", J, J),
                  tol1.allowed(np.einsum("nik,nil->nkl", aJ, aJ), gn_err, factor=2.0),
                  "gauss-newton: extra['gauss_newton'] differs from J^T J (J from jacli.jacobian)",
                  lambda idx: _entry(sc, ok[idx[0]]) + f", entry ({sc.second_order_names()[idx[1]]}, "
                  f"{sc.second_order_names()[idx[2]]})")
    f, Jr, Hr = Vref[ok], Gref[ok], Href[ok]
    want = np.einsum("nik,nil->nkl", Jr, Jr) + np.einsum("ni,nikl->nkl", f, Hr)
    scale = np.einsum("nik,nil->nkl", np.abs(Jr), np.abs(Jr)) + np.einsum("ni,nikl->nkl", np.abs(f), np.abs(Hr))
    E = _error_array(res.error, (N, 1, k, k), caps, f"gauss-newton: scenario {sc.name!r}")
    D = np.asarray(res.derivative, dtype=float)[:, 0]
    _assert_close(D[ok], want, tol2.allowed(scale, None if E is None else E[ok, 0]),
                  f"gauss-newton: Hessian of 1/2 |f|^2 differs from J^T J + sum f_i H_i (hand-derived; "
                  f"tolerance: {tol2.basis})",
                  lambda idx: _entry(sc, ok[idx[0]]) + f", entry ({sc.second_order_names()[idx[1]]}, "
                  f"{sc.second_order_names()[idx[2]]})")
    s_ref = 0.5 * np.sum(f * f, axis=1)
    _assert_close(np.asarray(res.value, dtype=float)[ok, 0], s_ref, 2 * VALUE_RTOL * s_ref,
                  "gauss-newton: value 1/2 |f|^2", lambda idx: _entry(sc, ok[idx[0]]))
    g = res.extra.get("gradient")
    _shape(g, (N, 1, k), f"scenario {sc.name!r}: hessian(of='sumsq') extra['gradient']")
    gerr = None if EJ is None else np.einsum("ni,nik->nk", np.abs(f), EJ)
    _assert_close(np.asarray(g, dtype=float)[ok, 0], np.einsum("ni,nik->nk", f, Jr),
                  tol1.allowed(np.einsum("ni,nik->nk", np.abs(f), np.abs(Jr)), gerr, factor=2.0),
                  "gauss-newton: gradient J^T f", lambda idx: _entry(sc, ok[idx[0]]) + f", component "
                  f"{sc.second_order_names()[idx[1]]!r}")
    for i in sorted(sc.domain_errors):
        if np.isfinite(D[i]).any():
            raise AssertionError(f"gauss-newton: {_entry(sc, i)} is outside the domain, but a Hessian was "
                                 f"reported: {D[i].ravel().tolist()} (expected NaN)")
    for i in range(N):
        _status_ok(sc, caps, i, int(res.status[i]), "gauss-newton status", res.messages[i])


def check_hessian_prep_reuse(backend, scenario: Scenario) -> None:
    """A "hessian" or "hvp" Prep made once is right at every other point and parameter value."""
    import jacli

    be = resolve_backend(backend)
    caps = be.capabilities
    sc = scenario
    tol = hessian_tolerance(caps)
    model = sc.model()
    w2 = sc.second_order_wrt()
    X = sc.points_array()
    _, _, Href = sc.hessian_reference()
    N, m, k, _ = Href.shape
    ph = be.prepare(model, "hessian", w2)
    pv = be.prepare(model, "hvp", w2)
    V = np.random.default_rng(17).uniform(-1, 1, size=(N, k))
    ok = sc.ok_points()
    # The Preps were made at the nominal point, which is none of the scenario's points.
    for i in list(reversed(ok)) + ok[:1]:
        r = _hessian(be, sc, X[i:i + 1], prep=(be, ph))
        E = _error_array(r.error, (1, m, k, k), caps, f"hessian prep reuse: scenario {sc.name!r}")
        _assert_close(np.asarray(r.derivative, dtype=float), Href[i:i + 1], tol.allowed(Href[i:i + 1], E),
                      "hessian: prepared once, evaluated at one point after another",
                      lambda idx, i=i: _entry(sc, i, *idx[1:]))
    r = _hvp(be, sc, V, prep=(be, pv))
    E = _error_array(r.error, (N, m, k), caps, f"hvp prep reuse: scenario {sc.name!r}")
    _hvp_compare(sc, caps, tol, r.derivative, E, Href, V, ok, "hvp: prepared once, evaluated at other points")
    if sc.alt_params:
        alt = dict(sc.alt_params)
        _, _, Halt = sc.hessian_reference(params=alt)
        r = jacli.hessian(model.with_params(alt), X, wrt=w2, backend=be, prep=(be, ph))
        E = _error_array(r.error, (N, m, k, k), caps, f"hessian prep reuse: scenario {sc.name!r}")
        _assert_close(np.asarray(r.derivative, dtype=float)[ok], Halt[ok],
                      tol.allowed(Halt[ok], None if E is None else E[ok]),
                      f"hessian: prepared with the file's parameters, evaluated with {alt}",
                      lambda idx: _entry(sc, ok[idx[0]], *idx[1:]))
        r = jacli.hvp(model.with_params(alt), X, V, wrt=w2, backend=be, prep=(be, pv))
        E = _error_array(r.error, (N, m, k), caps, f"hvp prep reuse: scenario {sc.name!r}")
        _hvp_compare(sc, caps, tol, r.derivative, E, Halt, V, ok,
                     f"hvp: prepared with the file's parameters, evaluated with {alt}")


def check_hessian_inputs_unchanged(backend, scenario: Scenario) -> None:
    """jacli.hessian/hvp and backend.hessian/hvp do not modify the points, arguments or vectors."""
    from ..backends import Backend

    be = resolve_backend(backend)
    sc = scenario
    model = sc.model()
    w2 = sc.second_order_wrt()
    k = len(sc.second_order_names())

    def same(before, after, what):
        if not np.array_equal(before, after, equal_nan=True):
            i, j = np.argwhere(~((before == after) | (np.isnan(before) & np.isnan(after))))[0]
            raise AssertionError(f"inputs changed: scenario {sc.name!r}: {what} modified its input at "
                                 f"[{i}, {j}]: {_fmt(before[i, j])} -> {_fmt(after[i, j])}")

    X = sc.points_array()
    X0 = X.copy()
    V = np.random.default_rng(23).uniform(-1, 1, size=(len(X), k))
    V0 = V.copy()
    _hessian(be, sc, X)
    same(X0, X, "jacli.hessian(model, points)")
    _hvp(be, sc, V, X)
    same(X0, X, "jacli.hvp(model, points, vectors): the points")
    same(V0, V, "jacli.hvp(model, points, vectors): the vectors")
    # The backend's own methods on the first three points (the batch scenario's third is
    # outside the domain): enough to see a write, at a third of the cost of differences.
    A = np.ascontiguousarray(sc.args_array()[:3])
    A0 = A.copy()
    V = np.ascontiguousarray(V[:3])
    V0 = V.copy()
    ph = be.prepare(model, "hessian", w2)
    be.hessian(ph, A)
    same(A0, A, "backend.hessian(prep, A)")
    for what, call in (("backend.hvp(prep for 'hvp', A, V)", lambda: be.hvp(be.prepare(model, "hvp", w2), A, V)),
                       ("the default Backend.hvp(prep, A, V)", lambda: Backend.hvp(be, ph, A, V))):
        call()
        same(A0, A, what + ": A")
        same(V0, V, what + ": V")


def check_hessian_batch_equals_loop(backend, scenario: Scenario) -> None:
    """A batch of Hessians equals the loop over single points: statuses, values, Hessians, errors."""
    be = resolve_backend(backend)
    sc = scenario
    tol = hessian_tolerance(be.capabilities)
    full = _hessian(be, sc)
    p = be.prepare(sc.model(), "hessian", sc.second_order_wrt())
    X = sc.points_array()
    for i in range(len(X)):
        one = _hessian(be, sc, X[i:i + 1], prep=(be, p))
        if int(one.status[0]) != int(full.status[i]):
            raise AssertionError(f"hessian batch vs loop: {_entry(sc, i)}: status {int(full.status[i])} in the "
                                 f"batch, {int(one.status[0])} alone ({full.messages[i]!r} vs {one.messages[0]!r})")
        d1, db = np.asarray(one.derivative[0], dtype=float), np.asarray(full.derivative[i], dtype=float)
        if not np.array_equal(np.isnan(d1), np.isnan(db)):
            raise AssertionError(f"hessian batch vs loop: {_entry(sc, i)}: NaN in one and not the other: "
                                 f"batch {db.ravel()[:6].tolist()}, alone {d1.ravel()[:6].tolist()}")
        if (one.error is None) != (full.error is None):
            raise AssertionError(f"hessian batch vs loop: {_entry(sc, i)}: an error estimate in one and not "
                                 "the other")
        err = None
        if one.error is not None:
            e1, eb = np.asarray(one.error[0], dtype=float), np.asarray(full.error[i], dtype=float)
            err = np.where(np.isnan(e1), 0.0, e1) + np.where(np.isnan(eb), 0.0, eb)
            # The estimates themselves must not depend on the other points of the batch
            # (within a factor of 10, above the rounding of the entry itself).
            fin = np.isfinite(e1) & np.isfinite(eb)
            hi, lo = np.maximum(e1, eb), np.minimum(e1, eb)
            bad = np.argwhere(fin & (hi > 10 * lo + REFERENCE_RTOL * np.abs(np.where(np.isfinite(d1), d1, 0))))
            if len(bad):
                r, a, b = bad[0]
                raise AssertionError(f"hessian batch vs loop: {_entry(sc, i, r, a, b)}: error estimate "
                                     f"{eb[r, a, b]:.3g} in the batch, {e1[r, a, b]:.3g} alone (a point's "
                                     "estimate depends on the other points)")
        fin = np.isfinite(d1) & np.isfinite(db)
        _assert_close(np.where(fin, db, 0), np.where(fin, d1, 0),
                      tol.allowed(np.where(fin, d1, 0), err, factor=2.0),
                      f"hessian batch vs loop (tolerance: {tol.basis})", lambda idx, i=i: _entry(sc, i, *idx))


def check_second_order_refusal(backend, scenario: Scenario) -> None:
    """A backend not declaring ``second_order`` raises CapabilityError for Hessians, naming one that can."""
    import jacli
    from ..backends import backend_class, backend_names
    from ..errors import BackendUnavailable, CapabilityError

    be = resolve_backend(backend)
    sc = scenario
    model = sc.model()
    X = sc.points_array()
    k = len(sc.second_order_names())
    capable = []
    for n in backend_names():
        try:
            if n != be.name and backend_class(n).capabilities.second_order:
                capable.append(n)
        except BackendUnavailable:
            pass
    calls = (("jacli.hessian", lambda: _hessian(be, sc)),
             ("jacli.hessian(of='sumsq')", lambda: jacli.hessian(model, X, of="sumsq", wrt=sc.second_order_wrt(),
                                                                 backend=be)),
             ("jacli.hvp", lambda: _hvp(be, sc, np.ones((len(X), k)))))
    for what, call in calls:
        try:
            res = call()
        except CapabilityError as exc:
            if capable and not any(n in str(exc) for n in capable):
                raise AssertionError(f"second order refusal: scenario {sc.name!r}: the CapabilityError of {what} "
                                     f"does not name a backend that can ({', '.join(capable)}): {exc}") from None
            continue
        raise AssertionError(f"second order refusal: scenario {sc.name!r}: the backend declares "
                             f"second_order=False, yet {what} returned numbers "
                             f"({np.asarray(res.derivative).ravel()[:4].tolist()} ...) instead of raising "
                             "CapabilityError")
