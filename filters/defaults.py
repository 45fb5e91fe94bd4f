"""What Veil does unless told otherwise: the filters, strength and platform profile of a new
site policy and of ``veil protect``. Plain names, so reading them loads nothing (the default
strength is the strengths table's)."""

from filters.shared.strengths import DEFAULT_STRENGTH

__all__ = ["DEFAULT_FILTERS", "DEFAULT_PROFILE", "DEFAULT_STRENGTH"]

DEFAULT_FILTERS: tuple[str, ...] = ("metadata", "pfgsm")
DEFAULT_PROFILE = "facebook"
