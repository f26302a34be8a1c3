"""``jacli sensitivity``: which inputs matter, and how uncertain is the output.

A method is a name in :data:`jacli.sensitivity.METHODS` plus one entry in ``_RUN`` here;
the options a method does not use are refused in :func:`_check`, in one place.
"""
from __future__ import annotations

import click

from ..errors import UsageError
from ..sensitivity import METHODS
from ._options import at_assignments, backend_option, load, model_options

EXAMPLES = """\b
Examples:
  jacli sensitivity samples/arm.toml
  jacli sensitivity samples/arm.toml --at theta1=0.5 --format json
  jacli sensitivity samples/gum_impedance.toml --method gum
  jacli sensitivity samples/gum_impedance.toml --method gum --coverage 0.95
  jacli sensitivity samples/gum_end_gauge.toml --method gum --check-mc 100000 --seed 1
  jacli sensitivity samples/gum_impedance.toml --method sobol --samples 4096 --seed 1
  jacli sensitivity samples/gum_impedance.toml --method morris --trajectories 50
  jacli sensitivity samples/gum_impedance.toml --method dgsm --samples 1024
"""

# Options that only some methods use: option name -> methods that accept it.
_METHOD_OPTIONS = {"--at": ("local", "gum"), "--coverage": ("gum",), "--check-mc": ("gum",),
                   "--second-order": ("gum", "sobol"), "--backend": ("local", "gum", "dgsm"),
                   "--samples": ("sobol", "dgsm"), "--confidence": ("sobol",),
                   "--trajectories": ("morris",), "--levels": ("morris",)}
_GLOBAL = ("sobol", "morris", "dgsm")

#: Model evaluations from which a progress indicator is shown (stderr a terminal only).
PROGRESS_EVALUATIONS = 200_000


@click.command(epilog=EXAMPLES)
@model_options
@click.option("--at", "at", multiple=True, metavar="NAME=VALUE[,...]",
              help="local, gum: the point (the inputs' estimates); missing inputs take nominal "
                   "values.")
@click.option("-m", "--method", default="local", show_default=True, type=click.Choice(METHODS),
              help="local: derivatives, elasticities, σ-scaled sensitivities; gum: first-order "
                   "uncertainty propagation with correlations (JCGM 100); sobol: first-order and "
                   "total Sobol' indices; morris: elementary effects (screening); dgsm: "
                   "derivative-based measures and bounds on the total indices.  The global "
                   "methods sample the inputs' bounds/distributions (correlations ignored).")
@click.option("--coverage", type=float, metavar="P",
              help="gum: add the expanded uncertainty for coverage probability P (e.g. 0.95; "
                   "k from the normal distribution).")
@click.option("--check-mc", type=click.IntRange(min=0), default=0, metavar="N",
              help="gum: also propagate N Monte Carlo samples (JCGM 101) and the second-order "
                   "terms; warn where they disagree with first order.")
@click.option("--samples", type=int, metavar="N",
              help="sobol, dgsm: base sample size, a power of 2 [default: 1024]; sobol evaluates "
                   "the model N·(k+2) times (N·(2k+2) with --second-order).")
@click.option("--trajectories", type=int, metavar="R",
              help="morris: number of trajectories [default: 20]; R·(k+1) evaluations.")
@click.option("--levels", type=int, metavar="P", help="morris: even number of grid levels [default: 4].")
@click.option("--confidence", type=float, metavar="P",
              help="sobol: level of the bootstrap intervals (±conf) [default: 0.95].")
@click.option("--seed", type=int, help="Seed of the random samples (reproducible numbers): gum "
                                       "--check-mc, sobol, morris, dgsm.")
@click.option("--second-order", is_flag=True,
              help="gum: add the second-order terms from the Hessian; sobol: add the "
                   "second-order indices S2.")
@backend_option
@click.option("-f", "--format", "fmt", type=click.Choice(("table", "json")), default="table",
              show_default=True, help="Output format.")
@click.option("-o", "--output", default="-", metavar="FILE",
              help="Write results to FILE atomically (default: stdout).")
@click.pass_context
def sensitivity(ctx, model_path, expr, inputs, params, at, method, coverage, check_mc, samples,
                trajectories, levels, confidence, seed, second_order, backend, fmt, output):
    """Which inputs matter, and how uncertain is each output.

    --method local (default): at the nominal point or --at, each output's partial
    derivatives, normalised sensitivities (x/y)·∂y/∂x and, for inputs with sigma or
    bounds, |∂y/∂x|·u(x) and its share, ranked. --method gum: the GUM law of propagation
    of uncertainty with the model's [correlations]: estimate, combined standard
    uncertainty, budget, and the outputs' covariance and correlation. --method
    sobol/morris/dgsm: global sensitivity over the inputs' bounds or distributions
    (every input needs bounds or sigma).
    """
    from click.core import ParameterSource

    backend_given = ctx.get_parameter_source("backend") not in (ParameterSource.DEFAULT, None)
    _check(method, at=at, coverage=coverage, check_mc=check_mc, seed=seed,
           second_order=second_order, backend=backend_given, samples=samples,
           confidence=confidence, trajectories=trajectories, levels=levels)
    model = load(model_path, expr, inputs, params)
    point = at_assignments(at) if at else None
    result = _RUN[method](model, point, backend=backend if backend_given else None,
                          coverage=coverage, check_mc=check_mc, seed=seed,
                          second_order=second_order, samples=samples, confidence=confidence,
                          trajectories=trajectories, levels=levels)
    _write(result, fmt, output, model=model.name if method in _GLOBAL else None)
    _warn(result)
    return 0


def _check(method, **given):
    if method not in METHODS:
        raise UsageError(f"--method: unknown method {method!r}; available: {', '.join(METHODS)}")
    used = {"--at": bool(given["at"]), "--coverage": given["coverage"] is not None,
            "--check-mc": bool(given["check_mc"]), "--second-order": given["second_order"],
            "--backend": given["backend"], "--samples": given["samples"] is not None,
            "--confidence": given["confidence"] is not None,
            "--trajectories": given["trajectories"] is not None,
            "--levels": given["levels"] is not None}
    for opt, methods in _METHOD_OPTIONS.items():
        if used[opt] and method not in methods:
            raise UsageError(f"{opt} applies to --method {' or '.join(methods)}, not {method}")
    if method == "gum" and given["seed"] is not None and not given["check_mc"]:
        raise UsageError("--seed seeds the Monte Carlo check: give --check-mc N too")
    if method == "local" and given["seed"] is not None:
        raise UsageError("--seed applies to --method gum --check-mc, sobol, morris or dgsm, "
                         "not local")
    if given["seed"] is not None and given["seed"] < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {given['seed']}")
    if given["check_mc"] == 1:
        raise UsageError("--check-mc needs at least 2 samples (e.g. --check-mc 100000)")
    n = given["samples"]
    if n is not None and (n < 2 or n & (n - 1)):
        raise UsageError(f"--samples must be a power of 2 (>= 2), e.g. 1024 or 4096, got {n}")
    c = given["confidence"]
    if c is not None and not 0 < c < 1:
        raise UsageError(f"--confidence must be a probability in (0, 1), e.g. 0.95, got {c:g}")
    for opt in ("trajectories", "levels"):
        v = given[opt]
        if v is not None and v < 2:
            raise UsageError(f"--{opt} must be an integer >= 2, got {v}")
    if given["levels"] is not None and given["levels"] % 2:
        raise UsageError(f"--levels must be even (Morris 1991), got {given['levels']}")


def _local(model, point, *, backend, **_):
    from ..sensitivity import local_sensitivity

    return local_sensitivity(model, point, backend=backend or "auto")


def _gum(model, point, *, backend, coverage, check_mc, seed, second_order, **_):
    from ..sensitivity import propagate

    return propagate(model, point, backend=backend or "auto", coverage=coverage,
                     check_mc=check_mc, seed=seed, second_order=second_order)


def _sobol(model, point, *, samples, seed, second_order, confidence, **_):
    from ..sensitivity import sobol_indices

    n = samples or 1024
    k = len(model.input_names)
    evaluations = n * ((2 * k + 2) if second_order else (k + 2))
    with _progress("Sobol' indices (evaluations)", evaluations) as progress:
        return sobol_indices(model, samples=n, seed=seed, second_order=second_order,
                             confidence=0.95 if confidence is None else confidence,
                             progress=progress)


def _morris(model, point, *, trajectories, levels, seed, **_):
    from ..sensitivity import morris

    r = trajectories or 20
    evaluations = r * (len(model.input_names) + 1)
    with _progress("Morris (evaluations)", evaluations) as progress:
        return morris(model, trajectories=r, levels=levels or 4, seed=seed, progress=progress)


def _dgsm(model, point, *, samples, seed, backend, **_):
    from ..sensitivity import dgsm

    n = samples or 1024
    kw = {"backend": backend} if backend else {}
    with _progress("DGSM (Jacobians)", n, cost=n * len(model.input_names)) as progress:
        return dgsm(model, samples=n, seed=seed, progress=progress, **kw)


def _progress(label, total, *, cost=None):
    """A progress bar on stderr for long runs, only when stderr is a terminal.

    Yields the ``progress(done, total)`` callback the library functions take, or None.
    """
    import contextlib
    import sys

    if (cost or total) < PROGRESS_EVALUATIONS or not sys.stderr.isatty():
        return contextlib.nullcontext(None)
    return _live_progress(label, total)


def _live_progress(label, total):
    import contextlib

    @contextlib.contextmanager
    def cm():
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TimeRemainingColumn(),
                      console=Console(stderr=True), transient=True) as p:
            task = p.add_task(label, total=total)

            def update(done, _total, _p=p, _t=task):
                _p.update(_t, completed=done, total=_total)
            yield update
    return cm()


_RUN = {"local": _local, "gum": _gum, "sobol": _sobol, "morris": _morris, "dgsm": _dgsm}


def _write(result, fmt, output, model=None):
    from .._io import atomic_open

    with atomic_open(output) as fp:
        if fmt == "json":
            from ..render.sensitivity import sensitivity_document

            fp.write(sensitivity_document(result, model=model))
        else:
            from rich.console import Console

            from ..render.sensitivity import render_sensitivity

            render_sensitivity(result, console=Console(file=fp), model=model)


def _warn(result):
    import sys

    mc = getattr(result, "monte_carlo", None)
    for w in (mc.warnings if mc is not None else ()):
        sys.stderr.write(f"jacli: warning: {w}\n")


