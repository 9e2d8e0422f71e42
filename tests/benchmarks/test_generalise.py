"""The generalisation bench's own arithmetic: the M4 sample, the per-series table and the win counts."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from benchmarks import generalise


def test_an_m4_sample_keeps_each_drawn_row_with_its_own_test_row(tmp_path):
    train, test = tmp_path / "Weekly-train.csv", tmp_path / "Weekly-test.csv"
    train.write_text('"V1","V2","V3"\n' + "".join(f'"W{i}","{i}","{i + 1}"\n' for i in range(1, 11)))
    test.write_text('"V1","V2"\n' + "".join(f'"W{i}","{100 + i}"\n' for i in range(10, 0, -1)))
    a = generalise.sample_m4(train, test, 4, 7, tmp_path / "out")
    b = generalise.sample_m4(train, test, 4, 7, tmp_path / "again")
    assert a[0].read_text() == b[0].read_text()  # seeded
    rows = a[0].read_text().splitlines()
    tests = a[1].read_text().splitlines()
    assert rows[0] == '"V1","V2","V3"' and len(rows) == 5
    assert [r.split(",")[0] for r in rows[1:]] == [t.split(",")[0] for t in tests[1:]]
    assert all(t.split(",")[1] == f'"{100 + int(t.split(",")[0][2:-1])}"' for t in tests[1:])


def test_another_seed_draws_another_sample_into_files_of_its_own(tmp_path):
    train, test = tmp_path / "Weekly-train.csv", tmp_path / "Weekly-test.csv"
    train.write_text('"V1","V2"\n' + "".join(f'"W{i}","{i}"\n' for i in range(1, 41)))
    test.write_text('"V1","V2"\n' + "".join(f'"W{i}","{100 + i}"\n' for i in range(1, 41)))
    default = generalise.sample_m4(train, test, 5, generalise.SAMPLE_SEED, tmp_path)
    other = generalise.sample_m4(train, test, 5, 2027, tmp_path)
    assert default[0].name == "Weekly5-train.csv" and other[0].name == "Weekly5-seed2027-train.csv"
    assert default[0].read_text() != other[0].read_text()  # the default sample is not overwritten


def test_wins_ties_and_means_against_each_rival():
    scores = pd.DataFrame([
        {"series_id": sid, "model": model, "fold": fold, "mase": value}
        for sid, values in {"a": {"auto": 0.5, "seasonal_naive": 0.7, "holt_winters": 0.5, "holt_winters_damped": 0.4,
                                  "theta": 0.9, "gru-level": 0.6},
                            "b": {"auto": 1.0, "seasonal_naive": 1.2, "holt_winters": 1.5, "holt_winters_damped": 1.1,
                                  "theta": 0.8, "gru-level": 2.0}}.items()
        for model, value in values.items() for fold in (0, 1)])
    scores.loc[scores["fold"] == 1, "mase"] = 99.0  # only the latest origin counts
    table = generalise.series_table(scores, "toy")
    assert table["best_network_by_test"].tolist() == [0.6, 2.0]
    wins = generalise.win_counts(table)
    assert (wins["seasonal_naive"]["won"], wins["seasonal_naive"]["share_won"]) == (2, 1.0)
    assert (wins["holt_winters"]["won"], wins["holt_winters"]["tied"], wins["holt_winters"]["lost"]) == (1, 1, 0)
    assert (wins["holt_winters_damped"]["won"], wins["holt_winters_damped"]["lost"]) == (1, 1)
    assert wins["theta"]["mean_mase_auto"] == pytest.approx(0.75)
    assert wins["theta"]["mean_mase_rival"] == pytest.approx(0.85)
    assert np.isfinite(wins["theta"]["share_won"])


def test_the_cli_samples_with_the_bench_seed_by_default():
    from flows.cli import bench

    assert inspect.signature(bench.forecast).parameters["seed"].default == generalise.SAMPLE_SEED


def test_a_kept_run_without_its_inner_folds_is_replayed_on_the_origins_it_kept():
    forecasts = pd.DataFrame({"fold": [0, 0, 1, 2, 3, 4, 4], "yhat": 0.0})
    assert generalise.kept_inner_folds({"folds": 1}, forecasts) == 4
    assert generalise.kept_inner_folds({"folds": 2}, forecasts) == 3
