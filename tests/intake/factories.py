"""Request bodies for intake's tests."""

from __future__ import annotations

import io
import struct
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image

from .fakes import POINT_IN_A1


def report_body(*, point: tuple[float, float] = POINT_IN_A1, **overrides: Any) -> dict[str, Any]:
    lat, lon = point
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "category": "0101",
        "description": "占道经营：中山路口水果摊占用人行道",
        "location": {"lat": lat, "lon": lon, "address": "中山路 12 号"},
        "seen_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "photos": ["https://files.example.org/p/1.jpg"],
    }
    body.update(overrides)
    return body


ORIENTATION, GPS_IFD = 0x0112, 0x8825


def photo_bytes(
    size: tuple[int, int] = (400, 300),
    *,
    color: tuple[int, ...] = (200, 40, 40),
    format: str = "JPEG",
    mode: str = "RGB",
    orientation: int | None = None,
    with_gps: bool = False,
    exif_bytes: bytes | None = None,
) -> bytes:
    """A picture as a phone sends it: ``orientation`` is the EXIF tag (6: the camera was held
    turned, the picture is to be turned 90° clockwise), ``with_gps`` adds a GPS position;
    ``exif_bytes``, the EXIF as written (:func:`odd_exif`), replaces both."""
    image = Image.new(mode, size, color)
    if mode in ("RGB", "RGBA"):  # a blue top-left corner, to see which way it was turned
        image.paste((0, 0, 255) if mode == "RGB" else (0, 0, 255, 255), (0, 0, size[0] // 4, size[1] // 4))
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION] = orientation
    if with_gps:
        exif[GPS_IFD] = {1: "N", 2: (24.0, 27.0, 10.0), 3: "E", 4: (118.0, 5.0, 2.0)}
    out = io.BytesIO()
    if exif_bytes is not None:
        image.save(out, format, exif=exif_bytes)
    else:
        image.save(out, format, **({"exif": exif} if len(exif) else {}))
    return out.getvalue()


def odd_exif(orientation: int) -> bytes:
    """EXIF as a phone may write it, which Pillow reads but cannot write back: the orientation,
    and a GPS IFD whose GPSSatellites (an ASCII tag) holds three rationals."""
    entry = struct.Struct(">HHII")  # tag, type, count, value or offset
    ifd0 = struct.pack(">H", 2) + entry.pack(ORIENTATION, 3, 1, orientation << 16)
    gps_at = 8 + len(ifd0) + entry.size + 4
    ifd0 += entry.pack(GPS_IFD, 4, 1, gps_at) + struct.pack(">I", 0)
    rationals_at = gps_at + 2 + entry.size + 4
    gps = struct.pack(">H", 1) + entry.pack(8, 5, 3, rationals_at) + struct.pack(">I", 0)
    rationals = struct.pack(">6I", 24, 1, 27, 1, 5, 1)
    return b"Exif\x00\x00" + b"MM\x00*" + struct.pack(">I", 8) + ifd0 + gps + rationals


def status_changed(
    report_ids: list[str],
    *,
    event_id: int,
    status: str,
    action: str = "dispatch",
    case_id: int = 7,
    note: str | None = None,
    department_code: str = "SM-CGJ",
    **more: Any,
) -> dict[str, Any]:
    return {
        "topic": "case.status_changed",
        "key": f"{case_id}:{event_id}",
        "payload": {
            "event_id": event_id,
            "case_id": case_id,
            "case_number": "SM20250501-0007",
            "action": action,
            "status": status,
            "department_code": department_code,
            "department_name": "思明区城管局",
            "note": note,
            "deadline_at": "2025-05-02T08:30:00Z",
            "occurred_at": f"2025-05-01T09:{event_id:02d}:00Z",
            "report_ids": report_ids,
            **more,
        },
    }
