"""How ``motion-anonymise`` is measured on UCI HAPT: the windows of each person's first and
second recordings, window classifiers trained from scratch (the activity recogniser, and
the identity attacker), macro F1, and identification top-1 per window and per upload, over
every activity and over walking alone (the gait, where identity lies).
Shared by the training script (:mod:`activities.motion_train`) and the tests.

The identity attacker looks at what does not depend on how the phone sat: the magnitude of
the acceleration, its vertical part (along the window's mean, gravity) and the size of its
horizontal part. HAPT's second recordings had the phone placed as each person liked, and an
attacker on the raw axes learns the placement of the first: 25% top-1 on raw windows, where
this one finds 74% of walking windows and 91% of walking uploads (30 people)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from activities.hapt import ACTIVITIES, hapt_recordings, windows
from activities.motion_model import WINDOW, Anonymiser, WindowClassifier

__all__ = [
    "BATCH",
    "GAIT",
    "SEED",
    "Identification",
    "IdentityAttacker",
    "Split",
    "anonymise",
    "batches",
    "identification",
    "load_split",
    "macro_f1",
    "orientation_free",
    "predict",
    "train_classifier",
]

SEED = 17
TRAIN_STEP, TEST_STEP = 64, 64  # half-overlapping windows of 128 samples
BATCH = 128
# Walking, upstairs, downstairs: the activities in which a gait shows.
GAIT = tuple(ACTIVITIES.index(name) for name in ("walking", "upstairs", "downstairs"))
ATTACKER_WIDTH = 64
ATTACKER_WEIGHT_DECAY = 1e-4


@dataclass
class Split:
    """Windows ``(W, 3, WINDOW)``, their activity and their person (0-based)."""

    signal: torch.Tensor
    activity: torch.Tensor
    person: torch.Tensor

    def subset(self, keep: torch.Tensor) -> Split:
        return Split(self.signal[keep], self.activity[keep], self.person[keep])


def load_split(people: int | None = None) -> tuple[Split, Split]:
    """(first recordings, second recordings) of the first ``people`` people (all: None)."""
    recordings = hapt_recordings()
    persons = sorted({r.person for r in recordings})[:people]
    parts: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {0: [], 1: []}
    for recording in recordings:
        if recording.person in persons and recording.session in parts:
            step = TRAIN_STEP if recording.session == 0 else TEST_STEP
            signal, activity = windows(recording, WINDOW, step)
            person = np.full(len(activity), persons.index(recording.person))
            parts[recording.session].append((signal, activity, person))

    def stacked(part: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Split:
        signal, activity, person = (np.concatenate(column) for column in zip(*part, strict=True))
        return Split(torch.from_numpy(signal), torch.from_numpy(activity), torch.from_numpy(person))

    return stacked(parts[0]), stacked(parts[1])


def orientation_free(signal: torch.Tensor) -> torch.Tensor:
    """``(B, 3, T)`` acceleration -> ``(B, 3, T)``: its magnitude, its part along the
    window's mean (gravity: vertical) and the magnitude of the rest (horizontal), which a
    phone turned in the pocket does not change. Differentiable."""
    gravity = signal.mean(dim=2, keepdim=True)
    up = gravity / gravity.norm(dim=1, keepdim=True).clamp_min(1e-6)
    vertical = (signal * up).sum(dim=1, keepdim=True)
    horizontal = (signal - vertical * up).norm(dim=1, keepdim=True)
    return torch.cat([signal.norm(dim=1, keepdim=True), vertical, horizontal], dim=1)


class IdentityAttacker(nn.Module):
    """Who wore the phone, from one window: a wider :class:`WindowClassifier` over
    :func:`orientation_free` inputs.

    Shape: ``(B, 3, T)`` -> ``(B, people)`` logits.
    """

    def __init__(self, people: int) -> None:
        super().__init__()
        self.classifier = WindowClassifier(people, width=ATTACKER_WIDTH)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        return self.classifier(orientation_free(signal))


def batches(count: int, generator: torch.Generator) -> list[torch.Tensor]:
    return list(torch.randperm(count, generator=generator).split(BATCH))


def train_classifier(
    signal: torch.Tensor,
    labels: torch.Tensor,
    classes: int,
    epochs: int,
    seed: int = SEED,
    attacker: bool = False,
) -> nn.Module:
    """A :class:`WindowClassifier` (or with ``attacker`` an :class:`IdentityAttacker`,
    weight decay against overfitting one recording) trained from scratch (Adam,
    cross-entropy), in eval mode."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model: nn.Module = IdentityAttacker(classes) if attacker else WindowClassifier(classes)
    optimiser = torch.optim.Adam(
        model.parameters(), lr=2e-3, weight_decay=ATTACKER_WEIGHT_DECAY if attacker else 0.0
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, epochs)
    for _ in range(epochs):
        model.train()
        for rows in batches(len(labels), generator):
            loss = F.cross_entropy(model(signal[rows]), labels[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        schedule.step()
    return model.eval()


@torch.inference_mode()
def predict(model: nn.Module, signal: torch.Tensor) -> torch.Tensor:
    model.eval()
    return torch.cat([model(part).argmax(dim=1) for part in signal.split(1024)])


@torch.inference_mode()
def anonymise(anonymiser: Anonymiser, signal: torch.Tensor, seed: int = SEED) -> torch.Tensor:
    anonymiser.eval()
    generator = torch.Generator().manual_seed(seed)
    return torch.cat([anonymiser(part, generator) for part in signal.split(1024)])


def macro_f1(truth: torch.Tensor, guess: torch.Tensor, classes: int) -> float:
    """The mean over classes of F1 (every activity counts the same, however common)."""
    scores = []
    for label in range(classes):
        hits = int(((guess == label) & (truth == label)).sum())
        predicted, actual = int((guess == label).sum()), int((truth == label).sum())
        if predicted + actual:
            scores.append(2 * hits / (predicted + actual))
    return float(np.mean(scores))


class Identification(NamedTuple):
    """Top-1 of the identity attacker: per window (2.56 s), and per upload, taken as all of a
    person's test windows of one activity together (their mean probabilities); over every
    activity, and over walking alone (:data:`GAIT`, an attacker trained on it alone)."""

    window: float
    upload: float
    gait_window: float
    gait_upload: float


def _top1(train: Split, test: Split, people: int, epochs: int, seed: int) -> tuple[float, float]:
    attacker = train_classifier(train.signal, train.person, people, epochs, seed, attacker=True)
    with torch.inference_mode():
        probabilities = torch.cat([attacker(p).softmax(dim=1) for p in test.signal.split(1024)])
    window = float((probabilities.argmax(dim=1) == test.person).float().mean())
    uploads = test.person * len(ACTIVITIES) + test.activity
    hits = [
        int(probabilities[uploads == upload].mean(dim=0).argmax()) == int(upload) // len(ACTIVITIES)
        for upload in uploads.unique()
    ]
    return window, float(np.mean(hits))


def identification(train: Split, test: Split, epochs: int, seed: int = SEED) -> Identification:
    """The identity attacker trained on ``train`` and measured on ``test``."""
    people = int(train.person.max()) + 1
    gait_train, gait_test = (
        part.subset(torch.isin(part.activity, torch.tensor(GAIT))) for part in (train, test)
    )
    return Identification(
        *_top1(train, test, people, epochs, seed),
        *_top1(gait_train, gait_test, people, epochs, seed),
    )
