"""Alembic environment of the grid service."""

from migrations.environment import run
from services.grid.models import Base
from services.grid.settings import GridSettings

run(Base.metadata, lambda: GridSettings().database_url)
