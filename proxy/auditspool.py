"""The audit's spool: rows waiting for the database, one JSON line each, beside it.

Each line is fsync'd before the caller goes on (the file is 0600), and carries a sequence
number the database records with the row once it is written, so that a line written just
before a crash is not written twice after it. One process owns the spool (an flock on its
lock file): only the owner appends and drains, since a drain removes the file once all is in.
Not thread-safe: ``proxy.auditwriter.AuditWriter`` calls it under its lock.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
from pathlib import Path
from typing import NamedTuple

__all__ = ["Spool", "SpoolLine", "spool_path"]

log = logging.getLogger(__name__)


class SpoolLine(NamedTuple):
    """One waiting row: its sequence number, column values and thumbnails by kind."""

    seq: int
    values: dict[str, object]
    thumbnails: dict[str, bytes]


def spool_path(db_path: Path) -> Path:
    """The spool beside the database: veil.db -> veil.db.audit-spool.jsonl."""
    return db_path.with_name(db_path.name + ".audit-spool.jsonl")


def _fsync_dir(path: Path) -> None:
    directory = os.open(path, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0  # bytes already written to the database
        self.pending = 0  # lines not yet written
        self.seq = 0  # the last sequence number given
        self._lock_fd: int | None = None

    @property
    def owned(self) -> bool:
        return self._lock_fd is not None

    def own(self) -> bool:
        """Whether this process owns the spool, taking it if no other process does."""
        if self._lock_fd is None:
            lock = self.path.with_name(self.path.name + ".lock")
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            self._lock_fd = fd
        return True

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # the flock goes with it
            self._lock_fd = None

    def recover(self, last_seq: int) -> int:
        """Count what a crash left (the owner calls it once, on taking the spool); returns
        the lines waiting. ``last_seq``: the last line the database holds."""
        self.seq = last_seq
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return 0
        if data and not data.endswith(b"\n"):  # cut off mid-line: the next line starts anew
            self._write(b"\n")
        for line in data.splitlines():
            self.pending += 1
            try:
                self.seq = max(self.seq, int(json.loads(line)["seq"]))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by the crash; the drain skips it
        return self.pending

    def append(self, values: dict[str, object], thumbnails: dict[str, bytes]) -> None:
        self.seq += 1
        thumbs = {kind: base64.b64encode(data).decode() for kind, data in thumbnails.items()}
        line = json.dumps({"seq": self.seq, "row": values, "thumbnails": thumbs}) + "\n"
        self._write(line.encode())
        self.pending += 1

    def _write(self, data: bytes) -> None:
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)  # on disk before the caller goes on
        finally:
            os.close(fd)
        if created:  # the file's name, too, must survive a power cut
            _fsync_dir(self.path.parent)

    def read(self, limit: int) -> tuple[list[SpoolLine | None], int]:
        """Up to ``limit`` whole lines after the offset (None for an unreadable one), and the
        offset after them."""
        raw: list[bytes] = []
        offset = self.offset
        try:
            with open(self.path, "rb") as spool:
                spool.seek(self.offset)
                while len(raw) < limit and (line := spool.readline()).endswith(b"\n"):
                    raw.append(line)
                offset = spool.tell() if raw else self.offset
        except FileNotFoundError:
            pass
        if not raw and self.pending:  # removed or cut by someone else: nothing left to read
            log.warning("%d spooled audit rows vanished from %s", self.pending, self.path)
            self.pending = 0
        return [self._decode(line) for line in raw], offset

    def _decode(self, line: bytes) -> SpoolLine | None:
        try:
            item = json.loads(line)
            thumbnails = {k: base64.b64decode(v) for k, v in item["thumbnails"].items()}
            return SpoolLine(int(item["seq"]), dict(item["row"]), thumbnails)
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("skipping an unreadable line of %s: %.80r", self.path, line)
            return None

    def consumed(self, count: int, offset: int) -> None:
        """``count`` lines up to ``offset`` are in the database."""
        self.offset, self.pending = offset, self.pending - count
        if not self.pending:  # all in: the next rows start a new file
            self.path.unlink(missing_ok=True)
            self.offset = 0
