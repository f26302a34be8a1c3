"""The error tree and exit codes.

Every error a user can cause is a :class:`JacliError` carrying the exit code the CLI
returns for it and a one-line message.  The CLI prints ``jacli: error: <message>``
and exits with ``err.exit_code``; nothing else is shown unless ``--debug``.
"""
from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Documented exit codes of the ``jacli`` command."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    MODEL = 3          # model file or input data is wrong
    BACKEND = 4        # backend unavailable or cannot do the operation
    POINTS_FAILED = 5  # some points failed; the others were written
    INTERRUPTED = 130


class JacliError(Exception):
    """Base class of every error jacli raises for a user's mistake or environment."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(JacliError):
    """Bad command-line or library arguments (wrong option value, unknown name in --at)."""

    exit_code = ExitCode.USAGE


class ModelError(JacliError):
    """A model (file, inline expression, points) is wrong.

    The message is prefixed with ``file:line:col: field:`` where known, e.g.
    ``arm.toml:14:9: outputs.y: unknown function 'sinn' (did you mean 'sin'?)``.
    """

    exit_code = ExitCode.MODEL

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 col: int | None = None, field: str | None = None):
        self.detail = message
        self.file, self.line, self.col, self.field = file, line, col, field
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.col is not None:
                    where += f":{self.col}"
            where += ": "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.detail}"

    def located(self, *, file=None, line=None, col=None, field=None) -> "ModelError":
        """A copy with missing location parts filled in (existing ones win)."""
        return ModelError(self.detail, file=self.file or file,
                          line=self.line if self.line is not None else line,
                          col=self.col if self.col is not None else col,
                          field=self.field or field)


class InputError(ModelError):
    """Bad input data: a point, a vector, a points file."""


class BackendUnavailable(JacliError):
    """The requested backend is not installed or not registered."""

    exit_code = ExitCode.BACKEND


class CapabilityError(JacliError):
    """The backend cannot do the requested operation on this model; the message names one that can."""

    exit_code = ExitCode.BACKEND


class PointsFailed(JacliError):
    """Raised by library calls with ``throw=True`` when a point's evaluation failed."""

    exit_code = ExitCode.POINTS_FAILED


class PrepMismatch(JacliError):
    """A Prep was used with a different model, operation or shape than it was made for."""

    exit_code = ExitCode.USAGE
