"""Commands of the cluster package: publish, status."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``riskops`` command line (none yet)."""
