"""Prefect tasks of the retrain flows' operations: find the champion, validate fresh data, record the decision.

Both retrains use them: ``retrain`` (forecasters: fresh data validated, both scored on the same fresh
holdout) and ``retrain-embed`` (word vectors: both scored on the same benchmark; no data profile).

The only module of the operations package that meets Prefect, storage and tracking. What is decided
is recorded three ways, whatever the outcome: on the retrain's MLflow run (tags, metrics,
``decision.json``, ``validation.md``), on the model versions (tags), and as Prefect artifacts on
the flow run (the decision table and the validation report), so a team reviewing a night's runs
sees the same verdict in either UI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks import storage
from tasks.operations import validation
from tasks.operations.config import ValidationConfig
from tasks.operations.gate import Decision
from tasks.tracking import registry, runs
from tasks.tracking.runs import RunContext

CHAMPION, CHALLENGER = "champion", "challenger"
PROFILE_FILE = "data_profile.json"
# The scores a forecaster's decision table shows; a retrain of other models names its own.
FORECAST_COLUMNS: tuple[str, ...] = ("mase", "smape", "coverage")


@dataclass(frozen=True)
class Champion:
    """The version the ``champion`` alias points at, and the profile of the data it was trained on."""

    name: str
    version: str
    profile: dict | None  # None: registered by a one-off run, which records no profile
    latest_profile: dict | None = None  # the newest challenger's data (new steps are counted after it)

    @property
    def uri(self) -> str:
        """``models:/NAME/VERSION``: this very version, whatever the aliases do next."""
        return f"models:/{self.name}/{self.version}"


def _artifact_key(text: str) -> str:
    # Prefect artifact keys are lowercase letters, digits and dashes.
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:100] or "seqflow"


@task(name="find-champion", cache_policy=NO_CACHE, persist_result=False)
def find_champion(name: str) -> Champion | None:
    """The registered model's champion, or None when it has none yet (the first retrain promotes)."""
    version = registry.version_by_alias(name, CHAMPION)
    if version is None:
        return None
    def profile_of(v: str | None) -> dict | None:
        run = registry.version_info(name, v)["tags"].get("data_profile_run_id") if v else None
        return runs.load_dict(run, PROFILE_FILE) if run else None

    newest = registry.version_by_alias(name, CHALLENGER)
    return Champion(name, version, profile_of(version), profile_of(newest) if newest not in (None, version) else None)


@task(name="validate-fresh-data", cache_policy=NO_CACHE, persist_result=False)
def validate_fresh_data(series_path: str, frequency: str, champion: Champion | None, settings: ValidationConfig,
                        ctx: RunContext, subject: str = "", content_hash: str = "") -> validation.ValidationReport:
    """Check the fresh data against the champion's data and log the report on the run and the flow run.

    Given its ``subject`` and ``content_hash``, the fresh data is recorded as the run's dataset.
    """
    frame = storage.read_frame(Path(series_path))
    if subject and content_hash:
        runs.log_dataset(ctx.parent_run_id, subject, series_path, content_hash, frame.head(5),
                         {"num_rows": len(frame), "num_series": int(frame["series_id"].nunique()), "frequency": frequency})
    if champion is None or champion.profile is None:
        why = "no champion yet" if champion is None else f"champion version {champion.version} has no data profile"
        report = validation.ValidationReport(
            "ok", f"{why}: the fresh data is checked at ingest only (its file rules)",
            (validation.Check("*", "champion", why, "a profile to compare with", True),))
    else:
        report = validation.validate(frame, frequency, champion.profile, settings, champion.latest_profile)
    record_report(report, ctx)
    return report


def record_report(report: validation.ValidationReport, ctx: RunContext) -> None:
    """Log a validation report on the run (tag, Markdown, rows) and as a Prefect Markdown artifact."""
    from prefect.artifacts import create_markdown_artifact

    runs.set_tags(ctx.parent_run_id, {"validation": report.status, "validation_summary": report.summary[:4000]})
    runs.log_text(ctx.parent_run_id, report.markdown(), "validation.md")
    runs.log_dict(ctx.parent_run_id, {"status": report.status, "summary": report.summary, "checks": report.rows()},
                  "validation.json")
    if ctx.flow_run_id != "none":
        create_markdown_artifact(markdown=f"## Fresh data validation\n\n{report.markdown()}",
                                 key=_artifact_key(f"validation-{ctx.parent_run_id[:8]}"),
                                 description=report.summary[:500])


@task(name="record-data-profile", cache_policy=NO_CACHE, persist_result=False)
def record_profile(series_path: str, frequency: str, recent_steps: int, ctx: RunContext) -> None:
    """Log the profile of the data the challenger was trained on: what the next retrain validates against."""
    frame = storage.read_frame(Path(series_path))
    runs.log_dict(ctx.parent_run_id, validation.profile(frame, frequency, recent_steps), PROFILE_FILE)


@task(name="apply-gate-decision", cache_policy=NO_CACHE, persist_result=False)
def apply_decision(name: str, challenger: str, champion: Champion | None, decision: Decision,
                   scores: dict[str, dict[str, float]], ctx: RunContext, *,
                   score_prefix: str | None = "fresh_holdout_", columns: tuple[str, ...] = FORECAST_COLUMNS,
                   data_profile: bool = True) -> str | None:
    """Move the aliases as decided, tag both versions and the run, publish the decision table.

    The challenger always gets the ``challenger`` alias; ``champion`` moves to it only when the
    gate promotes. Returns the champion's version after the decision.

    Args:
        score_prefix: the challenger's scores are tagged on its version as ``<prefix><score>``
            (forecasters: ``fresh_holdout_mase``); None: not tagged (a version that records its scores itself).
        columns: the scores the decision table shows, one column each.
        data_profile: the retrain's run holds the data profile the next retrain validates against
            (tagged ``data_profile_run_id`` on the version).
    """
    registry.set_alias(name, CHALLENGER, challenger)
    if decision.promote:
        registry.set_alias(name, CHAMPION, challenger)
    after = challenger if decision.promote else (champion.version if champion else None)
    verdict = {"gate_decision": "promoted" if decision.promote else "kept_champion", "gate_reason": decision.reason,
               "gate_metric": decision.metric, "gate_run_id": ctx.parent_run_id,
               **({"data_profile_run_id": ctx.parent_run_id} if data_profile else {}),
               **({f"{score_prefix}{k}": f"{v:.6g}" for k, v in scores.get(CHALLENGER, {}).items()}
                  if score_prefix is not None else {})}
    registry.tag_version(name, challenger, verdict)
    record_decision(name, decision_rows(name, challenger, champion, decision, scores, after, columns=columns), ctx,
                    {"decision": verdict["gate_decision"], "reason": decision.reason, "gate_metric": decision.metric,
                     "challenger_version": challenger, "champion_version_before": champion.version if champion else "",
                     "champion_version": after or ""})
    runs.log_ranked(ctx.parent_run_id, scores.get(CHALLENGER, {}), scores)
    return after


def decision_rows(name: str, challenger: str | None, champion: Champion | None, decision: Decision | None,
                  scores: dict[str, dict[str, float]], after: str | None, status: str | None = None,
                  columns: tuple[str, ...] = FORECAST_COLUMNS) -> list[dict]:
    """The decision table: one row per model compared (or one row saying why nothing was compared)."""
    if decision is None:
        return [{"registered_model": name, "model": "-", "version": champion.version if champion else "",
                 "decision": status or "", "reason": "", **{k: "" for k in columns},
                 "champion_after": after or ""}]
    shown = lambda m, k: "" if k not in m else f"{m[k]:.4f}"  # noqa: E731
    rows = []
    for label, version in ((CHALLENGER, challenger), (CHAMPION, champion.version if champion else None)):
        if version is None:
            continue
        m = scores.get(label, {})
        rows.append({"registered_model": name, "model": label, "version": version,
                     "decision": "promoted" if decision.promote else "kept champion", "reason": decision.reason,
                     **{k: shown(m, k) for k in columns}, "champion_after": after or ""})
    return rows


def record_decision(name: str, rows: list[dict], ctx: RunContext, tags: dict[str, str]) -> None:
    """Publish the decision: tags and ``decision.json`` on the run, a Prefect table artifact on the flow run."""
    from prefect.artifacts import create_table_artifact

    runs.set_tags(ctx.parent_run_id, {"registered_model": name, **{k: str(v)[:4000] for k, v in tags.items()}})
    runs.log_dict(ctx.parent_run_id, {"registered_model": name, **tags, "rows": rows}, "decision.json")
    runs.log_table(ctx.parent_run_id, rows, "decision_table.json")
    if ctx.flow_run_id != "none":
        create_table_artifact(table=rows, key=_artifact_key(f"decision-{name}"),
                              description=f"{name}: {tags.get('decision', '')}: {tags.get('reason', '')}"[:500])


@task(name="record-no-retrain", cache_policy=NO_CACHE, persist_result=False)
def record_stop(name: str, champion: Champion | None, report: validation.ValidationReport, ctx: RunContext) -> None:
    """Record that no challenger was trained (the data failed validation, or nothing is new); champion untouched."""
    status = "validation_failed" if report.status == "failed" else report.status
    record_decision(name, decision_rows(name, None, champion, None, {}, champion.version if champion else None,
                                        status), ctx,
                    {"decision": status, "reason": report.summary,
                     "champion_version": champion.version if champion else ""})
