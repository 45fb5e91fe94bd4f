"""PNG (16-bit, palette with alpha) and WebP (lossy, lossless, alpha) beyond the codec basics."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from filters.codecs import decode, encode, sent_pixels
from filters.codecs.pngfile import read_wide_png, write_wide_png
from tests.photos import encoded, opened, real_image


def changed(photo):
    return photo.with_pixels(np.minimum(photo.pixels, 250) + 5)


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_sixteen_bit_png_keeps_depth_alpha_and_low_bits(channels):
    rgb = np.asarray(real_image(size=(40, 30))).astype(np.uint16) * 257 + 1
    alpha = np.tile(np.linspace(0, 65535, 40).astype(np.uint16), (30, 1))[:, :, None]
    wide = {2: np.dstack([rgb[:, :, :1], alpha]), 3: rgb, 4: np.dstack([rgb, alpha])}[channels]
    data = write_wide_png(wide)
    assert np.array_equal(read_wide_png(data), wide)  # the writer's own file reads back
    photo = decode(data)
    assert photo.encoding.bits == 16 and (photo.alpha is not None) == (channels != 3)
    assert encode(photo) == data
    new = changed(photo)
    out = encode(new)
    assert out[24] == 16 and read_wide_png(out).shape == wide.shape
    back = read_wide_png(out).astype(int)
    if channels != 3:
        assert np.array_equal(back[:, :, -1], wide[:, :, -1])  # alpha untouched, 16-bit
    step = new.pixels.astype(int)[:, :, : back.shape[2] - (channels != 3)]
    step -= photo.pixels.astype(int)[:, :, : step.shape[2]]
    expected = (wide[:, :, : step.shape[2]].astype(int) + 257 * step).clip(0, 65535)
    assert np.array_equal(back[:, :, : step.shape[2]], expected)
    assert np.array_equal(decode(out).pixels, new.pixels)


def test_palette_png_with_alpha_stays_palette():
    rgba = real_image(size=(64, 48)).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((64, 48)))
    data = encoded(rgba.quantize(32, Image.Quantize.FASTOCTREE), "PNG")
    photo = decode(data)
    assert photo.mode == "PA" and photo.encoding.colors == 32
    out = opened(encode(changed(photo)))
    assert out.mode == "P" and "transparency" in out.info
    assert len(out.getpalette()) // 3 <= 32
    assert np.abs(np.asarray(out.convert("RGBA"))[:, :, 3].astype(int) - photo.alpha).max() < 40
    assert np.array_equal(np.asarray(out.convert("RGBA"))[:, :, :3], sent_pixels(changed(photo)))


@pytest.mark.parametrize(
    ("options", "lossless", "mode"),
    [
        ({"quality": 75}, False, "RGB"),
        ({"lossless": True}, True, "RGB"),
        ({"quality": 75, "alpha": True}, False, "RGBA"),
        ({"lossless": True, "alpha": True}, True, "RGBA"),
    ],
)
def test_webp_kinds_keep_kind_and_size(options, lossless, mode):
    image = real_image(size=(64, 48))
    if options.pop("alpha", False):
        image = image.convert("RGBA")
        image.putalpha(Image.linear_gradient("L").resize((64, 48)))
    data = encoded(image, "WEBP", **options)
    photo = decode(data)
    assert photo.encoding.lossless is lossless and photo.mode == mode
    out = encode(changed(photo))
    again = opened(out)
    assert again.size == (64, 48) and again.mode == mode
    assert (b"VP8L" in out) is lossless
    assert np.array_equal(decode(out).pixels, sent_pixels(changed(photo)))
