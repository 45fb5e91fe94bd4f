"""Veil's home folder as `veil run` holds it: one process per home, private to its owner.

Two `veil run` on one home would share the policies but not the proxy's view of them: a site
added through the second's API looked protected while the first tunnelled it. A lock file
keeps the second out. The home holds the CA key, the token and the audit with thumbnails of
the originals, so every file in it is made 0600 and every folder 0700, whatever a
previous version or the user's umask left.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from certs.ca import PUBLIC_CERT_NAMES

__all__ = [
    "HomeInUse",
    "HomeLock",
    "HomeNotWritable",
    "PortInUse",
    "check_ports_free",
    "make_private",
]

LOCK_FILE = "veil.lock"
PRIVATE_FILE_MODE, PRIVATE_DIR_MODE = 0o600, 0o700


class HomeInUse(OSError):
    """Another `veil run` holds this home."""


class HomeNotWritable(OSError):
    """Veil cannot write its own home (another owner, a read-only disk)."""

    def __init__(self, home: Path, error: OSError) -> None:
        where = (
            f" ({error.filename})" if error.filename and str(error.filename) != str(home) else ""
        )
        super().__init__(
            f"cannot use {home} as Veil's home: {error.strerror or error}{where}; "
            "fix its owner and mode, or choose another home with --home or $VEIL_HOME"
        )


class PortInUse(OSError):
    """A port Veil needs is taken."""


class HomeLock:
    """An exclusive lock on ``<home>/veil.lock``, held for the life of the process.

    ``flock`` is released by the kernel when the process dies, so a crash (kill -9) leaves
    no stale lock behind; the file keeps the holder's pid for the message.
    """

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / LOCK_FILE
        self._handle: IO[str] | None = None

    def acquire(self) -> HomeLock:
        """Raises :class:`HomeInUse` when another process holds the home, and
        :class:`HomeNotWritable` when the lock file cannot be written."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        except (PermissionError, IsADirectoryError) as error:
            raise HomeNotWritable(self.path.parent, error) from None
        except OSError as error:
            if error.errno != errno.EROFS:
                raise
            raise HomeNotWritable(self.path.parent, error) from None
        handle = os.fdopen(fd, "r+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise HomeInUse(
                f"another `veil run` (pid {holder}) already uses the home {self.path.parent}; "
                "stop it first, or give this one another home with --home"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file releases the lock
            self._handle = None


def make_private(home: Path) -> list[Path]:
    """Make every file under ``home`` 0600 and every folder 0700 (the CA's public
    certificate copies stay readable); returns the paths whose mode was changed."""
    changed = []
    home = Path(home)
    for folder, dirnames, filenames in os.walk(home):
        for name in dirnames:
            path = Path(folder) / name
            if not path.is_symlink() and _set_mode(path, PRIVATE_DIR_MODE):
                changed.append(path)
        for name in filenames:
            path = Path(folder) / name
            if name in PUBLIC_CERT_NAMES or path.is_symlink():
                continue
            if _set_mode(path, PRIVATE_FILE_MODE):
                changed.append(path)
    if _set_mode(home, PRIVATE_DIR_MODE):
        changed.append(home)
    return changed


def _set_mode(path: Path, mode: int) -> bool:
    if path.stat().st_mode & 0o777 == mode:
        return False
    os.chmod(path, mode)
    return True


def check_ports_free(host: str, ports: dict[str, int]) -> None:
    """Raises :class:`PortInUse` naming the first of ``ports`` (what -> port) that is taken,
    before anything says Veil is running; ValueError when ``host`` is no address of this
    machine."""
    for what, port in ports.items():
        with socket.socket() as probe:
            # As the servers bind: a port left in TIME_WAIT by a Veil just stopped is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except socket.gaierror as error:
                raise ValueError(
                    f"listen_host {host!r} is not a known address ({error.strerror})"
                ) from None
            except OSError as error:
                if error.errno == errno.EADDRNOTAVAIL:
                    raise ValueError(
                        f"listen_host {host!r} is not an address of this machine; "
                        "use 127.0.0.1, or one of its own addresses"
                    ) from None
                raise PortInUse(
                    f"the {what} port {host}:{port} is in use ({error.strerror}): another Veil "
                    f"or another program holds it; choose another with --{what}-port"
                ) from None
