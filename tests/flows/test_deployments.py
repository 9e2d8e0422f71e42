"""The deployments file and prefect.yaml: every entry checked before anything is served."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows.deployments import read_deployments
from flows.retrain import RetrainConfig
from flows.retrain_embed import RetrainEmbedConfig
from tasks import paths
from tasks.config import load_config
from tasks.errors import InputError


def test_the_shipped_deployments_load_with_their_flows_configs():
    specs = read_deployments(paths.PROJECT_ROOT / "flows" / "deployments.toml", paths.PROJECT_ROOT)
    assert [(s.name, s.flow, s.cron) for s in specs] == [("sales-retrain-nightly", "retrain", "0 2 * * *"),
                                                          ("embeddings-weekly", "retrain-embed", "0 3 * * 0")]
    assert isinstance(specs[0].config, RetrainConfig) and specs[0].config.registered_name == "forecast-alcohol-sales"
    assert isinstance(specs[1].config, RetrainEmbedConfig) and specs[1].config.registered_name == "embed-text8-prefix"


def test_prefect_yaml_runs_the_gated_embeddings_retrain():
    deployment = yaml.safe_load((paths.PROJECT_ROOT / "prefect.yaml").read_text())["deployments"][1]
    assert deployment["entrypoint"] == "flows/retrain_embed.py:retrain_embed" and deployment["concurrency_limit"] == 1
    assert RetrainEmbedConfig.model_validate(deployment["parameters"]["cfg"]).gate.metric == "wordsim353_spearman"


def test_prefect_yaml_carries_the_sales_preset_as_the_retrains_config():
    deployment = yaml.safe_load((paths.PROJECT_ROOT / "prefect.yaml").read_text())["deployments"][0]
    assert deployment["entrypoint"] == "flows/retrain.py:retrain" and deployment["concurrency_limit"] == 1
    assert RetrainConfig.model_validate(deployment["parameters"]["cfg"]) == load_config(
        RetrainConfig, paths.configs_dir() / "sales.toml", ["train.progress=false"])


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('name = "a"\nflow = "retrain"\ncron = "0 2 * * *"\ninterval = 600',
         'deployment 1 (\'a\'): give exactly one schedule, cron = "..." or interval = SECONDS'),
        ('name = "a"\nflow = "train"\ncron = "0 2 * * *"', "deployment 1 ('a'): flow = 'train'; valid flows: retrain, "
                                                          "forecast, embed, study, lesson"),
        ('name = "a"\nflow = "retrain"\ncron = "every night"', "deployment 1 ('a'): cron = 'every night' is not a cron"),
        ('name = "a"\nflow = "retrain"\ninterval = 5', "deployment 1 ('a'): interval = 5: seconds, at least 60"),
        ('name = "a"\nflow = "retrain"\ncron = "0 2 * * *"\nset = ["window.lookbak=3"]',
         "deployment 1 ('a'): window.lookbak: unknown key (not a setting of this config; `seqflow config show retrain`"),
        ('name = "a"\nflow = "retrain"\ncron = "0 2 * * *"\nschedule = "x"', "deployment 1 ('a'): unknown key 'schedule'"),
        ('flow = "retrain"\ncron = "0 2 * * *"', "deployment 1: name is required"),
    ],
)
def test_a_bad_entry_is_refused_naming_it_and_the_rule(tmp_path: Path, entry, message):
    path = tmp_path / "deployments.toml"
    path.write_text(f"[[deployment]]\n{entry}\n")
    with pytest.raises(InputError) as info:
        read_deployments(path, paths.PROJECT_ROOT)
    assert message in str(info.value) and str(path) in str(info.value)


def test_serve_refuses_a_bad_file_in_one_line_before_any_server_starts(tmp_path: Path):
    from typer.testing import CliRunner

    from flows.cli import app

    path = tmp_path / "deployments.toml"
    path.write_text("[[deployment]]\nname = 'x'\n")
    result = CliRunner().invoke(app, ["serve", "--config", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: deployment 1 ('x'): flow = None; valid flows: retrain, forecast, embed, study, lesson, "
        "retrain-embed"]
