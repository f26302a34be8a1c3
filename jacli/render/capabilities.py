"""The capability table: one row per backend, generated from its declarations.

Used by ``jacli backends --format markdown`` (every registered backend, with whether it is
available here) and by ``docs/capability_table.py``, which writes the table of the backends
jacli itself registers into ``docs/backends.md`` (without the machine-dependent
availability column; a test keeps the two equal).

>>> from jacli.backends import Capabilities, Option
>>> class Demo:
...     capabilities = Capabilities(exact=True, forward=True)
...     options = (Option("chunk", int, 512, "points per evaluation"),)
...     description = "a demonstration"
>>> print(markdown_table([declared_row("demo", Demo)], availability=False).splitlines()[2])
| `demo` | ✓ |  | ✓ |  |  |  |  |  |  | `chunk=512` |
"""
from __future__ import annotations

from dataclasses import fields

__all__ = ["CAPABILITIES", "declared_row", "markdown_table"]


def _capability_names() -> tuple:
    from ..backends import Capabilities

    return tuple(f.name for f in fields(Capabilities))


#: Capability columns, in declaration order (jacli.backends.Capabilities).
CAPABILITIES = _capability_names()


def declared_row(name: str, cls) -> dict:
    """A backend's row from its class alone: name, capabilities, options, description.

    Same keys as :func:`jacli.backends.backend_info` rows except ``available``/``reason``,
    which depend on the machine.
    """
    return {"name": name, "capabilities": cls.capabilities.as_dict(),
            "options": [{"name": o.name, "type": o.type.__name__, "default": o.default, "help": o.help}
                        for o in cls.options],
            "description": cls.description}


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows, *, availability: bool = True) -> str:
    """A Markdown table: one row per backend, a column per capability, options, availability.

    ``rows`` are dicts as returned by :func:`jacli.backends.backend_info` (or
    :func:`declared_row` with ``availability=False``).  A backend that failed to load has no
    capabilities: its cells are empty and the availability column says why.
    """
    head = ["backend"] + [f"`{c}`" for c in CAPABILITIES] + ["options"]
    if availability:
        head.append("available")
    align = [":--"] + [":-:"] * len(CAPABILITIES) + [":--"] * (len(head) - 1 - len(CAPABILITIES))
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    for r in rows:
        caps = r.get("capabilities") or {}
        cells = [f"`{r['name']}`"] + ["✓" if caps.get(c) else "" for c in CAPABILITIES]
        cells.append(", ".join(f"`{o['name']}={o['default']}`" for o in r.get("options", [])) or "—")
        if availability:
            cells.append("yes" if r.get("available") else _cell(f"no: {r.get('reason', '')}"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
