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
