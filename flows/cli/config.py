"""``seqflow config show FLOW``: every setting of a flow with its value, its default and its meaning."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli.options import ConfigOpt, Flow, console, load, print_json, schema

app = typer.Typer(help="Inspect configuration.", no_args_is_help=True, rich_markup_mode=None)

ShowSetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", metavar="KEY=VALUE",
                 help="Override one setting as the flow's run command would, to see the value it resolves to."),
]
RowsJsonOpt = Annotated[bool, typer.Option("--json", help="Print the rows as JSON: key, value, default, comment.")]


@app.command("show")
def show(
    flow: Annotated[Flow, typer.Argument(metavar="FLOW", help="The flow whose settings to list.")] = Flow.forecast,
    config: ConfigOpt = None,
    set_: ShowSetOpt = None,
    as_json: RowsJsonOpt = False,
) -> None:
    """Print a flow's resolved config (forecast, study, retrain, embed, lesson or retrain-embed): every key, its value, default and meaning."""
    from tasks.config import describe_schema

    print_settings(flow, describe_schema(schema(flow), load(flow, config, set_)), as_json)


@app.command("embed")
def show_embed(config: ConfigOpt = None, set_: ShowSetOpt = None, as_json: RowsJsonOpt = False) -> None:
    """The same as `seqflow config show embed` (this spelling came first)."""
    show(Flow.embed, config, set_, as_json)


def print_settings(flow: Flow, rows: list[tuple[str, str, str, str]], as_json: bool) -> None:
    """Print every key, its value, default and meaning: JSON rows or a table, set values in bold."""
    if as_json:
        print_json([dict(zip(("key", "value", "default", "comment"), r)) for r in rows])
        return
    from rich.table import Table

    table = Table(title=f"seqflow run {flow.value}: settings (set with --set KEY=VALUE or a TOML preset)")
    for col in ("key", "value", "default", "meaning"):
        table.add_column(col, overflow="fold")
    for key, value, default, comment in rows:
        table.add_row(key, value if value == default else f"[bold]{value}[/]", default, comment)
    console().print(table)
