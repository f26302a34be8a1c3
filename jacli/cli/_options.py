"""Shared options and the model/points plumbing every command uses."""
from __future__ import annotations

import functools

import click

from ..errors import UsageError

FORMATS = ("table", "json", "jsonl", "csv", "latex")


def model_options(f):
    """MODEL argument, -e, --inputs, --param."""
    @click.argument("model_path", metavar="[MODEL]", required=False)
    @click.option("-e", "--expr", "expr", metavar="EXPRS",
                  help='Inline model: comma-separated outputs, e.g. -e "x*y, sin(x)+y" '
                       '(or named: -e "r = hypot(x, y)").')
    @click.option("--inputs", "inputs", metavar="NAMES",
                  help="Input order for -e models (default: order of first appearance).")
    @click.option("--param", "params", multiple=True, metavar="NAME=VALUE[,...]",
                  help="Override parameter values; repeatable.")
    @functools.wraps(f)
    def wrapper(*a, **kw):
        return f(*a, **kw)
    return wrapper


def backend_option(f):
    return click.option(
        "-b", "--backend", default="auto", show_default=True, metavar="NAME[:OPT=V,...]",
        help="sympy (exact), fd (finite differences, e.g. fd:order=4), complex (complex step), "
             "or a plug-in; see `jacli backends`.")(f)


def output_options(f):
    f = click.option("-o", "--output", default="-", metavar="FILE",
                     help="Write results to FILE atomically (default: stdout).")(f)
    f = click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="table",
                     show_default=True, help="Output format.")(f)
    f = click.option("--no-cache", is_flag=True,
                     help="Do not read or write the generated-code cache.")(f)
    return f


def points_options(f):
    f = click.option("--at", "at", multiple=True, metavar="NAME=VALUE[,...]",
                     help="Evaluate at this point (missing inputs take nominal values); "
                          "use --at=x=-1 for negative numbers.")(f)
    f = click.option("--points", "points", metavar="FILE",
                     help="Batch of points: CSV with a header of input names, or JSON Lines; '-' = stdin.")(f)
    f = click.option("--batch-size", default=4096, show_default=True, type=click.IntRange(1, 10**7),
                     help="Points evaluated together (memory is bounded by this).")(f)
    return f


def load(model_path, expr, inputs, params):
    """The Model from MODEL / -e / stdin, with --param overrides applied."""
    from .._io import parse_assignments
    from ..model import load_model, model_from_expressions

    overrides = {}
    for p in params:
        overrides.update(parse_assignments(p, what="--param"))
    input_list = [s.strip() for s in inputs.split(",") if s.strip()] if inputs else None
    if expr is not None and model_path is not None:
        raise UsageError("give either a MODEL file or -e EXPRS, not both")
    if expr is not None:
        model = model_from_expressions(expr, inputs=input_list)
    elif model_path is not None:
        if input_list:
            raise UsageError("--inputs applies to -e models only; a model file names its inputs")
        model = load_model(model_path)
    else:
        raise UsageError("no model: give a MODEL file, '-' for stdin, or -e EXPRS "
                         "(try 'jacli jacobian samples/arm.toml')")
    if overrides:
        model = model.with_params(overrides)
    return model


def split_names(text):
    if text is None:
        return None
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise UsageError("--wrt: give one or more comma-separated names")
    return names


def at_assignments(at) -> dict:
    from .._io import parse_assignments

    out: dict = {}
    for a in at:
        for k, v in parse_assignments(a, what="--at").items():
            if k in out:
                raise UsageError(f"--at: '{k}' is given twice")
            out[k] = v
    return out
