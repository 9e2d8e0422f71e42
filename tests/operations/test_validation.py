import numpy as np
import pandas as pd
import pytest

from tasks.operations.config import ValidationConfig
from tasks.operations.validation import profile, psi, validate


def _frame(n: int = 48, scale_last: float = 1.0, ids=("a", "b")) -> pd.DataFrame:
    parts = []
    for k, sid in enumerate(ids):
        values = 100.0 + 10 * k + np.sin(np.arange(n) / 2) * 5 + np.arange(n) * 0.2
        values[-12:] *= scale_last
        parts.append(pd.DataFrame({"series_id": sid, "timestamp": pd.date_range("2020-01-01", periods=n, freq="MS"),
                                   "value": values}))
    return pd.concat(parts, ignore_index=True)


SETTINGS = ValidationConfig()


def test_fresh_data_with_new_steps_and_no_drift_passes():
    champion = profile(_frame(36), "monthly", 12)
    report = validate(_frame(48), "monthly", champion, SETTINGS)
    assert report.status == "ok", report.summary
    assert report.summary == "2 of 2 series moved forward; no drift beyond the limits"


def test_the_same_data_again_is_no_new_data():
    champion = profile(_frame(48), "monthly", 12)
    report = validate(_frame(48), "monthly", champion, SETTINGS)
    assert report.status == "no_new_data" and "nothing to retrain on" in report.summary


def test_new_steps_count_after_the_newest_data_already_trained_on_even_when_the_champion_is_older():
    champion, latest = profile(_frame(36), "monthly", 12), profile(_frame(48), "monthly", 12)
    assert validate(_frame(48), "monthly", champion, SETTINGS).status == "ok"
    assert validate(_frame(48), "monthly", champion, SETTINGS, latest).status == "no_new_data"


def test_a_series_scaled_three_times_is_drift_named_by_series_and_check():
    champion = profile(_frame(48), "monthly", 24)
    report = validate(_frame(48, scale_last=3.0), "monthly", champion, SETTINGS)
    assert report.status == "failed"
    assert report.summary.startswith("drift in 2 series; ")
    levels = {c.series_id: float(c.value) for c in report.checks if c.check == "level"}
    assert all(v > 1.5 for v in levels.values())


@pytest.mark.parametrize(
    ("fresh", "frequency", "failed_check"),
    [
        (_frame(48, ids=("a",)), "monthly", "series"),
        (_frame(30), "monthly", "rows"),
        (_frame(48), "weekly", "frequency"),
        (_frame(48).rename(columns={"value": "sales"}).rename(columns={"sales": "value"})[["series_id", "value", "timestamp"]],
         "monthly", "schema"),
    ],
)
def test_schema_frequency_missing_series_and_shrinking_rows_fail(fresh, frequency, failed_check):
    champion = profile(_frame(36), "monthly", 12)
    report = validate(fresh, frequency, champion, SETTINGS)
    assert report.status == "failed"
    assert failed_check in {c.check for c in report.failures}


def test_missing_values_are_counted():
    fresh = _frame(48)
    fresh.loc[5, "value"] = np.nan
    report = validate(fresh, "monthly", profile(_frame(36), "monthly", 12), SETTINGS)
    assert [c.check for c in report.failures] == ["missing"]


def test_psi_is_zero_for_the_same_values_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=200)
    assert psi(ref, ref) == pytest.approx(0.0)
    assert psi(ref, ref + 3) > 1.0


def test_psi_gates_only_when_asked():
    champion = profile(_frame(48), "monthly", 24)
    shifted = _frame(60)
    shifted.loc[shifted.groupby("series_id").tail(24).index, "value"] += 4
    assert validate(shifted, "monthly", champion, SETTINGS).status == "ok"
    strict = ValidationConfig(max_psi=0.1)
    assert "psi" in {c.check for c in validate(shifted, "monthly", champion, strict).failures}


def test_the_report_is_markdown_with_every_check():
    report = validate(_frame(48, scale_last=3.0), "monthly", profile(_frame(48), "monthly", 24), SETTINGS)
    text = report.markdown()
    assert text.startswith("**failed**: drift in 2 series")
    assert "| a | level |" in text and "**no**" in text
