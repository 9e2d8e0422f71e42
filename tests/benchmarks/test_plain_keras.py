"""The benchmark's yardstick trains exactly what the flow would, on the same windows."""

import json

import pytest

from benchmarks import plain_keras
from tasks.config import load_config
from tasks.study.config import StudyConfig


@pytest.mark.parametrize("how", ["seqflow", "keras"])
def test_yardstick_trains_every_cell_on_the_flow_windows(tmp_path, capsys, how):
    cfg = load_config(StudyConfig, None, ["source.x_end=30", "window.lookback=8", "model.units=4", "train.epochs=2",
                             "train.patience=2", "model.cells=rnn,manual_rnn", "evaluate.generate_steps=10"])
    path = tmp_path / "cfg.json"
    path.write_text(cfg.model_dump_json())
    plain_keras.main(str(path), how)
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out["cells"]) == {"rnn", "manual_rnn"}
    for cell in out["cells"].values():
        assert cell["epochs"] == 2
        # 300 points, 70 % train, lookback 8, horizon 1: 210 - 9 + 1 = 202 training windows per epoch.
        assert round(cell["train_samples_per_second"] * cell["fit_seconds"]) == 2 * 202
