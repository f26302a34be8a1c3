"""The capability table: ``jacli backends --format markdown`` and docs/backends.md.

The doc's table is generated from the declarations of the backends in jacli's own
pyproject.toml (docs/capability_table.py); these tests keep it from going stale and check
the generator against the declarations by an independent route (parsing the table back).
"""
import importlib.util
import json
from pathlib import Path

import pytest

from helpers import run
from jacli.backends import Capabilities, backend_class
from jacli.render.capabilities import CAPABILITIES, declared_row, markdown_table

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gen():
    """docs/capability_table.py, imported as a module."""
    spec = importlib.util.spec_from_file_location("capability_table", ROOT / "docs" / "capability_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse(table: str) -> dict:
    """``{backend: {column: cell}}`` from a Markdown table (the inverse of the generator)."""
    lines = [ln for ln in table.strip().splitlines() if ln.startswith("|")]
    head = [c.strip().strip("`") for c in lines[0].strip("|").split(" | ")]
    assert set(lines[1]) <= set("|:-"), lines[1]
    rows = {}
    for ln in lines[2:]:
        cells = [c.strip() for c in ln[1:-1].split(" | ")]
        assert len(cells) == len(head), ln
        rows[cells[0].strip("`")] = dict(zip(head, cells))
    return rows


def test_docs_table_is_the_generated_one(gen):
    text = (ROOT / "docs" / "backends.md").read_text(encoding="utf-8")
    assert gen.documented_table(text) == gen.generated_table(), (
        "docs/backends.md: the capability table is stale; run: python docs/capability_table.py")


def test_docs_table_covers_jacli_own_backends(gen):
    names = list(gen.builtin_entry_points())
    assert {"sympy", "fd", "complex"} <= set(names)
    rows = parse(gen.generated_table())
    assert list(rows) == names
    for name in names:
        cls = backend_class(name)
        want = cls.capabilities.as_dict()
        assert {c: rows[name][c] == "✓" for c in CAPABILITIES} == want, name
        assert "available" not in rows[name]           # machine-dependent: not in the doc


def test_stale_doc_is_detected(gen, tmp_path, monkeypatch, capsys):
    doc = tmp_path / "backends.md"
    text = (ROOT / "docs" / "backends.md").read_text(encoding="utf-8")
    doc.write_text(text.replace("| `fd` |  | ✓ |", "| `fd` | ✓ | ✓ |"), encoding="utf-8")
    monkeypatch.setattr(gen, "DOC", doc)
    assert gen.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert gen.main([]) == 0                               # rewrite
    assert gen.main(["--check"]) == 0
    assert doc.read_text(encoding="utf-8") == text


def test_markdown_command_matches_json(capsys, monkeypatch):
    """Every registered backend, its declared capabilities, options and availability."""
    code, out, _ = run(capsys, monkeypatch, "backends", "--format", "json")
    info = {r["name"]: r for r in json.loads(out)}
    code, out, err = run(capsys, monkeypatch, "backends", "--format", "markdown")
    assert code == 0 and err == ""
    rows = parse(out)
    assert list(rows) == list(info)
    for name, r in info.items():
        assert {c: rows[name][c] == "✓" for c in CAPABILITIES} == r["capabilities"], name
        assert rows[name]["available"] == ("yes" if r["available"] else f"no: {r['reason']}")
    assert rows["fd"]["options"] == "`order=2`, `rel_step=0.0`, `levels=0`"
    assert rows["sympy"]["options"] == "—"


def test_unavailable_backend_row():
    class Fake:
        capabilities = Capabilities(exact=True, forward=True)
        options = ()
        description = ""

    row = {**declared_row("fake", Fake), "available": False, "reason": "pip install a|b"}
    broken = {"name": "broken", "available": False, "reason": "failed to load: ImportError", "capabilities": {},
              "options": []}
    rows = parse(markdown_table([row, broken]))
    assert rows["fake"]["available"] == "no: pip install a\\|b"      # a pipe cannot split the row
    assert rows["fake"]["exact"] == "✓" and rows["fake"]["reverse"] == ""
    assert all(rows["broken"][c] == "" for c in CAPABILITIES)
    assert rows["broken"]["available"] == "no: failed to load: ImportError"
