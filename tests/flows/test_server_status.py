"""``seqflow server status --json``: the state of this project's Prefect servers, machine-readable."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app


def test_server_status_json_says_no_server_stands_and_where_the_prefect_home_is(artifacts_root):
    result = CliRunner().invoke(app, ["server", "status", "--json"])
    assert result.exit_code == 0, result.output
    state = json.loads(result.stdout)
    assert state == {"prefect_home": os.environ["PREFECT_HOME"], "prefect_server": None, "standing_server": None}
    assert Path(state["prefect_home"]).is_relative_to(artifacts_root)
