"""Settings of a scheduled retrain: how fresh data is checked against the champion's, and the gates."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tasks.config import Frozen


class ValidationConfig(Frozen):
    """What fresh data must satisfy before a challenger is trained on it."""

    # Recent values: the last `recent_steps` of each series (off = two horizons), compared with the
    # champion's last as many; a series whose level or spread moved by more than these ratios is drift.
    recent_steps: int | None = Field(None, gt=1, le=100_000)  # steps per series compared for drift; off = 2 × window.horizon
    max_level_ratio: float = Field(1.5, gt=1, le=1000)  # drift when the recent mean moved by more than this factor (either way)
    max_scale_ratio: float = Field(2.5, gt=1, le=1000)  # drift when the recent standard deviation moved by more than this factor
    max_psi: float | None = Field(None, gt=0)  # drift when the population stability index exceeds this (off = reported only)
    max_share_missing: float = Field(0.0, ge=0, lt=1)  # largest share of missing values allowed in the fresh data


class GateConfig(Frozen):
    """When a challenger replaces the champion: both scored on the same fresh holdout."""

    metric: Literal["mase", "smape", "rmse", "mae"] = "mase"  # the score compared (lower is better): mase | smape | rmse | mae
    margin: float = Field(0.02, ge=0, lt=1)  # the challenger must beat the champion by this fraction of its score


class BenchmarkGateConfig(Frozen):
    """When new word vectors replace the champion: both scored on the same benchmark (higher is better)."""

    metric: str = Field("wordsim353_spearman", min_length=1)  # the benchmark score compared (higher is better), as the embed flow names it: wordsim353_spearman | simlex999_spearman | analogy_<N>_accuracy (N = evaluate.restrict_vocab or 300000), or their _pearson, _semantic, _syntactic
    margin: float = Field(0.02, ge=0, lt=1)  # the challenger must beat the champion by this fraction of the size of its score
