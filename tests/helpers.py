"""Shared test helpers (imported by the test modules: pytest puts tests/ on sys.path)."""
import io
import sys

import pytest

from jacli.cli import main


def run(capsys, monkeypatch, *args, stdin=None):
    """Run ``jacli ARGS`` in-process; returns (exit code, stdout, stderr)."""
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return exc.value.code, out, err
