"""Every filter by name: the one list the proxy, the control API and the CLI all read."""

from __future__ import annotations

from filters.base import Filter
from filters.colorfool import ColorFoolFilter
from filters.colorfool_search import ColorFoolSearchFilter
from filters.edgefool import EdgeFoolFilter
from filters.faces_blur import FacesBlurFilter
from filters.faces_cloak import FacesCloakFilter
from filters.faces_pixelate import FacesPixelateFilter
from filters.metadata import MetadataFilter
from filters.pfgsm import PFGSMFilter

__all__ = ["FILTERS", "describe_filters"]

FILTERS: dict[str, type[Filter]] = {
    MetadataFilter.name: MetadataFilter,
    PFGSMFilter.name: PFGSMFilter,
    ColorFoolFilter.name: ColorFoolFilter,
    ColorFoolSearchFilter.name: ColorFoolSearchFilter,
    EdgeFoolFilter.name: EdgeFoolFilter,
    FacesCloakFilter.name: FacesCloakFilter,
    FacesBlurFilter.name: FacesBlurFilter,
    FacesPixelateFilter.name: FacesPixelateFilter,
}


def describe_filters() -> list[dict[str, str]]:
    """Name and one-line description of each filter, for the API and the CLI.

    >>> [entry["name"] for entry in describe_filters()][:3]
    ['metadata', 'pfgsm', 'colorfool']
    """
    return [{"name": name, "description": cls.description} for name, cls in FILTERS.items()]
