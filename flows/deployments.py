"""The deployments file (``flows/deployments.toml``) as Prefect deployments: each a flow, a preset, a schedule.

Every entry is checked before anything is served (its flow, its preset and overrides with the
flow's own config, exactly one schedule), so a bad entry is refused in one line naming the entry
and key; a deployment carries its whole resolved config as its one parameter, and a concurrency
limit of one so a run never overlaps the previous one.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.errors import InputError

# Each flow a deployment may name: (module, flow function, config module, config class).
FLOWS = {
    "retrain": ("flows.retrain", "retrain", "flows.retrain", "RetrainConfig"),
    "forecast": ("flows.forecast", "train_forecasters", "tasks.forecasting.config", "ForecastConfig"),
    "embed": ("flows.embed", "train_embeddings", "tasks.embeddings.config", "EmbedConfig"),
    "study": ("flows.study", "sine_study", "tasks.study.config", "StudyConfig"),
    "lesson": ("flows.lesson", "memory_lesson", "tasks.lesson.config", "LessonConfig"),
    "retrain-embed": ("flows.retrain_embed", "retrain_embed", "flows.retrain_embed", "RetrainEmbedConfig"),
}
KEYS = {"name", "flow", "preset", "cron", "interval", "timezone", "set", "tags", "description"}


@dataclass(frozen=True)
class DeploymentSpec:
    """One checked entry of the deployments file."""

    name: str
    flow: str
    config: Any  # the flow's resolved config object
    cron: str | None
    interval: float | None
    timezone: str | None
    tags: tuple[str, ...]
    description: str


def read_deployments(path: Path, root: Path) -> list[DeploymentSpec]:
    """Read and check every entry of a deployments file; presets are relative to ``root``.

    Raises:
        InputError: the file is missing or not TOML, or an entry breaks a rule (named by its index
            and name, with the key and the rule).
    """
    import importlib

    from tasks.config import load_config

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the deployments file: {exc.strerror}", file=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML ({exc})", file=path) from None
    entries = data.get("deployment")
    if not isinstance(entries, list) or not entries:
        raise InputError("names no deployment: add [[deployment]] tables (name, flow, preset, cron)", file=path)
    specs, names = [], set()
    for i, entry in enumerate(entries, start=1):
        where = f"deployment {i}" + (f" ({entry.get('name')!r})" if isinstance(entry, dict) and entry.get("name") else "")
        if not isinstance(entry, dict):
            raise InputError(f"{where}: expected a table", file=path)
        unknown = sorted(set(entry) - KEYS)
        if unknown:
            raise InputError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(KEYS))}", file=path)
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{where}: name is required", file=path)
        if name in names:
            raise InputError(f"{where}: the name {name!r} is used twice", file=path)
        names.add(name)
        flow = entry.get("flow")
        if flow not in FLOWS:
            raise InputError(f"{where}: flow = {flow!r}; valid flows: {', '.join(FLOWS)}", file=path)
        cron, interval = entry.get("cron"), entry.get("interval")
        if (cron is None) == (interval is None):
            raise InputError(f"{where}: give exactly one schedule, cron = \"...\" or interval = SECONDS", file=path)
        if cron is not None and not _valid_cron(cron, entry.get("timezone")):
            raise InputError(f"{where}: cron = {cron!r} is not a cron expression (e.g. \"0 2 * * *\") in a known "
                             "time zone", file=path)
        if interval is not None and (not isinstance(interval, (int, float)) or isinstance(interval, bool)
                                     or interval < 60):
            raise InputError(f"{where}: interval = {interval!r}: seconds, at least 60", file=path)
        overrides = entry.get("set", [])
        if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
            raise InputError(f"{where}: set = {overrides!r}: a list of \"KEY=VALUE\" strings", file=path)
        preset = entry.get("preset")
        _, _, config_module, config_class = FLOWS[flow]
        schema = getattr(importlib.import_module(config_module), config_class)
        try:
            config = load_config(schema, (root / preset) if preset else None, overrides,
                                 listing=f"seqflow config show {flow}")
        except InputError as exc:
            raise InputError(f"{where}: {exc}", file=path) from None
        specs.append(DeploymentSpec(name, flow, config, cron, float(interval) if interval is not None else None,
                                    entry.get("timezone"), tuple(entry.get("tags", [])),
                                    str(entry.get("description", ""))))
    return specs


def _valid_cron(cron: Any, timezone: Any) -> bool:
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron, timezone=timezone or "UTC")
    except (ValueError, TypeError):
        return False
    return True


def to_deployments(specs: list[DeploymentSpec]) -> list:
    """Prefect ``RunnerDeployment`` objects for ``flow.serve``-style serving, one run at a time each."""
    import importlib

    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

    out = []
    for spec in specs:
        module, function, _, _ = FLOWS[spec.flow]
        flow = getattr(importlib.import_module(module), function)
        if spec.cron is not None:
            schedule = CronSchedule(cron=spec.cron, timezone=spec.timezone or "UTC")
        else:
            from datetime import timedelta

            schedule = IntervalSchedule(interval=timedelta(seconds=spec.interval))
        out.append(flow.to_deployment(
            name=spec.name, schedule=schedule, concurrency_limit=1,
            parameters={"cfg": spec.config.model_dump(mode="json")},
            tags=["seqflow", spec.flow, *spec.tags],
            description=spec.description or f"seqflow {spec.flow}: {spec.name}",
        ))
    return out
