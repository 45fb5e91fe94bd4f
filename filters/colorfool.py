"""The ``colorfool`` filters: semantic colour changes in CIE Lab that change the label.

ColorFool (Shamsabadi, Sanchez-Matilla, Cavallaro, CVPR 2020) leaves lightness alone and
shifts the a, b channels of each semantic region: people never, sky and water only towards
blue (a, b <= 0), vegetation only towards green-yellow (a <= 0, b >= 0), everything else by
one random shift. Its black-box search draws random shifts, scales trial t by t / T and stops
at the first label change (``colorfool-search``, in :mod:`filters.colorfool_search`).
``colorfool`` finds the shifts with the surrogate's gradient instead, in a few steps. Both
keep the strength's perceptual budget (mean CIEDE2000, SSIM), work on the classifier's
224 px view and apply the shifts to the full photo as a smooth field, exactly in Lab.
"""

from __future__ import annotations

import numpy as np
import piq
import torch
import torch.nn.functional as F
from kornia.color import lab_to_rgb, rgb_to_lab

from filters.base import Filter, Filtered, FilterSettings, Toolkit
from filters.codecs.photo import Photo
from filters.shared.budget import share_within_floor
from filters.shared.colour import change_lab
from filters.shared.quality import delta_e2000
from filters.shared.regions import REGIONS, Regions, find_regions
from filters.shared.strengths import ColourBudget, budgets_for
from filters.shared.surrogate import INPUT_SIZE, label_margin

__all__ = ["NATURAL", "SHIFTED", "ColorFoolFilter", "RegionViews", "shift_bounds", "within_budget"]


# Where each shifted region's (a, b) shift may go, as fractions of ``max_shift``.
NATURAL = {
    "sky": ((-1.0, 0.0), (-1.0, 0.0)),
    "water": ((-1.0, 0.0), (-1.0, 0.0)),
    "vegetation": ((-1.0, 0.0), (0.0, 1.0)),
    "other": ((-1.0, 1.0), (-1.0, 1.0)),
}
SHIFTED = tuple(NATURAL)
# The gradient variant lets each region's shift vary smoothly over a GRID x GRID lattice:
# one shift per region is too weak a change to fool a classifier within a small budget.
GRID = 12
PERSON_GUARD = 2  # mask cells around people left unshifted, so upsampling leaves them exact


def shift_bounds(max_shift: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
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


class RegionViews:
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


def within_budget(views: RegionViews, shifts: torch.Tensor, budget: ColourBudget) -> torch.Tensor:
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
    fools_classifier = True
    method = "gradient"

    def __init__(self, toolkit: Toolkit) -> None:
        self.surrogate = toolkit.surrogate
        self.written_pixels = toolkit.written_pixels

    @classmethod
    def create(cls, toolkit: Toolkit) -> ColorFoolFilter:
        return cls(toolkit)

    def _attack(
        self, views: RegionViews, original: int, budget: ColourBudget, seed: int
    ) -> tuple[torch.Tensor, int]:
        """Signed-gradient steps on the shifts, projected on the natural box and budget."""
        low, high = shift_bounds(budget.max_shift, views.rgb.device)
        shifts = torch.zeros(1, len(SHIFTED), 2, GRID, GRID, device=views.rgb.device)
        step_size = budget.max_shift / 6
        for step in range(budget.steps):
            shifts.requires_grad_(True)
            margin = label_margin(self.surrogate.logits(views.shifted(shifts)), original)
            if float(margin.detach()[0]) >= budget.margin:
                return shifts.detach()[0], step
            (grad,) = torch.autograd.grad(margin.sum(), shifts)
            with torch.no_grad():
                shifts = torch.clamp(shifts + step_size * grad.sign(), low, high)
                shifts = within_budget(views, shifts, budget)
        return shifts.detach()[0], budget.steps

    def apply(self, photo: Photo, settings: FilterSettings) -> Filtered:
        budget = budgets_for(settings.strength).colour
        regions = find_regions(photo.pixels)
        report: dict[str, object] = {"method": self.method, "regions": regions.fractions()}
        report["faces"] = regions.faces
        if photo.is_grey:  # a grey file keeps no colour: nothing to shift
            return Filtered(photo, {**report, "steps": 0, "fooled": False, "skipped": "grey"})
        masks = _one_hot(regions, self.surrogate.device)
        views = RegionViews(self.surrogate.view(photo.pixels), masks)
        with torch.inference_mode():
            original = int(self.surrogate.logits(views.rgb)[0].argmax())
        seed = 0 if settings.seed is None else settings.seed
        shifts, steps = self._attack(views, original, budget, seed)
        ab = _field(shifts[None], masks[0])
        field = torch.cat([torch.zeros_like(ab[:, :1]), ab], dim=1)
        floor = budgets_for(settings.strength).perceptual.ssimulacra2_min
        share = share_within_floor(
            photo.pixels,
            lambda px, s: change_lab(px, field * s),
            floor,
            settings.reference(photo.pixels),  # one budget with the chain's other filters
        )
        field = field * share
        out = photo.with_pixels(change_lab(photo.pixels, field))
        sent = self.surrogate.view(self.written_pixels(out))
        with torch.inference_mode():
            top1 = int(self.surrogate.logits(sent)[0].argmax())
            delta_e = float(delta_e2000(views.lab, rgb_to_lab(sent)).mean())
        mean = shifts.mean(dim=(-2, -1))
        shift = {name: [round(float(v), 2) for v in mean[i]] for i, name in enumerate(SHIFTED)}
        report |= {"steps": steps, "shift": shift, "fooled": top1 != original}
        report["share"] = round(share, 3)
        report |= {"original_index": original, "delta_e": round(delta_e, 3)}
        return Filtered(out, report)
