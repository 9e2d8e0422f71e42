"""``seqflow predict``: a registered forecaster, a history file in, the forecast table out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flows.cli.options import EXIT_FAILED, check_environment, console, fail, print_json

if TYPE_CHECKING:
    from flows.predict import Prediction


def predict(
    model: Annotated[str, typer.Option(
        "--model", "-m", metavar="MODEL_URI",
        help="The forecaster: models:/NAME@ALIAS (e.g. models:/forecast-alcohol-sales@champion, registered by "
             "`seqflow run forecast` on a CSV or M4 source) or a logged model's models:/m-... URI.")],
    input_: Annotated[Path, typer.Option(
        "--input", "-i", metavar="HISTORY.csv",
        help="The history: a CSV of series_id,timestamp,value (or date,value for one series), checked as "
             "`run forecast` checks its files; at least as long as the model's lookback needs, no gaps.")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FORECAST.parquet|.csv",
        help="Write the forecast there (Parquet or CSV, by the suffix) instead of printing a table.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the model's settings and the forecast rows (with --output: where they went) as JSON "
                       "on stdout.")] = False,
) -> None:
    """Forecast the next horizon of every series in a history with a registered model, with prediction intervals.

    Prints (or writes) series_id, timestamp, yhat, lower, upper: the timestamps continue each series'
    calendar; lower/upper is the model's split-conformal interval at the level it was trained with
    (evaluate.interval_level). With --json: the model's settings and the forecast rows as JSON on
    stdout (with --output: where they were written). A bad history is one line naming the file, row,
    column and rule, exit code 2. The store is this project's (MLFLOW_TRACKING_URI, else
    artifacts/mlflow); the same model serves over HTTP with `seqflow serve-model --model MODEL_URI`.
    """
    from flows.predict import check_output, predict as forecast, read_history, write_forecast
    from tasks.errors import EnvironmentFault, InputError

    try:
        check_output(output)
        read_history(input_)  # a bad file is refused before MLflow and TensorFlow load
        check_environment(prefect=False)
        from tasks.runtime import import_tensorflow

        import_tensorflow(False)
        made = forecast(model, input_)
        if output is not None:
            write_forecast(made.forecast, output)
    except InputError as exc:
        fail(str(exc))
    except EnvironmentFault as exc:
        fail(str(exc), EXIT_FAILED)
    if as_json:
        print_json(prediction_record(made, output))
        return
    if output is not None:
        console(stderr=True).print(f"wrote {len(made.forecast)} rows to {output}", highlight=False)
        return
    _print_forecast(made, model)


def prediction_record(made: Prediction, output: Path | None) -> dict:
    """What ``--json`` prints: the model and its settings, then the forecast rows (or where they were written)."""
    bundle = made.bundle
    record = {"model_uri": made.model_uri, "cell": bundle["cell"], "horizon": bundle["horizon"],
              "frequency": bundle["frequency"], "interval_level": bundle["interval"]["level"],
              "n_series": int(made.forecast["series_id"].nunique()), "rows": len(made.forecast)}
    if output is not None:
        return {**record, "output": str(output)}
    rows = made.forecast.assign(timestamp=made.forecast["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S"))
    return {**record, "forecast": rows.to_dict(orient="records")}


def _print_forecast(made: Prediction, model: str) -> None:
    """The forecast as a table: one row per series and step, the interval beside the point forecast."""
    from rich.table import Table

    bundle = made.bundle
    n_series = made.forecast["series_id"].nunique()
    level = bundle["interval"]["level"]
    series = "1 series" if n_series == 1 else f"{n_series} series"
    table = Table(title=f"{bundle['cell']}: next {bundle['horizon']} {bundle['frequency']} steps, {level:.0%} interval",
                  caption=f"{series}; {model}")
    for col in ("series_id", "timestamp", "yhat", "lower", "upper"):
        table.add_column(col, justify="left" if col in ("series_id", "timestamp") else "right", no_wrap=True)
    stamps = made.forecast["timestamp"].dt
    fmt = "%Y-%m-%d" if ((stamps.hour == 0) & (stamps.minute == 0)).all() else "%Y-%m-%d %H:%M"
    for row in made.forecast.itertuples(index=False):
        table.add_row(str(row.series_id), row.timestamp.strftime(fmt), f"{row.yhat:.2f}", f"{row.lower:.2f}",
                      f"{row.upper:.2f}")
    console().print(table)
