"""The web viewer, end to end in headless Chromium against a live server on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time

import pytest
import uvicorn

from pipeline.serving.app import create_app

CHROMIUM = os.environ.get("BRAINRECON_CHROMIUM") or shutil.which("chromium") \
    or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(bundle):
    """A uvicorn server of the tiny bundle in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(create_app({"eeg": bundle}, api_key="viewer-key"), host="127.0.0.1",
                            port=port, log_level="warning")
    live = uvicorn.Server(config)
    thread = threading.Thread(target=live.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not live.started:
        assert time.monotonic() < deadline, "the server did not start in 30 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    live.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def page(server):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if CHROMIUM is None:
        pytest.skip("no chromium executable (apt-get install chromium, or set "
                    "BRAINRECON_CHROMIUM); `make test` installs it where apt-get can")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors
        yield page
        browser.close()


def wait_for_status(page, start: str) -> None:
    """Wait until the viewer's status starts with ``start``; fail showing the status."""
    try:
        page.wait_for_function(
            f"document.getElementById('status').textContent.startsWith({start!r})",
            timeout=60_000)
    except Exception:  # noqa: BLE001  playwright's TimeoutError: show what the page says
        pytest.fail(f"status {page.text_content('#status')!r}; expected {start!r}...")


def test_viewer_asks_for_the_key_then_shows_a_decoded_trial(page, server, bundle):
    page.goto(server)
    page.wait_for_function("document.getElementById('status').className === 'error'")
    assert "401" in page.text_content("#status")
    page.fill("#api-key", "viewer-key")
    page.press("#api-key", "Tab")  # leaving the field commits it (a change event)
    wait_for_status(page, "trial 1 of")
    first = bundle.examples.trials.iloc[0]
    assert str(first["stimulus_id"]) in page.text_content("#stimulus-caption")
    assert page.locator("#matches li").count() == 5
    assert page.get_attribute("#generated-image", "src").startswith("data:image/png;base64,")
    assert page.get_attribute("#shape-view", "src").startswith("data:image/png;base64,")
    assert page.text_content("#caption").strip()
    metrics = page.text_content("#metrics")
    assert "top1_avg2" in metrics and "image pixcorr" in metrics
    assert "shape chamfer (lower is better)" in metrics
    assert page.evaluate("document.getElementById('stimulus').naturalWidth") > 0
    assert page.errors == []


def test_viewer_steps_through_trials_and_models(page, bundle):
    page.click("#next")
    wait_for_status(page, "trial 2 of")
    second = bundle.examples.trials.iloc[1]
    assert str(second["stimulus_id"]) in page.text_content("#stimulus-caption")
    page.select_option("#model", "baseline")
    wait_for_status(page, "trial 2 of")
    assert page.locator("#matches li").count() == 5
    assert page.errors == []
