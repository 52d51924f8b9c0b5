"""Developing a photo, without the app: what the copies of a large picture cost."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image

from services.intake.photos import imaging

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
