"""A small DevTools-protocol driver for a local headless Chromium, over --remote-debugging-pipe.

No port, no websocket library: Chromium reads commands on fd 3 and writes replies and events on fd 4,
NUL-separated JSON. The network is off: host resolution fails for every name (--host-resolver-rules), the
page's network is emulated offline, and every request the page makes is recorded so a test can assert that
none left file:// or data:.

    with HeadlessChromium(profile_dir) as b:
        page = b.open_page(width=1400)
        page.goto("file:///...")
        page.evaluate("1 + 1")
        page.screenshot(path)
        page.console_errors()  /  page.requests
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--disable-extensions",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-pipe"]

_LAUNCH = ("import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); os.dup2(r, 3); os.dup2(w, 4); "
           "os.close(r); os.close(w); os.execv(sys.argv[3], sys.argv[3:])")

WAIT_S = 60  # a deadline for the browser to answer, not a performance assertion


class CDPError(RuntimeError):
    pass


class HeadlessChromium:
    def __init__(self, executable: str, profile_dir: Path, log_path: Path):
        self.executable = executable
        self.profile_dir = Path(profile_dir)
        self.log_path = Path(log_path)
        self._next_id = 0
        self._replies: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []

    # -- process and pipe ------------------------------------------------------------------------------
    def __enter__(self) -> "HeadlessChromium":
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # the child's ends, moved to fds >= 10 so that placing them on 3 and 4 cannot clobber each other
        r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
        w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        for fd in (to_browser_r, from_browser_w):
            os.close(fd)
        self._log = open(self.log_path, "wb")
        # chromium reads commands on fd 3 and writes on fd 4: a tiny Python launcher puts the pipe ends there
        # (dup2 onto another number leaves them inheritable), closes the originals and execs chromium
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCH, str(r), str(w), self.executable, *FLAGS,
             f"--user-data-dir={self.profile_dir}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, pass_fds=(r, w))
        os.close(r)
        os.close(w)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)
        self._log.close()

    def _read_loop(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    q = self._replies.get(msg["id"])
                    if q is not None:
                        q.put(msg)
                else:
                    with self._lock:
                        self.events.append(msg)
        os.close(self._from_browser)
        for q in list(self._replies.values()):
            q.put({"error": {"message": "browser closed the pipe"}})

    def send(self, method: str, params: dict | None = None, *, session: str | None = None,
             timeout: float = WAIT_S) -> dict:
        with self._lock:
            self._next_id += 1
            mid = self._next_id
            self._replies[mid] = q = queue.Queue()
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        try:
            reply = q.get(timeout=timeout)
        except queue.Empty:
            raise CDPError(f"{method}: no answer from chromium within {timeout} s (log: {self.log_path})") from None
        finally:
            self._replies.pop(mid, None)
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def events_of(self, session: str, *methods: str) -> list[dict]:
        with self._lock:
            return [e for e in self.events if e.get("sessionId") == session and e.get("method") in methods]

    def open_page(self, width: int = 1400, height: int = 1000) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        page.send("Network.emulateNetworkConditions",
                  {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        return page


class Page:
    def __init__(self, browser: HeadlessChromium, session: str):
        self.browser = browser
        self.session = session

    def send(self, method: str, params: dict | None = None, **kw) -> dict:
        return self.browser.send(method, params, session=self.session, **kw)

    def goto(self, url: str) -> None:
        before = len(self.browser.events_of(self.session, "Page.loadEventFired"))
        self.send("Page.navigate", {"url": url})
        self.wait_for(lambda: len(self.browser.events_of(self.session, "Page.loadEventFired")) > before,
                      f"load event of {url}")

    def evaluate(self, expression: str) -> Any:
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise CDPError(f"evaluate {expression[:60]!r}: {r['exceptionDetails'].get('text')} "
                           f"{r['exceptionDetails'].get('exception', {}).get('description', '')}")
        return r["result"].get("value")

    def wait_for(self, predicate, what: str, timeout: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise CDPError(f"waited {timeout} s for {what}")
            time.sleep(0.05)

    def wait_js(self, expression: str, what: str) -> None:
        self.wait_for(lambda: bool(self.evaluate(expression)), what)

    def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def screenshot(self, path: Path) -> Path:
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        data = self.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path

    def console_errors(self) -> list[str]:
        out = []
        for e in self.browser.events_of(self.session, "Runtime.consoleAPICalled", "Runtime.exceptionThrown",
                                        "Log.entryAdded"):
            p = e["params"]
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console." + p["type"] + ": " + " ".join(str(a.get("value", a.get("description", "")))
                                                                   for a in p.get("args", [])))
            elif e["method"] == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append("exception: " + d.get("text", "") + " " + d.get("exception", {}).get("description", ""))
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append("log: " + p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
        return out

    @property
    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.browser.events_of(self.session, "Network.requestWillBeSent")]
