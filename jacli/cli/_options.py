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
    @click.option("--inputs", "inputs", metavar="NAMES|N",
                  help="Input order for -e models (default: order of first appearance); for a "
                       "Python model (model.py:f), a count N (one array input of length N) or names.")
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
        from ..model._python import is_python_spec

        if is_python_spec(model_path):
            model = load_model(model_path, inputs=inputs)     # --inputs N or names
        elif input_list:
            raise UsageError("--inputs applies to -e and Python (.py) models only; a TOML model file "
                             "names its inputs")
        else:
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
    from .._io import split_list

    names = [s.strip() for s in split_list(text) if s.strip()]   # W[0,1] is one name
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


def wrt_option(f):
    return click.option("--wrt", metavar="NAMES", help="Differentiate with respect to these inputs "
                        "and/or parameters (comma-separated, in this order; default: all inputs).")(f)


def vector_option(help_text):
    """``--vector VALUES``: a direction given in order (``1,0,-2``) or by name (``y=1,x=-2``)."""
    return click.option("--vector", "vector", metavar="VALUES", help=help_text)


def parse_vector(text, names, *, what="--vector", role="inputs") -> list:
    """The vector of ``--vector`` as floats in ``names`` order.

    ``"1,0,-2"`` gives the values in order (exactly ``len(names)`` of them);
    ``"y=1,x=-2"`` gives them by name, names not mentioned being 0.  Any mistake is an
    :class:`~jacli.errors.InputError` (exit 3) naming what was expected.
    """
    import difflib

    from .._io import _parse_number
    from ..errors import InputError

    from .._io import split_list

    listing = f"{len(names)} value{'s' if len(names) != 1 else ''} ({', '.join(names)})"
    items = [s.strip() for s in split_list(text)]
    if not text.strip() or any(not s for s in items):
        raise InputError(f"{what}: {'empty' if not text.strip() else f'empty item in {text!r}'}; "
                         f"expected {listing} or name=value pairs such as '{names[0]}=1'")
    named = ["=" in s for s in items]
    if any(named) and not all(named):
        raise InputError(f"{what}: mixes plain values and name=value pairs in {text!r}; use one form")
    try:
        if not any(named):
            values = [_parse_number(s) for s in items]
            if len(values) != len(names):
                raise InputError(f"{what}: expected {listing}, got {len(values)}; or give name=value "
                                 "pairs (names not given are 0)")
            return values
        out = dict.fromkeys(names, 0.0)
        seen = set()
        for s in items:
            name, _, value = (p.strip() for p in s.partition("="))
            if name not in out:
                close = difflib.get_close_matches(name, names, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise InputError(f"{what}: '{name}' is not one of the {role}{hint}; "
                                 f"the {role} are {', '.join(names)}")
            if name in seen:
                raise InputError(f"{what}: '{name}' is given twice")
            seen.add(name)
            out[name] = _parse_number(value)
        return list(out.values())
    except ValueError as exc:
        raise InputError(f"{what}: {exc}") from None


def point_records(points, model, *, prefix=None, names=(), vector=None, role="inputs"):
    """Records ``(values, error[, vector])`` for :func:`jacli._ops.stream` from a points file.

    With ``prefix`` (``"u."``/``"v."``) each row may carry its own vector as ``PREFIX.NAME``
    columns (names not given are 0); rows without them use ``vector``.  Whole-file mistakes
    (an unknown vector column, a vector given twice, no vector at all) raise before any work;
    a row whose vector is wrong becomes a ``bad_input`` point.
    """
    from .._io import read_points
    from ..errors import InputError

    reader = read_points(points, model.input_names, model.nominal,
                         extra_prefixes=(prefix,) if prefix else ())
    if prefix is None:
        return ((row.values, row.error) for row in reader)
    full = [prefix + n for n in names]

    def check(cols):
        for c in cols:
            if c not in full:
                return (f"'{c}' is not a vector entry: the vector's {role} are {', '.join(names)} "
                        f"(columns {', '.join(full[:4])}{', ...' if len(full) > 4 else ''})")
        return None

    if reader.columns is not None:
        cols = [c for c in reader.columns if c.startswith(prefix)]
        bad = check(cols)
        if bad:
            reader.close()
            raise InputError(bad, file=reader.name)
        if cols and vector is not None:
            reader.close()
            raise UsageError(f"the vector is given twice: --vector and {prefix}NAME columns in "
                             f"{reader.name}; drop one")
        if not cols and vector is None:
            reader.close()
            raise UsageError(f"no vector: give --vector or {prefix}NAME columns in {reader.name}")

    def records():
        for row in reader:
            if row.values is None:
                yield row.values, row.error, None
            elif row.extra:
                bad = check(row.extra)
                if bad:
                    yield None, f"{reader.name}: point {row.index}: {bad}", None
                else:
                    yield row.values, None, [row.extra.get(c, 0.0) for c in full]
            elif vector is not None:
                yield row.values, None, vector
            else:
                yield None, (f"{reader.name}: point {row.index}: no vector ({prefix}NAME keys) "
                             "and no --vector"), None

    return records()


def write_results(results, *, fmt, output, model, single, make=None, **writer_kw) -> int:
    """Stream ``results`` to ``output`` in ``fmt`` (or through ``make(fp)``, a writer
    factory); the exit code (5 when some points failed, with one line on stderr)."""
    import sys

    from .._io import atomic_open
    from ..errors import ExitCode
    from ..render import make_writer

    failed, first = 0, None
    with atomic_open(output) as fp:
        writer = make(fp) if make is not None else \
            make_writer(fmt, fp, model=model.name, single=single, **writer_kw)
        for res in results:
            bad = res.status != 0
            if first is None and bad.any():
                first = res.messages[int(bad.argmax())]
            failed += int(bad.sum())
            writer.write(res)
        writer.close()
    if not failed:
        return 0
    if single:
        sys.stderr.write(f"jacli: error: {first or 'the point failed'}\n")
    else:
        sys.stderr.write(f"jacli: error: {failed} point{'s' if failed > 1 else ''} failed "
                         "(see their status and message in the output); the others were written\n")
    return int(ExitCode.POINTS_FAILED)


# --------------------------------------------------------------------------- chains of models

def models_options(f):
    """Like :func:`model_options`, with one or more MODEL arguments (a chain) and --outputs."""
    @click.argument("model_paths", metavar="[MODEL]...", nargs=-1)
    @click.option("-e", "--expr", "expr", metavar="EXPRS",
                  help='Inline model: comma-separated outputs, e.g. -e "x*y, sin(x)+y" '
                       '(or named: -e "r = hypot(x, y)").')
    @click.option("--inputs", "inputs", metavar="NAMES|N",
                  help="Input order for -e models (default: order of first appearance); for a "
                       "Python model (model.py:f), a count N (one array input of length N) or names.")
    @click.option("--param", "params", multiple=True, metavar="NAME=VALUE[,...]",
                  help="Override parameter values (in every stage of a chain that has the name); "
                       "repeatable.")
    @click.option("--outputs", "outputs", metavar="NAMES",
                  help="Only these outputs, in this order; for a chain of models any produced "
                       "names (default: the last model's outputs).")
    @functools.wraps(f)
    def wrapper(*a, **kw):
        return f(*a, **kw)
    return wrapper


def load_models(model_paths, expr, inputs, params, outputs=None):
    """One Model (one MODEL or -e, exactly as :func:`load`) or, for several MODEL arguments,
    the :class:`~jacli.compose.Composite` chaining them (outputs feed later inputs by name)."""
    from .._io import parse_assignments

    out_names = None
    if outputs is not None:
        from .._io import split_list

        out_names = [s.strip() for s in split_list(outputs) if s.strip()]
        if not out_names:
            raise UsageError("--outputs: give one or more comma-separated names")
    if len(model_paths) <= 1:
        model = load(model_paths[0] if model_paths else None, expr, inputs, params)
        return model.select_outputs(out_names) if out_names else model
    if expr is not None:
        raise UsageError("-e gives a single model; a chain needs two or more MODEL files "
                         "(give the inline model as a file, or drop -e)")
    if inputs:
        raise UsageError("--inputs cannot be given for a chain of models (it would apply to every "
                         "stage); model files name their inputs")
    if sum(p == "-" for p in model_paths) > 1:
        raise UsageError("stdin ('-') can hold only one model of a chain")
    from ..compose import compose

    overrides: dict = {}
    for p in params:
        overrides.update(parse_assignments(p, what="--param"))
    stages = [load(p, None, None, ()) for p in model_paths]
    return compose(stages, outputs=out_names, params=overrides or None)
