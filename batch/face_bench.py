"""The face benchmark behind ``veil bench --faces``: does a protected face still match its person?

The data is a folder per person (their photos) and ``groups/`` (photos of several of them).
Each photo is protected, and the original and the protected file both go through the
platform (``simulate_upload``). The held-out recogniser (:class:`~batch.face_judge.FaceJudge`,
dlib, never used to make a cloak) then compares each face with the same person's other,
unprotected photos: a pair under dlib's 0.6 is a match. A face in a group photo is the
person whose photos its original is closest to. Also measured: whether dlib and YuNet still
find the face (a cloak must not work by hiding it), how visible the change is on the face's
region and on the whole photo, and the time per photo and per face.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from batch.face_judge import MATCH, FaceJudge
from batch.machine import environment
from batch.upload import simulate_upload
from filters.shared.faces import find_faces
from filters.shared.platforms import get_profile
from filters.shared.ssimulacra2 import ssimulacra2
from filters.shared.visibility import Visibility, butteraugli

if TYPE_CHECKING:
    from filters.pipeline import Protector

__all__ = ["FaceResult", "face_summary", "load_people", "run_face_bench"]

GROUPS = "groups"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
# The face's region for visibility: its box grown by this share each side.
MARGIN = 0.3


@dataclass
class FaceResult:
    """One protected photo under one configuration."""

    photo: str
    filter: str
    strength: str
    profile: str
    seconds: float = 0.0
    faces_found: int = 0
    ssimulacra2: float | None = None
    butteraugli: float | None = None
    platform_ssimulacra2: float | None = None
    platform_butteraugli: float | None = None
    # Per face with a known person: person, distances before/after, found after, visibility.
    faces: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def load_people(data: Path) -> dict[str, list[Path]]:
    """Each person's photos, and the group photos under :data:`GROUPS`."""
    people = {
        folder.name: sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
        for folder in sorted(data.iterdir())
        if folder.is_dir()
    }
    if not any(name != GROUPS for name in people):
        raise ValueError(f"{data} has no folder of a person's photos")
    return people


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _region(box: Sequence[float], shape: tuple[int, ...]) -> tuple[slice, slice]:
    x, y, w, h = box
    grow_x, grow_y = MARGIN * w, MARGIN * h
    top, left = int(max(0, y - grow_y)), int(max(0, x - grow_x))
    return slice(top, int(min(shape[0], y + h + grow_y))), slice(
        left, int(min(shape[1], x + w + grow_x))
    )


def _overlaps(box: Sequence[float], others: Sequence[Sequence[float]]) -> bool:
    x, y, w, h = box
    for left, top, width, height in others:
        across = max(0.0, min(x + w, left + width) - max(x, left))
        down = max(0.0, min(y + h, top + height) - max(y, top))
        if across * down > 0.3 * w * h:
            return True
    return False


class _Gallery:
    """Each person's unprotected photos as the recogniser's references."""

    def __init__(self, judge: FaceJudge, people: dict[str, list[Path]]) -> None:
        self.references = {
            (name, path): judge.reference(_pixels(path))
            for name, paths in people.items()
            if name != GROUPS
            for path in paths
        }

    def person_of(self, descriptor: np.ndarray | None) -> str | None:
        """The person whose photos lie closest to ``descriptor``, if any is a match."""
        if descriptor is None:
            return None
        distances = {
            name: float(np.linalg.norm(reference - descriptor))
            for (name, _), reference in self.references.items()
            if reference is not None
        }
        name = min(distances, key=distances.get, default=None)
        return name if name is not None and distances[name] < MATCH else None

    def distances(
        self, person: str, descriptor: np.ndarray | None, skip: Path
    ) -> list[float | None]:
        """To each of the person's other photos (None for all when no face was found)."""
        return [
            None if descriptor is None else round(float(np.linalg.norm(reference - descriptor)), 3)
            for (name, path), reference in self.references.items()
            if name == person and path != skip and reference is not None
        ]


def _measure(
    protector: Protector,
    judge: FaceJudge,
    gallery: _Gallery,
    person: str,
    path: Path,
    key: tuple[str, str, str],
) -> FaceResult:
    name, strength, profile = key
    result = FaceResult(f"{person}/{path.name}", name, strength, profile)
    data = path.read_bytes()
    protected = protector.protect(data, [name], strength, profile=profile)
    result.seconds = round(protected.elapsed_ms / 1000, 3)
    before, after = protected.original.pixels, protected.sent.pixels
    platform = get_profile(profile)
    shown = Visibility.measure(before, after, platform.quality or 85)
    result.ssimulacra2, result.butteraugli = shown.ssimulacra2, shown.butteraugli
    result.platform_ssimulacra2 = shown.platform_ssimulacra2
    result.platform_butteraugli = shown.platform_butteraugli
    uploaded_before, uploaded_after = (
        simulate_upload(before, profile),
        simulate_upload(after, profile),
    )
    scale = uploaded_after.shape[1] / after.shape[1]
    faces = find_faces(before)
    result.faces_found = len(faces)
    still_found = [face.box for face in find_faces(uploaded_after)]
    # dlib's faces of each upload, found once for all the photo's faces.
    judged_before, judged_after = judge.faces(uploaded_before), judge.faces(uploaded_after)
    for face in faces:
        box = [value * scale for value in face.box]
        own = judge.descriptor_at(judged_before, box)
        who = person if person != GROUPS and face is max(faces, key=lambda f: f.area) else None
        who = who or (gallery.person_of(own) if person == GROUPS else None)
        if who is None:
            continue
        now = judge.descriptor_at(judged_after, box)
        region = _region(face.box, before.shape)
        result.faces.append(
            {
                "person": who,
                "before": gallery.distances(who, own, path),
                "after": gallery.distances(who, now, path),
                "dlib_found": now is not None,
                "yunet_found": _overlaps(box, still_found),
                "ssimulacra2": round(ssimulacra2(before[region], after[region]), 2),
                "butteraugli": butteraugli(before[region], after[region]),
            }
        )
    return result


def run_face_bench(
    protector: Protector,
    judge: FaceJudge,
    data: Path,
    filters: Sequence[str],
    strengths: Sequence[str],
    profiles: Sequence[str],
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every photo of ``data`` under every filter, strength and profile; rows and summary."""
    people = load_people(data)
    protector.load(list(filters))
    gallery = _Gallery(judge, people)
    rows = []
    for key in itertools.product(filters, strengths, profiles):
        for person, paths in people.items():
            for path in paths:
                try:
                    rows.append(_measure(protector, judge, gallery, person, path, key))
                except Exception as error:  # one bad photo must not end the run
                    rows.append(FaceResult(f"{person}/{path.name}", *key, error=repr(error)))
                if progress is not None:
                    progress(f"{'/'.join(key)} {person}/{path.name}")
    return {
        "environment": environment(),
        "summary": face_summary(rows),
        "photos": [asdict(row) for row in rows],
    }


def _median(values: Sequence[float | None]) -> float | None:
    kept = [value for value in values if value is not None]
    return round(float(np.median(kept)), 2) if kept else None


def _share(flags: Sequence[bool]) -> float | None:
    return round(float(np.mean(flags)), 3) if flags else None


def face_summary(rows: Sequence[FaceResult]) -> list[dict[str, Any]]:
    """One line per filter, strength and profile."""
    lines = []
    keys = dict.fromkeys((row.filter, row.strength, row.profile) for row in rows)
    for key in keys:
        part = [row for row in rows if (row.filter, row.strength, row.profile) == key]
        faces = [face for row in part for face in row.faces]
        before = [d for face in faces for d in face["before"] if d is not None]
        after = [d for face in faces for d in face["after"]]
        lines.append(
            {
                "filter": key[0],
                "strength": key[1],
                "profile": key[2],
                "photos": len(part),
                "failed": sum(row.error is not None for row in part),
                "faces": len(faces),
                "match_before": _share([d < MATCH for d in before]),
                "match_after": _share([d is not None and d < MATCH for d in after]),
                "distance_before": _median(before),
                "distance_after": _median([d for d in after if d is not None]),
                "dlib_found": _share([f["dlib_found"] for f in faces]),
                "yunet_found": _share([f["yunet_found"] for f in faces]),
                "face_ssimulacra2_min": min((f["ssimulacra2"] for f in faces), default=None),
                "face_ssimulacra2": _median([f["ssimulacra2"] for f in faces]),
                "face_butteraugli": _median([f["butteraugli"] for f in faces]),
                "ssimulacra2": _median([row.ssimulacra2 for row in part]),
                "ssimulacra2_min": min(
                    (row.ssimulacra2 for row in part if row.ssimulacra2 is not None), default=None
                ),
                "butteraugli": _median([row.butteraugli for row in part]),
                "platform_ssimulacra2": _median([row.platform_ssimulacra2 for row in part]),
                "platform_butteraugli": _median([row.platform_butteraugli for row in part]),
                "seconds": _median([row.seconds for row in part if row.error is None]),
                "seconds_per_face": _median(
                    [
                        row.seconds / row.faces_found
                        for row in part
                        if row.error is None and row.faces_found
                    ]
                ),
            }
        )
    return lines
