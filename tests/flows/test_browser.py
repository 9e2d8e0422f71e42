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
       "--set", "model.cells=lstm,manual_rnn", "--set", "tracking.experiment=browser", "--json"]


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


FORECAST_NAME = "browser-forecaster"


def _shop(path):
    import numpy as np
    import pandas as pd

    rows = ["store,month,units"]
    for k, (store, n) in enumerate((("north", 60), ("south", 54))):
        months = pd.date_range("2015-01-01", periods=n, freq="MS")
        values = 200.0 + 50 * k + 2.0 * np.arange(n) + 30 * np.sin(2 * np.pi * np.arange(n) / 12)
        rows += [f"{store},{m:%Y-%m},{v:.2f}" for m, v in zip(months, values)]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def forecast_run(prefect_harness, browser_path, tmp_path_factory):
    """Two cells, each an ensemble of two, on two monthly series; the best registered."""
    shop = _shop(tmp_path_factory.mktemp("browser") / "shop.csv")
    result = CliRunner().invoke(app, [
        "run", "forecast", "--source", "csv", "--path", str(shop), "--horizon", "6", "--set", "source.id_column=store",
        "--set", "window.lookback=12", "--set", "model.units=8", "--set", "model.recipe=manual",
        "--set", "model.cells=gru,lstm",
        "--set", "model.ensemble=2", "--set", "train.epochs=2", "--set", "train.progress=false",
        "--set", "evaluate.folds=1", "--set", "evaluate.baselines=naive,seasonal_naive",
        "--set", f"tracking.registered_model={FORECAST_NAME}", "--set", "tracking.experiment=browser-forecast", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def ui_url(finished_run, forecast_run, artifacts_root):
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
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # on a busy machine MLflow's server can take longer to stop
            os.killpg(proc.pid, 9)
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def page(ui_url, browser_path):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        yield browser.new_page(viewport={"width": 1920, "height": 1000})
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


def _room(page) -> None:
    """Close MLflow's assistant panel and the sidebar when shown: the table's columns need the width."""
    for name in ("Close", "Toggle sidebar"):
        button = page.get_by_role("button", name=name, exact=True)
        if button.count():
            button.first.click()
    time.sleep(1)


def test_the_readme_link_opens_the_training_view_not_the_welcome_page(page, ui_url):
    page.goto(f"{ui_url}/#/experiments?workflowType=machine_learning")  # the README's and `seqflow ui`'s link
    page.get_by_text("browser-forecast", exact=True).first.wait_for(timeout=60_000)
    body = page.inner_text("body")
    assert "Welcome to MLflow" not in body and "Model training" in body
    page.screenshot(path=str(SHOTS / "6-readme-link-experiments.png"))


def test_the_runs_table_ranks_parents_and_children_by_one_metric_column(page, ui_url, forecast_run):
    page.goto(_experiment_url(ui_url, forecast_run, "/runs"))
    page.get_by_text(forecast_run["parent_run_name"], exact=True).first.wait_for(timeout=60_000)
    # Sorting by a metric from the Sort menu shows it as a column; the parent's description says so.
    page.get_by_role("button", name="Sort").first.click()
    page.keyboard.type("mase")
    page.get_by_test_id("sort-select-mase").click(timeout=30_000)
    page.keyboard.press("Escape")
    page.goto(_experiment_url(ui_url, forecast_run, "/runs").replace("?", "?orderByKey=metrics.%60mase%60&orderByAsc=true&"))
    page.get_by_role("columnheader", name="mase").first.wait_for(timeout=60_000)
    _room(page)
    time.sleep(2)
    served = forecast_run["served"]["cell"]
    child = next(m for m in forecast_run["models"] if m["cell"] == served)
    shown = [float(v) for v in page.locator("[role=gridcell][col-id='metrics.`mase`']").all_inner_texts() if v.strip()]
    # The parent's mase is its served model's, the same value its child run carries: one column ranks both.
    assert len(shown) == 1 + len(forecast_run["models"]) and shown == sorted(shown)
    assert shown.count(pytest.approx(child["metrics"]["mase"])) == 2
    assert page.get_by_text(forecast_run["parent_run_name"], exact=True).count() >= 1
    page.screenshot(path=str(SHOTS / "7-runs-ranked-by-mase.png"))


def test_a_parent_run_shows_what_it_was_trained_on(page, ui_url, forecast_run):
    page.goto(_experiment_url(ui_url, forecast_run, f"/runs/{forecast_run['parent_run_id']}"))
    dataset = f"shop ({forecast_run['data_content_hash'][:36]})"
    page.get_by_text(dataset).first.wait_for(timeout=60_000)
    body = page.inner_text("body")
    assert "Datasets" in body and "Training" in body  # the section, and the input's context
    assert "Ranked by mase" in body  # the description: how the runs rank
    assert "seqflow.owner" not in body and "forecasts_path" not in body  # bookkeeping tags hidden
    page.screenshot(path=str(SHOTS / "8-parent-run-datasets.png"))


def test_the_registered_version_shows_its_signature_description_and_tags(page, ui_url, forecast_run):
    served = forecast_run["served"]
    page.goto(f"{ui_url}/#/models/{FORECAST_NAME}/versions/{served['version']}?workflowType=machine_learning")
    page.get_by_text("Inputs (3)").first.wait_for(timeout=60_000)
    page.get_by_text("Inputs (3)").first.click()
    page.get_by_text("series_id (optional)").first.wait_for(timeout=30_000)
    page.get_by_text("Outputs (5)").first.click()
    page.get_by_text("yhat").first.wait_for(timeout=30_000)
    body = page.inner_text("body")
    assert f"{served['cell']} forecaster of shop (2 series, monthly)" in body
    for text in ("holdout_mase", "data_content_hash", "horizon", "frequency", "subject", "timestamp", "lower", "upper"):
        assert text in body, text
    page.get_by_text("Schema", exact=True).first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "9-registered-version-signature-tags.png"), full_page=True)


def test_the_forecast_plot_sits_at_the_artifact_root(page, ui_url, forecast_run):
    run_url = _experiment_url(ui_url, forecast_run, f"/runs/{forecast_run['parent_run_id']}")
    page.goto(run_url.replace("?", "/artifacts/forecast.png?"))
    page.get_by_text("Path:").first.wait_for(timeout=60_000)
    image = page.locator("img[src^='blob:']").first  # the previewed file, fetched as a blob
    image.wait_for(timeout=60_000)
    time.sleep(2)
    assert image.evaluate("img => img.naturalWidth") > 0
    body = page.inner_text("body")
    assert "forecast.png" in body and "ranking_table.json" in body  # the plot and the ranking as a table, at the root  # the ranking as a table MLflow renders
    page.screenshot(path=str(SHOTS / "10-forecast-plot-interval.png"))


def test_the_compare_view_shows_both_models_loss_plots_side_by_side(page, ui_url, forecast_run):
    ids = ",".join(f"%22{m['run_id']}%22" for m in forecast_run["models"])
    page.goto(f"{ui_url}/#/compare-runs?runs=[{ids}]&experiments=[%22{forecast_run['experiment_id']}%22]"
              "&workflowType=machine_learning")
    page.get_by_text("Run details").first.wait_for(timeout=60_000)
    entry = page.get_by_text("loss.png", exact=True).first
    entry.scroll_into_view_if_needed()
    entry.dispatch_event("click")
    images = page.locator("img[src^='blob:']:visible")
    images.nth(len(forecast_run["models"]) - 1).wait_for(timeout=60_000)
    time.sleep(2)
    assert images.count() == len(forecast_run["models"])
    boxes = [images.nth(k).bounding_box() for k in range(images.count())]
    assert boxes[0]["x"] < boxes[1]["x"] and abs(boxes[0]["y"] - boxes[1]["y"]) < 5  # side by side
    images.first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "11-compare-loss-side-by-side.png"))


def _show_columns(page, *keys: str) -> None:
    """Add params or metrics to the runs table from its Columns menu, one key at a time."""
    for key in keys:
        page.get_by_role("button", name="Columns").first.click()
        page.keyboard.type(key)
        page.get_by_text(key, exact=True).last.click(timeout=30_000)
        page.keyboard.press("Escape")


def test_a_sweep_opens_with_its_points_nested_under_its_run_beside_their_settings_and_scores(page, ui_url, swept):
    from tasks.tracking import store

    summary, _ = swept
    client = store.client()
    sweep_name = client.get_run(summary["sweep_run_id"]).info.run_name
    names = {p["run_id"]: client.get_run(p["run_id"]).info.run_name for p in summary["points"]}
    page.goto(_experiment_url(ui_url, summary, "/runs"))
    page.get_by_text(sweep_name, exact=True).first.wait_for(timeout=60_000)
    _room(page)
    score = f"metrics.`sweep.{summary['metric']}`"
    _show_columns(page, "model.units", f"sweep.{summary['metric']}")
    page.get_by_role("columnheader", name=f"sweep.{summary['metric']}").first.wait_for(timeout=30_000)
    assert all(page.get_by_text(name, exact=True).count() == 0 for name in names.values())  # folded in the sweep
    parent = page.locator(f"[role=row][row-id='{summary['sweep_run_id']}']").first
    parent.locator("button").first.click()
    for name in names.values():
        page.get_by_text(name, exact=True).first.wait_for(timeout=30_000)
    # The points' rows follow their sweep's row, each with its grid value and its score.
    top = int(parent.get_attribute("row-index"))
    for point in summary["points"]:
        row = page.locator(f"[role=row][row-id='{point['run_id']}']")
        assert int(row.first.get_attribute("row-index")) in range(top + 1, top + 1 + len(summary["points"]))
        assert row.locator("[col-id='params.`model.units`']").inner_text().strip() == str(point["values"]["model.units"])
        assert float(row.locator(f"[col-id='{score}']").inner_text()) == pytest.approx(point["score"])
    page.screenshot(path=str(SHOTS / "12-sweep-points-nested.png"))


def test_the_compare_view_plots_the_top_points_swept_key_against_their_metric(page, ui_url, swept):
    summary, _ = swept
    by_number = {p["number"]: p for p in summary["points"]}
    top = [by_number[n] for n in summary["ranked"][:3]]
    ids = ",".join(f"%22{p['run_id']}%22" for p in top)
    page.goto(f"{ui_url}/#/compare-runs?runs=[{ids}]&experiments=[%22{summary['experiment_id']}%22]"
              "&workflowType=machine_learning")
    page.get_by_text("Parallel Coordinates Plot").first.wait_for(timeout=60_000)
    _room(page)
    # Parameters: MLflow picks the params that differ (the swept key); Metrics: swap its pick for the sweep's.
    params, metrics = page.locator(".du-bois-light-select").nth(0), page.locator(".du-bois-light-select").nth(1)
    assert "model.units" in params.inner_text()
    for _ in range(metrics.locator(".du-bois-light-select-selection-item-remove").count()):
        metrics.locator(".du-bois-light-select-selection-item-remove").first.click()
    metrics.click()
    page.keyboard.type(f"sweep.{summary['metric']}")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    plot = page.locator(".js-plotly-plot").first
    plot.get_by_text(f"sweep.{summary['metric']}", exact=True).wait_for(timeout=30_000)
    time.sleep(2)
    shown = plot.inner_text().split()
    # Each axis is labelled with its key and its range: the swept values and the points' scores.
    assert "model.units" in shown and f"sweep.{summary['metric']}" in shown
    units = [p["values"]["model.units"] for p in top]
    scores = [p["score"] for p in top]
    assert {f"{max(units):.5f}", f"{min(units):.5f}", f"{max(scores):.5f}", f"{min(scores):.5f}"} <= set(shown)
    page.screenshot(path=str(SHOTS / "13-sweep-compare-parallel-coordinates.png"))
