"""``seqflow predict``: a registered forecaster, a history file in, the forecast table out.

No Prefect here: a forecast is one model call, nothing to orchestrate. The history file is read with
the ingestion rules first (a bad file is refused before MLflow or TensorFlow load), then checked
against what the model needs (its frequency, the history its scaler rule needs), then forecast by the
logged pyfunc, exactly as ``mlflow models serve`` would.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tasks.errors import InputError

OUTPUT_SUFFIXES = (".parquet", ".csv")


@dataclass(frozen=True)
class Prediction:
    """A forecast and what made it."""

    forecast: pd.DataFrame  # series_id, timestamp, yhat, lower, upper
    bundle: dict  # the served model's settings (tasks.forecasting.serving.make_bundle)
    model_uri: str


def read_history(path: Path) -> pd.DataFrame:
    """Read a history CSV (``series_id,timestamp,value``, or ``date,value`` for one series) with the ingestion rules.

    Raises:
        InputError: the file breaks a rule (one line naming the file, row, column and rule).
    """
    from tasks.forecasting.sources import tabular

    return tabular.read_series_csv(path).frame


def check_output(path: Path | None) -> None:
    """Refuse an output file whose format is unknown, before any work.

    Raises:
        InputError: the suffix is neither ``.parquet`` nor ``.csv``.
    """
    if path is not None and path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(f"unknown output format {path.suffix!r}; use .parquet or .csv", file=path)


def predict(model_uri: str, history_path: Path) -> Prediction:
    """Forecast every series of a history file with a logged or registered forecaster.

    Raises:
        InputError: the file breaks a rule, the history does not suit the model (frequency, too
            short), or the model cannot be found or is no seqflow forecaster.
    """
    from tasks.forecasting.sources import tabular
    from tasks.tracking import models

    read_history(history_path)  # every file rule, before MLflow and TensorFlow load
    model, bundle = models.load_forecaster(model_uri)
    # Read again with the model's needs: a short series is named with the file's own row numbers.
    table = tabular.read_series_csv(history_path, min_length=bundle["min_history"])
    if table.frequency != bundle["frequency"]:
        raise InputError(f"the history is {table.frequency}; this model was trained on {bundle['frequency']} series",
                         file=history_path, column=table.columns["date"])
    forecast = models.predict_table(model, table.frame)
    return Prediction(forecast, bundle, model_uri)


def write_forecast(forecast: pd.DataFrame, path: Path) -> Path:
    """Write the forecast as Parquet or CSV (by the suffix), atomically: a temporary name, then a rename."""
    check_output(path)
    if path.suffix.lower() == ".parquet":
        from tasks import storage

        return storage.write_frame(forecast, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        forecast.to_csv(tmp, index=False, date_format="%Y-%m-%d %H:%M:%S")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
