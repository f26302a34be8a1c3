"""Composition: a chain of models whose outputs feed later models' inputs by name.

A network or a processing pipeline is a chain of functions; its Jacobian is the product
of the stages' Jacobians (what back-propagation computes).  This module computes the
derivatives of such a chain *from the stages*, by the chain rule, with any backend and any
kind of model (TOML, inline, Python)::

    >>> import jacli
    >>> a = jacli.model_from_expressions("u = x*y, v = x + y")
    >>> b = jacli.model_from_expressions("f = u*sin(v)")
    >>> c = jacli.compose([a, b])
    >>> c.input_names, c.output_names
    (('x', 'y'), ('f',))
    >>> r = c.jacobian({"x": 1.0, "y": 2.0})      # ∂f/∂x = y sin v + u cos v, ∂f/∂y = x sin v + u cos v
    >>> [round(d, 12) for d in r.derivative[0, 0].tolist()]
    [-1.697744977081, -1.838864985141]

Semantics (also in docs/composition.md)
--------------------------------------
* **One namespace.**  A name means one quantity in the whole chain.  An output of stage
  *i* feeds every later stage that has an input of that name (a DAG in stage order, not
  only *i* → *i*+1; a value used by several stages contributes through every path).
* **Composite inputs** are the inputs of the stages that no earlier stage produces, in
  order of first appearance; their nominal values come from the first stage that declares
  them.  Two stages with the same unproduced input share it.
* **Composite outputs** are the last stage's outputs, or any produced names chosen with
  ``outputs=`` (``--outputs``).
* **Parameters** stay with their stages; a parameter name in several stages is one shared
  constant (its values must agree).  ``params=`` / ``--param`` set it everywhere; ``wrt``
  may name composite inputs and parameters (the chain then carries the parameter columns).
* **Name rules** (errors, exit code 3): an output name already used by an earlier output,
  input or parameter; a parameter named like a produced value or a composite input; a stage
  after the first that uses nothing produced before it; an output of a non-final stage
  that no later stage uses and ``outputs`` does not list.  The message lists what is
  produced and what is expected.

The computation
---------------
Between stage *i* and *i*+1 live the values still needed later (``s_i``); each stage maps
``s_{i-1}`` to ``s_i`` (its outputs, the other live values carried unchanged), so the
Jacobian is the matrix chain ``J = E_k ⋯ E_1`` whose factors hold the stages' Jacobians
``J_i`` (``∂ outputs_i / ∂ variables_i``) plus identity rows.  :func:`jacobian`
multiplies it in the order of fewest multiply-adds (:func:`chain_order`, the classic
matrix-chain dynamic programme); :func:`vjp` is the reverse sweep ``uᵀE_k`` then on down
with each stage's own ``vjp`` (never forming a Jacobian); :func:`jvp` the forward sweep
with each stage's ``jvp``.  Stages are evaluated on the whole batch of points at once; a
point that fails in a stage gets that stage's status with the stage named in its message
and is dropped from the later stages, while the other points go on.
"""
from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator, Optional, Sequence

from .errors import CapabilityError, JacliError, ModelError, PointsFailed, UsageError
from .results import Result, Status

__all__ = ["Composite", "compose", "jacobian", "vjp", "jvp", "stream", "prepare", "to_model",
           "chain_order"]



# ----------------------------------------------------------------------------- the chain

@dataclass(frozen=True)
class Composite:
    """A validated chain of models; build it with :func:`compose`.

    Attributes
    ----------
    stages : tuple of Model
        The stages, in evaluation order (parameter overrides applied).
    labels : tuple of str
        A short name per stage for messages: the file name, else the model's name.
    inputs : tuple of Quantity
        The composite's inputs (inputs of stages not produced upstream, first appearance).
    parameters : tuple of Quantity
        Every stage parameter, once (shared names are one parameter).
    outputs : tuple of str
        The composite's outputs.
    name : str
        ``"stage1 → stage2 → ..."`` (model names), used in headers.
    """

    stages: tuple
    labels: tuple
    inputs: tuple
    parameters: tuple
    outputs: tuple
    name: str
    producer: dict = field(default_factory=dict, compare=False, repr=False)  # name -> stage index
    source: Optional[str] = None

    @property
    def input_names(self) -> tuple:
        return tuple(q.name for q in self.inputs)

    @property
    def parameter_names(self) -> tuple:
        return tuple(q.name for q in self.parameters)

    @property
    def output_names(self) -> tuple:
        return self.outputs

    @property
    def nominal(self) -> tuple:
        return tuple(q.value for q in self.inputs)

    @property
    def param_values(self) -> dict:
        return {q.name: q.value for q in self.parameters}

    def stage_label(self, i: int) -> str:
        """``"stage 2 (layer2.toml)"``."""
        return f"stage {i + 1} ({self.labels[i]})"

    def with_params(self, overrides: dict) -> "Composite":
        """A copy with parameter values replaced in every stage that has them."""
        known = set(self.parameter_names)
        for k in overrides:
            if k not in known:
                hint = (f"; the stages' parameters are: {', '.join(self.parameter_names)}" if known
                        else "; no stage has parameters")
                raise UsageError(f"--param: unknown parameter '{k}'{hint}")
        stages = tuple(s.with_params({k: v for k, v in overrides.items() if k in s.parameter_names})
                       for s in self.stages)
        params = tuple(replace(q, value=float(overrides[q.name])) if q.name in overrides else q
                       for q in self.parameters)
        return replace(self, stages=stages, parameters=params)

    # The operators, as methods for convenience.
    def jacobian(self, at=None, **kw) -> Result:
        """See :func:`jacobian`."""
        return jacobian(self, at, **kw)

    def jvp(self, at=None, vector=None, **kw) -> Result:
        """See :func:`jvp`."""
        return jvp(self, at, vector, **kw)

    def vjp(self, at=None, vector=None, **kw) -> Result:
        """See :func:`vjp`."""
        return vjp(self, at, vector, **kw)

    def to_model(self):
        """See :func:`to_model`."""
        return to_model(self)


def _label(model) -> str:
    """The stage's file name (``layer1.toml``, ``net.py:f``), else its model name."""
    import os

    src = model.source
    if not src or src.startswith("<"):
        return model.name
    fn = getattr(model, "function", None)
    func = getattr(fn, "func_name", None)
    return os.path.basename(src) + (f":{func}" if func else "")


def _names(items, limit: int = 12) -> str:
    items = list(items)
    if not items:
        return "nothing"
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items)} names)" if len(items) > limit else "")


def compose(stages, *, outputs: Optional[Sequence[str]] = None,
            params: Optional[dict] = None) -> Composite:
    """Chain models: each stage's outputs feed the later stages' inputs of the same name.

    Parameters
    ----------
    stages : sequence of Model or path, or a Composite
        The stages in evaluation order; paths are read with :func:`jacli.load_model`.
    outputs : sequence of str, optional
        The composite's outputs, any produced names; default the last stage's outputs.
    params : dict, optional
        Parameter overrides, applied to every stage that has the name.

    Returns
    -------
    Composite

    Raises
    ------
    ModelError
        The names do not connect (exit code 3); the message lists what each side has.
    UsageError
        ``outputs`` or ``params`` name something unknown.

    Examples
    --------
    >>> import jacli
    >>> a = jacli.model_from_expressions("h = 2*x")
    >>> b = jacli.model_from_expressions("y = h + z")
    >>> c = jacli.compose([a, b])
    >>> c.input_names, c.output_names, c.name
    (('x', 'z'), ('y',), 'expr → expr')
    """
    if isinstance(stages, Composite):
        comp = stages
        if outputs is not None:
            comp = compose(comp.stages, outputs=outputs)
        return comp.with_params(params) if params else comp
    from .model import Model, load_model

    if isinstance(stages, (str, Model)) or not hasattr(stages, "__iter__"):
        stages = [stages]
    models = [s if isinstance(s, Model) else load_model(s) for s in stages]
    if not models:
        raise UsageError("compose: give one or more stages")
    labels = tuple(_label(m) for m in models)

    def where(i):
        return f"stage {i + 1} ({labels[i]})"

    producer: dict = {}                       # output name -> stage index
    comp_inputs: dict = {}                    # name -> (Quantity, first stage index)
    param_q: dict = {}                        # name -> (Quantity, first stage index)
    consumed: set = set()
    for i, m in enumerate(models):
        uses = [x for x in m.input_names if x in producer]
        if i > 0 and not uses:
            upstream = [y for y in producer]
            raise ModelError(
                f"{where(i)} uses none of the values produced before it: produced "
                f"{_names(upstream)}; {labels[i]} expects inputs {_names(m.input_names)}"
                + _hint(m.input_names, upstream))
        consumed.update(uses)
        for q in m.inputs:
            if q.name in producer or q.name in comp_inputs:
                continue
            if q.name in param_q:
                j = param_q[q.name][1]
                raise ModelError(f"'{q.name}' is a parameter of {where(j)} but an input of {where(i)}: "
                                 "a name means one quantity in a chain; make it an input of both, "
                                 "or rename one")
            comp_inputs[q.name] = (q, i)
        for q in m.parameters:
            if q.name in producer:
                raise ModelError(f"'{q.name}' is produced by {where(producer[q.name])} but {where(i)} "
                                 f"declares it a parameter: make it an input of {labels[i]} to "
                                 "receive the value")
            if q.name in comp_inputs:
                j = comp_inputs[q.name][1]
                raise ModelError(f"'{q.name}' is an input of {where(j)} but a parameter of {where(i)}: "
                                 "a name means one quantity in a chain; make it an input of both, "
                                 "or rename one")
            if q.name in param_q:
                p, j = param_q[q.name]
                if p.value != q.value:
                    raise ModelError(f"parameter '{q.name}' is {p.value!r} in {where(j)} and "
                                     f"{q.value!r} in {where(i)}: a shared parameter name is one "
                                     "constant; make the values agree or rename one")
                continue
            param_q[q.name] = (q, i)
        for y in m.output_names:
            if y in producer:
                raise ModelError(f"output '{y}' of {where(i)} is also an output of "
                                 f"{where(producer[y])}: outputs of a chain need distinct names")
            if y in comp_inputs:
                raise ModelError(f"output '{y}' of {where(i)} has the name of an input of "
                                 f"{where(comp_inputs[y][1])}: a name means one quantity in a "
                                 "chain; rename one")
            if y in param_q:
                raise ModelError(f"output '{y}' of {where(i)} has the name of a parameter of "
                                 f"{where(param_q[y][1])}; rename one")
            producer[y] = i

    last = len(models) - 1
    if outputs is None:
        out = tuple(models[last].output_names)
    else:
        out = tuple([outputs] if isinstance(outputs, str) else outputs)
        for y in out:
            if y not in producer:
                raise UsageError(f"--outputs: '{y}' is not produced by any stage{_hint([y], producer)}; "
                                 f"produced: {_names(producer)}")
        if len(set(out)) != len(out):
            raise UsageError("--outputs: a name is given twice")
        if not out:
            raise UsageError("--outputs: give one or more names")
    dangling = [y for y, i in producer.items() if i < last and y not in consumed and y not in out]
    if dangling:
        y = dangling[0]
        i = producer[y]
        later = [x for x, (_, j) in comp_inputs.items() if j > i]
        expects = "; ".join(f"{labels[j]} expects {_names(models[j].input_names)}"
                            for j in range(i + 1, len(models)))
        raise ModelError(
            f"output{'s' if len(dangling) > 1 else ''} {_names(repr(d) for d in dangling)} of {where(i)} "
            f"{'are' if len(dangling) > 1 else 'is'} used by no later stage: {labels[i]} produces "
            f"{_names(models[i].output_names)}; {expects}"
            + (_hint(later, dangling) or (f"; unproduced later inputs: {_names(later)}" if later else ""))
            + "; rename to connect, or list it with --outputs")
    comp = Composite(stages=tuple(models), labels=labels,
                     inputs=tuple(q for q, _ in comp_inputs.values()),
                     parameters=tuple(q for q, _ in param_q.values()), outputs=out,
                     name=" → ".join(m.name for m in models), producer=producer)
    return comp.with_params(params) if params else comp


def _hint(wanted, available) -> str:
    """``" (did you mean 'h4' for 'hh4'?)"`` for the first near miss, else ``""``."""
    import difflib

    available = list(available)
    for w in wanted:
        if w in available:
            continue
        close = difflib.get_close_matches(w, available, n=1, cutoff=0.5)   # 'u4' ~ 'u3'
        if close:
            return f" (did you mean '{close[0]}' for '{w}'?)"
    return ""


def _as_composite(stages, params=None, outputs=None) -> Composite:
    if isinstance(stages, Composite) and not params and outputs is None:
        return stages
    return compose(stages, outputs=outputs, params=params)


# ----------------------------------------------------------------------------- matrix chain

def chain_order(shapes: Sequence[tuple]) -> tuple:
    """The cheapest parenthesisation of a matrix product ``M_0 M_1 ⋯ M_{k-1}``.

    The classic dynamic programme over the dimensions (Cormen et al., *Introduction to
    Algorithms*, 3rd ed., Sec. 15.2), counting one multiply-add per ``a·b·c`` of an
    ``(a×b)(b×c)`` product.  For a chain of Jacobians it picks reverse accumulation
    (left to right from the outputs) for few outputs and forward accumulation for few
    inputs, and the cheapest mix in between.

    Parameters
    ----------
    shapes : sequence of (rows, cols)
        The factors in product order; ``cols`` of one equals ``rows`` of the next.

    Returns
    -------
    (cost, tree)
        ``cost`` multiply-adds; ``tree`` nested pairs of factor indices, e.g. ``((0, 1), 2)``.

    Examples
    --------
    >>> chain_order([(1, 10), (10, 100), (100, 5)])      # a gradient: from the left
    (1500, ((0, 1), 2))
    >>> chain_order([(100, 10), (10, 100), (100, 2)])    # few inputs: from the right
    (4000, (0, (1, 2)))
    """
    k = len(shapes)
    if k == 0:
        raise ValueError("chain_order: no factors")
    for j in range(k - 1):
        if shapes[j][1] != shapes[j + 1][0]:
            raise ValueError(f"chain_order: factor {j} has {shapes[j][1]} columns but factor {j + 1} "
                             f"has {shapes[j + 1][0]} rows")
    p = [int(shapes[0][0])] + [int(c) for _, c in shapes]
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for length in range(2, k + 1):
        for i in range(k - length + 1):
            j = i + length - 1
            best = None
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + p[i] * p[s + 1] * p[j + 1]
                if best is None or c < best:
                    best, split[i][j] = c, s
            cost[i][j] = best

    def tree(i, j):
        if i == j:
            return i
        s = split[i][j]
        return (tree(i, s), tree(s + 1, j))

    return cost[0][k - 1], tree(0, k - 1)


def _multiply(mats, tree):
    import numpy as np

    if isinstance(tree, int):
        return mats[tree]
    return np.matmul(_multiply(mats, tree[0]), _multiply(mats, tree[1]))


def _order_text(tree, names) -> str:
    if isinstance(tree, int):
        return names[tree]
    left, right = (_order_text(t, names) for t in tree)
    wrap = (lambda s, t: s if isinstance(t, int) else f"({s})")
    return f"{wrap(left, tree[0])}·{wrap(right, tree[1])}"


# ----------------------------------------------------------------------------- the plan

@dataclass
class Plan:
    """What :func:`prepare` returns: the variables of each stage and the live values
    between stages for one ``wrt``, plus each stage's backend preparation per operation."""

    composite: Composite
    op: str
    wrt: tuple
    args: tuple             # per stage: its differentiation variables (inputs, then parameters)
    live: tuple             # s_0 .. s_k: names carried between stages (s_0 = wrt, s_k = outputs)
    backend: object         # what the caller asked for ("auto", a spec, or a Backend)
    preps: dict = field(default_factory=dict)   # (stage, op, wrt) -> (model, backend, Prep)

    @property
    def outputs(self) -> tuple:
        return self.composite.output_names

    def stage_prep(self, i: int, op: str, wrt: tuple):
        key = (i, op, wrt)
        got = self.preps.get(key)
        if got is None:
            from . import _ops

            stage = self.composite.stages[i]
            try:
                got = _ops.prepare(stage, op, wrt=list(wrt), backend=self.backend)
            except ModelError:
                raise
            except JacliError as exc:
                raise type(exc)(f"{self.composite.stage_label(i)}: {exc}") from None
            self.preps[key] = got
        return got

    def value_wrt(self, i: int) -> tuple:
        """The variable of the values-only evaluation (a jvp along a zero direction)."""
        stage = self.composite.stages[i]
        if self.args[i]:
            return (self.args[i][0],)
        return (stage.input_names[0],) if stage.input_names else (stage.parameter_names[0],)


def prepare(composite, op: str = "jacobian", *, wrt=None, backend="auto", params=None,
            outputs=None) -> Plan:
    """Validate ``wrt`` and prepare every stage once for ``op``; the result is reusable.

    ``wrt`` may name composite inputs and parameters (default: the composite's inputs).
    Each stage is prepared with ``backend`` for the variables it needs (its inputs that
    depend on ``wrt`` and the ``wrt`` parameters it has); errors name the stage.
    """
    comp = _as_composite(composite, params, outputs)
    if op not in ("jacobian", "jvp", "vjp"):
        raise UsageError(f"a chain of models supports jacobian, jvp and vjp, not {op}")
    if wrt is None:
        wrt = comp.input_names
    wrt = tuple([wrt] if isinstance(wrt, str) else wrt)
    known = set(comp.input_names) | set(comp.parameter_names)
    for w in wrt:
        if w not in known:
            if w in comp.producer:
                raise UsageError(f"--wrt: '{w}' is computed by {comp.stage_label(comp.producer[w])}, "
                                 "not an input of the chain; differentiate with respect to inputs "
                                 f"({_names(comp.input_names)}) or parameters")
            hint = _hint([w], list(known))
            raise UsageError(f"--wrt: '{w}' is not an input or parameter of the chain{hint}; inputs: "
                             f"{_names(comp.input_names)}; parameters: {_names(comp.parameter_names)}")
    if not wrt:
        raise UsageError("--wrt: give one or more names")
    if len(set(wrt)) != len(wrt):
        raise UsageError("--wrt: a name is given twice")
    active = set(wrt)
    args = []
    for s in comp.stages:
        a = tuple(x for x in s.input_names if x in active) + tuple(p for p in s.parameter_names
                                                                    if p in active)
        args.append(a)
        if a:
            active.update(s.output_names)
    k = len(comp.stages)
    needed_after = []                 # names needed by stages after i, or as outputs
    for i in range(k):
        need = set(comp.outputs)
        for j in range(i + 1, k):
            need.update(args[j])
        needed_after.append(need)
    live = [wrt]
    for i, s in enumerate(comp.stages):
        if i == k - 1:
            live.append(tuple(comp.outputs))
            break
        prev = live[-1]
        carried = tuple(x for x in prev if x in needed_after[i])
        new = tuple(y for y in s.output_names if y in active and y in needed_after[i]) if args[i] else ()
        live.append(carried + new)
    plan = Plan(composite=comp, op=op, wrt=wrt, args=tuple(args), live=tuple(live), backend=backend)
    for i in range(k):
        if args[i] and op in ("jacobian", "jvp", "vjp"):
            plan.stage_prep(i, op, args[i])
        if op == "vjp" or not args[i]:
            plan.stage_prep(i, "jvp", plan.value_wrt(i))
    return plan


# ----------------------------------------------------------------------------- operators

def jacobian(composite, at=None, *, wrt=None, backend="auto", params=None, outputs=None,
             throw: bool = False, prep: Optional[Plan] = None) -> Result:
    """The Jacobian of a chain by the chain rule from the stages' Jacobians.

    Parameters
    ----------
    composite : Composite, or a sequence of models/paths (see :func:`compose`)
    at : None, dict, sequence or array of shape (N, n)
        Point(s) in the composite's inputs; None is the nominal point.
    wrt : sequence of str, optional
        Composite inputs and/or stage parameters (default all composite inputs).
    backend : str or Backend
        Used for every stage (``"auto"`` picks per stage).
    params, outputs : optional
        As for :func:`compose`.
    throw : bool
        Raise :class:`~jacli.errors.PointsFailed` when a point fails.
    prep : Plan, optional
        From :func:`prepare`, to reuse the stages' preparations.

    Returns
    -------
    Result
        ``derivative`` (N, m, k).  ``extra["stages"]``: per stage a dict with ``model``
        (its label), ``inputs`` (the stage's differentiation variables: its Jacobian's
        columns), ``outputs``, ``shape`` (m_i, c_i), ``at_names`` and ``at`` (N, n_i) (its
        inputs), ``value`` (N, m_i), ``jacobian`` (N, m_i, c_i), ``error`` or None,
        ``status`` (N,) (-1 where an earlier stage failed), ``messages``, ``backend``,
        ``exact``, ``structure``; ``extra["chain"]``: the multiplication ``order`` (e.g.
        ``"J3·(J2·J1)"``) and its ``multiply_adds`` per point.
        Error estimates of inexact stages are propagated to first order,
        ``Σ_i |E_k|⋯|ΔE_i|⋯|E_1|``.

    Examples
    --------
    >>> import jacli
    >>> a = jacli.model_from_expressions("u = 3*x")
    >>> b = jacli.model_from_expressions("f = u**2")
    >>> jacli.compose.jacobian([a, b], {"x": 1.0}).derivative.tolist()
    [[[18.0]]]
    """
    return _operator("jacobian", composite, at, None, wrt, backend, params, outputs, throw, prep)


def jvp(composite, at=None, vector=None, *, wrt=None, backend="auto", params=None, outputs=None,
        throw: bool = False, prep: Optional[Plan] = None) -> Result:
    """``J v`` by the forward sweep: each stage's ``jvp`` on the tangent of its variables.

    ``vector`` has one entry per ``wrt`` variable (or shape (N, k), or a dict).  Error
    estimates of inexact stages are not propagated through the sweep (``error`` is None).

    Examples
    --------
    >>> import jacli
    >>> a = jacli.model_from_expressions("u = 3*x, w = x*y")
    >>> b = jacli.model_from_expressions("f = u + w")
    >>> jacli.compose.jvp([a, b], {"x": 1.0, "y": 2.0}, [1.0, 0.0]).derivative.tolist()
    [[5.0]]
    """
    return _operator("jvp", composite, at, vector, wrt, backend, params, outputs, throw, prep)


def vjp(composite, at=None, vector=None, *, wrt=None, backend="auto", params=None, outputs=None,
        throw: bool = False, prep: Optional[Plan] = None) -> Result:
    """``uᵀJ`` by the reverse sweep (back-propagation): ``uᵀJ_k``, then on down, with each
    stage's ``vjp``; no Jacobian is formed (beyond what a backend without a reverse mode
    does inside its own ``vjp``).  A forward pass first computes every stage's values.

    ``vector`` has one entry per composite output.  Error estimates of inexact stages are
    not propagated through the sweep (``error`` is None).

    Examples
    --------
    >>> import jacli
    >>> a = jacli.model_from_expressions("u = 3*x, w = x*y")
    >>> b = jacli.model_from_expressions("f = u + w")
    >>> jacli.compose.vjp([a, b], {"x": 1.0, "y": 2.0}, [1.0]).derivative.tolist()
    [[5.0, 1.0]]
    """
    return _operator("vjp", composite, at, vector, wrt, backend, params, outputs, throw, prep)


def _operator(op, composite, at, vector, wrt, backend, params, outputs, throw, prep) -> Result:
    from . import _ops

    if prep is None:
        prep = prepare(composite, op, wrt=wrt, backend=backend, params=params, outputs=outputs)
    elif prep.op != op:
        raise UsageError(f"this plan was prepared for {prep.op}, not {op}")
    comp = prep.composite
    X = _ops._points_array(comp, at)
    W = _ops._vectors(op, prep, vector, X.shape[0])
    res = _evaluate(prep, X, W)
    if throw and not res.ok:
        bad = int((res.status != Status.OK).argmax())
        raise PointsFailed(f"point {bad}: {res.messages[bad]}")
    return res


def stream(op: str, composite, records: Iterable, *, wrt=None, backend="auto", params=None,
           outputs=None, batch_size: int = 4096, prep: Optional[Plan] = None) -> Iterator[Result]:
    """Results over a stream of points, one :class:`Result` per batch (as
    :func:`jacli._ops.stream`: records ``(values, error[, vector])``; a record without
    values becomes a ``bad_input`` point).  Validation and preparation happen before this
    returns, so errors surface before the first result."""
    if prep is None:
        prep = prepare(composite, op, wrt=wrt, backend=backend, params=params, outputs=outputs)
    return _stream(prep, records, batch_size)


def _stream(plan: Plan, records, batch_size):
    import numpy as np

    from . import _ops

    n = len(plan.composite.input_names)
    batch: list = []

    def flush():
        X = np.full((len(batch), n), np.nan)
        bad, good, vecs = {}, [], []
        for i, rec in enumerate(batch):
            if rec[0] is None:
                bad[i] = rec[1] or "bad input"
                continue
            X[i] = rec[0]
            good.append(i)
            if len(rec) > 2:
                vecs.append(rec[2])
        res = None
        if good:
            W = _ops._vectors(plan.op, plan, np.asarray(vecs) if plan.op != "jacobian" else None,
                              len(good))
            res = _evaluate(plan, X[good], W)
        return _with_bad(plan, X, good, res, bad)

    for rec in records:
        batch.append(rec)
        if len(batch) >= batch_size:
            yield flush()
            batch = []
    if batch:
        yield flush()


# ----------------------------------------------------------------------------- evaluation

def _stage_call(plan: Plan, i: int, op: str, wrt: tuple, X, W=None) -> Result:
    from . import _ops

    model, be, p = plan.stage_prep(i, op, wrt)
    return getattr(_ops, op)(model, X, *(() if W is None else (W,)), wrt=list(wrt), prep=(be, p))


class _Run:
    """Per-point bookkeeping of one evaluation: values by name, status, messages."""

    def __init__(self, plan, X):
        import numpy as np

        self.plan, self.N = plan, X.shape[0]
        self.values = {name: X[:, j] for j, name in enumerate(plan.composite.input_names)}
        self.status = np.zeros(self.N, dtype=int)
        self.messages: list = [None] * self.N
        self.alive = np.ones(self.N, dtype=bool)
        self.nfev = 0
        self.notes: dict = {}              # stage index -> its cost note
        self.specs: list = []
        self.exact = True

    def stage_inputs(self, i):
        import numpy as np

        idx = np.flatnonzero(self.alive)
        stage = self.plan.composite.stages[i]
        Xi = np.column_stack([self.values[x][idx] for x in stage.input_names]) if stage.input_names \
            else np.zeros((len(idx), 0))
        return idx, Xi

    def absorb(self, i, idx, res: Result, *, set_values: bool = True):
        """Record a stage result over the alive points ``idx``: values, status, costs."""
        import numpy as np

        comp = self.plan.composite
        self.nfev += int(res.nfev)
        if res.backend not in self.specs:
            self.specs.append(res.backend)
        self.exact = self.exact and bool(res.exact)
        cost = res.extra.get("cost")
        if cost and i not in self.notes:
            self.notes[i] = f"{comp.stage_label(i)}: {cost}"
        if set_values:
            for j, y in enumerate(comp.stages[i].output_names):
                col = np.full(self.N, np.nan)
                col[idx] = res.value[:, j]
                self.values[y] = col
        for gi in np.flatnonzero(res.status != Status.OK):
            pt = idx[gi]
            code = Status(int(res.status[gi]))
            if self.status[pt] not in (Status.OK, Status.NOT_CONVERGED):
                continue
            hard = code != Status.NOT_CONVERGED        # any other failure stops the point here
            if hard:
                self.alive[pt] = False
            if self.status[pt] == Status.OK or hard:
                self.status[pt] = code
                self.messages[pt] = f"{comp.stage_label(i)}: {res.messages[gi] or code.label}"


def _evaluate(plan: Plan, X, W=None) -> Result:
    import numpy as np

    comp = plan.composite
    op = plan.op
    run = _Run(plan, X)
    N, k = run.N, len(plan.wrt)
    m = len(comp.outputs)
    live = plan.live
    pos = [{name: j for j, name in enumerate(s)} for s in live]
    extra: dict = {}
    stages_info = []
    structure = None
    error = None

    if op == "jacobian":
        factors, errs, structs = [], [], []
        any_err, structural = False, True
        for i, stage in enumerate(comp.stages):
            args = plan.args[i]
            idx, Xi = run.stage_inputs(i)
            d_in, d_out = len(live[i]), len(live[i + 1])
            E = np.zeros((N, d_out, d_in))
            dE = np.zeros((N, d_out, d_in))
            S = np.zeros((d_out, d_in), dtype=bool)
            for r, name in enumerate(live[i + 1]):           # values carried unchanged
                c = pos[i].get(name)
                if c is not None:
                    E[:, r, c] = 1.0
                    S[r, c] = True
            info = {"model": comp.labels[i], "name": stage.name, "inputs": args,
                    "outputs": stage.output_names, "shape": (len(stage.output_names), len(args)),
                    "at_names": stage.input_names, "at": np.full((N, len(stage.input_names)), np.nan),
                    "value": np.full((N, len(stage.output_names)), np.nan),
                    "jacobian": np.full((N, len(stage.output_names), len(args)), np.nan),
                    "error": None, "status": np.full(N, -1), "messages": [None] * N,
                    "backend": None, "exact": True, "structure": None}
            if len(idx):
                res = _stage_call(plan, i, "jacobian" if args else "jvp", args or plan.value_wrt(i),
                                  Xi, None if args else np.zeros((len(idx), 1)))
                run.absorb(i, idx, res)
                info["at"][idx] = Xi
                info["value"][idx] = res.value
                info["status"][idx] = res.status
                for gi, pt in enumerate(idx):
                    info["messages"][pt] = res.messages[gi]
                info["backend"], info["exact"] = res.backend, bool(res.exact)
                if args:
                    info["structure"] = res.structure
                    J = np.asarray(res.derivative, dtype=float)
                    info["jacobian"][idx] = J
                    rows = [(r, stage.output_names.index(y)) for r, y in enumerate(live[i + 1])
                            if comp.producer.get(y) == i]
                    rr = np.array([r for r, _ in rows], dtype=int)
                    jj = np.array([j for _, j in rows], dtype=int)
                    cc = np.array([pos[i][a] for a in args], dtype=int)
                    _scatter(E, idx, rr, cc, J[:, jj, :])
                    S[np.ix_(rr, cc)] = (np.asarray(res.structure, dtype=bool)[jj]
                                         if res.structure is not None else True)
                    structural = structural and res.structure is not None
                    if res.error is not None:
                        any_err = True
                        Ei = np.asarray(res.error, dtype=float)
                        info["error"] = np.full(info["jacobian"].shape, np.nan)
                        info["error"][idx] = Ei
                        _scatter(dE, idx, rr, cc, Ei[:, jj, :])
            factors.append(E)
            errs.append(dE)
            structs.append(S)
            stages_info.append(info)
        dead = ~run.alive
        for E in factors:                      # failed points: keep NaN out of the products
            E[dead] = 0.0
        shapes = [(len(live[i + 1]), len(live[i])) for i in range(len(factors))][::-1]
        cost, tree = chain_order(shapes)
        D = _multiply(factors[::-1], tree)
        if structural:
            B = structs[0].astype(np.int64)
            for Sb in structs[1:]:
                B = (Sb.astype(np.int64) @ B > 0).astype(np.int64)
            structure = B.astype(bool)
        if any_err:
            error = _propagate_error(factors, errs, k)
            error[dead] = np.nan
        names = [f"J{len(factors) - j}" for j in range(len(factors))]
        extra["stages"] = stages_info
        extra["chain"] = {"order": _order_text(tree, names), "multiply_adds": int(cost)}
    elif op == "jvp":
        T = np.array(W, dtype=float)                  # tangent over live[0] = wrt
        for i, stage in enumerate(comp.stages):
            args = plan.args[i]
            idx, Xi = run.stage_inputs(i)
            Tn = np.zeros((N, len(live[i + 1])))
            for r, name in enumerate(live[i + 1]):
                c = pos[i].get(name)
                if c is not None:
                    Tn[:, r] = T[:, c]
            if len(idx):
                if args:
                    V = T[idx][:, [pos[i][a] for a in args]]
                    res = _stage_call(plan, i, "jvp", args, Xi, V)
                else:
                    res = _stage_call(plan, i, "jvp", plan.value_wrt(i), Xi, np.zeros((len(idx), 1)))
                run.absorb(i, idx, res)
                if args:
                    d = np.asarray(res.derivative, dtype=float)
                    for r, y in enumerate(live[i + 1]):
                        if comp.producer.get(y) == i:
                            Tn[idx, r] = d[:, stage.output_names.index(y)]
            T = Tn
        D = T
    else:                                             # vjp: forward values, then the reverse sweep
        inputs_at = []
        for i, stage in enumerate(comp.stages):
            idx, Xi = run.stage_inputs(i)
            inputs_at.append((idx, Xi))
            if len(idx):
                res = _stage_call(plan, i, "jvp", plan.value_wrt(i), Xi, np.zeros((len(idx), 1)))
                run.absorb(i, idx, res)
        Abar = np.array(W, dtype=float)               # adjoint over live[k] = outputs
        for i in range(len(comp.stages) - 1, -1, -1):
            stage, args = comp.stages[i], plan.args[i]
            prev = np.zeros((N, len(live[i])))
            for r, name in enumerate(live[i + 1]):
                c = pos[i].get(name)
                if c is not None:
                    prev[:, c] += Abar[:, r]
            idx0, Xi0 = inputs_at[i]
            keep = run.alive[idx0]
            idx, Xi = idx0[keep], Xi0[keep]
            rows = [(r, stage.output_names.index(y)) for r, y in enumerate(live[i + 1])
                    if comp.producer.get(y) == i]
            if args and rows and len(idx):
                U = np.zeros((len(idx), len(stage.output_names)))
                for r, j in rows:
                    U[:, j] = Abar[idx, r]
                res = _stage_call(plan, i, "vjp", args, Xi, U)
                run.absorb(i, idx, res, set_values=False)
                g = np.asarray(res.derivative, dtype=float)
                for c, a in enumerate(args):
                    prev[idx, pos[i][a]] += g[:, c]
            Abar = prev
        D = Abar
    value = np.column_stack([run.values[y] for y in comp.outputs]) if m else np.zeros((N, 0))
    alive = run.alive
    value = value.copy()
    value[~alive] = np.nan
    D = np.array(D, dtype=float)
    D[~alive] = np.nan
    flat = D.reshape(N, -1)
    for pt in np.flatnonzero(alive & ~np.isfinite(flat).all(axis=1)):
        run.status[pt] = Status.NONFINITE
        run.messages[pt] = ("the chain-rule product is not finite here (every stage's derivatives "
                            "were finite): it overflows")
    if op != "jacobian":
        extra["vector"] = W
    if run.notes:
        extra["cost"] = "; ".join(run.notes[i] for i in sorted(run.notes))
    specs = run.specs or [str(plan.backend)]
    return Result(op=op, backend="+".join(specs), exact=run.exact, inputs=comp.input_names,
                  wrt=plan.wrt, outputs=comp.outputs, at=X, value=value, derivative=D, error=error,
                  status=run.status, messages=tuple(run.messages), nfev=run.nfev,
                  params=comp.param_values, structure=structure, extra=extra)


def _scatter(E, idx, rows, cols, block) -> None:
    """``E[idx][:, rows][:, :, cols] = block`` in place (a slice when every point is alive)."""
    if len(idx) == E.shape[0]:
        E[:, rows[:, None], cols[None, :]] = block
    else:
        E[idx[:, None, None], rows[None, :, None], cols[None, None, :]] = block


def _propagate_error(factors, errs, k):
    """First-order bound ``Σ_i |E_k|⋯|E_{i+1}| |ΔE_i| |E_{i-1}|⋯|E_1|`` of the product."""
    import numpy as np

    n = len(factors)
    A = [np.abs(E) for E in factors]
    N = factors[0].shape[0]
    prefix = [np.broadcast_to(np.eye(k), (N, k, k))]
    for i in range(n):
        prefix.append(np.matmul(A[i], prefix[-1]))
    total = None
    suffix = None                                   # |E_n| ⋯ |E_{i+1}|
    for i in range(n - 1, -1, -1):
        term = np.matmul(errs[i], prefix[i])
        if suffix is not None:
            term = np.matmul(suffix, term)
        total = term if total is None else total + term
        suffix = A[i] if suffix is None else np.matmul(suffix, A[i])
    return total


def _with_bad(plan: Plan, X, good, res, bad) -> Result:
    """Merge a batch's evaluated points with its unreadable rows (status bad_input)."""
    import numpy as np

    if not bad:
        return res
    N = X.shape[0]
    comp, op = plan.composite, plan.op
    m, k = len(comp.outputs), len(plan.wrt)
    shape = {"jacobian": (m, k), "jvp": (m,), "vjp": (k,)}[op]

    def spread(a):
        if a is None:
            return None
        a = np.asarray(a)
        out = np.full((N,) + a.shape[1:], np.nan)
        out[good] = a
        return out

    status = np.full(N, int(Status.BAD_INPUT))
    messages = [None] * N
    for i, msg in bad.items():
        messages[i] = msg
    if res is None:
        extra = {}
        return Result(op=op, backend=str(plan.backend), exact=False, inputs=comp.input_names,
                      wrt=plan.wrt, outputs=comp.outputs, at=X, value=np.full((N, m), np.nan),
                      derivative=np.full((N,) + shape, np.nan), error=None, status=status,
                      messages=tuple(messages), nfev=0, params=comp.param_values, extra=extra)
    status[good] = res.status
    for gi, i in enumerate(good):
        messages[i] = res.messages[gi]
    extra = {}
    for key, v in res.extra.items():
        if key == "stages":
            extra[key] = [_spread_stage(st, N, good, spread) for st in v]
        elif isinstance(v, np.ndarray) and v.shape[:1] == (len(good),):
            extra[key] = spread(v)
        else:
            extra[key] = v
    return replace(res, at=X, value=spread(res.value), derivative=spread(res.derivative),
                   error=spread(res.error), status=status, messages=tuple(messages), extra=extra)


def _spread_stage(st, N, good, spread) -> dict:
    import numpy as np

    status = np.full(N, -1)
    status[good] = st["status"]
    messages = [None] * N
    for gi, i in enumerate(good):
        messages[i] = st["messages"][gi]
    return {**st, "at": spread(st["at"]), "value": spread(st["value"]),
            "jacobian": spread(st["jacobian"]), "error": spread(st["error"]), "status": status,
            "messages": messages}


# ----------------------------------------------------------------------------- one model

def to_model(composite, *, name: Optional[str] = None):
    """The same chain as ONE expression model, by substituting each stage's output
    expressions into the later stages (expression stages only).

    Used to check the chain rule against the single model's Jacobian, and by
    ``jacli jacobian A B --symbolic``.  The expression graph keeps shared sub-expressions
    shared, but the outputs' text (and so the model's fingerprint) is written out in full.

    Examples
    --------
    >>> import jacli
    >>> a = jacli.model_from_expressions("u = x*y")
    >>> b = jacli.model_from_expressions("f = sin(u) + z")
    >>> m = jacli.compose.to_model([a, b])
    >>> m.input_names, [eq.text for eq in m.outputs]
    (('x', 'y', 'z'), ['z + sin(x*y)'])
    """
    from .model import Equation, Model, _expr

    comp = _as_composite(composite)
    exprs: dict = {}
    for i, stage in enumerate(comp.stages):
        if any(not isinstance(eq.expr, _expr.Node) for eq in stage.outputs):
            raise CapabilityError(f"{comp.stage_label(i)} is not an expression model: only chains of "
                                  "expression models (TOML, -e) can be written as one model")
        mapping = {_expr.symbol(x): exprs[x] for x in stage.input_names if x in exprs}
        new = _expr.substitute([eq.expr for eq in stage.outputs], mapping) if mapping \
            else [eq.expr for eq in stage.outputs]
        exprs.update(zip(stage.output_names, new))
    outputs = tuple(Equation(y, _expr.to_str(exprs[y]), exprs[y]) for y in comp.outputs)
    return Model(name=name or comp.name, inputs=comp.inputs, parameters=comp.parameters,
                 definitions=(), outputs=outputs, description="chain written as one model",
                 source="<composite>")


# ``jacli.compose`` is both this module and the function that builds a chain: the module is
# callable so that ``jacli.compose([...])`` works whichever of the two was imported first.
class _CallableModule(types.ModuleType):
    def __call__(self, stages, **kw) -> Composite:
        return compose(stages, **kw)


sys.modules[__name__].__class__ = _CallableModule
_module = sys.modules[__name__]       # what ``jacli.compose`` (lazy, in jacli/__init__.py) refers to
