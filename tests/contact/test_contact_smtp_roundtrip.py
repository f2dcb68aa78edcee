"""End to end over real SMTP: the information request leaves through the outbound
deliverer to an aiosmtpd server (the customer's mail), the customer's reply comes back
through riskops' own SMTP intake listener, attaches to the case and resumes its SLA."""

from __future__ import annotations

import email
import email.policy
import smtplib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from typing import Any

from aiosmtpd.controller import Controller
from contact_support import REPLY_SECRET, SETTINGS, T0, due, seed_accounts, taken_case, user
from sqlalchemy import select
from sqlalchemy.engine import Engine

from processes import free_port
from riskops.auth.permissions import Role
from riskops.cases.models import Case, CaseEvent, CaseStatus
from riskops.contact import service
from riskops.contact.schemas import MessageIn
from riskops.intake import reply_tokens
from riskops.intake.models import InboundEmail
from riskops.intake.smtp import IntakeHandler, controller
from riskops.kernel.db import session_factory, unit_of_work
from riskops.outbound.tasks import Deliverer
from riskops.outbound.transports import (
    LocalSmsTransport,
    SmtpTransport,
    SmtpUrl,
    Transports,
    WebhookTransport,
)

RISK_TEAM = "security@exchange.example"


@dataclass
class Mailbox:
    """The customer's mail server: what it was sent."""

    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(
                email.message_from_bytes(envelope.original_content, policy=email.policy.default)
            )
        return "250 OK"


@contextmanager
def running(handler: Any, **kwargs: Any) -> Iterator[int]:
    port = free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    server.start()
    try:
        yield port
    finally:
        server.stop()


def _reply(original: Message, body: str, *, to: str) -> bytes:
    reply = EmailMessage()
    reply["From"] = "Ana Lopez <ana.lopez@example.com>"
    reply["To"] = to
    reply["Subject"] = f"Re: {original['Subject']}"
    reply["Message-ID"] = "<reply-1@example.com>"
    reply["In-Reply-To"] = str(original["Message-ID"])
    reply.set_content(body)
    return reply.as_bytes()


def test_request_goes_out_and_the_reply_comes_back_to_the_case(
    engine: Engine, tmp_path: Any
) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        seed_accounts(session)
        ana = user(session, "ana", Role.ANALYST)
        case = taken_case(session, ana, "acc-0000201")
        case_id, due_before = case.id, case.due_at
        body = MessageIn(
            template="request_info", details="A statement for the deposit.", due_at=due()
        )
        service.send(session, ana, case_id, body, settings=SETTINGS, now=T0)

    customer = Mailbox()
    with running(customer) as port:
        transports = Transports(
            email=SmtpTransport(SmtpUrl.parse(f"smtp://127.0.0.1:{port}"), RISK_TEAM),
            sms=LocalSmsTransport(tmp_path / "sms"),
            webhook=WebhookTransport(),
        )
        result = Deliverer(sessions, transports).run_pass(now=T0)
    assert result.sent == 1
    [request] = customer.messages
    assert request["To"] == "ana.lopez@example.com"
    assert reply_tokens.case_of(REPLY_SECRET, [], str(request["Subject"])) == case_id
    assert isinstance(request, EmailMessage)  # parsed with the default policy
    text = request.get_body(preferencelist=("plain",))
    assert text is not None and "A statement for the deposit." in text.get_content()
    assert "acc-0000201" not in request.as_string()  # the account id is masked

    handler = IntakeHandler(sessions, reply_secret=REPLY_SECRET, max_bytes=1_000_000)
    intake_port = free_port()
    listener = controller(handler, "127.0.0.1", intake_port, data_size_limit=1_000_000)
    listener.start()
    try:
        with smtplib.SMTP("127.0.0.1", intake_port) as smtp:
            raw = _reply(request, "Attached is my statement.", to=RISK_TEAM)
            smtp.sendmail("ana.lopez@example.com", [RISK_TEAM], raw)
    finally:
        listener.stop()

    with sessions() as session:
        found = session.get(Case, case_id)
        assert found is not None
        assert found.status is CaseStatus.IN_REVIEW
        assert found.sla_paused_at is None and found.waiting_until is None
        assert found.due_at > due_before  # the time waiting was added to the deadline
        stored = session.scalars(select(InboundEmail)).one()
        assert stored.case_ids == [case_id]
        kinds = list(
            session.scalars(
                select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            )
        )
        assert kinds[-2:] == ["customer_reply", "customer_replied"]
        reply_event = session.scalars(
            select(CaseEvent).where(
                CaseEvent.case_id == case_id, CaseEvent.kind == "customer_reply"
            )
        ).one()
        assert reply_event.detail["email_id"] == stored.id
        assert "Attached is my statement." in reply_event.reason


def test_a_reply_to_the_token_address_finds_its_case_whoever_sends_it(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        seed_accounts(session)
        ana = user(session, "ana", Role.ANALYST)
        case_id = taken_case(session, ana, "acc-0000204").id
        body = MessageIn(template="request_info", details="Who is the payee?", due_at=due())
        service.send(session, ana, case_id, body, settings=SETTINGS, now=T0)
    address = reply_tokens.reply_address(REPLY_SECRET, "reply.example.test", case_id)
    assert address is not None
    forged = reply_tokens.reply_address("a guess", "reply.example.test", case_id)
    assert forged is not None
    handler = IntakeHandler(sessions, reply_secret=REPLY_SECRET)
    message = EmailMessage()
    message["From"] = "someone.else@example.net"  # not the account's address
    message["Subject"] = "payee"
    message["Message-ID"] = "<forged@example.net>"
    message.set_content("a forged token attaches nothing")
    handler.store(message.as_bytes(), "127.0.0.1", [forged])
    with sessions() as session:
        found = session.get(Case, case_id)
        assert found is not None and found.status is CaseStatus.WAITING_CUSTOMER
    message.replace_header("Message-ID", "<real@example.net>")
    handler.store(message.as_bytes(), "127.0.0.1", [address])
    with sessions() as session:
        found = session.get(Case, case_id)
        assert found is not None and found.status is CaseStatus.IN_REVIEW


def test_the_reply_to_address_alone_brings_the_reply_back(engine: Engine, tmp_path: Any) -> None:
    """The request carries ``Reply-To: reply+<token>@<reply domain>``; a client that drops
    the subject's tag still answers to that address, and intake attaches the reply."""
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        seed_accounts(session)
        ana = user(session, "ana", Role.ANALYST)
        case_id = taken_case(session, ana, "acc-0000203").id
        body = MessageIn(template="request_info", details="Your payslip.", due_at=due())
        service.send(session, ana, case_id, body, settings=SETTINGS, now=T0)

    customer = Mailbox()
    with running(customer) as port:
        transports = Transports(
            email=SmtpTransport(SmtpUrl.parse(f"smtp://127.0.0.1:{port}"), RISK_TEAM),
            sms=LocalSmsTransport(tmp_path / "sms"),
            webhook=WebhookTransport(),
        )
        assert Deliverer(sessions, transports).run_pass(now=T0).sent == 1
    [request] = customer.messages
    address = reply_tokens.reply_address(REPLY_SECRET, SETTINGS.reply_domain, case_id)
    assert address is not None and request["Reply-To"] == address
    assert request["From"] == RISK_TEAM

    handler = IntakeHandler(sessions, reply_secret=REPLY_SECRET, max_bytes=1_000_000)
    intake_port = free_port()
    listener = controller(handler, "127.0.0.1", intake_port, data_size_limit=1_000_000)
    listener.start()
    try:
        reply = EmailMessage()
        reply["From"] = "bob@example.com"
        reply["To"] = str(request["Reply-To"])
        reply["Subject"] = "Re: your request"  # the [ref: ...] tag dropped by the client
        reply["Message-ID"] = "<reply-2@example.com>"
        reply.set_content("Here is my payslip.")
        with smtplib.SMTP("127.0.0.1", intake_port) as smtp:
            smtp.sendmail("bob@example.com", [str(request["Reply-To"])], reply.as_bytes())
    finally:
        listener.stop()

    with sessions() as session:
        found = session.get(Case, case_id)
        assert found is not None and found.status is CaseStatus.IN_REVIEW
        stored = session.scalars(select(InboundEmail)).one()
        assert stored.case_ids == [case_id]
