"""What Veil does unless told otherwise: the filters, strength, platform profile and whose
faces of a new site policy and of ``veil protect``. Plain names, so reading them loads
nothing (the default strength is the strengths table's)."""

from filters.shared.strengths import DEFAULT_STRENGTH
from filters.shared.whose import DEFAULT_FACES, WHOSE_FACES

__all__ = ["DEFAULT_FACES", "DEFAULT_FILTERS", "DEFAULT_PROFILE", "DEFAULT_STRENGTH", "WHOSE_FACES"]

DEFAULT_FILTERS: tuple[str, ...] = ("metadata", "pfgsm")
DEFAULT_PROFILE = "facebook"
