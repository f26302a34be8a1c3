"""Result types and per-point status codes.

Every operator returns a :class:`Result` for a batch of ``N`` points (``N`` may be 1).
Failures are data: a point whose evaluation failed has a non-OK status and a message,
and its numbers are NaN; the other points are unaffected.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence


class Status(enum.IntEnum):
    """Status of one point."""

    OK = 0
    NONFINITE = 1       # the value or a derivative overflowed to inf/nan
    DOMAIN_ERROR = 2    # a function was evaluated outside its domain (log(-1), 1/0, sqrt(-2))
    NOT_CONVERGED = 3   # an iterative method (e.g. Richardson extrapolation) did not reach its tolerance
    BAD_INPUT = 4       # the point itself is invalid (missing value, not a number)
    USER_ERROR = 5      # a Python-function model raised an exception at this point

    @property
    def label(self) -> str:
        """Lower-case name used in JSON (``"ok"``, ``"domain_error"``, ...)."""
        return self.name.lower()


@dataclass(frozen=True)
class Result:
    """Derivatives of a model at a batch of points.

    Attributes
    ----------
    op : str
        ``"jacobian"`` (later also ``"jvp"``, ``"vjp"``, ``"hessian"``, ``"hvp"``).
    backend : str
        The backend's spec string, e.g. ``"sympy"`` or ``"fd:order=4"``.
    exact : bool
        True when the derivative is exact up to floating-point rounding.
    inputs : tuple of str
        Names of all model inputs (the coordinates of ``at``).
    wrt : tuple of str
        Names of the differentiation variables: the Jacobian's columns.
    outputs : tuple of str
        Names of the outputs: the Jacobian's rows.
    at : ndarray, shape (N, len(inputs))
        The points.
    value : ndarray, shape (N, m)
        The model's outputs at each point.
    derivative : ndarray
        For ``jacobian``: shape (N, m, len(wrt)).
    error : ndarray or None
        Per-entry absolute error estimate, same shape as ``derivative``; None for exact backends.
    status : ndarray of int, shape (N,)
        :class:`Status` code of each point.
    messages : tuple of (str or None), length N
        Human message for each non-OK point.
    nfev : int
        Model evaluations per point (0 for symbolic backends, which evaluate derivative code instead).
    params : dict
        Parameter values used.
    structure : ndarray of bool or None, shape (m, len(wrt))
        Structural non-zeros when the backend knows them (symbolic), else None.
    extra : dict
        Backend- or operation-specific details.
    """

    op: str
    backend: str
    exact: bool
    inputs: tuple
    wrt: tuple
    outputs: tuple
    at: Any
    value: Any
    derivative: Any
    error: Optional[Any]
    status: Any
    messages: tuple
    nfev: int
    params: dict = field(default_factory=dict)
    structure: Optional[Any] = None
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.status)

    @property
    def ok(self) -> bool:
        """True when every point has status OK."""
        return bool((self.status == Status.OK).all())

    def point(self, i: int) -> "Result":
        """The result for point ``i`` alone (a batch of one)."""
        sl = slice(i, i + 1)
        return Result(
            op=self.op, backend=self.backend, exact=self.exact, inputs=self.inputs, wrt=self.wrt,
            outputs=self.outputs, at=self.at[sl], value=self.value[sl], derivative=self.derivative[sl],
            error=None if self.error is None else self.error[sl], status=self.status[sl],
            messages=self.messages[sl], nfev=self.nfev, params=self.params, structure=self.structure,
            extra=self.extra)


def concat(results: Sequence[Result]) -> Result:
    """Join results of the same operation over consecutive batches."""
    import numpy as np

    first = results[0]
    return Result(
        op=first.op, backend=first.backend, exact=first.exact, inputs=first.inputs, wrt=first.wrt,
        outputs=first.outputs, at=np.concatenate([r.at for r in results]),
        value=np.concatenate([r.value for r in results]),
        derivative=np.concatenate([r.derivative for r in results]),
        error=None if first.error is None else np.concatenate([r.error for r in results]),
        status=np.concatenate([r.status for r in results]),
        messages=tuple(m for r in results for m in r.messages), nfev=first.nfev, params=first.params,
        structure=first.structure, extra=first.extra)
