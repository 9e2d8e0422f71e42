"""``seqflow models list`` and ``seqflow promote``: the registered forecasters, their aliases, and a rollback."""

from __future__ import annotations

import getpass
import os
from datetime import datetime, timezone
from typing import Annotated

import typer

from flows.cli.options import console, fail, print_json

app = typer.Typer(help="Registered forecasters: their aliases, versions and scores.", no_args_is_help=True,
                  rich_markup_mode=None)


@app.command("list")
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="Print every model, alias and version as JSON.")] = False,
) -> None:
    """Every registered model with its aliases and versions (newest first), with their holdout scores."""
    from tasks.tracking import registry

    models = registry.list_models()
    if as_json:
        print_json(models)
        return
    from rich.table import Table

    out = console()
    if not models:
        out.print("no registered models yet: `seqflow run forecast` or `seqflow run retrain` registers one",
                  highlight=False)
        return
    for model in models:
        by_version: dict[str, list[str]] = {}
        for alias, version in model["aliases"].items():
            by_version.setdefault(version, []).append(alias)
        table = Table(title=model["name"])
        for col in ("version", "aliases", "cell", "holdout MASE", "fresh MASE", "decision", "data hash"):
            table.add_column(col, justify="right" if "MASE" in col else "left", no_wrap=col != "decision")
        for v in model["versions"]:
            tags = v["tags"]
            table.add_row(v["version"], ", ".join(sorted(by_version.get(v["version"], []))), tags.get("cell", ""),
                          tags.get("holdout_mase", ""), tags.get("fresh_holdout_mase", ""),
                          tags.get("gate_decision", tags.get("promoted_by", "") and "promoted by hand"),
                          tags.get("data_content_hash", "")[:12])
        out.print(table)


def promote(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The registered model, e.g. forecast-alcohol-sales.")],
    version: Annotated[str, typer.Option("--version", metavar="N", help="The version the champion alias moves to.")],
    reason: Annotated[str, typer.Option("--reason", help="Why: recorded on the version with who and when.")] = "rollback",
    alias: Annotated[str, typer.Option("--alias", help="The alias to move (champion serves).")] = "champion",
) -> None:
    """Point an alias (champion) at a version by hand, e.g. to roll back; recorded with who, when and why."""
    from tasks.tracking import registry

    try:
        info = registry.version_info(name, version)
    except Exception as exc:  # MLflow says "not found" in its own words; the user's terms are the name and version
        fail(f"{name} version {version}: no such registered version ({str(exc).splitlines()[0][:200]}); "
             "`seqflow models list` shows them")
    previous = registry.version_by_alias(name, alias)
    who = os.environ.get("SEQFLOW_USER") or getpass.getuser()
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    registry.set_alias(name, alias, info["version"])
    registry.tag_version(name, info["version"], {f"{alias}_set_by": who, f"{alias}_set_at": when,
                                                 f"{alias}_set_why": reason, "promoted_by": who,
                                                 f"{alias}_previous_version": previous or ""})
    console().print(f"{name}: {alias} → version {info['version']} (was {previous or 'none'}), by {who} at {when}: "
                    f"{reason}", highlight=False)
