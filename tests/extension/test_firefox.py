"""The Firefox build of the extension in real headless Firefox ESR against a real `veil run`.

Firefox is driven over WebDriver BiDi (tests/extension/firefox.py) and installs the very
``veil-firefox.xpi`` that `make extension` writes, as a temporary add-on. Its profile trusts
the site's CA, and Veil's once `veil certs install` has found the profile, as a user's would.
The made-up host resolves to 127.0.0.1 with port 443 mapped to the site's
(``network.dns.localDomains``, ``network.socket.forcePort``): a request the extension does not
send to Veil really reaches the site, so "the site got nothing" proves that routing failed
closed. The tests run in order, as a user would: pair, protect the site from the popup,
upload, read the audit page, then stop Veil and upload again.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from certs.trust import install_nss_trust
from tests.conftest import IFD_GPS, jpeg_with_private_metadata, public_domain_photo
from tests.e2e import REPO, VeilProcess, serve_site, start_veil
from tests.extension.conftest import PROTECTED, PhotoSite, pairing_code
from tests.extension.firefox import (
    EXTENSION_ORIGIN,
    FIREFOX,
    GECKO_ID,
    Firefox,
    Tab,
    firefox_version,
)

WEB_EXT = REPO / "extension" / "node_modules" / ".bin" / "web-ext"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not FIREFOX.exists(), reason="needs firefox-esr: make sysdeps"),
    pytest.mark.skipif(not WEB_EXT.exists(), reason="needs web-ext: make sysdeps (npm ci)"),
]

SITE_URL = f"https://{PROTECTED}/"
# Set VEIL_SCREENSHOTS=some/folder to keep the screenshots.
SCREENSHOTS = os.environ.get("VEIL_SCREENSHOTS")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhotoSite]:
    yield from serve_site(tmp_path_factory, [PROTECTED], PhotoSite)


@pytest.fixture(scope="module")
def veil(tmp_path_factory: pytest.TempPathFactory, site: PhotoSite) -> Iterator[VeilProcess]:
    # No policy and no extension origin: Firefox's origin is random, and pairing records it.
    process = start_veil(tmp_path_factory.mktemp("veil-home"), site, hosts=[PROTECTED])
    yield process
    process.stop()


@pytest.fixture(scope="module")
def xpi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package a user installs, built by `make extension`."""
    out = tmp_path_factory.mktemp("extension-build")
    result = subprocess.run(
        ["make", "--no-print-directory", "extension", f"EXTENSION_OUT={out}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with zipfile.ZipFile(out / "veil-chromium.zip") as chromium:  # the fixed id's key at the top
        assert "key" in json.loads(chromium.read("manifest.json"))
    return out / "veil-firefox.xpi"


@pytest.fixture(scope="module")
def firefox(
    tmp_path_factory: pytest.TempPathFactory, site: PhotoSite, xpi: Path
) -> Iterator[Firefox]:
    home = tmp_path_factory.mktemp("firefox-home")
    prefs = {"network.dns.localDomains": PROTECTED, "network.socket.forcePort": f"443={site.port}"}
    browser = Firefox(home, prefs)
    install_nss_trust(site.ca, browser.profile)  # type: ignore[attr-defined]
    browser.start()
    try:
        assert browser.install_extension(xpi) == GECKO_ID
        yield browser
    finally:
        browser.stop()


@pytest.fixture(scope="module")
def extension(firefox: Firefox) -> Tab:
    """An extension page kept open, for what only the extension can read (badge, storage)."""
    tab = firefox.new_tab()
    tab.goto(f"{EXTENSION_ORIGIN}/audit.html")
    return tab


@pytest.fixture(scope="module")
def site_tab(firefox: Firefox) -> Tab:
    """The photo site's upload page, kept open across the tests."""
    return firefox.new_tab()


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("photos") / "holiday.jpg"
    path.write_bytes(jpeg_with_private_metadata(public_domain_photo(), size=(256, 300)))
    return path


@pytest.fixture
def extension_page(firefox: Firefox) -> Iterator[Callable[[str], Tab]]:
    """Open moz-extension://<uuid>/<path> in a new tab; the tabs close after the test."""
    tabs: list[Tab] = []

    def open_page(path: str) -> Tab:
        tab = firefox.new_tab()
        tabs.append(tab)
        tab.set_viewport(900, 700)
        tab.goto(f"{EXTENSION_ORIGIN}/{path}")
        return tab

    yield open_page
    for tab in tabs:
        tab.close()


def wait_until(
    check: Callable[[], object], timeout_s: float = 20.0, describe: Callable[[], object] = str
) -> object:
    """Poll ``check`` until it returns something truthy (for state outside any page)."""
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting: {describe()}"
        time.sleep(0.1)
    return value


def extension_state(extension: Tab, firefox: Firefox) -> str:
    """The badge, its title, the stored problem and the console's end, for a failure."""
    state = extension.evaluate(
        "(async () => ({badge: await browser.action.getBadgeText({}),"
        " title: await browser.action.getTitle({}),"
        " session: await browser.storage.session.get(null)}))()"
    )
    console = [line for line in firefox.log().splitlines() if "console." in line]
    return f"{state}\n" + "\n".join(console[-20:])


def screenshot(tab: Tab, name: str, tmp_path: Path) -> Path:
    path = tab.screenshot((Path(SCREENSHOTS) if SCREENSHOTS else tmp_path) / name)
    assert path.read_bytes().startswith(b"\x89PNG")
    with Image.open(path) as image:  # something drawn, not a blank page
        assert len(image.convert("L").getcolors(1 << 16) or ()) > 10
    return path


def badge(extension: Tab) -> str:
    return extension.evaluate("browser.action.getBadgeText({})")


def tab_id(extension: Tab, url: str) -> int:
    return extension.evaluate(f"browser.tabs.query({{url: {json.dumps(url + '*')}}})")[0]["id"]


def upload(tab: Tab, photo: Path, path: str) -> None:
    tab.evaluate(f"document.getElementById('path').value = {json.dumps(path)}")
    tab.evaluate("document.getElementById('result').textContent = ''")
    tab.set_files("#photo", photo)
    tab.evaluate("document.querySelector('#form button').click()")


def certs_install(veil: VeilProcess, home: Path) -> str:
    """`veil certs install` as the Firefox user runs it: it finds the profile by itself."""
    env = {**os.environ, "VEIL_HOME": str(veil.home), "HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "veil", "certs", "install", "--no-system"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_firefox_is_an_esr_the_build_supports(firefox: Firefox, xpi: Path) -> None:
    manifest = json.loads(zipfile.ZipFile(xpi).read("manifest.json"))
    minimum = manifest["browser_specific_settings"]["gecko"]["strict_min_version"]
    assert minimum == "140.0"
    version = firefox_version(firefox.executable)
    print("Firefox", version)
    assert int(version.split(".")[0]) >= 140


def test_pairing_from_the_options_page(
    veil: VeilProcess, extension: Tab, extension_page: Callable[[str], Tab], tmp_path: Path
) -> None:
    options = extension_page("options.html")
    options.wait_for_text("#pair-state", r"^Not paired\.$")
    screenshot(options, "firefox-options-unpaired.png", tmp_path)
    options.evaluate(f"document.getElementById('api-port').value = '{veil.api_port}'")
    options.evaluate("document.getElementById('code').value = 'WRNG-CODE'")
    options.evaluate("document.querySelector('#pair-form button').click()")
    options.wait_for_text("#notice", "Pairing failed: wrong pairing code")
    code = pairing_code(veil).lower()
    options.evaluate(f"document.getElementById('code').value = {json.dumps(code)}")
    options.evaluate("document.querySelector('#pair-form button').click()")
    options.wait_for_text("#pair-state", rf"^Paired with Veil on port {veil.api_port}\.$")
    options.wait_for_text("#sites", re.escape("*.imgur.com"))  # the API's default policies
    print("options screenshot:", screenshot(options, "firefox-options.png", tmp_path))
    stored = extension.evaluate("browser.storage.local.get(['token', 'proxyPort'])")
    assert stored == {"token": veil.token, "proxyPort": veil.proxy_port}
    # Firefox's origin is random per install: pairing recorded it, and only it.
    recorded = (veil.home / "paired-origins").read_text().split()
    assert recorded == [EXTENSION_ORIGIN]


def test_popup_toggle_protects_the_site(
    veil: VeilProcess,
    site: PhotoSite,
    firefox: Firefox,
    extension: Tab,
    site_tab: Tab,
    extension_page: Callable[[str], Tab],
) -> None:
    assert veil.api("GET", f"/policies/{PROTECTED}").status_code == 404
    site_tab.goto(SITE_URL)  # not protected yet: straight to the site
    assert site_tab.text("h1") == "Share a photo"
    popup = extension_page(f"popup.html?tabId={tab_id(extension, SITE_URL)}")
    popup.wait_for_text("#host", f"^{re.escape(PROTECTED)}$")
    popup.wait_for_text("#state", "^not protected$")
    popup.evaluate("document.getElementById('toggle').click()")
    popup.wait_for_text("#state", "^protected$")
    # A site outside the CA's names: Veil signs with a new CA, and the popup says what to run.
    popup.wait_for_text("#notice", "veil certs install")
    out = certs_install(veil, firefox.home)
    assert f"Firefox profile {firefox.profile.name} NSS database {firefox.profile}: trusted" in out
    popup.reload()
    popup.wait_for_text("#state", "^protected$")
    popup.wait_for("document.getElementById('notice').hidden")
    policy = veil.api("GET", f"/policies/{PROTECTED}").json()
    assert policy["enabled"] is True and policy["filters"] == ["metadata", "pfgsm"]


def test_upload_is_protected_and_audited(
    veil: VeilProcess,
    site: PhotoSite,
    firefox: Firefox,
    extension: Tab,
    site_tab: Tab,
    extension_page: Callable[[str], Tab],
    photo: Path,
    tmp_path: Path,
) -> None:
    site_tab.goto(SITE_URL)  # through Veil now, which decrypts it with its own CA
    assert site_tab.text("h1") == "Share a photo"
    upload(site_tab, photo, "/upload/photo")
    site_tab.wait_for_text("#result", "^status 200$", timeout_s=120)
    [received] = [r for r in site.received if r.path == "/upload/photo"]
    boundary = received.headers["Content-Type"].split("boundary=")[1].strip('"').encode()
    parts = {}
    for chunk in received.body.split(b"--" + boundary)[1:-1]:
        head, _, content = chunk.partition(b"\r\n\r\n")
        parts[head.split(b'name="')[1].split(b'"')[0].decode()] = content.removesuffix(b"\r\n")
    sent, original = parts["file"], photo.read_bytes()
    assert parts["caption"] == b"Our holiday"
    got = Image.open(io.BytesIO(sent))
    assert got.format == "JPEG" and got.size == (256, 300)
    assert not got.getexif().get_ifd(IFD_GPS) and b"082021001234" not in sent
    assert b"082021001234" in original  # the camera serial was there before
    assert got.convert("RGB").tobytes() != Image.open(photo).convert("RGB").tobytes()
    [entry] = veil.audit(PROTECTED)
    assert entry["outcome"] == "protected"
    assert entry["sha256_after"] == hashlib.sha256(sent).hexdigest()
    assert entry["sha256_before"] == hashlib.sha256(original).hexdigest()
    # The row is written once the photo is measured; a busy machine can take longer than the
    # extension's quick re-reads, and then its refresh each minute brings the count.
    wait_until(
        lambda: badge(extension) == "1", 70, describe=lambda: extension_state(extension, firefox)
    )

    popup = extension_page(f"popup.html?tabId={tab_id(extension, SITE_URL)}")
    popup.set_viewport(380, 420)
    popup.wait_for_text("#count", "^1 upload protected here$")
    print("popup screenshot:", screenshot(popup, "firefox-popup.png", tmp_path))

    audit = extension_page(f"audit.html?site={PROTECTED}")
    audit.wait_for("document.querySelectorAll('article.protected').length === 1")
    for which in ("before", "after"):
        image = f"document.querySelector('article.protected img.{which}')"
        audit.wait_for(f"{image}.src.startsWith('data:image/jpeg;base64,')")  # fetched after
        assert audit.evaluate(f"{image}.decode().then(() => {image}.naturalWidth)") > 0
    card = audit.text("article.protected")
    assert "holiday.jpg" in card and "GPS" in card and "SSIM" in card, card
    audit.wait_for_text("#summary", f"^1 upload to {re.escape(PROTECTED)}$")
    print("audit screenshot:", screenshot(audit, "firefox-audit.png", tmp_path))


def test_with_veil_stopped_uploads_fail_closed(
    veil: VeilProcess,
    site: PhotoSite,
    firefox: Firefox,
    extension: Tab,
    site_tab: Tab,
    extension_page: Callable[[str], Tab],
    photo: Path,
    tmp_path: Path,
) -> None:
    veil.stop()
    upload(site_tab, photo, "/upload/after-stop")
    site_tab.wait_for_text("#result", "^failed")
    time.sleep(1)  # a request that went around Veil would have arrived by now
    assert [r for r in site.received if r.path == "/upload/after-stop"] == []
    wait_until(
        lambda: badge(extension) == "!", describe=lambda: extension_state(extension, firefox)
    )
    title = extension.evaluate("browser.action.getTitle({})")
    assert "Veil is not running" in title, title
    notified = "browser.notifications.getAll().then(Object.keys)"
    wait_until(lambda: f"veil-down-{PROTECTED}" in extension.evaluate(notified))
    popup = extension_page(f"popup.html?tabId={tab_id(extension, SITE_URL)}")
    popup.set_viewport(380, 420)
    popup.wait_for_text("#notice", "Veil is not running")
    assert popup.evaluate("document.getElementById('toggle').disabled") is True
    print("popup screenshot:", screenshot(popup, "firefox-popup-down.png", tmp_path))
