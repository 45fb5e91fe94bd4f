"""``track-privacy`` for GPX (gpxpy reads and writes it).

Points inside a hidden area go, and a segment they split becomes two, so that no line is
drawn across the area. Waypoints and route points inside go too. The creator, author,
links, copyright and the file-level and metadata extensions (where devices put their serial)
go; each point's own extensions (heart rate, cadence, power) stay.
"""

from __future__ import annotations

import gpxpy
import gpxpy.gpx
import numpy as np

from activities.track import TrackReport, TrackSettings, drawn, start_shift
from activities.zones import hidden_mask

__all__ = ["CREATOR", "protect_gpx"]

CREATOR = "Veil"


def _first_time(gpx: gpxpy.gpx.GPX):  # type: ignore[no-untyped-def]
    bounds = gpx.get_time_bounds()
    return bounds.start_time or gpx.time


def _strip_identity(gpx: gpxpy.gpx.GPX, report: TrackReport) -> None:
    if gpx.creator and gpx.creator != CREATOR:
        report.removed("creator")
    gpx.creator = CREATOR
    for attr, what in (
        ("author_name", "author"),
        ("author_email", "author"),
        ("author_link", "author"),
        ("author_link_text", "author"),
        ("copyright_author", "copyright"),
        ("link", "link"),
        ("link_text", "link"),
    ):
        if getattr(gpx, attr):
            setattr(gpx, attr, None)
            report.removed(what)
    if gpx.extensions or gpx.metadata_extensions:
        report.removed("file extensions (device)")
    gpx.extensions = []
    gpx.metadata_extensions = []


def _split(points: list, hidden: np.ndarray) -> list[list]:  # type: ignore[type-arg]
    """The runs of points not hidden."""
    runs, run = [], []
    for point, gone in zip(points, hidden, strict=True):
        if gone:
            if run:
                runs.append(run)
            run = []
        else:
            run.append(point)
    if run:
        runs.append(run)
    return runs


def _mask(settings: TrackSettings, seed: bytes, points: list) -> np.ndarray:  # type: ignore[type-arg]
    if not points:
        return np.zeros(0, dtype=bool)
    lat = np.array([p.latitude for p in points], dtype=float)
    lon = np.array([p.longitude for p in points], dtype=float)
    return hidden_mask(settings.areas(seed), lat, lon)


def protect_gpx(data: bytes, settings: TrackSettings, seed: bytes) -> tuple[bytes, TrackReport]:
    """The GPX file with the zones hidden, the identity gone and the start coarsened.

    Raises:
        ValueError: not a GPX file gpxpy can read.
    """
    try:
        gpx = gpxpy.parse(data.decode("utf-8-sig"))
    except (gpxpy.gpx.GPXException, UnicodeDecodeError) as error:
        raise ValueError(f"not a readable GPX file: {error}") from error
    report = TrackReport("GPX")
    shift = start_shift(_first_time(gpx), settings.start_time)  # before any point goes
    _strip_identity(gpx, report)
    for track in gpx.tracks:
        segments = []
        for segment in track.segments:
            hidden = _mask(settings, seed, segment.points)
            report.points += len(segment.points)
            report.points_hidden += int(hidden.sum())
            report.before.append([(p.latitude, p.longitude) for p in segment.points])
            for run in _split(segment.points, hidden):
                segments.append(gpxpy.gpx.GPXTrackSegment(run))
                report.after.append([(p.latitude, p.longitude) for p in run])
        track.segments = segments
    for route in gpx.routes:
        hidden = _mask(settings, seed, route.points)
        route.points = [p for p, gone in zip(route.points, hidden, strict=True) if not gone]
    hidden = _mask(settings, seed, gpx.waypoints)
    gpx.waypoints = [p for p, gone in zip(gpx.waypoints, hidden, strict=True) if not gone]
    if shift:
        gpx.adjust_time(shift, all=True)
        report.time_shift_s = shift.total_seconds()
    report.before, report.after = drawn(report.before), drawn(report.after)
    return gpx.to_xml(prettyprint=False).encode("utf-8"), report
