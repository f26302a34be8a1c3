"""``jacli jacobian``."""
from __future__ import annotations

import click

from ..errors import ExitCode, UsageError
from ._options import (at_assignments, backend_option, load_models, models_options, output_options,
                       points_options, split_names)

EXAMPLES = """\b
Examples:
  jacli jacobian samples/arm.toml
  jacli jacobian samples/arm.toml --at theta1=0.5 --format json | jq .jacobian
  jacli jacobian samples/arm.toml --symbolic --format latex
  jacli jacobian -e "x*y, sin(x) + y" --at x=1,y=2
  jacli jacobian samples/lorenz.toml --points points.csv --format jsonl -o out.jsonl
  jacli jacobian samples/neural_layer.toml --wrt W11,W12,b1 --backend fd:order=4
  jacli jacobian samples/lorenz.toml --sparsity
  jacli jacobian samples/two_layer_net/layer1.toml samples/two_layer_net/layer2.toml --per-stage
"""


@click.command(epilog=EXAMPLES)
@models_options
@points_options
@click.option("--wrt", metavar="NAMES", help="Differentiate with respect to these inputs and/or "
              "parameters (comma-separated; the Jacobian's columns follow this order).")
@backend_option
@click.option("--symbolic", is_flag=True, help="The exact Jacobian as expressions (table, json, latex).")
@click.option("--sparsity", is_flag=True, help="Show the structural pattern (which outputs depend on which inputs).")
@click.option("--per-stage", is_flag=True, help="For a chain of models: also each stage's Jacobian "
              "with its shape (table, json, jsonl).")
@output_options
def jacobian(model_paths, expr, inputs, params, outputs, at, points, batch_size, wrt, backend,
             symbolic, sparsity, per_stage, output, fmt, no_cache):
    """The Jacobian of MODEL's outputs with respect to its inputs.

    At the nominal point, at --at, or at every point of --points. MODEL is a TOML
    model file, a Python function (model.py:f) or '-' for stdin; -e gives an inline
    model instead.

    Several MODELs form a chain: each model's outputs feed the later models' inputs of
    the same name, and the Jacobian is the product of the stages' Jacobians (chain rule,
    multiplied in the cheapest order); see docs/composition.md.
    """
    from .. import _cache
    from ..compose import Composite

    if no_cache:
        _cache.disable()
    model = load_models(model_paths, expr, inputs, params, outputs)
    wrt_names = split_names(wrt)
    chain = isinstance(model, Composite)
    if per_stage and not chain:
        raise UsageError("--per-stage applies to a chain: give two or more MODEL files")
    if per_stage and symbolic:
        raise UsageError("--per-stage shows the stages' numbers; --symbolic gives the chain as one "
                         "expression: drop one of them")
    if chain and symbolic:
        from ..compose import to_model

        model = to_model(model)      # the chain written as one expression model
    elif chain:
        if at and points:
            raise UsageError("give either --at or --points, not both")
        return _chain(model, wrt_names, backend, fmt, output, sparsity, per_stage, at, points,
                      batch_size)
    if symbolic:
        if at or points:
            raise UsageError("--symbolic gives expressions, not values: drop --at/--points")
        return _symbolic(model, wrt_names, backend, fmt, output, sparsity)
    if at and points:
        raise UsageError("give either --at or --points, not both")
    return _numeric(model, wrt_names, backend, fmt, output, sparsity, at, points, batch_size)


def _numeric(model, wrt, backend, fmt, output, sparsity, at, points, batch_size):
    from .. import _ops
    from .._io import atomic_open, read_points
    from ..render import make_writer

    model, be, prep = _ops.prepare(model, "jacobian", wrt=wrt, backend=backend)
    failed = 0
    if points is not None:
        reader = read_points(points, model.input_names, model.nominal)
        records = ((row.values, row.error) for row in reader)
        results = _ops.jacobian_stream(model, records, wrt=wrt, backend=be, batch_size=batch_size)
        single = False
    else:
        point = at_assignments(at) if at else None
        results = iter([_ops.jacobian(model, point, wrt=wrt, prep=(be, prep))])
        single = True
    with atomic_open(output) as fp:
        writer = make_writer(fmt, fp, model=model.name, single=single, sparsity=sparsity,
                             console=_console(fp, output))
        for res in results:
            failed += int((res.status != 0).sum())
            writer.write(res)
        writer.close()
    if failed:
        import sys

        if points is None:
            sys.stderr.write(f"jacli: error: {_first_message(res)}\n")
        else:
            sys.stderr.write(f"jacli: error: {failed} point{'s' if failed > 1 else ''} failed "
                             "(see their status and message in the output); the others were written\n")
        return int(ExitCode.POINTS_FAILED)
    return 0


def _chain(comp, wrt, backend, fmt, output, sparsity, per_stage, at, points, batch_size):
    """A chain of models: the Jacobian by the chain rule (jacli.compose)."""
    from dataclasses import replace

    from .. import compose
    from .._io import read_points
    from ._options import write_results

    if per_stage and fmt not in ("table", "json", "jsonl"):
        raise UsageError(f"--per-stage supports --format table, json or jsonl, not {fmt}")
    plan = compose.prepare(comp, "jacobian", wrt=wrt, backend=backend)
    if points is not None:
        reader = read_points(points, comp.input_names, comp.nominal)
        results = compose.stream("jacobian", comp, ((row.values, row.error) for row in reader),
                                 batch_size=batch_size, prep=plan)
    else:
        results = [compose.jacobian(comp, at_assignments(at) if at else None, prep=plan)]
    if per_stage and fmt == "table":
        return _stage_table(results, output, comp, points is None, sparsity)
    if not per_stage:
        results = (replace(r, extra={k: v for k, v in r.extra.items() if k != "stages"})
                   for r in results)
    return write_results(results, fmt=fmt, output=output, model=comp, single=points is None,
                         sparsity=sparsity)


def _stage_table(results, output, comp, single, sparsity):
    """``--per-stage`` tables: as write_results, with the stages drawn under each point."""
    from rich.console import Console

    from ..render.stages import StageTableWriter
    from ._options import write_results

    return write_results(results, fmt="table", output=output, model=comp, single=single,
                         make=lambda fp: StageTableWriter(Console(file=fp), model=comp.name,
                                                          single=single, sparsity=sparsity))


def _first_message(res):
    for s, m in zip(res.status, res.messages):
        if s != 0:
            return m
    return "a point failed"


def _console(fp, output):
    """A rich Console on the output stream, or None for non-table formats (rich not imported)."""
    return None


def _symbolic(model, wrt, backend, fmt, output, sparsity):
    from .._io import atomic_open
    from ..backends import get_backend
    from ..backends.symbolic import expression_model, symbolic_jacobian
    from ..errors import CapabilityError
    from ..model import _sympy

    # expressions come from sympy (auto means sympy here, Python models included)
    be = get_backend("sympy" if backend == "auto" else backend, model)
    if not be.capabilities.symbolic_output:
        raise CapabilityError(f"backend '{be.name}' gives numbers, not expressions; "
                              "use --backend sympy for --symbolic")
    if fmt in ("jsonl", "csv"):
        raise UsageError(f"--symbolic supports --format table, json or latex, not {fmt}")
    names = tuple(wrt) if wrt else model.input_names
    be.prepare(model, "jacobian", names)  # validates --wrt with the standard messages
    model = expression_model(model)       # a Python model traced into expressions
    nodes = symbolic_jacobian(model, names)
    import numpy as np

    structure = np.array([[not (d.op == "const" and d.val == 0) for d in row] for row in nodes], dtype=bool)
    flat = [d for row in nodes for d in row]
    sym = _sympy.simplify_all(_sympy.to_sympy(flat))
    k = len(names)
    strings = [[_sympy.jacli_str(sym[i * k + j]) for j in range(k)] for i in range(len(nodes))]
    values = [_sympy.jacli_str(e) for e in
              _sympy.simplify_all(_sympy.to_sympy([eq.expr for eq in model.outputs]))]
    with atomic_open(output) as fp:
        if fmt == "json":
            from ..render.json import symbolic_document
            from ..render.text import latex_strings

            latex = latex_strings([[sym[i * k + j] for j in range(k)] for i in range(len(nodes))])
            fp.write(symbolic_document(model=model.name, backend=be.spec, inputs=names,
                                       outputs=model.output_names, jacobian=strings, value=values,
                                       latex=latex, structure=structure if sparsity else None))
        elif fmt == "latex":
            from ..render.text import latex_strings, latex_symbolic

            latex = latex_strings([[sym[i * k + j] for j in range(k)] for i in range(len(nodes))])
            fp.write(latex_symbolic(latex, inputs=names, outputs=model.output_names, model=model.name))
        else:
            from rich.console import Console

            from ..render.tables import render_sparsity, render_symbolic

            console = Console(file=fp)
            render_symbolic(console=console, model=model.name, backend=be.spec, inputs=names,
                            outputs=model.output_names, jacobian=strings, structure=structure)
            if sparsity:
                render_sparsity(structure, console=console, rows=model.output_names, cols=names)
    return 0
