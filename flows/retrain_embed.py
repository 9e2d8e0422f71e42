"""retrain-embed: new vectors (train-embeddings as a subflow) → the champion scored on the same benchmark → gate → aliases.

The scheduled job for word vectors (and ``seqflow run retrain-embed``). The ``champion`` alias of
``embed-<corpus>`` moves only when the new vectors score better than the champion's on the gate's
benchmark score by the gate's margin (higher is better); the decision is recorded as the
forecasters' retrain records it: on the retrain's MLflow run, on the challenger's version and as a
Prefect table artifact. A corpus the flow refuses stops before anything is trained, champion untouched.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from prefect import flow
from pydantic import model_validator

from flows.embed import train_embeddings
from flows.tracked import reconcile, tracked_run
from tasks.embeddings import evaluation
from tasks.embeddings import steps as embeddings
from tasks.embeddings.config import EmbedConfig
from tasks.errors import InputError
from tasks.operations import gate, validation
from tasks.operations import steps as operations
from tasks.operations.config import BenchmarkGateConfig


class RetrainEmbedConfig(EmbedConfig):
    """An embeddings preset (the corpus and the recipe) plus the gate the new vectors must pass."""

    gate: BenchmarkGateConfig = BenchmarkGateConfig()  # when the new vectors replace the champion

    @model_validator(mode="after")
    def _gates_registered_vectors(self) -> RetrainEmbedConfig:
        if self.registered_name is None:
            raise ValueError("tracking.registered_model = off: a retrain promotes registered versions; name one or "
                             "use auto")
        if not self.tracking.log_models:
            raise ValueError("tracking.log_models = false: a retrain registers the vectors it gates; set it true")
        scores = evaluation.benchmark_scores(self.evaluate.restrict_vocab)
        if self.gate.metric not in scores:
            raise ValueError(f"gate.metric = {self.gate.metric!r}: not a benchmark score the embed flow reports; valid "
                             f"scores: {', '.join(scores)}")
        return self

    def as_embed(self) -> EmbedConfig:
        """The embeddings flow's own config: the same settings less the gate."""
        return EmbedConfig.model_validate(self.model_dump(exclude={"gate"}))


@dataclass(frozen=True)
class RetrainEmbedSummary:
    """What one retrain of word vectors did; ``--json`` and the printed decision read this."""

    flow_run_id: str
    parent_run_id: str
    parent_run_name: str
    registered_model: str
    status: str  # promoted | kept_champion | validation_failed (the corpus was refused)
    reason: str
    metric: str
    champion_before: str | None
    champion_after: str | None
    challenger: str | None
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # challenger / champion: benchmark scores
    champion_scores: str = ""  # recorded | re-evaluated | not comparable, and why
    challenger_run_id: str | None = None  # the train-embeddings subflow's parent run

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@flow(name="retrain-embed", log_prints=False)
def retrain_embed(cfg: RetrainEmbedConfig) -> RetrainEmbedSummary:
    """Train new vectors on the corpus and gate them against the champion on the same benchmark."""
    reconciled = reconcile()
    name, metric, subject = cfg.registered_name, cfg.gate.metric, embeddings.corpus_name(cfg.corpus)
    with tracked_run(cfg, "retrain-embed", subject, {"registered_model": name, "reconciled": str(len(reconciled))}) as ctx:
        champion = operations.find_champion(name)
        before = champion.version if champion else None
        try:
            trained = train_embeddings(cfg.as_embed())
        except InputError as exc:
            report = validation.ValidationReport("failed", f"the corpus was refused: {exc}")
            operations.record_stop(name, champion, report, ctx)
            return RetrainEmbedSummary(ctx.flow_run_id, ctx.parent_run_id, ctx.name,
                                       name, "validation_failed", report.summary, metric, before, before, None)
        if trained.registered is None:
            raise RuntimeError(f"the challenger run {trained.parent_run_id} registered no vectors: nothing to gate")
        challenger = trained.registered.version
        scores = {operations.CHALLENGER: embeddings.gated_scores(trained.metrics, cfg)}
        scored = None
        if champion is not None:
            scored = embeddings.score_champion_vectors(name, champion.version, challenger, metric, cfg.as_embed(), ctx)
            scores[operations.CHAMPION] = scored.scores
        decision = gate.decide(scores[operations.CHALLENGER], scores.get(operations.CHAMPION), metric,
                               cfg.gate.margin, higher_is_better=True)
        if scored is not None and scored.source == "not comparable":
            decision = replace(decision, reason=f"{decision.reason}; not comparable: {scored.why}")
        columns = tuple(dict.fromkeys((metric, "wordsim353_spearman", "simlex999_spearman",
                                       f"analogy_{cfg.evaluate.restrict_vocab}_accuracy")))
        after = operations.apply_decision(name, challenger, champion, decision, scores, ctx, score_prefix=None,
                                          columns=columns, data_profile=False)
    return RetrainEmbedSummary(ctx.flow_run_id, ctx.parent_run_id, ctx.name, name,
                               "promoted" if decision.promote else "kept_champion", decision.reason, metric, before,
                               after, challenger, scores, f"{scored.source}: {scored.why}" if scored else "",
                               trained.parent_run_id)


__all__ = ["RetrainEmbedConfig", "RetrainEmbedSummary", "retrain_embed"]
