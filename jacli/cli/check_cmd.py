"""``jacli check``: do the derivative methods agree — and is your own Jacobian right?"""
from __future__ import annotations

import click

from ..errors import ExitCode, UsageError
from ._options import at_assignments, load, model_options, output_options, point_records, points_options

EXAMPLES = """\b
Examples:
  jacli check samples/arm.toml
  jacli check samples/arm.toml --random 20 --seed 1
  jacli check samples/black_scholes.toml --hessian
  jacli check samples/lorenz.toml --backends sympy,fd:order=4 --format json
  jacli check model.py:f --jacobian model.py:jac --random 10

\b
Exit codes: 0 all agree; 5 a method (or your Jacobian) disagrees, or no point could be
compared; 4 nothing to compare (no second method could run); 3 bad model, points or
Jacobian shape; 2 bad option.
"""

#: verdict -> exit code (documented in docs/check.md)
EXIT = {"agree": ExitCode.OK, "disagree": ExitCode.POINTS_FAILED,
        "not_compared": ExitCode.POINTS_FAILED, "insufficient": ExitCode.BACKEND}


@click.command(epilog=EXAMPLES)
@model_options
@points_options
@click.option("--random", "random_n", type=click.IntRange(min=0), default=0, show_default=True,
              metavar="N", help="Also check at N random points: uniform within each input's bounds, "
                                "else within ±10% of its nominal value (±1 if it is 0).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the random points (the same seed gives the same points).")
@click.option("--hessian", is_flag=True, help="Check Hessians (of every output) instead of Jacobians.")
@click.option("--backends", metavar="NAMES",
              help="Comma-separated backends to compare, e.g. sympy,fd,complex or fd:order=4 "
                   "(default: every registered one).")
@click.option("--jacobian", "jacobian_fn", metavar="FILE.py:NAME",
              help="Check your own Jacobian function against jacli's (it takes the model "
                   "function's arguments and returns an outputs × inputs array).")
@click.option("--rtol", type=float, metavar="X",
              help="Relative tolerance replacing each method's default (1e-10 exact, 1e-12 "
                   "complex step, 1e-12 plus twice the error estimates for fd).")
@output_options
def check(model_path, expr, inputs, params, at, points, batch_size, random_n, seed, hessian,
          backends, jacobian_fn, rtol, output, fmt, no_cache):
    """Compare every available derivative method on MODEL, or check your own Jacobian.

    Computes the Jacobian (--hessian: the Hessians) with every backend at the nominal
    point (or --at / --points) plus --random N points, and compares each, entry by entry,
    with the most trustworthy one (exact symbolic > complex step > AD > finite
    differences), each within its own tolerance. With --jacobian FILE.py:NAME your
    function is checked instead, and the wrong entries are named.
    """
    from .. import _cache
    from .._check import check as run_check
    from .._io import atomic_open

    if fmt not in ("table", "json", "jsonl"):
        raise UsageError(f"--format {fmt}: jacli check writes table, json or jsonl")
    if at and points:
        raise UsageError("give either --at or --points, not both")
    if no_cache:
        _cache.disable()
    model = load(model_path, expr, inputs, params)
    point = at_assignments(at) if at else None
    records = list(point_records(points, model)) if points is not None else None
    report = run_check(model, point, points=records, backends=backends, hessian=hessian,
                       jacobian_fn=jacobian_fn, random=random_n, seed=seed, rtol=rtol)
    with atomic_open(output) as fp:
        if fmt == "table":
            from rich.console import Console

            from ..render.check import render_check_report

            render_check_report(report, console=Console(file=fp, soft_wrap=False))
        else:
            from ..render.check import check_document

            fp.write(check_document(report, compact=fmt == "jsonl"))
    code = EXIT[report.verdict]
    if code:
        import sys

        sys.stderr.write("jacli: error: " + " ".join(report.summary().split()) + "\n")
    return int(code)
