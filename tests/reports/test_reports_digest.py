"""The weekly digest: a PDF that opens (parsed back with pypdf: pages, title, figures), the
HTML email to each manager with the PDF attached (once per week), the CLI command, and a
typed error for a week that is not one."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from reports_fakes import T0, CaseSpec, History, HoldSpec, base, write
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from riskops.cases.models import CaseOutcome
from riskops.kernel.db import open_database, session_factory, unit_of_work
from riskops.kernel.errors import ValidationFailed
from riskops.monitor.models import HoldStatus
from riskops.outbound.models import OutboundMessage
from riskops.reports import cli as reports_cli
from riskops.reports import digest, rollups, tasks
from support import cli_app, make_user

WEEK = "2026-W10"  # Monday 2 March 2026 = T0
HISTORY = History(
    alerts=[(T0 + timedelta(hours=5 * i), f"R-{i % 3}", "mule", False) for i in range(30)],
    events=[T0 + timedelta(hours=i) for i in range(100)],
    cases=[
        CaseSpec(
            "aml",
            "mule",
            T0,
            24,
            T0 + timedelta(days=2),
            CaseOutcome.RESTRICTED,
            "ana",
            ("R-1",),
            "c0",
        ),
        CaseSpec("aml", "mule", T0 - timedelta(days=3), 24, None, tag="c1"),
    ],
    holds=[HoldSpec(T0, Decimal("2500.00"), HoldStatus.REJECTED, T0 + timedelta(hours=1), "h0")],
)


def _text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_the_pdf_opens_with_the_weeks_figures_and_charts(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        base(session)
        write(session, HISTORY)
        rollups.rebuild(session, T0 + timedelta(days=10))
        built = digest.build(session, digest.parse_week(WEEK))
    pdf = digest.to_pdf(built)
    assert pdf.startswith(b"%PDF")
    pages, text = _text(pdf)
    assert pages >= 1
    assert f"riskops weekly digest {WEEK}" in text
    assert "2,500.00 USD" in text  # loss prevented this week
    alerts = next(f for f in built.figures if f.name == "Alerts")
    assert (alerts.this_week, alerts.last_week) == (30, 0)
    assert "Alert volume per rule per day" in text  # the chart's title, drawn in the PDF
    assert "Backlog" in text


def test_the_digest_email_goes_to_each_manager_once_a_week(engine: Engine) -> None:
    factory = session_factory(engine)
    with unit_of_work(factory) as session:
        base(session)
        write(session, HISTORY)
        make_user(session, "max", "manager").email = "max@example.test"
        make_user(session, "nobody", "manager")  # no email: nothing to send to
        rollups.rebuild(session, T0 + timedelta(days=10))
    now = datetime(2026, 3, 10, 6, tzinfo=UTC)  # the Tuesday after the week
    assert tasks.digest_pass(factory, now) == WEEK
    assert tasks.digest_pass(factory, now + timedelta(hours=1)) is None
    with unit_of_work(factory) as session:
        sent = session.scalars(select(OutboundMessage)).all()
    assert [m.recipient for m in sent] == ["max@example.test"]
    mail = sent[0]
    assert mail.subject == f"riskops weekly digest {WEEK}"
    assert (
        mail.html is not None and "<table" in mail.html and "/reports?since=2026-03-02" in mail.html
    )
    assert [a["filename"] for a in mail.attachments] == [f"riskops-digest-{WEEK}.pdf"]


@pytest.mark.parametrize(
    "week", ["2026-10", "2026-W54", "W10", ""], ids=["no-w", "w54", "no-year", "empty"]
)
def test_a_week_that_is_not_one_is_a_typed_error(week: str) -> None:
    with pytest.raises(ValidationFailed):
        digest.parse_week(week)


def test_the_cli_writes_the_pdf(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with cli_app(reports_cli.register, data_dir, monkeypatch) as app:
        with unit_of_work(session_factory(open_database())) as session:
            base(session)
            write(session, HISTORY)
        runner = CliRunner()
        rebuilt = runner.invoke(app, ["reports", "rebuild"])
        assert rebuilt.exit_code == 0, rebuilt.output
        out = data_dir / "digest.pdf"
        done = runner.invoke(app, ["reports", "digest", "--week", WEEK, "--out", str(out)])
        assert done.exit_code == 0, done.output
        pages, text = _text(out.read_bytes())
        assert pages >= 1 and WEEK in text
        bad = runner.invoke(app, ["reports", "digest", "--week", "nope", "--out", str(out)])
        assert bad.exit_code != 0
