"""One real Veil, one HTTPS site and one headless Chromium with the unpacked extension.

Chromium trusts Veil's CA and the site's own CA through an NSS database in a temporary HOME
(what `veil trust` does for a user), and resolves the made-up host to the site's port: a
request the extension does not route to Veil really reaches the site, so "the site got
nothing" proves that Veil's routing failed closed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiohttp import web
from playwright.sync_api import BrowserContext, Page, Playwright, Worker, sync_playwright

from certs.trust import install_nss_trust
from proxy.settings import EXTENSION_ID
from tests.e2e import REPO, Upstream, VeilProcess, free_port, serve_site, start_veil

EXTENSION_SRC = REPO / "extension" / "src"
CHROMIUM = Path("/usr/bin/chromium")
PROTECTED = "photos.veil-test.example"
# Set VEIL_SCREENSHOTS=docs/screenshots to refresh the README's screenshots (these names);
# every other state's screenshot goes to the test's temporary folder.
SCREENSHOTS = os.environ.get("VEIL_SCREENSHOTS")
README_SCREENSHOTS = {"popup.png", "popup-down.png", "audit.png", "blocked-down.png"}

# A photo site's upload page: a form whose photo is sent with fetch, as sites do, and a plain
# form whose post is a top-level navigation (what Veil's own page replaces when it is stopped).
UPLOAD_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Photos</title>
</head><body><h1>Share a photo</h1>
<form id="form"><input type="file" id="photo" name="file" accept="image/*">
<input id="path" value="/upload/photo" aria-label="path"><input name="caption" value="Our holiday">
<button>Upload</button></form><p id="result"></p>
<h2>Or as a plain form</h2>
<form id="native" method="post" enctype="multipart/form-data" action="/upload/form">
<input type="file" id="native-photo" name="file" accept="image/*" aria-label="photo">
<button id="native-send">Send</button></form>
<script>
document.getElementById("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const result = document.getElementById("result");
  result.textContent = "sending";
  try {
    const path = document.getElementById("path").value;
    const response = await fetch(path, {method: "POST", body: new FormData(event.target)});
    result.textContent = "status " + response.status;
  } catch (error) {
    result.textContent = "failed: " + error.message;
  }
});
</script></body></html>"""


class PhotoSite(Upstream):
    """The test upstream, also serving the upload page at /."""

    async def _handle(self, request: web.Request) -> web.Response:
        if request.method == "GET" and request.path == "/":
            return web.Response(text=UPLOAD_PAGE, content_type="text/html")
        return await super()._handle(request)


class HostilePage:
    """A plain page on another origin (http://127.0.0.1:<port>) serving the given HTML."""

    def __init__(self) -> None:
        self.html = ""
        page = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = page.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhotoSite]:
    yield from serve_site(tmp_path_factory, [PROTECTED], PhotoSite)


@pytest.fixture(scope="module")
def veil(tmp_path_factory: pytest.TempPathFactory, site: PhotoSite) -> Iterator[VeilProcess]:
    # No extension_origins and no policy: the extension's fixed origin must be allowed by
    # default, and the tests add the site's policy through the extension.
    process = start_veil(tmp_path_factory.mktemp("veil-home"), site, hosts=[PROTECTED])
    yield process
    process.stop()


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostilePage]:
    page = HostilePage()
    yield page
    page.stop()


def pairing_code(veil: VeilProcess) -> str:
    """The newest pairing code `veil run` printed."""
    codes = re.findall(r"pairing code[^:]*: ([A-Z0-9]{4}-[A-Z0-9]{4})", veil.log())
    assert codes, veil.log()
    return codes[-1]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The browser's HOME: its profile and the NSS database it trusts CAs from."""
    return tmp_path_factory.mktemp("browser-home")


def trust_veil(veil: VeilProcess, browser_home: Path) -> None:
    """What a user runs when Veil says so: `veil certs install`, for this browser's NSS."""
    nssdb = browser_home / ".pki" / "nssdb"
    command = [sys.executable, "-m", "veil", "certs", "install", "--nssdb", str(nssdb)]
    env = {**os.environ, "VEIL_HOME": str(veil.home)}
    result = subprocess.run(
        [*command, "--no-system"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def launch_chromium(
    playwright: Playwright, home: Path, site: PhotoSite, profile: str, locale: str | None = None
) -> BrowserContext:
    """Headless Chromium with the unpacked extension; ``locale`` sets its language."""
    language = [f"--lang={locale}"] if locale else []
    context = playwright.chromium.launch_persistent_context(
        str(home / profile),
        executable_path=str(CHROMIUM),
        headless=True,
        locale=locale,
        env={**os.environ, "HOME": str(home), **({"LANGUAGE": locale} if locale else {})},
        args=[
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--disable-extensions-except={EXTENSION_SRC}",
            f"--load-extension={EXTENSION_SRC}",
            f"--host-resolver-rules=MAP {PROTECTED} 127.0.0.1:{site.port}",
            *language,
        ],
    )
    context.set_default_timeout(30_000)
    return context


@pytest.fixture(scope="module")
def browser(
    playwright: Playwright,
    veil: VeilProcess,
    site: PhotoSite,
    browser_home: Path,
) -> Iterator[BrowserContext]:
    install_nss_trust(site.ca, browser_home / ".pki" / "nssdb")  # type: ignore[attr-defined]
    trust_veil(veil, browser_home)
    context = launch_chromium(playwright, browser_home, site, "profile")
    yield context
    context.close()


def extension_worker(browser: BrowserContext) -> Worker:
    worker = browser.service_workers[0] if browser.service_workers else None
    worker = worker or browser.wait_for_event("serviceworker")
    assert worker.url == f"chrome-extension://{EXTENSION_ID}/background.js"
    return worker


@pytest.fixture(scope="module")
def worker(browser: BrowserContext) -> Worker:
    """The extension's service worker, for what only it can read (badge, storage, tabs)."""
    return extension_worker(browser)


@pytest.fixture
def extension_page(browser: BrowserContext, worker: Worker) -> Iterator[Callable[[str], Page]]:
    """Open chrome-extension://<id>/<path> in a new tab; the tabs close after the test."""
    pages: list[Page] = []

    def open_page(path: str) -> Page:
        page = open_extension_page(browser, path)
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        page.close()


def open_extension_page(browser: BrowserContext, path: str) -> Page:
    page = browser.new_page()
    page.set_viewport_size({"width": 900, "height": 700})
    page.goto(f"chrome-extension://{EXTENSION_ID}/{path}")
    return page


def wait_until(check: Callable[[], object], timeout_s: float = 20.0) -> object:
    """Poll ``check`` until it returns something truthy (for state outside any page)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, "timed out waiting"
            return value
        time.sleep(0.1)


def screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    """Save the page as it looks now: a state to look at, and maybe a README picture."""
    folder = Path(SCREENSHOTS) if SCREENSHOTS and name in README_SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes().startswith(b"\x89PNG")
    return path
