"""Kept originals from the audit page, in real headless Chromium against a real `veil run`.

In order, as a user would: with keep_originals on, pair, upload, and download the original
from its audit row; after `veil originals forget` the row says it is gone; with Veil started
again with keep_originals off, no row offers one.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import jpeg_with_private_metadata, public_domain_photo
from tests.e2e import REPO, VeilProcess, start_veil
from tests.extension.conftest import CHROMIUM, PROTECTED, PhotoSite, pairing_code, screenshot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs chromium: make sysdeps"),
]

OpenPage = Callable[[str], Page]
AUDIT = f"audit.html?site={PROTECTED}"
ORIGINAL = re.compile(r"^Original: download holiday\.jpg")


@pytest.fixture(scope="module")
def veil(tmp_path_factory: pytest.TempPathFactory, site: PhotoSite) -> Iterator[VeilProcess]:
    """Replaces conftest's: keeping originals, and the site protected from the start."""
    home = tmp_path_factory.mktemp("veil-home")
    process = start_veil(home, site, {PROTECTED: ["metadata"]}, keep_originals=True)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def photo() -> bytes:
    return jpeg_with_private_metadata(public_domain_photo(), size=(256, 300))


def upload(veil: VeilProcess, site: PhotoSite, path: str, data: bytes) -> None:
    with veil.client(site.ca) as client:  # type: ignore[attr-defined]
        files = {"file": ("holiday.jpg", data, "image/jpeg")}
        client.post(f"https://{PROTECTED}{path}", files=files)


def test_the_original_downloads_from_its_audit_row(
    veil: VeilProcess, site: PhotoSite, extension_page: OpenPage, photo: bytes, tmp_path: Path
) -> None:
    options = extension_page("options.html")
    options.fill("#api-port", str(veil.api_port))
    options.fill("#code", pairing_code(veil))
    options.click("#pair-form button")
    expect(options.locator("#pair-state")).to_have_text(
        f"Paired with Veil on port {veil.api_port}."
    )
    upload(veil, site, "/upload/photo", photo)
    upload(veil, site, "/upload/broken", photo[: len(photo) // 3])  # Veil blocks it
    [row] = veil.audit(PROTECTED, "/upload/photo")
    assert row["outcome"] == "protected"
    assert veil.audit(PROTECTED, "/upload/broken")[0]["outcome"] == "blocked"

    audit = extension_page(AUDIT)
    protected = audit.locator("article.protected")
    expect(protected).to_have_count(1)
    expect(audit.locator("article.blocked")).to_have_count(1)
    expect(audit.locator("article.blocked button")).to_have_count(0)  # nothing kept for it
    button = protected.get_by_role("button", name=ORIGINAL)
    expect(button).to_have_text("Original")
    with audit.expect_download() as info:
        button.click()
    download = info.value
    name = f"original-{row['id']}.jpeg"
    assert download.suggested_filename == name
    assert Path(download.path()).read_bytes() == photo
    # The name is Content-Disposition's, as the worker read it (not one Chromium made up).
    sent = audit.evaluate(
        "async (id) => (await import('./lib/ext.js')).send('original', {id})", row["id"]
    )
    assert (sent["name"], sent["type"]) == (name, "image/jpeg")
    expect(protected.locator(".original [role=status]")).to_have_text("")
    screenshot(audit, "audit-original.png", tmp_path)


def test_an_original_no_longer_kept_says_so_in_its_row(
    veil: VeilProcess, extension_page: OpenPage
) -> None:
    command = [sys.executable, "-m", "veil", "--home", str(veil.home), "originals", "forget"]
    result = subprocess.run(
        [*command, "--yes"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    audit = extension_page(AUDIT)
    protected = audit.locator("article.protected")
    protected.get_by_role("button", name=ORIGINAL).click()
    expect(protected.locator(".original [role=status]")).to_have_text(
        "The original is no longer kept (deleted at its limit, or never kept)."
    )
    expect(audit.locator("#notice")).to_be_hidden()


def test_with_keep_originals_off_no_row_offers_one(
    veil: VeilProcess, extension_page: OpenPage
) -> None:
    veil.stop()
    settings = json.loads((veil.home / "settings.json").read_text())
    (veil.home / "settings.json").write_text(json.dumps({**settings, "keep_originals": False}))
    veil.start()
    assert veil.api("GET", "/health").json()["keep_originals"] is False
    audit = extension_page(AUDIT)
    expect(audit.locator("article.protected")).to_have_count(1)
    expect(audit.locator("article.protected dl")).to_be_visible()
    expect(audit.get_by_role("button")).to_have_count(0)
