"""enqueue writes a message in the caller's transaction (a rollback loses it with the
change), dedupes on its key, and refuses what its channel cannot carry; emit fans a topic
out to the subscriptions of that topic only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from riskops.auth.permissions import Principal, Role
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import ValidationFailed
from riskops.outbound import repository, webhooks
from riskops.outbound.models import OutboundMessage, Status
from riskops.outbound.service import Attachment, Channel, enqueue

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADMIN = Principal.for_user(1, "ada", Role.ADMIN)


def count(engine: Engine) -> int:
    with session_factory(engine)() as s:
        return int(s.scalar(select(func.count()).select_from(OutboundMessage)) or 0)


def test_enqueue_commits_with_the_caller_and_dedupes(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as s:
        first = enqueue(
            s,
            channel=Channel.EMAIL,
            to="a@example.com",
            subject="Hello",
            body="text",
            purpose="case.notice",
            case_id=7,
            dedupe_key="rfi:7:1",
            attachments=[Attachment("a.pdf", "application/pdf", b"%PDF")],
            now=T0,
        )
        again = enqueue(
            s,
            channel=Channel.EMAIL,
            to="a@example.com",
            subject="Hello",
            body="text",
            purpose="case.notice",
            dedupe_key="rfi:7:1",
            now=T0,
        )
        assert again == first
    with unit_of_work(sessions) as s:
        third = enqueue(
            s,
            channel=Channel.EMAIL,
            to="b@example.com",
            subject="Hi",
            body="x",
            purpose="case.notice",
            dedupe_key="rfi:7:1",
        )
        assert third == first
    with pytest.raises(RuntimeError), unit_of_work(sessions) as s:
        enqueue(s, channel=Channel.SMS, to="+447700900123", body="code", purpose="notice")
        raise RuntimeError("the caller's change failed")
    assert count(engine) == 1
    with sessions() as s:
        [row] = repository.for_case(s, 7)
        assert row.status is Status.QUEUED and row.message_id == first.message_id
        assert row.attachments[0]["filename"] == "a.pdf"


@pytest.mark.parametrize(
    ("channel", "to", "field"),
    [
        (Channel.EMAIL, "not-an-address", "to"),
        (Channel.EMAIL, "a@example.com\r\nBcc: x@y.z", "to"),
        (Channel.SMS, "0770090", "to"),
        (Channel.WEBHOOK, "ftp://example.com/x", "to"),
    ],
    ids=["email-bare", "email-header-injection", "sms-not-e164", "webhook-not-http"],
)
def test_enqueue_refuses_what_the_channel_cannot_carry(
    sqlite_engine: Engine, channel: Channel, to: str, field: str
) -> None:
    with session_factory(sqlite_engine)() as s, pytest.raises(ValidationFailed) as err:
        enqueue(s, channel=channel, to=to, subject="s", body="b", purpose="p")
    assert field in [d["field"] for d in err.value.details]


def test_emit_reaches_only_the_topic_subscribers(engine: Engine) -> None:
    sessions = session_factory(engine)
    webhooks.invalidate()
    with pytest.raises(ValidationFailed) as err, unit_of_work(sessions) as s:
        webhooks.create_subscription(s, ADMIN, url="http://:80/x", topics=["case.closed", "x"])
    assert [d["field"] for d in err.value.details] == ["$.url", "$.topics"]
    with unit_of_work(sessions) as s:
        assert webhooks.emit(s, "case.closed", {"case_id": 1}) == 0
        held = webhooks.create_subscription(
            s, ADMIN, url="http://127.0.0.1:9/hook", topics=["decision.held"]
        )
        webhooks.create_subscription(
            s, ADMIN, url="http://127.0.0.1:9/all", topics=["decision.held", "case.closed"]
        )
    with unit_of_work(sessions) as s:
        assert webhooks.emit(s, "decision.held", {"account_id": "acc-1", "amount": "5"}) == 2
        assert webhooks.emit(s, "case.closed", {"case_id": 3}) == 1
        assert webhooks.emit(s, "hold.resolved", {"hold_id": 3}) == 0
        webhooks.delete_subscription(s, ADMIN, held.id)
    with unit_of_work(sessions) as s:
        assert webhooks.emit(s, "decision.held", {"account_id": "acc-2"}) == 1
    assert count(engine) == 4
    webhooks.invalidate()
