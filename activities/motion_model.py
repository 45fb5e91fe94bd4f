"""The networks of ``motion-anonymise``, after MSDA (Malekzadeh, Clegg, Cavallaro, Haddadi,
"Mobile Sensor Data Anonymization", IoTDI 2019): an anonymising autoencoder, trained to keep
what a fixed activity recogniser needs and to leave an identity classifier guessing.

Written from the paper's method, not its code. Inputs are windows of 3-axis acceleration in
g, ``(B, 3, WINDOW)`` at :data:`RATE_HZ`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
from torch import nn

from activities.motion_common import RATE_HZ

__all__ = [
    "RATE_HZ",
    "WEIGHTS",
    "WINDOW",
    "Anonymiser",
    "WindowClassifier",
    "anonymise_stream",
    "load_models",
]

WINDOW = 128  # 2.56 s, HAPT's own window
WEIGHTS = Path(__file__).with_name("weights") / "motion_anonymiser.pt"


class Anonymiser(nn.Module):
    """Convolutional autoencoder with a narrow bottleneck (4x shorter, ``code`` channels):
    what passes it is what the losses made it keep. Fully convolutional, so any length that
    is a multiple of 4 goes through.

    Shape: ``(B, 3, T)`` -> ``(B, 3, T)``, T divisible by 4.
    """

    def __init__(self, width: int = 32, code: int = 8, noise: float = 0.0) -> None:
        super().__init__()
        # Noise on the code (bounded by tanh): what identifies a person is fine detail, which
        # it drowns; the activity is coarse, and training teaches it to survive the noise.
        self.noise = noise
        self.encode = nn.Sequential(
            nn.Conv1d(3, width, 5, padding=2),
            nn.ReLU(),
            nn.Conv1d(width, width, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.Conv1d(width, width, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.Conv1d(width, code, 3, padding=1),
        )
        self.decode = nn.Sequential(
            nn.Conv1d(code, width, 3, padding=1),
            nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="linear", align_corners=False),
            nn.Conv1d(width, width, 5, padding=2),
            nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="linear", align_corners=False),
            nn.Conv1d(width, width, 5, padding=2),
            nn.ReLU(),
            nn.Conv1d(width, 3, 5, padding=2),
        )

    def forward(
        self, signal: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        code = torch.tanh(self.encode(signal))
        if self.noise:
            code = code + self.noise * torch.randn(code.shape, generator=generator)
        return self.decode(code)


class WindowClassifier(nn.Module):
    """A 1-D CNN over one window: the activity recogniser (6 classes) and the identity
    attacker (30 people) share it. Mean and max pooled over time, so it looks at the
    whole window.

    Shape: ``(B, channels, T)`` -> ``(B, classes)`` logits.
    """

    def __init__(self, classes: int, width: int = 32, channels: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(channels, width, 7, padding=3),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(width, width, 5, padding=2),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(width, width, 5, padding=2),
            nn.BatchNorm1d(width),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(2 * width, classes))

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        features = self.features(signal)
        pooled = torch.cat([features.mean(dim=2), features.amax(dim=2)], dim=1)
        return self.head(pooled)


@functools.cache
def load_models(path: Path = WEIGHTS) -> tuple[Anonymiser, WindowClassifier]:
    """The shipped anonymiser and the raw-data activity recogniser, in eval mode.

    Raises:
        FileNotFoundError: the weights were not shipped (run benchmarks/train_motion.py).
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    anonymiser = Anonymiser(**state["anonymiser_config"])
    anonymiser.load_state_dict(state["anonymiser"])
    activity = WindowClassifier(classes=state["activity_classes"])
    activity.load_state_dict(state["activity"])
    return anonymiser.eval(), activity.eval()


def anonymise_stream(acceleration: np.ndarray, seed: int = 0) -> np.ndarray:
    """A whole stream anonymised window by window, as the networks were trained.

    Args:
        acceleration: ``(N, 3)`` in g at :data:`RATE_HZ`.

    Returns:
        ``(N, 3)`` float64 in g; the last, partial window is padded with its last sample.
        ``seed`` draws the code's noise: the same upload gets the same output.

    Raises:
        ValueError: not ``(N, 3)`` or not finite.
    """
    if acceleration.ndim != 2 or acceleration.shape[1] != 3:
        raise ValueError(f"acceleration must be (N, 3), got {acceleration.shape}")
    if not np.isfinite(acceleration).all():
        raise ValueError("acceleration holds NaN or infinite values")
    count = len(acceleration)
    if count == 0:
        return acceleration.astype(np.float64)
    padded_count = -(-count // WINDOW) * WINDOW
    padded = np.pad(acceleration, ((0, padded_count - count), (0, 0)), mode="edge")
    batch = torch.from_numpy(padded.astype(np.float32)).reshape(-1, WINDOW, 3).transpose(1, 2)
    anonymiser, _ = load_models()
    with torch.inference_mode():
        out = anonymiser(batch, torch.Generator().manual_seed(seed))
    return out.transpose(1, 2).reshape(-1, 3)[:count].double().numpy()
