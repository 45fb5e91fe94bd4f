"""``track-privacy`` for GPX (gpxpy reads and writes it).

Points inside a hidden area go, and a segment they split becomes two, so that no line is
drawn across the area. Waypoints and route points inside go too. The creator, author,
links, copyright and the file-level and metadata extensions (where devices put their serial)
go; each point's own extensions (heart rate, cadence, power) stay. The activity begins at
its first kept point and ends at its last: a time before or after (the metadata's, a
waypoint's) is clamped to them, and the start is coarsened from the first kept point, so
that nothing tells how long the track ran inside the hidden area at either end.
"""

from __future__ import annotations

import datetime as dt

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


def _kept_span(gpx: gpxpy.gpx.GPX) -> tuple[dt.datetime, dt.datetime] | None:
    times = [p.time for p in gpx.walk(only_points=True) if p.time is not None]
    return (min(times), max(times)) if times else None


def _clamp_times(gpx: gpxpy.gpx.GPX, start: dt.datetime, end: dt.datetime) -> bool:
    """Times outside the kept track's span (the metadata's start, waypoints) clamped to it;
    True when any moved."""
    changed = False

    def clamped(moment: dt.datetime | None) -> dt.datetime | None:
        nonlocal changed
        if moment is None:
            return None
        try:
            new = min(max(moment, start), end)
        except TypeError:  # a naive time among aware ones: which end it is said nothing
            new = start
        changed |= new != moment
        return new

    gpx.time = clamped(gpx.time)
    for point in [*gpx.waypoints, *(p for route in gpx.routes for p in route.points)]:
        point.time = clamped(point.time)
    return changed


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
    first_time = _first_time(gpx)  # before any point goes
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
    span = _kept_span(gpx) if settings.zones else None
    if span is not None:
        if _clamp_times(gpx, *span) or span[0] != first_time:
            report.removed("time in hidden area")
        first_time = span[0]
    shift = start_shift(first_time, settings.start_time)
    if shift:
        gpx.adjust_time(shift, all=True)
        report.time_shift_s = shift.total_seconds()
    report.before, report.after = drawn(report.before), drawn(report.after)
    return gpx.to_xml(prettyprint=False).encode("utf-8"), report
