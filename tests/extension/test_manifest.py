"""The extension's sources: fixed id, MV3 rules (no remote code), and the Firefox build's lint."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from proxy.settings import EXTENSION_ID, EXTENSION_ORIGIN, load_settings
from tests.e2e import REPO
from tests.extension.conftest import EXTENSION_SRC

EXTENSION = REPO / "extension"
WEB_EXT = EXTENSION / "node_modules" / ".bin" / "web-ext"


def manifest() -> dict:
    return json.loads((EXTENSION_SRC / "manifest.json").read_text())


def test_key_gives_the_id_that_veil_allows(tmp_path: Path) -> None:
    digest = hashlib.sha256(base64.b64decode(manifest()["key"])).hexdigest()[:32]
    assert "".join(chr(ord("a") + int(c, 16)) for c in digest) == EXTENSION_ID
    assert load_settings(tmp_path).extension_origins == [EXTENSION_ORIGIN]


def test_manifest_v3_without_remote_code() -> None:
    data = manifest()
    assert data["manifest_version"] == 3
    assert data["background"] == {"service_worker": "background.js", "type": "module"}
    csp = data["content_security_policy"]["extension_pages"]
    assert "script-src 'self'" in csp and "unsafe" not in csp and "http" not in csp.split(";")[0]
    for page in EXTENSION_SRC.glob("*.html"):
        html = page.read_text()
        assert "<script>" not in html and not re.search(r"\bon[a-z]+=", html), page
        for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert "://" not in ref and (EXTENSION_SRC / ref.split("?")[0]).exists(), (page, ref)
    for script in EXTENSION_SRC.rglob("*.js"):
        code = script.read_text()
        assert not re.search(r"\beval\(|new Function\(|importScripts\(", code), script
        for module in re.findall(r'from "(\.[^"]+)"', code):
            assert (script.parent / module).exists(), (script, module)
    referenced = [data["background"]["service_worker"], data["action"]["default_popup"]]
    referenced += [data["options_ui"]["page"], *data["icons"].values()]
    assert all((EXTENSION_SRC / path).exists() for path in referenced)


@pytest.fixture(scope="module")
def firefox_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("node") is None:
        pytest.skip("needs node: make sysdeps")
    out = tmp_path_factory.mktemp("firefox")
    script = EXTENSION / "scripts" / "build-firefox.mjs"
    subprocess.run(["node", str(script), str(out)], check=True, capture_output=True, timeout=60)
    return out


def test_firefox_build_has_its_own_manifest(firefox_build: Path) -> None:
    data = json.loads((firefox_build / "manifest.json").read_text())
    assert "key" not in data and data["background"]["scripts"] == ["background.js"]
    assert data["browser_specific_settings"]["gecko"]["id"]
    chromium = manifest()
    assert data["permissions"] == chromium["permissions"]
    assert sorted(p.name for p in firefox_build.rglob("*.js")) == sorted(
        p.name for p in EXTENSION_SRC.rglob("*.js")
    )


@pytest.mark.skipif(not WEB_EXT.exists(), reason="needs web-ext: make sysdeps (npm ci)")
def test_web_ext_lint_passes_for_firefox(firefox_build: Path) -> None:
    result = subprocess.run(
        [str(WEB_EXT), "lint", "--source-dir", str(firefox_build), "--output", "json"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["summary"] == {"errors": 0, "notices": 0, "warnings": 0}, report
    assert result.returncode == 0
