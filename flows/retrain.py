"""retrain: fresh data → validate against the champion's → challenger → same fresh holdout → gate → aliases.

The scheduled job (and ``seqflow run retrain``). Whatever happens, the ``champion`` alias moves only
when a challenger trained on validated data beats it on the same fresh holdout by the gate's margin,
and the decision is recorded on the retrain's MLflow run, on the model versions and as Prefect
artifacts. A failure at any step leaves the champion where it was.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from prefect import flow
from pydantic import model_validator

from flows.forecast import AllModelsFailed, train_forecasters
from flows.tracked import reconcile, tracked_run
from tasks.errors import InputError
from tasks.forecasting import ingest
from tasks.forecasting import steps as forecasting
from tasks.forecasting.config import ForecastConfig
from tasks.operations import gate, validation
from tasks.operations import steps as operations
from tasks.operations.config import GateConfig, ValidationConfig


class RetrainConfig(ForecastConfig):
    """A forecasting preset (the recipe and the data's source) plus how fresh data is checked and gated."""

    validation: ValidationConfig = ValidationConfig()  # what fresh data must satisfy before a challenger is trained
    gate: GateConfig = GateConfig()  # when the challenger replaces the champion

    @model_validator(mode="after")
    def _registers(self) -> RetrainConfig:
        if self.registered_name is None:
            raise ValueError("tracking.registered_model = off: a retrain promotes registered versions; name one or "
                             "use auto")
        return self

    def as_forecast(self) -> ForecastConfig:
        """The forecasting flow's own config: the same settings less the retrain's sections."""
        return ForecastConfig.model_validate(self.model_dump(exclude={"validation", "gate"}))


@dataclass(frozen=True)
class RetrainSummary:
    """What one retrain did; ``--json`` and the printed decision read this."""

    flow_run_id: str
    parent_run_id: str
    parent_run_name: str
    registered_model: str
    status: str  # promoted | kept_champion | validation_failed | no_new_data
    reason: str
    champion_before: str | None
    champion_after: str | None
    challenger: str | None
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    validation: list[dict[str, Any]] = field(default_factory=list)
    challenger_run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@flow(name="retrain", log_prints=False)
def retrain(cfg: RetrainConfig) -> RetrainSummary:
    """Validate fresh data, train a challenger with the preset's recipe, and gate it against the champion."""
    reconciled = reconcile()
    name, subject = cfg.registered_name, ingest.subject(cfg.source)
    recent = cfg.validation.recent_steps or 2 * cfg.window.horizon
    with tracked_run(cfg, "retrain", subject, {"registered_model": name, "reconciled": str(len(reconciled))}) as ctx:
        champion = operations.find_champion(name)
        before = champion.version if champion else None
        try:
            series = forecasting.ingest_series(cfg.source)
            ingest.check_sizes(cfg, series.shortest_series, series.shortest_length, series.test_steps, series.inputs)
            forecasting.check_log_fits(cfg, series)
        except InputError as exc:
            report = validation.ValidationReport("failed", f"the fresh data breaks a file rule: {exc}")
            operations.record_report(report, ctx)
        else:
            report = operations.validate_fresh_data(series.path, series.frequency, champion, cfg.validation, ctx,
                                                    subject, series.content_hash)
        if report.status != "ok":
            operations.record_stop(name, champion, report, ctx)
            status = "validation_failed" if report.status == "failed" else report.status
            return RetrainSummary(ctx.flow_run_id, ctx.parent_run_id, ctx.name, name, status,
                                  report.summary, before, before, None, validation=report.rows())
        trained = train_forecasters(cfg.as_forecast())
        if trained.served is None or trained.served.version is None:
            raise RuntimeError(f"the challenger run {trained.parent_run_id} registered no model: nothing to gate")
        challenger = trained.served.version
        uris = {operations.CHALLENGER: f"models:/{name}/{challenger}"}
        if champion is not None:
            uris[operations.CHAMPION] = champion.uri
        scores = forecasting.score_served_models(series, uris, cfg.window.horizon, trained.season_length,
                                                 cfg.evaluate.interval_level)
        decision = gate.decide(scores[operations.CHALLENGER], scores.get(operations.CHAMPION), cfg.gate.metric,
                               cfg.gate.margin)
        operations.record_profile(series.path, series.frequency, recent, ctx)
        after = operations.apply_decision(name, challenger, champion, decision, scores, ctx)
    return RetrainSummary(ctx.flow_run_id, ctx.parent_run_id, ctx.name, name,
                          "promoted" if decision.promote else "kept_champion", decision.reason, before, after,
                          challenger, scores, report.rows(), trained.parent_run_id)


__all__ = ["AllModelsFailed", "RetrainConfig", "RetrainSummary", "retrain"]
