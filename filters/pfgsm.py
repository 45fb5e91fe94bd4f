"""The ``pfgsm`` filter: targeted iterative FGSM against the surrogate, as in P-FGSM.

P-FGSM (Li, Sanchez-Matilla, Cavallaro, "Scene privacy protection", ICASSP 2019) pushes a
photo towards a target class drawn outside its likely classes: x <- clip_{x0±eps}(x - alpha
* sign(grad CE(target))), eps 8/255, alpha 1/255, stop once the target wins. Here the change
is computed on the classifier's 224 px view, upsampled to the full photo, and checked on
the encoded file: if JPEG or rounding undo it, the attack goes on from what was really sent.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from filters.base import Filter, Filtered, FilterSettings
from filters.codec import sent_pixels
from filters.photo import Photo
from filters.surrogate import INPUT_SIZE, Surrogate

__all__ = ["BUDGETS", "Budget", "PFGSMFilter", "pfgsm", "render_delta", "resize_operator"]

Logits = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Budget:
    """Attack settings for one strength, in [0, 1] pixel units.

    ``margin`` is the logit lead the target needs over every other class to stop early;
    a lead survives small differences between views (resizers, decoders).
    """

    eps: float
    alpha: float
    max_steps: int
    margin: float


# Steps cost ~50 ms each on 2 cores; most photos stop within 10, a few need 20+.
BUDGETS = {
    "low": Budget(eps=4 / 255, alpha=1 / 255, max_steps=30, margin=1.0),
    "medium": Budget(eps=8 / 255, alpha=1 / 255, max_steps=24, margin=2.0),
    "high": Budget(eps=12 / 255, alpha=2 / 255, max_steps=20, margin=3.0),
}
BAND_ROWS = 64
# Classes the photo plausibly shows; the target is drawn from the rest (P-FGSM's private set).
LIKELY_CLASSES = 10


def _lead(logits: torch.Tensor, target: int) -> float:
    """How far the target's logit is above the best other class (negative: not top-1)."""
    others = logits[0].clone()
    others[target] = -torch.inf
    return float(logits[0, target] - others.max())


def pfgsm(
    logits_fn: Logits,
    images: torch.Tensor,
    target: int,
    budget: Budget,
    *,
    delta: torch.Tensor | None = None,
    offset: torch.Tensor | None = None,
    steps: int | None = None,
    grey: bool = False,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, int]:
    """Targeted iterative FGSM; returns the change and the gradient steps taken.

    Args:
        logits_fn: (1, 3, 224, 224) images in [0, 1] -> (1, C) logits.
        images: (1, 3, 224, 224) clean images in [0, 1].
        target: class to reach; the attack stops once it leads by ``budget.margin``.
        delta: change to start from (default zero).
        offset: fixed difference between ``images + delta`` and what the classifier really
            sees (resizing, rounding, JPEG); the loss is taken where the photo really is.
        steps: at most this many steps (default ``budget.max_steps``).
        grey: keep the change equal on the three channels (grey photos).
        transform: a linear map from the change to what the classifier sees of it (the
            blur of upsampling it to the photo and resizing back); default identity.

    Returns:
        (delta, steps): ``delta`` with ``|delta| <= eps``.

    >>> x = torch.full((1, 3, 224, 224), 0.5)
    >>> d, n = pfgsm(lambda v: v.mean((2, 3)), x, 0, Budget(4 / 255, 1 / 255, 3, 99.0))
    >>> n, round(float(d.abs().max()) * 255)
    (3, 3)
    """
    if images.ndim != 4 or images.shape[0] != 1:
        raise ValueError(f"images must be (1, 3, H, W), got {tuple(images.shape)}")
    delta = torch.zeros_like(images) if delta is None else delta.detach().clone()
    offset = torch.zeros_like(images) if offset is None else offset
    labels = torch.tensor([target])
    limit = budget.max_steps if steps is None else steps
    for step in range(limit):
        delta.requires_grad_(True)
        seen = delta if transform is None else transform(delta)
        logits = logits_fn((images + seen + offset).clamp(0, 1))
        if _lead(logits.detach(), target) >= budget.margin:
            return delta.detach(), step
        (grad,) = torch.autograd.grad(F.cross_entropy(logits, labels), delta)
        if grey:
            grad = grad.sum(dim=1, keepdim=True)
        with torch.no_grad():
            delta = (delta - budget.alpha * grad.sign()).clamp(-budget.eps, budget.eps)
    return delta.detach(), limit


def render_delta(pixels: np.ndarray, delta: torch.Tensor) -> np.ndarray:
    """Add a (1, 3, h, w) change in [0, 1] units to (H, W, 3) uint8 pixels, upsampled bilinearly.

    The change is rounded to whole levels first, so the result differs from ``pixels`` by at
    most ``round(max|delta| * 255)`` levels.
    """
    height, width = pixels.shape[:2]
    # uint8 with an offset of 128: torch's uint8 channels-last resize is the fast path.
    levels = (delta.detach() * 255).round_().add_(128).clamp_(0, 255).to(torch.uint8)
    levels = levels.contiguous(memory_format=torch.channels_last)
    big = F.interpolate(levels, size=(height, width), mode="bilinear", align_corners=False)
    change = big[0].permute(1, 2, 0).numpy()  # (H, W, 3) view, no copy
    out = np.empty_like(pixels)
    # Bands of rows: a full-size int16 temporary costs more in page faults than the sums.
    for top in range(0, height, BAND_ROWS):
        rows = slice(top, top + BAND_ROWS)
        band = np.add(pixels[rows], change[rows], dtype=np.int16)
        band -= 128
        np.clip(band, 0, 255, out=band)
        out[rows] = band
    return out


def resize_operator(size: int, full: int) -> torch.Tensor:
    """(size, size) matrix of one axis of: upsample ``size -> full`` bilinearly (as
    :func:`render_delta` does), then resize ``full -> size`` antialiased (as the view does).

    >>> resize_operator(4, 4)
    tensor([[1., 0., 0., 0.],
            [0., 1., 0., 0.],
            [0., 0., 1., 0.],
            [0., 0., 0., 1.]])
    """
    # Columns of width 2: torch 2.14's antialiased resize returns zeros for width-1 images.
    basis = torch.eye(size)[:, None, :, None].expand(size, 1, size, 2).contiguous()
    up = F.interpolate(basis, size=(full, 2), mode="bilinear", align_corners=False)
    down = F.interpolate(up, size=(size, 2), mode="bilinear", antialias=True, align_corners=False)
    return down[:, 0, :, 0].T.contiguous()


def _seed(pixels: np.ndarray, seed: int | None) -> int:
    if seed is not None:
        return seed
    return int.from_bytes(hashlib.sha256(pixels.tobytes()).digest()[:8], "big")


def _blur(height: int, width: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """What the 224 px view sees of a change rendered onto a ``height`` x ``width`` photo."""
    rows = resize_operator(INPUT_SIZE, height)
    cols = resize_operator(INPUT_SIZE, width).T
    return lambda change: rows @ change @ cols


class PFGSMFilter(Filter):
    """Targeted FGSM on the surrogate, verified on the encoded output.

    Report: ``target`` (class name) and ``target_index``; ``original_index`` (top-1 before);
    ``steps`` (gradient steps) and ``checks`` (renders checked on the encoded output);
    ``eps`` (in levels of 255); ``fooled`` (top-1 of the output differs from the original's);
    ``lead`` (logit of the output's top-1 minus the original class's).
    """

    name = "pfgsm"
    description = (
        "Adds a faint change that makes an image classifier see another, random class "
        "(targeted FGSM on EfficientNet-Lite0, checked on the encoded file)."
    )

    def __init__(self, surrogate: Surrogate) -> None:
        self.surrogate = surrogate

    @classmethod
    def create(cls, surrogate: Surrogate) -> PFGSMFilter:
        return cls(surrogate)

    def _choose_target(self, view: torch.Tensor, seed: int) -> tuple[int, int]:
        """(original top-1, target drawn from the classes outside the likely ones)."""
        with torch.inference_mode():
            likely = self.surrogate.logits(view)[0].topk(LIKELY_CLASSES).indices.tolist()
        others = [c for c in range(len(self.surrogate.categories)) if c not in likely]
        return likely[0], random.Random(seed).choice(others)

    def _sent_logits(self, photo: Photo) -> tuple[torch.Tensor, torch.Tensor]:
        """The view of what the encoder will really send, and its logits."""
        view = self.surrogate.view(sent_pixels(photo))
        with torch.inference_mode():
            return view, self.surrogate.logits(view)

    def apply(self, photo: Photo, settings: FilterSettings) -> Filtered:
        budget = BUDGETS[settings.strength]
        view = self.surrogate.view(photo.pixels)
        original, target = self._choose_target(view, _seed(photo.pixels, settings.seed))
        blur = _blur(photo.height, photo.width)
        delta, offset, steps, checks = None, None, 0, 0
        fooled, lead, out = False, 0.0, photo
        # Each check but the first follows at least one step, so this loop ends.
        while steps < budget.max_steps or not checks:
            delta, taken = pfgsm(
                self.surrogate.logits,
                view,
                target,
                budget,
                delta=delta,
                offset=offset,
                steps=budget.max_steps - steps,
                grey=photo.is_grey,
                transform=blur,
            )
            steps += taken
            if checks and not taken:
                break
            out = photo.with_pixels(render_delta(photo.pixels, delta))
            seen, logits = self._sent_logits(out)
            checks += 1
            top1 = int(logits[0].argmax())
            fooled, lead = top1 != original, float(logits[0, top1] - logits[0, original])
            if fooled and _lead(logits, target) >= budget.margin:
                break
            # Go on from where the photo really is after upsampling, rounding and encoding.
            with torch.no_grad():
                offset = seen - (view + blur(delta)).clamp(0, 1)
        report = {
            "target": self.surrogate.categories[target],
            "target_index": target,
            "original_index": original,
            "steps": steps,
            "checks": checks,
            "eps": round(budget.eps * 255),
            "fooled": fooled,
            "lead": round(lead, 3),
        }
        return Filtered(out, report)
