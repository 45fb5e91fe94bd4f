"""The system trust stores: Debian's (a file in ``/usr/local/share/ca-certificates`` and
``update-ca-certificates``, run for root and printed with ``sudo`` for everyone else), and
the exact commands for macOS and Windows, which Veil prints rather than runs.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from certs.errors import run_tool
from certs.history import VeilCa

__all__ = ["DEBIAN_DIR", "DebianStore", "macos_commands", "windows_commands"]

DEBIAN_DIR = Path("/usr/local/share/ca-certificates")
# update-ca-certificates reads every PEM file in the folder; a few seconds on a slow disk.
UPDATE_TIMEOUT_S = 120


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass(frozen=True)
class DebianStore:
    """Debian's and Ubuntu's system store; ``veil-<id>.crt`` files are Veil's."""

    directory: Path = DEBIAN_DIR
    update: tuple[str, ...] = ("update-ca-certificates",)
    is_root: bool = field(default_factory=_is_root)

    @property
    def label(self) -> str:
        return f"system store {self.directory}"

    def available(self) -> bool:
        """Whether this system has the store (Debian, Ubuntu and their kin)."""
        return self.directory.parent.is_dir() and shutil.which(self.update[0]) is not None

    def path_for(self, ca: VeilCa) -> Path:
        return self.directory / f"veil-{ca.ident}.crt"

    def holds(self, ca: VeilCa) -> bool:
        try:
            return x509.load_pem_x509_certificates(self.path_for(ca).read_bytes())[0] == ca.cert
        except (OSError, ValueError, IndexError):
            return False

    def plan(self, add: Sequence[tuple[Path, Path]], remove: Sequence[Path]) -> list[list[str]]:
        """The commands that copy ``add`` (source, target) in, delete ``remove``, update."""
        if not add and not remove:
            return []
        commands = [["install", "-D", "-m", "0644", str(src), str(dst)] for src, dst in add]
        commands += [["rm", "-f", str(path)] for path in remove]
        return [*commands, list(self.update)]

    def apply(self, commands: list[list[str]]) -> list[str]:
        """Run ``commands`` as root, else return them as lines to run with ``sudo``.

        Raises:
            TrustError: a command failed.
        """
        if not self.is_root:
            return [f"sudo {shlex.join(command)}" for command in commands]
        for command in commands:
            run_tool(command, UPDATE_TIMEOUT_S)
        return []


def macos_commands(current: VeilCa | None, remove: Sequence[VeilCa]) -> list[str]:
    """Trust ``current`` in the System keychain; take ``remove`` out of it."""
    keychain = "/Library/Keychains/System.keychain"
    lines = []
    for ca in remove:
        lines.append(f"sudo security remove-trusted-cert -d {shlex.quote(str(ca.path))}")
        lines.append(f"sudo security delete-certificate -Z {ca.sha1} {keychain}")
    if current is not None:
        pem = shlex.quote(str(current.path))
        lines.append(f"sudo security add-trusted-cert -d -r trustRoot -k {keychain} {pem}")
    return lines


def windows_commands(current_der: Path | None, remove: Sequence[VeilCa]) -> list[str]:
    """Trust ``current_der`` in the user's Root store; take ``remove`` out of it."""
    lines = [f"certutil -delstore -user Root {ca.sha1}" for ca in remove]
    if current_der is not None:
        lines.append(f'certutil -addstore -user Root "{current_der}"')
    return lines
