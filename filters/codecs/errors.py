"""The one error the filters raise: a readable ``ValueError`` the proxy can show as is."""

__all__ = ["ProtectionError", "UnsupportedImageError"]


class ProtectionError(ValueError):
    """A photo could not be protected: bad bytes, unknown filter or settings, a failed filter."""


class UnsupportedImageError(ProtectionError):
    """A well-formed image Veil cannot protect yet (format, mode or animation)."""
