"""Animations (GIF, animated WebP, APNG): every frame protected, timing and loop kept."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageSequence

from filters import Chain, Filter, Filtered, FilterSettings, ProtectionError
from filters.codecs import decode, encode
from filters.codecs.frames import MAX_FRAMES
from filters.codecs.giffile import gif_blocks, write_gif_metadata
from filters.codecs.photo import Metadata
from filters.codecs.webpfile import webp_chunks
from filters.metadata import MetadataFilter
from filters.pipeline import protect_frames
from tests.photos import encoded, opened, real_image

SIZE = (64, 48)
DURATIONS = [100, 200, 300]


def frames() -> list[Image.Image]:
    image = real_image(size=SIZE)
    return [image, image.rotate(180), image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]


def animation(kind: str, **options: object) -> bytes:
    first, *rest = frames()
    return encoded(
        first, kind, save_all=True, append_images=rest, duration=DURATIONS, loop=3, **options
    )


class Brighten(Filter):
    """Adds one level to every frame it sees, and counts them."""

    name = "brighten"
    description = "One level brighter."

    def __init__(self) -> None:
        self.seen = 0

    def apply(self, photo, settings):
        self.seen += 1
        return Filtered(photo.with_pixels(np.minimum(photo.pixels, 250) + 5), {"n": self.seen})


def shown(data: bytes) -> list[np.ndarray]:
    """Every frame as a viewer composites it, RGB."""
    return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(opened(data))]


@pytest.mark.parametrize(
    ("kind", "options", "tolerance"),
    [("GIF", {"comment": b"at home"}, 1.0), ("WEBP", {"quality": 90}, 3.0), ("PNG", {}, 0.0)],
)
def test_every_frame_is_filtered_and_timing_kept(kind, options, tolerance):
    data = animation(kind, **options)
    photo = decode(data)
    assert photo.is_animated and len(photo.frames) == 3 and photo.encoding.loop == 3
    step = Brighten()
    result = protect_frames(Chain([step]), photo, FilterSettings())
    assert step.seen == 3 and result.report["frames"]["count"] == 3
    out = encode(result.photo)
    image = opened(out)
    assert image.format == kind and image.size == SIZE and image.n_frames == 3
    assert image.info["loop"] == 3
    durations = []
    for index in range(3):
        image.seek(index)
        image.load()
        durations.append(image.info["duration"])
    assert durations == DURATIONS
    for before, after, frame in zip(shown(data), shown(out), result.photo.frames, strict=True):
        assert np.abs(after.astype(int) - frame.pixels).mean() <= tolerance
        assert np.abs(after.astype(int) - before).mean() > 2  # the change reached each frame


def test_gif_keeps_disposal_and_transparency():
    rgba = [f.convert("RGBA") for f in frames()]
    for image in rgba:
        image.paste((0, 0, 0, 0), (0, 0, 16, 16))  # a transparent corner in every frame
    data = encoded(
        rgba[0], "GIF", save_all=True, append_images=rgba[1:], duration=DURATIONS, disposal=2
    )
    photo = decode(data)
    assert photo.mode == "PA" and not photo.frames[1].alpha[:16, :16].any()
    result = protect_frames(Chain([Brighten()]), photo, FilterSettings())
    image = opened(encode(result.photo))
    image.seek(1)
    assert image.disposal_method == 2
    assert not np.asarray(image.convert("RGBA"))[:16, :16, 3].any()


@pytest.mark.parametrize("kind", ["GIF", "WEBP", "PNG"])
def test_metadata_only_keeps_every_frame_byte_for_byte(kind):
    data = animation(kind, **({"comment": b"at home"} if kind == "GIF" else {}))
    photo = decode(data)
    result = protect_frames(Chain([MetadataFilter()]), photo, FilterSettings())
    out = encode(result.photo)
    assert [np.array_equal(a, b) for a, b in zip(shown(data), shown(out), strict=True)] == [
        True
    ] * 3
    if kind == "GIF":
        images = [b for k, _label, b in gif_blocks(data)[1] if k == 0x2C]
        assert images == [b for k, _label, b in gif_blocks(out)[1] if k == 0x2C]
        assert b"at home" not in out and "comment" not in opened(out).info
    if kind == "WEBP":
        assert [c for c in webp_chunks(data) if c[0] == b"ANMF"] == [
            c for c in webp_chunks(out) if c[0] == b"ANMF"
        ]


def test_gif_comment_and_xmp_are_read_as_metadata():
    plain = encoded(real_image(size=SIZE), "GIF")
    data = write_gif_metadata(plain, Metadata(xmp=b"<x:xmpmeta/>", comments=(b"shot at home",)))
    assert opened(data).info["extension"][0] == b"XMP DataXMP"  # Pillow walks it too
    photo = decode(data)
    assert photo.metadata.comments == (b"shot at home",)
    assert photo.metadata.xmp == b"<x:xmpmeta/>"
    clean = MetadataFilter().apply(photo, FilterSettings()).photo
    out = encode(clean)
    assert b"shot at home" not in out and b"xmpmeta" not in out
    assert np.array_equal(np.asarray(opened(out)), np.asarray(opened(data)))


def test_a_filter_on_a_whole_animation_fails_clearly():
    photo = decode(animation("GIF"))
    with pytest.raises(ProtectionError, match="frame by frame"):
        Chain([Brighten()]).apply(photo, FilterSettings())


def test_too_many_frames_is_a_clear_error():
    tiny = [Image.new("RGB", (4, 4), (i, 0, 0)) for i in range(MAX_FRAMES + 1)]
    data = encoded(tiny[0], "GIF", save_all=True, append_images=tiny[1:])
    with pytest.raises(ProtectionError, match=f"at most {MAX_FRAMES}"):
        decode(data)
