"""The one model representation every backend consumes."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Optional


@dataclass(frozen=True)
class Position:
    """Where something was written: file, 1-based line and column, and the field path."""

    file: Optional[str] = None
    line: Optional[int] = None
    col: Optional[int] = None
    field: Optional[str] = None


@dataclass(frozen=True)
class Quantity:
    """An input or a parameter: a named number with optional metadata used by later commands."""

    name: str
    value: float
    sigma: Optional[float] = None
    unit: Optional[str] = None
    distribution: Optional[str] = None
    bounds: Optional[tuple] = None
    pos: Position = field(default_factory=Position, compare=False)


@dataclass(frozen=True)
class Equation:
    """A definition or an output: ``name = text``, with its parsed expression node."""

    name: str
    text: str
    expr: Any                      # jacli.model._expr.Node, outputs with definitions substituted
    pos: Position = field(default_factory=Position, compare=False)


@dataclass(frozen=True)
class Model:
    """A parsed model.

    ``inputs`` are the differentiation variables in Jacobian-column order; ``parameters``
    are constants (overridable); ``definitions`` are intermediates in dependency order;
    ``outputs`` are in Jacobian-row order, and their ``expr`` has every definition
    substituted (as a DAG, so shared definitions stay shared).

    A *Python-function model* (``model.py:f``, see :mod:`jacli.model._python`) has a
    ``function`` (a :class:`~jacli.model._python.PythonFunction`), outputs whose ``expr`` is
    None and no definitions; :attr:`kind` tells the two apart.
    """

    name: str
    inputs: tuple           # of Quantity
    parameters: tuple       # of Quantity
    definitions: tuple      # of Equation (expr as written, definitions of earlier ones substituted)
    outputs: tuple          # of Equation
    description: str = ""
    source: Optional[str] = None          # file name, "<expr>", "<stdin>"
    correlations: dict = field(default_factory=dict)   # {(a, b): r}, used by later commands
    extra: dict = field(default_factory=dict)
    function: Optional[Any] = None         # PythonFunction of a Python-function model

    @property
    def kind(self) -> str:
        """``"python"`` for a Python-function model, ``"expressions"`` otherwise."""
        return "python" if self.function is not None else "expressions"

    @cached_property
    def input_names(self) -> tuple:
        return tuple(q.name for q in self.inputs)

    @cached_property
    def parameter_names(self) -> tuple:
        return tuple(q.name for q in self.parameters)

    @cached_property
    def output_names(self) -> tuple:
        return tuple(e.name for e in self.outputs)

    @cached_property
    def nominal(self) -> tuple:
        """Nominal input values, in input order."""
        return tuple(q.value for q in self.inputs)

    @property
    def param_values(self) -> dict:
        return {q.name: q.value for q in self.parameters}

    @property
    def fingerprint(self) -> str:
        """SHA-256 of everything that determines the derivative code (not nominal or parameter values)."""
        fp = self.__dict__.get("_fingerprint")
        if fp is None:
            h = hashlib.sha256()
            if self.function is not None:
                # the file's content, the function and the names and shapes it is called with
                h.update(repr(("python", self.function.digest)).encode())
            for part in (("inputs",) + self.input_names, ("parameters",) + self.parameter_names):
                h.update(repr(part).encode())
            for eq in self.definitions + self.outputs:
                h.update(repr((eq.name, eq.text)).encode())
            h.update(repr(("outputs",) + self.output_names).encode())
            fp = h.hexdigest()
            object.__setattr__(self, "_fingerprint", fp)
        return fp

    def select_outputs(self, names) -> "Model":
        """A model with only the named outputs, in the given order (UsageError on unknown names)."""
        from ..errors import UsageError

        if names is None:
            return self
        names = [names] if isinstance(names, str) else list(names)
        by_name = {e.name: e for e in self.outputs}
        for n in names:
            if n not in by_name:
                import difflib
                close = difflib.get_close_matches(n, list(by_name), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise UsageError(f"'{n}' is not an output of {self.name!r}{hint}; "
                                 f"outputs: {', '.join(by_name)}")
        if len(set(names)) != len(names):
            raise UsageError("an output is named twice")
        if names == list(by_name):
            return self
        function = self.function
        if function is not None:
            index = {e.name: i for i, e in enumerate(self.outputs)}
            function = function.select([index[n] for n in names])
        return replace(self, outputs=tuple(by_name[n] for n in names), extra={}, function=function)

    def with_params(self, overrides: dict) -> "Model":
        """A copy with parameter values replaced; unknown names raise UsageError."""
        from ..errors import UsageError

        known = {q.name: q for q in self.parameters}
        for k in overrides:
            if k not in known:
                hint = f"; parameters are: {', '.join(known)}" if known else "; this model has no parameters"
                raise UsageError(f"--param: unknown parameter '{k}'{hint}")
        params = tuple(replace(q, value=float(overrides[q.name])) if q.name in overrides else q
                       for q in self.parameters)
        return replace(self, parameters=params)
