"""Typed records the lesson's steps pass to each other and the flow returns: paths and facts, never tensors.

A *trial* is one cell trained at one sequence length from one training seed; a *row* gathers the
trials of one cell at one length over every seed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TaskDataRef:
    """One memory task's sequences (every split) at one length, stored as Parquet."""

    kind: str
    length: int
    path: str
    content_hash: str
    counts: tuple[tuple[str, int], ...]  # (split, n_sequences) pairs


@dataclass(frozen=True)
class NoMemoryBaseline:
    """The MSE of predicting the training targets' mean: what a model that remembers nothing scores."""

    length: int
    closed_form: float  # the targets' variance: 1/6 for adding, 1/12 for copy
    measured: float  # the same, computed on this length's stored training and test sequences


@dataclass(frozen=True)
class TrialResult:
    """One cell at one length from one seed: its scores, gradients and MLflow run."""

    cell: str
    length: int
    seed: int
    run_id: str
    metrics: dict[str, float] = field(hash=False)
    init_norms: tuple[float, ...] = ()  # (length,) ‖∂loss/∂x_t‖ at initialisation, first step first
    trained_norms: tuple[float, ...] = ()  # (length,) the same after training
    ratio_by_epoch: tuple[float, ...] = ()  # first-to-last ratio after 0, 1, ... epochs (0 = at initialisation)
    failure: str | None = None

    @property
    def ok(self) -> bool:
        """True when the model trained and was measured."""
        return self.failure is None


@dataclass(frozen=True)
class LessonRow:
    """One cell at one length, over every training seed."""

    length: int
    cell: str
    test_mse: tuple[float, ...]  # per seed, in the sweep's seed order (NaN where a trial failed)
    mean_test_mse: float
    solved: int  # seeds whose test MSE is below sweep.solved_mse
    seeds: int
    ratio_init: float  # geometric mean over seeds of the first-to-last gradient ratio at initialisation
    ratio_trained: float  # the same after training
    no_memory_mse: float  # the baseline measured on this length's data

    @property
    def fails(self) -> bool:
        """No seed solved it and every seed stayed within 20 % of the no-memory baseline."""
        return self.solved == 0 and all(m >= 0.8 * self.no_memory_mse for m in self.test_mse)


@dataclass(frozen=True)
class LessonSummary:
    """What one run of the lesson flow produced; ``--json`` and the table read this."""

    flow: str
    flow_run_id: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    parent_run_name: str
    task: str
    solved_mse: float
    data: tuple[TaskDataRef, ...]
    baselines: tuple[NoMemoryBaseline, ...]
    trials: tuple[TrialResult, ...]
    rows: tuple[LessonRow, ...]
    figures: tuple[str, ...]  # artifact files logged on the parent run
    parent_artifacts: str
    seconds: float  # wall time of the flow body, from reconciliation to the last figure
    reconciled_runs: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[TrialResult, ...]:
        """Trials that diverged, with their reasons."""
        return tuple(t for t in self.trials if not t.ok)

    def row(self, length: int, cell: str) -> LessonRow:
        """The row of one cell at one length."""
        for row in self.rows:
            if row.length == length and row.cell == cell:
                return row
        raise KeyError(f"no row for cell {cell!r} at length {length}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``--json`` prints)."""
        out = dataclasses.asdict(self)
        for row, source in zip(out["rows"], self.rows):
            row["fails"] = source.fails
        return out
