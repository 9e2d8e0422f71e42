"""The embeddings commands' edges that need no flow run: help, settings, config errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flows.cli import app


def test_help_names_the_embeddings_commands():
    assert "embed" in CliRunner().invoke(app, ["bench", "--help"]).stdout
    run_help = CliRunner().invoke(app, ["run", "embed", "--help"]).stdout
    for text in ("--corpus", "--set", "--json", "seqflow config show embed"):
        assert text in run_help
    assert "embed" in CliRunner().invoke(app, ["config", "--help"]).stdout


@pytest.mark.parametrize("command", [["config", "show", "embed"], ["config", "embed"]])
def test_config_show_embed_lists_every_setting_with_its_meaning(command):
    shown = CliRunner().invoke(app, [*command, "--set", "model.architecture=cbow", "--json"])
    assert shown.exit_code == 0, shown.output
    rows = {row["key"]: row for row in json.loads(shown.stdout)}
    assert rows["model.architecture"] == {
        "key": "model.architecture", "value": "cbow", "default": "skipgram",
        "comment": "skipgram: predict context from word; cbow: word from context"}
    assert rows["tracking.experiment"]["value"] == "seqflow-embed"
    assert all(row["comment"] for row in rows.values())


def test_a_bad_setting_is_one_line_naming_the_embeddings_settings_list():
    result = CliRunner().invoke(app, ["run", "embed", "--set", "model.window=5"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: config: model.window: unknown key (not a setting of this config; `seqflow config show embed` lists "
        "them)")
    result = CliRunner().invoke(app, ["run", "embed", "--set", "model.architecture=glove"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: config: model.architecture = 'glove': Input should be 'skipgram' or 'cbow'")


def test_prefects_console_drops_a_refused_inputs_records_and_only_those():
    import io
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    from flows.cli import embed
    from tasks.errors import InputError

    root = logging.getLogger()
    console, other = PrefectConsoleHandler(stream=io.StringIO()), logging.StreamHandler(io.StringIO())
    root.addHandler(console)
    root.addHandler(other)
    try:
        embed.hide_input_errors_from_prefect_console()
        embed.hide_input_errors_from_prefect_console()  # a second run in the same process adds nothing
        assert [type(f) for f in console.filters] == [embed.HideInputErrors] and other.filters == []

        def passes(message: str, exc: BaseException | None = None) -> bool:
            info = (type(exc), exc, None) if exc is not None else None
            return bool(console.filter(logging.LogRecord("prefect.task_runs", logging.ERROR, __file__, 1, message,
                                                         None, info)))

        assert not passes("Task run failed with exception", InputError("b.txt: byte 0xff is not valid utf-8"))
        assert not passes("Finished in state Failed('Task run encountered an exception InputError: b.txt')")
        assert passes("Task run failed with exception", ZeroDivisionError("a crash keeps its traceback"))
        assert passes("Finished in state Completed()")
    finally:
        root.removeHandler(console)
        root.removeHandler(other)
