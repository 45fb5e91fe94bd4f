"""The extension in real headless Chromium against a real `veil run` (one session per module).

The tests run in order, as a user would: pair, protect the site from the popup, upload,
read the audit page; a hostile page tries its luck; then Veil stops and uploads fail closed.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, Page, Worker, expect

from tests.conftest import IFD_GPS, jpeg_with_private_metadata, public_domain_photo
from tests.extension.conftest import (
    CHROMIUM,
    PROTECTED,
    HostilePage,
    PhotoSite,
    pairing_code,
    screenshot,
    wait_until,
)
from tests.e2e import VeilProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs chromium: make sysdeps"),
]

SITE_URL = f"https://{PROTECTED}/"
OpenPage = Callable[[str], Page]


@pytest.fixture(scope="module")
def photo() -> bytes:
    # Its screenshots go into the repository: a public-domain photo, not an ImageNet one.
    return jpeg_with_private_metadata(public_domain_photo(), size=(256, 300))


@pytest.fixture(scope="module")
def site_tab(browser: BrowserContext) -> Page:
    """The photo site's upload page, kept open across the tests."""
    return browser.new_page()


def form_files(received_headers: dict[str, str], body: bytes) -> dict[str, bytes]:
    """The parts of a multipart body by field name (the test's own small parser)."""
    boundary = received_headers["Content-Type"].split("boundary=")[1].strip('"').encode()
    parts = {}
    for chunk in body.split(b"--" + boundary)[1:-1]:
        head, _, content = chunk.partition(b"\r\n\r\n")
        name = head.split(b'name="')[1].split(b'"')[0].decode()
        parts[name] = content.removesuffix(b"\r\n")
    return parts


def badge(worker: Worker) -> str:
    return worker.evaluate("chrome.action.getBadgeText({})")


def tab_id(worker: Worker, url: str) -> int:
    return worker.evaluate(f"async () => (await chrome.tabs.query({{url: {url!r} + '*'}}))[0].id")


def upload(page: Page, name: str, data: bytes, path: str) -> None:
    page.fill("#path", path)
    page.set_input_files("#photo", files=[{"name": name, "mimeType": "image/jpeg", "buffer": data}])
    page.click("button")


def test_pairing_from_the_options_page(
    veil: VeilProcess, worker: Worker, extension_page: OpenPage
) -> None:
    options = extension_page("options.html")
    expect(options.locator("#pair-state")).to_have_text("Not paired.")
    options.fill("#api-port", str(veil.api_port))
    options.fill("#code", "WRNG-CODE")
    options.click("#pair-form button")
    expect(options.locator("#notice")).to_contain_text("Pairing failed: wrong pairing code")
    options.fill("#code", pairing_code(veil).lower())
    options.click("#pair-form button")
    expect(options.locator("#pair-state")).to_have_text(
        f"Paired with Veil on port {veil.api_port}."
    )
    expect(options.locator("#sites")).to_contain_text("*.imgur.com")  # the API's default policies
    stored = worker.evaluate("chrome.storage.local.get(['token', 'proxyPort'])")
    assert stored == {"token": veil.token, "proxyPort": veil.proxy_port}
    assert not (veil.home / "paired-origins").exists(), "the fixed origin needs no record"


def test_popup_toggle_changes_the_policy(
    veil: VeilProcess, worker: Worker, site_tab: Page, extension_page: OpenPage
) -> None:
    assert veil.api("GET", f"/policies/{PROTECTED}").status_code == 404
    site_tab.goto(SITE_URL)  # not protected yet: straight to the site
    expect(site_tab.locator("h1")).to_have_text("Share a photo")
    popup = extension_page(f"popup.html?tabId={tab_id(worker, SITE_URL)}")
    expect(popup.locator("#host")).to_have_text(PROTECTED)
    expect(popup.locator("#state")).to_have_text("not protected")
    popup.click("#toggle")
    expect(popup.locator("#state")).to_have_text("protected")
    policy = veil.api("GET", f"/policies/{PROTECTED}").json()
    assert policy["enabled"] is True and policy["filters"] == ["metadata", "pfgsm"]
    assert policy["strength"] == "invisible"  # the default
    expect(popup.locator("#strength-hint")).to_contain_text("platform's own compression")
    popup.select_option("#strength", "subtle")
    expect(popup.locator("#strength")).to_have_value("subtle")
    expect(popup.locator("#strength-hint")).to_contain_text("side by side")
    assert veil.api("GET", f"/policies/{PROTECTED}").json()["strength"] == "subtle"
    popup.click("#toggle")
    expect(popup.locator("#state")).to_have_text("not protected")
    assert veil.api("GET", f"/policies/{PROTECTED}").json()["enabled"] is False
    popup.click("#toggle")
    expect(popup.locator("#state")).to_have_text("protected")
    assert veil.api("GET", f"/policies/{PROTECTED}").json() == {**policy, "strength": "subtle"}
    popup.select_option("#strength", "invisible")
    expect(popup.locator("#strength")).to_have_value("invisible")
    assert veil.api("GET", f"/policies/{PROTECTED}").json() == policy


def test_upload_is_protected_and_audited(
    veil: VeilProcess,
    site: PhotoSite,
    worker: Worker,
    site_tab: Page,
    extension_page: OpenPage,
    photo: bytes,
    tmp_path: Path,
) -> None:
    site_tab.goto(SITE_URL)  # routed to Veil now, which decrypts it with its own CA
    upload(site_tab, "holiday.jpg", photo, "/upload/photo")
    expect(site_tab.locator("#result")).to_have_text("status 200", timeout=120_000)
    [received] = [r for r in site.received if r.path == "/upload/photo"]
    parts = form_files(received.headers, received.body)
    sent = parts["file"]
    assert parts["caption"] == b"Our holiday"
    got = Image.open(io.BytesIO(sent))
    assert got.format == "JPEG" and got.size == (256, 300)
    assert not got.getexif().get_ifd(IFD_GPS) and b"082021001234" not in sent
    assert got.convert("RGB").tobytes() != Image.open(io.BytesIO(photo)).convert("RGB").tobytes()
    [entry] = veil.audit(PROTECTED)
    assert (
        entry["outcome"] == "protected"
        and entry["sha256_after"] == hashlib.sha256(sent).hexdigest()
    )
    wait_until(lambda: badge(worker) == "1")

    broken = photo[: len(photo) // 3]  # a JPEG by its bytes, truncated: Veil blocks it
    upload(site_tab, "broken.jpg", broken, "/upload/broken")
    expect(site_tab.locator("#result")).to_have_text("status 403", timeout=60_000)
    assert [r for r in site.received if r.path == "/upload/broken"] == []
    notified = "async () => Object.keys(await chrome.notifications.getAll())"
    wait_until(lambda: any(key.startswith("veil-blocked-") for key in worker.evaluate(notified)))

    popup = extension_page(f"popup.html?tabId={tab_id(worker, SITE_URL)}")
    expect(popup.locator("#count")).to_have_text("1 upload protected here")
    expect(popup.locator("#notice")).to_contain_text(f"Veil blocked an upload to {PROTECTED}")
    popup.set_viewport_size({"width": 380, "height": 360})
    print("popup screenshot:", screenshot(popup, "popup.png", tmp_path))

    audit = extension_page(f"audit.html?site={PROTECTED}")
    protected = audit.locator("article.protected")
    expect(protected).to_have_count(1)
    for which in ("before", "after"):
        image = protected.locator(f"img.{which}")
        expect(image).to_have_attribute("src", re.compile(r"^data:image/jpeg;base64,"))
        assert image.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    expect(protected.locator("dd").first).to_contain_text("holiday.jpg")
    expect(protected).to_contain_text("GPS")
    expect(protected).to_contain_text("Classifier saw")
    expect(protected).to_contain_text("SSIM")
    blocked = audit.locator("article.blocked")
    expect(blocked.locator(".reason")).to_contain_text("Blocked:")
    expect(audit.locator("#summary")).to_have_text(f"2 uploads to {PROTECTED}")
    print("audit screenshot:", screenshot(audit, "audit.png", tmp_path))


HOSTILE_SCRIPT = """
const results = {};
async function attempt(name, request) {
  try {
    const response = await request();
    results[name] = response.type === "opaque" ? "opaque" : response.status;
  } catch (error) {
    results[name] = "refused";
  }
}
const policy = API + "/policies/" + encodeURIComponent(SITE);
const json = {"Content-Type": "application/json"};
await attempt("put", () => fetch(policy, {method: "PUT", headers: json, body: "{}"}));
await attempt("delete", () => fetch(policy, {method: "DELETE"}));
await attempt("post", () => fetch(policy, {method: "POST", mode: "no-cors", body: "{}"}));
const pairing = JSON.stringify({code: CODE});
await attempt("pair", () => fetch(API + "/pair", {method: "POST", headers: json, body: pairing}));
await attempt("pair-simple", () => fetch(API + "/pair", {method: "POST", mode: "no-cors",
  headers: {"Content-Type": "text/plain"}, body: pairing}));
results.runtime = typeof (globalThis.chrome && chrome.runtime && chrome.runtime.sendMessage);
document.getElementById("done").textContent = JSON.stringify(results);
"""


def test_a_hostile_page_cannot_change_any_policy(
    veil: VeilProcess, browser: BrowserContext, hostile: HostilePage
) -> None:
    before = veil.api("GET", "/policies").json()
    code = pairing_code(veil)  # the live code: even knowing it must not help a web page
    constants = {"API": veil.api_url, "SITE": PROTECTED, "CODE": code}
    prelude = "".join(f"const {name} = {json.dumps(value)};\n" for name, value in constants.items())
    hostile.html = (
        '<!doctype html><title>Free prizes</title><p id="done"></p>'
        f"<script type=module>{prelude}{HOSTILE_SCRIPT}</script>"
        f'<form id="f" method="post" action="{veil.api_url}/pair" enctype="text/plain" '
        'target="sink"><input name=\'{"code": "' + code + '", "x": "\' value=\'"}\'></form>'
        '<iframe name="sink"></iframe><script>document.getElementById("f").submit()</script>'
    )
    page = browser.new_page()
    try:
        page.goto(hostile.url)
        expect(page.locator("#done")).not_to_be_empty()
        results = json.loads(page.locator("#done").text_content() or "{}")
    finally:
        page.close()
    assert results["put"] == results["delete"] == results["pair"] == "refused", results
    assert results["runtime"] == "undefined", "a web page cannot message the extension"
    assert veil.api("GET", "/policies").json() == before
    assert not (veil.home / "paired-origins").exists()
    # The code was neither used nor burnt by the page: a local program can still pair with it.
    response = httpx.post(f"{veil.api_url}/pair", json={"code": code}, timeout=10)
    assert response.status_code == 200 and response.json()["token"] == veil.token


def test_with_veil_stopped_uploads_fail_closed_and_the_extension_says_why(
    veil: VeilProcess,
    site: PhotoSite,
    worker: Worker,
    site_tab: Page,
    extension_page: OpenPage,
    photo: bytes,
) -> None:
    veil.stop()
    upload(site_tab, "after-stop.jpg", photo, "/upload/after-stop")
    expect(site_tab.locator("#result")).to_contain_text("failed")
    assert [r for r in site.received if r.path == "/upload/after-stop"] == []
    # The badge can turn to "!" first from a periodic refresh that finds Veil gone; the
    # failed request's own notice (naming the site) follows once webRequest reports it.
    wait_until(lambda: badge(worker) == "!")
    notified = "async () => Object.keys(await chrome.notifications.getAll())"
    wait_until(lambda: f"veil-down-{PROTECTED}" in worker.evaluate(notified))
    title = worker.evaluate("chrome.action.getTitle({})")
    assert "Veil is not running" in title and PROTECTED in title
    popup = extension_page(f"popup.html?tabId={tab_id(worker, SITE_URL)}")
    expect(popup.locator("#notice")).to_contain_text(
        f"Veil is not running, so {PROTECTED} was not contacted"
    )
    expect(popup.locator("#toggle")).to_be_disabled()
