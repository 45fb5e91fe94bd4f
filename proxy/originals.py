"""Kept originals: when the user turns ``keep_originals`` on, the photo or activity file (GPX,
TCX, FIT, a CSV or JSON sensor upload) as it was before Veil changed it, encrypted on disk and
deleted after the retention limit.

Off by default: an original holds what Veil removed (GPS, the face before its cloak). Each file
is AES-256-GCM under one key (``originals.key``, 0600). The file's name (the original's
SHA-256) and the time it was kept are authenticated with it, so a renamed or back-dated file
fails to open rather than pass for another original or outlive its limit. Deleting the key
destroys every kept original at once (``veil originals forget``). Pure: no mitmproxy or torch.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from activities.formats import GZIP_MAGIC, sniff_activity
from filters.codecs.formats import sniff_format

__all__ = [
    "GZIP_MEDIA_TYPE",
    "MEDIA_TYPES",
    "SENSOR_FORMATS",
    "UNKNOWN",
    "KeptOriginal",
    "OriginalsError",
    "OriginalsVault",
    "original_kind",
    "served_as",
]

MAGIC = b"VEIL-ORIGINAL-1\n"
_KEPT_AT = struct.Struct(">d")  # seconds since the epoch, when the original was kept
NONCE_BYTES = 12
KEY_BYTES = 32
FILE_MODE, DIR_MODE = 0o600, 0o700
SUFFIX = ".veil-original"
_SHA256 = re.compile(r"[0-9a-f]{64}")
SECONDS_PER_DAY = 86_400.0
# What a kept original is served as, by its format (filters.codecs.formats for photos,
# activities.formats for GPX, TCX and FIT): (media type, file name suffix).
_SERVED_AS = {
    "JPEG": ("image/jpeg", "jpeg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
    "HEIF": ("image/heic", "heic"),
    "AVIF": ("image/avif", "avif"),
    "GPX": ("application/gpx+xml", "gpx"),
    "TCX": ("application/vnd.garmin.tcx+xml", "tcx"),
    "FIT": ("application/vnd.ant.fit", "fit"),
    "CSV": ("text/csv", "csv"),
    "JSON": ("application/json", "json"),
}
MEDIA_TYPES = {kind: media_type for kind, (media_type, _) in _SERVED_AS.items()}
# Accelerometer uploads: their bytes say what they are only once parsed, so the audit row does.
SENSOR_FORMATS = frozenset({"CSV", "JSON"})
GZIP_MEDIA_TYPE = "application/gzip"
UNKNOWN = ("application/octet-stream", "bin")


def served_as(kind: str | None, gzipped: bool = False) -> tuple[str, str]:
    """The media type and file name suffix a kept original of format ``kind`` is given back
    with; ``gzipped`` (a ``.gpx.gz``): as the gzip file that was sent, byte for byte.

    >>> served_as("GPX", gzipped=True)
    ('application/gzip', 'gpx.gz')
    """
    media_type, suffix = _SERVED_AS.get(kind or "", UNKNOWN)
    if gzipped:
        return GZIP_MEDIA_TYPE, f"{suffix}.gz"
    return media_type, suffix


def original_kind(data: bytes, recorded: str | None) -> tuple[str | None, bool]:
    """A kept original's format, and whether it is gzipped: by its bytes, as photos and
    activity files are found; a sensor upload's (CSV, JSON) by ``recorded``, its audit row's,
    since its bytes say so only once parsed."""
    photo = sniff_format(data)
    if photo is not None:
        return photo, False
    activity = sniff_activity(data)
    if activity is not None:
        return activity
    if recorded in SENSOR_FORMATS:
        return recorded, data.startswith(GZIP_MAGIC)  # a .csv.gz is given back as sent
    return None, False


class OriginalsError(ValueError):
    """A kept original cannot be given back: absent, past its retention limit, or altered."""


@dataclass(frozen=True)
class KeptOriginal:
    sha256: str
    kept_at: float  # seconds since the epoch
    size: int  # bytes on disk, encrypted


class OriginalsVault:
    """The encrypted originals under ``folder``, each kept ``retention_days`` at most."""

    def __init__(self, folder: Path, key_path: Path, retention_days: float) -> None:
        if retention_days <= 0:
            raise ValueError("the retention limit must be a positive number of days")
        self.folder = folder
        self.key_path = key_path
        self.retention_s = retention_days * SECONDS_PER_DAY

    def keep(self, data: bytes, now: float | None = None) -> str:
        """Encrypt and store ``data``; returns its SHA-256, the name it is read back by.

        The same file kept twice is one file, with the later time.
        """
        sha256 = hashlib.sha256(data).hexdigest()
        kept_at = _KEPT_AT.pack(time.time() if now is None else now)
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._key(create=True)).encrypt(nonce, data, _aad(sha256, kept_at))
        self.folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        path = self._path(sha256)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(MAGIC + kept_at + nonce + sealed)
        os.replace(partial, path)  # whole or absent, never half a file
        return sha256

    def read(self, sha256: str, now: float | None = None) -> bytes:
        """The original whose SHA-256 is ``sha256``.

        Raises:
            OriginalsError: not kept, past the retention limit, or altered on disk.
        """
        path = self._path(sha256)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise OriginalsError(f"no original {sha256[:12]}… is kept") from None
        kept_at, nonce, sealed = _split(blob, path)
        if self._expired(_KEPT_AT.unpack(kept_at)[0], now):
            raise OriginalsError(f"the original {sha256[:12]}… is past its retention limit")
        if not self.key_path.exists():
            raise OriginalsError(f"the key {self.key_path} is gone: no original can be opened")
        try:
            data = AESGCM(self._key()).decrypt(nonce, sealed, _aad(sha256, kept_at))
        except InvalidTag:
            raise OriginalsError(f"{path} was altered, or sealed by another key") from None
        return data

    def kept(self) -> list[KeptOriginal]:
        """Every original on disk, oldest first (past their limit too, until purged)."""
        found = []
        for path in self._files():
            try:
                kept_at, _, _ = _split(path.read_bytes(), path)
            except (OSError, OriginalsError):
                continue
            sha256 = path.name.removesuffix(SUFFIX)
            found.append(KeptOriginal(sha256, _KEPT_AT.unpack(kept_at)[0], path.stat().st_size))
        return sorted(found, key=lambda original: original.kept_at)

    def purge(self, now: float | None = None) -> int:
        """Delete the originals past the retention limit, and any file that is not one
        (nothing unreadable lingers); returns how many went."""
        removed = 0
        for path in self._files():
            try:
                kept_at, _, _ = _split(path.read_bytes(), path)
                stale = self._expired(_KEPT_AT.unpack(kept_at)[0], now)
            except OriginalsError:
                stale = True
            if stale:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def forget(self) -> int:
        """Delete every kept original and the key: nothing kept can be opened again."""
        removed = 0
        for path in self._files():
            path.unlink(missing_ok=True)
            removed += 1
        self.key_path.unlink(missing_ok=True)
        return removed

    def _expired(self, kept_at: float, now: float | None) -> bool:
        return (time.time() if now is None else now) - kept_at > self.retention_s

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return [path for path in self.folder.iterdir() if path.name.endswith(SUFFIX)]

    def _path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise OriginalsError(f"{sha256!r} is not a SHA-256 in hex")
        return self.folder / f"{sha256}{SUFFIX}"

    def _key(self, create: bool = False) -> bytes:
        try:
            key = self.key_path.read_bytes()
        except FileNotFoundError:
            if not create:
                raise
            return self._new_key()
        if len(key) != KEY_BYTES:
            raise OriginalsError(f"{self.key_path} is not a {KEY_BYTES}-byte key")
        return key

    def _new_key(self) -> bytes:
        key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        self.key_path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        try:  # O_EXCL: two writers never end with originals sealed by a key that was replaced
            fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            return self._key()
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        return key


def _aad(sha256: str, kept_at: bytes) -> bytes:
    return MAGIC + sha256.encode() + kept_at


def _split(blob: bytes, path: Path) -> tuple[bytes, bytes, bytes]:
    """A file's (kept_at, nonce, ciphertext)."""
    head = len(MAGIC) + _KEPT_AT.size + NONCE_BYTES
    if not blob.startswith(MAGIC) or len(blob) < head + 16:  # 16: the GCM tag
        raise OriginalsError(f"{path} is not a kept original")
    kept_at = blob[len(MAGIC) : len(MAGIC) + _KEPT_AT.size]
    return kept_at, blob[head - NONCE_BYTES : head], blob[head:]
