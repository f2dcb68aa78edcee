"""The monitor's test fakes (``tests/monitor``) are shared with the investigation tests."""

import sys
from pathlib import Path

_MONITOR_TESTS = str(Path(__file__).resolve().parent.parent / "monitor")
if _MONITOR_TESTS not in sys.path:
    sys.path.append(_MONITOR_TESTS)
