"""``jacli hessian``: Hessians with curvature analysis, Hessian–vector products, matrix-free spectra."""
from __future__ import annotations

import click

from ..errors import UsageError
from ._options import (at_assignments, backend_option, load, model_options, output_options,
                       parse_vector, point_records, points_options, split_names, vector_option,
                       wrt_option, write_results)

EXAMPLES = """\b
Examples:
  jacli hessian -e "(1-x)^2 + 100*(y-x^2)^2" --at x=1,y=1
  jacli hessian samples/arm.toml --all --format json
  jacli hessian samples/arm.toml --output-name y --symbolic --format latex
  jacli hessian samples/puromycin_residuals.toml --of sumsq
  jacli hessian samples/arm.toml --output-name x --hvp --vector theta1=1
  jacli hessian big.toml --matrix-free --eigs 3 --trace --logdet --seed 1
"""

_MATRIX_FREE_ONLY = ("trace", "diag", "logdet")


@click.command(epilog=EXAMPLES)
@model_options
@points_options
@click.option("--output-name", "select", metavar="NAMES",
              help="The output whose Hessian to take (comma-separated for several); needed when "
                   "the model has more than one output, unless --all or --of is given.")
@click.option("--all", "all_outputs", is_flag=True, help="One Hessian per output.")
@click.option("--of", "of", type=click.Choice(["sumsq"]),
              help="sumsq: the Hessian of ½‖f‖² over the outputs, with its Gauss–Newton "
                   "approximation JᵀJ and the size of the neglected term Σ fᵢ∇²fᵢ.")
@wrt_option
@backend_option
@click.option("--symbolic", is_flag=True, help="Exact Hessians as expressions (table, json, latex).")
@click.option("--hvp", is_flag=True, help="The Hessian–vector product H·v instead of H (with "
              "--vector, or v.NAME columns in the points file).")
@vector_option("With --hvp: the vector v, one value per input in order (1,0,-2) or by name "
               "(y=1,x=-2; inputs not named are 0).")
@click.option("--matrix-free/--dense", "matrix_free", default=None,
              help="Matrix-free: spectrum and estimates from Hessian–vector products, never "
                   "forming H (one output at one point).  Default: dense when the k×k matrix "
                   "fits in memory, matrix-free otherwise.")
@click.option("--eigs", type=click.IntRange(0), default=5, show_default=True, metavar="K",
              help="Matrix-free: the K largest and K smallest eigenvalues (0: none).")
@click.option("--trace", is_flag=True, help="Matrix-free: estimate the trace (Hutch++).")
@click.option("--diag", is_flag=True, help="Matrix-free: estimate the diagonal.")
@click.option("--logdet", is_flag=True, help="Matrix-free: estimate log det H (SPD only; "
              "stochastic Lanczos quadrature).")
@click.option("--samples", type=click.IntRange(4), default=None, metavar="N",
              help="Matrix-free: random probes for --trace/--diag (default 30) and --logdet (20).")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help="Matrix-free: seed of the random probes and starting vectors.")
@click.option("--rtol", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Curvature: eigenvalues below rtol·max|λ| count as zero (default 100·k·eps, or "
                   "the Hessian's own relative error estimate when larger).")
@click.option("--gtol", type=click.FloatRange(0), default=None,
              help="Curvature: the point is critical when ‖∇f‖ ≤ gtol "
                   "(default √eps·max(1, ‖H‖₂)).")
@output_options
def hessian(**o):
    """The Hessian of a scalar output, with its curvature: eigenvalues, definiteness,
    condition number and, at a critical point, minimum / maximum / saddle / degenerate.

    At the nominal point, at --at, or at every point of --points.  A model with several
    outputs needs --output-name NAME, --all, or --of sumsq.  -o/--output remains the
    file to write.
    """
    from .. import _cache

    if o["no_cache"]:
        _cache.disable()
    model = load(o["model_path"], o["expr"], o["inputs"], o["params"])
    model, keyed = _check(model, o)
    if o["symbolic"]:
        return _symbolic(model, o, keyed)
    if o["hvp"]:
        return _hvp(model, o, keyed)
    mode, reason = _mode(model, o)
    if mode == "matrix-free":
        return _matrix_free(model, o, reason)
    return _dense(model, o, keyed, reason)


# --------------------------------------------------------------------------- validation


def _check(model, o):
    """Validate the options together, before any work: (model with the chosen outputs, keyed)."""
    select = [s.strip() for s in o["select"].split(",") if s.strip()] if o["select"] else []
    mf_only = [f"--{n}" for n in _MATRIX_FREE_ONLY if o[n]]
    if o["at"] and o["points"]:
        raise UsageError("give either --at or --points, not both")
    if select and o["all_outputs"]:
        raise UsageError("give either --output-name or --all, not both")
    if o["all_outputs"] and o["of"]:
        raise UsageError("--all gives one Hessian per output and --of sumsq one of ½‖f‖²: pick one")
    if o["output"] in model.output_names and not (select or o["all_outputs"] or o["of"]):
        raise UsageError(f"-o/--output is the file to write; for the Hessian of output "
                         f"'{o['output']}' use --output-name {o['output']} (to write a file of "
                         f"that name, say -o ./{o['output']})")
    if o["symbolic"]:
        if o["at"] or o["points"]:
            raise UsageError("--symbolic gives expressions, not values: drop --at/--points")
        if o["hvp"] or o["matrix_free"] or mf_only:
            raise UsageError("--symbolic gives the exact Hessian; drop --hvp/--matrix-free/"
                             "--trace/--diag/--logdet")
        if o["fmt"] in ("jsonl", "csv"):
            raise UsageError(f"--symbolic supports --format table, json or latex, not {o['fmt']}")
    if o["hvp"]:
        if o["of"]:
            raise UsageError("--hvp computes ∇²fᵢ·v of outputs; --of sumsq is not supported with it")
        if o["matrix_free"] is not None or mf_only:
            raise UsageError("--hvp is already matrix-free; drop --matrix-free/--dense/--trace/"
                             "--diag/--logdet")
    elif o["vector"] is not None:
        raise UsageError("--vector goes with --hvp (the Hessian–vector product)")
    if o["matrix_free"] is False and mf_only:
        raise UsageError(f"{', '.join(mf_only)} are matrix-free estimates: drop --dense")
    if o["matrix_free"] or mf_only:
        _check_matrix_free(model, o, select)
    m = len(model.outputs)
    if m > 1 and not (select or o["all_outputs"] or o["of"]):
        raise UsageError(f"{model.name!r} has {m} outputs ({', '.join(model.output_names)}); "
                         "choose one with --output-name NAME, all with --all, or the Hessian "
                         "of ½‖f‖² with --of sumsq")
    if select:
        model = _select(model, select)
    return model, bool(o["all_outputs"] or len(select) > 1)


def _check_matrix_free(model, o, select):
    if o["points"]:
        raise UsageError("the matrix-free Hessian is defined at one point: use --at, not --points")
    if o["all_outputs"] or o["of"] or len(select) > 1:
        raise UsageError("the matrix-free Hessian is of one output: use --output-name NAME "
                         "(not --all or --of)")
    if o["fmt"] in ("csv", "latex"):
        raise UsageError(f"the matrix-free report supports --format table, json or jsonl, "
                         f"not {o['fmt']}")


def _select(model, names):
    import difflib

    for n in names:
        if n not in model.output_names:
            close = difflib.get_close_matches(n, model.output_names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UsageError(f"--output-name: '{n}' is not an output of {model.name!r}{hint}; "
                             f"outputs: {', '.join(model.output_names)}")
    if len(set(names)) != len(names):
        raise UsageError("--output-name: an output is named twice")
    return model.select_outputs(names)


def _dense_fits(k, count=1):
    """:func:`jacli.curvature.dense_fits` (one place, so tests can pretend memory is short)."""
    from .. import curvature

    return curvature.dense_fits(k, count=count)


def _mode(model, o):
    """("dense" | "matrix-free", reason): matrix-free when asked, or when the dense k×k
    matrices of one point would not fit in memory and the request allows it."""
    if o["matrix_free"] or any(o[n] for n in _MATRIX_FREE_ONLY):
        return "matrix-free", None
    k = len(split_names(o["wrt"]) or model.input_names)
    q = len(model.outputs)
    # Per point: each output's Hessian and error estimate, plus the analysis' copies.
    fits, needed, available = _dense_fits(k, count=2 * q + 3)
    if fits:
        return "dense", None
    why = (f"the dense {k}×{k} Hessian{'s' if q > 1 else ''} need {needed / 2**30:.3g} GiB, more "
           f"than half the {available / 2**30:.3g} GiB available")
    auto = (o["matrix_free"] is None and q == 1 and not o["of"] and not o["points"]
            and o["fmt"] in ("table", "json", "jsonl"))
    if not auto:
        raise UsageError(f"{why}; use --matrix-free (one output at one point: extreme "
                         "eigenvalues, --trace, --diag, --logdet from Hessian–vector products)")
    return "matrix-free", why + ": computed matrix-free"


# --------------------------------------------------------------------------- dense


def _dense(model, o, keyed, reason):
    from .. import _ops

    wrt = split_names(o["wrt"])
    if o["points"] is not None:
        results = _ops.stream("hessian", model, point_records(o["points"], model), wrt=wrt,
                              backend=o["backend"], of=o["of"], batch_size=_batch(model, o))
    else:
        point = at_assignments(o["at"]) if o["at"] else None
        results = [_ops.hessian(model, point, of=o["of"], wrt=wrt, backend=o["backend"])]
    results = (_with_curvature(_as_sumsq(r, model) if o["of"] else r, o["rtol"], o["gtol"])
               for r in results)
    return write_results(results, fmt=o["fmt"], output=o["output"], model=model,
                         single=o["points"] is None, keyed=keyed)


def _batch(model, o):
    """--batch-size, lowered so that one batch of dense Hessians fits in half the memory."""
    k = len(split_names(o["wrt"]) or model.input_names)
    per_point = k * k * 8 * (2 * len(model.outputs) + 3)
    _, _, available = _dense_fits(k)
    return max(1, min(o["batch_size"], int(0.5 * available // per_point)))


def _with_curvature(res, rtol, gtol):
    """``res`` with ``extra["curvature"]``: per point, per output, the
    :func:`jacli.curvature.analyze` report as a dict (None where the Hessian or its error
    estimate is not finite)."""
    import numpy as np
    from dataclasses import replace

    from .. import curvature

    H, G = res.derivative, res.extra.get("gradient")
    E, GE = res.error, res.extra.get("gradient_error")
    k = H.shape[-1]
    reports = []
    for i in range(len(res)):
        per = []
        for q in range(H.shape[1]):
            h = H[i, q]
            if not np.isfinite(h).all() or (E is not None and not np.isfinite(E[i, q]).all()) \
                    or (GE is not None and not np.isfinite(GE[i, q]).all()):
                # no finite Hessian, or an estimate without a finite error: nothing to analyse
                per.append(None)
                continue
            g = G[i, q] if G is not None and np.isfinite(G[i, q]).all() else None
            scale = float(np.linalg.norm(h, 2))
            r, gt = rtol, gtol
            if E is not None and rtol is None and scale > 0:
                # An estimated Hessian: by Weyl's inequality its eigenvalues are uncertain by
                # ‖E‖₂ ≤ ‖E‖_F, so eigenvalues within that of zero cannot be told from zero.
                err = float(np.linalg.norm(np.nan_to_num(E[i, q], nan=0.0)))
                r = min(0.5, max(curvature.default_rtol(k), err / scale))
            if GE is not None and gtol is None and g is not None:
                gt = max(curvature.default_gtol(scale),
                         float(np.linalg.norm(np.nan_to_num(GE[i, q], nan=0.0))))
            per.append(curvature.analyze(h, g, rtol=r, gtol=gt).to_dict())
        reports.append(per)
    return replace(res, extra={**res.extra, "curvature": reports})


def _as_sumsq(res, model):
    """A batch whose points all failed comes back from the library in per-output shape;
    give it the sum-of-squares shape of the other batches (all NaN)."""
    import numpy as np
    from dataclasses import replace

    if res.outputs == ("sumsq",):
        return res
    N, k = len(res), len(res.wrt)
    nan = np.full
    extra = {"gradient": nan((N, 1, k), np.nan), "gauss_newton": nan((N, k, k), np.nan),
             "neglected": nan((N, k, k), np.nan), "neglected_norm": nan(N, np.nan),
             "residuals": nan((N, len(res.outputs)), np.nan), "residual_names": res.outputs}
    return replace(res, outputs=("sumsq",), value=nan((N, 1), np.nan),
                   derivative=nan((N, 1, k, k), np.nan),
                   error=None if res.error is None else nan((N, 1, k, k), np.nan), extra=extra)


# --------------------------------------------------------------------------- hvp


def _hvp(model, o, keyed):
    from .. import _ops

    model, be, prep = _ops.prepare(model, "hvp", wrt=split_names(o["wrt"]), backend=o["backend"])
    fixed = parse_vector(o["vector"], prep.wrt) if o["vector"] is not None else None
    if o["points"] is not None:
        records = point_records(o["points"], model, prefix="v.", names=prep.wrt, vector=fixed)
        results = _ops.stream("hvp", model, records, wrt=prep.wrt, backend=be,
                              batch_size=o["batch_size"])
    elif fixed is None:
        raise UsageError(f"--hvp needs a vector: --vector with {len(prep.wrt)} values "
                         f"({', '.join(prep.wrt)}), e.g. --vector {prep.wrt[0]}=1")
    else:
        point = at_assignments(o["at"]) if o["at"] else None
        results = [_ops.hvp(model, point, fixed, wrt=prep.wrt, prep=(be, prep))]
    return write_results(results, fmt=o["fmt"], output=o["output"], model=model,
                         single=o["points"] is None, keyed=keyed)


# --------------------------------------------------------------------------- matrix-free


def _matrix_free(model, o, reason):
    from .. import _ops
    from .._io import atomic_open
    from ..errors import PointsFailed

    wrt = split_names(o["wrt"])
    point = at_assignments(o["at"]) if o["at"] else None
    output = model.output_names[0]
    hv, k, names = _ops.hvp_function(model, point, output=output, wrt=wrt, backend=o["backend"])
    base = _ops.jacobian(model, point, wrt=names, backend=o["backend"])    # value and gradient
    if base.status[0] != 0:
        raise PointsFailed(base.messages[0] or "the point failed")
    report = {
        "schema": 1, "command": "hessian", "model": model.name, "backend": base.backend,
        "symbolic": False, "matrix_free": True, "inputs": list(names), "outputs": [output],
        "params": dict(model.param_values), "exact": base.exact, "k": k,
        "at": dict(zip(base.inputs, base.at[0].tolist())), "value": float(base.value[0, 0]),
        "gradient_norm": float(_norm(base.derivative[0, 0])), "reason": reason,
    }
    report.update(_estimates(hv, k, o, report["gradient_norm"]))
    report.update(status="ok", message=None)
    with atomic_open(o["output"]) as fp:
        if o["fmt"] == "table":
            from rich.console import Console

            from ..render.tables import render_matrix_free

            render_matrix_free(report, console=Console(file=fp))
        else:
            from ..render.json import data_document

            fp.write(data_document(report, compact=o["fmt"] == "jsonl"))
    return 0


def _norm(v):
    import numpy as np

    return np.linalg.norm(np.asarray(v, dtype=float))


def _estimates(hv, k, o, gnorm):
    """The requested matrix-free quantities, each with its HVP count and error figure."""
    from .. import curvature
    from ..errors import PointsFailed

    out, hvps, seed = {}, 0, o["seed"]
    samples = o["samples"]
    try:
        if o["eigs"]:
            eig = curvature.extreme_eigenvalues(hv, k, which="both", count=o["eigs"], seed=seed,
                                                hvp_block=hv)
            out["eigenvalues"] = eig.to_dict()
            out.update(_verdict(eig, gnorm, o["gtol"]))
            hvps += eig.hvps
        if o["trace"]:
            tr = curvature.hutchinson_trace(hv, k, samples=samples or 30, seed=seed, hvp_block=hv)
            out["trace"], hvps = tr.to_dict(), hvps + tr.hvps
        if o["diag"]:
            dg = curvature.diagonal_estimate(hv, k, samples=samples or 30, seed=seed, hvp_block=hv)
            out["diagonal"], hvps = dg.to_dict(), hvps + dg.hvps
        if o["logdet"]:
            try:
                ld = curvature.logdet_slq(hv, k, probes=samples or 20, seed=seed, hvp_block=hv)
                out["logdet"], hvps = ld.to_dict(), hvps + ld.hvps
            except curvature.NotPositiveDefinite:
                out["logdet"] = {"estimate": None, "message": (
                    "H is not positive definite (a Lanczos run found a Ritz value <= 0): "
                    "log det H is undefined")}
    except curvature.NotPositiveDefinite:
        raise
    except curvature.CurvatureError as e:
        # Bad arguments are caught by the options; what is left is a failed HVP at this point.
        raise PointsFailed(str(e)) from None
    out["hvps"] = hvps
    return out


def _verdict(eig, gnorm, gtol):
    """Definiteness (and, at a critical point, the classification) that the extreme eigenvalues
    prove: an eigenvalue is certainly positive when λ − residual > 0 (Parlett's bound)."""
    from .. import curvature

    if not eig.converged or not len(eig.largest) or not len(eig.smallest):
        return {"definiteness": None, "critical": None, "classification": None}
    lo, hi = float(eig.smallest[0]), float(eig.largest[0])
    rlo, rhi = float(eig.smallest_residuals[0]), float(eig.largest_residuals[0])
    if lo - rlo > 0:
        definiteness = "positive definite"
    elif hi + rhi < 0:
        definiteness = "negative definite"
    elif lo + rlo < 0 < hi - rhi:
        definiteness = "indefinite"
    else:
        definiteness = None          # an eigenvalue within its residual of zero: undecided
    gtol = curvature.default_gtol(max(abs(lo), abs(hi))) if gtol is None else gtol
    critical = gnorm <= gtol
    classification = None
    if critical:
        classification = {"positive definite": "minimum", "negative definite": "maximum",
                          "indefinite": "saddle"}.get(definiteness, "degenerate")
    return {"definiteness": definiteness, "gtol": gtol, "critical": critical,
            "classification": classification}


# --------------------------------------------------------------------------- symbolic


def _symbolic(model, o, keyed):
    from .._io import atomic_open
    from ..backends import get_backend
    from ..backends._protocol import make_prep
    from ..backends.symbolic import expression_model
    from ..errors import CapabilityError
    from ..model import _sympy

    # expressions come from sympy (auto means sympy here, Python models included)
    be = get_backend("sympy" if o["backend"] == "auto" else o["backend"], model)
    if not be.capabilities.symbolic_output:
        raise CapabilityError(f"backend '{be.name}' gives numbers, not expressions; "
                              "use --backend sympy for --symbolic")
    names = make_prep(be, model, "hessian", split_names(o["wrt"])).wrt   # validates --wrt
    model = expression_model(model)          # a Python model traced into expressions
    objectives = _objectives(model, o["of"])
    grads, hessians = _symbolic_hessians(objectives, names)
    k = len(names)
    flat = [g for gs in grads.values() for g in gs] + [e for H in hessians.values() for e in H]
    # symmetric entries share one expression: simplify_all simplifies it once
    sym = _sympy.simplify_all(_sympy.to_sympy(flat + list(objectives.values())))
    text = [_sympy.jacli_str(e) for e in sym]
    q = len(objectives)
    g_text = {n: text[i * k:(i + 1) * k] for i, n in enumerate(objectives)}
    base = q * k
    h_sym = {n: [sym[base + i * k * k + a * k:base + i * k * k + (a + 1) * k] for a in range(k)]
             for i, n in enumerate(objectives)}
    h_text = {n: [[_sympy.jacli_str(e) for e in row] for row in h_sym[n]] for n in objectives}
    values = text[base + q * k * k:]
    with atomic_open(o["output"]) as fp:
        fp.write(_symbolic_text(model, be, o["fmt"], names, objectives, values, g_text, h_text,
                                h_sym, keyed, fp))
    return 0


def _objectives(model, of):
    from fractions import Fraction

    from ..model import _expr

    if of == "sumsq":
        two = _expr.const(2)
        s = _expr.add(*[_expr.pow_(eq.expr, two) for eq in model.outputs])
        return {"sumsq": _expr.mul(_expr.const(Fraction(1, 2)), s)}
    return {eq.name: eq.expr for eq in model.outputs}


def _symbolic_hessians(objectives, names):
    """Gradient and full (symmetric) Hessian expression nodes of each objective."""
    from ..model import _expr

    grads, hessians = {}, {}
    k = len(names)
    for n, f in objectives.items():
        g = [_expr.diff(f, w) if w in f.deps else _expr.ZERO for w in names]
        H = [[_expr.ZERO] * k for _ in range(k)]
        for a in range(k):
            for b in range(a, k):
                if names[b] in g[a].deps:
                    H[a][b] = H[b][a] = _expr.diff(g[a], names[b])
        grads[n], hessians[n] = g, [e for row in H for e in row]
    return grads, hessians


def _symbolic_text(model, be, fmt, names, objectives, values, grads, hessians, h_sym, keyed, fp):
    from ..render.text import latex_strings, latex_symbolic

    outs = list(objectives)
    if fmt == "table":
        from rich.console import Console

        from ..render.tables import render_symbolic_hessian

        render_symbolic_hessian(console=Console(file=fp), model=model.name, backend=be.spec,
                                inputs=names, hessians=hessians)
        return ""
    latex = {n: latex_strings(h_sym[n]) for n in outs}
    if fmt == "latex":
        parts = []
        for n in outs:
            label = rf"H_{{\mathrm{{{n}}}}}" if keyed or len(outs) > 1 else "H"
            parts.append(f"% hessian of {model.name}: {n}\n"
                         + latex_symbolic(latex[n], inputs=names, outputs=names, label=label))
        return "\n".join(parts)
    from ..render.json import data_document

    def per(d):
        return d if keyed or len(outs) > 1 else d[outs[0]]

    doc = {"schema": 1, "command": "hessian", "model": model.name, "backend": be.spec,
           "symbolic": True, "inputs": list(names), "outputs": outs,
           "params": dict(model.param_values), "exact": True, "nfev": 0, "at": None,
           "value": values, "gradient": per(grads), "hessian": per(hessians), "error": None,
           "status": "ok", "message": None, "latex": per(latex)}
    if "sumsq" in objectives:
        doc["of"] = "sumsq"
        doc["residual_names"] = list(model.output_names)
    return data_document(doc)
