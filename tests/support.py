"""Test helpers importable from any test module (``from support import ...``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The shared data sets sit beside the checkout (../shared), in CI as on a developer's machine.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
AMLSIM_TRANS = SHARED_DATA / "amlsim-10k" / "AMLSIM10K_Trans.csv.gz"


def missing(reason: str) -> None:
    """Skip the test, or fail it where RISKOPS_REQUIRE_SERVICES=1 (CI): nothing a test needs
    may be missing there without anyone noticing."""
    if os.environ.get("RISKOPS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} and RISKOPS_REQUIRE_SERVICES=1: CI must run this test")
    pytest.skip(reason)


def require_data(path: Path) -> None:
    """Skip (or fail, in CI) when a shared data set is missing."""
    if not path.exists():
        missing(f"the data set is not at {path}")
