"""Photos: what a phone uploads, what intake keeps of it, and who sees it."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import threading
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from PIL import Image, ImageCms
from sqlalchemy import update

from services.intake.models import Photo
from services.intake.photos import imaging
from shared.actors import Role
from shared.db import session_scope, utcnow
from tests.support.tokens import bearer

from ..conftest import Intake, StartIntake
from ..factories import GPS_IFD, ORIENTATION, odd_exif, photo_bytes, report_body
from ..fakes import FakeDispatch, FakeGrid

DISPATCHER = bearer("zhao.min", Role.dispatcher)
ADMIN = bearer("pan.jun", Role.admin)
HANDLER = bearer("gao.peng", Role.handler, department="police")
BOT = bearer(
    "integration:k1", Role.integration, scopes=["reports:create", "reports:read"], channel="wechat-bot"
)
OTHER_BOT = bearer("integration:k2", Role.integration, scopes=["reports:create", "reports:read"], channel="x")


async def upload(
    intake: Intake, data: bytes, content_type: str = "image/jpeg", **headers: str
) -> httpx.Response:
    return await intake.client.post(
        "/v1/photos", content=data, headers={"Content-Type": content_type, **headers}
    )


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def test_a_phone_photo_is_kept_upright_scaled_and_without_its_metadata(intake: Intake) -> None:
    # A camera held turned: 3000 wide, 2000 high as stored, to be shown turned 90° (tag 6),
    # with the GPS position the phone wrote.
    sent = photo_bytes((3000, 2000), orientation=6, with_gps=True)
    assert opened(sent).getexif().get(ORIENTATION) == 6

    answer = await upload(intake, sent)

    assert answer.status_code == 201, answer.text
    photo = answer.json()
    assert answer.headers["Location"] == f"/v1/photos/{photo['id']}"
    assert photo["url"] == f"http://intake/v1/photos/{photo['id']}"
    assert photo["thumbnail_url"] == f"{photo['url']}/thumbnail"
    assert (photo["width"], photo["height"]) == (1365, 2048)  # upright, the longer side 2048
    kept = await intake.client.get(f"/v1/photos/{photo['id']}")
    assert kept.status_code == 200
    assert kept.headers["content-type"] == "image/jpeg"
    assert photo["size"] == len(kept.content)
    image = opened(kept.content)
    assert image.format == "JPEG" and image.size == (1365, 2048)
    exif = image.getexif()
    assert ORIENTATION not in exif and GPS_IFD not in exif and len(exif) == 0
    # what was the picture's top-left corner (blue) is now its top-right
    assert _near(image.getpixel((image.width - 20, 20)), (0, 0, 255))
    assert _near(image.getpixel((20, 20)), (200, 40, 40))
    thumbnail = await intake.client.get(photo["thumbnail_url"].removeprefix("http://intake"))
    assert thumbnail.status_code == 200
    assert opened(thumbnail.content).size == (213, 320)


async def test_exif_pillow_cannot_write_back_is_no_500(intake: Intake) -> None:
    # The picture is turned by its orientation all the same, and its GPS IFD is dropped.
    sent = photo_bytes((300, 200), exif_bytes=odd_exif(orientation=6))
    assert opened(sent).getexif().get_ifd(GPS_IFD)

    answer = await upload(intake, sent)

    assert answer.status_code == 201, answer.text
    assert (answer.json()["width"], answer.json()["height"]) == (200, 300)
    image = opened((await intake.client.get(f"/v1/photos/{answer.json()['id']}")).content)
    assert len(image.getexif()) == 0
    assert _near(image.getpixel((image.width - 20, 20)), (0, 0, 255))


async def test_a_small_picture_is_not_enlarged_and_a_transparent_one_lies_on_white(intake: Intake) -> None:
    sent = photo_bytes((120, 80), format="PNG", mode="RGBA", color=(255, 0, 0, 0))

    answer = await upload(intake, sent, "image/png")

    assert answer.status_code == 201, answer.text
    assert (answer.json()["width"], answer.json()["height"]) == (120, 80)
    image = opened((await intake.client.get(f"/v1/photos/{answer.json()['id']}")).content)
    assert image.format == "JPEG"
    assert _near(image.getpixel((100, 60)), (255, 255, 255))  # transparent: white, not the hidden red


async def test_a_16_bit_greyscale_png_keeps_its_greys(intake: Intake) -> None:
    # Pillow opens it as I;16: converted straight to RGB, every value over 255 was white.
    sent = photo_bytes((120, 80), format="PNG", mode="I;16", color=(0x8000,))

    answer = await upload(intake, sent, "image/png")

    assert answer.status_code == 201, answer.text
    image = opened((await intake.client.get(f"/v1/photos/{answer.json()['id']}")).content)
    assert _near(image.getpixel((100, 60)), (128, 128, 128), tolerance=4)


async def test_webp_is_taken(intake: Intake) -> None:
    answer = await upload(intake, photo_bytes(format="WEBP"), "image/webp")

    assert answer.status_code == 201, answer.text


async def test_the_same_upload_again_is_the_same_photo_for_its_uploader_only(intake: Intake) -> None:
    sent = photo_bytes()

    first = await upload(intake, sent)
    again = await upload(intake, sent)
    by_someone_else = await upload(intake, sent, **DISPATCHER)

    assert (first.status_code, again.status_code, by_someone_else.status_code) == (201, 200, 201)
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert by_someone_else.json()["id"] != first.json()["id"]


async def test_two_uploads_of_one_picture_at_once_make_one_photo(intake: Intake) -> None:
    sent = photo_bytes((1600, 1200))

    answers = await asyncio.gather(*(upload(intake, sent) for _ in range(4)))

    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert len({a.json()["id"] for a in answers}) == 1


async def test_only_jpeg_png_and_webp_bodies_are_taken(intake: Intake) -> None:
    for content_type in ("text/plain", "application/json", "image/heic", "multipart/form-data; boundary=x"):
        answer = await upload(intake, photo_bytes(), content_type)
        assert answer.status_code == 415, content_type
        assert answer.headers["content-type"] == "application/problem+json"
        assert "image/jpeg, image/png, image/webp" in answer.json()["detail"]
    bare = await intake.client.post("/v1/photos", content=photo_bytes())
    assert bare.status_code == 415
    assert "without a Content-Type" in bare.json()["detail"]
    # what Android apps and old browsers call a JPEG is one
    for mislabel in ("image/jpg", "image/pjpeg"):
        assert (await upload(intake, photo_bytes(color=(9, 9, 9)), mislabel)).status_code in (200, 201)
    # a parameter after the type is no matter
    assert (await upload(intake, photo_bytes(), "image/jpeg; charset=binary")).status_code == 201


async def test_what_is_no_photo_is_a_clear_422(intake: Intake) -> None:
    jpeg = photo_bytes((800, 600), color=(10, 120, 10))
    cases = {
        b"": "the body is empty",
        b"GIF89a" + bytes(200): "not a JPEG, PNG or WebP image",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>": "not a JPEG, PNG or WebP image",
        jpeg[: len(jpeg) // 2]: "cannot be decoded",
    }
    for body, reason in cases.items():
        answer = await upload(intake, body)
        assert answer.status_code == 422, (reason, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert reason in answer.json()["detail"]


async def test_a_picture_over_the_pixel_bound_is_refused_before_it_is_decoded(
    start_intake: StartIntake,
) -> None:
    async with start_intake(FakeGrid(), FakeDispatch(), photo_max_pixels=10_000) as intake:
        over = await upload(intake, photo_bytes((200, 100)))
        within = await upload(intake, photo_bytes((100, 100)))

    assert over.status_code == 422
    assert over.json()["detail"] == "the photo has 200 × 100 pixels; at most 10,000 are taken"
    assert within.status_code == 201


async def test_photos_have_their_own_body_bound(start_intake: StartIntake) -> None:
    # Noise does not compress: a PNG of about 1.5 MB, over the 1 MiB bound of every other body.
    noise = Image.frombytes("RGB", (800, 640), os.urandom(800 * 640 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG")
    big = out.getvalue()
    assert 1_048_576 < len(big) < 2_000_000

    async with start_intake(FakeGrid(), FakeDispatch(), photo_max_bytes=2_000_000) as intake:
        taken = await upload(intake, big, "image/png")
        report = await intake.client.post(
            "/v1/reports",
            content=b"{" + b" " * 1_100_000 + b"}",
            headers={"Content-Type": "application/json"},
        )
    async with start_intake(FakeGrid(), FakeDispatch(), photo_max_bytes=1_048_576) as intake:
        refused = await upload(intake, big, "image/png")

    assert taken.status_code == 201, taken.text
    assert report.status_code == 413  # the reports keep theirs
    assert refused.status_code == 413
    assert refused.json()["detail"] == "request body is larger than 1048576 bytes"


async def test_staff_see_every_photo_an_integration_its_own(intake: Intake) -> None:
    worker_photo = (await upload(intake, photo_bytes())).json()["id"]
    bot_photo = (await upload(intake, photo_bytes(), **BOT)).json()["id"]

    def status(photo_id: str, caller: dict[str, str], thumbnail: bool = False) -> Any:
        return intake.client.get(f"/v1/photos/{photo_id}{'/thumbnail' if thumbnail else ''}", headers=caller)

    for caller in (DISPATCHER, HANDLER):
        assert (await status(worker_photo, caller)).status_code == 200
        assert (await status(bot_photo, caller)).status_code == 200
    assert (await status(bot_photo, BOT)).status_code == 200
    for thumbnail in (False, True):
        hidden = await status(worker_photo, BOT, thumbnail)
        assert hidden.status_code == 404
        assert (await status(bot_photo, OTHER_BOT, thumbnail)).status_code == 404
    unknown = await intake.client.get("/v1/photos/5f0c8f6e-2b1d-4c59-9a53-0d1e6f7a8b90")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"


async def test_a_photo_is_cached_and_answers_304(intake: Intake) -> None:
    photo_id = (await upload(intake, photo_bytes())).json()["id"]
    first = await intake.client.get(f"/v1/photos/{photo_id}")
    thumbnail = await intake.client.get(f"/v1/photos/{photo_id}/thumbnail")

    again = await intake.client.get(
        f"/v1/photos/{photo_id}", headers={"If-None-Match": first.headers["ETag"]}
    )

    assert "immutable" in first.headers["Cache-Control"] and "private" in first.headers["Cache-Control"]
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert thumbnail.headers["ETag"] != first.headers["ETag"]
    assert again.status_code == 304 and again.content == b""


async def test_the_url_names_intake_as_its_clients_reach_it(start_intake: StartIntake) -> None:
    async with start_intake(FakeGrid(), FakeDispatch(), public_url="https://intake.example.org/") as intake:
        photo = (await upload(intake, photo_bytes())).json()

    assert photo["url"] == f"https://intake.example.org/v1/photos/{photo['id']}"


async def test_a_report_names_its_photo_and_its_reader_sees_it(intake: Intake) -> None:
    photo = (await upload(intake, photo_bytes())).json()
    body = report_body(photos=[photo["url"]])

    created = await intake.post_report(body)
    report = await intake.client.get(f"/v1/reports/{body['id']}", headers=DISPATCHER)

    assert created.status_code == 201, created.text
    assert report.json()["photos"] == [photo["url"]]
    shown = await intake.client.get(
        report.json()["photos"][0].removeprefix("http://intake"), headers=DISPATCHER
    )
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"


def _near(pixel: Any, want: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, want, strict=True))


async def test_uploads_beyond_those_taken_in_are_told_to_retry_before_their_body_is_read(
    start_intake: StartIntake,
) -> None:
    picture = photo_bytes()
    release, all_reading = asyncio.Event(), asyncio.Event()
    reading = 0

    async def slow_body() -> AsyncIterator[bytes]:
        nonlocal reading
        yield picture[:100]  # taken: the upload is being read, inside the darkroom's admission
        reading += 1
        if reading == 4:
            all_reading.set()
        await release.wait()
        yield picture[100:]

    async with start_intake(FakeGrid(), FakeDispatch(), photo_workers=1) as intake:
        darkroom = intake.app.state.darkroom
        stalled = [
            asyncio.create_task(
                intake.client.post("/v1/photos", content=slow_body(), headers={"Content-Type": "image/jpeg"})
            )
            for _ in range(4)  # four taken in for the one worker
        ]
        await asyncio.wait_for(all_reading.wait(), 10)
        assert darkroom.inside == 4

        refused = await upload(intake, photo_bytes(color=(1, 2, 3)))
        release.set()
        answers = await asyncio.gather(*stalled)
        afterwards = await upload(intake, photo_bytes(color=(1, 2, 3)))

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "2"
    assert refused.headers["content-type"] == "application/problem+json"
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert afterwards.status_code == 201 and darkroom.inside == 0


async def test_an_upload_sent_slowly_gives_back_its_place_after_the_read_deadline(
    start_intake: StartIntake,
) -> None:
    """A caller that sends a body slowly on purpose held one of the few places taken in for as
    long as it liked: eight such uploads made every other one a 503."""
    picture = photo_bytes()

    async def trickle() -> AsyncIterator[bytes]:
        yield picture[:100]
        await asyncio.sleep(5)
        yield picture[100:]

    async with start_intake(FakeGrid(), FakeDispatch(), photo_read_seconds=1) as intake:
        darkroom = intake.app.state.darkroom
        assert darkroom.read_seconds == 1  # the setting reaches it; a test waits less
        darkroom.read_seconds = 0.3
        started = asyncio.get_running_loop().time()
        jpeg = {"Content-Type": "image/jpeg"}
        slow = await intake.client.post("/v1/photos", content=trickle(), headers=jpeg)
        took = asyncio.get_running_loop().time() - started
        inside_after = darkroom.inside
        afterwards = await upload(intake, picture)

    assert slow.status_code == 408, slow.text
    assert slow.headers["content-type"] == "application/problem+json"
    assert slow.headers["connection"] == "close"
    assert "0.3 s" in slow.json()["detail"]
    assert took < 4  # refused at the deadline, not once the body had come
    assert inside_after == 0
    assert afterwards.status_code == 201


async def test_one_uploader_adds_at_most_the_daily_limit_and_hears_when_to_retry(
    start_intake: StartIntake,
) -> None:
    async with start_intake(FakeGrid(), FakeDispatch(), photo_daily_limit=2) as intake:
        first, second = (photo_bytes(color=(i, 0, 0)) for i in (1, 2))
        taken = [await upload(intake, first), await upload(intake, second)]
        over = await upload(intake, photo_bytes(color=(3, 0, 0)))
        again = await upload(intake, second)  # a retry of a photo already taken
        other = await upload(intake, photo_bytes(color=(3, 0, 0)), **BOT)
        async with session_scope(intake.relay.session_maker) as session:  # the first is a day old
            await session.execute(
                update(Photo)
                .where(Photo.id == uuid.UUID(taken[0].json()["id"]))
                .values(created_at=utcnow() - timedelta(hours=24, seconds=1))
            )
        next_day = await upload(intake, photo_bytes(color=(3, 0, 0)))

    assert [answer.status_code for answer in taken] == [201, 201]
    assert over.status_code == 429, over.text
    assert over.headers["content-type"] == "application/problem+json"
    assert over.json()["type"].endswith("/photo-daily-limit")
    assert "at most 2" in over.json()["detail"]
    assert 86_390 <= int(over.headers["Retry-After"]) <= 86_400  # when the first leaves the 24 hours
    assert again.status_code == 200 and again.json()["id"] == taken[1].json()["id"]
    assert other.status_code == 201  # another uploader's own limit
    assert next_day.status_code == 201


def _primaries_swapped(profile: bytes) -> bytes:
    """An RGB colour profile whose red and blue primaries (and curves) trade places: a picture
    carrying it means blue where its pixels say red. Built from littleCMS's sRGB by swapping
    two pairs of entries in the profile's tag table, and renamed (an sRGB one is left as it is)."""
    data = bytearray(profile.replace("sRGB".encode("utf-16-be"), "Swap".encode("utf-16-be")))
    entries = {
        bytes(data[at : at + 4]): at for at in range(132, 132 + 12 * int.from_bytes(data[128:132]), 12)
    }
    for one, other in ((b"rXYZ", b"bXYZ"), (b"rTRC", b"bTRC")):
        a, b = entries[one] + 4, entries[other] + 4
        data[a : a + 8], data[b : b + 8] = data[b : b + 8], data[a : a + 8]
    return bytes(data)


async def test_colours_are_taken_into_srgb_from_the_profile_the_picture_carries(intake: Intake) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    red = Image.new("RGB", (64, 48), (220, 30, 30))

    def carrying(profile: bytes) -> bytes:
        out = io.BytesIO()
        red.save(out, "JPEG", quality=95, icc_profile=profile)
        return out.getvalue()

    kept = {}
    for name, profile in (
        ("srgb", srgb),
        ("swapped", _primaries_swapped(srgb)),
        ("broken", b"not a profile"),
    ):
        photo = (await upload(intake, carrying(profile))).json()
        image = opened((await intake.client.get(f"/v1/photos/{photo['id']}")).content)
        assert "icc_profile" not in image.info  # the JPEG kept is sRGB, as a browser reads one without
        kept[name] = image.getpixel((10, 10))

    assert _near(kept["srgb"], (220, 30, 30))
    assert _near(kept["swapped"], (30, 30, 220))  # what the profile says the pixels mean
    assert _near(kept["broken"], (220, 30, 30))  # a profile littleCMS cannot read: as it is


async def test_an_admin_removes_a_photo_for_good_and_the_removal_is_logged(
    intake: Intake, caplog: pytest.LogCaptureFixture
) -> None:
    picture = photo_bytes()
    photo_id = (await upload(intake, picture)).json()["id"]

    with caplog.at_level(logging.WARNING, logger="wangge.intake.photos"):
        removed = await intake.client.delete(f"/v1/photos/{photo_id}", headers=ADMIN)

    assert removed.status_code == 204
    assert f"photo {photo_id} removed by pan.jun" in caplog.text
    for suffix in ("", "/thumbnail"):
        assert (
            await intake.client.get(f"/v1/photos/{photo_id}{suffix}", headers=DISPATCHER)
        ).status_code == 404
    assert (await intake.client.delete(f"/v1/photos/{photo_id}", headers=ADMIN)).status_code == 404
    again = await upload(intake, picture)  # the same picture sent again is a new photo
    assert again.status_code == 201 and again.json()["id"] != photo_id
    assert (
        await intake.client.delete(f"/v1/photos/{again.json()['id']}", headers=DISPATCHER)
    ).status_code == 403


async def test_a_photo_being_developed_holds_no_database_connection(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The upload's look-up for a retry held its connection while the picture was decoded: on
    # SQLite (`make up`: one connection) every report and every read waited for the photo.
    started, release = threading.Event(), threading.Event()
    develop = imaging.process

    def slow(data: bytes, **options: Any) -> imaging.Processed:
        started.set()
        release.wait(10)
        return develop(data, **options)

    monkeypatch.setattr(imaging, "process", slow)
    pending = asyncio.create_task(upload(intake, photo_bytes((1600, 1200))))
    try:
        for _ in range(500):
            if started.is_set():
                break
            await asyncio.sleep(0.01)
        assert started.is_set()
        engine = intake.relay.session_maker.kw["bind"]
        assert engine.pool.checkedout() == 0
        report = await asyncio.wait_for(intake.post_report(report_body()), 5)
        assert report.status_code == 201, report.text
    finally:
        release.set()
    answer = await pending
    assert answer.status_code == 201, answer.text


async def test_over_the_daily_limit_the_retry_is_due_when_enough_photos_left_the_24_hours(
    start_intake: StartIntake,
) -> None:
    """An uploader can be past the limit (the office lowered it, or uploads at once all passed
    the count): Retry-After named when the first photo leaves the 24 hours, and the retry then
    was a 429 again. Here three in the 24 hours and a limit of two: the second must leave."""
    async with start_intake(FakeGrid(), FakeDispatch(), photo_daily_limit=3) as intake:
        taken = [await upload(intake, photo_bytes(color=(i, 0, 0))) for i in (1, 2, 3)]
        async with session_scope(intake.relay.session_maker) as session:
            for answer, hours_ago in zip(taken, (23, 22, 0), strict=True):
                await session.execute(
                    update(Photo)
                    .where(Photo.id == uuid.UUID(answer.json()["id"]))
                    .values(created_at=utcnow() - timedelta(hours=hours_ago))
                )
        intake.app.state.darkroom.daily_limit = 2  # lowered
        over = await upload(intake, photo_bytes(color=(4, 0, 0)))

    assert [answer.status_code for answer in taken] == [201] * 3
    assert over.status_code == 429, over.text
    assert 7_190 <= int(over.headers["Retry-After"]) <= 7_200  # the second's leaving, in two hours
