"""Alembic environment of the intake service."""

from migrations.environment import run
from services.intake.models import Base
from services.intake.settings import IntakeSettings

run(Base.metadata, lambda: IntakeSettings().database_url)
