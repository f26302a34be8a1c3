"""Rendering of ``jacli sensitivity``: rich tables with tornado bars, and JSON.

The JSON document is the result's ``to_dict()`` with ``schema`` and ``command`` in front
(documented in docs/json-schema.md, section *Sensitivity*).  NaN and infinities are
written as ``null``, as everywhere else.  :mod:`rich` is imported only by
:func:`render_sensitivity`.

The tornado chart draws one bar per input, longest first, from a centre line: to the right
where the coefficient ∂y/∂x is positive, to the left where it is negative.  Its length is
the input's contribution to the output's uncertainty (|∂y/∂x|·u(x)); without uncertainties
(``--method local`` on a model with no ``sigma``/``bounds``) it is |elasticity|, or |∂y/∂x|
where y = 0.  Only plain block characters are used (``█`` and the eighth blocks ``▏…▉``).

The global methods (``sobol``, ``morris``, ``dgsm``) print one table per output with the
inputs ranked (by ST, μ* or the ST bound) and one-sided bars: S1 and ST as fractions of
the output's variance (a full bar is 1), μ* relative to the largest, the DGSM bound
capped at 1.
"""
from __future__ import annotations

import json
import math
from typing import Optional

__all__ = ["sensitivity_document", "render_sensitivity", "bar"]

BAR_WIDTH = 12                      # characters per side of the tornado's centre line
_EIGHTHS = " ▏▎▍▌▋▊▉"


def _clean(v):
    """Plain data with NaN/inf as None (JSON has neither)."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if hasattr(v, "tolist"):
        return _clean(v.tolist())
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def sensitivity_document(result, *, compact: bool = False, model: Optional[str] = None) -> str:
    """The JSON text of a :class:`~jacli.sensitivity.LocalSensitivity`,
    :class:`~jacli.sensitivity.Propagation`, :class:`~jacli.sensitivity.SobolResult`,
    :class:`~jacli.sensitivity.MorrisResult` or :class:`~jacli.sensitivity.DGSMResult`.

    ``model`` (the model's name) is added after ``method`` when the result lacks one.
    """
    data = {"schema": 1, "command": "sensitivity"}
    body = result.to_dict()
    if model is not None and "model" not in body:
        body = {"method": body.get("method"), "model": model, **body}
    data.update(body)
    data = _clean(data)
    if compact:
        return json.dumps(data, separators=(",", ":"), allow_nan=False) + "\n"
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar of ``fraction`` (0..1) of ``width`` characters, in eighths.

    >>> bar(0.5, 4), bar(1.0, 4), bar(0.0, 4)
    ('██', '████', '')
    """
    if not fraction > 0:
        return ""
    eighths = int(round(min(fraction, 1.0) * width * 8))
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def _tornado(value: float, sign: float, biggest: float, width: int = BAR_WIDTH) -> str:
    b = bar(value / biggest, width) if biggest > 0 else ""
    if sign < 0:
        return f"{b:>{width}}│{'':<{width}}"
    return f"{'':>{width}}│{b:<{width}}"


def _f(x: Optional[float], digits: int = 4) -> str:
    if x is None:
        return "—"
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return "nan"
    return f"{x:.{digits}g}"


def _pct(x: Optional[float]) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def render_sensitivity(result, *, console, model: Optional[str] = None) -> None:
    """Print a sensitivity result as tables with tornado (or one-sided) bars."""
    from ..sensitivity import DGSMResult, LocalSensitivity, MorrisResult, SobolResult

    if isinstance(result, LocalSensitivity):
        _render_local(result, console)
    elif isinstance(result, SobolResult):
        _render_sobol(result, console, model)
    elif isinstance(result, MorrisResult):
        _render_morris(result, console, model)
    elif isinstance(result, DGSMResult):
        _render_dgsm(result, console, model)
    else:
        _render_gum(result, console)


def _print(console, renderable) -> None:
    from .tables import _emit   # natural width when not a terminal: no squeezed columns

    _emit(console, renderable)


def _notes(console, notes) -> None:
    from rich.text import Text

    for n in notes:
        console.print(Text(f"note: {n}", style="dim"))


def _render_local(r, console) -> None:
    from rich.table import Table
    from rich.text import Text

    at = ", ".join(f"{k}={v:.6g}" for k, v in r.at.items())
    console.print(Text(f"{r.model}: local sensitivity at {at} (backend {r.backend})", style="bold"))
    any_u = any(v > 0 for v in r.u.values())
    for o in r.outputs:
        t = Table(title=f"{o.output} = {_f(o.estimate, 7)}", title_justify="left", box=None,
                  pad_edge=False)
        for col in ("input", "∂y/∂x", "(x/y)·∂y/∂x"):
            t.add_column(col, justify="left" if col == "input" else "right")
        if any_u:
            for col in ("u(x)", "|∂y/∂x|·u", "share"):
                t.add_column(col, justify="right")
        what = "|∂y/∂x|·u" if any_u else ("|elasticity|" if o.estimate != 0 else "|∂y/∂x|")
        t.add_column(f"tornado ({what})", justify="left", no_wrap=True)

        def length(n):
            if any_u:
                return o.scaled[n] or 0.0
            e = o.normalized[n]
            return abs(e) if e is not None else abs(o.derivative[n])
        biggest = max((length(n) for n in o.ranking), default=0.0)
        for n in o.ranking:
            row = [n, _f(o.derivative[n], 6), _f(o.normalized[n])]
            if any_u:
                row += [_f(r.u[n] if r.u[n] > 0 else None), _f(o.scaled[n]), _pct(o.share[n])]
            row.append(_tornado(length(n), o.derivative[n], biggest))
            t.add_row(*row)
        _print(console, t)
        if any_u:
            console.print(Text(f"  first-order u({o.output}) for uncorrelated inputs: "
                               f"{_f(o.std_uncertainty)}"))
        _notes(console, o.notes)
    _notes(console, r.notes)


def _render_gum(p, console) -> None:
    from rich.table import Table
    from rich.text import Text

    console.print(Text(f"{p.model}: first-order uncertainty propagation (GUM), backend {p.backend}",
                       style="bold"))
    ins = {q.name: q for q in p.inputs}
    for o in p.outputs:
        head = f"{o.output} = {_f(o.estimate, 10)}, u_c = {_f(o.std_uncertainty)}"
        if o.expanded is not None:
            head += f", U = {_f(o.expanded)} (k = {p.k:.3g}, coverage {p.coverage:g})"
        t = Table(title=head, title_justify="left", box=None, pad_edge=False)
        for col in ("input", "estimate", "u(x)", "distribution", "c = ∂y/∂x", "u_i(y)", "share"):
            t.add_column(col, justify="left" if col in ("input", "distribution") else "right")
        t.add_column("tornado (u_i(y))", justify="left", no_wrap=True)
        biggest = max((b.contribution for b in o.budget), default=0.0)
        for b in o.budget:
            q = ins[b.input]
            t.add_row(b.input, _f(q.value, 8), _f(q.u), q.distribution or "exact",
                      _f(b.coefficient, 6), _f(b.contribution), _pct(b.share),
                      _tornado(b.contribution, b.coefficient, biggest))
        _print(console, t)
        if o.correlation_share:
            console.print(Text(f"  correlation terms: {_pct(o.correlation_share)} of u_c²"))
    if len(p.outputs) > 1:
        t = Table(title="correlation between outputs", title_justify="left", box=None, pad_edge=False)
        t.add_column("")
        for n in p.output_names:
            t.add_column(n, justify="right")
        for n, row in zip(p.output_names, p.correlation):
            t.add_row(n, *(_f(float(v), 3) for v in row))
        _print(console, t)
    if p.second_order is not None:
        so = p.second_order
        for i, n in enumerate(so.outputs):
            console.print(Text(f"  second order: u({n}) = {_f(so.std_uncertainty[i])} "
                               f"(first order {_f(p.outputs[i].std_uncertainty)}), mean shift "
                               f"{_f(so.mean_shift[i])}"))
    if p.monte_carlo is not None:
        mc = p.monte_carlo
        seed = f", seed {mc.seed}" if mc.seed is not None else ""
        for i, n in enumerate(mc.outputs):
            line = (f"  Monte Carlo ({mc.n} samples{seed}): {n} mean {_f(mc.mean[i], 10)}, "
                    f"std {_f(mc.std[i])}")
            if mc.interval is not None:
                line += f", {p.coverage:g} interval [{_f(mc.interval[i][0], 10)}, {_f(mc.interval[i][1], 10)}]"
            line += "" if mc.agree[i] else "  DISAGREES with first order"
            console.print(Text(line, style=None if mc.agree[i] else "bold"))
        _notes(console, mc.notes)
    _notes(console, p.notes)


# --------------------------------------------------------------------------- global methods

def _num(x) -> Optional[float]:
    x = float(x)
    return x if math.isfinite(x) else None


def _pm(v, c) -> str:
    """``v ± c`` (``v`` alone without a finite conf)."""
    v, c = _num(v), _num(c)
    if v is None:
        return "—"
    return f"{v:.3f} ± {c:.3f}" if c is not None else f"{v:.3f}"


def _ranked(values, inputs) -> list:
    """Input indices by decreasing value (NaN last), stable."""
    return sorted(range(len(inputs)),
                  key=lambda j: (0, -values[j]) if math.isfinite(values[j]) else (1, 0))


def _head(console, model, text) -> None:
    from rich.text import Text

    console.print(Text(f"{model + ': ' if model else ''}{text}", style="bold"))


def _table(title):
    from rich.table import Table

    return Table(title=title, title_justify="left", box=None, pad_edge=False)


def _render_sobol(r, console, model) -> None:
    seed = f", seed {r.seed}" if r.seed is not None else ""
    _head(console, model, f"Sobol' indices, {r.samples} samples, {r.evaluations} evaluations{seed}; "
                          f"±: {r.confidence:g} intervals")
    for o, name in enumerate(r.outputs):
        t = _table(f"{name}: variance {_f(_num(r.variance[o]))}")
        t.add_column("input")
        for col in ("S1", "ST"):
            t.add_column(col, justify="right")
            t.add_column(f"{col} (0..1)", justify="left", no_wrap=True)
        for j in _ranked([float(v) for v in r.ST[o]], r.inputs):
            s1, st = _num(r.S1[o, j]), _num(r.ST[o, j])
            t.add_row(r.inputs[j], _pm(r.S1[o, j], r.S1_conf[o, j]), bar(s1 or 0.0),
                      _pm(r.ST[o, j], r.ST_conf[o, j]), bar(st or 0.0))
        _print(console, t)
        if r.S2 is not None:
            k = len(r.inputs)
            pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]
            pairs.sort(key=lambda p: -abs(float(r.S2[o, p[0], p[1]]))
                       if math.isfinite(float(r.S2[o, p[0], p[1]])) else 1.0)
            t2 = _table(f"{name}: second-order indices")
            t2.add_column("inputs")
            t2.add_column("S2", justify="right")
            t2.add_column("S2 (0..1)", justify="left", no_wrap=True)
            for a, b in pairs:
                v = _num(r.S2[o, a, b])
                t2.add_row(f"{r.inputs[a]}, {r.inputs[b]}", _pm(r.S2[o, a, b], r.S2_conf[o, a, b]),
                           bar(v or 0.0))
            _print(console, t2)
    _notes(console, r.notes)


def _render_morris(r, console, model) -> None:
    seed = f", seed {r.seed}" if r.seed is not None else ""
    _head(console, model, f"Morris elementary effects, {r.trajectories} trajectories, {r.levels} "
                          f"levels, {r.evaluations} evaluations{seed}")
    for o, name in enumerate(r.outputs):
        t = _table(name)
        t.add_column("input")
        for col in ("μ*", "μ", "σ"):
            t.add_column(col, justify="right")
        t.add_column("range", justify="right")
        t.add_column("μ* (relative)", justify="left", no_wrap=True)
        mu_star = [float(v) for v in r.mu_star[o]]
        biggest = max((v for v in mu_star if math.isfinite(v)), default=0.0)
        for j in _ranked(mu_star, r.inputs):
            lo, hi = r.ranges[j]
            t.add_row(r.inputs[j], _f(_num(r.mu_star[o, j])), _f(_num(r.mu[o, j])),
                      _f(_num(r.sigma[o, j])), f"[{_f(lo)}, {_f(hi)}]",
                      bar(mu_star[j] / biggest) if biggest > 0 else "")
        _print(console, t)
    _notes(console, r.notes)


def _render_dgsm(r, console, model) -> None:
    seed = f", seed {r.seed}" if r.seed is not None else ""
    _head(console, model, f"DGSM, {r.samples} samples{seed}, backend {r.backend}; "
                          f"ST ≤ C·ν/Var")
    for o, name in enumerate(r.outputs):
        t = _table(f"{name}: variance {_f(_num(r.variance[o]))}")
        t.add_column("input")
        t.add_column("ν = E[(∂y/∂x)²]", justify="right")
        t.add_column("ST bound", justify="right")
        t.add_column("bound (0..1)", justify="left", no_wrap=True)
        bounds = [float(v) for v in r.bound[o]]
        key = bounds if any(math.isfinite(v) for v in bounds) else [float(v) for v in r.nu[o]]
        for j in _ranked(key, r.inputs):
            b = _num(r.bound[o, j])
            t.add_row(r.inputs[j], _f(_num(r.nu[o, j])), _f(b), bar(b or 0.0))
        _print(console, t)
    _notes(console, r.notes)
