"""Models logged and registered by seqflow before its re-cut (commit 0952109) still load and predict the same numbers.

The fixture holds two models exactly as the old code logged them (less the lock file each carries):
the served sales forecaster (five GRU members, its bundle and the old ``tasks`` package as its code)
and the sine study's ``manual_rnn`` window model, and what each predicted when loaded by the old code
(``expected.json``). They are loaded here in a process that has already imported today's ``tasks``,
as ``seqflow predict`` does: the modules their MLmodel names must still resolve.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from tasks import paths

FIXTURE = Path(__file__).parent / "fixtures" / "models-logged-at-0952109.tar.gz"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def old_models(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("old-models")
    with tarfile.open(FIXTURE) as archive:
        archive.extractall(folder, filter="data")
    return folder


def test_the_models_name_modules_that_have_moved_since(old_models):
    forecaster = (old_models / "forecaster" / "MLmodel").read_text()
    assert "- tasks.forecasting.cells" in forecaster and "serving_module: tasks.forecasting.serving" in forecaster
    assert not (paths.PROJECT_ROOT / "tasks" / "forecasting" / "cells.py").read_text().count("class ")


def test_an_old_served_forecaster_forecasts_exactly_what_it_did(old_models):
    import tasks  # today's package is imported first, as in `seqflow predict`
    from flows.predict import predict

    assert Path(tasks.__file__).parent == paths.PROJECT_ROOT / "tasks"
    expected = json.loads((old_models / "expected.json").read_text())["forecaster"]
    got = predict(str(old_models / "forecaster"), paths.PROJECT_ROOT / "data" / "alcohol-sales.csv").forecast
    assert [str(t) for t in got["timestamp"]] == expected["timestamp"]
    for column in ("yhat", "lower", "upper"):
        assert [str(v) for v in got[column]] == expected[column], column


def test_an_old_window_model_of_a_hand_built_cell_predicts_exactly_what_it_did(old_models):
    from tasks.tracking import models

    expected = json.loads((old_models / "expected.json").read_text())
    model = models.load_model(str(old_models / "window-manual_rnn"))
    out = np.asarray(model.predict(np.asarray(expected["window_input"], dtype=np.float64)), dtype=np.float64)
    np.testing.assert_array_equal(out, np.asarray(expected["window_output"]))
