"""``riskops email import`` end to end (SQLite from the settings)."""

from __future__ import annotations

from pathlib import Path

from intake_support import FIXTURES
from typer.testing import CliRunner

from riskops.cli import app


def test_import_reports_a_summary_and_is_idempotent(data_dir: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["email", "import", str(FIXTURES / "plain.eml"), str(FIXTURES)])
    assert first.exit_code == 0, first.output
    # plain.eml is named twice: the second time it is already known. The log is empty, so
    # nothing links: every message opens a triage case.
    assert "imported 7  already known 1  unlinked → triage 7  malformed 1" in first.output
    assert "malformed.eml" in first.output and "riskops dead-letters --source email" in first.output
    again = runner.invoke(app, ["email", "import", str(FIXTURES / "mailbox.mbox")])
    assert again.exit_code == 0, again.output
    assert "imported 0  already known 2" in again.output
