"""A fit interrupted after some epochs resumes from its backup and ends as the uninterrupted fit, bit for bit."""

import keras
import numpy as np
import pytest

from tasks.config import load_config
from tasks.nets import resume
from tasks.nets.training import train_cell
from tasks.nets.windowing import build_window_table
from tasks.study.config import StudyConfig
from tasks.study.sine import series_matrix, synthesize_sine

# Early stopping and learning-rate halving both act after the interruption, so their state must carry over.
TINY = ["source.x_end=30", "evaluate.generate_steps=10", "window.lookback=8", "model.units=4", "train.epochs=30", "train.batch_size=16",
        "train.learning_rate=0.05", "train.patience=3", "train.lr_patience=1", "train.progress=false"]


class _Interrupt(keras.callbacks.Callback):
    """Fail as a kill would, at the start of epoch ``at`` (0-based): epochs before it are backed up."""

    def __init__(self, at: int):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt(f"interrupted before epoch {epoch}")


def _parts(cfg):
    w = cfg.window
    table = build_window_table(series_matrix(synthesize_sine(cfg.source, cfg.seed)), w.lookback, w.horizon, w.stride,
                               w.target, cfg.split.train, cfg.split.validation)
    return (*table.part("train"), *table.part("validation"))


def _train(cfg, parts, **kwargs):
    w = cfg.window
    return train_cell("gru", *parts, cfg.model, cfg.train, cfg.seed, w.target, w.horizon, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_an_interrupted_fit_resumes_at_its_saved_epoch_and_ends_bit_for_bit_as_the_uninterrupted_one(tmp_path, dropout):
    """With dropout too: its seed generators' state is among the model's variables the backup keeps."""
    cfg = load_config(StudyConfig, None, [*TINY, f"model.dropout={dropout}"])
    parts = _parts(cfg)
    whole, whole_fit = _train(cfg, parts)
    # Early stopping ends it well before the budget, some epochs after the interruption below.
    stopped = whole_fit.epochs_run
    assert 6 < stopped < cfg.train.epochs, whole_fit.history["val_loss"]
    at = stopped - 3

    backup = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        _train(cfg, parts, backup_dir=backup, extra_callbacks=[_Interrupt(at)])
    saved = resume.latest(backup)
    assert saved is not None and saved.epochs_done == at
    assert [p.name for p in backup.iterdir()] == [f"epoch-{at:05d}"]  # only the last epoch is kept

    seen: list[int] = []
    resumed, resumed_fit = _train(cfg, parts, backup_dir=backup, on_epoch_end=lambda epoch, logs: seen.append(epoch))
    assert seen == list(range(at, stopped))  # only the epochs after the backup were trained
    assert resumed_fit.resumed_from_epoch == at
    assert resumed_fit.epochs_run == stopped and resumed_fit.best_epoch == whole_fit.best_epoch
    assert resumed_fit.history == whole_fit.history
    for a, b in zip(whole.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not backup.exists()  # a finished training deletes its backup


def test_no_backup_folder_trains_from_the_start(tmp_path):
    cfg = load_config(StudyConfig, None, [*TINY, "train.epochs=2"])
    _, fit = _train(cfg, _parts(cfg), backup_dir=tmp_path / "none-yet")
    assert fit.resumed_from_epoch == 0 and fit.epochs_run == 2
    assert not (tmp_path / "none-yet").exists()


def test_a_half_written_epoch_folder_is_ignored(tmp_path):
    (tmp_path / ".partial-00003").mkdir()
    (tmp_path / "epoch-00002").mkdir()  # renamed into place only when whole: this one lacks its state
    assert resume.latest(tmp_path) is None


class _Clock(keras.callbacks.Callback):
    """A clock the backup reads, at two seconds an epoch: set at each epoch's end, before the backup's turn."""

    def __init__(self):
        super().__init__()
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def on_epoch_end(self, epoch, logs=None):
        self.now = 2.0 * (epoch + 1)


def test_a_backup_every_few_seconds_saves_only_epochs_that_end_that_long_after_the_last(tmp_path, monkeypatch):
    cfg = load_config(StudyConfig, None, [*TINY, "train.epochs=9", "train.patience=20", "train.lr_patience=20"])
    parts = _parts(cfg)
    clock = _Clock()
    monkeypatch.setattr(resume, "time", clock)
    backup = tmp_path / "backup"
    # 2 s an epoch, 5 s between backups: after epochs 3 (6 s) and 6 (12 s), not after the others.
    with pytest.raises(KeyboardInterrupt):
        _train(cfg, parts, backup_dir=backup, backup_seconds=5.0, extra_callbacks=[clock, _Interrupt(8)])
    assert resume.latest(backup).epochs_done == 6
    seen: list[int] = []
    _, fit = _train(cfg, parts, backup_dir=backup, backup_seconds=5.0, on_epoch_end=lambda epoch, logs: seen.append(epoch))
    assert fit.resumed_from_epoch == 6 and seen == [6, 7, 8]


@pytest.mark.slow
def test_an_interrupted_streamed_fit_resumes_with_its_epochs_order_and_ends_bit_for_bit(tmp_path):
    """Streamed windows (tasks.nets.streaming): the resumed fit draws the order of the epoch it resumes at."""
    from tasks.nets.streaming import WindowParts
    from tasks.nets.training import train_streamed_cell

    cfg = load_config(StudyConfig, None, [*TINY, "train.epochs=5", "train.patience=10"])
    x, y, x_val, y_val = _parts(cfg)

    def parts(a, b, n):
        edges = np.linspace(0, len(a), n + 1).astype(int)
        return WindowParts(lambda k: (a[edges[k]:edges[k + 1]], b[edges[k]:edges[k + 1]]), tuple(np.diff(edges)),
                           a.shape[1:], b.shape[1:])

    def train(**kwargs):
        w = cfg.window
        return train_streamed_cell("gru", parts(x, y, 6), parts(x_val, y_val, 2), cfg.model, cfg.train, cfg.seed,
                                   w.target, w.horizon, **kwargs)

    whole, whole_fit = train()
    backup = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        train(backup_dir=backup, extra_callbacks=[_Interrupt(3)])
    resumed, resumed_fit = train(backup_dir=backup)
    assert resumed_fit.resumed_from_epoch == 3 and resumed_fit.epochs_run == whole_fit.epochs_run == 5
    assert resumed_fit.history == whole_fit.history
    assert all(np.array_equal(a, b) for a, b in zip(whole.get_weights(), resumed.get_weights(), strict=True))
