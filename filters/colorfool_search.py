"""The ``colorfool-search`` filter: ColorFool's black-box random search, as published.

Random natural a, b shifts per region (see :mod:`filters.colorfool`), trial t scaled by t / T,
the first trial whose label moves by the margin wins; no gradients.
"""

from __future__ import annotations

import torch

from filters.colorfool import SHIFTED, ColorFoolFilter, RegionViews, shift_bounds, within_budget
from filters.shared.strengths import ColourBudget
from filters.shared.surrogate import label_margin

__all__ = ["ColorFoolSearchFilter"]

SEARCH_BATCH = 10  # trials classified in one forward pass


class ColorFoolSearchFilter(ColorFoolFilter):
    """ColorFool's black-box search: random natural shifts, trial t scaled by t / T."""

    name = "colorfool-search"
    description = (
        "ColorFool as published: random colour shifts of whole regions, growing until the "
        "classifier's label changes (slower, no gradients)."
    )
    method = "search"

    def _attack(
        self, views: RegionViews, original: int, budget: ColourBudget, seed: int
    ) -> tuple[torch.Tensor, int]:
        """Trials in batches; the first whose label changes by the margin wins."""
        device = views.rgb.device
        low, high = shift_bounds(budget.max_shift, device)
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
                margin = label_margin(self.surrogate.logits(views.shifted(shifts)), original)
            # The budget is checked on winners only: most trials lose, and it costs a pass.
            for first in (margin >= budget.margin).nonzero()[:, 0].tolist():
                kept = within_budget(views, shifts[first : first + 1], budget)
                with torch.inference_mode():
                    lead = label_margin(self.surrogate.logits(views.shifted(kept)), original)
                if float(lead[0]) >= budget.margin:
                    return kept[0], start + first + 1
            last = shifts[-1]
        return within_budget(views, last[None], budget)[0], total
