"""Alembic environment of the dispatch service."""

from migrations.environment import run
from services.dispatch.models import Base
from services.dispatch.settings import DispatchSettings

run(Base.metadata, lambda: DispatchSettings().database_url)
