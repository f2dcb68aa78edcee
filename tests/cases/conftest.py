"""The cases tests reuse the monitor's test doubles (``monitor_fakes``) to run real batches."""

from __future__ import annotations

import sys
from pathlib import Path

_MONITOR_TESTS = str(Path(__file__).resolve().parents[1] / "monitor")
if _MONITOR_TESTS not in sys.path:
    sys.path.append(_MONITOR_TESTS)
