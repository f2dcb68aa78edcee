"""``riskops outbox deliver`` sends what is due into the local mailbox (no SMTP set);
``riskops outbox status`` counts by status."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from riskops.kernel.db import open_database, session_factory, unit_of_work
from riskops.outbound.cli import register
from riskops.outbound.service import Channel, enqueue
from support import cli_app


def test_deliver_and_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    with cli_app(register, data, monkeypatch) as app:
        engine = open_database()
        with unit_of_work(session_factory(engine)) as s:
            for i in range(3):
                enqueue(
                    s,
                    channel=Channel.EMAIL,
                    to=f"c{i}@example.com",
                    subject="Hi",
                    body="Body",
                    purpose="notice",
                )
        engine.dispose()
        runner = CliRunner()
        before = runner.invoke(app, ["outbox", "status"])
        assert before.exit_code == 0 and "queued    3" in before.output
        done = runner.invoke(app, ["outbox", "deliver"])
        assert done.exit_code == 0, done.output
        assert "sent 3, retrying 0, dead 0" in done.output
        assert "sent      3" in runner.invoke(app, ["outbox", "status"]).output
    assert len(list((data / "outbox" / "mail").glob("*.eml"))) == 3
