"""``jacli sensitivity``: which inputs matter, and how uncertain is the output.

A method is a name in :data:`jacli.sensitivity.METHODS` plus one entry in ``_RUN`` here;
the options a method does not use are refused in :func:`_check`, in one place.
"""
from __future__ import annotations

import click

from ..errors import UsageError
from ._options import at_assignments, backend_option, load, model_options

EXAMPLES = """\b
Examples:
  jacli sensitivity samples/arm.toml
  jacli sensitivity samples/arm.toml --at theta1=0.5 --format json
  jacli sensitivity samples/gum_impedance.toml --method gum
  jacli sensitivity samples/gum_impedance.toml --method gum --coverage 0.95
  jacli sensitivity samples/gum_end_gauge.toml --method gum --check-mc 100000 --seed 1
"""

# Options that only some methods use: option name -> methods that accept it.
_METHOD_OPTIONS = {"--coverage": ("gum",), "--check-mc": ("gum",), "--second-order": ("gum",)}


def _methods():
    from ..sensitivity import METHODS

    return METHODS


@click.command(epilog=EXAMPLES)
@model_options
@click.option("--at", "at", multiple=True, metavar="NAME=VALUE[,...]",
              help="The point (the inputs' estimates); missing inputs take nominal values.")
@click.option("-m", "--method", default="local", show_default=True,
              type=click.Choice(("local", "gum")),
              help="local: derivatives, elasticities, σ-scaled sensitivities; gum: first-order "
                   "uncertainty propagation with correlations (JCGM 100).")
@click.option("--coverage", type=float, metavar="P",
              help="gum: add the expanded uncertainty for coverage probability P (e.g. 0.95; "
                   "k from the normal distribution).")
@click.option("--check-mc", type=click.IntRange(min=0), default=0, metavar="N",
              help="gum: also propagate N Monte Carlo samples (JCGM 101) and the second-order "
                   "terms; warn where they disagree with first order.")
@click.option("--seed", type=int, help="Seed of the Monte Carlo samples (reproducible numbers).")
@click.option("--second-order", is_flag=True, help="gum: add the second-order terms from the Hessian.")
@backend_option
@click.option("-f", "--format", "fmt", type=click.Choice(("table", "json")), default="table",
              show_default=True, help="Output format.")
@click.option("-o", "--output", default="-", metavar="FILE",
              help="Write results to FILE atomically (default: stdout).")
def sensitivity(model_path, expr, inputs, params, at, method, coverage, check_mc, seed,
                second_order, backend, fmt, output):
    """Which inputs matter, and how uncertain is each output.

    --method local (default): at the nominal point or --at, each output's partial
    derivatives, normalised sensitivities (x/y)·∂y/∂x and, for inputs with sigma or
    bounds, |∂y/∂x|·u(x) and its share, ranked. --method gum: the GUM law of propagation
    of uncertainty with the model's [correlations]: estimate, combined standard
    uncertainty, budget, and the outputs' covariance and correlation.
    """
    _check(method, coverage=coverage, check_mc=check_mc, seed=seed, second_order=second_order)
    model = load(model_path, expr, inputs, params)
    point = at_assignments(at) if at else None
    result = _RUN[method](model, point, backend=backend, coverage=coverage, check_mc=check_mc,
                          seed=seed, second_order=second_order)
    _write(result, fmt, output)
    _warn(result)
    return 0


def _check(method, **given):
    if method not in _methods():
        raise UsageError(f"--method: unknown method {method!r}; available: {', '.join(_methods())}")
    used = {"--coverage": given["coverage"] is not None, "--check-mc": bool(given["check_mc"]),
            "--second-order": given["second_order"]}
    for opt, methods in _METHOD_OPTIONS.items():
        if used[opt] and method not in methods:
            raise UsageError(f"{opt} applies to --method {' or '.join(methods)}, not {method}")
    if given["seed"] is not None and not given["check_mc"]:
        raise UsageError("--seed seeds the Monte Carlo check: give --check-mc N too")
    if given["check_mc"] == 1:
        raise UsageError("--check-mc needs at least 2 samples (e.g. --check-mc 100000)")


def _local(model, point, *, backend, **_):
    from ..sensitivity import local_sensitivity

    return local_sensitivity(model, point, backend=backend)


def _gum(model, point, *, backend, coverage, check_mc, seed, second_order):
    from ..sensitivity import propagate

    return propagate(model, point, backend=backend, coverage=coverage, check_mc=check_mc,
                     seed=seed, second_order=second_order)


_RUN = {"local": _local, "gum": _gum}


def _write(result, fmt, output):
    from .._io import atomic_open

    with atomic_open(output) as fp:
        if fmt == "json":
            from ..render.sensitivity import sensitivity_document

            fp.write(sensitivity_document(result))
        else:
            from rich.console import Console

            from ..render.sensitivity import render_sensitivity

            render_sensitivity(result, console=Console(file=fp))


def _warn(result):
    import sys

    mc = getattr(result, "monte_carlo", None)
    for w in (mc.warnings if mc is not None else ()):
        sys.stderr.write(f"jacli: warning: {w}\n")
