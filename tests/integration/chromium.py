"""Headless Chromium (Debian's `chromium`), driven through its DevTools
protocol for the tests of memtrace's pictures.

The protocol runs over a pipe (--remote-debugging-pipe: Chromium reads
commands on fd 3 and writes replies and events on fd 4, each message JSON
ended by a NUL byte), so no websocket and no network port is needed. Also a
PNG decoder (stdlib zlib only), to count what a screenshot drew.
"""
import base64
import json
import os
import select
import shutil
import struct
import subprocess
import tempfile
import time
import zlib

CHROMIUM = shutil.which("chromium")


class Chromium:
    def __init__(self, width=1300, height=1000):
        self.profile = tempfile.mkdtemp(prefix="memtrace-chromium-")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def fds():
            # Through fresh copies: a pipe end may already be 3 or 4, and
            # dup2() onto itself would leave it close-on-exec.
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--hide-scrollbars", "--user-data-dir=" + self.profile,
             f"--window-size={width},{height}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=fds, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    # ---- the protocol ----

    def _read(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer")
            ready, _, _ = select.select([self.from_child], [], [], left)
            if ready:
                chunk = os.read(self.from_child, 1 << 20)
                if not chunk:
                    raise EOFError("Chromium exited")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def post(self, method, params=None, session=True):
        """Send a command; returns its id (see result())."""
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def result(self, cid, timeout=30):
        for i, e in enumerate(self.events):
            if e.get("id") == cid:
                del self.events[i]
                return self._result(e)
        while True:
            msg = self._read(timeout)
            if msg.get("id") == cid:
                return self._result(msg)
            self.events.append(msg)

    @staticmethod
    def _result(msg):
        if "error" in msg:
            raise RuntimeError(f"DevTools: {msg['error']}")
        return msg.get("result", {})

    def call(self, method, params=None, session=True, timeout=30):
        return self.result(self.post(method, params, session), timeout)

    def wait_event(self, method, timeout=30):
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                del self.events[i]
                return e.get("params", {})
        while True:
            msg = self._read(timeout)
            if msg.get("method") == method:
                return msg.get("params", {})
            self.events.append(msg)

    def drain(self, seconds=0.3):
        """Collect the events that arrive within seconds."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                self.events.append(self._read(left))
            except TimeoutError:
                return

    # ---- a page ----

    def open(self, url):
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(domain + ".enable")
        self.call("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")
        self.drain()

    def eval(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def problems(self):
        """Console errors, uncaught exceptions and failed loads so far."""
        self.drain(0.1)
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails']}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(f"console.{p['type']}: {p.get('args')}")
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif m == "Network.loadingFailed":
                out.append(f"load failed: {p}")
        return out

    def requests(self):
        """URLs the page asked for."""
        self.drain(0.1)
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"]

    def rect(self, selector):
        """The bounding box of the first element matching selector, in CSS
        pixels of the page."""
        return self.eval(f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                         ".getBoundingClientRect(); return {x: r.x + scrollX, y: r.y + scrollY,"
                         " width: r.width, height: r.height}; })()")

    def center(self, selector):
        """Scroll the first element matching selector into view; its centre
        in the viewport's coordinates (what mouse events take)."""
        return self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                         " e.scrollIntoView({block: 'center'});"
                         " const r = e.getBoundingClientRect();"
                         " return [r.x + r.width / 2, r.y + r.height / 2]; })()")

    def screenshot(self, clip=None):
        params = {"format": "png", "captureBeyondViewport": True}
        if clip:
            params["clip"] = dict(clip, scale=1)
        return base64.b64decode(self.call("Page.captureScreenshot", params)["data"])

    def click(self, x, y):
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y,
                                                   "button": "left", "clickCount": 1})

    def ctrl_f_answer(self, text):
        """Press Ctrl-F and answer the prompt it opens with text."""
        key = {"type": "keyDown", "key": "f", "code": "KeyF", "modifiers": 2,
               "windowsVirtualKeyCode": 70, "nativeVirtualKeyCode": 70}
        cid = self.post("Input.dispatchKeyEvent", key)
        dialog = self.wait_event("Page.javascriptDialogOpening")
        self.call("Page.handleJavaScriptDialog", {"accept": True, "promptText": text})
        self.result(cid)
        self.call("Input.dispatchKeyEvent", dict(key, type="keyUp"))
        return dialog

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_child)
        os.close(self.from_child)
        shutil.rmtree(self.profile, ignore_errors=True)


def png_pixels(data):
    """(width, height, rows): rows of (r, g, b) tuples, from an 8-bit RGB
    or RGBA, non-interlaced PNG (what Chromium's screenshots are)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xff
            elif f == 2:
                line[i] = (line[i] + b) & 0xff
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xff
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xff
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return width, height, rows
