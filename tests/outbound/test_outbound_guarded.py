"""An email or SMS to an account holder leaves only as contact's guarded message: a direct
``enqueue`` of one is refused (nothing written), a ``Guarded`` cannot be built or changed
outside contact's guard, and no module of riskops but the guard makes one. The Reply-To
is stored, validated and sent as the header."""

from __future__ import annotations

import ast
import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

import riskops
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Forbidden, ValidationFailed
from riskops.outbound import guarded
from riskops.outbound.models import OutboundMessage
from riskops.outbound.service import Channel, enqueue, enqueue_customer
from riskops.outbound.transports import Outgoing, email_message

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADDRESS = {Channel.EMAIL: "holder@example.com", Channel.SMS: "+447700900123"}


def count(engine: Engine) -> int:
    with session_factory(engine)() as s:
        return int(s.scalar(select(func.count()).select_from(OutboundMessage)) or 0)


def checked(channel: Channel = Channel.EMAIL, **fields: object) -> guarded.Guarded:
    """A message as contact's guard hands it over (tests may call ``issue``)."""
    base: dict[str, object] = {
        "channel": channel,
        "to": ADDRESS[channel],
        "body": "Please send a bank statement.",
        "account_id": "acc-1",
        "case_id": 3,
    }
    if channel is Channel.EMAIL:
        base["subject"] = "A document for your account"
    return guarded.issue(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.SMS])
@pytest.mark.parametrize(
    ("purpose", "account_id"),
    [("notice", "acc-1"), *((p, None) for p in sorted(guarded.CUSTOMER_PURPOSES))],
)
def test_a_direct_customer_enqueue_is_refused(
    sqlite_engine: Engine, channel: Channel, purpose: str, account_id: str | None
) -> None:
    with (
        pytest.raises(guarded.Unguarded) as refused,
        unit_of_work(session_factory(sqlite_engine)) as s,
    ):
        enqueue(
            s,
            channel=channel,
            to=ADDRESS[channel],
            subject="Hello" if channel is Channel.EMAIL else None,
            body="We filed a SAR about you.",
            purpose=purpose,
            account_id=account_id,
            case_id=3,
        )
    assert isinstance(refused.value, Forbidden) and refused.value.status_code == 403
    assert "contact.service.send" in refused.value.message
    assert count(sqlite_engine) == 0


def test_managers_mail_and_webhooks_go_as_before(sqlite_engine: Engine) -> None:
    with unit_of_work(session_factory(sqlite_engine)) as s:
        enqueue(
            s,
            channel=Channel.EMAIL,
            to="manager@exchange.example",
            subject="riskops weekly digest",
            body="figures",
            purpose="report.digest",
        )
        enqueue(s, channel=Channel.SMS, to="+447700900999", body="on call", purpose="oncall")
        enqueue(s, channel=Channel.WEBHOOK, to="https://x.io/h", body="{}", purpose="webhook")
    assert count(sqlite_engine) == 3


def test_the_guarded_message_is_what_is_stored(sqlite_engine: Engine) -> None:
    reply = "reply+c3-abcdefghijklmnop@reply.example.test"
    with unit_of_work(session_factory(sqlite_engine)) as s:
        email = enqueue_customer(s, checked(reply_to=reply), purpose="customer_contact", now=T0)
        sms = enqueue_customer(s, checked(Channel.SMS), purpose="customer_contact", now=T0)
    with session_factory(sqlite_engine)() as s:
        stored = s.get(OutboundMessage, email.id)
        assert stored is not None and stored.reply_to == reply
        assert (stored.account_id, stored.case_id, stored.recipient) == (
            "acc-1",
            3,
            "holder@example.com",
        )
        texted = s.get(OutboundMessage, sms.id)
        assert texted is not None and texted.reply_to is None and texted.channel is Channel.SMS


def test_a_guarded_message_is_made_by_the_guard_only_and_cannot_change() -> None:
    with pytest.raises(TypeError):
        guarded.Guarded(Channel.EMAIL, "a@example.com", "text", "acc-1")
    message = checked()
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.body = "We filed a SAR."  # type: ignore[misc]
    with pytest.raises(TypeError):
        dataclasses.replace(message, body="We filed a SAR.")
    with pytest.raises(ValueError):
        guarded.issue(channel=Channel.WEBHOOK, to="https://x.io", body="{}", account_id="a")
    with pytest.raises(ValueError):
        guarded.issue(channel=Channel.SMS, to="+447700900123", body="hi", account_id="")


def test_enqueue_customer_takes_nothing_but_a_guarded_message(sqlite_engine: Engine) -> None:
    @dataclasses.dataclass
    class LookAlike:
        channel: Channel = Channel.EMAIL
        to: str = "holder@example.com"
        body: str = "We filed a SAR."
        account_id: str = "acc-1"
        subject: str | None = "x"
        html: str | None = None
        reply_to: str | None = None
        case_id: int | None = None

    with pytest.raises(guarded.Unguarded), session_factory(sqlite_engine)() as s:
        enqueue_customer(s, LookAlike(), purpose="rfi")  # type: ignore[arg-type]
    assert count(sqlite_engine) == 0


@pytest.mark.parametrize(
    ("channel", "reply_to"),
    [
        (Channel.EMAIL, "reply@example.com\r\nBcc: x@example.com"),
        (Channel.EMAIL, "not an address"),
        (Channel.EMAIL, "a@b@c"),
        (Channel.EMAIL, "x" * 250 + "@example.com"),
        (Channel.SMS, "reply@example.com"),
    ],
    ids=["header-injection", "bare", "two-ats", "too-long", "sms"],
)
def test_a_reply_to_the_message_cannot_carry_is_refused(
    sqlite_engine: Engine, channel: Channel, reply_to: str
) -> None:
    with session_factory(sqlite_engine)() as s, pytest.raises(ValidationFailed) as err:
        enqueue(
            s,
            channel=channel,
            to=ADDRESS[channel],
            subject="s",
            body="b",
            purpose="notice",
            reply_to=reply_to,
        )
    assert "reply_to" in [d["field"] for d in err.value.details]
    with session_factory(sqlite_engine)() as s, pytest.raises(ValidationFailed):
        enqueue_customer(s, checked(channel, reply_to=reply_to), purpose="rfi")


def test_the_reply_to_is_the_emails_header() -> None:
    out = Outgoing(
        pk=1,
        channel=Channel.EMAIL,
        message_id="m-1",
        to="holder@example.com",
        body="text",
        subject="s",
        reply_to="reply+c1-abcdefghijklmnop@localhost",
    )
    assert email_message(out, "risk@exchange.example")["Reply-To"] == out.reply_to
    plain = dataclasses.replace(out, reply_to=None)
    assert email_message(plain, "risk@exchange.example")["Reply-To"] is None


def _issuers(path: Path) -> bool:
    """Whether a module references ``riskops.outbound.guarded.issue``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and (node.module or "").endswith("guarded")
            and any(alias.name == "issue" for alias in node.names)
        ):
            return True
        if isinstance(node, ast.Attribute) and node.attr == "issue":
            owner = node.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name == "guarded":
                return True
    return False


def test_only_contacts_guard_issues_guarded_messages() -> None:
    src = Path(riskops.__file__).parent
    found = sorted(str(p.relative_to(src)) for p in src.rglob("*.py") if _issuers(p))
    assert found == ["contact/tipping.py"]
