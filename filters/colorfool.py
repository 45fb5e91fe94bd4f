"""The ``colorfool`` filters: semantic colour changes in CIE Lab that change the label.

ColorFool (Shamsabadi, Sanchez-Matilla, Cavallaro, CVPR 2020) leaves lightness alone and
shifts the a, b channels of each semantic region: people never, sky and water only towards
blue (a, b <= 0), vegetation only towards green-yellow (a <= 0, b >= 0), everything else by
one random shift. Its black-box search draws random shifts, scales trial t by t / T and stops
at the first label change (``colorfool-search``). ``colorfool`` finds the shifts with the
surrogate's gradient instead, in a few steps. Both keep the strength's perceptual budget
(mean CIEDE2000, SSIM), work on the classifier's 224 px view and apply the shifts to the
full photo as a smooth field, exactly in Lab.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import piq
import torch
import torch.nn.functional as F
from kornia.color import lab_to_rgb, rgb_to_lab

from filters.base import Filter, Filtered, FilterSettings
from filters.codec import sent_pixels
from filters.photo import Photo
from filters.quality import delta_e2000
from filters.regions import REGIONS, Regions, find_regions
from filters.surrogate import INPUT_SIZE, Surrogate

__all__ = [
    "BUDGETS",
    "NATURAL",
    "ColorFoolFilter",
    "ColorFoolSearchFilter",
    "ColourBudget",
    "change_lab",
]


@dataclass(frozen=True)
class ColourBudget:
    """One strength: how far colours may move and how hard the attack tries.

    ``max_shift`` bounds each region's a, b shift (Lab units); ``delta_e`` the mean
    CIEDE2000 and ``ssim`` the SSIM of the classifier's view; ``trials`` the search's T;
    ``steps`` the gradient steps; ``margin`` the logit lead the new label needs.
    """

    max_shift: float
    delta_e: float
    ssim: float
    trials: int
    steps: int
    margin: float


BUDGETS = {
    "low": ColourBudget(max_shift=10, delta_e=3.0, ssim=0.97, trials=100, steps=12, margin=0.5),
    "medium": ColourBudget(max_shift=18, delta_e=5.0, ssim=0.95, trials=200, steps=16, margin=1),
    "high": ColourBudget(max_shift=30, delta_e=8.0, ssim=0.92, trials=300, steps=20, margin=2),
}
# Where each shifted region's (a, b) shift may go, as fractions of ``max_shift``.
NATURAL = {
    "sky": ((-1.0, 0.0), (-1.0, 0.0)),
    "water": ((-1.0, 0.0), (-1.0, 0.0)),
    "vegetation": ((-1.0, 0.0), (0.0, 1.0)),
    "other": ((-1.0, 1.0), (-1.0, 1.0)),
}
SHIFTED = tuple(NATURAL)
BAND_ROWS = 256  # full-resolution rows converted at once: ~12 MB of floats a band
GAMUT_SCALES = (0.5, 0.25, 0.0)  # smaller changes tried where a pixel leaves the sRGB gamut
SEARCH_BATCH = 10  # trials classified in one forward pass
# The gradient variant lets each region's shift vary smoothly over a GRID x GRID lattice:
# one shift per region is too weak a change to fool a classifier within a small budget.
GRID = 12
PERSON_GUARD = 2  # mask cells around people left unshifted, so upsampling leaves them exact


def upsampler(size: int, full: int) -> torch.Tensor:
    """(full, size) matrix of one axis of a bilinear resize from ``size`` to ``full``.

    >>> upsampler(2, 4)
    tensor([[1.0000, 0.0000],
            [0.7500, 0.2500],
            [0.2500, 0.7500],
            [0.0000, 1.0000]])
    """
    basis = torch.eye(size)[:, None, :, None].expand(size, 1, size, 2).contiguous()
    return F.interpolate(basis, size=(full, 2), mode="bilinear")[:, 0, :, 0].T.contiguous()


def change_lab(pixels: np.ndarray, field: torch.Tensor) -> np.ndarray:
    """Add a smooth (dL, da, db) change to a photo, exactly in CIE Lab.

    The change is upsampled bilinearly to the photo and applied band by band; pixels with
    no change are copied bit for bit, and where the change would leave the sRGB gamut a
    smaller one (:data:`GAMUT_SCALES`) is used, so no channel is clipped: with dL = 0 the
    lightness stays as it was, up to rounding.

    Args:
        pixels: (H, W, 3) uint8 RGB.
        field: (1, 3, h, w) change in Lab units at any resolution.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be (H, W, 3) uint8, got {pixels.shape}")
    if field.ndim != 4 or field.shape[:2] != (1, 3):
        raise ValueError(f"field must be (1, 3, h, w), got {tuple(field.shape)}")
    height, width = pixels.shape[:2]
    rows, cols = upsampler(field.shape[2], height), upsampler(field.shape[3], width).T
    field = field.detach()[0].float().cpu()
    out = pixels.copy()
    for top in range(0, height, BAND_ROWS):
        change = rows[top : top + BAND_ROWS] @ field @ cols  # (3, band, W)
        moved = (change != 0).any(dim=0)
        if not bool(moved.any()):
            continue
        band = torch.from_numpy(pixels[top : top + BAND_ROWS][moved.numpy()]).float() / 255
        lab = rgb_to_lab(band.T[:, None, :])  # (3, 1, N): only the pixels that change
        delta = change[:, moved][:, None, :]
        rgb = lab_to_rgb(lab + delta, clip=False)
        for scale in GAMUT_SCALES:
            outside = ((rgb < -0.5 / 255) | (rgb > 1 + 0.5 / 255)).any(dim=0, keepdim=True)
            if not bool(outside.any()):
                break
            smaller = lab_to_rgb(lab + delta * scale, clip=False)
            rgb = torch.where(outside, smaller, rgb)
        levels = (rgb[:, 0].T * 255).round_().clamp_(0, 255).to(torch.uint8).numpy()
        out[top : top + BAND_ROWS][moved.numpy()] = levels
    return out


def _bounds(max_shift: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(R, 2, 1, 1) lower and upper bounds of each shifted region's (a, b) shift."""
    box = torch.tensor([NATURAL[name] for name in SHIFTED], device=device) * max_shift
    return box[..., 0, None, None], box[..., 1, None, None]


def _field(shifts: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(B, 2, h, w) a, b change from (B, R, 2, g, g) region shifts and (R, h, w) masks."""
    count, regions, _, grid, _ = shifts.shape
    height, width = masks.shape[-2:]
    lattice = shifts.reshape(count, regions * 2, grid, grid)
    smooth = F.interpolate(lattice, size=(height, width), mode="bilinear", align_corners=True)
    return (smooth.reshape(count, regions, 2, height, width) * masks[None, :, None]).sum(1)


def _one_hot(regions: Regions, device: torch.device) -> torch.Tensor:
    """(1, R, h, w) masks of the shifted regions, with people and a guard band at zero."""
    labels = torch.from_numpy(regions.labels.astype(np.int64)).to(device)
    masks = torch.stack([labels == REGIONS.index(name) for name in SHIFTED]).float()[None]
    person = (labels == REGIONS.index("person")).float()[None, None]
    guard = F.max_pool2d(person, 2 * PERSON_GUARD + 1, stride=1, padding=PERSON_GUARD)
    return masks * (1 - guard)


class _Views:
    """The classifier's view in Lab with the region masks resized to it."""

    def __init__(self, view: torch.Tensor, masks: torch.Tensor) -> None:
        self.rgb = view
        self.lab = rgb_to_lab(view)
        self.masks = F.interpolate(masks, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear")

    def shifted(self, shifts: torch.Tensor) -> torch.Tensor:
        """(B, 3, 224, 224) RGB views for (B, R, 2, g, g) region shifts; L stays."""
        ab = _field(shifts, self.masks[0])
        lab = self.lab + torch.cat([torch.zeros_like(ab[:, :1]), ab], dim=1)
        return lab_to_rgb(lab, clip=True)

    def cost(self, shifted: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) mean CIEDE2000 and (B,) SSIM of shifted views against the original."""
        delta_e = delta_e2000(self.lab, rgb_to_lab(shifted)).mean(dim=(-2, -1))
        original = self.rgb.expand_as(shifted).contiguous()
        similarity = piq.ssim(shifted.contiguous(), original, reduction="none")
        return delta_e, similarity


def _within_budget(views: _Views, shifts: torch.Tensor, budget: ColourBudget) -> torch.Tensor:
    """Scale each (R, 2, g, g) shift set of the batch down until its view keeps the budget."""
    shifts = shifts.detach().clone()
    for _ in range(4):  # the cost is nearly linear in the scale: a few rounds settle it
        delta_e, similarity = views.cost(views.shifted(shifts))
        over = torch.maximum(delta_e / budget.delta_e, (1 - similarity) / (1 - budget.ssim))
        if bool((over <= 1).all()):
            break
        shifts *= torch.where(over > 1, 0.97 / over, torch.ones_like(over))[
            :, None, None, None, None
        ]
    return shifts


def _margin(logits: torch.Tensor, original: int) -> torch.Tensor:
    """(B,) lead of the best other class over the original one (C&W's margin)."""
    others = logits.clone()
    others[:, original] = -torch.inf
    return others.max(dim=1).values - logits[:, original]


class ColorFoolFilter(Filter):
    """Gradient-guided ColorFool: per-region a, b shifts optimised against the surrogate.

    Report: ``method``; ``steps`` (gradient steps or search trials); ``shift`` (a, b per
    region, Lab units); ``regions`` (share of the photo per region) and ``faces``;
    ``fooled`` (the encoded output's top-1 differs); ``delta_e`` (mean CIEDE2000 of the
    classifier's view of the output).
    """

    name = "colorfool"
    description = (
        "Shifts the colours of whole regions (never people, sky stays blue, plants green) "
        "so an image classifier sees another class; lightness untouched."
    )
    method = "gradient"

    def __init__(self, surrogate: Surrogate) -> None:
        self.surrogate = surrogate

    @classmethod
    def create(cls, surrogate: Surrogate) -> ColorFoolFilter:
        return cls(surrogate)

    def _attack(
        self, views: _Views, original: int, budget: ColourBudget, seed: int
    ) -> tuple[torch.Tensor, int]:
        """Signed-gradient steps on the shifts, projected on the natural box and budget."""
        low, high = _bounds(budget.max_shift, views.rgb.device)
        shifts = torch.zeros(1, len(SHIFTED), 2, GRID, GRID, device=views.rgb.device)
        step_size = budget.max_shift / 6
        for step in range(budget.steps):
            shifts.requires_grad_(True)
            margin = _margin(self.surrogate.logits(views.shifted(shifts)), original)
            if float(margin.detach()[0]) >= budget.margin:
                return shifts.detach()[0], step
            (grad,) = torch.autograd.grad(margin.sum(), shifts)
            with torch.no_grad():
                shifts = torch.clamp(shifts + step_size * grad.sign(), low, high)
                shifts = _within_budget(views, shifts, budget)
        return shifts.detach()[0], budget.steps

    def apply(self, photo: Photo, settings: FilterSettings) -> Filtered:
        budget = BUDGETS[settings.strength]
        regions = find_regions(photo.pixels)
        report: dict[str, object] = {"method": self.method, "regions": regions.fractions()}
        report["faces"] = regions.faces
        if photo.is_grey:  # a grey file keeps no colour: nothing to shift
            return Filtered(photo, {**report, "steps": 0, "fooled": False, "skipped": "grey"})
        masks = _one_hot(regions, self.surrogate.device)
        views = _Views(self.surrogate.view(photo.pixels), masks)
        with torch.inference_mode():
            original = int(self.surrogate.logits(views.rgb)[0].argmax())
        seed = 0 if settings.seed is None else settings.seed
        shifts, steps = self._attack(views, original, budget, seed)
        ab = _field(shifts[None], masks[0])
        field = torch.cat([torch.zeros_like(ab[:, :1]), ab], dim=1)
        out = photo.with_pixels(change_lab(photo.pixels, field))
        sent = self.surrogate.view(sent_pixels(out))
        with torch.inference_mode():
            top1 = int(self.surrogate.logits(sent)[0].argmax())
            delta_e = float(delta_e2000(views.lab, rgb_to_lab(sent)).mean())
        mean = shifts.mean(dim=(-2, -1))
        shift = {name: [round(float(v), 2) for v in mean[i]] for i, name in enumerate(SHIFTED)}
        report |= {"steps": steps, "shift": shift, "fooled": top1 != original}
        report |= {"original_index": original, "delta_e": round(delta_e, 3)}
        return Filtered(out, report)


class ColorFoolSearchFilter(ColorFoolFilter):
    """ColorFool's black-box search: random natural shifts, trial t scaled by t / T."""

    name = "colorfool-search"
    description = (
        "ColorFool as published: random colour shifts of whole regions, growing until the "
        "classifier's label changes (slower, no gradients)."
    )
    method = "search"

    def _attack(
        self, views: _Views, original: int, budget: ColourBudget, seed: int
    ) -> tuple[torch.Tensor, int]:
        """Trials in batches; the first whose label changes by the margin wins."""
        device = views.rgb.device
        low, high = _bounds(budget.max_shift, device)
        # Drawn on the CPU (the generator's device), so a seed gives the same trials anywhere.
        generator = torch.Generator().manual_seed(seed)
        total = budget.trials
        last = torch.zeros(len(SHIFTED), 2, 1, 1, device=device)
        for start in range(0, total, SEARCH_BATCH):
            count = min(SEARCH_BATCH, total - start)
            draws = torch.rand(count, len(SHIFTED), 2, 1, 1, generator=generator).to(device)
            draws = low + (high - low) * draws
            scale = torch.arange(start + 1, start + count + 1, device=device) / total
            shifts = draws * scale[:, None, None, None, None]
            with torch.inference_mode():
                margin = _margin(self.surrogate.logits(views.shifted(shifts)), original)
            # The budget is checked on winners only: most trials lose, and it costs a pass.
            for first in (margin >= budget.margin).nonzero()[:, 0].tolist():
                kept = _within_budget(views, shifts[first : first + 1], budget)
                with torch.inference_mode():
                    lead = _margin(self.surrogate.logits(views.shifted(kept)), original)
                if float(lead[0]) >= budget.margin:
                    return kept[0], start + first + 1
            last = shifts[-1]
        return _within_budget(views, last[None], budget)[0], total
