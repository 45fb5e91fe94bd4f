"""The ``edgefool`` filter: adversarial detail enhancement of the lightness channel.

EdgeFool (Shamsabadi, Oh, Cavallaro, ICASSP 2020) splits the image into an L0-smoothed base
(Xu et al. 2011, kappa 2, lambda 2e-2) and its detail, then learns, per image, an
enhancement of the detail on L only with a C&W margin loss against the classifier plus an
MSE term that keeps it close to plain detail enhancement; a and b stay as they were. Here
the per-image network is a per-pixel detail gain on the classifier's 224 px view, a few
Adam steps long, and the change of L it makes is upsampled to the full photo.
"""

from __future__ import annotations

import math

import piq
import torch
import torch.nn.functional as F
from kornia.color import lab_to_rgb, rgb_to_lab

from filters.base import Filter, Filtered, FilterSettings, Toolkit
from filters.codecs.photo import Photo
from filters.shared.budget import share_within_floor
from filters.shared.colour import change_lab, upsampler
from filters.shared.quality import delta_e2000
from filters.shared.strengths import DetailBudget, budgets_for
from filters.shared.surrogate import INPUT_SIZE, label_margin

__all__ = ["EdgeFoolFilter", "l0_smooth", "round_trip"]

L0_LAMBDA, L0_KAPPA, L0_BETA_MAX = 2e-2, 2.0, 1e5  # Xu et al.'s defaults, as EdgeFool uses
MSE_WEIGHT = 10.0  # EdgeFool's weight of the enhancement term against the margin loss


LEARNING_RATE = 0.1  # Adam's first steps move every gain by about this much


def l0_smooth(image: torch.Tensor, lam: float = L0_LAMBDA, kappa: float = L0_KAPPA) -> torch.Tensor:
    """L0 gradient minimisation (Xu, Lu, Xu, Jia, SIGGRAPH Asia 2011), solved with FFTs.

    Hand-written: no library on the registries ships an L0 smoothing solver for torch.
    Flat areas come out flat and strong edges stay sharp; boundaries are taken as periodic.

    Args:
        image: (B, C, H, W) in [0, 1]; channels share one gradient sparsity pattern.
        lam: weight of the gradient count; larger gives flatter results.
        kappa: growth of the penalty weight beta each round (from 2 * lam to 1e5).

    Returns:
        (B, C, H, W) smoothed image.

    >>> step = torch.zeros(1, 1, 8, 8); step[..., 4:] = 1
    >>> noisy = step + 0.02 * torch.randn(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> bool((l0_smooth(noisy) - step).abs().mean() < (noisy - step).abs().mean() / 4)
    True
    """
    if image.ndim != 4:
        raise ValueError(f"image must be (B, C, H, W), got {tuple(image.shape)}")
    height, width = image.shape[-2:]
    steps_y = torch.arange(height, device=image.device)
    steps_x = torch.arange(width, device=image.device)
    fy = 2 - 2 * torch.cos(2 * math.pi * steps_y / height)
    fx = 2 - 2 * torch.cos(2 * math.pi * steps_x / width)
    # |F(d/dx)|^2 + |F(d/dy)|^2 for periodic forward differences, on rfft2's half spectrum.
    laplace = fy[:, None] + fx[None, : width // 2 + 1]
    image_f = torch.fft.rfft2(image)
    smooth, beta = image, 2 * lam
    while beta < L0_BETA_MAX:
        dx = torch.roll(smooth, -1, dims=-1) - smooth
        dy = torch.roll(smooth, -1, dims=-2) - smooth
        # Keep a gradient only where it is worth its count: |grad|^2 >= lam / beta.
        keep = ((dx**2 + dy**2).sum(dim=1, keepdim=True) >= lam / beta).to(image.dtype)
        dx, dy = dx * keep, dy * keep
        # The adjoint of the forward differences: a backward difference, negated.
        div = torch.roll(dx, 1, dims=-1) - dx + torch.roll(dy, 1, dims=-2) - dy
        smooth_f = (image_f + beta * torch.fft.rfft2(div)) / (1 + beta * laplace)
        smooth = torch.fft.irfft2(smooth_f, s=(height, width))
        beta *= kappa
    return smooth


def round_trip(size: int, full: int) -> torch.Tensor:
    """(size, size) matrix of one axis of: upsample ``size -> full`` bilinearly (as
    :func:`~filters.shared.colour.change_lab` does), then resize back antialiased (as the
    classifier's view does).

    >>> bool(torch.allclose(round_trip(6, 6), torch.eye(6)))
    True
    """
    up = upsampler(size, full).T.contiguous()  # (size, full): row i is basis i upsampled
    basis = up[:, None, :, None].expand(size, 1, full, 2).contiguous()
    down = F.interpolate(basis, size=(size, 2), mode="bilinear", antialias=True)
    return down[:, 0, :, 0].T.contiguous()


class EdgeFoolFilter(Filter):
    """EdgeFool on the surrogate: a per-pixel detail gain on L, optimised per photo.

    Report: ``steps`` (Adam steps); ``light`` (mean and max |change of L| on the view, Lab
    units); ``fooled`` (the encoded output's top-1 differs); ``original_index``; ``delta_e``
    (mean CIEDE2000 of the classifier's view of the output).
    """

    name = "edgefool"
    description = (
        "Enhances fine detail in the photo's lightness, tuned so an image classifier sees "
        "another class; colours untouched."
    )
    fools_classifier = True

    def __init__(self, toolkit: Toolkit) -> None:
        self.surrogate = toolkit.surrogate
        self.written_pixels = toolkit.written_pixels

    @classmethod
    def create(cls, toolkit: Toolkit) -> EdgeFoolFilter:
        return cls(toolkit)

    @staticmethod
    def _cost(lab: torch.Tensor, rgb: torch.Tensor, changed: torch.Tensor) -> tuple[float, float]:
        """Mean CIEDE2000 and SSIM of a changed view against the original one."""
        delta_e = float(delta_e2000(lab, rgb_to_lab(changed)).mean())
        similarity = float(piq.ssim(changed, rgb))
        return delta_e, similarity

    def _attack(
        self,
        lab: torch.Tensor,
        rgb: torch.Tensor,
        detail: torch.Tensor,
        blur: tuple[torch.Tensor, torch.Tensor],
        original: int,
        budget: DetailBudget,
    ) -> tuple[torch.Tensor, int]:
        """Adam on the per-pixel gain; returns the change of L (Lab units) and steps taken."""
        rows, cols = blur
        gain = torch.full_like(detail, budget.enhance, requires_grad=True)
        optimiser = torch.optim.Adam([gain], lr=LEARNING_RATE)
        target = budget.enhance * detail

        def render(change: torch.Tensor) -> torch.Tensor:
            seen = rows @ change @ cols  # what the view sees of the upsampled change
            light = lab[:, :1] + seen
            return lab_to_rgb(torch.cat([light, lab[:, 1:]], dim=1), clip=True)

        steps = 0
        while steps < budget.steps:
            change = gain.clamp(-budget.max_gain, budget.max_gain) * detail
            margin = label_margin(self.surrogate.logits(render(change)), original)
            if float(margin.detach()[0]) >= budget.margin:
                break
            steps += 1
            loss = F.relu(budget.margin - margin).sum()
            loss = loss + MSE_WEIGHT * F.mse_loss(change, target) / 100
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        change = (gain.detach().clamp(-budget.max_gain, budget.max_gain) * detail).detach()
        # Keep the perceptual budget: shrink the change until the view is within it.
        for _ in range(6):
            delta_e, similarity = self._cost(lab, rgb, render(change))
            over = max(delta_e / budget.delta_e, (1 - similarity) / (1 - budget.ssim))
            if over <= 1:
                break
            change = change * (0.97 / over)
        return change, steps

    def apply(self, photo: Photo, settings: FilterSettings) -> Filtered:
        budget = budgets_for(settings.strength).detail
        view = self.surrogate.view(photo.pixels)
        lab = rgb_to_lab(view)
        with torch.inference_mode():
            original = int(self.surrogate.logits(view)[0].argmax())
        base = l0_smooth(lab[:, :1] / 100) * 100
        detail = lab[:, :1] - base
        blur = (round_trip(INPUT_SIZE, photo.height), round_trip(INPUT_SIZE, photo.width).T)
        blur = (blur[0].to(view.device), blur[1].to(view.device))
        change, steps = self._attack(lab, view, detail, blur, original, budget)
        field = torch.cat([change, torch.zeros_like(change), torch.zeros_like(change)], dim=1)
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
            delta_e = float(delta_e2000(lab, rgb_to_lab(sent)).mean())
        report = {
            "steps": steps,
            "light": {
                "mean": round(float(change.abs().mean()), 3),
                "max": round(float(change.abs().max()), 3),
            },
            "fooled": top1 != original,
            "share": round(share, 3),
            "original_index": original,
            "delta_e": round(delta_e, 3),
        }
        return Filtered(out, report)
