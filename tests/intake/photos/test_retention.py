"""Photos nothing named: deleted once they have waited WANGGE_INTAKE_PHOTO_UNATTACHED_DAYS; a photo
a report or a case's step names is kept whatever its age."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import delete, update

from services.intake.models import UnattachedPhoto
from services.intake.photos.retention import Retention
from services.intake.settings import IntakeSettings
from shared.db import session_scope, utcnow
from shared.errors import PeerUnavailable

from ..conftest import Intake
from ..factories import photo_bytes, report_body
from .test_photos import upload

WEEK_AND_A_MINUTE = timedelta(days=7, minutes=1)


def retention(intake: Intake) -> Retention:
    kept: Retention = intake.app.state.photo_retention
    return kept


async def new_photo(intake: Intake, shade: int) -> dict[str, str]:
    answer = await upload(intake, photo_bytes(color=(shade, 90, 30)))
    assert answer.status_code == 201, answer.text
    photo: dict[str, str] = answer.json()
    return photo


async def status(intake: Intake, photo: dict[str, str], *, thumbnail: bool = False) -> int:
    url = photo["thumbnail_url"] if thumbnail else photo["url"]
    return (await intake.client.get(url.removeprefix("http://intake"))).status_code


async def test_a_photo_nothing_named_is_deleted_once_its_week_is_over(intake: Intake) -> None:
    photo = await new_photo(intake, 1)

    deleted = await retention(intake).purge(now=utcnow() + WEEK_AND_A_MINUTE)

    assert deleted == 1
    assert await status(intake, photo) == 404
    assert await status(intake, photo, thumbnail=True) == 404
    assert intake.dispatch.photos_asked == [[photo["id"]]]  # no case's step named it


async def test_a_photo_younger_than_its_week_is_kept(intake: Intake) -> None:
    photo = await new_photo(intake, 2)

    deleted = await retention(intake).purge(now=utcnow() + timedelta(days=6, hours=23))

    assert deleted == 0
    assert await status(intake, photo) == 200
    assert intake.dispatch.photos_asked == []


async def test_the_photos_a_report_names_are_kept_whatever_their_age(intake: Intake) -> None:
    named, by_thumbnail, unnamed = [await new_photo(intake, shade) for shade in (3, 4, 5)]
    body = report_body(
        photos=[named["url"], by_thumbnail["thumbnail_url"], "https://files.example.org/p/1.jpg"]
    )
    assert (await intake.post_report(body)).status_code == 201

    deleted = await retention(intake).purge(now=utcnow() + timedelta(days=365))

    assert deleted == 1
    assert [await status(intake, photo) for photo in (named, by_thumbnail, unnamed)] == [200, 200, 404]
    assert intake.dispatch.photos_asked == [[unnamed["id"]]]


async def test_an_open311_request_names_its_photo_as_a_report_does(intake: Intake) -> None:
    photo = await new_photo(intake, 6)
    form = {"service_code": "0101", "lat": "24.455", "long": "118.085", "media_url": photo["url"]}
    assert (await intake.client.post("/open311/v2/requests.json", data=form)).status_code == 201

    await retention(intake).purge(now=utcnow() + timedelta(days=30))

    assert await status(intake, photo) == 200


async def test_a_photo_a_case_step_names_is_kept_for_good(intake: Intake) -> None:
    """A resolution's photo: dispatch says its timeline names it, and intake asks no more."""
    resolution, stray = await new_photo(intake, 7), await new_photo(intake, 8)
    intake.dispatch.named_photos = {resolution["id"]}

    first = await retention(intake).purge(now=utcnow() + WEEK_AND_A_MINUTE)
    later = await retention(intake).purge(now=utcnow() + timedelta(days=365))

    assert (first, later) == (1, 0)
    assert await status(intake, resolution) == 200
    assert await status(intake, stray) == 404
    assert [set(asked) for asked in intake.dispatch.photos_asked] == [{resolution["id"], stray["id"]}]


async def test_nothing_is_deleted_while_dispatch_cannot_say_what_its_cases_name(intake: Intake) -> None:
    photo = await new_photo(intake, 9)
    intake.dispatch.mode = "down"

    with pytest.raises(PeerUnavailable):
        await retention(intake).purge(now=utcnow() + WEEK_AND_A_MINUTE)
    assert await status(intake, photo) == 200

    intake.dispatch.mode = "ok"
    assert await retention(intake).purge(now=utcnow() + WEEK_AND_A_MINUTE) == 1
    assert await status(intake, photo) == 404


async def test_a_photo_uploaded_again_waits_its_week_from_then_on(intake: Intake) -> None:
    """The app sends the same picture again (200, the same photo) to name it now: six days
    after the first upload, it still has its week."""
    sent = photo_bytes(color=(10, 90, 30))
    photo = (await upload(intake, sent)).json()
    async with session_scope(intake.relay.session_maker) as session:
        await session.execute(
            update(UnattachedPhoto)
            .where(UnattachedPhoto.photo_id == uuid.UUID(photo["id"]))
            .values(uploaded_at=utcnow() - timedelta(days=6))
        )
    again = await upload(intake, sent)
    assert again.status_code == 200 and again.json()["id"] == photo["id"]

    deleted = await retention(intake).purge(now=utcnow() + timedelta(days=2))

    assert deleted == 0
    assert await status(intake, photo) == 200


async def test_a_photo_whose_upload_again_finds_it_deleted_is_made_again(intake: Intake) -> None:
    sent = photo_bytes(color=(11, 90, 30))
    first = (await upload(intake, sent)).json()
    await retention(intake).purge(now=utcnow() + WEEK_AND_A_MINUTE)

    again = await upload(intake, sent)

    assert again.status_code == 201 and again.json()["id"] != first["id"]
    assert await status(intake, again.json()) == 200


async def test_a_photo_a_report_is_naming_meanwhile_is_not_deleted(intake: Intake) -> None:
    """The report's transaction deletes the photo's wait and has not committed when the purge
    comes: PostgreSQL's purge passes over the row it holds, SQLite's waits for its commit."""
    photo = await new_photo(intake, 12)
    engine = intake.relay.session_maker.kw["bind"]
    async with engine.begin() as report:
        await report.execute(
            delete(UnattachedPhoto).where(UnattachedPhoto.photo_id == uuid.UUID(photo["id"]))
        )
        purge = asyncio.create_task(retention(intake).purge(now=utcnow() + WEEK_AND_A_MINUTE))
        await asyncio.sleep(0.5)
    deleted = await asyncio.wait_for(purge, 15)

    assert deleted == 0
    assert await status(intake, photo) == 200


@pytest.mark.parametrize("days", [0, 366])
def test_the_days_a_photo_waits_are_bounded(days: int) -> None:
    with pytest.raises(ValidationError, match="photo_unattached_days"):
        IntakeSettings(photo_unattached_days=days)


def test_the_days_a_photo_waits_are_a_week_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert IntakeSettings().photo_unattached_days == 7
    monkeypatch.setenv("WANGGE_INTAKE_PHOTO_UNATTACHED_DAYS", "30")
    assert IntakeSettings().photo_unattached_days == 30
