"""docs/cli.md is the CLI's own --help and settings listings, regenerated whenever they change."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import reference
from flows.cli.options import Flow

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_docs_cli_md_is_current():
    if not PAGE.is_file() or PAGE.read_text(encoding="utf-8") != reference.render():
        pytest.fail(f"{PAGE.name} is not what the CLI says now: run `{reference.REGENERATE}` "
                    "(python -m flows.cli.reference docs/cli.md) and commit docs/cli.md")


def test_the_page_has_every_command_and_every_flows_settings():
    page = reference.render()
    paths = [path for path, _ in reference.commands()]
    for expected in ("seqflow", "seqflow run forecast", "seqflow run embed", "seqflow run lesson", "seqflow predict",
                     "seqflow config show", "seqflow server stop", "seqflow ui", "seqflow bench forecast"):
        assert expected in paths
    for path in paths:
        assert f"## `{path}`\n\n```text\nUsage: {path} " in page
    for flow in Flow:
        assert f"## `seqflow config show {flow.value}`\n\n| key | default | meaning |" in page
    assert "| `window.lookback` | 32 | input steps the model sees per window |" in page


def test_writing_replaces_the_page_whole(tmp_path):
    page = tmp_path / "cli.md"
    page.write_text("an old page\n")
    reference.write(page)
    assert page.read_text(encoding="utf-8") == reference.render()
    assert [p.name for p in tmp_path.iterdir()] == ["cli.md"]  # no temporary file left beside it
