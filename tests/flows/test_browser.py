"""What a reviewer sees in the MLflow UI, in a real headless Chromium (Debian's ``chromium``, driven
by Playwright). Screenshots go to ``artifacts/browser/`` in the project for a person to look at.

``.ci/run`` installs Chromium and sets ``SEQFLOW_REQUIRE_BROWSER=1``, so there a missing browser fails
the test; on a machine without Chromium (``make test`` on a laptop) the test is skipped with a reason.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tasks import paths

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = paths.PROJECT_ROOT / "artifacts" / "browser"
RUN = ["run", "study", "--set", "source.x_end=40", "--set", "window.lookback=12", "--set", "model.units=8",
       "--set", "train.epochs=3", "--set", "evaluate.generate_steps=20", "--set", "train.progress=false",
       "--set", "model.recipe=manual", "--set", "model.cells=lstm,manual_rnn", "--set", "tracking.experiment=browser", "--json"]


@pytest.fixture(scope="module")
def browser_path() -> str:
    if CHROMIUM is None:
        if os.environ.get("SEQFLOW_REQUIRE_BROWSER") == "1":
            pytest.fail("SEQFLOW_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)")
        pytest.skip("no chromium on PATH: apt-get install chromium to run the browser test")
    return CHROMIUM


@pytest.fixture(scope="module")
def finished_run(prefect_harness, browser_path):
    result = CliRunner().invoke(app, RUN)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def ui_url(finished_run, artifacts_root):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "ui", "--port", str(port)],
                            env={**os.environ, "SEQFLOW_ARTIFACTS": artifacts_root},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=5)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "seqflow ui did not answer"
                time.sleep(1)
        yield url
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def page(ui_url, browser_path):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        yield browser.new_page(viewport={"width": 1600, "height": 1000})
        browser.close()


def _experiment_url(ui_url: str, summary: dict, suffix: str = "") -> str:
    return f"{ui_url}/#/experiments/{summary['experiment_id']}{suffix}?workflowType=machine_learning"


def test_the_experiment_opens_on_its_training_runs_with_children_nested_and_named(page, ui_url, finished_run):
    page.goto(_experiment_url(ui_url, finished_run))
    parent = page.get_by_text(finished_run["parent_run_name"], exact=True).first
    parent.wait_for(timeout=60_000)
    assert page.get_by_role("heading", name="Runs").count() >= 1 or "Runs" in page.inner_text("body")
    assert "Token Usage" not in page.inner_text("body")  # not the GenAI overview
    page.screenshot(path=str(SHOTS / "1-experiment-runs.png"))
    page.locator("[role=row]").filter(has_text=finished_run["parent_run_name"]).locator("button").first.click()
    for cell in ("lstm", "manual_rnn"):
        page.get_by_text(f"{cell} · sine", exact=True).first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "2-children-nested.png"))


def test_a_child_shows_its_metric_charts_plots_and_named_model(page, ui_url, finished_run):
    child = next(m for m in finished_run["models"] if m["cell"] == "lstm")
    run_url = _experiment_url(ui_url, finished_run, f"/runs/{child['run_id']}")
    page.goto(run_url.replace("?", "/model-metrics?"))
    page.get_by_text("epochs_run", exact=True).first.wait_for(timeout=60_000)  # a chart's title
    page.locator(".js-plotly-plot, canvas").first.wait_for(timeout=60_000)
    time.sleep(3)  # charts draw after their data arrives
    assert page.locator(".js-plotly-plot, canvas").count() > 0
    page.screenshot(path=str(SHOTS / "3-child-metric-charts.png"))

    page.goto(run_url.replace("?", "/artifacts?"))
    page.get_by_text("plots", exact=True).first.click(timeout=60_000)
    page.get_by_text("test_forecast.png", exact=True).first.click(timeout=30_000)
    page.locator("img").last.wait_for(timeout=30_000)
    time.sleep(2)
    page.screenshot(path=str(SHOTS / "4-forecast-plot-artifact.png"))

    page.goto(_experiment_url(ui_url, finished_run, "/models"))
    for cell in ("lstm", "manual_rnn"):
        page.get_by_text(f"{cell}-sine", exact=True).first.wait_for(timeout=60_000)
    page.screenshot(path=str(SHOTS / "5-logged-models-named.png"))
