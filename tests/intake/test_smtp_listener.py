"""The SMTP listener stores each message before answering 250 (aiosmtpd + smtplib)."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from processes import free_port
from riskops.cases.models import AlertSource, CaseAlert
from riskops.events.models import DeadLetter
from riskops.intake.models import InboundEmail
from riskops.intake.smtp import IntakeHandler, controller
from riskops.kernel.db import unit_of_work


def test_smtp_round_trip(
    seeded: sessionmaker[Session], fixture_bytes: Callable[[str], bytes]
) -> None:
    port = free_port()
    server = controller(IntakeHandler(seeded), "127.0.0.1", port, data_size_limit=1024 * 1024)
    server.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            raw = fixture_bytes("plain.eml")
            refused = smtp.sendmail("alice.smith@example.com", ["risk@exchange.example"], raw)
            assert refused == {}
            code, _ = smtp.noop()
            assert code == 250
            # the same message again (a retrying relay): accepted, stored once
            smtp.sendmail("alice.smith@example.com", ["risk@exchange.example"], raw)
            smtp.sendmail("x@y.example", ["risk@exchange.example"], b"\x00\x01 not mail\r\n")
    finally:
        server.stop()
    with unit_of_work(seeded) as session:
        [email] = session.scalars(select(InboundEmail)).all()
        alerts = session.scalars(
            select(CaseAlert).where(CaseAlert.source == AlertSource.EMAIL)
        ).all()
        dead = session.scalars(select(DeadLetter).where(DeadLetter.source == "email")).all()
    assert email.channel == "smtp" and email.source_name == "smtp:127.0.0.1"
    assert email.account_ids == ["acc-0000101"]
    # SMTP carries CRLF line ends and a final line end; the content is the file's.
    stored = email.raw.replace(b"\r\n", b"\n").rstrip()
    assert stored == fixture_bytes("plain.eml").rstrip()
    assert len(alerts) == 1
    assert len(dead) == 1


def test_a_storage_failure_answers_451(fixture_bytes: Callable[[str], bytes]) -> None:
    class Broken(IntakeHandler):
        def store(self, raw: bytes, peer: str) -> object:  # type: ignore[override]
            raise RuntimeError("database is down")

    port = free_port()
    server = controller(Broken(None), "127.0.0.1", port, data_size_limit=1024 * 1024)  # type: ignore[arg-type]
    server.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            try:
                smtp.sendmail("a@b.example", ["risk@exchange.example"], fixture_bytes("plain.eml"))
            except smtplib.SMTPDataError as exc:
                assert exc.smtp_code == 451
            else:  # pragma: no cover
                raise AssertionError("a message that was not stored must not get 250")
    finally:
        server.stop()
