"""``track-privacy`` for TCX (Garmin's Training Center XML), with the standard library's
ElementTree: no library reads and writes TCX whole, extensions included.

Trackpoints inside a hidden area go, and a Track they split becomes two. The Creator (device
name, unit id, product id) and the Author (the program that wrote the file) go. Distances
start again from zero where the kept track starts, so the first kept point does not tell how
far it lies from home. Heart rate, cadence, power and the other extensions stay.

The activity begins at the first kept trackpoint and ends at the last, as if the recording
had started and stopped there: trackpoints before and after go (those without a position
too), the Id and lap start times are clamped to that span, the laps it cut are totalled
again from what is left, and the start is coarsened from the first kept trackpoint. Else
the hidden time and distance at each end (pace x time from each exit) would locate home.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import xml.etree.ElementTree as ET

import numpy as np

from activities.track import TrackReport, TrackSettings, drawn, start_shift
from activities.zones import hidden_mask

__all__ = ["TCX_NAMESPACE", "protect_tcx"]

TCX_NAMESPACE = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
_NS = {"tcx": TCX_NAMESPACE}
# The prefixes kept on writing: the default namespace, as TCX readers expect, and xsi.
# (ElementTree reserves the nsN prefixes that Garmin's files use: it numbers the others.)
_PREFIXES = {
    "": TCX_NAMESPACE,
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
_TIME = re.compile(r"^\s*(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?\s*$")


def _tag(name: str) -> str:
    return f"{{{TCX_NAMESPACE}}}{name}"


def _parse_time(text: str | None) -> dt.datetime | None:
    match = _TIME.match(text or "")
    if match is None:
        return None
    zone = match.group(3) or "Z"
    return dt.datetime.fromisoformat(
        match.group(1) + (match.group(2) or "") + zone.replace("Z", "+00:00")
    )


def _format_time(moment: dt.datetime, like: str) -> str:
    """``moment`` written as ``like`` was: with or without fractions, Z or an offset."""
    match = _TIME.match(like)
    assert match is not None
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if match.group(2):
        text += f".{moment.microsecond:06d}"[: len(match.group(2))]
    zone = match.group(3)
    if zone:
        text += "Z" if zone == "Z" else moment.strftime("%z")[:3] + ":" + moment.strftime("%z")[3:]
    return text


def _shift_times(root: ET.Element, shift: dt.timedelta) -> None:
    for element in root.iter():
        for attr in ("StartTime",):
            value = element.get(attr)
            if value and (moment := _parse_time(value)) is not None:
                element.set(attr, _format_time(moment + shift, value))
        if element.tag in (_tag("Time"), _tag("Id")) and element.text:
            moment = _parse_time(element.text)
            if moment is not None:
                element.text = _format_time(moment + shift, element.text)


def _position(point: ET.Element) -> tuple[float, float] | None:
    lat = point.findtext("tcx:Position/tcx:LatitudeDegrees", namespaces=_NS)
    lon = point.findtext("tcx:Position/tcx:LongitudeDegrees", namespaces=_NS)
    if lat is None or lon is None:
        return None
    return float(lat), float(lon)


def _first_time(root: ET.Element) -> dt.datetime | None:
    times = [_parse_time(e.text) for e in root.iter(_tag("Time"))]
    times += [_parse_time(e.get("StartTime")) for e in root.iter(_tag("Lap"))]
    found = [t for t in times if t is not None]
    return min(found) if found else None


def _split_track(lap: ET.Element, track: ET.Element, hidden: set[int], report: TrackReport) -> None:
    """Replace ``track`` in ``lap`` by its runs of kept trackpoints."""
    points = track.findall("tcx:Trackpoint", _NS)
    runs: list[list[ET.Element]] = [[]]
    for point in points:
        if id(point) in hidden:
            runs.append([])
        else:
            runs[-1].append(point)
    place = list(lap).index(track)
    lap.remove(track)
    for offset, run in enumerate(r for r in runs if r):
        new = ET.Element(track.tag, track.attrib)
        new.extend(run)
        lap.insert(place + offset, new)
        report.after.append([p for p in map(_position, run) if p is not None])


def _rebase_distances(root: ET.Element, hidden: set[int]) -> None:
    """Distances count from the first kept trackpoint, not from home."""
    first = None
    for point in root.iter(_tag("Trackpoint")):
        if id(point) in hidden:
            continue
        distance = point.find("tcx:DistanceMeters", _NS)
        if distance is None or not distance.text:
            continue
        value = float(distance.text)
        if first is None:
            first = value
        distance.text = f"{max(0.0, value - first):.2f}"


def _time_of(point: ET.Element) -> dt.datetime | None:
    return _parse_time(point.findtext("tcx:Time", namespaces=_NS))


def _set_text(lap: ET.Element, name: str, text: str) -> None:
    element = lap.find(f"tcx:{name}", _NS)
    if element is not None:
        element.text = text


def _number(lap: ET.Element, name: str) -> float | None:
    try:
        return float(lap.findtext(f"tcx:{name}", namespaces=_NS) or "")
    except ValueError:
        return None


def _distance(point: ET.Element) -> float | None:
    return _number(point, "DistanceMeters")


def _retotal_laps(root: ET.Element, cut: set[int], span: tuple[dt.datetime, dt.datetime]) -> None:
    """Laps the span cut (``cut``: trackpoints outside it) start, last and count from what
    is left of them; a lap with nothing left goes (unless it is its activity's last)."""
    previous = 0.0  # the rebased distance where the next lap starts
    for activity in root.iter(_tag("Activity")):
        for lap in activity.findall("tcx:Lap", _NS):
            points = list(lap.iter(_tag("Trackpoint")))
            left = [p for p in points if id(p) not in cut]
            distances = [d for p in left if (d := _distance(p)) is not None]
            if len(left) == len(points):
                previous = distances[-1] if distances else previous
                continue
            start, total = _parse_time(lap.get("StartTime")), _number(lap, "TotalTimeSeconds")
            times = [t for p in left if (t := _time_of(p)) is not None]
            if not times or start is None or total is None:
                if len(activity.findall("tcx:Lap", _NS)) > 1:
                    activity.remove(lap)
                    continue
                times = [span[0]]
                start, total = span[0], 0.0
            trimmed_start = id(points[0]) in cut
            new_start = max(start, span[0])
            end = times[-1] if id(points[-1]) in cut else start + dt.timedelta(seconds=total)
            seconds = max(0.0, (min(end, span[1]) - new_start).total_seconds())
            lap.set("StartTime", _format_time(new_start, lap.get("StartTime", "")))
            _set_text(lap, "TotalTimeSeconds", f"{seconds:.1f}")
            ratio = seconds / total if total else 0.0
            if distances:
                base = 0.0 if trimmed_start else previous
                meters = distances[-1] - base
                previous = distances[-1]
            else:  # the lap's own pace: it says nothing of how long the hidden ends took
                meters = (_number(lap, "DistanceMeters") or 0.0) * ratio
            _set_text(lap, "DistanceMeters", f"{max(0.0, meters):.1f}")
            if (calories := _number(lap, "Calories")) is not None:
                _set_text(lap, "Calories", str(round(calories * ratio)))


def _cut_to_span(
    root: ET.Element, points: list[ET.Element], hidden: set[int], report: TrackReport
) -> tuple[dt.datetime, dt.datetime] | None:
    """Trackpoints before the first kept one with a position and after the last go (into
    ``hidden``), laps are totalled again and the Id is clamped; the span's times."""
    kept = [i for i, p in enumerate(points) if id(p) not in hidden and _position(p) is not None]
    if not kept:
        return None
    span = (_time_of(points[kept[0]]), _time_of(points[kept[-1]]))
    if span[0] is None or span[1] is None:
        return None
    start, end = span[0], span[1]
    cut = {id(p) for p in points[: kept[0]] + points[kept[-1] + 1 :]}
    changed = bool(cut)
    hidden |= cut
    _rebase_distances(root, hidden)
    _retotal_laps(root, cut, (start, end))
    for element in root.iter(_tag("Id")):
        moment = _parse_time(element.text)
        if moment is not None and not start <= moment <= end:
            element.text = _format_time(min(max(moment, start), end), element.text or "")
            changed = True
    if changed:
        report.removed("time in hidden area")
    return start, end


def protect_tcx(data: bytes, settings: TrackSettings, seed: bytes) -> tuple[bytes, TrackReport]:
    """The TCX file with the zones hidden, the device gone and the start coarsened.

    Raises:
        ValueError: not a TCX file.
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        raise ValueError(f"not a readable TCX file: {error}") from error
    if root.tag != _tag("TrainingCenterDatabase"):
        raise ValueError("not a TCX file: its root is not TrainingCenterDatabase")
    report = TrackReport("TCX")
    for parent in [root, *root.iter(_tag("Activity"))]:
        for name, what in (("Creator", "device (creator)"), ("Author", "author")):
            for child in parent.findall(f"tcx:{name}", _NS):
                parent.remove(child)
                report.removed(what)
    points = list(root.iter(_tag("Trackpoint")))
    positions = [(i, pos) for i, p in enumerate(points) if (pos := _position(p)) is not None]
    hidden: set[int] = set()
    if positions:
        lat = np.array([pos[0] for _, pos in positions])
        lon = np.array([pos[1] for _, pos in positions])
        mask = hidden_mask(settings.areas(seed), lat, lon)
        hidden = {id(points[i]) for (i, _), gone in zip(positions, mask, strict=True) if gone}
        report.points, report.points_hidden = len(positions), len(hidden)
    report.before.append([pos for _, pos in positions])
    span = _cut_to_span(root, points, hidden, report) if settings.zones else None
    if span is None:
        _rebase_distances(root, hidden)
    shift = start_shift(span[0] if span else _first_time(root), settings.start_time)
    for lap in list(root.iter(_tag("Lap"))):
        for track in lap.findall("tcx:Track", _NS):
            _split_track(lap, track, hidden, report)
    if shift:
        _shift_times(root, shift)
        report.time_shift_s = shift.total_seconds()
    report.before, report.after = drawn(report.before), drawn(report.after)
    for prefix, uri in _PREFIXES.items():
        ET.register_namespace(prefix, uri)
    out = io.BytesIO()
    ET.ElementTree(root).write(out, encoding="UTF-8", xml_declaration=True)
    return out.getvalue(), report
