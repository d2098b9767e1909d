"""Headless Chromium driven over the DevTools protocol (no extra package): open a page, optionally upload a
file into its file input, wait for a text, take a screenshot. Used by the app's browser test and to make
the README's screenshot: ``python tests/browser.py URL OUT.png [FILE] [--wait TEXT]``."""
import argparse
import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from websockets.sync.client import connect


def free_port():
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, seconds, what):
    """Call ``check`` until it returns something true; fail with ``what`` after ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if value := check():
                return value
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"waited {seconds} s for {what}")


class Page:
    """One browser tab: DevTools commands by name, answered in order."""

    def __init__(self, socket_):
        self.socket, self.calls = socket_, 0

    def __call__(self, method, **params):
        self.calls += 1
        self.socket.send(json.dumps({"id": self.calls, "method": method, "params": params}))
        while (answer := json.loads(self.socket.recv())).get("id") != self.calls:
            pass  # an event, or the answer to an earlier command
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def text(self):
        """The page's visible text."""
        return self("Runtime.evaluate", expression="document.body.innerText")["result"].get("value", "")

    def upload(self, path):
        """Put a file into the page's first file input, as a user's upload would."""
        node = wait_for(lambda: self("DOM.querySelector", nodeId=self("DOM.getDocument")["root"]["nodeId"],
                                     selector="input[type=file]")["nodeId"], 60, "a file input")
        self("DOM.setFileInputFiles", nodeId=node, files=[str(Path(path).resolve())])

    def screenshot(self, out):
        """Save the visible page as PNG."""
        Path(out).write_bytes(base64.b64decode(self("Page.captureScreenshot", format="png")["data"]))


@contextmanager
def chromium(url, size=(1200, 800)):
    """A headless Chromium tab showing ``url`` (a ``Page``); the browser is closed afterwards."""
    browser = shutil.which("chromium")
    if browser is None:
        raise FileNotFoundError("Chromium is not installed (Debian: apt-get install chromium)")
    port = free_port()
    process = subprocess.Popen([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--remote-debugging-port={port}",
                                "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        targets = wait_for(lambda: json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2)),
                           60, "Chromium's DevTools port")
        address = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        with connect(address, max_size=None) as socket_:
            page = Page(socket_)
            page("Emulation.setDeviceMetricsOverride", width=size[0], height=size[1], deviceScaleFactor=1, mobile=False)
            page("Page.navigate", url=url)
            yield page
    finally:
        process.terminate()
        process.wait(timeout=30)


def main():
    """Command line: a screenshot of a page, after an optional upload, once a text shows."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("file", nargs="?")
    parser.add_argument("--wait", default="", help="text to wait for before the screenshot")
    parser.add_argument("--size", default="1200x800")
    args = parser.parse_args()
    with chromium(args.url, tuple(map(int, args.size.split("x")))) as page:
        if args.file:
            page.upload(args.file)
        wait_for(lambda: args.wait in page.text(), 120, repr(args.wait))
        time.sleep(2)  # let the figure finish drawing
        page.screenshot(args.out)


if __name__ == "__main__":
    main()
