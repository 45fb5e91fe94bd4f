"""A FIT activity cut to its kept span: it begins at the first record whose position is
kept and ends at the last, as if the recording had started and stopped there. Otherwise how
long and how far the track ran inside the hidden area at each end (pace x hidden time from
each exit point, over many uploads) locates home.

- Messages before the first kept record and after the last go, except those that make the
  file an activity (file_id, device_info, events, laps, session...), whose times are clamped
  into the span. Compressed timestamp headers count from the previous full timestamp, which
  dropping may take away: in such files nothing goes, records outside the span lose what
  says where or how fast they were, and every time is clamped instead.
- Lap and session totals that covered the hidden ends are recomputed from the kept records
  (elapsed time, distance, the timer without pauses, calories in proportion); other totals
  of them go. A lap left empty goes (auto-laps would count the hidden kilometres).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from activities.fitfile import FitEditor, FitLayout, MessageGroup

__all__ = ["STRUCTURAL", "Span", "ordered_times", "summaries", "trim"]

RECORD, LAP, SESSION, ACTIVITY, EVENT = 20, 19, 18, 34, 21
TIMESTAMP, MESSAGE_INDEX = 253, 254
MIN_ABSOLUTE_TIME = 0x10000000
# What stays outside the span (clamped): the messages that make the file an activity.
# file_id, device_settings, user_profile, zones, sport, event, session, lap, device_info,
# workout and its steps, training_file, file_creator, workout_session, developer fields.
STRUCTURAL = {0, 2, 3, 7, 8, 9, 10, 12, 18, 19, 21, 23, 26, 27, 34, 49, 72, 158, 206, 207}
# Record fields that say where or how fast a record was (or, counted up, how far).
RECORD_MOTION = (0, 1, 2, 5, 6, 8, 17, 19, 29, 73, 78)
# Summary fields (lap, session): (elapsed, timer, distance, calories, avg speed,
# enhanced avg speed), and the totals that cannot be recomputed from the records.
SUMMARY = {
    LAP: ((7, 8, 9, 11, 13, 110), (10, 12, 21, 22, 41, 52, 57, 58, 59, 60)),
    SESSION: ((7, 8, 9, 11, 14, 124), (10, 13, 22, 23, 48, 59, 65, 66, 67, 68)),
}
NUM_LAPS, ACTIVITY_TIMER = 26, 0

Ordered = list[tuple[int, MessageGroup, int, int | None]]  # (header, group, row, time)


@dataclass(frozen=True)
class Span:
    """The kept span: its first and last record (header offsets) and their times."""

    first: int
    last: int
    start: int
    end: int

    def clamp(self, values: np.ndarray) -> np.ndarray:
        return np.clip(values, self.start, self.end)


def _absolute(value: int | None) -> bool:
    return value is not None and MIN_ABSOLUTE_TIME <= value != 0xFFFFFFFF


def ordered_times(editor: FitEditor, layout: FitLayout) -> Ordered:
    """Every data message in file order with its time (a compressed header's resolved from
    the last full timestamp before it), None where it has none."""
    rows = []
    for group in layout.groups:
        stamps = editor.read(group, TIMESTAMP)
        for row, header in enumerate(group.headers):
            rows.append((header, group, row, None if stamps is None else int(stamps[row])))
    rows.sort(key=lambda item: item[0])
    ordered: Ordered = []
    last = None
    for header, group, row, stamp in rows:
        if group.compressed[row]:
            if last is not None:
                last += ((int(editor.buffer[header]) & 0x1F) - (last & 0x1F)) & 0x1F
            stamp = last
        elif _absolute(stamp):
            last = stamp
        else:
            stamp = None
        ordered.append((header, group, row, stamp))
    return ordered


def trim(
    editor: FitEditor, layout: FitLayout, ordered: Ordered, kept: list[int]
) -> tuple[Span | None, list[tuple[int, int]]]:
    """The span of the kept records (``kept``: their headers), and the byte ranges of the
    messages outside it that go."""
    times = {header: stamp for header, _, _, stamp in ordered}
    first, last = min(kept), max(kept)
    start, end = times[first], times[last]
    if start is None or end is None:
        return None, []
    span = Span(first, last, start, end)
    drop: list[tuple[int, int]] = []
    outside: dict[int, list[int]] = {}
    for header, group, row, stamp in ordered:
        # Outside the kept records in the file, and not at their very first or last second
        # (the accelerometer batch written after the last kept record is of its second).
        if first <= header <= last or (stamp is not None and start <= stamp <= end):
            continue
        number = group.global_number
        if layout.compressed_times:
            if number == RECORD:
                outside.setdefault(id(group), []).append(row)
        elif number not in STRUCTURAL:
            drop.append((header, header + 1 + group.definition.size))
    for group in layout.of(RECORD):
        if id(group) in outside:
            rows = np.array(outside[id(group)])
            for number in RECORD_MOTION:
                editor.invalidate(group, number, rows)
    return span, drop


def _distance_at(editor: FitEditor, ordered: Ordered, span: Span) -> Callable[[int], int] | None:
    """Cumulative distance (cm) at a time, from the kept span's records."""
    values = {}
    times, distances = [], []
    for header, group, row, stamp in ordered:
        if group.global_number != RECORD or not span.first <= header <= span.last:
            continue
        if id(group) not in values:
            values[id(group)] = editor.read(group, 5)
        found = values[id(group)]
        if found is not None and stamp is not None and found[row] != 0xFFFFFFFF:
            times.append(stamp)
            distances.append(int(found[row]))
    if not times:
        return None
    times_a, distances_a = np.array(times), np.maximum.accumulate(np.array(distances))

    def at(moment: int) -> int:
        index = int(np.searchsorted(times_a, moment, side="right")) - 1
        return int(distances_a[index]) if index >= 0 else 0

    return at


def summaries(
    editor: FitEditor, layout: FitLayout, ordered: Ordered, span: Span
) -> list[tuple[int, int]]:
    """Lap and session totals recomputed for the span; the byte ranges of laps left empty."""
    distance_at = _distance_at(editor, ordered, span)
    drop: list[tuple[int, int]] = []
    touched = False
    for group in layout.of(LAP, SESSION):
        recomputed, gone = SUMMARY[group.global_number]
        begins, ends = editor.read(group, 2), editor.read(group, TIMESTAMP)
        for row in range(len(group.starts)):
            begin = int(begins[row]) if begins is not None else None
            end = int(ends[row]) if ends is not None else None
            if not (_absolute(begin) and _absolute(end)):
                continue
            assert begin is not None and end is not None
            new_begin, new_end = (int(v) for v in span.clamp(np.array([begin, end])))
            if (new_begin, new_end) == (begin, end):
                continue  # within the span: its totals say nothing of the hidden ends
            touched = True
            if new_begin == new_end and not layout.compressed_times and group.global_number == LAP:
                drop.append((group.headers[row], group.starts[row] + group.definition.size))
                continue
            distance = (
                None if distance_at is None else distance_at(new_end) - distance_at(new_begin)
            )
            _recompute(editor, group, row, recomputed, (new_end - new_begin) * 1000, distance)
            for number in gone:
                editor.invalidate(group, number, np.array([row]))
    if drop:
        _count_laps(editor, layout, {start for start, _ in drop})
    if touched:
        _activity_timer(editor, layout)
    return drop


def _recompute(
    editor: FitEditor,
    group: MessageGroup,
    row: int,
    fields: tuple[int, ...],
    elapsed: int,
    distance: int | None,
) -> None:
    """One summary's elapsed time (ms), timer, distance (cm), calories and average speeds."""
    elapsed_f, timer_f, distance_f, calories_f, *speeds = fields
    rows = np.array([row])

    def value(number: int) -> int | None:
        found = editor.read(group, number)
        return None if found is None else int(found[row])

    old_elapsed, old_timer, calories = value(elapsed_f), value(timer_f), value(calories_f)
    editor.write(group, elapsed_f, np.array([elapsed]), rows)
    # Without pauses the timer is the elapsed time; pauses are not known per end: it goes.
    timer = (
        elapsed if old_timer is not None and abs(old_timer - (old_elapsed or 0)) <= 1000 else None
    )
    if timer is None:
        editor.invalidate(group, timer_f, rows)
    else:
        editor.write(group, timer_f, np.array([timer]), rows)
    if distance is None:
        editor.invalidate(group, distance_f, rows)
    else:
        editor.write(group, distance_f, np.array([distance]), rows)
    if calories is not None and calories != 0xFFFF and old_elapsed and old_elapsed != 0xFFFFFFFF:
        # The same calories a second: the hidden ends' share goes, the rate says nothing.
        editor.write(group, calories_f, np.array([round(calories * elapsed / old_elapsed)]), rows)
    seconds = (timer or elapsed) / 1000
    for number, limit in zip(speeds, (0xFFFE, 0xFFFFFFFE), strict=True):
        if distance is None or seconds <= 0:
            editor.invalidate(group, number, rows)
        else:
            speed = min(limit, round(distance * 10 / seconds))  # cm and s to mm/s
            editor.write(group, number, np.array([speed]), rows)


def _count_laps(editor: FitEditor, layout: FitLayout, dropped: set[int]) -> None:
    """Laps numbered again without the dropped ones (a gap would count them), and the one
    session's lap count."""
    laps = sorted(
        (header, group, row)
        for group in layout.of(LAP)
        for row, header in enumerate(group.headers)
        if header not in dropped
    )
    for index, (_, group, row) in enumerate(laps):
        editor.write(group, MESSAGE_INDEX, np.array([index]), np.array([row]))
    sessions = layout.of(SESSION)
    if sum(len(group.starts) for group in sessions) == 1:
        editor.write(sessions[0], NUM_LAPS, np.array([len(laps)]), np.array([0]))


def _activity_timer(editor: FitEditor, layout: FitLayout) -> None:
    """The activity's timer: its sessions' (recomputed), or none when one is not known."""
    sessions = layout.of(SESSION)
    for group in layout.of(ACTIVITY):
        timers = [editor.read(s, 8) for s in sessions]
        values = [int(v) for found in timers if found is not None for v in found]
        if values and 0xFFFFFFFF not in values:
            total = np.full(len(group.starts), sum(values))
            editor.write(group, ACTIVITY_TIMER, total, np.arange(len(group.starts)))
        else:
            editor.invalidate(group, ACTIVITY_TIMER)
