"""Email intake on both databases: store, link by each identifier, alert, stay idempotent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from intake_support import FIXTURES
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from riskops.cases.models import AlertSource, Case, CaseAlert
from riskops.events.models import DeadLetter
from riskops.intake import tasks
from riskops.intake.models import EmailAttachment, InboundEmail
from riskops.intake.service import MessageOutcome, Received, receive_email
from riskops.kernel.db import unit_of_work

Read = Callable[[str], bytes]
Sessions = sessionmaker[Session]


def _receive(sessions: Sessions, raw: bytes, **kwargs: Any) -> Received:
    with unit_of_work(sessions) as session:
        return receive_email(session, raw, channel="import", source_name="test", **kwargs)


def _alerts(sessions: Sessions) -> list[CaseAlert]:
    with unit_of_work(sessions) as session:
        query = select(CaseAlert).where(CaseAlert.source == AlertSource.EMAIL)
        return list(session.scalars(query.order_by(CaseAlert.id)))


def _case(sessions: Sessions, case_id: int) -> Case:
    with unit_of_work(sessions) as session:
        found = session.get(Case, case_id)
        assert found is not None
        return found


def test_linked_by_sender_email(seeded: Sessions, fixture_bytes: Read) -> None:
    received = _receive(seeded, fixture_bytes("plain.eml"))
    assert received.outcome is MessageOutcome.IMPORTED
    assert received.account_ids == ["acc-0000101"]
    [alert] = _alerts(seeded)
    assert alert.source_ref == "plain-0001@mail.example.com"
    assert alert.account_id == "acc-0000101"
    assert alert.kind == "email.not_me" and alert.severity == 75
    assert alert.detail["message_id"] == "plain-0001@mail.example.com"
    assert alert.detail["from"] == "alice.smith@example.com"
    assert alert.detail["links"][0]["by"] == "email"
    assert "linked by email alice.smith@example.com" in alert.reason
    case = _case(seeded, received.case_ids[0])
    assert (case.account_id, case.queue_key) == ("acc-0000101", "account_takeover")


def test_linked_by_tx_hash_and_attachment_kept(seeded: Sessions, fixture_bytes: Read) -> None:
    received = _receive(seeded, fixture_bytes("multipart_pdf.eml"))
    assert received.account_ids == ["acc-0000102"]
    with unit_of_work(seeded) as session:
        email = session.scalars(select(InboundEmail)).one()
        assert email.raw == fixture_bytes("multipart_pdf.eml")  # byte for byte
        assert email.link_evidence[0]["by"] == "tx_hash"
        assert email.link_evidence[0]["value"] == "0x" + "ab" * 32  # as the log has it
        [pdf] = session.scalars(select(EmailAttachment)).all()
        assert (pdf.email_id, pdf.position, pdf.filename) == (email.id, 1, "recall-request.pdf")
        assert pdf.content.startswith(b"%PDF") and pdf.size == len(pdf.content)
    [alert] = _alerts(seeded)
    assert alert.kind == "email.partner_bank"
    assert alert.detail["attachments"] == ["recall-request.pdf"]
    assert _case(seeded, received.case_ids[0]).queue_key == "fraud"


def test_linked_by_bitcoin_tx_hash_without_prefix(seeded: Sessions) -> None:
    raw = (
        b"From: ops@bank.example\r\nMessage-ID: <btc@bank.example>\r\nSubject: tx\r\n\r\n"
        b"Please look at " + ("CD" * 32).encode() + b" thanks\r\n"
    )
    assert _receive(seeded, raw).account_ids == ["acc-0000102"]


def test_linked_by_withdrawal_id_in_html(seeded: Sessions, fixture_bytes: Read) -> None:
    received = _receive(seeded, fixture_bytes("html_only.eml"))
    assert received.account_ids == ["acc-0000103"]
    assert received.category == "fraud_report"


def test_linked_by_a_held_withdrawal(seeded: Sessions) -> None:
    raw = (
        b"From: c@d.example\r\nMessage-ID: <held@d.example>\r\nSubject: stuck\r\n\r\n"
        b"My withdrawal wd-000000888 is stuck.\r\n"
    )
    received = _receive(seeded, raw)
    assert received.account_ids == ["acc-0000108"]
    [alert] = _alerts(seeded)
    assert alert.detail["links"][0]["source"] == "hold"


def test_linked_by_account_id_in_encoded_subject(seeded: Sessions, fixture_bytes: Read) -> None:
    received = _receive(seeded, fixture_bytes("encoded_subject.eml"))
    assert received.account_ids == ["acc-0000104"]
    [alert] = _alerts(seeded)
    assert alert.detail["links"] == [
        {
            "account_id": "acc-0000104",
            "by": "account_id",
            "value": "acc-0000104",
            "where": "subject",
            "source": "events",
        }
    ]


def test_linked_by_a_changed_email(seeded: Sessions) -> None:
    raw = b"From: CAROL.NEW@example.net\r\nMessage-ID: <c@x>\r\nSubject: hello\r\n\r\nhi\r\n"
    assert _receive(seeded, raw).account_ids == ["acc-0000105"]


def test_several_accounts_get_one_alert_each(seeded: Sessions) -> None:
    raw = (
        b"From: alice.smith@example.com\r\nMessage-ID: <two@x>\r\nSubject: accounts\r\n\r\n"
        b"Also my account acc-0000104 please.\r\n"
    )
    received = _receive(seeded, raw)
    assert received.account_ids == ["acc-0000101", "acc-0000104"]
    refs = sorted(a.source_ref for a in _alerts(seeded))
    assert refs == ["two@x#acc-0000101", "two@x#acc-0000104"]
    assert len(received.case_ids) == 2


def test_unlinked_mail_opens_a_triage_case(seeded: Sessions, fixture_bytes: Read) -> None:
    received = _receive(seeded, fixture_bytes("unlinked.eml"))
    assert received.unlinked and received.account_ids == []
    [alert] = _alerts(seeded)
    assert alert.account_id is None and alert.case_id is not None
    assert "not linked" in alert.reason
    case = _case(seeded, alert.case_id)
    assert (case.queue_key, case.account_id) == ("triage", None)


def test_reimport_is_idempotent(seeded: Sessions, fixture_bytes: Read) -> None:
    first = _receive(seeded, fixture_bytes("plain.eml"))
    again = _receive(seeded, fixture_bytes("plain.eml"))
    assert again.outcome is MessageOutcome.KNOWN
    assert (again.email_id, again.case_ids) == (first.email_id, first.case_ids)
    assert len(_alerts(seeded)) == 1
    with unit_of_work(seeded) as session:
        assert session.scalar(select(func.count()).select_from(InboundEmail)) == 1


def test_malformed_mail_is_a_dead_letter_once(seeded: Sessions, fixture_bytes: Read) -> None:
    raw = fixture_bytes("malformed.eml")
    first = _receive(seeded, raw)
    assert first.outcome is MessageOutcome.MALFORMED and first.reason
    assert _receive(seeded, raw).outcome is MessageOutcome.MALFORMED
    with unit_of_work(seeded) as session:
        [dead] = session.scalars(select(DeadLetter).where(DeadLetter.source == "email")).all()
    assert dead.event_id == first.ref and dead.source_name == "test"
    assert dead.raw == raw  # binary input kept exactly
    assert _alerts(seeded) == []


def test_oversized_mail_is_a_dead_letter(seeded: Sessions, fixture_bytes: Read) -> None:
    received = _receive(seeded, fixture_bytes("plain.eml"), max_bytes=100)
    assert received.outcome is MessageOutcome.MALFORMED and "limit is 100" in (
        received.reason or ""
    )


def test_import_files_directory_and_mbox(seeded: Sessions) -> None:
    paths = [FIXTURES]
    assert tasks.count_messages(paths) == 8
    ticks: list[int] = []
    summary = tasks.import_messages(seeded, tasks.iter_messages(paths), progress=ticks.append)
    assert len(ticks) == 8
    assert (summary.imported, summary.known, len(summary.failed)) == (7, 0, 0)
    assert [where.split("/")[-1] for where, _ in summary.malformed] == ["malformed.eml"]
    assert summary.unlinked == 1  # unlinked.eml
    again = tasks.import_messages(seeded, tasks.iter_messages(paths))
    assert (again.imported, again.known, len(again.malformed)) == (0, 7, 1)
    with unit_of_work(seeded) as session:
        count = select(func.count()).select_from(DeadLetter).where(DeadLetter.source == "email")
        assert session.scalar(count) == 1
        by_ref = {e.ref: e for e in session.scalars(select(InboundEmail))}
    police = by_ref["mbox-0002@police.example.gov"]
    assert (police.category, police.account_ids) == ("law_enforcement", ["acc-0000101"])
    assert by_ref["mbox-0001@example.net"].account_ids == ["acc-0000105"]
    # The police letter joins Alice's open case (one open case per account).
    assert police.case_ids == by_ref["plain-0001@mail.example.com"].case_ids


def test_mail_from_the_customer_answers_a_waiting_case(
    seeded: Sessions, fixture_bytes: Read
) -> None:
    from datetime import UTC, datetime

    from riskops.cases.models import CaseEvent, CaseStatus

    first = _receive(seeded, fixture_bytes("plain.eml"))
    case_id = first.case_ids[0]
    with unit_of_work(seeded) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.status = CaseStatus.WAITING_CUSTOMER  # an analyst asked Alice for information
        case.sla_paused_at = datetime(2025, 3, 3, 10, tzinfo=UTC)
    reply = (
        b"From: Alice Smith <alice.smith@example.com>\r\nMessage-ID: <reply-1@example.com>\r\n"
        b"Subject: Re: information request\r\n\r\nHere is my ID document.\r\n"
    )
    assert _receive(seeded, reply).case_ids == [case_id]
    case = _case(seeded, case_id)
    assert case.status == CaseStatus.IN_REVIEW and case.sla_paused_at is None
    with unit_of_work(seeded) as session:
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)).all()
    replied = [e for e in events if e.to_status == CaseStatus.IN_REVIEW.value]
    assert replied and "Here is my ID document." in replied[-1].reason
    assert replied[-1].actor == "system:email"


def test_mail_about_a_waiting_account_from_others_is_not_a_reply(seeded: Sessions) -> None:
    from riskops.cases.models import CaseStatus

    raw = b"From: x@bank.example\r\nMessage-ID: <b1@x>\r\nSubject: acc-0000104\r\n\r\nhi\r\n"
    case_id = _receive(seeded, raw).case_ids[0]
    with unit_of_work(seeded) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.status = CaseStatus.WAITING_CUSTOMER
    raw = b"From: x@bank.example\r\nMessage-ID: <b2@x>\r\nSubject: acc-0000104\r\n\r\nagain\r\n"
    _receive(seeded, raw)
    assert _case(seeded, case_id).status == CaseStatus.WAITING_CUSTOMER
