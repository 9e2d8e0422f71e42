"""Progress of long steps: a terminal gets a live bar; a log gets one line per finished step, with the
count, the share, the elapsed time and an ETA."""

from __future__ import annotations

import io

from rich.console import Console

from tasks import progress
from tasks.progress import LineProgress, eta_line, seconds_left, step_progress


def test_an_eta_line_says_count_share_elapsed_and_time_left_at_the_pace_so_far():
    assert eta_line("score-baselines", 120, 400, 12.0) == "score-baselines: 120/400 (30%), 12 s, about 28 s left"
    assert eta_line("gru", 3, 10, 4.5, "epochs", "loss 1.00e-02") == (
        "gru: 3/10 epochs (30%), 4.5 s, about 10 s left, loss 1.00e-02")
    assert eta_line("evaluate", 10, 10, 125.0) == "evaluate: 10/10 (100%), 2 min 05 s, done"


def test_in_a_log_a_line_comes_at_most_every_few_seconds_and_for_the_last_step():
    now = [0.0]
    out = io.StringIO()
    lines = LineProgress("score-baselines", 5, every=5.0, stream=out, clock=lambda: now[0])
    for done, at in enumerate((1.0, 2.0, 7.0, 8.0, 9.0), start=1):
        now[0] = at
        lines.update(done)
    # The pace leaves out the first step (its warm-up): 6 s for steps 2 and 3, so 3 s a step.
    assert out.getvalue().splitlines() == [
        "score-baselines: 3/5 (60%), 7.0 s, about 6.0 s left",
        "score-baselines: 5/5 (100%), 9.0 s, done",
    ]


def test_the_time_left_leaves_the_first_steps_warm_up_out_of_the_pace():
    # The first epoch took 21 s (tracing), the next ones 1 s each: 190 epochs left take 190 s, not 50 min.
    assert seconds_left(10, 200, 30.0, 21.0) == 190.0
    assert seconds_left(1, 200, 21.0, 21.0) == 21.0 * 199
    assert seconds_left(5, 5, 9.0, 1.0) is None and seconds_left(0, 5, 1.0, None) is None


def test_in_a_log_work_done_within_the_interval_prints_nothing():
    now = [0.0]
    out = io.StringIO()
    lines = LineProgress("score-baselines", 3, every=5.0, stream=out, clock=lambda: now[0])
    for done in (1, 2, 3):
        now[0] = done
        lines.update(done)
    assert out.getvalue() == ""


def test_step_progress_off_or_empty_prints_nothing(capsys):
    for enabled, total in ((False, 10), (True, 0)):
        with step_progress("x", total, enabled=enabled) as advance:
            advance(1)
    assert capsys.readouterr().err == ""


def test_step_progress_without_a_terminal_writes_lines_not_a_bar(capsys):
    with step_progress("evaluate", 2, "series", every=0.0) as advance:
        advance(1)
        advance(2)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith("evaluate: 1/2 series (50%), ") and err[1].endswith(", done")


def _console(monkeypatch, terminal: bool, report_after: float = 0.0) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(progress, "_console", Console(file=out, force_terminal=terminal, width=100))
    monkeypatch.setattr(progress, "REPORT_AFTER_SECONDS", report_after)
    return out


def test_a_log_file_gets_one_line_when_the_step_ends(monkeypatch):
    out = _console(monkeypatch, terminal=False)
    with progress.work_bar("t-SNE of 2,000 words", 1_000, "iterations") as update:
        for done in (50, 500, 1_000):
            update(done)
        assert out.getvalue() == ""  # nothing while it runs: no redraws in a log
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("t-SNE of 2,000 words: 1,000/1,000 iterations in "), lines


def test_an_unknown_total_is_reported_as_what_was_done(monkeypatch):
    out = _console(monkeypatch, terminal=False)
    with progress.work_bar("tokenize", None, "bytes") as update:
        update(12_345)
    assert out.getvalue().startswith("tokenize: 12,345 bytes in ")


def test_a_terminal_gets_a_bar_with_the_time_left_then_the_finished_line(monkeypatch):
    out = _console(monkeypatch, terminal=True)
    with progress.work_bar("evaluate", 5, "measurements") as update:
        update(2)
    shown = out.getvalue()
    assert "evaluate" in shown and "2/5" in shown and "measurements" in shown
    assert "evaluate: 2/5 measurements in " in shown


def test_a_quick_step_leaves_no_line_so_a_refusal_after_it_stays_one_line(monkeypatch):
    out = _console(monkeypatch, terminal=False, report_after=60.0)
    with progress.work_bar("tokenize", 100, "bytes read") as update:
        update(100)
    assert out.getvalue() == ""


def test_a_disabled_bar_writes_nothing(monkeypatch):
    out = _console(monkeypatch, terminal=False)
    with progress.work_bar("quiet", 3, "steps", enabled=False) as update:
        update(3)
    assert out.getvalue() == ""
