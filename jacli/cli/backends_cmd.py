"""``jacli backends``: availability and the capability table, from the declarations."""
from __future__ import annotations

import click


@click.command(epilog="\b\nExamples:\n  jacli backends\n  jacli backends --format json | jq '.[].name'\n"
                      "  jacli backends --format markdown > capabilities.md")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table",
              show_default=True, help="table: for people; json: one object per backend; markdown: the "
                                      "capability table (as in docs/backends.md, plus availability)")
def backends(fmt):
    """List registered backends, whether each is available (and why not), and what each can do."""
    import json
    import sys

    from ..backends import backend_info

    rows = backend_info()
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    if fmt == "markdown":
        from ..render.capabilities import markdown_table

        sys.stdout.write(markdown_table(rows))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="jacli backends", title_justify="left", show_lines=True)
    table.add_column("backend", style="bold", no_wrap=True)
    table.add_column("available")
    table.add_column("capabilities")
    table.add_column("options")
    for r in rows:
        avail = "yes" if r["available"] else f"[red]no[/]: {r['reason']}"
        caps = ", ".join(c for c, on in r["capabilities"].items() if on) or "—"
        opts = ", ".join(f"{o['name']}={o['default']}" for o in r["options"]) or "—"
        table.add_row(r["name"], avail, caps, opts)
    console = Console()
    console.print(table)
    for r in rows:
        if r.get("description"):
            console.print(f"  [bold]{r['name']}[/]: {r['description']}")
    console.print("Use one with --backend NAME, options as --backend NAME:opt=value (e.g. fd:order=4).")
    return 0
