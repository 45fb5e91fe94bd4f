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
  classifier's crop or squash (:mod:`filters.shared.robust`), with momentum (MI-FGSM, Dong
  et al. CVPR 2018) and, at the strong strength, a smoothed gradient;
- follows the gradient through the surrogates' skip connections more than through their
  residual branches (Skip Gradient Method, Wu et al. ICLR 2020);
- spends a per-pixel budget that follows texture and stays off strong edges
  (:mod:`filters.shared.budget`), changes lightness only at the invisible and subtle
  strengths (four fifths of each step at strong), and keeps SSIMULACRA2 above the
  strength's floor on its view, measured every other step.

The change is upsampled to the full photo and spread over its own detail there (at up to
2048 px, :func:`~filters.shared.budget.detail_gain`): inside each view pixel's block it goes
to the hair and leaves, off the smooth collar or skin beside them, so close up it follows
the photo's texture, not the view's blocks (on 16 real photos of 0.25-3.3 MP, SSIMULACRA2
85.8 -> 86.4 at the same cap; on 60 ImageNet photos the judge's top-1 after facebook 68% ->
70%, one photo). It is then sized to the floor on the photo as a screen shows it, and
checked on the encoded file. At the invisible strength, on 30 tuning photos, the
judge's top-1 after facebook (77% on the originals) went from 63% (the medium change of
before, shrunk to SSIMULACRA2 80) to 60% with the floor kept during the attack, to 53%
without smoothing the gradient, and, with Butteraugli down from 6 to 3.3, to 60% with the
per-pixel cap at 8/255 and the edge guard (12/255: 47%, Butteraugli 4.7); a cap of 7/255
with 12 steps of 0.9 of it gives 70% at Butteraugli 2.9 in 1.3 s (20 steps of 0.5: 67%,
3.0, 1.9 s). Tried and dropped at that strength: sign steps (63%, Butteraugli 3.4), six
times the compute (50%, visible), a per-pixel detail mask, a 384 px view, an untargeted loss.

Before the strengths were named by what they look like, on 60 development photos (ImageNet
classes 4 mod 8), the held-out judge's top-1 after the facebook profile at medium (whole
filter, SSIMULACRA2 about 30) went from 70% (224 px squashed view, target first) to 42%
with the aspect-kept view, the push-first loss and the skip gradient; then, with steps made
cheaper by the straight-through JPEG, to 23% with 20 steps instead of 12, to 15% with the
JPEG at a small photo's own scale and top-ups that only push the label down, and to 13%
with the target's pull at 0.1 instead of 0.25 (0 gave 10%, but no longer aims anywhere),
to 12% with mirrored views, and to 5% (top-5 37% -> 13%) with steps that are mostly
lightness and less of the budget in flat areas.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from filters.base import Filter, Filtered, FilterSettings, Toolkit
from filters.codecs.photo import Photo
from filters.shared.budget import ScreenFit, ViewBound, room_for, texture_mask
from filters.shared.render import render_delta, shaped_gain
from filters.shared.robust import PlatformTransform
from filters.shared.strengths import budgets_for
from filters.shared.surrogate import INPUT_SIZE, Ensemble, scaled_view
from filters.shared.transfer import (
    AttackConfig,
    choose_target,
    descend,
    room_within,
    towards_lightness,
    transfer_attack,
)

__all__ = ["PFGSMFilter"]

# Share of the gradient the attack's surrogates pass back through each residual branch
# (Skip Gradient Method): judge top-1 after facebook on the development photos 47% -> 37%.
SKIP_GRADIENT = 0.5
# The attack sees the photo's own encoding below this quality: a small photo written at 60
# loses most of a change there. Above it the figures were the same, for 0.2 s more a photo.
OWN_JPEG_BELOW = 90
# Rounds of shrinking the change when the encoded file, not the change, breaks the floor
# (the encoder's own loss comes on top of the change's).
REFITS = 2
DEFAULT_ATTACK = AttackConfig()


class _Attack(NamedTuple):
    """What the ensemble attack made, and what the steps after it reuse."""

    view: torch.Tensor
    keep: ViewBound
    likely: list[int]
    target: int
    bound: torch.Tensor
    delta: torch.Tensor
    transform: PlatformTransform
    lightness: float
    texture_floor: float


def _squashed(images: torch.Tensor) -> torch.Tensor:
    size = (INPUT_SIZE, INPUT_SIZE)
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False)


class PFGSMFilter(Filter):
    """Targeted, platform-robust transfer FGSM within a perceptual budget.

    Report: ``target`` (class name) and ``target_index``; ``original_index`` (surrogate
    top-1 before); ``steps`` (ensemble steps) and ``top_up`` (plain steps after);
    ``scale`` (the share of the change the budget kept); ``refits`` (rounds the change was
    shrunk because the encoded file broke the floor); ``ssimulacra2`` (of the file as
    written, on screen, against the photo); ``fooled`` (the surrogate's top-1
    of the encoded output differs from the original's); ``lead`` (logit of the output's
    top-1 minus the original class's); ``profile``.
    """

    name = "pfgsm"
    description = (
        "Adds a change to lightness, where texture hides it, that makes image classifiers see "
        "another class, made to survive the platform's recompression (EfficientNet-Lite "
        "ensemble); how visible it may be is the strength's."
    )
    fools_classifier = True

    def __init__(
        self,
        toolkit: Toolkit,
        ensemble: Ensemble | None = None,
        config: AttackConfig | None = None,
    ) -> None:
        self.surrogate = toolkit.surrogate
        self.written_pixels = toolkit.written_pixels
        self.written_quality = toolkit.written_quality
        self.ensemble = ensemble or Ensemble([self.surrogate])
        self.config = config

    @classmethod
    def create(cls, toolkit: Toolkit) -> PFGSMFilter:
        # The attack's own copies: the skip gradient would change other filters' gradients.
        return cls(toolkit, Ensemble.load(skip_gradient=SKIP_GRADIENT))

    def _attack(self, photo: Photo, settings: FilterSettings, seed: int) -> _Attack:
        budget = budgets_for(settings.strength).perceptual
        # How visible a step may be, and how many there are, is the strength's, unless the
        # filter was given its own way to attack (tests, experiments).
        config = self.config or replace(
            DEFAULT_ATTACK,
            lightness=budget.lightness,
            smoothing=budget.smoothing,
            steps=budget.steps,
            step_size=budget.step_size,
        )
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
        own_quality = self.written_quality(photo) or 100
        transform = PlatformTransform(
            settings.profile,
            generator,
            squash=config.squash,
            flip=config.flip,
            jpeg_scale=jpeg_scale,
            own_quality=own_quality if own_quality < OWN_JPEG_BELOW else None,
        )
        bound = budget.eps * texture_mask(view, floor=config.texture_floor)
        keep = ViewBound(view, budget.ssimulacra2_min)
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
            project=keep,
        )
        return _Attack(
            view,
            keep,
            likely,
            target,
            bound,
            delta,
            transform,
            config.lightness,
            config.texture_floor,
        )

    @staticmethod
    def _fit(
        screen: ScreenFit,
        delta: torch.Tensor,
        bound: torch.Tensor,
        floor: float,
        gain: np.ndarray,
    ) -> float:
        """The largest scale of ``delta`` within its per-pixel caps that keeps the floor."""
        return screen.fit(
            lambda scale: render_delta(screen.base, delta * scale, gain),
            floor,
            room_within(delta, bound),
        )

    @staticmethod
    def _gains(
        pixels: np.ndarray, screen: np.ndarray, attack: _Attack
    ) -> tuple[np.ndarray, np.ndarray]:
        """The detail gains of the photo and of its screen view."""
        view_size = tuple(attack.view.shape[-2:])
        on_screen = shaped_gain(screen, view_size, attack.texture_floor)
        if screen is pixels:
            return on_screen, on_screen
        return shaped_gain(pixels, view_size, attack.texture_floor), on_screen

    def _top_up(
        self, attack: _Attack, delta: torch.Tensor, original: int, grey: bool
    ) -> torch.Tensor:
        """Two plain steps on Lite0 alone, away from the photo's label, inside the budget."""
        for _ in range(2):
            delta.requires_grad_(True)
            # The surrogate's own squashed view of the file as written, which the report's
            # label comes from.
            written = attack.transform.sent((attack.view + delta).clamp(0, 1))
            own = self.surrogate.logits(_squashed(written))
            loss = own.log_softmax(dim=1)[:, original].mean()
            (grad,) = torch.autograd.grad(loss, delta)
            grad = towards_lightness(grad, 1.0 if grey else attack.lightness)
            with torch.no_grad():
                delta = descend(delta, grad, 0.5 * attack.bound, attack.bound, "scaled")
                delta = delta * min(attack.keep(delta), room_within(delta, attack.bound))
        return delta.detach()

    def apply(self, photo: Photo, settings: FilterSettings) -> Filtered:
        seed = settings.seed_for(photo.pixels)
        attack = self._attack(photo, settings, seed)
        budget = budgets_for(settings.strength).perceptual
        original, floor = attack.likely[0], budget.ssimulacra2_min
        # Measured against the chain's original: one floor for every filter's change.
        screen = ScreenFit(settings.reference(photo.pixels), photo.pixels)
        gain, screen_gain = self._gains(photo.pixels, screen.base, attack)
        scale = self._fit(screen, attack.delta, attack.bound, floor, screen_gain)
        delta = attack.delta * scale
        extra = refits = 0
        while True:
            out = photo.with_pixels(render_delta(photo.pixels, delta, gain))
            sent = self.written_pixels(out)
            # The file as written must keep the floor, the encoder's own loss included.
            visible = screen.score(sent)
            if visible < floor and refits < REFITS:
                delta, refits = delta * room_for(visible, floor + 0.3), refits + 1
                continue
            with torch.inference_mode():
                logits = self.surrogate.logits(self.surrogate.view(sent))
            top1 = int(logits[0].argmax())
            fooled = top1 != original
            # Done once the sent file's label moved clearly off the photo's own one; landing
            # exactly on the target is not needed for that and costs full-resolution rounds.
            done = fooled and float(logits[0, top1] - logits[0, original]) >= DEFAULT_ATTACK.margin
            if done or extra >= budget.top_up:
                break
            delta = self._top_up(attack, delta, original, photo.is_grey)
            extra += 2
            delta = delta * self._fit(screen, delta, attack.bound, floor, screen_gain)
        report = {
            "target": self.surrogate.categories[attack.target],
            "target_index": attack.target,
            "original_index": original,
            "steps": (self.config or budget).steps,
            "top_up": extra,
            "scale": round(scale, 3),
            "refits": refits,
            "ssimulacra2": round(visible, 2),
            "fooled": fooled,
            "lead": round(float(logits[0, top1] - logits[0, original]), 3),
            "profile": settings.profile,
        }
        return Filtered(out, report)
