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

import numpy as np
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
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below, in one line
        forecast = models.predict_table(model, table.frame)
    check_finite(forecast, table.frame, history_path)
    return Prediction(forecast, bundle, model_uri)


def check_finite(forecast: pd.DataFrame, history: pd.DataFrame, history_path: Path) -> None:
    """Refuse a forecast with an infinite or NaN point or interval bound, naming the series and its history.

    Values near float64's limit (about 1.8e308) forecast fine in the model's units but overflow
    when mapped back to the series' units; the output is never written with ``inf`` in it.

    Args:
        forecast: series_id, timestamp, yhat, lower, upper.
        history: the history read, ``series_id, timestamp, value``.
        history_path: the history file, for the message.

    Raises:
        InputError: naming the first series and step whose forecast is not finite.
    """
    columns = [c for c in ("yhat", "lower", "upper") if c in forecast.columns]
    bad = ~np.isfinite(forecast[columns].to_numpy(dtype=np.float64)).all(axis=1)
    if not bad.any():
        return
    first = forecast[bad].iloc[0]
    sid = first["series_id"]
    largest = float(history.loc[history["series_id"] == sid, "value"].abs().max())
    raise InputError(
        f"series {sid!r}: the forecast for {pd.Timestamp(first['timestamp'])} is not a finite number (its values reach "
        f"{largest:.3g}, too near float64's limit of about 1.8e308 for the model's arithmetic); rescale the series "
        "(e.g. divide it by a power of ten) and forecast again",
        file=history_path,
    )


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
