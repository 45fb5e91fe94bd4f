"""Privacy zones in the options page, against a real `veil run` (one browser per module).

In order, as a user would: pair, add zones (one pasted from a map), see them in Veil's
control API, in the browser's language, a refused zone with Veil's reason, remove one; then
Veil stops and the last known zones stay in view, marked, unchangeable.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, Playwright, Worker, expect

from tests.e2e import VeilProcess
from tests.extension.conftest import (
    CHROMIUM,
    EXTENSION_SRC,
    PhotoSite,
    extension_worker,
    launch_chromium,
    open_extension_page,
    pairing_code,
    screenshot,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs chromium: make sysdeps"),
]

OpenPage = Callable[[str], Page]
HOME = {
    "name": "home",
    "latitude": 51.50135,
    "longitude": -0.14189,
    "radius_m": 500,
    "strength": "strongest",
}
WORK = {
    "name": "work",
    "latitude": 48.8584,
    "longitude": 2.2945,
    "radius_m": 1500,
    "strength": "standard",
}

# The page's own parsers, from the extension's module (node, as test_routing does).
PARSE_SCRIPT = """
const format = await import(process.argv[1]);
const texts = JSON.parse(process.argv[2]);
console.log(JSON.stringify(texts.map((t) => [format.parsePoint(t), format.parseDecimal(t)])));
"""
POINTS = {
    "51.50135, -0.14189": (51.50135, -0.14189),  # as Google Maps copies it
    "51.50135,-0.14189": (51.50135, -0.14189),
    "51,50135; -0,14189": (51.50135, -0.14189),  # decimal commas
    "51,50135, -0,14189": (51.50135, -0.14189),
    "51.50135 -0.14189": (51.50135, -0.14189),
    "51.50135° N, 0.14189° W": (51.50135, -0.14189),
    "0.14189° W, 51.50135° N": (51.50135, -0.14189),
    "-33.8568  151.2153": (-33.8568, 151.2153),
    "51.5 N, 3 N": None,
    "51,5": None,  # one number in German, not two
    "51.5": None,
    "home": None,
}
DECIMALS = {"51.50135": 51.50135, "51,50135": 51.50135, "\u22120.5": -0.5, "1.2.3": None, "": None}


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node: make sysdeps")
def test_a_point_pasted_from_a_map_and_decimals_as_typed() -> None:
    texts = [*POINTS, *DECIMALS]
    result = subprocess.run(
        ["node", "--input-type=module", "-e", PARSE_SCRIPT, "--",
         (EXTENSION_SRC / "lib" / "format.js").as_uri(), json.dumps(texts)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    answers = dict(zip(texts, json.loads(result.stdout), strict=True))
    for text, want in POINTS.items():
        point = answers[text][0]
        got = None if point is None else (point["latitude"], point["longitude"])
        assert got == want, text
    for text, want in DECIMALS.items():
        assert answers[text][1] == want, text  # NaN reaches JSON as null


def zones_in_veil(veil: VeilProcess) -> dict:
    response = veil.api("GET", "/zones")
    assert response.status_code == 200, response.text
    return response.json()


def paste(page: Page, selector: str, text: str) -> None:
    """What Ctrl+V does: a paste event carrying the text (the page decides where it goes)."""
    page.locator(selector).evaluate(
        """(input, text) => {
          const data = new DataTransfer();
          data.setData("text/plain", text);
          const event = new ClipboardEvent(
            "paste", {clipboardData: data, bubbles: true, cancelable: true});
          if (input.dispatchEvent(event)) input.value += text;  // not taken: typed in as is
        }""",
        text,
    )


def pair(options: Page, veil: VeilProcess) -> None:
    options.fill("#api-port", str(veil.api_port))
    options.fill("#code", pairing_code(veil))
    options.click("#pair-form button")
    expect(options.locator("#pair-state")).to_have_text(
        f"Paired with Veil on port {veil.api_port}."
    )


def test_before_pairing_no_zones(extension_page: OpenPage) -> None:
    options = extension_page("options.html")
    expect(options.locator("#pair-state")).to_have_text("Not paired.")
    expect(options.locator("#zones-section")).to_be_hidden()
    expect(options.locator("#after-pairing")).to_contain_text("privacy zones")


def test_adding_zones(
    veil: VeilProcess, worker: Worker, extension_page: OpenPage, tmp_path: Path
) -> None:
    options = extension_page("options.html")
    pair(options, veil)
    section = options.locator("#zones-section")
    expect(section).to_be_visible()
    expect(section).to_contain_text("never leave this machine")
    expect(options.locator("#no-zones")).to_be_visible()
    expect(options.locator("#zones-table")).to_be_hidden()
    expect(options.locator("#zone-radius")).to_have_value("500")
    expect(options.locator("#zone-strength")).to_have_value("strongest")
    expect(options.locator("#start-time")).to_have_value(zones_in_veil(veil)["start_time"])
    screenshot(options, "options-zones-empty.png", tmp_path)

    # A point copied from a map, pasted into Latitude: it fills both fields.
    options.fill("#zone-name", "home")
    paste(options, "#zone-latitude", "51.50135, -0.14189")
    expect(options.locator("#zone-latitude")).to_have_value("51.50135")
    expect(options.locator("#zone-longitude")).to_have_value("-0.14189")
    expect(options.locator("#zone-radius")).to_be_focused()
    options.click("#zone-form button")
    expect(options.locator("#zones tr")).to_have_count(1)
    expect(options.locator("#zone-name")).to_have_value("")
    assert zones_in_veil(veil)["zones"] == [HOME]

    # Typed in (a bare comma between two points as decimals, split when sent).
    options.fill("#zone-name", "work")
    options.fill("#zone-latitude", "48.8584,2.2945")
    options.fill("#zone-radius", "1500")
    options.select_option("#zone-strength", "standard")
    options.click("#zone-form button")
    expect(options.locator("#zones tr")).to_have_count(2)
    row = options.locator("#zones tr", has_text="work")
    cells = ["work", "48.85840", "2.29450", "1,500", "standard", "Remove"]
    expect(row.locator("td")).to_have_text(cells)
    expect(options.locator("#zone-strength")).to_have_value("strongest")  # back to the default
    expect(options.locator("#no-zones")).to_be_hidden()
    assert zones_in_veil(veil)["zones"] == [HOME, WORK]

    options.select_option("#start-time", "hour")
    expect(options.locator("#start-time")).to_have_value("hour")
    assert zones_in_veil(veil) == {"zones": [HOME, WORK], "start_time": "hour"}
    expect(options.locator("#zones-error")).to_be_hidden()
    stored = worker.evaluate("chrome.storage.local.get('knownZones')")
    assert stored == {"knownZones": {"zones": [HOME, WORK], "start_time": "hour"}}
    screenshot(options, "options-zones.png", tmp_path)


@pytest.mark.parametrize(
    ("name", "latitude", "longitude", "radius", "error"),
    [
        ("pole", "95", "0", "500", "latitude must be a number from -90 to 90"),
        ("home", "51.5", "-0.1", "500", "There is a zone called home already"),
        ("tiny", "51.5", "-0.1", "10", "radius_m must be a number from 50 to 50000"),
        ("", "51.5", "-0.1", "500", "name must be 1 to 40 characters"),
        ("typo", "51.5x", "-0.1", "500", "Latitude: a number"),
        ("typo", "51.5", "", "500", "Longitude: a number"),
        ("typo", "51.5", "-0.1", "", "Radius: a number of metres"),
    ],
)
def test_a_refused_zone_shows_why(
    veil: VeilProcess,
    extension_page: OpenPage,
    tmp_path: Path,
    name: str,
    latitude: str,
    longitude: str,
    radius: str,
    error: str,
) -> None:
    before = zones_in_veil(veil)
    options = extension_page("options.html")
    expect(options.locator("#zones tr")).to_have_count(len(before["zones"]))
    for field, value in zip(
        ("name", "latitude", "longitude", "radius"),
        (name, latitude, longitude, radius),
        strict=True,
    ):
        options.fill(f"#zone-{field}", value)
    options.click("#zone-form button")
    expect(options.locator("#zones-error")).to_be_visible()
    expect(options.locator("#zones-error")).to_contain_text(error)
    expect(options.locator("#zone-latitude")).to_have_value(latitude)  # kept, to correct
    assert zones_in_veil(veil) == before
    if name == "pole":
        screenshot(options, "options-zones-error.png", tmp_path)


def test_zones_in_the_browsers_language(
    playwright: Playwright, veil: VeilProcess, site: PhotoSite, browser_home: Path, tmp_path: Path
) -> None:
    german = launch_chromium(playwright, browser_home, site, "profile-de", locale="de-DE")
    try:
        extension_worker(german)
        options = open_extension_page(german, "options.html")
        pair(options, veil)
        row = options.locator("#zones tr", has_text="work")
        cells = ["work", "48,85840", "2,29450", "1.500", "standard", "Remove"]
        expect(row.locator("td")).to_have_text(cells)
        expect(options.locator("#zone-latitude")).to_have_attribute("placeholder", "51,50135")
        # As a German writes it: decimal commas.
        options.fill("#zone-name", "Büro")
        options.fill("#zone-latitude", "52,5163")
        options.fill("#zone-longitude", "13,3777")
        options.click("#zone-form button")
        expect(options.locator("#zones tr")).to_have_count(3)
        screenshot(options, "options-zones-de.png", tmp_path)
        office = {**HOME, "name": "Büro", "latitude": 52.5163, "longitude": 13.3777}
        assert zones_in_veil(veil)["zones"] == [HOME, WORK, office]
        options.click("[aria-label='Remove zone Büro']")
        expect(options.locator("#zones tr")).to_have_count(2)
    finally:
        german.close()


def test_removing_a_zone(veil: VeilProcess, extension_page: OpenPage) -> None:
    options = extension_page("options.html")
    expect(options.locator("#zones tr")).to_have_count(2)
    options.click("[aria-label='Remove zone work']")
    expect(options.locator("#zones tr")).to_have_count(1)
    expect(options.locator("#zones")).not_to_contain_text("work")
    assert zones_in_veil(veil) == {"zones": [HOME], "start_time": "hour"}


def test_with_veil_stopped_the_last_known_zones_unchangeable(
    veil: VeilProcess, extension_page: OpenPage, tmp_path: Path
) -> None:
    veil.stop()
    options = extension_page("options.html")
    expect(options.locator("#pair-state")).to_have_text(
        f"Paired, but Veil does not answer on port {veil.api_port}."
    )
    expect(options.locator("#zones-state")).to_contain_text("last known zones")
    expect(options.locator("#zones tr")).to_have_count(1)
    expect(options.locator("#zones tr td").first).to_have_text("home")
    expect(options.locator("[aria-label='Remove zone home']")).to_be_disabled()
    for field in ("name", "latitude", "longitude", "radius", "strength"):
        expect(options.locator(f"#zone-{field}")).to_be_disabled()
    expect(options.locator("#zone-form button")).to_be_disabled()
    expect(options.locator("#start-time")).to_be_disabled()
    expect(options.locator("#start-time")).to_have_value("hour")
    screenshot(options, "options-zones-down.png", tmp_path)
