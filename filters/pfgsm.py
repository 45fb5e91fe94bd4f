"""The ``pfgsm`` filter: targeted iterative FGSM that survives the platform and transfers.

P-FGSM (Li, Sanchez-Matilla, Cavallaro, "Scene privacy protection", ICASSP 2019) pushes a
photo towards a target class drawn outside its likely classes with x <- clip_{x0±eps}(x -
alpha * sign(grad CE(target))). As published it fools its own classifier and no other
(REFERENCE.md section 4), so here each step also:

- averages an ensemble of surrogates (EfficientNet-Lite0/1/2) and pushes the photo's likely
  classes (and any the user marks private) down, far more than it pulls the target up:
  moving off what the photo shows is what transfers to unseen classifiers;
- works on the photo with its aspect kept (shorter side 256, the scale ImageNet
  classifiers look at) and sees it through random draws of the platform (JPEG with a
  straight-through gradient, after the photo's own encoding when that is coarse) and of a
  classifier's crop or squash (:mod:`filters.robust`), with momentum (MI-FGSM, Dong et al.
  CVPR 2018) and a smoothed gradient (translation invariance);
- follows the gradient through the surrogates' skip connections more than through their
  residual branches (Skip Gradient Method, Wu et al. ICLR 2020);
- spends a per-pixel budget that follows texture (:mod:`filters.budget`), and changes
  mostly lightness: four fifths of each step is the same on R, G and B.

On 60 development photos (ImageNet classes 4 mod 8), the held-out judge's top-1 after the
facebook profile (whole filter) went from 70% (224 px squashed view, target first) to 42%
with the aspect-kept view, the push-first loss and the skip gradient; then, with steps made
cheaper by the straight-through JPEG, to 23% with 20 steps instead of 12, to 15% with the
JPEG at a small photo's own scale and top-ups that only push the label down, and to 13%
with the target's pull at 0.1 instead of 0.25 (0 gave 10%, but no longer aims anywhere),
to 12% with mirrored views, and to 5% (top-5 37% -> 13%) with steps that are mostly
lightness and less of the budget in flat areas.

The change is upsampled to the full photo, shrunk until the strength's SSIM and CIEDE2000
bounds hold, then checked on the encoded file.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from filters.base import Filter, Filtered, FilterSettings
from filters.budget import (
    PERCEPTUAL_BUDGETS,
    PerceptualBudget,
    check_pixels,
    fit_scale,
    texture_mask,
    tightened,
    view_scale,
)
from filters.codec import lossy_quality, sent_pixels
from filters.photo import Photo
from filters.quality import Similarity
from filters.robust import PlatformTransform, smooth_gradient
from filters.surrogate import ATTACK_SHORT_SIDE, INPUT_SIZE, Ensemble, Surrogate, scaled_view

__all__ = ["AttackConfig", "PFGSMFilter", "choose_target", "render_delta", "transfer_attack"]

Logits = Callable[[torch.Tensor], torch.Tensor]
# Share of the gradient the attack's surrogates pass back through each residual branch
# (Skip Gradient Method): judge top-1 after facebook on the development photos 47% -> 37%.
SKIP_GRADIENT = 0.5
BAND_ROWS = 64
# The attack sees the photo's own encoding below this quality: a small photo written at 60
# loses most of a change there. Above it the figures were the same, for 0.2 s more a photo.
OWN_JPEG_BELOW = 90
# Rounds of shrinking the change when the encoded file, not the change, breaks the budget
# (the encoder's own loss on top: 28 of the 250 photos fell below SSIM 0.95 without them).
REFITS = 2


@dataclass(frozen=True)
class AttackConfig:
    """How the transfer attack spends its steps (defaults measured on the ImageNet sample).

    Attributes:
        steps: gradient steps on the ensemble.
        step_size: each step's size as a fraction of the per-pixel budget.
        direction: ``sign`` (FGSM: every pixel moves by the step) or ``scaled`` (the
            gradient divided by its largest value: the change goes where it pays, which a
            colour-difference budget, an L1 budget in effect, rewards).
        momentum: MI-FGSM's decay of the accumulated gradient.
        smoothing: sigma of the gradient's Gaussian smoothing, in view pixels (0: none).
        samples: random views (platform and crop draws) per step.
        cycle: one ensemble member per step, in turn (a third of the cost) instead of all.
        squash: probability a view is the whole photo squashed rather than a crop.
        flip: probability a view is mirrored (dev photos, judge after facebook: 13% -> 12%,
            top-5 42% -> 33%).
        lightness: the share of each step that is the same on R, G and B, a change of
            lightness; the rest may change colour. Classifiers read lightness far more
            than colour, and CIEDE2000 charges both alike. Dev photos, judge top-1 / top-5
            after facebook: 0 (free colour) 10.0% / 36.7%, 1 (grey) 8.3% / 26.7%, 0.6 and
            0.8 6.7% / 15.0%, 0.9 6.7% / 18.3%; SSIM, not CIEDE2000, then holds it back.
        texture_floor: the share of the per-pixel limit that flat areas keep (see
            :func:`~filters.budget.texture_mask`): with ``lightness`` 0.8, 0.1 gave 5.0% /
            13.3% and 0.2 6.7% / 15.0%.
        short_side: the shorter side of the view the change is made on.
        push: weight of pushing the likely classes down.
        pull: weight of pulling the target up.
        likely: how many top classes count as what the photo shows.
        margin: logit lead the output's top-1 needs over the photo's own label.
        top_up: plain steps allowed afterwards until the surrogate on the output is fooled.
    """

    steps: int = 20
    step_size: float = 0.5
    momentum: float = 1.0
    smoothing: float = 1.0
    samples: int = 1
    direction: str = "scaled"
    cycle: bool = True
    squash: float = 0.2
    flip: float = 0.5
    lightness: float = 0.8
    texture_floor: float = 0.1
    short_side: int = ATTACK_SHORT_SIDE
    push: float = 1.0
    pull: float = 0.1
    likely: int = 10
    margin: float = 1.0
    top_up: int = 20


def render_delta(pixels: np.ndarray, delta: torch.Tensor) -> np.ndarray:
    """Add a (1, 3, h, w) change in [0, 1] units to (H, W, 3) uint8 pixels, upsampled bilinearly.

    The change is rounded to whole levels first, so the result differs from ``pixels`` by at
    most ``round(max|delta| * 255)`` levels.
    """
    height, width = pixels.shape[:2]
    # uint8 with an offset of 128: torch's uint8 channels-last resize is the fast path.
    levels = (delta.detach().cpu() * 255).round_().add_(128).clamp_(0, 255).to(torch.uint8)
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


def choose_target(
    logits: torch.Tensor, seed: int, likely: int, private: Sequence[int] = ()
) -> tuple[list[int], int]:
    """(the ``likely`` top classes, a target drawn from the classes outside them and ``private``).

    >>> choose_target(torch.arange(1000.0)[None], 0, 3)[0]
    [999, 998, 997]
    """
    top = logits[0].topk(likely).indices.tolist()
    banned = set(top) | set(private)
    others = [c for c in range(logits.shape[1]) if c not in banned]
    return top, random.Random(seed).choice(others)


def _loss(
    logits: torch.Tensor, target: int, likely: list[int], push: float, pull: float
) -> torch.Tensor:
    """The likely classes pushed down (their joint log-probability), the target pulled up."""
    logp = logits.log_softmax(dim=1)
    return push * logp[:, likely].logsumexp(dim=1).mean() - pull * logp[:, target].mean()


def transfer_attack(
    members: Sequence[Logits],
    view: torch.Tensor,
    target: int,
    likely: list[int],
    bound: torch.Tensor,
    config: AttackConfig,
    transform: Callable[[torch.Tensor], torch.Tensor],
    *,
    grey: bool = False,
    project: Callable[[torch.Tensor], float] | None = None,
) -> torch.Tensor:
    """MI-FGSM with expectation over ``transform`` on an ensemble; returns the change.

    Args:
        members: surrogates, (B, 3, 224, 224) in [0, 1] -> (B, 1000) logits; each step
            uses all of them or, with ``config.cycle``, the next one in turn.
        view: (1, 3, h, w) clean view in [0, 1].
        target: class to pull the photo towards.
        likely: classes to push it away from.
        bound: (1, 1 or 3, h, w) per-pixel limit of ``|delta|``.
        transform: a random draw of platform and viewer, applied to a batch: (B, 3, h, w)
            -> (B, 3, 224, 224).
        grey: keep the change equal on the three channels (else ``config.lightness`` of it).
        project: the factor that brings a change back inside the perceptual budget; the
            change is scaled by it after each step.

    Returns:
        (1, 3, h, w) ``delta`` with ``|delta| <= bound``.
    """
    if view.ndim != 4 or view.shape[0] != 1:
        raise ValueError(f"view must be (1, 3, H, W), got {tuple(view.shape)}")
    delta = torch.zeros_like(view)
    velocity = torch.zeros_like(view)
    alpha = config.step_size * bound
    lightness = 1.0 if grey else config.lightness
    for step in range(config.steps):
        delta.requires_grad_(True)
        batch = (view + delta).clamp(0, 1).expand(config.samples, -1, -1, -1)
        seen = transform(batch)
        used = [members[step % len(members)]] if config.cycle else members
        loss = sum(_loss(member(seen), target, likely, config.push, config.pull) for member in used)
        (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            grad = _towards_lightness(smooth_gradient(grad, config.smoothing), lightness)
            velocity = config.momentum * velocity + grad / grad.abs().mean().clamp_min(1e-12)
            delta = _step(delta, velocity, alpha, bound, config.direction)
            if project is not None:
                delta = delta * min(project(delta), _room(delta, bound))
    return delta.detach()


def _towards_lightness(grad: torch.Tensor, share: float) -> torch.Tensor:
    """``grad`` with ``share`` of it made the same on R, G and B (1: a grey change)."""
    return grad + share * (grad.mean(dim=1, keepdim=True) - grad)


def _step(
    delta: torch.Tensor,
    direction: torch.Tensor,
    alpha: torch.Tensor,
    bound: torch.Tensor,
    kind: str,
) -> torch.Tensor:
    """One descent step along ``direction``, kept inside ``|delta| <= bound``."""
    if kind == "sign":
        move = direction.sign()
    else:
        move = direction / direction.abs().amax().clamp_min(1e-12)
    return torch.maximum(torch.minimum(delta - alpha * move, bound), -bound)


def _room(delta: torch.Tensor, bound: torch.Tensor) -> float:
    """The largest factor that keeps ``|delta| <= bound`` everywhere."""
    return float((bound / delta.abs().clamp_min(1e-12)).amin())


def _squashed(images: torch.Tensor) -> torch.Tensor:
    size = (INPUT_SIZE, INPUT_SIZE)
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False)


def _seed(pixels: np.ndarray, seed: int | None) -> int:
    if seed is not None:
        return seed
    return int.from_bytes(hashlib.sha256(pixels.tobytes()).digest()[:8], "big")


class PFGSMFilter(Filter):
    """Targeted, platform-robust transfer FGSM within a perceptual budget.

    Report: ``target`` (class name) and ``target_index``; ``original_index`` (surrogate
    top-1 before); ``steps`` (ensemble steps) and ``top_up`` (plain steps after);
    ``scale`` (the share of the change the budget kept); ``refits`` (rounds the change was
    shrunk because the encoded file broke the budget); ``fooled`` (the surrogate's top-1
    of the encoded output differs from the original's); ``lead`` (logit of the output's
    top-1 minus the original class's); ``profile``.
    """

    name = "pfgsm"
    description = (
        "Adds a faint change, mostly to lightness, that makes image classifiers see another, "
        "random class, made to survive the platform's recompression (EfficientNet-Lite "
        "ensemble)."
    )

    def __init__(
        self,
        surrogate: Surrogate,
        ensemble: Ensemble | None = None,
        config: AttackConfig = AttackConfig(),
    ) -> None:
        self.surrogate = surrogate
        self.ensemble = ensemble or Ensemble([surrogate])
        self.config = config

    @classmethod
    def create(cls, surrogate: Surrogate) -> PFGSMFilter:
        # The attack's own copies: the skip gradient would change other filters' gradients.
        return cls(surrogate, Ensemble.load(skip_gradient=SKIP_GRADIENT))

    def _attack(self, photo: Photo, settings: FilterSettings, seed: int) -> tuple:
        config, budget = self.config, PERCEPTUAL_BUDGETS[settings.strength]
        with torch.inference_mode():
            logits = self.ensemble.logits(self.surrogate.view(photo.pixels))
        likely, target = choose_target(logits, seed, config.likely, settings.private_labels)
        generator = torch.Generator().manual_seed(seed % 2**63)
        # Contiguous: kornia's filters (texture mask, budget, smoothing) are slow on the
        # channels-last tensors that the fast resize gives.
        view = scaled_view(photo.pixels, config.short_side).contiguous()
        # Blocks of a photo smaller than the view cover more of it (beyond 1, coding at the
        # photo's scale costs more and changed nothing on the development photos).
        jpeg_scale = min(1.0, min(photo.height, photo.width) / min(view.shape[-2:]))
        own_quality = lossy_quality(photo) or 100
        transform = PlatformTransform(
            settings.profile,
            generator,
            squash=config.squash,
            flip=config.flip,
            jpeg_scale=jpeg_scale,
            own_quality=own_quality if own_quality < OWN_JPEG_BELOW else None,
        )
        bound = budget.eps * texture_mask(view, floor=config.texture_floor)
        reference = Similarity(view)
        members = [member.logits for member in self.ensemble.members]
        delta = transfer_attack(
            members,
            view,
            target,
            # Labels the user marks private are pushed down too, wherever they rank.
            likely + [c for c in settings.private_labels if c not in likely],
            bound,
            config,
            transform,
            grey=photo.is_grey,
            project=lambda change: view_scale(view, change, budget, reference=reference),
        )
        return view, reference, likely, target, bound, delta, transform

    @staticmethod
    def _levels(check: np.ndarray, delta: torch.Tensor) -> np.ndarray:
        """``delta`` upsampled to ``check``'s size, in levels of 255."""
        size = check.shape[:2]
        change = F.interpolate(delta.cpu(), size=size, mode="bilinear", align_corners=False)
        return (change[0].permute(1, 2, 0) * 255).numpy()

    def _fit(self, check: np.ndarray, delta: torch.Tensor, budget: PerceptualBudget) -> float:
        """The largest scale of ``delta`` that keeps ``budget``, measured on ``check`` pixels."""
        limit = budget.eps / float(delta.abs().amax().clamp_min(1e-12))
        return fit_scale(check, self._levels(check, delta), budget, limit=limit)

    def apply(self, photo: Photo, settings: FilterSettings) -> Filtered:
        seed = _seed(photo.pixels, settings.seed)
        view, reference, likely, target, bound, delta, transform = self._attack(
            photo, settings, seed
        )
        original = likely[0]
        check = check_pixels(photo.pixels)  # pooled once: every fit below measures on it
        limits = budget = PERCEPTUAL_BUDGETS[settings.strength]
        scale = self._fit(check, delta, budget)
        delta = delta * scale
        extra = refits = 0
        while True:
            out = photo.with_pixels(render_delta(photo.pixels, delta))
            sent = sent_pixels(out)
            # The file as written must keep the budget, the encoder's own loss included.
            tighter = tightened(limits, check, self._levels(check, delta), check_pixels(sent))
            if tighter is not None and refits < REFITS:
                budget, refits = tighter, refits + 1
                delta = delta * self._fit(check, delta, budget)
                continue
            with torch.inference_mode():
                logits = self.surrogate.logits(self.surrogate.view(sent))
            top1 = int(logits[0].argmax())
            fooled = top1 != original
            # Done once the sent file's label moved clearly off the photo's own one; landing
            # exactly on the target is not needed for that and costs full-resolution rounds.
            done = fooled and float(logits[0, top1] - logits[0, original]) >= self.config.margin
            if done or extra >= self.config.top_up:
                break
            # Plain steps on Lite0 alone, away from the photo's label, inside the budget.
            for _ in range(2):
                delta.requires_grad_(True)
                # The surrogate's own squashed view of the file as written, which the
                # report's label comes from.
                written = transform.sent((view + delta).clamp(0, 1))
                own = self.surrogate.logits(_squashed(written))
                loss = own.log_softmax(dim=1)[:, original].mean()
                (grad,) = torch.autograd.grad(loss, delta)
                share = 1.0 if photo.is_grey else self.config.lightness
                grad = _towards_lightness(grad, share)
                with torch.no_grad():
                    delta = _step(delta, grad, 0.5 * bound, bound, "scaled")
                    room = view_scale(view, delta, budget, reference=reference)
                    delta = delta * min(room, _room(delta, bound))
                extra += 1
            delta = delta * self._fit(check, delta, budget)
        report = {
            "target": self.surrogate.categories[target],
            "target_index": target,
            "original_index": original,
            "steps": self.config.steps,
            "top_up": extra,
            "scale": round(scale, 3),
            "refits": refits,
            "fooled": fooled,
            "lead": round(float(logits[0, top1] - logits[0, original]), 3),
            "profile": settings.profile,
        }
        return Filtered(out, report)
