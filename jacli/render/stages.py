"""``--per-stage``: each stage's Jacobian of a chain of models (see :mod:`jacli.compose`).

A chain's :class:`~jacli.results.Result` carries ``extra["stages"]`` (one dict per stage:
``model``, ``inputs`` — the stage's differentiation variables, its Jacobian's columns —
``outputs``, ``shape``, and per point ``at``, ``value``, ``jacobian``, ``error``,
``status``) and ``extra["chain"]`` (``order``, ``multiply_adds``).  This module turns a
stage of one point into an ordinary Jacobian :class:`Result` (so tables draw it like any
other) and into the JSON ``"stages"`` array (added to each point by
:mod:`jacli.render.json`).  It does not import :mod:`rich` itself.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from jacli.results import Result, Status

__all__ = ["stage_result", "stages_json", "chain_line", "StageTableWriter"]


def stage_result(result: Result, i: int, s: int) -> Optional[Result]:
    """Stage ``s`` of point ``i`` as a one-point Jacobian Result; None if the stage was not
    evaluated there (an earlier stage failed) or has no differentiation variables."""
    st = result.extra["stages"][s]
    code = int(st["status"][i])
    if code < 0 or not st["inputs"]:
        return None
    err = st["error"]
    return Result(op="jacobian", backend=st["backend"] or result.backend, exact=st["exact"],
                  inputs=tuple(st["at_names"]), wrt=tuple(st["inputs"]), outputs=tuple(st["outputs"]),
                  at=st["at"][i:i + 1], value=st["value"][i:i + 1], derivative=st["jacobian"][i:i + 1],
                  error=None if err is None else err[i:i + 1], status=np.array([code]),
                  messages=(st["messages"][i],), nfev=0, params={}, structure=st["structure"])


def chain_line(result: Result) -> str:
    """``chain rule: J (1 × 4) = J2 (1 × 4) · J1 (4 × 4), multiplied as J2·J1: 16 multiply-adds per point``."""
    stages = result.extra["stages"]
    chain = result.extra.get("chain", {})
    k = len(stages)
    factors = " · ".join(f"J{j} ({stages[j - 1]['shape'][0]} × {stages[j - 1]['shape'][1]})"
                         for j in range(k, 0, -1))
    text = f"chain rule: J ({len(result.outputs)} × {len(result.wrt)}) = {factors}"
    if chain:
        text += (f", multiplied as {chain['order']}: {chain['multiply_adds']} multiply-adds per point "
                 "(values passed on unchanged between stages are identity rows of each factor)")
    return text


def stages_json(result: Result, i: int, *, sep: str, colon: str, indent: str) -> list:
    """The ``"stages"`` value of point ``i``: a list of JSON text chunks."""
    from jacli.render.json import _matrix, _num, _obj_chunks, _str, _vector

    inner = indent + "  " if indent else ""
    chunks = ["[\n" + indent if indent else "["]
    for s, st in enumerate(result.extra["stages"]):
        code = int(st["status"][i])
        err = st["error"]
        pairs = [
            ("model", _str(st["model"])),
            ("inputs", "[" + sep.join(map(_str, st["inputs"])) + "]"),
            ("outputs", "[" + sep.join(map(_str, st["outputs"])) + "]"),
            ("shape", f"[{st['shape'][0]}{sep}{st['shape'][1]}]"),
            ("at", "{" + sep.join(f"{_str(n)}{colon}{_num(v)}" for n, v in
                                  zip(st["at_names"], np.asarray(st["at"][i], dtype=float).tolist()))
             + "}"),
            ("value", _vector(st["value"][i], sep)),
            ("jacobian", _matrix(st["jacobian"][i], sep, inner)),
            ("error", "null" if err is None else _matrix(err[i], sep, inner)),
            ("status", _str("not_evaluated" if code < 0 else Status(code).label)),
        ]
        if s:
            chunks.append("," + ("\n" + indent if indent else ""))
        chunks.extend(_obj_chunks(pairs, sep, colon))
    chunks.append("\n" + indent[:-2] + "]" if indent else "]")
    return chunks


class StageTableWriter:
    """``--format table --per-stage``: each point as usual, then the chain-rule line and
    every stage's Jacobian at that point (drawn as an ordinary Jacobian table)."""

    def __init__(self, console, *, model: str, single: bool = False, sparsity: bool = False):
        from jacli.render.tables import TableWriter

        self.console = console
        self.inner = TableWriter(console, model=model, single=single, sparsity=sparsity)

    @property
    def count(self) -> int:
        return self.inner.count

    def write(self, result: Result) -> None:
        from jacli.render.tables import render_point

        for i in range(len(result)):
            shown = self.inner.count < self.inner.max_points
            self.inner.write(result.point(i))
            if not shown or "stages" not in result.extra:
                continue
            self.console.print()
            self.console.print(chain_line(result), soft_wrap=True, markup=False, highlight=False)
            for s, st in enumerate(result.extra["stages"]):
                self.console.print()
                title = f"stage {s + 1} ({st['model']}), J{s + 1} {st['shape'][0]} × {st['shape'][1]}"
                sr = stage_result(result, i, s)
                if sr is None:
                    why = ("not evaluated at this point: an earlier stage failed"
                           if int(st["status"][i]) < 0 else
                           "no derivative: none of its inputs depends on the --wrt variables")
                    self.console.print(f"{title}: {why}", soft_wrap=True, markup=False,
                                       highlight=False)
                    continue
                render_point(sr, 0, console=self.console, model=title)

    def close(self) -> None:
        self.inner.close()
