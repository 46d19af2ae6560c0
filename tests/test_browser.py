"""The course in a real browser: JupyterLab on loopback, driven by Playwright through Chromium.

A student's view, checked end to end: the start page, every release notebook and every solved
notebook is opened in JupyterLab and run with "Run All Cells". Then, per notebook:
- every widget renders as a widget (no "Error displaying widget", no text repr such as
  "IntSlider(...)"), and moving the first slider changes what the widget shows;
- plots are images;
- a solved notebook ends with no error; a release stops only at an unanswered exercise
  (NotImplementedError).
Screenshots of each notebook go to the folder printed at the start (CNNCOURSE_SCREENSHOTS, default
a folder under the system temp dir) for a human to look at.

Needs Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it). Without it the tests
skip and say how to enable them. Playwright's own browser download is not used (offline machines).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
RUN_TIMEOUT_S = 240

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                       reason="browser tests need Chromium: `apt-get install chromium` "
                              "(Debian), then `pip install playwright` (requirements.txt has it)"),
]

SCREENSHOTS = Path(os.environ.get("CNNCOURSE_SCREENSHOTS",
                                  Path(tempfile.gettempdir()) / "cnncourse-screenshots"))

RELEASES = sorted(p.relative_to(REPO / "notebooks").as_posix() for p in REPO.glob("notebooks/*/*.ipynb"))
SOLVED = sorted(p.relative_to(REPO / "solutions").as_posix() for p in REPO.glob("solutions/*/*.ipynb"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base url, token) of a JupyterLab serving a fresh workspace with the solved notebooks."""
    pytest.importorskip("playwright", reason="pip install playwright (requirements.txt pins it)")
    from cnncourse.grading.workspace import mirror_solved, sync_workspace
    root = tmp_path_factory.mktemp("lab")
    workspace = root / "workspace"
    sync_workspace(REPO / "notebooks", workspace)
    mirror_solved(REPO / "solutions", workspace)
    port, token = _free_port(), "browser-test"
    config = root / "config"
    config.mkdir()
    (config / "jupyter_server_config.py").write_text(
        "c.ServerApp.allow_root = True\nc.ServerApp.open_browser = False\n"
        f"c.ServerApp.port = {port}\nc.ServerApp.port_retries = 0\nc.ServerApp.ip = '127.0.0.1'\n"
        f"c.IdentityProvider.token = {token!r}\nc.LabApp.expose_app_in_browser = True\n"
        "c.LabApp.news_url = None\nc.LabApp.check_for_updates_class = 'jupyterlab.NeverCheckForUpdate'\n")
    settings = root / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)   # no "get notified about Jupyter news?" toast over the notebook
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config),
               JUPYTERLAB_SETTINGS_DIR=str(root / "lab-settings"))
    log = open(root / "lab.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "jupyter"), "lab", str(workspace)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.5)
        else:
            pytest.fail(f"JupyterLab did not start: {(root / 'lab.log').read_text()[-2000:]}")
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited: {(root / 'lab.log').read_text()[-2000:]}")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        print(f"\nbrowser screenshots: {SCREENSHOTS}")
        yield base, token
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


# JavaScript run in the page: the JupyterLab application is exposed as window.jupyterapp.
_RUN_ALL = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const status = () => panel.sessionContext.session?.kernel?.status;
  await panel.sessionContext.ready;
  for (let i = 0; i < 600 && status() !== 'idle'; i++) await sleep(200);   // kernel started
  await app.commands.execute('notebook:run-all-cells');
  // run-all resolves when the cells ran (or stopped at the first error); the kernel must then
  // stay idle for a second, so that outputs still arriving are in the model
  for (let quiet = 0, i = 0; quiet < 5 && i < 6000; i++) {
    quiet = status() === 'idle' ? quiet + 1 : 0;
    await sleep(200);
  }
  return status();
}"""

_OUTPUTS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  const out = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i).toJSON();
    if (cell.cell_type !== 'code') continue;
    out.push({id: cell.id, count: cell.execution_count,
              errors: (cell.outputs || []).filter(o => o.output_type === 'error')
                                          .map(o => o.ename + ': ' + o.evalue)});
  }
  return out;
}"""


def _open(browser, lab, path: str):
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(RUN_TIMEOUT_S * 1000)
    # A workspace of its own, reset: no tab of an earlier test is restored next to this one.
    workspace = re.sub(r"[^A-Za-z0-9]", "-", path)
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{path}?reset&token={token}")
    page.wait_for_function("path => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                           " return w && w.sessionContext && w.context && w.context.path === path; }",
                           arg=path)
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    return page


def _run_and_collect(page, shot_name: str) -> list[dict]:
    assert page.evaluate(_RUN_ALL) == "idle", f"{shot_name}: the kernel did not come back to idle"
    page.wait_for_timeout(1500)        # widgets and images render after the kernel is idle
    cells = page.evaluate(_OUTPUTS)
    # Show what a student looks at first: where Run All stopped, else the first widget or plot.
    for selector in ('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]',
                     ".jp-OutputArea-output .widget-slider", ".jp-OutputArea-output img"):
        target = page.locator(selector)
        if target.count():
            target.first.scroll_into_view_if_needed()
            break
    page.screenshot(path=str(SCREENSHOTS / f"{shot_name}.png"), full_page=False)
    return cells


def _check_widgets(page, where: str) -> None:
    text = page.inner_text(".jp-Notebook")
    assert "Error displaying widget" not in text, f"{where}: a widget failed to render"
    reprs = re.findall(r"\b(?:IntSlider|FloatSlider|VBox|HBox|Dropdown)\(", text)
    assert not reprs, f"{where}: widgets shown as text {reprs[:3]} (is the widgets extension installed?)"
    sliders = page.locator(".jp-OutputArea-output .widget-slider .noUi-handle")
    if sliders.count() == 0:
        return
    area = sliders.first.locator("xpath=ancestor::div[contains(@class,'jp-OutputArea')][1]")
    before = area.inner_html()
    sliders.first.focus()
    for _ in range(2):
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(1500)
    after = area.inner_html()
    assert after != before, f"{where}: moving the first slider changed nothing in its output"


def test_start_page_runs_and_links_every_notebook(browser, lab):
    page = _open(browser, lab, "00_start_here.ipynb")
    cells = _run_and_collect(page, "00_start_here")
    assert not [c for c in cells if c["errors"]], cells
    text = page.inner_text(".jp-Notebook")
    assert "course so far" in text
    for path in RELEASES:
        assert page.locator(f'a[href*="{path.split("/")[0]}"]').count() >= 1, f"no link to {path}"
    page.close()


@pytest.mark.parametrize("path", RELEASES, ids=[p.split("/")[0] for p in RELEASES])
def test_release_stops_only_at_an_unanswered_exercise(browser, lab, path):
    page = _open(browser, lab, path)
    cells = _run_and_collect(page, "release-" + path.split("/")[0])
    errors = [(c["id"], e) for c in cells for e in c["errors"]]
    assert errors, f"{path}: Run All finished without reaching an unanswered exercise"
    cell_id, first = errors[0]
    assert first.startswith("NotImplementedError") and "not answered yet" in first, \
        f"{path}: Run All stopped at {cell_id} with {first}"
    _check_widgets(page, path)
    page.close()


@pytest.mark.parametrize("path", SOLVED, ids=[p.split("/")[0] for p in SOLVED])
def test_solved_notebook_runs_clean_with_plots_and_live_widgets(browser, lab, path):
    page = _open(browser, lab, f"_solved/{path}")
    cells = _run_and_collect(page, "solved-" + path.split("/")[0])
    errors = [(c["id"], e) for c in cells for e in c["errors"]]
    assert not errors, f"{path}: {errors[:3]}"
    assert all(c["count"] is not None for c in cells), f"{path}: some cells did not run"
    assert page.locator(".jp-OutputArea-output img").count() >= 1, f"{path}: no plot rendered as an image"
    _check_widgets(page, path)
    page.close()
