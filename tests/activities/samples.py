"""The made-up activities of ``batch.activity_samples``, for the tests."""

from batch.activity_samples import (  # noqa: F401
    GPX_TPX,
    HOME,
    SERIAL,
    START,
    Activity,
    loop,
    to_fit,
    to_gpx,
    to_tcx,
)
