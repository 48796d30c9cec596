"""The cohort report in a real browser (issue 8, Must show): Debian's headless Chromium opens the
report, any console error or uncaught exception fails the test, a full-page screenshot is saved
in the test's tmp dir, and the headline numbers RENDERED in the page must equal the atlas's
cohort_summary (read with pyarrow).

The driver below is a minimal DevTools-protocol client over ``--remote-debugging-pipe``, standard
library only (no selenium / websocket package): Chromium reads NUL-terminated JSON commands on
fd 3 and writes replies and events on fd 4. Chromium is required (never skipped): `make test`
installs it (scripts/system-deps.sh; Debian package ``chromium``).
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """Path of a Chromium binary on PATH (Debian's ``chromium`` first), else None."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium with one page; ``errors`` collects console errors and exceptions."""

    def __init__(self, binary: str, user_dir: Path, timeout: float = 60.0, stderr: Any = subprocess.DEVNULL) -> None:
        cmd_r, self._cmd_w = os.pipe()
        self._ev_r, ev_w = os.pipe()

        def _fds() -> None:   # in the child: the command pipe on fd 3, the event pipe on fd 4
            hi_r, hi_w = os.dup(cmd_r) + 100, os.dup(ev_w) + 100
            os.dup2(cmd_r, hi_r)
            os.dup2(ev_w, hi_w)
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--remote-debugging-pipe", f"--user-data-dir={user_dir}", "--hide-scrollbars", "about:blank"],
            preexec_fn=_fds, close_fds=False, stdout=subprocess.DEVNULL, stderr=stderr)
        os.close(cmd_r)
        os.close(ev_w)
        self.timeout = timeout
        self._buf = b""
        self._id = 0
        self.session: str | None = None
        self.errors: list[str] = []
        self.events: list[dict[str, Any]] = []

    # -- protocol ------------------------------------------------------------------------------
    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._ev_r], [], [], left)[0]:
                raise TimeoutError("no reply from chromium")
            chunk = os.read(self._ev_r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        msg = json.loads(raw)
        if "method" in msg:
            self._event(msg)
        return msg

    def _event(self, msg: dict[str, Any]) -> None:
        self.events.append(msg)
        m, p = msg["method"], msg.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.errors.append("console." + p["type"] + ": " + " ".join(str(a.get("value", a.get("description", "")))
                                                                        for a in p.get("args", [])))
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.errors.append("exception: " + str(d.get("exception", {}).get("description", d.get("text"))))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            self.errors.append("log: " + p["entry"].get("text", ""))

    def send(self, method: str, params: dict | None = None, session: bool = True) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def wait_event(self, method: str) -> dict[str, Any]:
        for ev in self.events:
            if ev["method"] == method:
                return ev
        deadline = time.monotonic() + self.timeout
        while True:
            msg = self._read(deadline)
            if msg.get("method") == method:
                return msg

    # -- page ------------------------------------------------------------------------------------
    def open(self, url: str, width: int = 1400, height: int = 1000) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.send(domain)
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": False})
        self.events.clear()
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in res:
            raise RuntimeError(f"evaluate failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def screenshot(self, path: Path, full_page: bool = True, max_height: int = 16000) -> Path:
        if full_page:
            h = int(self.evaluate("document.documentElement.scrollHeight"))
            self.send("Emulation.setDeviceMetricsOverride", {"width": 1400, "height": min(h, max_height),
                                                             "deviceScaleFactor": 1, "mobile": False})
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._cmd_w)
        os.close(self._ev_r)


# --- tests -------------------------------------------------------------------------------------

import pyarrow.parquet as pq  # noqa: E402
import pytest  # noqa: E402
from test_report import build_cohort, expected_display  # noqa: E402

HEADLINE_JS = ('JSON.stringify([...document.querySelectorAll("#headline [data-metric]")].map('
               'e => [e.dataset.metric, e.querySelector(".value").textContent]))')


def _chromium() -> str:
    binary = find_chromium()
    assert binary, "headless Chromium is needed for this test -> apt-get install chromium (make test does it)"
    return binary


def check_in_browser(results: Path, report: Path, tmp: Path) -> dict[str, str]:
    """Open the cohort page and one patient page; returns the headline shown. Fails on console errors."""
    browser = Browser(_chromium(), tmp / "chromium-profile")
    try:
        browser.open((report / "cohort_report.html").as_uri())
        assert browser.evaluate("document.body.dataset.ready") == "1", "the report's script did not finish"
        shown = dict(json.loads(browser.evaluate(HEADLINE_JS)))
        # the filter box works: a patient's pseudonym leaves exactly one row in the patient list
        pid = pq.read_table(results / "atlas" / "patients.parquet").column("patient_id")[0].as_py()
        browser.evaluate(f'(() => {{ const i = document.querySelector("#filter-box input"); i.value = "{pid}"; '
                         'i.dispatchEvent(new Event("input")); })()')
        visible = browser.evaluate('document.querySelectorAll("#patients tbody tr:not(.hidden)").length')
        assert visible == 1
        browser.evaluate('(() => { const i = document.querySelector("#filter-box input"); i.value = ""; '
                         'i.dispatchEvent(new Event("input")); })()')
        shot = browser.screenshot(tmp / "cohort_report.png")
        assert shot.stat().st_size > 20000
        page = next((report / "patients").glob("*.html"))
        browser.open(page.as_uri())
        assert browser.evaluate("document.body.dataset.ready") == "1"
        browser.screenshot(tmp / "patient_page.png")
        assert not browser.errors, f"console errors: {browser.errors}"
    finally:
        browser.close()
    return shown


def assert_headline_matches(results: Path, shown: dict[str, str]) -> None:
    cs = pq.read_table(results / "atlas" / "cohort_summary.parquet").to_pandas()
    allrows = cs[cs["stratum"] == "all"].set_index("metric")
    assert shown, "no headline figure rendered"
    for metric, text in shown.items():
        v = allrows.at[metric, "value"]
        assert text == expected_display(None if v != v else float(v), allrows.at[metric, "unit"]), metric


@pytest.mark.slow
def test_report_in_headless_chromium(tmp_path):
    results, truth, report = build_cohort(tmp_path, n=18)
    shown = check_in_browser(results, report, tmp_path)
    assert_headline_matches(results, shown)
    assert shown["patients_included"] == str(truth["patients_included"])


@pytest.mark.slow
def test_demo_report_in_headless_chromium(demo_run, tmp_path):
    """End to end: the report of the demo workflow's atlas (the workflow builds it when its rule is included)."""
    from unlock_atlas.cli import main

    results = demo_run / "results"
    report = results / "report"
    if not (report / "cohort_report.html").is_file():
        report = tmp_path / "report"
        assert main(["report", str(results / "atlas"), "-o", str(report)]) == 0
    shown = check_in_browser(results, report, tmp_path)
    assert_headline_matches(results, shown)
