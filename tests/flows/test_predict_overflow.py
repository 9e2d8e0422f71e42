"""``seqflow predict`` never returns ±inf with exit 0: a history near float64's limit is refused in one
line, exit 2, nothing written (issue 23, item 7). The forecaster is the one logged before the re-cut
(``tests/fixtures``), so no training is needed."""

from __future__ import annotations

import csv
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tasks import paths

FIXTURE = Path(__file__).parents[1] / "fixtures" / "models-logged-at-0952109.tar.gz"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("old-models")
    with tarfile.open(FIXTURE) as archive:
        archive.extractall(folder, filter="data")
    return folder / "forecaster"


def _scaled_history(tmp_path: Path, top: float) -> Path:
    """The shipped sales series rescaled so that its largest value is ``top``."""
    rows = list(csv.reader((paths.PROJECT_ROOT / "data" / "alcohol-sales.csv").open()))
    largest = max(float(r[1]) for r in rows[1:])
    path = tmp_path / "huge.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(rows[0])
        writer.writerows([r[0], repr(float(r[1]) / largest * top)] for r in rows[1:])
    return path


def test_a_history_near_the_float64_limit_is_refused_not_forecast_as_inf(forecaster, tmp_path, artifacts_root):
    history = _scaled_history(tmp_path, 1.7e308)
    output = tmp_path / "forecast.csv"
    result = CliRunner().invoke(app, ["predict", "--model", str(forecaster), "--input", str(history),
                                      "--output", str(output)])
    assert result.exit_code == 2, result.output
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        f"error: {history}: series 'huge': the forecast for 2019-02-01 00:00:00 is not a finite number (its values "
        "reach 1.7e+308, too near float64's limit of about 1.8e308 for the model's arithmetic); rescale the series "
        "(e.g. divide it by a power of ten) and forecast again"]
    assert not output.exists()


def test_the_same_history_rescaled_forecasts_finite_numbers(forecaster, tmp_path, artifacts_root):
    from flows.predict import predict

    made = predict(str(forecaster), _scaled_history(tmp_path, 1.7e300))
    assert made.forecast[["yhat", "lower", "upper"]].notna().all().all()
    assert (made.forecast["yhat"].abs() < 1e306).all()
