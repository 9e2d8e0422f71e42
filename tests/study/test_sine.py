import numpy as np
import pandas as pd
import pytest

from tasks.study.config import SineSource
from tasks.study.sine import series_matrix, synthesize_sine, x_axis


def test_sine_matches_the_formula_in_the_long_layout():
    src = SineSource(amplitude=2.0, frequency=0.5, phase=0.3, x_start=1.0, x_end=3.0, resolution=0.5)
    frame = synthesize_sine(src, seed=0)
    assert list(frame.columns) == ["series_id", "timestamp", "value"]
    np.testing.assert_allclose(x_axis(src), [1.0, 1.5, 2.0, 2.5])
    np.testing.assert_allclose(frame["value"], 2.0 * np.sin(0.5 * x_axis(src) + 0.3))
    assert frame["timestamp"].dt.strftime("%H:%M:%S").tolist() == ["00:00:00", "00:00:01", "00:00:02", "00:00:03"]


def test_noise_is_seeded():
    src = SineSource(noise_std=0.2)
    a, b, c = synthesize_sine(src, 1), synthesize_sine(src, 1), synthesize_sine(src, 2)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["value"], c["value"])
    assert np.std(a["value"] - np.sin(x_axis(src))) == pytest.approx(0.2, rel=0.1)


def test_series_matrix_orders_by_timestamp_and_rejects_gaps():
    stamps = pd.to_datetime(["2000-01-03", "2000-01-01", "2000-01-02"])
    frame = pd.DataFrame({"series_id": "s", "timestamp": stamps, "value": [3.0, 1.0, 2.0]})
    assert series_matrix(frame)[:, 0].tolist() == [1.0, 2.0, 3.0]
    frame.loc[1, "value"] = np.nan
    with pytest.raises(ValueError, match="series 's': value at row 0 is nan; values must be finite"):
        series_matrix(frame)
