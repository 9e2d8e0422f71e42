"""The CLI's edges: fast help, one-line errors with exit code 2, nothing left RUNNING."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from flows.cli import app


def test_help_does_not_import_tensorflow_prefect_or_mlflow():
    code = (
        "import sys; from typer.testing import CliRunner; from flows.cli import app; "
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output; "
        "print(sorted(m for m in ('tensorflow', 'prefect', 'mlflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_the_commands():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "ui", "bench"):
        assert command in result.stdout
    run_help = CliRunner().invoke(app, ["run", "forecast", "--help"])
    assert "--set" in run_help.stdout and "--json" in run_help.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forecast", "--set", "model.cells=lstm,bogus"], "unknown cell 'bogus'; valid cells: rnn, lstm, gru, manual_rnn"),
        (["forecast", "--set", "window.lookback=0"], "window.lookback = 0: Input should be greater than 0"),
        (["forecast", "--set", "split.validation=2"], "split.validation = 2: Input should be less than 1"),
        (["study", "--set", "window.horizon=5000"], "window.horizon: lookback 32 + horizon 5000"),
        (["study", "--set", "train.epoch=3"], "train.epoch: unknown key (not a setting of this config; "
                                              "`seqflow config show study` lists them)"),
        (["forecast", "--set", "train.epoch=3"], "`seqflow config show forecast` lists them"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_starts_no_run(args, message, artifacts_root):
    from pathlib import Path

    result = CliRunner().invoke(app, ["run", *args])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: config: ")
    assert message in lines[0]
    # Validation happens before Prefect or MLflow start: no run exists to be left RUNNING.
    db = Path(artifacts_root) / "mlflow" / "mlflow.db"
    if db.exists():
        from mlflow.tracking import MlflowClient

        client = MlflowClient(f"sqlite:///{db}")
        ids = [e.experiment_id for e in client.search_experiments()]
        assert not [r for r in client.search_runs(ids) if r.info.status == "RUNNING"]


def test_version_and_config_show():
    version = CliRunner().invoke(app, ["--version"])
    assert version.exit_code == 0 and version.stdout.startswith("seqflow ")
    shown = CliRunner().invoke(app, ["config", "show", "--set", "window.lookback=24", "--json"])
    assert shown.exit_code == 0, shown.output
    import json

    rows = {row["key"]: row for row in json.loads(shown.stdout)}
    assert rows["window.lookback"] == {"key": "window.lookback", "value": "24", "default": "32",
                                       "comment": "input steps the model sees per window"}
    assert "seqflow config show" in CliRunner().invoke(app, ["run", "forecast", "--help"]).stdout


def test_config_on_a_directory_says_so(tmp_path):
    result = CliRunner().invoke(app, ["run", "forecast", "--config", str(tmp_path)])
    assert result.exit_code == 2
    assert f"error: config: --config {tmp_path}: is a directory" in result.stderr


@pytest.mark.parametrize("command", [["bench"], ["bench", "forecast"], ["bench", "embed"]])
def test_bench_outside_a_source_checkout_is_one_line_exit_2(command, monkeypatch):
    # An installed wheel has no benchmarks package: None in sys.modules makes every import of it fail.
    for name in [m for m in sys.modules if m == "benchmarks" or m.startswith("benchmarks.")] + ["benchmarks"]:
        monkeypatch.setitem(sys.modules, name, None)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: seqflow bench: the benchmarks run from a source checkout (the benchmarks/ folder beside flows/ and "
        "tasks/); an installed seqflow does not include them")


def test_the_wheel_packages_the_product_without_the_benchmarks():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["flows", "tasks"]
    assert project["project"]["scripts"]["seqflow"] == "flows.cli:main"
