"""Issue #15: the HTML report in a real browser (headless Chromium over the DevTools protocol).

No console message, no network request, one panel per site, and a screenshot written as an
artifact (benchmarks/.cache/browser/). Control pages prove each check can fail. Skips with a
clear message where no Chromium is installed (Debian: apt-get install chromium).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from saturate_cli.render.html import render
from test_formats_support import ROOT, sample_reports
from test_render_text_support import inspected

__all__ = ["sample_reports"]

BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium on PATH (Debian: "
                                "apt-get install chromium); the browser checks are skipped")
ARTIFACTS = ROOT / "benchmarks" / ".cache" / "browser"


class Browser:
    """Chromium driven through --remote-debugging-pipe (fds 3 and 4, NUL-separated JSON)."""

    def __init__(self, width: int = 1280, height: int = 900):
        self.profile = tempfile.mkdtemp(prefix="saturate-chromium-")
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        args = [BROWSER, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
                "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}", "--hide-scrollbars", "about:blank"]

        def fds():  # the child reads commands on fd 3 and writes replies on fd 4
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=fds, pass_fds=(3, 4))  # kept after fds()
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer, self._id, self.events = b"", 0, []

    def _read(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: str = None, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._w, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> None:
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read())

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._r)
        os.close(self._w)
        shutil.rmtree(self.profile, ignore_errors=True)


def load(page: Path, width: int = 1280, screenshot: Path = None, media: str = "screen") -> dict:
    """Open a file; what it logged, what it requested, how many site panels, a screenshot."""
    browser = Browser(width)
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target,
                               flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            browser.call(f"{domain}.enable", session)
        browser.call("Emulation.setDeviceMetricsOverride", session, width=width, height=900,
                     deviceScaleFactor=1, mobile=width < 600)
        browser.call("Emulation.setEmulatedMedia", session, media=media)
        browser.events.clear()
        browser.call("Page.navigate", session, url=page.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        count = browser.call("Runtime.evaluate", session, returnByValue=True,
                             expression="document.querySelectorAll('article.site').length")
        height = browser.call("Runtime.evaluate", session, returnByValue=True,
                              expression="document.documentElement.scrollHeight")
        overflow = browser.call("Runtime.evaluate", session, returnByValue=True,
                                expression="document.documentElement.scrollWidth > innerWidth")
        if screenshot is not None:
            shot = browser.call("Page.captureScreenshot", session, format="png",
                                captureBeyondViewport=True)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        events = browser.events
    finally:
        browser.close()
    requests = [e["params"]["request"]["url"] for e in events
                if e.get("method") == "Network.requestWillBeSent"]
    console = [e["params"] for e in events if e.get("method") in (
        "Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded")]
    return {"panels": count["result"]["value"], "height": height["result"]["value"],
            "overflow": overflow["result"]["value"], "console": console,
            "requests": [u for u in requests if u != page.resolve().as_uri()]}


def test_controls_show_the_checks_can_fail(tmp_path):
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><html><body><article class="site"></article>'
                    '<img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script>'
                    "</body></html>")
    seen = load(page)
    assert seen["panels"] == 1
    assert seen["requests"] == ["http://127.0.0.1:9/x.png"]
    assert seen["console"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("models"))


def test_sample_report_loads_cleanly_with_every_panel(sample_reports, tmp_path):
    reports = [sample_reports[k] for k in ("mlp_sigmoid_badinit", "cnn_relu_deadbias",
                                           "softmax_hot", "transformer_block")]
    page = tmp_path / "report.html"
    page.write_text(render(reports), encoding="utf-8")
    seen = load(page, screenshot=ARTIFACTS / "samples.png")
    assert seen["console"] == [] and seen["requests"] == []
    assert seen["panels"] == sum(len(r.sites) for r in reports)
    assert (ARTIFACTS / "samples.png").stat().st_size > 10_000


def test_phone_width_has_no_sideways_scroll(folder, tmp_path):
    page = tmp_path / "bert.html"
    page.write_text(render([inspected("bert_like", folder)]), encoding="utf-8")
    seen = load(page, width=390, screenshot=ARTIFACTS / "bert_phone.png")
    assert seen["console"] == [] and seen["requests"] == []
    assert seen["panels"] == 25 and seen["overflow"] is False


def test_print_layout_stacks_panels_without_sideways_overflow(sample_reports, tmp_path):
    page = tmp_path / "print.html"
    page.write_text(render([sample_reports["mlp_sigmoid_badinit"]]), encoding="utf-8")
    screen = load(page, width=1280)
    printed = load(page, width=1280, media="print", screenshot=ARTIFACTS / "print.png")
    assert printed["console"] == [] and printed["requests"] == []
    assert printed["overflow"] is False and printed["panels"] == 4
    assert printed["height"] > screen["height"]  # one column: the panels stack
