"""What Veil does unless told otherwise: the filters, strength and platform profile of a new
site policy and of ``veil protect``. Plain names, so reading them loads nothing."""

__all__ = ["DEFAULT_FILTERS", "DEFAULT_PROFILE", "DEFAULT_STRENGTH"]

DEFAULT_FILTERS: tuple[str, ...] = ("metadata", "pfgsm")
DEFAULT_STRENGTH = "invisible"
DEFAULT_PROFILE = "facebook"
