"""Generic fallbacks built from a backend's primitives."""
from __future__ import annotations

from ._protocol import Block


def jacobian_from_products(backend, prep, A) -> Block:
    """Jacobian from ``k`` jvps or ``m`` vjps, whichever is fewer (and available).

    Each product is computed for the whole batch at once; the error estimates of the
    products become the columns (rows) of the Jacobian's error estimate.
    """
    import numpy as np

    N = A.shape[0]
    m, k = len(prep.outputs), len(prep.wrt)
    caps = backend.capabilities
    use_reverse = caps.reverse and (not caps.forward or m < k)
    J = np.empty((N, m, k))
    err = None
    nfev = 0
    value = None
    if use_reverse:
        for i in range(m):
            U = np.zeros((N, m))
            U[:, i] = 1.0
            b = backend.vjp(prep, A, U)
            J[:, i, :] = b.derivative
            value = b.value
            nfev += b.nfev
            if b.error is not None:
                err = np.zeros((N, m, k)) if err is None else err
                err[:, i, :] = b.error
    else:
        for j in range(k):
            V = np.zeros((N, k))
            V[:, j] = 1.0
            b = backend.jvp(prep, A, V)
            J[:, :, j] = b.derivative
            value = b.value
            nfev += b.nfev
            if b.error is not None:
                err = np.zeros((N, m, k)) if err is None else err
                err[:, :, j] = b.error
    return Block(value=value, derivative=J, error=err, nfev=nfev)


def vjp_from_jacobian(backend, prep, A, U):
    """uᵀJ from the full Jacobian, for backends without a reverse mode.

    Costs what the Jacobian costs (one directional derivative per variable): the result
    says so in ``extra["cost"]`` rather than pretending to be a cheap product.
    """
    import numpy as np

    b = backend.jacobian(prep, A)
    U = np.asarray(U, dtype=float)
    vjp = np.einsum("ni,nik->nk", U, b.derivative)
    err = None if b.error is None else np.einsum("ni,nik->nk", np.abs(U), b.error)
    k = b.derivative.shape[2]
    return Block(value=b.value, derivative=vjp, error=err, nfev=b.nfev,
                 extra={"cost": f"formed from the full Jacobian: {k} directional derivatives "
                                f"({b.nfev} model evaluations per point); backend '{backend.name}' "
                                "has no reverse mode"})


def jvp_from_jacobian(backend, prep, A, V):
    """Jv from the full Jacobian, for backends without a forward mode."""
    import numpy as np

    b = backend.jacobian(prep, A)
    V = np.asarray(V, dtype=float)
    jv = np.einsum("nik,nk->ni", b.derivative, V)
    err = None if b.error is None else np.einsum("nik,nk->ni", b.error, np.abs(V))
    return Block(value=b.value, derivative=jv, error=err, nfev=b.nfev,
                 extra={"cost": f"formed from the full Jacobian ({b.nfev} model evaluations per point)"})


def hessian_by_differencing(prep, A, gradient, fd_options: dict) -> Block:
    """Hessians by extrapolated central differences of a gradient routine.

    ``gradient(A) -> Block`` gives the Jacobian (every output's gradient) with an error
    estimate at each row of ``A``.  Each Hessian column is one directional difference of
    it (:func:`jacli.backends._fdcore.fd_jvp`), told the gradient's own error as its noise
    level so the estimate covers both.  The result is symmetrised; the asymmetry is added
    to the error estimate.  With a complex-step gradient (accurate to rounding) this gives
    near-``fd``-on-exact-data accuracy; with an ``fd`` gradient, nested differences.
    """
    import numpy as np

    from ._fdcore import fd_jvp

    A = np.asarray(A, dtype=float)
    N = A.shape[0]
    if N != 1:
        # Point by point: each point's noise level (its gradient's error) sets its own
        # Hessian estimate; pooling over a batch would let one rough point (or one outside
        # the domain) spoil the others' estimates and statuses.
        parts = [hessian_by_differencing(prep, A[i:i + 1], gradient, fd_options) for i in range(N)]
        ge = [p.extra["gradient_error"] for p in parts]
        return Block(value=np.concatenate([p.value for p in parts]),
                     derivative=np.concatenate([p.derivative for p in parts]),
                     error=np.concatenate([p.error for p in parts]),
                     nfev=max(p.nfev for p in parts),
                     extra={"gradient": np.concatenate([p.extra["gradient"] for p in parts]),
                            "gradient_error": None if any(g is None for g in ge) else np.concatenate(ge)})
    s = A.shape[1]
    inner = gradient(A)
    m, k = inner.derivative.shape[1], inner.derivative.shape[2]
    noise = None
    if inner.error is not None:
        e = np.nan_to_num(inner.error, nan=0.0, posinf=0.0)
        noise = e.reshape(m * k) + 1e-300

    def G(X):  # (s, K) -> (m*k, K)
        return gradient(X.T).derivative.reshape(X.shape[1], m * k).T

    H = np.empty((1, m, k, k))
    E = np.empty((1, m, k, k))
    nfev = 0
    for c, j in enumerate(prep.wrt_idx):
        D = np.zeros((1, s))
        D[:, j] = 1.0
        col, err, nf = fd_jvp(G, A, D, f_abs_err=noise, **fd_options)
        H[:, :, :, c] = col.reshape(1, m, k)
        E[:, :, :, c] = err.reshape(1, m, k)
        nfev += nf
    Ht = np.swapaxes(H, 2, 3)
    asym = np.abs(H - Ht) / 2
    H = (H + Ht) / 2
    E = (E + np.swapaxes(E, 2, 3)) / 2 + asym
    return Block(value=inner.value, derivative=H, error=E, nfev=(nfev + 1) * max(inner.nfev, 1),
                 extra={"gradient": inner.derivative, "gradient_error": inner.error})
