"""``motion-anonymise`` for FIT: ``accelerometer_data`` messages rewritten in place, in
each representation the file holds (raw counts through the file's
``three_d_sensor_calibration``, or estimated when it has none; calibrated floats in g;
compressed calibrated in mg). The file keeps its length and gets its CRCs again.
``gyroscope_data`` goes (FIT's invalid values): the network knows no gyroscope, and a
gyroscope identifies too."""

from __future__ import annotations

from typing import Any

import numpy as np

from activities.fitfile import FitEditor, FitError, FitLayout, fit_crc, fit_segments, walk_fit
from activities.motion_common import RATE_HZ, MotionReport, MotionSettings, anonymised

__all__ = ["protect_fit_motion"]

# FIT profile numbers: accelerometer_data, gyroscope_data, three_d_sensor_calibration.
ACCELEROMETER_DATA, GYROSCOPE_DATA, SENSOR_CALIBRATION = 165, 164, 167
SAMPLE_TIME_OFFSET = 1  # ms from the message's time, per sample
RAW_COUNTS, CALIBRATED, COMPRESSED_MG = (2, 3, 4), (5, 6, 7), (8, 9, 10)
GYROSCOPE_FIELDS = (2, 3, 4, 5, 6, 7)
ACCELEROMETER_SENSOR = 0  # sensor_type of a three_d_sensor_calibration
ADC_MIDPOINT = 2048  # a 12-bit accelerometer's zero, when the file gives no calibration


def _calibration(
    editor: FitEditor, layout: FitLayout
) -> tuple[float, float, np.ndarray, np.ndarray] | None:
    """(g per count, level shift, offsets (3,), orientation (3, 3)) of the file's
    accelerometer, from its first three_d_sensor_calibration for one."""
    for group in layout.of(SENSOR_CALIBRATION):
        kinds = editor.read(group, 0)
        factors, divisors = editor.read(group, 1), editor.read(group, 2)
        shifts = editor.read(group, 3)
        offsets, matrices = editor.read_elements(group, 4), editor.read_elements(group, 5)
        if kinds is None or factors is None or divisors is None or shifts is None:
            continue
        for row in np.flatnonzero(kinds == ACCELEROMETER_SENSOR):
            if divisors[row] in (0, 0xFFFFFFFF) or factors[row] == 0xFFFFFFFF:
                continue
            offset = offsets[row].astype(float) if offsets is not None else np.zeros(3)
            matrix = (
                matrices[row].astype(float).reshape(3, 3) / 65535
                if matrices is not None and matrices.shape[1] == 9
                else np.eye(3)
            )
            return factors[row] / divisors[row], float(shifts[row]), offset, matrix
    return None


def _fit_rate(editor: FitEditor, groups: list[Any]) -> float | None:
    steps = []
    for group in groups:
        offsets = editor.read_elements(group, SAMPLE_TIME_OFFSET)
        if offsets is not None and offsets.shape[1] > 1:
            valid = offsets[(offsets != 0xFFFF).all(axis=1)].astype(np.int64)
            steps.append(np.diff(valid, axis=1).ravel())
    steps_ms = np.concatenate(steps) if steps else np.zeros(0)
    steps_ms = steps_ms[steps_ms > 0]
    return 1000.0 / float(np.median(steps_ms)) if len(steps_ms) else None


def _fit_axes(
    editor: FitEditor, groups: list[Any], fields: tuple[int, int, int]
) -> list[np.ndarray]:
    """Each group's three axes, ``(messages, 3, samples)``; groups lacking one are skipped."""
    found = []
    for group in groups:
        axes = [editor.read_elements(group, number) for number in fields]
        if all(axis is not None for axis in axes) and len({a.shape for a in axes}) == 1:  # type: ignore[union-attr]
            found.append((group, np.stack(axes, axis=1)))  # type: ignore[arg-type]
    return found  # type: ignore[return-value]


def _anonymise_valid(
    samples: np.ndarray,
    to_g: Any,
    from_g: Any,
    invalid: Any,
    rate: float,
    report: MotionReport,
) -> None:
    """The valid samples ``(N, 3)`` anonymised in place; invalid ones stay invalid."""
    valid = ~invalid(samples).any(axis=1)
    samples[valid] = from_g(anonymised(to_g(samples[valid]), rate, report))


def _rewrite_fit_field(
    editor: FitEditor,
    groups: list[Any],
    fields: tuple[int, int, int],
    to_g: Any,
    from_g: Any,
    invalid: Any,
    rate: float,
    report: MotionReport,
) -> None:
    """Read one representation of the samples from every group in file order, anonymise
    them as one stream, write them back where they came from."""
    found = sorted(_fit_axes(editor, groups, fields), key=lambda item: item[0].starts[0])
    if not found:
        return
    if len({axes.shape[2] for _, axes in found}) == 1:
        # One sample count per message (as devices write): every message at once, in file
        # order, with numpy; a 2-hour file has some 15,000 of them.
        stacked = np.concatenate([axes for _, axes in found])  # (messages, 3, samples)
        order = np.argsort(np.concatenate([group.starts for group, _ in found]), kind="stable")
        samples = stacked[order].transpose(0, 2, 1).reshape(-1, 3)
        _anonymise_valid(samples, to_g, from_g, invalid, rate, report)
        stacked[order] = samples.reshape(len(order), -1, 3).transpose(0, 2, 1)
        position = 0
        for _, axes in found:
            axes[:] = stacked[position : position + len(axes)]
            position += len(axes)
    else:  # messages of several lengths: one at a time, in file order
        pieces = [
            (start, axes[row]) for group, axes in found for row, start in enumerate(group.starts)
        ]
        pieces.sort(key=lambda piece: piece[0])
        samples = np.concatenate([piece.T for _, piece in pieces])  # (N, 3), stored values
        _anonymise_valid(samples, to_g, from_g, invalid, rate, report)
        position = 0
        for _, piece in pieces:
            piece[:] = samples[position : position + piece.shape[1]].T
            position += piece.shape[1]
    for group, axes in found:
        for axis, number in enumerate(fields):
            editor.write_elements(group, number, axes[:, axis, :])


def protect_fit_motion(data: bytes, settings: MotionSettings) -> tuple[bytes, MotionReport]:
    for header, _, end in fit_segments(data):
        if fit_crc(data[header : end + 2]) != 0:
            raise FitError("the FIT file's CRC does not match: it is damaged")
    layout = walk_fit(data)
    editor = FitEditor(data)
    report = MotionReport("FIT", samples=0)
    groups = layout.of(ACCELEROMETER_DATA)
    rate = _fit_rate(editor, groups)
    report.rate_known = rate is not None
    rate = rate or settings.rate_hz or float(RATE_HZ)

    # Calibrated floats (g), compressed calibrated (mg) and raw counts: each one there.
    def float_bits(values: np.ndarray) -> np.ndarray:
        return values.view(values.dtype.str.replace("u", "f"))

    _rewrite_fit_field(
        editor,
        groups,
        CALIBRATED,
        to_g=lambda v: float_bits(v).astype(float),
        from_g=lambda g: g.astype(np.float32).view(np.uint32),
        invalid=lambda v: ~np.isfinite(float_bits(v)),
        rate=rate,
        report=report,
    )
    _rewrite_fit_field(
        editor,
        groups,
        COMPRESSED_MG,
        to_g=lambda v: v.astype(float) / 1000,
        from_g=lambda g: np.clip(np.round(g * 1000), -32767, 32767),
        invalid=lambda v: v == 0x7FFF,
        rate=rate,
        report=report,
    )
    scale, shift, offset, matrix = _calibration(editor, layout) or _estimated(editor, groups)
    inverse = np.linalg.pinv(matrix)
    _rewrite_fit_field(
        editor,
        groups,
        RAW_COUNTS,
        to_g=lambda v: ((v.astype(float) - shift - offset) * scale) @ matrix.T,
        from_g=lambda g: np.clip(np.round((g @ inverse.T) / scale + shift + offset), 0, 0xFFFE),
        invalid=lambda v: v == 0xFFFF,
        rate=rate,
        report=report,
    )
    report.units = "FIT counts and g"
    for group in layout.of(GYROSCOPE_DATA):
        changed = [editor.invalidate(group, number) for number in GYROSCOPE_FIELDS]
        if any(changed) and "gyroscope" not in report.fields_removed:
            report.fields_removed.append("gyroscope")
    return editor.seal(), report


def _estimated(editor: FitEditor, groups: list[Any]) -> tuple[float, float, np.ndarray, np.ndarray]:
    """No calibration in the file: counts centred on a 12-bit ADC's midpoint, scaled so that
    the median magnitude is one g (gravity, which any worn sensor feels throughout)."""
    found = _fit_axes(editor, groups, RAW_COUNTS)
    samples = np.concatenate(
        [axes.transpose(0, 2, 1).reshape(-1, 3) for _, axes in found] or [np.zeros((0, 3))]
    )
    samples = samples[(samples != 0xFFFF).all(axis=1)].astype(float) - ADC_MIDPOINT
    magnitude = float(np.median(np.linalg.norm(samples, axis=1))) if len(samples) else 0.0
    return (
        1.0 / magnitude if magnitude > 0 else 1.0 / 1000,
        float(ADC_MIDPOINT),
        np.zeros(3),
        np.eye(3),
    )
