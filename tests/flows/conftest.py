"""Fixtures shared by the flow tests' modules."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner


@pytest.fixture(scope="session")
def swept(prefect_harness, tmp_path_factory):
    """One tiny serial sweep (two points of the milk series, two epochs each) and its best preset's path.

    Session-wide so that the suite trains it once: the sweep tests check its record, the Dask test
    compares against its scores and the browser test shows it in the MLflow UI.
    """
    from flows.cli import app
    from tests.flows.test_sweep_flow import _sweep

    folder = tmp_path_factory.mktemp("sweep")
    sweep = _sweep(folder, '"model.units" = [4, 8]')
    result = CliRunner().invoke(app, ["run", "sweep", "--config", str(sweep), "--best", str(folder / "best.toml"),
                                      "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), folder / "best.toml"
