"""Progress of long steps: a terminal gets a live bar; a non-interactive log one line per finished step."""

from __future__ import annotations

import io

from rich.console import Console

from tasks import progress


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
