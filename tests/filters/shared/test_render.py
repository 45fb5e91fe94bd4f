"""filters/shared/render.py: a view's change laid on the photo, within its bound, on its detail."""

from __future__ import annotations

import numpy as np
import torch

from filters.shared.budget import DETAIL_MOST
from filters.shared.render import render_delta, shaped_gain
from filters.shared.surrogate import INPUT_SIZE
from tests.photos import real_image


def test_render_delta_keeps_the_bound_and_size():
    pixels = np.asarray(real_image(size=(517, 389)))
    delta = (torch.rand(1, 3, INPUT_SIZE, INPUT_SIZE) * 2 - 1) * 6 / 255
    out = render_delta(pixels, delta)
    assert out.shape == pixels.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - pixels.astype(int)).max() == 6


def test_render_delta_spreads_the_change_over_the_photos_detail():
    # Stripes 8 pixels wide, flat and busy by turns, finer than the view (1/16 of the size).
    pixels = np.full((384, 512, 3), 128, np.uint8)
    busy = np.random.default_rng(0).integers(60, 200, (384, 512, 3), dtype=np.uint8)
    for offset in range(8, 16):
        pixels[:, offset::16] = busy[:, offset::16]
    delta = torch.full((1, 3, 24, 32), 4 / 255)
    out = render_delta(pixels, delta, shaped_gain(pixels, (24, 32), floor=0.1)).astype(int)
    change = np.abs(out - pixels)[16:-16, 16:-16]
    assert out.shape == pixels.shape
    assert change[:, 12::16].mean() > 1.5 * change[:, 3::16].mean()
    assert abs(change.mean() - 4) < 1  # about the same change on average
    assert change.max() <= round(4 * DETAIL_MOST)
