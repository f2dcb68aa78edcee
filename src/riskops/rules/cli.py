"""Commands of the ``rules`` package."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""
