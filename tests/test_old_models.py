"""Models logged and registered by seqflow before its re-cut (commit 0952109) still load and predict the same numbers.

The fixture holds two models exactly as the old code logged them (less the lock file each carries):
the served sales forecaster (five GRU members, its bundle and the old ``tasks`` package as its code)
and the sine study's ``manual_rnn`` window model, and what each predicted when loaded by the old code
(``expected.json``). They are loaded here in a process that has already imported today's ``tasks``,
as ``seqflow predict`` does: the modules their MLmodel names must still resolve.

Bit for bit, they are compared with the same models loaded on this machine in a fresh interpreter
that cannot import today's ``tasks`` (only each model's own ``code/``): float32 kernels round
differently on different CPUs (an AMD EPYC with AVX-512 gives 15120.77924704145 where the machine that
logged the fixture gave 15120.778290323873, old code and new alike), so ``expected.json`` is held to
float32's precision, the isolated old code to every bit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tasks import paths

FIXTURE = Path(__file__).parent / "fixtures" / "models-logged-at-0952109.tar.gz"
FLOAT32 = 2e-6  # relative: a few float32 rounding steps, what another CPU's kernels may differ by

pytestmark = pytest.mark.slow

# Run in a fresh interpreter: the project's root (which the editable install puts on sys.path) is
# taken off the path first, so the models import the old ``tasks`` from their own ``code/``.
ISOLATED = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    root, folder = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != root]
    import mlflow, numpy as np, pandas as pd
    forecaster = mlflow.pyfunc.load_model(str(folder / "forecaster"))
    forecast = forecaster.predict(pd.read_parquet(folder / "history.parquet"))
    window = mlflow.pyfunc.load_model(str(folder / "window-manual_rnn"))
    expected = json.loads((folder / "expected.json").read_text())
    out = np.asarray(window.predict(np.asarray(expected["window_input"], dtype=np.float64)), dtype=np.float64)
    import tasks
    print(json.dumps({"tasks": tasks.__file__, "window_output": out.tolist(),
                      "forecaster": {c: [str(v) for v in forecast[c]] for c in ("yhat", "lower", "upper")}}))
""")


@pytest.fixture(scope="module")
def old_models(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("old-models")
    with tarfile.open(FIXTURE) as archive:
        archive.extractall(folder, filter="data")
    return folder


@pytest.fixture(scope="module")
def isolated(old_models) -> dict:
    """What the old models predict on this machine with only their own code: the bit-for-bit reference."""
    from tasks.forecasting.sources import tabular

    history = tabular.read_series_csv(paths.PROJECT_ROOT / "data" / "alcohol-sales.csv").frame
    history.to_parquet(old_models / "history.parquet")
    done = subprocess.run([sys.executable, "-c", ISOLATED, str(paths.PROJECT_ROOT), str(old_models)],
                          capture_output=True, text=True, timeout=600, cwd=old_models)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(found["tasks"]).is_relative_to(old_models), found["tasks"]  # the old code, not today's
    return found


def test_the_models_name_modules_that_have_moved_since(old_models):
    forecaster = (old_models / "forecaster" / "MLmodel").read_text()
    assert "- tasks.forecasting.cells" in forecaster and "serving_module: tasks.forecasting.serving" in forecaster
    assert not (paths.PROJECT_ROOT / "tasks" / "forecasting" / "cells.py").read_text().count("class ")


def test_an_old_served_forecaster_forecasts_exactly_what_it_did(old_models, isolated):
    import tasks  # today's package is imported first, as in `seqflow predict`
    from flows.predict import predict

    assert Path(tasks.__file__).parent == paths.PROJECT_ROOT / "tasks"
    expected = json.loads((old_models / "expected.json").read_text())["forecaster"]
    got = predict(str(old_models / "forecaster"), paths.PROJECT_ROOT / "data" / "alcohol-sales.csv").forecast
    assert [str(t) for t in got["timestamp"]] == expected["timestamp"]
    for column in ("yhat", "lower", "upper"):
        assert [str(v) for v in got[column]] == isolated["forecaster"][column], column
        np.testing.assert_allclose(got[column].to_numpy(), np.asarray(expected[column], dtype=float), rtol=FLOAT32)


def test_an_old_window_model_of_a_hand_built_cell_predicts_exactly_what_it_did(old_models, isolated):
    from tasks.tracking import models

    expected = json.loads((old_models / "expected.json").read_text())
    model = models.load_model(str(old_models / "window-manual_rnn"))
    out = np.asarray(model.predict(np.asarray(expected["window_input"], dtype=np.float64)), dtype=np.float64)
    np.testing.assert_array_equal(out, np.asarray(isolated["window_output"]))
    np.testing.assert_allclose(out, np.asarray(expected["window_output"]), rtol=FLOAT32)
