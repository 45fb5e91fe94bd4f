"""Shared fixtures: real photos from ../shared/data, JPEGs that carry private metadata, the real
models (loaded once per session), and the ``slow`` marker.

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
SHARED_DATA = Path(os.environ.get("VEIL_SHARED_DATA", REPO.parent / "shared" / "data"))
IMAGENET_SAMPLE = SHARED_DATA / "imagenet-sample"

# EXIF tag numbers used to build and check test photos.
TAG_MAKE, TAG_MODEL, TAG_ORIENTATION, TAG_SOFTWARE = 0x010F, 0x0110, 0x0112, 0x0131
IFD_EXIF, IFD_GPS = 0x8769, 0x8825
TAG_BODY_SERIAL, TAG_DATETIME_ORIGINAL = 0xA431, 0x9003


def imagenet_photo(name: str) -> Path:
    """Path of one photo of the ImageNet sample, e.g. ``imagenet_photo("n01514859_hen")``."""
    return IMAGENET_SAMPLE / f"{name}.JPEG"


def public_domain_photo() -> Path:
    """Grace Hopper's portrait (US Navy, public domain), shipped by matplotlib.

    For pictures that end up in the repository (screenshots): ImageNet photos must not.
    """
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def imagenet_labels() -> dict[str, int]:
    with open(IMAGENET_SAMPLE / "labels.csv", newline="") as handle:
        return {row["file"]: int(row["class_index"]) for row in csv.DictReader(handle)}


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
def hen_path() -> Path:
    return imagenet_photo("n01514859_hen")


@pytest.fixture
def private_jpeg(hen_path: Path) -> bytes:
    return jpeg_with_private_metadata(hen_path, size=(320, 240))


# Fixtures that load real models: a test that uses one is slow.
MODEL_FIXTURES = frozenset({"surrogate", "protector", "toolkit", "judge"})


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
