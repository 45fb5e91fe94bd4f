"""The transfer attack: momentum FGSM on a surrogate ensemble, through random platform views.

MI-FGSM (Dong et al., CVPR 2018) with expectation over the platform's and a classifier's
transforms (:mod:`filters.shared.robust`) and a smoothed gradient (translation invariance),
pushing a photo's likely classes down and a target class up, inside a per-pixel bound and a
perceptual budget. The ``pfgsm`` filter runs it on a view of the photo and applies the change.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from filters.shared.robust import smooth_gradient
from filters.shared.surrogate import ATTACK_SHORT_SIDE

__all__ = [
    "AttackConfig",
    "Logits",
    "choose_target",
    "descend",
    "room_within",
    "towards_lightness",
    "transfer_attack",
]

Logits = Callable[[torch.Tensor], torch.Tensor]


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
            :func:`~filters.shared.budget.texture_mask`): with ``lightness`` 0.8, 0.1 gave 5.0% /
            13.3% and 0.2 6.7% / 15.0%.
        short_side: the shorter side of the view the change is made on.
        push: weight of pushing the likely classes down.
        pull: weight of pulling the target up.
        likely: how many top classes count as what the photo shows.
        margin: logit lead the output's top-1 needs over the photo's own label.
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
            grad = towards_lightness(smooth_gradient(grad, config.smoothing), lightness)
            velocity = config.momentum * velocity + grad / grad.abs().mean().clamp_min(1e-12)
            delta = descend(delta, velocity, alpha, bound, config.direction)
            if project is not None:
                delta = delta * min(project(delta), room_within(delta, bound))
    return delta.detach()


def towards_lightness(grad: torch.Tensor, share: float) -> torch.Tensor:
    """``grad`` with ``share`` of it made the same on R, G and B (1: a grey change)."""
    return grad + share * (grad.mean(dim=1, keepdim=True) - grad)


def descend(
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


def room_within(delta: torch.Tensor, bound: torch.Tensor) -> float:
    """The largest factor that keeps ``|delta| <= bound`` everywhere."""
    return float((bound / delta.abs().clamp_min(1e-12)).amin())
