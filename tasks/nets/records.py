"""What training a cell leaves behind, as every flow records it: paths and figures, never tensors."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrainedModel:
    """One cell after training: its saved ``.keras`` file and its MLflow run (open until evaluated).

    ``failure`` is set when training diverged or broke; such a model is never evaluated or ranked.
    """

    cell: str
    run_id: str
    model_path: str | None
    epochs_run: int
    best_epoch: int
    fit_seconds: float
    samples_per_second: float
    history: dict[str, list[float]] = field(hash=False, compare=False)
    failure: str | None = None
    # Every ensemble member's history at the latest origin (first series), in member order; the
    # first is ``history``. Empty for a single network trained without members.
    member_histories: tuple[dict[str, list[float]], ...] = field(default=(), hash=False, compare=False)
