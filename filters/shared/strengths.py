"""How hard each strength protects: one table with every filter's budget per strength.

A strength is not only an epsilon: the transfer attack (``pfgsm``) keeps an SSIM and a mean
CIEDE2000 bound, ``colorfool`` bounds its colour shifts and ``edgefool`` its detail gain.
Each filter reads its own column of :data:`BUDGETS`, so a strength is changed in one place.
Pure data: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BUDGETS",
    "STRENGTHS",
    "Budgets",
    "ColourBudget",
    "DetailBudget",
    "PerceptualBudget",
    "budgets_for",
]


@dataclass(frozen=True)
class PerceptualBudget:
    """Bounds the transfer attack keeps (see ``filters.shared.budget``).

    Attributes:
        eps: the largest change of one pixel channel, in [0, 1] units (in textured areas).
        ssim_min: the SSIM the output keeps at least.
        delta_e_max: the mean CIEDE2000 the output keeps at most.
    """

    eps: float
    ssim_min: float
    delta_e_max: float


@dataclass(frozen=True)
class ColourBudget:
    """ColorFool's strength: how far colours may move and how hard the attack tries.

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


@dataclass(frozen=True)
class DetailBudget:
    """EdgeFool's strength: how much detail may change and how hard the attack tries.

    ``enhance`` is the plain detail gain the MSE term pulls towards (L' = L + g * detail);
    ``max_gain`` bounds the per-pixel gain; ``delta_e`` (mean CIEDE2000) and ``ssim`` bound
    the view's change; ``steps`` caps the Adam steps; ``margin`` is the lead to stop at.
    """

    enhance: float
    max_gain: float
    delta_e: float
    ssim: float
    steps: int
    margin: float


@dataclass(frozen=True)
class Budgets:
    """One strength, for every filter that spends a budget."""

    perceptual: PerceptualBudget
    colour: ColourBudget
    detail: DetailBudget


BUDGETS: dict[str, Budgets] = {
    # eps caps the busiest texture only (the texture mask scales it down elsewhere). On the
    # development photos medium's 36/255 spends a mean CIEDE2000 of about 2.2 (24/255: 2.0).
    "low": Budgets(
        PerceptualBudget(eps=18 / 255, ssim_min=0.98, delta_e_max=1.5),
        ColourBudget(max_shift=10, delta_e=3.0, ssim=0.97, trials=100, steps=12, margin=0.5),
        DetailBudget(enhance=0.25, max_gain=1.5, delta_e=1.5, ssim=0.97, steps=15, margin=0.5),
    ),
    "medium": Budgets(
        PerceptualBudget(eps=36 / 255, ssim_min=0.95, delta_e_max=2.5),
        ColourBudget(max_shift=18, delta_e=5.0, ssim=0.95, trials=200, steps=16, margin=1),
        DetailBudget(enhance=0.5, max_gain=2.5, delta_e=2.5, ssim=0.95, steps=20, margin=1),
    ),
    "high": Budgets(
        PerceptualBudget(eps=48 / 255, ssim_min=0.92, delta_e_max=3.5),
        ColourBudget(max_shift=30, delta_e=8.0, ssim=0.92, trials=300, steps=20, margin=2),
        DetailBudget(enhance=0.75, max_gain=4.0, delta_e=4.0, ssim=0.92, steps=30, margin=2),
    ),
}
STRENGTHS: tuple[str, ...] = tuple(BUDGETS)


def budgets_for(strength: str) -> Budgets:
    """The budgets of one strength.

    Raises:
        KeyError: not one of :data:`STRENGTHS` (``FilterSettings`` checks it first).

    >>> budgets_for("low").perceptual.ssim_min
    0.98
    """
    return BUDGETS[strength]
