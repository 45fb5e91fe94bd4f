"""Where the filters' tensors live: the GPU when torch sees one, the CPU otherwise.

``VEIL_DEVICE`` overrides the choice: ``auto`` (the default), ``cpu``, ``cuda`` or
``cuda:N``. Photos are decoded, encoded and measured on the CPU either way; the GPU runs
the classifiers and the attacks' views.

On CUDA, torch is asked for deterministic kernels, so that a seed gives one file there as
it does on the CPU: without them, one photo protected three times on an H100 differed by
up to 35 levels between runs (the attack's path forks on atomic-add rounding).
"""

from __future__ import annotations

import functools
import os

import torch

__all__ = ["DEVICE_VARIABLE", "compute_device", "parse_device"]

DEVICE_VARIABLE = "VEIL_DEVICE"


def parse_device(choice: str, *, cuda_available: bool) -> torch.device:
    """The device that ``choice`` (a ``VEIL_DEVICE`` value) names.

    Raises:
        ValueError: not a device Veil runs on, or a GPU that torch does not see.

    >>> parse_device("auto", cuda_available=False)
    device(type='cpu')
    >>> parse_device("cuda:1", cuda_available=True)
    device(type='cuda', index=1)
    """
    choice = choice.strip().lower()
    if choice in ("", "auto"):
        return torch.device("cuda" if cuda_available else "cpu")
    try:
        device = torch.device(choice)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ValueError(f"{DEVICE_VARIABLE}={choice!r}: use auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not cuda_available:
        raise ValueError(f"{DEVICE_VARIABLE}={choice!r}, but torch sees no CUDA GPU here")
    return device


@functools.cache
def compute_device() -> torch.device:
    """The device the classifiers and attacks run on, chosen once per process."""
    device = parse_device(
        os.environ.get(DEVICE_VARIABLE, "auto"), cuda_available=torch.cuda.is_available()
    )
    if device.type == "cuda":
        # cuBLAS reads this when it starts: deterministic matrix products need it.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        # Warn rather than fail where torch has no deterministic kernel for an op.
        torch.use_deterministic_algorithms(True, warn_only=True)
    return device
