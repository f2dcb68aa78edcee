"""Schema migrations (Alembic). ``upgrade_head`` is the one entry point."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

HERE = Path(__file__).parent


def alembic_config(engine: Engine | None = None) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade_head(engine: Engine) -> None:
    """Apply every revision not yet applied (a no-op on an up-to-date database)."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")  # type: ignore[arg-type]
