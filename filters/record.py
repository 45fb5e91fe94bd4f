"""What protecting one image gives: the file to send (:class:`Protected`) and the record of
what was done to it (:class:`ProtectionRecord`).

The record is written once, here. The audit's SQL columns and its OpenAPI schema (proxy) and
the batch reports (batch) are derived from its fields with :func:`fields_of`, so a new
measurement is one new field of this class.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from filters.codecs.photo import Photo

__all__ = ["FieldKind", "Protected", "ProtectionRecord", "RecordField", "fields_of"]

# How a field is stored and shown: a number, a text, a list of texts, or image bytes.
FieldKind = Literal["boolean", "integer", "number", "string", "strings", "thumbnail"]
_KINDS: dict[object, FieldKind] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list[str]: "strings",
    tuple[str, ...]: "strings",
    bytes: "thumbnail",
}


def _doc(text: str, **extra: str) -> dict[str, str]:
    return {"doc": text, **extra}


@dataclass(frozen=True)
class ProtectionRecord:
    """What protecting one image did, as the audit, the control API and reports show it.

    Labels are the surrogate's top-1 on the input and on the file as sent; ``ssim`` and
    ``psnr`` compare the input's pixels with the sent file's (None when undefined: tiny or
    unchanged). Fields of type ``bytes`` are thumbnails, kept apart from the other values.
    """

    sha256_before: str = field(metadata=_doc("SHA-256 of the image as uploaded."))
    sha256_after: str = field(metadata=_doc("SHA-256 of the image as sent."))
    size_before: int = field(metadata=_doc("Bytes as uploaded."))
    size_after: int = field(metadata=_doc("Bytes as sent."))
    width: int = field(metadata=_doc("Pixels across; kept by every filter."))
    height: int = field(metadata=_doc("Pixels down; kept by every filter."))
    metadata_removed: list[str] = field(metadata=_doc("Metadata fields removed."))
    label_before: str | None = field(
        metadata=_doc(
            "The surrogate classifier's top-1, as uploaded; none when no filter aims at it."
        )
    )
    confidence_before: float | None = field(metadata=_doc("Its probability."))
    label_after: str | None = field(
        metadata=_doc("The surrogate classifier's top-1, as sent; none when no filter aims at it.")
    )
    confidence_after: float | None = field(metadata=_doc("Its probability."))
    ssim: float | None = field(metadata=_doc("SSIM of the sent pixels against the uploaded."))
    psnr: float | None = field(metadata=_doc("PSNR in dB; none when the pixels are equal."))
    ciede2000: float | None = field(
        metadata=_doc(
            "Mean CIEDE2000 colour difference, as a screen shows the photo; none for an "
            "activity file (it has no pixels)."
        )
    )
    ssimulacra2: float | None = field(
        metadata=_doc(
            "SSIMULACRA2 on screen: 100 identical, 90 visually lossless, 70 high; none for an "
            "activity file."
        )
    )
    butteraugli: float | None = field(
        metadata=_doc("Butteraugli max-norm on screen: below 1 looks the same; none untested.")
    )
    platform_ssimulacra2: float | None = field(
        metadata=_doc(
            "The yardstick: SSIMULACRA2 of the platform's own JPEG of the upload; none for an "
            "activity file."
        )
    )
    platform_butteraugli: float | None = field(
        metadata=_doc("The yardstick: Butteraugli of the platform's own JPEG of the upload.")
    )
    visibility: str = field(metadata=_doc("How visible the change is, in words."))
    elapsed_ms: float = field(metadata=_doc("Time to protect the image."))
    thumb_before: bytes = field(
        default=b"", repr=False, metadata=_doc("JPEG thumbnail, as uploaded.")
    )
    thumb_after: bytes = field(default=b"", repr=False, metadata=_doc("JPEG thumbnail, as sent."))

    def values(self) -> dict[str, Any]:
        """Every field but the thumbnails; JSON-serialisable."""
        return {
            item.name: getattr(self, item.name)
            for item in fields_of(ProtectionRecord)
            if item.kind != "thumbnail"
        }


@dataclass(frozen=True)
class RecordField:
    """One field of a flat dataclass as stores and schemas see it.

    ``nullable``: the annotation admits None. ``doc``: the field's ``metadata["doc"]``.
    """

    name: str
    kind: FieldKind
    nullable: bool
    doc: str = ""


@functools.cache
def fields_of(cls: type) -> tuple[RecordField, ...]:
    """The fields of a flat dataclass whose values are plain: see :data:`FieldKind`.

    Raises:
        TypeError: a field of another type (nested records are not flat).

    >>> [(f.name, f.kind, f.nullable) for f in fields_of(ProtectionRecord)][11]
    ('ssim', 'number', True)
    """
    hints = typing.get_type_hints(cls)
    described = []
    for item in dataclasses.fields(cls):
        annotation, nullable = hints[item.name], False
        if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            nullable = len(members) < len(typing.get_args(annotation))
            annotation = members[0] if len(members) == 1 else annotation
        if annotation not in _KINDS:
            raise TypeError(f"{cls.__name__}.{item.name}: {annotation} is not a plain value")
        doc = item.metadata.get("doc", "")
        described.append(RecordField(item.name, _KINDS[annotation], nullable, doc))
    return tuple(described)


@dataclass(frozen=True, eq=False)
class Protected:
    """The protected file, the filters' reports, and what measuring it needs.

    Attributes:
        source: the file as uploaded.
        data: the file to send: same format and dimensions, new pixels and metadata.
        original: ``source`` decoded.
        sent: what a reader decodes from ``data`` (the filters' own check often has it).
        filters: the filters that ran, in order.
        report: each filter's report, by name.
        profile: the platform whose recompression it was made to survive.
        elapsed_ms: how long protecting took.
    """

    source: bytes = field(repr=False)
    data: bytes = field(repr=False)
    original: Photo = field(repr=False)
    sent: Photo = field(repr=False)
    filters: tuple[str, ...]
    report: dict[str, Any]
    profile: str
    elapsed_ms: float

    @property
    def format(self) -> str:
        return self.original.format

    @property
    def metadata_removed(self) -> list[str]:
        """The names of the metadata fields the filters removed, in order."""
        return [name for step in self.report.values() for name in step.get("removed", ())]
