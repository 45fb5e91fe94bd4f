"""What ``certs`` raises: each message is one line that says what went wrong and what to do."""

from __future__ import annotations

__all__ = ["CaError", "TrustError"]


class CaError(ValueError):
    """An existing CA file that cannot be used."""


class TrustError(RuntimeError):
    """certutil (or update-ca-certificates) is missing or failed."""
