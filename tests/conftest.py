"""Shared fixtures: the real photos in tests/data, JPEGs that carry private metadata, the real
models (loaded once per session), the ``slow`` marker, and the data sets kept outside the
repository (``shared_data``).

The photos in tests/data are public domain or CC0 (tests/data/SOURCES.md), so a clone runs
the suite on its own. The ImageNet sample and the face sets stay in ../shared/data (or
``$VEIL_SHARED_DATA``): a test that needs one is marked ``@pytest.mark.shared_data("name")``
or calls ``shared_data("name")``, and skips, saying where the set comes from, when it is
absent; with ``CI=true`` a missing set fails the test instead.

A test is slow when it needs the real models or a real ``veil run`` or browser: it uses a
model fixture, or its module is marked ``slow``/``e2e``. ``pytest -m "not slow"`` runs the
others in seconds, and a test left unmarked that loads a model anyway fails, saying so.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from batch.judge import Judge
from filters import FILTERS, ProtectionRecord, Protector
from filters.base import Toolkit
from filters.shared.surrogate import Ensemble, Surrogate

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
SHARED_DATA = Path(os.environ.get("VEIL_SHARED_DATA", REPO.parent / "shared" / "data"))
IMAGENET_SAMPLE = SHARED_DATA / "imagenet-sample"
FACES = SHARED_DATA / "faces"

# The data sets that stay out of the repository, and what each one is.
SHARED_SETS = {
    "imagenet-sample": "250 ImageNet photos, one for every fourth class, with labels.csv; from "
    "github.com/EliSchwartz/imagenet-sample-images, for non-commercial research only, so "
    "never in the repository",
    "faces": "photos of five public figures (one folder each) and three group photos, from "
    "the examples of github.com/ageitgey/face_recognition",
}

# EXIF tag numbers used to build and check test photos.
TAG_MAKE, TAG_MODEL, TAG_ORIENTATION, TAG_SOFTWARE = 0x010F, 0x0110, 0x0112, 0x0131
IFD_EXIF, IFD_GPS = 0x8769, 0x8825
TAG_BODY_SERIAL, TAG_DATETIME_ORIGINAL = 0xA431, 0x9003


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"true", "1"}


def shared_data(name: str) -> Path:
    """The folder of the shared data set ``name`` (a key of ``SHARED_SETS``).

    When it is absent or empty, the calling test skips, saying what the set is and where it
    goes; under ``CI=true`` it fails instead, so a CI run never passes without its data.
    """
    folder = SHARED_DATA / name
    if folder.is_dir() and any(folder.iterdir()):
        return folder
    message = (
        f"needs the shared data set {name!r}, absent from {folder}: {SHARED_SETS[name]}. "
        f"Put it in ../shared/data/{name} beside the clone, or point VEIL_SHARED_DATA at "
        "the folder that holds it"
    )
    if running_in_ci():
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def photo_path(name: str) -> Path:
    """One of the suite's own photos in tests/data, e.g. ``photo_path("chelsea")``."""
    return TEST_DATA / f"{name}.jpg"


def imagenet_photo(name: str) -> Path:
    """Path of one photo of the ImageNet sample, e.g. ``imagenet_photo("n01514859_hen")``;
    the test skips (fails under CI=true) without the sample."""
    return shared_data("imagenet-sample") / f"{name}.JPEG"


def public_domain_photo() -> Path:
    """Grace Hopper's portrait (US Navy, public domain; tests/data/SOURCES.md).

    For pictures that end up in the repository (screenshots): ImageNet photos must not.
    """
    return photo_path("grace_hopper")


def read_labels(folder: Path) -> dict[str, int]:
    """A benchmark folder's labels.csv: each file's true ImageNet class index."""
    with open(folder / "labels.csv", newline="") as handle:
        return {row["file"]: int(row["class_index"]) for row in csv.DictReader(handle)}


def imagenet_labels() -> dict[str, int]:
    return read_labels(shared_data("imagenet-sample"))


def photo_labels() -> dict[str, int]:
    """The true ImageNet classes of the tests/data photos that have one, by file name."""
    return read_labels(TEST_DATA)


@functools.cache  # lcms stamps the creation time into the profile: make it once
def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def private_exif(orientation: int = 1) -> Image.Exif:
    """EXIF with GPS, a camera serial, make/model and dates: what a phone writes."""
    exif = Image.Exif()
    exif[TAG_MAKE] = "Canon"
    exif[TAG_MODEL] = "Canon EOS 5D Mark IV"
    exif[TAG_SOFTWARE] = "Firmware 1.2.3"
    exif[TAG_ORIENTATION] = orientation
    exif_ifd = exif.get_ifd(IFD_EXIF)
    exif_ifd[TAG_BODY_SERIAL] = "082021001234"
    exif_ifd[TAG_DATETIME_ORIGINAL] = "2026:06:01 12:34:56"
    gps = exif.get_ifd(IFD_GPS)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 29.5)
    gps[3] = "E"
    gps[4] = (2.0, 17.0, 40.2)
    return exif


def iptc_app13(caption: str = "Home, 12 Rue Example") -> bytes:
    """A JPEG APP13 segment holding an IPTC caption (Pillow cannot write IPTC)."""
    record = b"\x1c\x02\x78" + struct.pack(">H", len(caption)) + caption.encode()
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(record)) + record
    if len(record) % 2:
        resource += b"\x00"
    payload = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with_private_metadata(
    source: Path | Image.Image, size: tuple[int, int] | None = None, orientation: int = 1
) -> bytes:
    """A real photo as JPEG carrying GPS, serials, XMP, IPTC, a comment and an sRGB profile."""
    image = source if isinstance(source, Image.Image) else Image.open(source)
    image = image.convert("RGB")
    if size is not None:
        image = image.resize(size, Image.Resampling.LANCZOS)
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        b'22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
        b'exif:GPSLatitude="48,51.49N"/></rdf:RDF></x:xmpmeta>'
    )
    buffer = io.BytesIO()
    image.save(
        buffer,
        "JPEG",
        quality=90,
        exif=private_exif(orientation),
        icc_profile=srgb_icc(),
        comment=b"shot at home",
        xmp=xmp,
    )
    data = buffer.getvalue()
    return data[:2] + iptc_app13() + data[2:]


def a_record(**changes: object) -> ProtectionRecord:
    """A made-up protection record, for tests of what stores and shows records."""
    values: dict[str, object] = {
        "sha256_before": "a" * 64,
        "sha256_after": "b" * 64,
        "size_before": 1000,
        "size_after": 900,
        "width": 320,
        "height": 240,
        "metadata_removed": ["GPS"],
        "label_before": "hen",
        "confidence_before": 0.9,
        "label_after": "cock",
        "confidence_after": 0.4,
        "ssim": 0.97,
        "psnr": 35.0,
        "ciede2000": 0.4,
        "ssimulacra2": 86.0,
        "butteraugli": 2.8,
        "platform_ssimulacra2": 81.0,
        "platform_butteraugli": 2.2,
        "visibility": "none at normal size",
        "elapsed_ms": 1500.0,
    }
    return ProtectionRecord(**{**values, **changes})  # type: ignore[arg-type]


@pytest.fixture
def photo_file() -> Path:
    """A real photo as its camera-like JPEG file (Chelsea the cat, 451 x 300)."""
    return photo_path("chelsea")


@pytest.fixture
def private_jpeg(photo_file: Path) -> bytes:
    return jpeg_with_private_metadata(photo_file, size=(320, 240))


# Fixtures that load real models: a test that uses one is slow.
MODEL_FIXTURES = frozenset({"surrogate", "protector", "toolkit", "judge"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "shared_data(name): needs a data set of ../shared/data (SHARED_SETS in tests/conftest.py);"
        " skips without it, fails without it under CI=true",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture loads a model: a test marked ``shared_data`` needs its data set."""
    for marker in item.iter_markers("shared_data"):
        for name in marker.args:
            shared_data(name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        needs_models = MODEL_FIXTURES & set(getattr(item, "fixturenames", ()))
        if needs_models or item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _models_only_in_slow_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Keep the marker honest: outside slow tests, loading a model is an error."""
    if request.node.get_closest_marker("slow") is None:

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("this test loads a real model: mark it slow (or use a fake)")

        for model in (Surrogate, Ensemble, Judge):
            monkeypatch.setattr(model, "load", refuse)


@pytest.fixture(scope="session")
def surrogate() -> Surrogate:
    return Surrogate.load()


@pytest.fixture(scope="session")
def protector(surrogate: Surrogate) -> Protector:
    protector = Protector(surrogate)
    protector.load(list(FILTERS))
    return protector


@pytest.fixture(scope="session")
def judge() -> Judge:
    return Judge.load()


@pytest.fixture(scope="session")
def toolkit(protector: Protector) -> Toolkit:
    """What filters are built from, around the session's surrogate."""
    return protector.toolkit()
