"""Rendering of ``jacli check``: a JSON document for pipelines, a table for people.

The JSON document is :meth:`jacli._check.CheckReport.to_dict` with ``schema`` and
``command`` in front (documented in docs/check.md).  Infinities and NaN are written as
``null``, as everywhere else.  The table is drawn by :func:`jacli.render.tables.render_check`
(rich is imported only there); this module prepares its lines, so the wording of an entry
(``d(y)/d(x) at point 3: yours 2, jacli 3 (rel err 0.33)``) is the same in every place
it is shown.
"""
from __future__ import annotations

import json
import math

__all__ = ["check_document", "entry_line", "render_check_report", "table_data", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1


def _clean(v):
    """Plain data with NaN/inf as None (JSON has neither)."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def check_document(report, *, compact: bool = False) -> str:
    """The JSON text of a :class:`~jacli._check.CheckReport` (one line when ``compact``)."""
    data = _clean({"schema": SCHEMA_VERSION, "command": "check", **report.to_dict()})
    if compact:
        return json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=False) + "\n"
    return json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def _g(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    return f"{x:.10g}"


def _e(x) -> str:
    if x is None:
        return "—"
    if math.isinf(x):
        return "inf"
    return "0" if x == 0 else f"{x:.2g}"


def entry_line(entry, *, name: str, reference: str) -> str:
    """``d(y)/d(x) at point 3: yours 2, jacli 3 (rel err 0.33, allowed 1e-10)``.

    ``name`` is the checked method (``yours`` for a user's function), ``reference`` the
    reference's name.
    """
    allowed = f", allowed {_e(entry.allowed)}" if entry.allowed is not None else ""
    return (f"{entry.label} at point {entry.point}: {name} {_g(entry.value)}, {reference} "
            f"{_g(entry.reference)} (rel err {_e(entry.rel_err)}, abs err {_e(entry.abs_err)}{allowed})")


def _points_text(report) -> str:
    origins: dict = {}
    for p in report.points:
        origins[p.origin] = origins.get(p.origin, 0) + 1
    parts = []
    for o in ("nominal", "at", "points", "random"):
        if o in origins:
            n = origins[o]
            if o == "nominal":
                parts.append("nominal")
            elif o == "at":
                parts.append("--at" if n == 1 else f"{n} given")
            elif o == "points":
                parts.append(f"{n} from file")
            else:
                parts.append(f"{n} random, seed {report.seed}" if report.seed is not None
                             else f"{n} random")
    n = len(report.points)
    return f"{n} point{'s' if n != 1 else ''} ({', '.join(parts)})"


def table_data(report) -> dict:
    """Everything :func:`jacli.render.tables.render_check` draws, as strings."""
    title = (f"check of {report.model} · {report.op} · reference {report.reference or '—'} · "
             f"{_points_text(report)}")
    rows, details, skipped = [], [], []
    for b in report.backends:
        if b.status == "reference":
            verdict = "reference"
        elif b.status == "agree":
            verdict = "✓"
        elif b.status == "disagree":
            n, f = b.disagreements, len(b.failed_points)
            what = []
            if n:
                what.append(f"{n} entr{'y' if n == 1 else 'ies'}")
            if f:
                what.append(f"{f} point{'s' if f != 1 else ''} failed")
            verdict = "✗ " + ", ".join(what)
        elif b.status == "error":
            verdict = "✗ error"
        else:
            verdict = b.status
        ran = b.status not in ("skipped", "error")
        rows.append({
            "backend": b.name, "method": b.label,
            "points": str(b.compared_points) if ran else "—",
            "max_rel_err": _e(b.max_rel_err) if b.status not in ("reference", "skipped", "error") else "—",
            "tolerance": (b.tolerance_text or "—") if b.status != "reference" else "—",
            "verdict": verdict, "ok": not b.failed,
        })
        name, ref = ("yours", "jacli") if b.kind == "user" else (b.name, report.reference)
        lines = [entry_line(e, name=name, reference=ref) for e in b.worst]
        if b.disagreements > len(b.worst):
            lines.append(f"... and {b.disagreements - len(b.worst)} more entries beyond tolerance")
        lines += [f"point {p}: {m}" for p, m in b.failed_points]
        lines += [f"note: {n}" for n in b.notes]
        if b.status == "error":
            lines.append(f"it raised {b.reason}")
        if lines:
            details.append({"title": f"{b.name}{' (' + b.label + ')' if b.kind == 'user' else ''}:",
                            "lines": lines})
        if b.status in ("skipped", "unverified") and b.reason:
            skipped.append(f"{b.name} {b.status}: {b.reason}")
    points = [f"point {p.index} ({p.origin}): {p.status.replace('_', ' ')}: {p.message}"
              for p in report.points if p.status != "ok"]
    return {"title": title, "rows": rows, "details": details, "skipped": skipped,
            "points": points, "notes": [n for n in report.notes if not n.startswith(tuple(
                f"{b.name}: " for b in report.backends if b.status == "unverified"))],
            "verdict": report.summary(), "ok": report.ok}


def render_check_report(report, *, console) -> None:
    """Print the report as a table (rich is imported by :mod:`jacli.render.tables`)."""
    from .tables import render_check

    render_check(table_data(report), console=console)
