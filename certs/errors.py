"""What ``certs`` raises: each message is one line that says what went wrong and what to do;
and running a trust tool (certutil, update-ca-certificates) so that its failure is one."""

from __future__ import annotations

import shlex
import subprocess

__all__ = ["CaError", "TrustError", "run_tool"]


class CaError(ValueError):
    """An existing CA file that cannot be used."""


class TrustError(RuntimeError):
    """certutil (or update-ca-certificates) is missing or failed."""


def run_tool(command: list[str], timeout_s: float) -> str:
    """Run ``command``; its standard output.

    Raises:
        TrustError: it could not start, timed out, or exited non-zero (its message on one line).
    """
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise TrustError(f"could not run {shlex.join(command)}: {error}") from error
    if result.returncode != 0:
        detail = " ".join((result.stderr or result.stdout).split())
        raise TrustError(f"{shlex.join(command)} failed ({result.returncode}): {detail}")
    return result.stdout
