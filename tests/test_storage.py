import numpy as np
import pandas as pd
import pytest

from tasks import storage
from tasks.forecasting.windowing import build_window_table


def test_frames_round_trip_and_hash_by_content(tmp_path):
    frame = pd.DataFrame({"series_id": "a", "t": [0.0, 1.0], "value": [1.5, 2.5]})
    p1 = storage.write_frame(frame, tmp_path / "x" / "a.parquet")
    p2 = storage.write_frame(frame.copy(), tmp_path / "b.parquet")
    pd.testing.assert_frame_equal(storage.read_frame(p1), frame)
    assert storage.content_hash(p1) == storage.content_hash(p2)
    storage.write_frame(frame.assign(value=[1.5, 2.6]), p2)
    assert storage.content_hash(p1) != storage.content_hash(p2)


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    path = storage.write_frame(pd.DataFrame({"v": [1]}), tmp_path / "f.parquet")
    with pytest.raises(Exception):
        storage.write_frame(pd.DataFrame({"v": [object()]}), path)  # pyarrow cannot convert
    assert storage.read_frame(path)["v"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["f.parquet"]


def test_windows_round_trip_with_shapes_and_metadata(tmp_path):
    values = np.sin(np.arange(300) * 0.2).reshape(-1, 1)
    table = build_window_table(values, 12, 3, 2, "horizon", 0.6, 0.2)
    back = storage.read_windows(storage.write_windows(table, tmp_path / "w.parquet"))
    np.testing.assert_array_equal(back.x, table.x)
    np.testing.assert_array_equal(back.y, table.y)
    np.testing.assert_array_equal(back.start, table.start)
    assert back.split.tolist() == table.split.tolist()
    assert back.metadata["target"] == "horizon" and back.bounds == table.bounds
    np.testing.assert_allclose(back.scaler.mean, table.scaler.mean)
