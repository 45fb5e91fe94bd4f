"""The errors of the whole ``filters`` package: readable ``ValueError``s the proxy can show as
they are. Defined in its lowest layer, the codecs, so that every layer can raise them."""

__all__ = ["ProtectionError", "UnsupportedImageError"]


class ProtectionError(ValueError):
    """A photo could not be protected: bad bytes, unknown filter or settings, a failed filter."""


class UnsupportedImageError(ProtectionError):
    """A well-formed image Veil cannot protect yet (format, mode or animation)."""
