"""How the CA's files are written: atomically, the secret ones readable by their owner only,
and one process at a time (``veil run`` and ``veil certs`` may both reach for the CA)."""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "PUBLIC_FILE_MODE",
    "SECRET_DIR_MODE",
    "SECRET_FILE_MODE",
    "locked",
    "secret_umask",
    "write_exclusive",
    "write_public",
    "write_secret",
]

SECRET_DIR_MODE, SECRET_FILE_MODE, PUBLIC_FILE_MODE = 0o700, 0o600, 0o644
_LOCK_NAME = ".lock"

# The umask is per process: the lock keeps two threads from restoring each other's value.
_UMASK_LOCK = threading.Lock()


@contextlib.contextmanager
def secret_umask() -> Iterator[None]:
    """Files and folders made inside are readable by their owner only.

    The writes below also pass explicit modes; the umask covers what they do not (parents).
    """
    with _UMASK_LOCK:
        original = os.umask(0o077)
        os.umask(original | 0o077)
        try:
            yield
        finally:
            os.umask(original)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock file: one process at a time checks and replaces the CA.

    Where ``fcntl`` is missing (Windows) the writes below are still atomic, just unserialised.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(folder / _LOCK_NAME, os.O_RDWR | os.O_CREAT, SECRET_FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _temporary(path: Path, data: bytes, mode: int) -> Path:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return temporary


def write_exclusive(path: Path, data: bytes, mode: int = SECRET_FILE_MODE) -> bool:
    """Write a file that must not exist yet, atomically; False if it already exists."""
    temporary = _temporary(path, data, mode)
    try:
        os.link(temporary, path)  # fails if another process created it first
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)
    return True


def write_secret(path: Path, data: bytes) -> None:
    """(Re)write an owner-only file atomically: readers see the old or the new, never half."""
    temporary = _temporary(path, data, SECRET_FILE_MODE)
    os.chmod(temporary, SECRET_FILE_MODE)
    os.replace(temporary, path)


def write_public(path: Path, data: bytes) -> None:
    """(Re)write a public file when its contents differ, atomically."""
    if path.exists() and path.read_bytes() == data:
        return
    temporary = _temporary(path, data, PUBLIC_FILE_MODE)
    os.chmod(temporary, PUBLIC_FILE_MODE)  # whatever the umask: the certificate is public
    os.replace(temporary, path)
