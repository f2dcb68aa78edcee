"""Test helpers importable from any test module (``from support import ...``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The shared data sets sit beside the checkout (../shared), in CI as on a developer's machine.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
AMLSIM_TRANS = SHARED_DATA / "amlsim-10k" / "AMLSIM10K_Trans.csv.gz"


def require_data(path: Path) -> None:
    """Skip (or fail, with RISKOPS_REQUIRE_SERVICES=1 as in CI) when a data set is missing."""
    if path.exists():
        return
    reason = f"the data set is not at {path}"
    if os.environ.get("RISKOPS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} and RISKOPS_REQUIRE_SERVICES=1: CI must run this test")
    pytest.skip(reason)
