"""Networks kept on disk between runs: a trained unit's file, its fit's record, the lock it trains under.

A network is finished when both its ``.keras`` file and its ``.fit.json`` record exist; each is written
under a temporary name and renamed into place, the record last, so a killed writer leaves nothing
that looks finished (:mod:`tasks.forecasting.steps.models`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path


def finished(folder: Path, stem: str):
    """A network finished earlier under ``folder``: ``(FitResult, run id that trained it)``, or None."""
    from tasks.nets.training import FitResult

    record = folder / f"{stem}.fit.json"
    if not (record.is_file() and (folder / f"{stem}.keras").is_file()):
        return None
    data = json.loads(record.read_text())
    return FitResult(**data["fit"]), data["run_id"]


def save_network(folder: Path, stem: str, model) -> None:
    """Save a trained network under a temporary name renamed into place (no record yet: not finished)."""
    partial = folder / f".partial-{stem}.keras"
    model.save(partial)
    os.replace(partial, folder / f"{stem}.keras")


def record_fit(folder: Path, stem: str, fit, run_id: str) -> None:
    """Write a saved network's fit record, which makes it finished (:func:`finished`)."""
    record = folder / f".partial-{stem}.fit.json"
    record.write_text(json.dumps({"fit": dataclasses.asdict(fit), "run_id": run_id}))
    os.replace(record, folder / f"{stem}.fit.json")


def keep(folder: Path, stem: str, model, fit, run_id: str) -> None:
    """Save a finished network and then its fit's record, each under a temporary name renamed into place."""
    save_network(folder, stem, model)
    record_fit(folder, stem, fit, run_id)


def unit_lock(folder: Path, stem: str) -> Path:
    """The lock file a unit trains under, in ``train_unit`` (a worker) and ``train_panel_model`` alike."""
    return folder.parent / f"{folder.name}-{stem}.lock"
