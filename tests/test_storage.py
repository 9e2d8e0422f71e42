import numpy as np
import pandas as pd
import pytest

from tasks import storage


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


def test_arrays_round_trip_with_shapes_and_metadata(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "label": np.array(["a", "b", "c"], dtype=object),
        "start": np.array([0, 5, 9], dtype=np.int64),
        "x": rng.normal(size=(3, 4, 2)).astype(np.float32),
        "y": rng.normal(size=(3, 7)).astype(np.float64),
    }
    path = storage.write_arrays(arrays, tmp_path / "w.parquet", {"lookback": "4"})
    back = storage.read_arrays(path)
    assert back.metadata == {"lookback": "4"}
    for name, array in arrays.items():
        np.testing.assert_array_equal(back.arrays[name], array)
        assert back.arrays[name].shape == array.shape
    assert back.arrays["x"].dtype == np.float32


def test_arrays_of_different_lengths_are_refused(tmp_path):
    with pytest.raises(ValueError, match="differ in length"):
        storage.write_arrays({"a": np.zeros(2), "b": np.zeros(3)}, tmp_path / "bad.parquet")


def test_streamed_writes_are_atomic_and_read_back_in_batches(tmp_path):
    path = tmp_path / "s.parquet"
    with storage.frame_writer(path, {"kind": "tokens"}) as write:
        for i in range(5):
            write(pd.DataFrame({"doc_id": [i, i], "n": [i * 10, i * 10 + 1]}))
            assert not path.exists()  # invisible until complete
    assert storage.read_metadata(path) == {"kind": "tokens"}
    batches = list(storage.iter_frames(path, batch_rows=4))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert pd.concat(batches)["n"].tolist() == [0, 1, 10, 11, 20, 21, 30, 31, 40, 41]


def test_a_failed_stream_leaves_nothing(tmp_path):
    path = tmp_path / "s.parquet"
    with pytest.raises(RuntimeError):
        with storage.frame_writer(path) as write:
            write(pd.DataFrame({"a": [1]}))
            raise RuntimeError("source broke mid-stream")
    assert list(tmp_path.iterdir()) == []


def test_arrays_written_part_by_part_read_back_as_one_with_the_metadata_set_last(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {"label": np.array(list("abcde"), dtype=object), "start": np.arange(5, dtype=np.int64),
              "x": rng.normal(size=(5, 4, 1)).astype(np.float32)}
    path = tmp_path / "parts.parquet"
    with storage.arrays_writer(path) as writer:
        writer.write({k: v[:2] for k, v in arrays.items()})
        writer.write({k: v[2:] for k, v in arrays.items()})
        writer.metadata = {"lookback": "4"}
    stored = storage.read_arrays(path)
    assert stored.metadata == {"lookback": "4"} == storage.read_metadata(path)
    assert stored.arrays["x"].shape == (5, 4, 1)
    for name, array in arrays.items():
        np.testing.assert_array_equal(stored.arrays[name], array)


def test_a_failed_part_by_part_write_leaves_nothing(tmp_path):
    path = tmp_path / "parts.parquet"
    with pytest.raises(ValueError, match="shapes"):
        with storage.arrays_writer(path) as writer:
            writer.write({"x": np.zeros((2, 3), dtype=np.float32)})
            writer.write({"x": np.zeros((2, 4), dtype=np.float32)})
    assert list(tmp_path.iterdir()) == []


def test_arrays_are_read_by_part_or_filtered_without_reading_them_whole(tmp_path):
    path = tmp_path / "parts.parquet"
    parts = [{"split": np.array(["train", "test", "train"], dtype=object),
              "x": np.arange(12, dtype=np.float32).reshape(3, 2, 2)},
             {"split": np.array(["test", "validation"], dtype=object),
              "x": np.arange(12, 20, dtype=np.float32).reshape(2, 2, 2)}]
    with storage.arrays_writer(path) as writer:
        for part in parts:
            writer.write(part)
    layout = storage.arrays_layout(path)
    assert (layout.rows, layout.part_rows, layout.shapes) == (5, (3, 2), {"x": (2, 2)})
    assert layout.values(("x", "y")) == 20  # 5 rows of 2 x 2 numbers; no column y
    second = storage.read_arrays_part(path, 1, ["x"])
    assert list(second) == ["x"] and np.array_equal(second["x"], parts[1]["x"])
    test = storage.read_arrays(path, where=("split", "test")).arrays
    assert test["split"].tolist() == ["test", "test"]
    assert np.array_equal(test["x"], np.stack([parts[0]["x"][1], parts[1]["x"][0]]))
