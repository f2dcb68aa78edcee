"""Contact's use cases on SQLite and PostgreSQL: preview, send (outbox, history, audit in
one transaction), the information request that makes the case wait, the guard, rights."""

from __future__ import annotations

from datetime import timedelta

import pytest
from contact_support import (
    REPLY_SECRET,
    SETTINGS,
    T0,
    due,
    seed_accounts,
    taken_case,
    user,
)
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Role
from riskops.cases import decisions, history
from riskops.cases.models import ActionKind, CaseEvent, CaseStatus
from riskops.cases.schemas import DecisionIn, NoteSections
from riskops.cases.tasks import housekeeping
from riskops.contact import service
from riskops.contact.models import ContactMessage
from riskops.contact.schemas import ChannelName, MessageIn
from riskops.intake import reply_tokens
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Forbidden, ValidationFailed
from riskops.outbound.models import OutboundMessage

EDU = MessageIn(template="education_2fa", channel="email")
CHANNELS: tuple[ChannelName, ...] = ("email", "sms")


def rfi(**kw: object) -> MessageIn:
    fields: dict[str, object] = {
        "template": "request_info",
        "details": "A bank statement showing the deposit.",
        "due_at": due(),
    }
    fields.update(kw)
    return MessageIn(**fields)  # type: ignore[arg-type]


def events(session: Session, case_id: int) -> list[str]:
    stmt = select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
    return list(session.scalars(stmt))


@pytest.mark.parametrize(
    ("account", "language", "fallback"),
    [("acc-0000201", "es", None), ("acc-0000202", "ru", None), ("acc-0000203", "en", None)],
    ids=["es", "ru", "en"],
)
def test_preview_speaks_the_account_language(
    engine: Engine, account: str, language: str, fallback: None
) -> None:
    with unit_of_work(session_factory(engine)) as session:
        seed_accounts(session)
        ana = user(session, "ana", Role.ANALYST)
        case = taken_case(session, ana, account)
        shown = service.preview(session, ana, case.id, EDU, now=T0)
        assert shown.language == language and shown.fallback_from is fallback
        assert shown.blocked is None
        assert shown.to is not None and "@" in shown.to and "*" in shown.to
        assert account not in shown.text  # the account id is masked
        forced = service.preview(
            session, ana, case.id, MessageIn(template="education_2fa", language="de"), now=T0
        )
        assert forced.language == "en" and forced.fallback_from == "de"


def test_channels_come_from_the_account_events(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        seed_accounts(session)
        ana = user(session, "ana", Role.ANALYST)
        case = taken_case(session, ana, "acc-0000203")  # an email, no phone
        shown = service.preview(session, ana, case.id, EDU, now=T0)
        assert shown.channels == ["email"]
        with pytest.raises(ValidationFailed) as refused:
            service.send(
                session,
                ana,
                case.id,
                MessageIn(template="education_2fa", channel="sms"),
                settings=SETTINGS,
                now=T0,
            )
        assert refused.value.details[0]["field"] == "$.channel"


def test_send_enqueues_with_history_contact_record_and_audit(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        seed_accounts(session)
        ana = user(session, "ana", Role.ANALYST)
        case = taken_case(session, ana, "acc-0000201")
        sent = service.send(session, ana, case.id, EDU, settings=SETTINGS, now=T0)
        queued = session.get(OutboundMessage, sent.outbound_id)
        assert queued is not None
        assert queued.recipient == "ana.lopez@example.com"
        assert queued.purpose == service.PURPOSE and queued.case_id == case.id
        assert queued.html and "<strong>" in queued.html
        assert queued.subject is not None
        assert reply_tokens.case_of(REPLY_SECRET, [], queued.subject) == case.id
        assert queued.reply_to == reply_tokens.reply_address(
            REPLY_SECRET, SETTINGS.reply_domain, case.id
        )
        assert session.get(ContactMessage, sent.id) is not None
        assert "customer_contacted" in events(session, case.id)
        audited = session.scalars(
            select(AuditEntry.action).where(AuditEntry.subject_id == str(case.id))
        )
        assert "contact.send" in set(audited)
        sms = service.send(
            session,
            ana,
            case.id,
            MessageIn(template="education_phishing", channel="sms", language="ru"),
            settings=SETTINGS,
            now=T0,
        )
        texted = session.get(OutboundMessage, sms.outbound_id)
        assert texted is not None and texted.recipient == "+34600111222"
        assert "2FA" in texted.body and texted.html is None and texted.reply_to is None


@pytest.mark.parametrize(
    "settings",
    [Settings(reply_secret=REPLY_SECRET), Settings(reply_domain="reply.example.test")],
    ids=["no-domain", "no-secret"],
)
def test_without_a_reply_domain_and_secret_there_is_no_reply_to(
    engine: Engine, settings: Settings
) -> None:
    with unit_of_work(session_factory(engine)) as session:
        seed_accounts(session)
        ana = user(session, "ana", Role.ANALYST)
        case = taken_case(session, ana, "acc-0000201")
        sent = service.send(session, ana, case.id, EDU, settings=settings, now=T0)
        queued = session.get(OutboundMessage, sent.outbound_id)
        assert queued is not None and queued.reply_to is None


def test_the_same_idempotency_key_sends_once(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        seed_accounts(session)
        ana = user(session, "ana", Role.ANALYST)
        case = taken_case(session, ana, "acc-0000201")
        body = MessageIn(template="education_whitelist", idempotency_key="k1")
        first = service.send(session, ana, case.id, body, settings=SETTINGS, now=T0)
        again = service.send(session, ana, case.id, body, settings=SETTINGS, now=T0)
        assert again.id == first.id
        assert len(session.scalars(select(ContactMessage)).all()) == 1


def test_the_information_request_makes_the_case_wait_in_the_same_transaction(
    engine: Engine,
) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        seed_accounts(session)
        ana = user(session, "ana", Role.ANALYST)
        case = taken_case(session, ana, "acc-0000201")
        case_id = case.id
        sent = service.send(session, ana, case_id, rfi(), settings=SETTINGS, now=T0)
        assert sent.case_status == "waiting_customer" and sent.waiting_until == due()
        queued = session.get(OutboundMessage, sent.outbound_id)
        assert queued is not None and "A bank statement showing the deposit." in queued.body
    with unit_of_work(sessions) as session:
        assert {"wait_customer", "customer_contacted"} <= set(events(session, case_id))
    # no reply by the due date: the housekeeping pass puts the case back in review
    assert housekeeping(sessions, due() - timedelta(minutes=1))["waits_expired"] == 0
    assert housekeeping(sessions, due() + timedelta(minutes=1))["waits_expired"] == 1
    with unit_of_work(sessions) as session:
        assert events(session, case_id)[-1] == "wait_expired"
        assert history.load(session, case_id).status is CaseStatus.IN_REVIEW


def test_a_refused_information_request_leaves_the_case_as_it_was(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        seed_accounts(session)
        ana = user(session, "ana", Role.ANALYST)
        case_id = taken_case(session, ana, "acc-0000201").id
    with pytest.raises(ValidationFailed), unit_of_work(sessions) as session:
        service.send(session, ana, case_id, rfi(due_at=T0 - timedelta(days=1)), now=T0)
    with pytest.raises(Forbidden), unit_of_work(sessions) as session:
        service.send(session, ana, case_id, rfi(details="Your SAR is pending"), now=T0)
    with unit_of_work(sessions) as session:
        case = history.load(session, case_id)
        assert case.status is CaseStatus.ASSIGNED
        assert session.scalars(select(OutboundMessage)).all() == []


@pytest.mark.parametrize(
    "text",
    ["We filed a SAR.", "la policía nos lo pidió", "Данные переданы в Росфинмониторинг"],
    ids=["en", "es", "ru"],
)
def test_free_text_naming_a_report_is_refused_for_any_account(engine: Engine, text: str) -> None:
    with unit_of_work(session_factory(engine)) as session:
        seed_accounts(session)
        ana = user(session, "ana", Role.ANALYST)
        case = taken_case(session, ana, "acc-0000203")
        body = MessageIn(template="custom", subject="About your account", message=text)
        shown = service.preview(session, ana, case.id, body, now=T0)
        assert shown.blocked is not None and "text" in shown.blocked_fields
        with pytest.raises(service.TippingOff) as refused:
            service.send(session, ana, case.id, body, settings=SETTINGS, now=T0)
        assert text.split()[-1].strip(".") not in refused.value.message  # not echoed


def test_an_account_under_sar_gets_no_hint_on_any_channel(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        seed_accounts(session)
        sen = user(session, "sen", Role.SENIOR_ANALYST)
        case = taken_case(session, sen, "acc-0000201")
        hint = "We are investigating recent activity on your account."
        for channel in CHANNELS:  # fine while no SAR is considered
            body = MessageIn(template="custom", channel=channel, subject="Hi", message=hint)
            service.preview(session, sen, case.id, body, now=T0)
            assert service.preview(session, sen, case.id, body, now=T0).blocked is None
        note = NoteSections(
            **dict.fromkeys(("summary", "evidence", "findings"), "x"),
            decision="refer",
            rationale="x",
        )
        decisions.decide(
            session, sen, case.id, DecisionIn(action=ActionKind.REFER_SAR, note=note), now=T0
        )
        for channel in CHANNELS:
            body = MessageIn(template="custom", channel=channel, subject="Hi", message=hint)
            with pytest.raises(service.TippingOff):
                service.send(session, sen, case.id, body, settings=SETTINGS, now=T0)
        # every shipped template still goes out (they avoid both lists)
        sent = service.send(session, sen, case.id, EDU, settings=SETTINGS, now=T0)
        assert sent.template == "education_2fa"


def test_sending_needs_contact_send(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        seed_accounts(session)
        ana = user(session, "ana", Role.ANALYST)
        author = user(session, "rita", Role.RULE_AUTHOR)
        case = taken_case(session, ana, "acc-0000201")
        with pytest.raises(Forbidden):
            service.send(session, author, case.id, EDU, settings=SETTINGS, now=T0)
        with pytest.raises(Forbidden):
            service.preview(session, author, case.id, EDU, now=T0)
        with pytest.raises(Forbidden):
            service.list_templates(author)
        assert len(service.list_templates(ana)) >= 8


def test_a_raced_replay_is_refused_by_the_unique_id_and_the_transaction_goes_on(
    engine: Engine,
) -> None:
    from riskops.contact import repository as repo
    from riskops.contact.models import ContactReply

    def reply() -> ContactReply:
        return ContactReply(
            channel="sms",
            provider_message_id="dup-1",
            from_masked="+34***222",
            body="yes",
            received_at=T0,
        )

    with unit_of_work(session_factory(engine)) as session:
        assert repo.add_reply(session, reply()) is not None
        assert repo.add_reply(session, reply()) is None
        assert len(session.scalars(select(ContactReply)).all()) == 1
