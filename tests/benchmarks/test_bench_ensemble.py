"""`seqflow bench ensemble`: the M4 Hourly preset with its ensemble, run by the CLI on each runner."""

from __future__ import annotations


def test_the_bench_runs_the_m4_hourly_ensemble_serially_then_on_dask_workers():
    from benchmarks.ensemble import command, overrides_for
    from flows.cli.options import Flow, load
    from tasks import paths

    overrides = overrides_for(3)
    cfg = load(Flow.forecast, paths.configs_dir() / "m4_hourly.toml", overrides)
    assert (cfg.source.kind, cfg.window.horizon, cfg.model.ensemble, cfg.train.epochs) == ("m4", 48, 3, 3)
    dask = command(overrides, ["--runner", "dask", "--workers", "2"])
    assert dask[2:6] == ["flows.cli", "run", "forecast", "--config"] and dask[6].endswith("m4_hourly.toml")
    assert dask[-5:] == ["--json", "--runner", "dask", "--workers", "2"]
    assert overrides_for(None) == ["train.progress=false"]
