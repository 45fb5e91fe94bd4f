"""The extension in real headless Chromium against a real `veil run` (one session per module).

The tests run in order, as a user would: pair, protect the site from the popup, upload,
read the audit page; a hostile page tries its luck; then Veil stops and uploads fail closed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, Page, Playwright, Worker, expect
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import IFD_GPS, jpeg_with_private_metadata, public_domain_photo
from tests.e2e import VeilProcess
from tests.extension.conftest import (
    CHROMIUM,
    EXTENSION_ID,
    PROTECTED,
    HostilePage,
    PhotoSite,
    extension_worker,
    launch_chromium,
    open_extension_page,
    pairing_code,
    screenshot,
    trust_veil,
    wait_until,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs chromium: make sysdeps"),
]

SITE_URL = f"https://{PROTECTED}/"
STOPPED_PAGE = re.compile(rf"^chrome-extension://{EXTENSION_ID}/blocked\.html\?")
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
    page.click("#form button")


def post_form(page: Page, name: str, data: bytes) -> None:
    """Send the photo with the plain form: a top-level POST, as a page without script does."""
    files = [{"name": name, "mimeType": "image/jpeg", "buffer": data}]
    page.set_input_files("#native-photo", files=files)
    page.click("#native-send")


def test_before_pairing_only_pairing_is_shown(extension_page: OpenPage, tmp_path: Path) -> None:
    popup = extension_page("popup.html")
    popup.set_viewport_size({"width": 380, "height": 300})
    expect(popup.locator("#pair-first")).to_be_visible()
    expect(popup.locator("#pair-first")).to_contain_text("veil run")
    for hidden in ("#site", "#nosite", "#audit-link", "#options-link", "#notice"):
        expect(popup.locator(hidden)).to_be_hidden()
    screenshot(popup, "popup-unpaired.png", tmp_path)
    options = extension_page("options.html")
    expect(options.locator("#pair-state")).to_have_text("Not paired.")
    expect(options.locator("#pair-form")).to_be_visible()
    for hidden in ("#sites-section", "#add-form", "#defaults-section", "#links"):
        expect(options.locator(hidden)).to_be_hidden()
    screenshot(options, "options-unpaired.png", tmp_path)


def test_pairing_from_the_options_page(
    veil: VeilProcess, worker: Worker, extension_page: OpenPage, tmp_path: Path
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
    expect(options.locator("#defaults-section")).to_be_visible()
    expect(options.locator("#sites-state")).to_be_hidden()
    stored = worker.evaluate("chrome.storage.local.get(['token', 'proxyPort'])")
    assert stored == {"token": veil.token, "proxyPort": veil.proxy_port}
    assert not (veil.home / "paired-origins").exists(), "the fixed origin needs no record"
    screenshot(options, "options.png", tmp_path)


def test_popup_toggle_changes_the_policy(
    veil: VeilProcess,
    worker: Worker,
    site_tab: Page,
    extension_page: OpenPage,
    browser_home: Path,
) -> None:
    assert veil.api("GET", f"/policies/{PROTECTED}").status_code == 404
    site_tab.goto(SITE_URL)  # not protected yet: straight to the site
    expect(site_tab.locator("h1")).to_have_text("Share a photo")
    popup = extension_page(f"popup.html?tabId={tab_id(worker, SITE_URL)}")
    expect(popup.locator("#host")).to_have_text(PROTECTED)
    expect(popup.locator("#state")).to_have_text("not protected")
    popup.click("#toggle")
    expect(popup.locator("#state")).to_have_text("protected")
    # A new site outside the CA's names: Veil signs with a new CA, and the popup says what
    # to run; once run, the notice goes.
    expect(popup.locator("#notice")).to_contain_text("veil certs install")
    assert veil.api("GET", "/health").json()["trust"]["renew"] is True
    trust_veil(veil, browser_home)
    popup.reload()
    expect(popup.locator("#state")).to_have_text("protected")
    expect(popup.locator("#notice")).to_be_hidden()
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
    # The worker looks again 2 s and 8 s after an upload, then once a minute: on a busy
    # machine the audit row can come after the first two looks.
    wait_until(lambda: badge(worker) == "1", timeout_s=75)

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


WHOSE_FACES = {
    "all": "All faces",
    "bystanders": "Bystanders only (keep the main subject's face)",
    "none": "No faces",
}
FACE_FILTERS = ("faces-cloak", "faces-blur", "faces-pixelate")


def test_whose_faces_from_the_popup_and_the_faces_on_the_audit_page(
    veil: VeilProcess, worker: Worker, site_tab: Page, extension_page: OpenPage, photo: bytes
) -> None:
    popup = extension_page(f"popup.html?tabId={tab_id(worker, SITE_URL)}")
    expect(popup.locator("#state")).to_have_text("protected")
    choices = popup.locator("#faces option")
    assert choices.evaluate_all("all => all.map(o => [o.value, o.text])") == list(
        map(list, WHOSE_FACES.items())
    )
    expect(popup.locator("#faces")).to_have_value("all")
    expect(popup.locator("#faces")).to_be_enabled()
    # The face filters are offered with the API's descriptions of them.
    described = {f["name"]: f["description"] for f in veil.api("GET", "/filters").json()["items"]}
    for name in FACE_FILTERS:
        box = popup.locator(f"#filters input[value={name}]")
        expect(box).to_have_attribute("title", described[name])
        expect(popup.locator(f"#filters label:has(input[value={name}])")).to_have_text(name)
    popup.check("#filters input[value=faces-blur]")
    expect(popup.locator("#filters input[value=faces-blur]")).to_be_checked()
    popup.uncheck("#filters input[value=pfgsm]")  # a face photo needs no scene filter here
    expect(popup.locator("#filters input[value=pfgsm]")).not_to_be_checked()
    popup.select_option("#faces", "bystanders")
    expect(popup.locator("#faces")).to_have_value("bystanders")

    def settled() -> dict:  # the popup's changes reach Veil one after another
        policy = veil.api("GET", f"/policies/{PROTECTED}").json()
        return policy if (policy["filters"], policy["faces"]) == want else {}

    want = (["metadata", "faces-blur"], "bystanders")
    policy = wait_until(settled)
    popup.select_option("#strength", "subtle")  # the rest of the policy goes along unchanged
    expect(popup.locator("#strength")).to_have_value("subtle")
    assert veil.api("GET", f"/policies/{PROTECTED}").json() == {**policy, "strength": "subtle"}
    popup.select_option("#strength", "invisible")
    expect(popup.locator("#strength")).to_have_value("invisible")

    # The portrait has one face: the subject's, which "bystanders only" keeps.
    site_tab.goto(SITE_URL)
    upload(site_tab, "portrait.jpg", photo, "/upload/portrait")
    expect(site_tab.locator("#result")).to_have_text("status 200", timeout=120_000)
    popup.select_option("#faces", "all")
    expect(popup.locator("#faces")).to_have_value("all")
    assert veil.api("GET", f"/policies/{PROTECTED}").json()["faces"] == "all"
    upload(site_tab, "portrait.jpg", photo, "/upload/portrait-all")
    expect(site_tab.locator("#result")).to_have_text("status 200", timeout=120_000)
    wait_until(lambda: len(veil.audit(PROTECTED)) >= 4)
    newest, kept = veil.audit(PROTECTED)[:2]
    assert (newest["faces"], newest["faces_changed"], len(newest["faces_found"])) == ("all", 1, 1)
    assert (kept["faces"], kept["faces_changed"]) == ("bystanders", 0)

    audit = extension_page(f"audit.html?site={PROTECTED}")
    cards = audit.locator("article.protected")
    expect(cards).to_have_count(3)
    expect(cards.nth(0).locator("dl")).to_contain_text("1 face found, 1 blurred")
    expect(cards.nth(1).locator("dl")).to_contain_text("1 face found, 0 blurred (bystanders only)")
    expect(cards.nth(2).locator("dl")).not_to_contain_text("face")  # no face filter then
    for index in (0, 1):  # drawn over the photo before, not after
        expect(cards.nth(index).locator(".frame:has(img.before) .face")).to_have_count(1)
        expect(cards.nth(index).locator(".frame:has(img.after) .face")).to_have_count(0)
    image = cards.nth(0).locator("img.before")
    image.evaluate("img => img.decode()")
    x, y, w, h = (float(v) for v in newest["faces_found"][0].split(","))
    shown, face = image.bounding_box(), cards.nth(0).locator(".face").bounding_box()
    assert shown and face
    expected = (x * shown["width"], y * shown["height"], w * shown["width"], h * shown["height"])
    drawn = (face["x"] - shown["x"], face["y"] - shown["y"], face["width"], face["height"])
    assert drawn == pytest.approx(expected, abs=2)
    assert 0.2 < x < 0.5 and 0.1 < y < 0.4  # Grace Hopper's face, upper middle


def test_whose_faces_in_the_default_policy(
    veil: VeilProcess, worker: Worker, extension_page: OpenPage
) -> None:
    options = extension_page("options.html")
    expect(options.locator("#default-faces")).to_have_value("all")
    choices = options.locator("#default-faces option")
    assert choices.evaluate_all("all => all.map(o => o.text)") == list(WHOSE_FACES.values())
    described = {f["name"]: f["description"] for f in veil.api("GET", "/filters").json()["items"]}
    for name in FACE_FILTERS:
        box = options.locator(f"#default-filters input[value={name}]")
        expect(box).to_have_attribute("title", described[name])
    options.select_option("#default-faces", "none")
    options.click("#defaults-form button")
    stored = "async () => (await chrome.storage.local.get('defaults')).defaults.faces"
    wait_until(lambda: worker.evaluate(stored) == "none")
    options.fill("#new-site", "faces.veil-test.example")
    options.click("#add-form button")
    expect(options.locator("#sites")).to_contain_text("faces.veil-test.example")
    assert veil.api("GET", "/policies/faces.veil-test.example").json()["faces"] == "none"
    options.click("[aria-label='Remove faces.veil-test.example']")
    expect(options.locator("#sites")).not_to_contain_text("faces.veil-test.example")
    options.select_option("#default-faces", "all")
    options.click("#defaults-form button")
    wait_until(lambda: worker.evaluate(stored) == "all")


def test_a_blocked_form_upload_shows_veils_page(
    veil: VeilProcess, site: PhotoSite, site_tab: Page, photo: bytes, tmp_path: Path
) -> None:
    site_tab.goto(SITE_URL)
    post_form(site_tab, "broken.jpg", photo[: len(photo) // 3])  # truncated: Veil blocks it
    expect(site_tab).to_have_url(STOPPED_PAGE)
    expect(site_tab.locator("#blocked")).to_be_visible()
    expect(site_tab.locator("#blocked .notice")).to_contain_text(f"sent to {PROTECTED}")
    expect(site_tab.locator("#reason")).to_contain_text("cannot decode this JPEG")
    expect(site_tab.locator("#blocked .notice")).to_contain_text("the original photo was not sent")
    expect(site_tab.locator("#down")).to_be_hidden()
    expect(site_tab.locator("#audit-link")).to_have_attribute(
        "href", f"audit.html?site={PROTECTED}"
    )
    expect(site_tab.locator("#back")).to_have_attribute(
        "href", re.compile(rf"^https://{PROTECTED}")
    )
    assert [r for r in site.received if r.path == "/upload/form"] == []
    [entry] = [e for e in veil.audit(PROTECTED) if e["path"] == "/upload/form"]
    assert entry["outcome"] == "blocked"
    site_tab.set_viewport_size({"width": 900, "height": 600})
    screenshot(site_tab, "blocked-upload.png", tmp_path)
    site_tab.goto(SITE_URL)  # the upload page again, for the tests after


def test_dates_and_numbers_in_the_browsers_language(
    playwright: Playwright, veil: VeilProcess, site: PhotoSite, browser_home: Path, tmp_path: Path
) -> None:
    german = launch_chromium(playwright, browser_home, site, "profile-de", locale="de-DE")
    try:
        extension_worker(german)
        options = open_extension_page(german, "options.html")
        options.fill("#api-port", str(veil.api_port))
        options.fill("#code", pairing_code(veil))
        options.click("#pair-form button")
        expect(options.locator("#pair-state")).to_have_text(
            f"Paired with Veil on port {veil.api_port}."
        )
        audit = open_extension_page(german, f"audit.html?site={PROTECTED}")
        first = audit.locator("article.protected").first
        # German: 02.12.2026, 23:29, and a decimal comma.
        expect(first.locator("time")).to_have_text(
            re.compile(r"^\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}$")
        )
        expect(first.locator("dl")).to_contain_text(re.compile(r"SSIM \d,\d{3}"))
        expect(first.locator("dl")).to_contain_text(re.compile(r"\d\.\d{3} → \d"))  # bytes
        screenshot(audit, "audit-de.png", tmp_path)
    finally:
        german.close()


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
    tmp_path: Path,
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
    # The last known figures and choices, in view but marked, and nothing that cannot work.
    expect(popup.locator("#count")).to_have_text(
        "3 uploads protected here · last known, Veil is not running"
    )
    boxes = popup.locator("#filters input")
    expect(boxes).not_to_have_count(0)
    for index in range(boxes.count()):
        expect(boxes.nth(index)).to_be_disabled()
    expect(popup.locator("#filters input[value=metadata]")).to_be_checked()
    expect(popup.locator("#strength")).to_be_disabled()
    expect(popup.locator("#strength")).to_have_value("invisible")
    expect(popup.locator("#faces")).to_be_disabled()
    expect(popup.locator("#held")).to_be_visible()
    expect(popup.locator("#audit-link")).to_be_hidden()
    popup.set_viewport_size({"width": 380, "height": 360})
    screenshot(popup, "popup-down.png", tmp_path)

    options = extension_page("options.html")
    expect(options.locator("#pair-state")).to_have_text(
        f"Paired, but Veil does not answer on port {veil.api_port}."
    )
    expect(options.locator("#sites-state")).to_contain_text("last known")
    row = options.locator("#sites tr", has_text=PROTECTED)
    expect(row.locator("td.number")).to_have_text("3")
    for control in ("#sites input", "#sites button"):
        controls = options.locator(control)
        expect(controls).not_to_have_count(0)
        for index in range(controls.count()):
            expect(controls.nth(index)).to_be_disabled()
    expect(options.locator("#new-site")).to_be_disabled()
    expect(options.locator("#add-form button")).to_be_disabled()
    expect(options.locator("#links")).to_be_hidden()
    expect(options.locator("#defaults-form button")).to_be_enabled()  # kept here, not in Veil
    screenshot(options, "options-down.png", tmp_path)


def test_with_veil_stopped_a_form_upload_shows_how_to_start_it(
    browser: BrowserContext, site: PhotoSite, site_tab: Page, photo: bytes, tmp_path: Path
) -> None:
    expect(site_tab.locator("#native")).to_be_visible()  # loaded while Veil ran
    post_form(site_tab, "after-stop.jpg", photo)
    expect(site_tab).to_have_url(STOPPED_PAGE)
    down = site_tab.locator("#down")
    expect(down).to_be_visible()
    expect(down.locator("h1")).to_have_text("Veil is not running")
    expect(down).to_contain_text(f"the browser did not contact {PROTECTED}")
    for command in ("veil run", "make run", "veil service install"):
        expect(down.locator("code", has_text=command)).to_be_visible()
    expect(site_tab.locator("#blocked")).to_be_hidden()
    site_tab.click("#check")
    expect(site_tab.locator("#check-result")).to_have_text("Veil still does not answer.")
    assert [r for r in site.received if r.path == "/upload/form"] == []
    site_tab.set_viewport_size({"width": 900, "height": 600})
    screenshot(site_tab, "blocked-down.png", tmp_path)
    # A plain visit too: the browser's error page, then Veil's page in its place.
    visit = browser.new_page()
    with contextlib.suppress(PlaywrightError):
        visit.goto(SITE_URL)
    expect(visit).to_have_url(STOPPED_PAGE)
    expect(visit.locator("#back")).to_have_attribute("href", SITE_URL)
    visit.close()
