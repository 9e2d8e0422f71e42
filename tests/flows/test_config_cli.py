"""`seqflow config show FLOW` and the config errors of each flow's run command, which name that listing."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flows.cli import app


@pytest.mark.parametrize(
    ("command", "flow"),
    [(["run", "forecast"], "forecast"), (["run", "demo"], "study"), (["run", "study"], "study"), (["run", "embed"], "embed"),
     (["run", "lesson"], "lesson"), (["config", "show"], "forecast"), (["config", "show", "lesson"], "lesson"),
     (["config", "embed"], "embed")],
)
def test_an_unknown_key_names_the_flows_own_listing(command, flow):
    result = CliRunner().invoke(app, [*command, "--set", "model.window=5"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: config: model.window: unknown key (not a setting of this config; `seqflow config show {flow}` "
        "lists them)")


@pytest.mark.parametrize(
    ("flow", "key", "default"),
    [("forecast", "window.lookback", "32"), ("study", "evaluate.ar_lags", "8"), ("embed", "model.architecture", "skipgram"),
     ("lesson", "sweep.lengths", "10,25,50,100")],
)
def test_config_show_lists_the_named_flows_settings(flow, key, default):
    result = CliRunner().invoke(app, ["config", "show", flow, "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["key"]: row for row in json.loads(result.stdout)}
    assert rows[key]["default"] == default and all(row["comment"] for row in rows.values())


def test_config_show_without_a_flow_is_the_forecast_listing():
    bare = CliRunner().invoke(app, ["config", "show", "--json"])
    named = CliRunner().invoke(app, ["config", "show", "forecast", "--json"])
    assert bare.exit_code == named.exit_code == 0
    assert bare.stdout == named.stdout


def test_config_show_refuses_an_unknown_flow():
    result = CliRunner().invoke(app, ["config", "show", "sine"])
    assert result.exit_code == 2
    assert "'sine' is not one of 'forecast', 'study', 'retrain', 'embed', 'lesson', 'retrain-embed'" in result.output


@pytest.mark.parametrize("flow", ["forecast", "study", "lesson"])
def test_config_show_refuses_what_the_run_would_refuse(flow):
    """A value no C integer holds passed `config show` and crashed the run (issue 23)."""
    result = CliRunner().invoke(app, ["config", "show", flow, "--set", "train.batch_size=10000000000000000000000"])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: config: train.batch_size = 10000000000000000000000: Input should be "
                                     "less than or equal to 1000000")
