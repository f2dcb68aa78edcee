"""Commands of the learn package: train, models, labels."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``riskops`` command line (none yet)."""
