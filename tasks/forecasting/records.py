"""Small, hashable records that tasks pass to each other: paths and facts, never tensors."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SeriesRef:
    """A series stored as long-format Parquet (``series_id, t, value``)."""

    path: str
    content_hash: str
    series_id: str
    n_points: int


@dataclass(frozen=True)
class WindowsRef:
    """Windows of every split stored as Parquet, with the series they were cut from."""

    path: str
    content_hash: str
    series: SeriesRef
    counts: tuple[tuple[str, int], ...]  # (split, n_windows) pairs


@dataclass(frozen=True)
class TrainedModel:
    """A trained forecaster saved as a ``.keras`` file, with its MLflow child run."""

    cell: str
    run_id: str
    model_path: str
    epochs_run: int
    best_epoch: int
    fit_seconds: float
    samples_per_second: float
    history: dict[str, list[float]] = field(hash=False, compare=False)
