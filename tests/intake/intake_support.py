"""Constants shared by the intake tests (importable: ``from intake_support import ...``)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
SMS_SECRET = "test-shared-secret"
TX_HASH = "0x" + "ab" * 32  # the multipart fixture writes it in capitals
BTC_TX = "cd" * 32
