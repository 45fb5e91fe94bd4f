"""Made-up activities for the tests and `veil bench --activities`: loops that start and end
at a home, written as GPX (with heart rate in Garmin's TrackPointExtension), TCX and FIT (with
fit-tool, a test dependency), as devices write them: a creator, a serial number, exact times.
No real tracks ship with Veil: someone's real runs would lead to their home."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import gpxpy
import gpxpy.gpx
import numpy as np

from activities.zones import EARTH_RADIUS_M, PrivacyZone

HOME = PrivacyZone("home", 51.50135, -0.14189, 500.0)
SERIAL = 3_987_654_321
START = dt.datetime(2026, 6, 1, 7, 12, 37, tzinfo=dt.UTC)
GPX_TPX = "http://www.garmin.com/xmlschemas/TrackPointExtension/v1"


@dataclass(frozen=True)
class Activity:
    latitudes: np.ndarray
    longitudes: np.ndarray
    times: list[dt.datetime]
    heart_rates: np.ndarray
    distances: np.ndarray  # metres from the start, along the track


def _move(lat: float, lon: float, east: float, north: float) -> tuple[float, float]:
    return (
        lat + math.degrees(north / EARTH_RADIUS_M),
        lon + math.degrees(east / (EARTH_RADIUS_M * math.cos(math.radians(lat)))),
    )


def loop(heading_deg: float, leg_m: float = 1500.0, step_m: float = 5.0, seed: int = 0) -> Activity:
    """Home -> leg_m out on ``heading_deg`` -> leg_m at 60 degrees more -> home, one point
    every ``step_m`` at 3 m/s, with a little GPS noise."""
    rng = np.random.default_rng(seed)
    corners = [(0.0, 0.0)]
    for turn in (0.0, 60.0):
        angle = math.radians(90 - heading_deg - turn)
        x, y = corners[-1]
        corners.append((x + leg_m * math.cos(angle), y + leg_m * math.sin(angle)))
    corners.append((0.0, 0.0))
    points = []
    for (x0, y0), (x1, y1) in itertools.pairwise(corners):
        count = max(1, int(math.hypot(x1 - x0, y1 - y0) / step_m))
        points += [(x0 + (x1 - x0) * i / count, y0 + (y1 - y0) * i / count) for i in range(count)]
    points.append((0.0, 0.0))
    xy = np.array(points) + rng.normal(0, 1.5, (len(points), 2))
    xy[0] = xy[-1] = 0.0
    lats, lons = zip(*(_move(HOME.latitude, HOME.longitude, e, n) for e, n in xy), strict=True)
    steps = np.r_[0.0, np.hypot(*np.diff(xy, axis=0).T)]
    times = [START + dt.timedelta(seconds=i * step_m / 3.0) for i in range(len(xy))]
    heart = np.clip(120 + np.cumsum(rng.normal(0, 1, len(xy))), 90, 185).round().astype(int)
    return Activity(np.array(lats), np.array(lons), times, heart, np.cumsum(steps))


def to_gpx(activity: Activity) -> bytes:
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "Garmin Connect (Forerunner 965, unit 3987654321)"
    gpx.author_name = "Alex Runner"
    gpx.time = activity.times[0]  # devices write the start into the metadata
    gpx.nsmap["gpxtpx"] = GPX_TPX
    segment = gpxpy.gpx.GPXTrackSegment()
    for lat, lon, time, hr in zip(
        activity.latitudes, activity.longitudes, activity.times, activity.heart_rates, strict=True
    ):
        point = gpxpy.gpx.GPXTrackPoint(float(lat), float(lon), elevation=35.0, time=time)
        ext = ET.Element(f"{{{GPX_TPX}}}TrackPointExtension")
        hr_element = ET.SubElement(ext, f"{{{GPX_TPX}}}hr")
        hr_element.text = str(int(hr))
        point.extensions.append(ext)
        segment.points.append(point)
    track = gpxpy.gpx.GPXTrack(name="Morning Run")
    track.segments.append(segment)
    gpx.tracks.append(track)
    return gpx.to_xml(version="1.1").encode()


def to_tcx(activity: Activity) -> bytes:
    def stamp(moment: dt.datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    points = "".join(
        f"<Trackpoint><Time>{stamp(t)}</Time><Position><LatitudeDegrees>{lat:.7f}"
        f"</LatitudeDegrees><LongitudeDegrees>{lon:.7f}</LongitudeDegrees></Position>"
        f"<AltitudeMeters>35.0</AltitudeMeters><DistanceMeters>{d:.2f}</DistanceMeters>"
        f"<HeartRateBpm><Value>{hr}</Value></HeartRateBpm>"
        f"<Extensions><ns3:TPX><ns3:Watts>{200 + i % 7}</ns3:Watts></ns3:TPX></Extensions>"
        f"</Trackpoint>"
        for i, (t, lat, lon, d, hr) in enumerate(
            zip(
                activity.times,
                activity.latitudes,
                activity.longitudes,
                activity.distances,
                activity.heart_rates,
                strict=True,
            )
        )
    )
    seconds = (activity.times[-1] - activity.times[0]).total_seconds()
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"'
        ' xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2">'
        f'<Activities><Activity Sport="Running"><Id>{stamp(activity.times[0])}</Id>'
        f'<Lap StartTime="{stamp(activity.times[0])}"><TotalTimeSeconds>{seconds:.1f}'
        f"</TotalTimeSeconds><DistanceMeters>{activity.distances[-1]:.1f}</DistanceMeters>"
        f"<Calories>300</Calories><Intensity>Active</Intensity><TriggerMethod>Manual"
        f"</TriggerMethod><Track>{points}</Track></Lap>"
        '<Creator xsi:type="Device_t" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<Name>Forerunner 965</Name><UnitId>{SERIAL}</UnitId><ProductID>4315</ProductID>"
        "<Version><VersionMajor>19</VersionMajor><VersionMinor>18</VersionMinor></Version>"
        "</Creator></Activity></Activities>"
        '<Author xsi:type="Application_t" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<Name>Garmin Connect</Name><Build><Version><VersionMajor>0</VersionMajor>"
        "<VersionMinor>0</VersionMinor></Version></Build><LangID>en</LangID>"
        "<PartNumber>006-D2449-00</PartNumber></Author></TrainingCenterDatabase>"
    ).encode()


def to_fit(activity: Activity, accel_hz: int = 0, gyro: bool = False) -> bytes:
    """A FIT activity: file_id and device_info with the serial, one record a point, with
    ``accel_hz`` accelerometer samples a second (in messages of 25; with ``gyro``, a
    gyroscope message beside each), a lap and a session."""
    from fit_tool.fit_file_builder import FitFileBuilder
    from fit_tool.profile.messages.accelerometer_data_message import AccelerometerDataMessage
    from fit_tool.profile.messages.activity_message import ActivityMessage
    from fit_tool.profile.messages.device_info_message import DeviceInfoMessage
    from fit_tool.profile.messages.event_message import EventMessage
    from fit_tool.profile.messages.file_id_message import FileIdMessage
    from fit_tool.profile.messages.gyroscope_data_message import GyroscopeDataMessage
    from fit_tool.profile.messages.lap_message import LapMessage
    from fit_tool.profile.messages.record_message import RecordMessage
    from fit_tool.profile.messages.session_message import SessionMessage
    from fit_tool.profile.profile_type import Event, EventType, FileType, Manufacturer

    def ms(moment: dt.datetime) -> int:
        return round(moment.timestamp() * 1000)

    builder = FitFileBuilder(auto_define=True, min_string_size=50)
    file_id = FileIdMessage()
    file_id.type = FileType.ACTIVITY
    file_id.manufacturer = Manufacturer.GARMIN.value
    file_id.product = 4315
    file_id.serial_number = SERIAL
    file_id.time_created = ms(activity.times[0])
    builder.add(file_id)
    device = DeviceInfoMessage()
    device.timestamp = ms(activity.times[0])
    device.serial_number = SERIAL
    device.product_name = "Forerunner 965"
    builder.add(device)
    builder.add(_timer_event(EventMessage, Event, EventType.START, ms(activity.times[0])))
    rng = np.random.default_rng(1)
    seconds = np.array([(t - activity.times[0]).total_seconds() for t in activity.times])
    speeds = np.r_[0.0, np.diff(activity.distances) / np.maximum(np.diff(seconds), 1e-3)]
    for lat, lon, time, hr, distance, speed in zip(
        activity.latitudes,
        activity.longitudes,
        activity.times,
        activity.heart_rates,
        activity.distances,
        speeds,
        strict=True,
    ):
        record = RecordMessage()
        record.speed = record.enhanced_speed = float(speed)
        record.timestamp = ms(time)
        record.position_lat = float(lat)
        record.position_long = float(lon)
        record.heart_rate = int(hr)
        record.distance = float(distance)
        record.altitude = 35.0
        builder.add(record)
        for batch in range(accel_hz // 25):
            accel = AccelerometerDataMessage()
            accel.timestamp = ms(time)
            accel.timestamp_ms = batch * 500
            accel.sample_time_offset = list(range(0, 500, 20))
            for axis in ("accel_x", "accel_y", "accel_z"):
                setattr(accel, axis, [int(v) for v in rng.integers(1800, 2300, 25)])
            builder.add(accel)
            if gyro:
                turn = GyroscopeDataMessage()
                turn.timestamp, turn.timestamp_ms = accel.timestamp, accel.timestamp_ms
                turn.sample_time_offset = accel.sample_time_offset
                for axis in ("gyro_x", "gyro_y", "gyro_z"):
                    setattr(turn, axis, [int(v) for v in rng.integers(1800, 2300, 25)])
                builder.add(turn)
    end = ms(activity.times[-1])
    builder.add(_timer_event(EventMessage, Event, EventType.STOP_ALL, end))
    elapsed = (activity.times[-1] - activity.times[0]).total_seconds()
    for kind in (LapMessage, SessionMessage):
        summary = kind()
        summary.timestamp = end
        summary.start_time = ms(activity.times[0])
        summary.start_position_lat = float(activity.latitudes[0])
        summary.start_position_long = float(activity.longitudes[0])
        summary.total_distance = float(activity.distances[-1])
        summary.total_elapsed_time = summary.total_timer_time = elapsed
        summary.total_calories = round(elapsed / 6)
        summary.avg_speed = float(activity.distances[-1]) / elapsed
        builder.add(summary)
    done = ActivityMessage()
    done.timestamp = end
    done.total_timer_time = elapsed
    done.num_sessions = 1
    builder.add(done)
    return builder.build().to_bytes()


def _timer_event(kind, event, event_type, when: int):  # type: ignore[no-untyped-def]
    """A timer event (fit-tool's classes passed in: it is imported only when writing FIT)."""
    message = kind()
    message.timestamp = when
    message.event = event.TIMER
    message.event_type = event_type
    return message
