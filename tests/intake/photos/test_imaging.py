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
    assert 5 < imaging._markers(camera)[0] <= imaging.MAX_SCANS
    last_scan = camera.rindex(b"\xff\xda")
    crafted = camera[:-2] + camera[last_scan:-2] * imaging.MAX_SCANS + b"\xff\xd9"

    with pytest.raises(imaging.NotAPhoto) as refused:
        imaging.process(crafted, max_edge=2048, max_pixels=50_000_000)

    assert f"at most {imaging.MAX_SCANS} are taken" in str(refused.value)
    assert imaging.process(camera, max_edge=2048, max_pixels=50_000_000).width == 640


def test_a_picture_of_too_many_markers_or_chunks_is_refused_before_pillow_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pillow reads a JPEG's markers before its frame, and a PNG's chunks, one at a time in
    # Python: 10 MiB of empty ones (2.6 million APP1 segments, 870,000 ancillary chunks) took 3.4
    # and 2.9 s of a worker's CPU, the interpreter lock held, and were taken; refused, such an
    # upload counts toward no daily limit and could be sent again and again. Counting the scans
    # stepped through fill bytes after a scan one at a time too.
    camera = photo_bytes((64, 48), orientation=6, with_gps=True)
    empty_app1 = b"\xff\xe1\x00\x02"
    before_frame = camera[:2] + empty_app1 * imaging.MAX_MARKERS + camera[2:]
    after_scan = camera[:-2] + b"\xff" * imaging.MAX_MARKERS + camera[-2:]
    png = photo_bytes((64, 48), format="PNG")
    ancillary = struct.pack(">I", 0) + b"abCd" + struct.pack(">I", zlib.crc32(b"abCd"))
    after_header = 8 + 25  # the signature and IHDR
    flooded_png = png[:after_header] + ancillary * imaging.MAX_CHUNKS + png[after_header:]
    opened: list[bytes] = []
    real_open = Image.open

    def spy(fp: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(fp.getvalue()[:4])
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", spy)

    for jpeg in (before_frame, after_scan):
        with pytest.raises(imaging.NotAPhoto) as too_many_markers:
            imaging.process(jpeg, max_edge=2048, max_pixels=50_000_000)
        assert f"more than {imaging.MAX_MARKERS:,} markers" in str(too_many_markers.value)
    with pytest.raises(imaging.NotAPhoto) as too_many_chunks:
        imaging.process(flooded_png, max_edge=2048, max_pixels=50_000_000)
    assert f"more than {imaging.MAX_CHUNKS:,} chunks" in str(too_many_chunks.value)
    assert opened == []
    # fewer of each are a picture like any other
    fewer = camera[:2] + empty_app1 * (imaging.MAX_MARKERS - 30) + camera[2:]
    assert imaging.process(fewer, max_edge=2048, max_pixels=50_000_000).height == 64
    fewer_chunks = png[:after_header] + ancillary * (imaging.MAX_CHUNKS - 10) + png[after_header:]
    assert imaging.process(fewer_chunks, max_edge=2048, max_pixels=50_000_000).width == 64
    assert len(opened) == 2
