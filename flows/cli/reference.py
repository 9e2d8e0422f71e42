"""``python -m flows.cli.reference [PATH]``: the command reference (docs/cli.md) from the CLI itself.

Every command's ``--help`` as the terminal shows it at a fixed width, then every flow's settings as
``seqflow config show FLOW`` lists them (key, default, meaning), so the page cannot drift from the
code: ``tests/flows/test_cli_reference.py`` fails when the committed page differs. Without PATH the
page goes to stdout; with it, the file is replaced whole (written beside it, then renamed).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import typer
from typer.core import TyperGroup

from flows.cli import app
from flows.cli.options import Flow, listing, schema

WIDTH = 100  # columns the help is wrapped at, whatever the terminal that makes the page
REGENERATE = "make docs"


def commands() -> Iterator[tuple[str, typer.Context]]:
    """Every visible command's path and context, parents first, in the order ``--help`` lists them.

    Typer carries its own copy of Click, so its classes (not the ``click`` package's) are the ones to use.
    """
    root = typer.main.get_command(app)

    def walk(ctx: typer.Context) -> Iterator[tuple[str, typer.Context]]:
        yield ctx.command_path, ctx
        if isinstance(ctx.command, TyperGroup):
            for name in ctx.command.list_commands(ctx):
                child = ctx.command.get_command(ctx, name)
                if child is not None and not child.hidden:
                    yield from walk(typer.Context(child, parent=ctx, info_name=name))

    yield from walk(typer.Context(root, info_name="seqflow", terminal_width=WIDTH, max_content_width=WIDTH))


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or " "


def render() -> str:
    """The whole page, Markdown."""
    lines = [
        "# `seqflow` command reference",
        "",
        f"Generated from the CLI itself by `{REGENERATE}` (`python -m flows.cli.reference docs/cli.md`): every "
        "command's `--help`, then every flow's settings. Do not edit it by hand; a test fails when it is out of date.",
        "",
    ]
    found = list(commands())
    lines += [f"- [`{path}`](#{path.replace(' ', '-')})" for path, _ in found]
    lines += [f"- [settings: `{listing(flow)}`](#{listing(flow).replace(' ', '-')})" for flow in Flow]
    for path, ctx in found:
        lines += ["", f"## `{path}`", "", "```text", ctx.get_help().rstrip(), "```"]
    from tasks.config import describe_schema

    lines += ["", "# Settings", "",
              "Each flow's keys, as `--set KEY=VALUE` or a TOML preset (`--config`) sets them, with their defaults."]
    for flow in Flow:
        lines += ["", f"## `{listing(flow)}`", "", "| key | default | meaning |", "|---|---|---|"]
        lines += [f"| `{key}` | {_cell(default)} | {_cell(comment)} |"
                  for key, _, default, comment in describe_schema(schema(flow))]
    return "\n".join(lines) + "\n"


def write(path: Path) -> None:
    """Replace ``path`` with the page; an interrupted run leaves the old page, never half of one."""
    path = Path(path)
    text = render()
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                     delete=False) as handle:
        handle.write(text)
    os.replace(handle.name, path)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        write(Path(sys.argv[1]))
    else:
        sys.stdout.write(render())
