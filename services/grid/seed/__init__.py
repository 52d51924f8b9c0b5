"""The demo: Zhonghua subdistrict's territory, departments, catalog, staff and routing overrides.

``seed_demo`` is what ``wangge up`` / ``wangge seed`` call on first run. The data files
beside this module are plain GeoJSON and JSON; every record goes through the same service
functions (and checks) as the API.

Every demo staff member logs in with the password :data:`DEMO_PASSWORD` (``wangge-demo``),
hashed once with Argon2id at grid's parameters and the hash shared, so seeding stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.catalog.importing import import_catalog
from services.grid.identity.passwords import Passwords
from services.grid.models import Staff
from services.grid.regions import repository as regions_repository
from services.grid.regions import service as regions
from services.grid.routing import service as routing
from services.grid.routing.schemas import OverrideCreate
from services.grid.staff import service as staff
from services.grid.staff.schemas import StaffCreate

SEED_DIR = Path(__file__).parent
SEED_ACTOR = "system:seed"

TERRITORY_FILE = SEED_DIR / "demo_territory.geojson"
DEPARTMENTS_FILE = SEED_DIR / "departments.json"
CATALOG_FILE = SEED_DIR / "catalog.json"
STAFF_FILE = SEED_DIR / "staff.json"
OVERRIDES_FILE = SEED_DIR / "overrides.json"
DEMO_PASSWORD = "wangge-demo"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


async def seed_demo(session: AsyncSession, *, passwords: Passwords | None = None) -> bool:
    """Seed the demo into an empty grid database; ``False`` (and nothing done) when it has regions.

    ``passwords`` hashes the demo password (default: OWASP's minimum Argon2id parameters).
    """
    if await regions_repository.has_any(session):
        return False
    await regions.import_feature_collection(session, data=load(TERRITORY_FILE), actor_id=SEED_ACTOR)
    files = [(path.name, load(path)) for path in (DEPARTMENTS_FILE, CATALOG_FILE)]
    await import_catalog(session, files=files, actor_id=SEED_ACTOR)
    usernames = []
    for item in load(STAFF_FILE)["staff"]:
        created, _ = await staff.create_staff(
            session, data=StaffCreate.model_validate(item), actor_id=SEED_ACTOR
        )
        usernames.append(created.username)
    demo_hash = await (passwords or Passwords()).hash(DEMO_PASSWORD)
    await session.execute(update(Staff).where(Staff.username.in_(usernames)).values(password_hash=demo_hash))
    for item in load(OVERRIDES_FILE)["overrides"]:
        fields = {key: value for key, value in item.items() if key != "why"}
        await routing.create_override(
            session, data=OverrideCreate.model_validate(fields), actor_id=SEED_ACTOR
        )
    return True
