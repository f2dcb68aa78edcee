"""Alembic environment: runs against the engine handed in by ``upgrade_head`` or the settings."""

from __future__ import annotations

from alembic import context

from riskops.kernel.config import get_settings
from riskops.kernel.db import Base, import_all_models, make_engine

import_all_models()
config = context.config
engine = config.attributes.get("engine") or make_engine(get_settings().sqlalchemy_url)

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
