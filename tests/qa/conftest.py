"""The QA browser test runs on the console's browser fixtures (tests/web/console/conftest.py):
the real app served by uvicorn, Debian's Chromium, a page that fails on any CSP violation."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_path = Path(__file__).resolve().parents[1] / "web" / "console" / "conftest.py"
_spec = importlib.util.spec_from_file_location("qa_console_fixtures", _path)
assert _spec is not None and _spec.loader is not None
_fixtures = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _fixtures  # its dataclasses look their module up
_spec.loader.exec_module(_fixtures)

console_engine = _fixtures.console_engine
served = _fixtures.served
browser = _fixtures.browser
context = _fixtures.context
page = _fixtures.page
login = _fixtures.login
