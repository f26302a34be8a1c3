"""The ``jacli`` command: a thin layer over the library.

One error boundary (:func:`main`) maps every :class:`~jacli.errors.JacliError` to one line
on stderr and its documented exit code; ``--debug`` (or ``JACLI_DEBUG=1``) shows the
traceback instead.
"""
from __future__ import annotations

import os
import sys

import click

from .. import __version__
from ..errors import ExitCode, JacliError

_DEBUG = [False]

EPILOG = """\b
Examples:
  jacli jacobian samples/arm.toml
  jacli jacobian -e "x*y, sin(x) + y" --at x=1,y=2 --format json
  jacli jacobian samples/lorenz.toml --points pts.csv --format jsonl
  jacli jvp samples/arm.toml --vector theta1=1
  jacli vjp samples/arm.toml --vector 1,0 --format json
  jacli hessian -e "(1-x)^2 + 100*(y-x^2)^2" --at x=1,y=1
  jacli hessian samples/puromycin_residuals.toml --of sumsq
  jacli sensitivity samples/gum_impedance.toml --method gum
  jacli check samples/arm.toml --random 20
  jacli check model.py:f --jacobian model.py:jac
  jacli backends

\b
Exit codes: 0 ok, 1 internal error, 2 usage, 3 model or input error,
4 backend unavailable or cannot do it, 5 some points failed, 130 interrupted.
"""


class _Group(click.Group):
    def list_commands(self, ctx):
        return ["jacobian", "jvp", "vjp", "hessian", "sensitivity", "check", "backends"]

    def get_command(self, ctx, name):
        # Commands are imported on demand: `jacli backends` never imports the jacobian code.
        if name == "jacobian":
            from .jacobian_cmd import jacobian
            return jacobian
        if name in ("jvp", "vjp"):
            from . import products_cmd
            return getattr(products_cmd, name)
        if name == "hessian":
            from .hessian_cmd import hessian
            return hessian
        if name == "sensitivity":
            from .sensitivity_cmd import sensitivity
            return sensitivity
        if name == "check":
            from .check_cmd import check
            return check
        if name == "backends":
            from .backends_cmd import backends
            return backends
        return None


@click.group(cls=_Group, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="jacli")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool):
    """Derivatives of real models: Jacobians (symbolic or numeric) through pluggable backends.

    A model is a TOML file (inputs, parameters, definitions, outputs as formulas; see
    docs/model-format.md) or inline expressions with -e.
    """
    if debug:
        _DEBUG[0] = True


def _error(msg: str) -> None:
    try:
        sys.stderr.write(f"jacli: error: {msg}\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - stderr gone: nothing more to say
        pass


def main(argv=None) -> None:
    """Entry point of the console script; exits with a documented code."""
    _DEBUG[0] = os.environ.get("JACLI_DEBUG", "") not in ("", "0")
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args[:args.index("--") if "--" in args else len(args)]:
        _DEBUG[0] = True
    try:
        rv = cli.main(args=args, prog_name="jacli", standalone_mode=False)
        code = int(rv) if isinstance(rv, int) else 0
    except click.exceptions.Exit as e:
        code = e.exit_code
    except click.exceptions.Abort:
        _error("interrupted")
        code = ExitCode.INTERRUPTED
    except click.ClickException as e:
        if _DEBUG[0]:
            raise
        msg = e.format_message()
        if isinstance(e, click.UsageError) and e.ctx is not None:
            msg += f" (see '{e.ctx.command_path} --help')"
        _error(msg.replace("\n", " "))
        code = ExitCode.USAGE
    except JacliError as e:
        if _DEBUG[0]:
            raise
        _error(str(e).replace("\n", " "))
        code = e.exit_code
    except KeyboardInterrupt:
        if _DEBUG[0]:
            raise
        _error("interrupted")
        code = ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        code = ExitCode.OK
    except MemoryError:
        if _DEBUG[0]:
            raise
        _error("out of memory; try fewer points per batch (--batch-size) or a sparse/matrix-free route")
        code = ExitCode.INTERNAL
    except Exception as e:  # noqa: BLE001 - the single boundary
        if _DEBUG[0]:
            raise
        _error(f"internal error: {type(e).__name__}: {e} (run with --debug for the traceback; "
               "please report it)")
        code = ExitCode.INTERNAL
    sys.exit(int(code))
