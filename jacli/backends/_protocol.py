"""The backend protocol: capabilities, Prep, Block and the abstract Backend class.

A backend is a small immutable object with options, a name and declared capabilities.
It turns a :class:`~jacli.model.Model` into a :class:`Prep` once (``prepare``) and then
computes derivatives at batches of points from it.  The operators in :mod:`jacli._ops`
do validation, batching and per-point status; backends only compute numbers.

Arrays passed to backends
-------------------------
``A`` has shape ``(N, len(prep.symbols))``: for each of ``N`` points, the value of every
symbol the model uses, inputs first and then parameters, in ``prep.symbols`` order.  The
differentiation variables are the columns ``prep.wrt_idx`` of ``A``.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Optional

from ..errors import CapabilityError, PrepMismatch, UsageError


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; declared, never inferred from names or failures.

    Attributes
    ----------
    exact : derivatives are exact up to rounding (symbolic, AD).
    error_estimate : the backend returns a per-entry error estimate.
    forward : cheap Jacobian-vector products (implements ``jvp``).
    reverse : cheap vector-Jacobian products (implements ``vjp``).
    second_order : Hessians and Hessian-vector products.
    sparse : knows the structural sparsity of the Jacobian.
    requires_analytic : only works on complex-analytic models (complex step).
    symbolic_output : can return the derivative as expressions.
    python_models : accepts Python-function models.
    """

    exact: bool = False
    error_estimate: bool = False
    forward: bool = False
    reverse: bool = False
    second_order: bool = False
    sparse: bool = False
    requires_analytic: bool = False
    symbolic_output: bool = False
    python_models: bool = False

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Option:
    """A backend option: ``--backend fd:order=4``."""

    name: str
    type: type
    default: Any
    help: str
    choices: Optional[tuple] = None


@dataclass(frozen=True)
class Prep:
    """One-time work for (model, operation, wrt); reusable at any batch of points.

    Using a Prep with another model, operation or variable list raises
    :class:`~jacli.errors.PrepMismatch` naming each mismatch.
    """

    backend: str
    fingerprint: str
    op: str
    symbols: tuple          # all symbol names in A's column order (inputs, then parameters)
    wrt: tuple              # differentiation variables
    wrt_idx: tuple          # their columns in A
    outputs: tuple
    data: Any = field(default=None, compare=False, repr=False)

    def check(self, backend: str, fingerprint: str, op: str, wrt: tuple) -> None:
        problems = []
        if backend != self.backend:
            problems.append(f"backend {backend!r} (prepared for {self.backend!r})")
        if fingerprint != self.fingerprint:
            problems.append("model (prepared for a different model)")
        if op != self.op:
            problems.append(f"operation {op!r} (prepared for {self.op!r})")
        if wrt is not self.wrt and tuple(wrt) != self.wrt:   # identity first: 1e6 names
            problems.append(f"variables {list(wrt)} (prepared for {list(self.wrt)})")
        if problems:
            raise PrepMismatch("this Prep cannot be used here: " + "; ".join(problems))


@dataclass
class Block:
    """Numbers for a batch of points, before status is assigned.

    ``value`` (N, m); ``derivative`` (N, m, k) for jacobian, (N, m) for jvp, (N, k) for vjp;
    ``error`` like ``derivative`` or None; ``nfev`` model evaluations per point.
    """

    value: Any
    derivative: Any
    error: Any = None
    nfev: int = 0
    extra: dict = field(default_factory=dict)   # e.g. "gradient" (N, m, k) with a Hessian


_PRIMITIVES = {"forward": "jvp", "reverse": "vjp"}
OPERATIONS = ("jacobian", "jvp", "vjp", "hessian", "hvp")


class Backend(abc.ABC):
    """Base class of every backend, built-in or plug-in.

    Subclasses set ``name``, ``capabilities`` and ``options`` and implement
    :meth:`prepare` plus the primitives their capabilities declare (``jvp`` for forward,
    ``vjp`` for reverse).  A class whose declarations do not match the methods it defines
    is rejected when it is defined.

    Examples
    --------
    >>> from jacli.backends import get_backend
    >>> get_backend("fd:order=4").options_dict["order"]
    4
    """

    name: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()
    options: ClassVar[tuple] = ()
    description: ClassVar[str] = ""

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if getattr(cls, "__abstractmethods__", None) and cls.__abstractmethods__ - {"prepare"}:
            return
        if not cls.name:
            return
        caps = cls.capabilities
        for cap, method in _PRIMITIVES.items():
            defines = getattr(cls, method) is not getattr(Backend, method)
            if getattr(caps, cap) and not defines:
                raise TypeError(f"backend {cls.name!r} declares {cap}=True but does not define {method}()")
        if not (caps.forward or caps.reverse) and getattr(cls, "jacobian") is Backend.jacobian:
            raise TypeError(f"backend {cls.name!r} declares neither forward nor reverse and "
                            "defines no jacobian()")
        if caps.second_order and cls.hessian is Backend.hessian:
            raise TypeError(f"backend {cls.name!r} declares second_order=True but defines no hessian()")

    def __init__(self, **options):
        spec = {o.name: o for o in self.options}
        values = {}
        for k, v in options.items():
            if k not in spec:
                known = ", ".join(spec) or "none"
                raise UsageError(f"backend '{self.name}': unknown option '{k}' (options: {known})")
            o = spec[k]
            try:
                v = o.type(v)
            except (TypeError, ValueError):
                raise UsageError(f"backend '{self.name}': option '{k}' must be {o.type.__name__}, "
                                 f"got {v!r}") from None
            if o.choices is not None and v not in o.choices:
                raise UsageError(f"backend '{self.name}': option '{k}' must be one of "
                                 f"{', '.join(map(str, o.choices))}, got {v!r}")
            values[k] = v
        for o in self.options:
            values.setdefault(o.name, o.default)
        object.__setattr__(self, "_options", values)
        self.validate_options()

    def __setattr__(self, key, value):
        raise AttributeError(f"backends are immutable; create a new one: {type(self).__name__}({key}=...)")

    def validate_options(self) -> None:
        """Check option combinations; raise UsageError. Default: nothing to check."""

    @property
    def options_dict(self) -> dict:
        return dict(self._options)

    @property
    def spec(self) -> str:
        """``name`` or ``name:opt=value,...`` for non-default options (used in results)."""
        nondefault = [f"{o.name}={self._options[o.name]}" for o in self.options
                      if self._options[o.name] != o.default]
        return self.name + (":" + ",".join(nondefault) if nondefault else "")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._options.items())})"

    def __eq__(self, other):
        return type(self) is type(other) and self._options == other._options

    def __hash__(self):
        return hash((type(self), tuple(sorted(self._options.items()))))

    # -- availability -----------------------------------------------------------------

    @classmethod
    def available(cls) -> tuple:
        """``(True, "")`` or ``(False, reason)``; must not import a heavy library to answer.

        Examples
        --------
        >>> from jacli.backends.finite_diff import FiniteDiff
        >>> FiniteDiff.available()
        (True, '')
        """
        return True, ""

    # -- the contract -------------------------------------------------------------------

    @abc.abstractmethod
    def prepare(self, model, op: str, wrt=None) -> Prep:
        """Do the one-time work for ``op`` on ``model`` with respect to ``wrt``.

        Parameters
        ----------
        model : jacli.model.Model
        op : str
            ``"jacobian"``, ``"jvp"``, ``"vjp"``, ``"hessian"`` or ``"hvp"``.
        wrt : sequence of str or None
            Differentiation variables (inputs and/or parameters); None means all inputs.

        Returns
        -------
        Prep
            Use :func:`jacli.backends.make_prep` to build it with the standard checks.

        Raises
        ------
        CapabilityError
            When this backend cannot do ``op`` on this model; the message names one that can.

        Examples
        --------
        >>> import jacli
        >>> from jacli.backends import get_backend
        >>> m = jacli.model_from_expressions("x*y")
        >>> get_backend("fd").prepare(m, "jacobian").wrt
        ('x', 'y')
        """

    def jacobian(self, prep: Prep, A) -> Block:
        """Jacobian at each row of ``A``: ``derivative`` has shape (N, m, k).

        The default stacks ``k`` jvps (forward backends) or ``m`` vjps (reverse ones),
        whichever is fewer; backends override it when they can do better.
        """
        from ._derived import jacobian_from_products
        return jacobian_from_products(self, prep, A)

    def jvp(self, prep: Prep, A, V) -> Block:
        """Jacobian-vector products ``J v`` at each row of ``A``; ``V`` has shape (N, k).

        Returns a Block whose ``derivative`` has shape (N, m).
        """
        raise CapabilityError(f"backend '{self.name}' does not compute Jacobian-vector products")

    def vjp(self, prep: Prep, A, U) -> Block:
        """Vector-Jacobian products ``u^T J`` at each row of ``A``; ``U`` has shape (N, m).

        Returns a Block whose ``derivative`` has shape (N, k).
        """
        raise CapabilityError(f"backend '{self.name}' does not compute vector-Jacobian products")

    def hessian(self, prep: Prep, A) -> Block:
        """Hessians of every output at each row of ``A``.

        Returns a Block whose ``derivative`` has shape (N, m, k, k) (symmetric in the last
        two axes), ``error`` the same shape or None, and ``extra["gradient"]`` the
        gradients, shape (N, m, k).  Backends declaring ``second_order`` implement it.
        """
        raise CapabilityError(f"backend '{self.name}' does not compute Hessians; use --backend sympy")

    def hvp(self, prep: Prep, A, V) -> Block:
        """Hessian-vector products ``H_i v`` of every output; ``V`` has shape (N, k).

        Returns a Block whose ``derivative`` has shape (N, m, k).  The default forms the
        Hessians; backends override it to avoid that (forward over reverse).
        """
        import numpy as np

        b = self.hessian(prep, A)
        V = np.asarray(V, dtype=float)
        hv = np.einsum("nikl,nl->nik", b.derivative, V)
        err = None if b.error is None else np.einsum("nikl,nl->nik", b.error, np.abs(V))
        return Block(value=b.value, derivative=hv, error=err, nfev=b.nfev, extra=b.extra)

    def structure(self, prep: Prep):
        """Structural non-zeros (m, k) bool array, or None if unknown."""
        return None


def make_prep(backend: Backend, model, op: str, wrt=None, data=None) -> Prep:
    """Standard Prep: validates ``op`` and ``wrt`` against the model.

    ``symbols`` are the model's inputs then parameters; ``wrt`` defaults to the inputs.
    """
    if op not in OPERATIONS:
        raise UsageError(f"unknown operation {op!r}")
    if getattr(model, "function", None) is not None and not backend.capabilities.python_models:
        raise CapabilityError(f"backend '{backend.name}' does not run Python-function models "
                              f"({model.function.label}); use --backend fd, complex or sympy")
    symbols = tuple(model.input_names) + tuple(model.parameter_names)
    if wrt is None:
        wrt = tuple(model.input_names)
    wrt = tuple(wrt)
    if not wrt:
        raise UsageError("--wrt: no variables to differentiate with respect to")
    pos = {s: i for i, s in enumerate(symbols)}
    seen = set()
    for w in wrt:
        if w not in pos:
            import difflib
            close = difflib.get_close_matches(w, symbols, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UsageError(f"--wrt: '{w}' is neither an input nor a parameter of "
                             f"{model.name!r}{hint}; inputs: {', '.join(model.input_names)}"
                             + (f"; parameters: {', '.join(model.parameter_names)}"
                                if model.parameter_names else ""))
        if w in seen:
            raise UsageError(f"--wrt: '{w}' is listed twice")
        seen.add(w)
    return Prep(backend=backend.spec, fingerprint=model.fingerprint, op=op, symbols=symbols, wrt=wrt,
                wrt_idx=tuple(pos[w] for w in wrt), outputs=tuple(model.output_names), data=data)
