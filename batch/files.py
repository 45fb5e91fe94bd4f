"""``veil protect``: protect files and folders, same names and formats under one folder.

Each photo is read, protected, written under ``out`` with its own file name (a folder's
photos keep their paths inside it) and measured. A photo that fails is reported and the
batch goes on; an input is never overwritten.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import numpy as np

from batch.upload import simulate_upload
from filters import DEFAULT_FACES, DEFAULT_STRENGTH, FILTERS, FilterSettings, ProtectionError
from filters.record import ProtectionRecord, fields_of
from filters.shared.platforms import get_profile

if TYPE_CHECKING:
    from filters.pipeline import Protector

__all__ = [
    "IMAGE_SUFFIXES",
    "BatchError",
    "Job",
    "PhotoReport",
    "ProgressBar",
    "check_options",
    "label_of",
    "plan_jobs",
    "protect_batch",
    "write_report",
]

# What a folder walk picks up; a file named on the command line is tried whatever its name.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp"})


class BatchError(ValueError):
    """The batch as a whole cannot run: no inputs, or an output folder that is an input."""


class Predictor(Protocol):
    """What the report needs of a classifier: the surrogate and the judge both fit."""

    def predict(self, pixels: np.ndarray) -> Any: ...


@dataclass(frozen=True)
class Job:
    """One photo to protect: where it is read and where its protected copy goes."""

    source: Path
    target: Path


@dataclass
class PhotoReport:
    """What happened to one photo; ``error`` is set (and the rest mostly empty) when it failed.

    ``record`` is the protector's :class:`~filters.record.ProtectionRecord` (the surrogate's
    labels, similarity, sizes, time). Judge labels are ``{"index", "label", "confidence"}``:
    the held-out judge's top-1 on the input and on the written file; ``judge_after_upload``
    is its top-1 on the file after the platform profile's resize and recompression.
    """

    source: str
    output: str | None = None
    error: str | None = None
    format: str | None = None
    filters: list[str] = field(default_factory=list)
    strength: str | None = None
    profile: str | None = None
    record: ProtectionRecord | None = None
    judge_before: dict[str, Any] | None = None
    judge_after: dict[str, Any] | None = None
    judge_after_upload: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """Flat and JSON-friendly: the record's fields (thumbnails aside) stand beside ours."""
        data = {name: getattr(self, name) for name in _OWN_FIELDS}
        if self.record is not None:
            data.update(self.record.values())
        else:
            data.update((item.name, None) for item in RECORD_FIELDS)
        return data


RECORD_FIELDS = tuple(f for f in fields_of(ProtectionRecord) if f.kind != "thumbnail")
_OWN_FIELDS = tuple(f.name for f in fields(PhotoReport) if f.name != "record")


def label_of(prediction: Any) -> dict[str, Any]:
    """A prediction (index, label, confidence) as a JSON-friendly dict."""
    return {
        "index": int(prediction.index),
        "label": str(prediction.label),
        "confidence": round(float(prediction.confidence), 4),
    }


class ProgressBar:
    """A one-line progress bar on a terminal; one line per step when the stream is a file."""

    def __init__(self, total: int, stream: IO[str] | None = None, width: int = 28) -> None:
        self.total, self.width, self.done = max(total, 0), width, 0
        self.stream = sys.stderr if stream is None else stream
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._start = time.perf_counter()

    def update(self, label: str = "") -> None:
        """Count one more step done, named ``label``."""
        self.done += 1
        filled = self.width * self.done // self.total if self.total else self.width
        elapsed = time.perf_counter() - self._start
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"[{bar}] {self.done}/{self.total} {elapsed:5.1f}s {label}"
        if self._tty:
            self.stream.write("\r\033[K" + line[:120])
            if self.done >= self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _folder_photos(folder: Path, out: Path) -> list[Path]:
    """Photos under ``folder`` by suffix, sorted, skipping anything already under ``out``."""
    found = []
    for path in sorted(folder.rglob("*")):
        wanted = path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
        if wanted and not path.resolve().is_relative_to(out):
            found.append(path)
    return found


def plan_jobs(inputs: Sequence[Path], out: Path) -> tuple[list[Job], list[PhotoReport]]:
    """Where each input photo goes under ``out``, and the inputs that cannot be planned.

    A file goes to ``out/<its name>``; a folder's photos to ``out/<path inside the folder>``.
    Two inputs aiming at one output, or an output that is an input, are refused per photo.

    Raises:
        BatchError: no inputs, or ``out`` is one of the input folders.
    """
    if not inputs:
        raise BatchError("no input files or folders given")
    out = out.resolve()
    pairs: list[tuple[Path, Path]] = []
    failed: list[PhotoReport] = []
    for given in inputs:
        if given.is_dir():
            if given.resolve() == out:
                raise BatchError(f"--out {out} is an input folder: it would overwrite the inputs")
            pairs += [(p, out / p.relative_to(given)) for p in _folder_photos(given, out)]
        elif given.is_file():
            pairs.append((given, out / given.name))
        else:
            failed.append(PhotoReport(str(given), error="no such file or folder"))
    sources = {source.resolve() for source, _ in pairs}
    jobs: list[Job] = []
    taken: dict[Path, Path] = {}
    for source, target in pairs:
        if target.resolve() in sources:
            failed.append(PhotoReport(str(source), error=f"refused: {target} is an input photo"))
        elif target in taken:
            failed.append(
                PhotoReport(str(source), error=f"{taken[target]} already writes {target}")
            )
        else:
            taken[target] = source
            jobs.append(Job(source, target))
    return jobs, failed


def _write_new(target: Path, data: bytes) -> None:
    """Write through a temporary file, so a crash never leaves half a photo."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".veil-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _protect_one(
    protector: Protector,
    job: Job,
    filters: Sequence[str],
    strength: str,
    profile: str,
    seed: int | None,
    judge: Predictor | None,
    faces: str,
) -> PhotoReport:
    protected = protector.protect(
        job.source.read_bytes(), filters, strength, seed=seed, profile=profile, faces=faces
    )
    _write_new(job.target, protected.data)
    report = PhotoReport(
        str(job.source),
        output=str(job.target),
        format=protected.format,
        filters=list(protected.filters),
        strength=strength,
        profile=profile,
        record=protector.measure(protected),
    )
    if judge is not None:
        before, after = protected.original.pixels, protected.sent.pixels
        report.judge_before = label_of(judge.predict(before))
        report.judge_after = label_of(judge.predict(after))
        report.judge_after_upload = label_of(judge.predict(simulate_upload(after, profile)))
    return report


def protect_batch(
    jobs: Sequence[Job],
    protector: Protector,
    filters: Sequence[str],
    strength: str = DEFAULT_STRENGTH,
    *,
    profile: str = "none",
    seed: int | None = None,
    judge: Predictor | None = None,
    on_done: Callable[[PhotoReport], None] | None = None,
    faces: str = DEFAULT_FACES,
) -> list[PhotoReport]:
    """Protect each job's photo; a failure is reported and the batch goes on.

    Args:
        jobs: from :func:`plan_jobs`.
        protector: loaded with ``filters`` (``Protector.load``) or loading on first use.
        judge: the held-out classifier for the report's judge labels and CIEDE2000 (both
            skipped when None: they cost a second model).
        on_done: called after each photo, e.g. to advance a progress bar or write a report.
        faces: whose faces the face filters change (``WHOSE_FACES``).

    Raises:
        ProtectionError: an unknown filter, strength, profile or faces (before any photo is
            touched).
    """
    check_options(filters, strength, profile, faces)
    reports = []
    for job in jobs:
        try:
            report = _protect_one(protector, job, filters, strength, profile, seed, judge, faces)
        except (ProtectionError, OSError) as error:
            report = PhotoReport(str(job.source), error=str(error) or type(error).__name__)
        reports.append(report)
        if on_done is not None:
            on_done(report)
    return reports


def check_options(
    filters: Sequence[str], strength: str, profile: str, faces: str = DEFAULT_FACES
) -> None:
    """Fail on an unknown filter, strength, profile or faces before loading models or reading
    photos.

    Raises:
        ProtectionError: naming the known values.
    """
    if not filters:
        raise ProtectionError(f"no filter given; known: {', '.join(FILTERS)}")
    unknown = [name for name in filters if name not in FILTERS]
    if unknown:
        raise ProtectionError(
            f"unknown filter {', '.join(map(repr, unknown))}; known: {', '.join(FILTERS)}"
        )
    FilterSettings(strength, faces=faces)
    get_profile(profile)


def write_report(report: PhotoReport, path: Path) -> None:
    """One photo's report as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
