"""Developing a photo, without the app: what the copies of a large picture cost."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError

from services.intake.photos import imaging
from services.intake.settings import IntakeSettings

from ..factories import photo_bytes


def test_a_large_picture_is_scaled_before_it_is_turned_or_laid_on_white(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Turning and flattening copy the picture: at a camera's size, a 48-megapixel PNG with
    # transparency held 600 MB at its peak, three times its decoded size.
    copied: list[tuple[int, int]] = []

    def spy(step: Any) -> Any:
        def step_taken(image: Image.Image, *args: Any) -> Image.Image:
            copied.append(image.size)
            return step(image, *args)

        return step_taken

    monkeypatch.setattr(imaging, "_upright", spy(imaging._upright))
    monkeypatch.setattr(imaging, "_flattened", spy(imaging._flattened))
    sent = photo_bytes((3000, 2000), format="PNG", mode="RGBA", color=(255, 0, 0, 0), orientation=6)

    developed = imaging.process(sent, max_edge=1024, max_pixels=50_000_000)

    assert (developed.width, developed.height) == (683, 1024)
    assert len(copied) == 2 and all(max(size) <= 1024 for size in copied), copied


def png_header(width: int, height: int) -> bytes:
    """A PNG that says its size and holds no pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_every_pixel_bound_the_settings_take_is_the_one_a_photo_meets() -> None:
    # 200 million were taken, and Pillow refused a picture of 182 million itself: "the photo
    # has more than 200,000,000 pixels".
    with pytest.raises(ValidationError):
        IntakeSettings(photo_max_pixels=200_000_000)
    largest = IntakeSettings(photo_max_pixels=178_000_000).photo_max_pixels

    with pytest.raises(imaging.NotAPhoto) as within:
        imaging.process(png_header(13_000, 13_000), max_edge=2048, max_pixels=largest)
    with pytest.raises(imaging.NotAPhoto) as beyond:
        imaging.process(png_header(14_000, 13_000), max_edge=2048, max_pixels=largest)

    assert "cannot be decoded" in str(within.value)  # it has no pixels; it was not refused for its size
    assert "has more than 178,000,000 pixels" in str(beyond.value)


def test_a_jpeg_of_too_many_scans_is_refused_before_it_is_decoded() -> None:
    # Each scan is a pass over the whole picture: 60,000 empty ones (900 kB) took 11 s of CPU
    # for a 12-megapixel picture, and 10 MiB of them minutes.
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 140, 200)).save(out, "JPEG", progressive=True)
    camera = out.getvalue()
    assert 5 < imaging._scans(camera) <= imaging.MAX_SCANS
    last_scan = camera.rindex(b"\xff\xda")
    crafted = camera[:-2] + camera[last_scan:-2] * imaging.MAX_SCANS + b"\xff\xd9"

    with pytest.raises(imaging.NotAPhoto) as refused:
        imaging.process(crafted, max_edge=2048, max_pixels=50_000_000)

    assert f"at most {imaging.MAX_SCANS} are taken" in str(refused.value)
    assert imaging.process(camera, max_edge=2048, max_pixels=50_000_000).width == 640
