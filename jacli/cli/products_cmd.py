"""``jacli jvp`` and ``jacli vjp``: Jacobian–vector and vector–Jacobian products."""
from __future__ import annotations

import click

from ..errors import UsageError
from ._options import (at_assignments, backend_option, load_models, models_options, output_options,
                       parse_vector, point_records, points_options, split_names, vector_option,
                       wrt_option, write_results)

JVP_EXAMPLES = """\b
Examples:
  jacli jvp samples/arm.toml --vector 1,0
  jacli jvp samples/arm.toml --vector theta2=1 --format json | jq .jvp
  jacli jvp samples/lorenz.toml --points pts.csv --vector x=1 --format jsonl
  jacli jvp samples/lorenz.toml --points pts_with_v_columns.csv -f csv
  jacli jvp samples/two_layer_net/layer1.toml samples/two_layer_net/layer2.toml --vector x1=1
"""

VJP_EXAMPLES = """\b
Examples:
  jacli vjp samples/arm.toml --vector 1,0
  jacli vjp samples/puromycin_residuals.toml --vector r1=1,r2=-1 --format json
  jacli vjp samples/arm.toml --points pts_with_u_columns.csv --format jsonl
  jacli vjp samples/two_layer_net/layer1.toml samples/two_layer_net/layer2.toml --vector 1
"""


def _product_command(op, examples, doc, vector_help):
    @click.command(op, epilog=examples, help=doc)
    @models_options
    @points_options
    @vector_option(vector_help)
    @wrt_option
    @backend_option
    @output_options
    def command(**opts):
        return run(op, **opts)
    return command


jvp = _product_command(
    "jvp", JVP_EXAMPLES,
    """The Jacobian–vector product J·v (one number per output), without forming J
    where the backend has a forward mode.

    At the nominal point, at --at, or at every point of --points; a points file may give
    each point its own v as columns v.NAME (NAME an input; missing ones are 0).

    Several MODELs form a chain (outputs feed later inputs by name): J·v by the forward
    sweep, each stage's jvp on the tangent of its inputs (docs/composition.md).""",
    "The direction v, one value per input in order (1,0,-2) or by name (y=1,x=-2; "
    "inputs not named are 0).")

vjp = _product_command(
    "vjp", VJP_EXAMPLES,
    """The vector–Jacobian product uᵀJ (one number per input): the gradient of u·f,
    by reverse accumulation with the sympy backend (cost ~ one evaluation of f).

    At the nominal point, at --at, or at every point of --points; a points file may give
    each point its own u as columns u.NAME (NAME an output; missing ones are 0).

    Several MODELs form a chain (outputs feed later inputs by name): uᵀJ by the reverse
    sweep (back-propagation), each stage's vjp from the last down (docs/composition.md).""",
    "The weights u, one value per output in order (1,0,-2) or by name (y=1,x=-2; "
    "outputs not named are 0).")


def run(op, *, model_paths, expr, inputs, params, outputs, at, points, batch_size, vector, wrt,
        backend, output, fmt, no_cache):
    from .. import _cache, _ops
    from ..compose import Composite

    if no_cache:
        _cache.disable()
    if at and points:
        raise UsageError("give either --at or --points, not both")
    model = load_models(model_paths, expr, inputs, params, outputs)
    if isinstance(model, Composite):
        return _chain(op, model, at, points, batch_size, vector, wrt, backend, output, fmt)
    model, be, prep = _ops.prepare(model, op, wrt=split_names(wrt), backend=backend)
    names, role = (prep.outputs, "outputs") if op == "vjp" else (prep.wrt, "inputs")
    fixed = parse_vector(vector, names, role=role) if vector is not None else None
    if points is not None:
        records = point_records(points, model, prefix="u." if op == "vjp" else "v.", names=names,
                                vector=fixed, role=role)
        results = _ops.stream(op, model, records, wrt=prep.wrt, backend=be, batch_size=batch_size)
    elif fixed is None:
        raise UsageError(f"{op} needs a vector: --vector with {len(names)} value"
                         f"{'s' if len(names) > 1 else ''} ({', '.join(names)}), e.g. "
                         f"--vector {names[0]}=1")
    else:
        point = at_assignments(at) if at else None
        results = [getattr(_ops, op)(model, point, fixed, wrt=prep.wrt, prep=(be, prep))]
    return write_results(results, fmt=fmt, output=output, model=model, single=points is None)


def _chain(op, comp, at, points, batch_size, vector, wrt, backend, output, fmt):
    """A chain of models: the forward (jvp) or reverse (vjp) sweep over the stages."""
    from .. import compose

    plan = compose.prepare(comp, op, wrt=split_names(wrt), backend=backend)
    names, role = (plan.outputs, "outputs") if op == "vjp" else (plan.wrt, "inputs")
    fixed = parse_vector(vector, names, role=role) if vector is not None else None
    if points is not None:
        records = point_records(points, comp, prefix="u." if op == "vjp" else "v.", names=names,
                                vector=fixed, role=role)
        results = compose.stream(op, comp, records, batch_size=batch_size, prep=plan)
    elif fixed is None:
        raise UsageError(f"{op} needs a vector: --vector with {len(names)} value"
                         f"{'s' if len(names) > 1 else ''} ({', '.join(names)}), e.g. "
                         f"--vector {names[0]}=1")
    else:
        point = at_assignments(at) if at else None
        results = [getattr(compose, op)(comp, point, fixed, prep=plan)]
    return write_results(results, fmt=fmt, output=output, model=comp, single=points is None)
