"""`seqflow bench sweep`: the sweep it writes is 8 checked points of the quick milk preset."""

from __future__ import annotations

import json

from tasks import paths


def test_the_bench_sweep_is_eight_checked_points_of_milk_with_one_network_each(tmp_path):
    from benchmarks.sweep import write_sweep
    from flows.cli.sweep import plan_sweep

    plan = plan_sweep(write_sweep(tmp_path, epochs=3))
    assert len(plan.points) == len({json.dumps(p, sort_keys=True) for p in plan.points}) == 8
    assert {c.model.cells for c in plan.configs} == {("gru",), ("lstm",)}
    assert {c.model.units for c in plan.configs} == {4, 8}
    assert {c.window.lookback for c in plan.configs} == {12, 24}
    assert {(c.model.ensemble, c.train.epochs, c.window.horizon) for c in plan.configs} == {(1, 3, 12)}
    assert {c.source.path for c in plan.configs} == {str(paths.PROJECT_ROOT / "data" / "monthly-milk.csv")}


def test_the_bench_sweep_can_train_the_presets_own_ensemble_per_point(tmp_path):
    from benchmarks.sweep import write_sweep
    from flows.cli.sweep import plan_sweep

    plan = plan_sweep(write_sweep(tmp_path, epochs=3, ensemble=5))
    assert len(plan.configs) == 8
    assert {c.model.ensemble for c in plan.configs} == {5}
