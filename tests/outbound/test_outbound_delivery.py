"""The deliverer sends email to a real SMTP server (plain, login, STARTTLS + login), waits
with backoff while the server is down, gives up after N attempts, and re-sends a message
with the same Message-ID after a crash between the send and the commit."""

from __future__ import annotations

import random
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from outbound_fakes import PASSWORD, USER, free_port, self_signed, smtp_server
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Principal, Role
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Conflict, Forbidden
from riskops.outbound import guarded, repository, service
from riskops.outbound.models import OutboundMessage, Status
from riskops.outbound.service import Attachment, Channel, enqueue
from riskops.outbound.tasks import Deliverer, Policy
from riskops.outbound.transports import (
    LocalSmsTransport,
    MailboxTransport,
    Outgoing,
    SmtpTransport,
    SmtpUrl,
    Transports,
    WebhookTransport,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MANAGER = Principal.for_user(2, "maya", Role.MANAGER)
ANALYST = Principal.for_user(3, "ali", Role.ANALYST)


def deliverer(engine: Engine, email: object, tmp_path: Path, **policy: float) -> Deliverer:
    transports = Transports(
        email=email,  # type: ignore[arg-type]
        sms=LocalSmsTransport(tmp_path / "sms"),
        webhook=WebhookTransport(),
    )
    return Deliverer(
        session_factory(engine),
        transports,
        Policy(**policy),  # type: ignore[arg-type]
        rng=random.Random(7),
    )


def queue_emails(engine: Engine, n: int, *, case_id: int | None = None) -> list[str]:
    ids = []
    with unit_of_work(session_factory(engine)) as s:
        for i in range(n):
            if i == 0:  # a notice with an attachment (managers' mail goes this way)
                q = enqueue(
                    s,
                    channel=Channel.EMAIL,
                    to=f"customer{i}@example.com",
                    subject=f"Request {i}",
                    body=f"Please send us document {i}.",
                    html=f"<p>Please send us document <b>{i}</b>.</p>",
                    attachments=[Attachment("letter.txt", "text/plain", b"hello")],
                    purpose="notice",
                    case_id=case_id,
                    now=T0,
                )
            else:  # customers' mail, as contact's guard hands it over (with a Reply-To)
                checked = guarded.issue(
                    channel=Channel.EMAIL,
                    to=f"customer{i}@example.com",
                    subject=f"Request {i}",
                    body=f"Please send us document {i}.",
                    html=f"<p>Please send us document <b>{i}</b>.</p>",
                    reply_to=f"reply+c{i}-token@reply.example.test",
                    case_id=case_id,
                    account_id=f"acc-{i}",
                )
                q = service.enqueue_customer(s, checked, purpose="rfi", now=T0)
            ids.append(q.message_id)
    return ids


def statuses(engine: Engine) -> list[Status]:
    with session_factory(engine)() as s:
        return [m.status for m in s.scalars(select(OutboundMessage).order_by(OutboundMessage.id))]


def test_email_reaches_the_smtp_server_with_its_message_id(engine: Engine, tmp_path: Path) -> None:
    ids = queue_emails(engine, 3, case_id=11)
    with smtp_server() as (inbox, port):
        smtp = SmtpTransport(SmtpUrl.parse(f"smtp://127.0.0.1:{port}"), "r@x.io")
        d = deliverer(engine, smtp, tmp_path)
        result = d.run_pass(now=T0)
    assert (result.sent, result.retrying, result.dead) == (3, 0, 0)
    assert sorted(inbox.ids()) == sorted(ids)
    first = next(m for m in inbox.messages if m["To"] == "customer0@example.com")
    kinds = [p.get_content_type() for p in first.walk()]
    assert "text/html" in kinds and "text/plain" in kinds
    assert [p.get_filename() for p in first.walk() if p.get_filename()] == ["letter.txt"]
    assert first["Reply-To"] is None
    second = next(m for m in inbox.messages if m["To"] == "customer1@example.com")
    assert second["Reply-To"] == "reply+c1-token@reply.example.test"
    assert statuses(engine) == [Status.SENT] * 3
    with session_factory(engine)() as s:
        [m, *_] = repository.for_case(s, 11)
        assert m.sent_at == T0 and m.attempts == 1
        assert [a.ok for a in repository.attempts_of(s, m.id)] == [True]


def test_login_over_starttls(sqlite_engine: Engine, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    ids = queue_emails(sqlite_engine, 2)
    with smtp_server(login=True, tls=server_tls) as (inbox, port):
        wrong = SmtpTransport(
            SmtpUrl.parse(f"smtp://{USER}:nope@127.0.0.1:{port}?starttls=true"),
            "r@x.io",
            tls_context=client_tls,
        )
        refused = deliverer(sqlite_engine, wrong, tmp_path).run_pass(now=T0)
        assert refused.retrying == 2 and inbox.ids() == []  # a bad login is retried, not dead
        right = SmtpTransport(
            SmtpUrl.parse(f"smtp://{USER}:{PASSWORD}@127.0.0.1:{port}?starttls=true"),
            "r@x.io",
            tls_context=client_tls,
        )
        later = T0 + timedelta(hours=2)
        assert deliverer(sqlite_engine, right, tmp_path).run_pass(now=later).sent == 2
    assert sorted(inbox.ids()) == sorted(ids)


# aiosmtpd's own TLS check knows STARTTLS only; on smtps the whole session is TLS already.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_login_over_implicit_tls(sqlite_engine: Engine, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    ids = queue_emails(sqlite_engine, 1)
    with smtp_server(login=True, implicit_tls=server_tls) as (inbox, port):
        smtps = SmtpTransport(
            SmtpUrl.parse(f"smtps://{USER}:{PASSWORD}@127.0.0.1:{port}"),
            "r@x.io",
            tls_context=ssl.create_default_context(cafile=str(cert)),
        )
        assert deliverer(sqlite_engine, smtps, tmp_path).run_pass(now=T0).sent == 1
    assert inbox.ids() == ids


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_login_without_tls_where_the_server_allows_it(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    queue_emails(sqlite_engine, 1)
    with smtp_server(login=True) as (inbox, port):
        url = SmtpUrl.parse(f"smtp://{USER}:{PASSWORD}@127.0.0.1:{port}")
        assert (
            deliverer(sqlite_engine, SmtpTransport(url, "r@x.io"), tmp_path).run_pass(now=T0).sent
            == 1
        )
    assert len(inbox.messages) == 1


def test_server_down_backs_off_then_dies_then_a_manager_retries(
    engine: Engine, tmp_path: Path
) -> None:
    [mid] = queue_emails(engine, 1)
    port = free_port()  # nothing listens
    transport = SmtpTransport(SmtpUrl.parse(f"smtp://127.0.0.1:{port}"), "r@x.io")
    policy = {"max_attempts": 3, "retry_seconds": 10, "retry_max_seconds": 25}
    d = deliverer(engine, transport, tmp_path, **policy)
    now = T0
    waits = []
    for attempt in (1, 2):
        assert d.run_pass(now=now).retrying == 1
        with session_factory(engine)() as s:
            m = s.scalars(select(OutboundMessage)).one()
            assert m.status is Status.RETRYING and m.attempts == attempt and m.last_error
            waits.append((m.next_attempt_at - now).total_seconds())
            assert d.run_pass(now=m.next_attempt_at - timedelta(seconds=1)).claimed == 0
            now = m.next_attempt_at
    assert 5 <= waits[0] <= 10 and 10 <= waits[1] <= 20  # doubling, jittered, never < half
    assert d.run_pass(now=now).dead == 1
    assert statuses(engine) == [Status.DEAD]
    assert d.run_pass(now=now + timedelta(days=1)).claimed == 0  # dead stays dead

    sessions = session_factory(engine)
    with pytest.raises(Forbidden), unit_of_work(sessions) as s:
        service.retry(s, ANALYST, 1)
    with unit_of_work(sessions) as s:
        [m] = s.scalars(select(OutboundMessage)).all()
        service.retry(s, MANAGER, m.id, now=now)
    with pytest.raises(Conflict), unit_of_work(sessions) as s:
        service.retry(s, MANAGER, m.id, now=now)
    with smtp_server(port=port) as (inbox, _):
        assert d.run_pass(now=now).sent == 1
    assert inbox.ids() == [mid]
    with sessions() as s:
        actions = s.scalars(select(AuditEntry.action)).all()
        assert "outbox.retry" in actions


class CrashAfterSend:
    """The transport sends, then the process 'dies' before the outcome is recorded."""

    def __init__(self, inner: SmtpTransport) -> None:
        self.inner = inner

    def send(self, message: Outgoing) -> None:
        self.inner.send(message)
        raise SystemExit("crash between send and commit")

    def close(self) -> None:
        self.inner.close()


def test_a_crash_between_send_and_commit_resends_the_same_message_id(
    engine: Engine, tmp_path: Path
) -> None:
    [mid] = queue_emails(engine, 1)
    with smtp_server() as (inbox, port):
        smtp = SmtpTransport(SmtpUrl.parse(f"smtp://127.0.0.1:{port}"), "r@x.io")
        crashing = deliverer(engine, CrashAfterSend(smtp), tmp_path, lease_seconds=60)
        with pytest.raises(SystemExit):
            crashing.run_pass(now=T0)
        assert statuses(engine) == [Status.SENDING]  # leased, not lost
        d = deliverer(engine, smtp, tmp_path, lease_seconds=60)
        assert d.run_pass(now=T0 + timedelta(seconds=30)).claimed == 0  # lease still held
        assert d.run_pass(now=T0 + timedelta(seconds=61)).sent == 1
    assert inbox.ids() == [mid, mid]  # twice, with one id: the receiver drops the second
    assert statuses(engine) == [Status.SENT]


def test_without_smtp_the_local_mailbox_keeps_one_file_per_message(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    ids = queue_emails(sqlite_engine, 2)
    with unit_of_work(session_factory(sqlite_engine)) as s:
        enqueue(
            s, channel=Channel.SMS, to="+447700900123", body="Your code", purpose="notice", now=T0
        )
    box = MailboxTransport(tmp_path / "mail", "r@x.io")
    result = deliverer(sqlite_engine, box, tmp_path).run_pass(now=T0)
    assert result.sent == 3
    assert sorted(p.stem for p in (tmp_path / "mail").glob("*.eml")) == sorted(ids)
    [sms] = list((tmp_path / "sms").glob("*.txt"))
    assert "Your code" in sms.read_text()


class Broken:
    """A transport with a defect on one message: it raises something unexpected."""

    def __init__(self, inner: MailboxTransport, bad: str) -> None:
        self.inner, self.bad = inner, bad

    def send(self, message: Outgoing) -> None:
        if message.to == self.bad:
            raise KeyError("content_type")
        self.inner.send(message)

    def close(self) -> None:
        self.inner.close()


def test_a_defect_on_one_message_fails_that_message_only(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    queue_emails(sqlite_engine, 3)
    box = Broken(MailboxTransport(tmp_path / "mail", "r@x.io"), "customer1@example.com")
    d = deliverer(sqlite_engine, box, tmp_path, max_attempts=2)
    result = d.run_pass(now=T0)
    assert (result.sent, result.retrying) == (2, 1)
    assert d.run_pass(now=T0 + timedelta(hours=1)).dead == 1
    assert statuses(sqlite_engine) == [Status.SENT, Status.DEAD, Status.SENT]


class Counting:
    def __init__(self, inner: SmtpTransport) -> None:
        self.inner, self.calls = inner, 0

    def send(self, message: Outgoing) -> None:
        self.calls += 1
        self.inner.send(message)

    def close(self) -> None:
        self.inner.close()


def test_an_unreachable_server_is_tried_once_per_pass(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    queue_emails(sqlite_engine, 3)
    port = free_port()
    counting = Counting(SmtpTransport(SmtpUrl.parse(f"smtp://127.0.0.1:{port}"), "r@x.io"))
    d = deliverer(sqlite_engine, counting, tmp_path)
    assert d.run_pass(now=T0).retrying == 3
    assert counting.calls == 1  # the other two were not knocked for
    with smtp_server(port=port) as (inbox, _):
        assert d.run_pass(now=T0 + timedelta(hours=1)).sent == 3
    assert len(inbox.messages) == 3


def test_a_pass_stops_at_its_time_budget_and_gives_the_rest_back(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    queue_emails(sqlite_engine, 3)
    ticks = iter(range(100))
    d = deliverer(sqlite_engine, MailboxTransport(tmp_path / "m", "r@x.io"), tmp_path)
    d.policy = Policy(pass_seconds=1.5)
    d.timer = lambda: float(next(ticks))  # one second per look at the clock
    result = d.run_pass(now=T0)
    assert (result.claimed, result.sent) == (3, 1)
    assert statuses(sqlite_engine) == [Status.SENT, Status.QUEUED, Status.QUEUED]
    d.timer = lambda: 0.0
    assert d.run_pass(now=T0).sent == 2
