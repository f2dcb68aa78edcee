"""Messages to account holders leave only as a ``Guarded``: one that contact's tipping-off
guard checked (ADR 0033).

An email or SMS to an account holder (it names an ``account_id``, or its purpose is one of
``CUSTOMER_PURPOSES``) is refused by ``service.enqueue``; ``service.enqueue_customer``
takes a ``Guarded`` instead, and sends exactly the fields it holds, so what was checked is
what leaves. Outbound sits below contact and cannot call the guard itself: it defines the
type, and ``riskops.contact.tipping.guard`` makes one after the check passed. A
``Guarded`` cannot be built by calling the class, nor changed; ``issue`` is contact's
guard's alone (``tests/outbound/test_outbound_guarded.py`` fails when another module of
riskops references it).
"""

from __future__ import annotations

from dataclasses import dataclass

from riskops.kernel.errors import Forbidden
from riskops.outbound.models import Channel

# Emails and SMS with these purposes are to account holders even without an account id.
CUSTOMER_PURPOSES = frozenset(
    {"customer_contact", "rfi", "decision_notice", "security_education", "security_notice"}
)


class Unguarded(Forbidden):
    """A message to an account holder that did not come through the tipping-off guard."""

    code = "unguarded_customer_message"


def is_customer_facing(channel: Channel, purpose: str, account_id: str | None) -> bool:
    """An email or SMS to an account holder: it names the account, or its purpose is a
    customer one. Webhooks go to the exchange, never to a customer."""
    return channel in (Channel.EMAIL, Channel.SMS) and (
        account_id is not None or purpose in CUSTOMER_PURPOSES
    )


@dataclass(frozen=True, slots=True, init=False)
class Guarded:
    """An email or SMS to the holder of ``account_id`` whose wording passed the
    tipping-off guard; made by ``riskops.contact.tipping.guard`` only."""

    channel: Channel
    to: str
    body: str
    account_id: str
    subject: str | None
    html: str | None
    reply_to: str | None
    case_id: int | None

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError(
            "a Guarded message is made by contact's tipping-off guard only"
            " (riskops.contact.tipping.guard, through contact.service.send)"
        )


def issue(
    *,
    channel: Channel,
    to: str,
    body: str,
    account_id: str,
    subject: str | None = None,
    html: str | None = None,
    reply_to: str | None = None,
    case_id: int | None = None,
) -> Guarded:
    """The checked message. For ``riskops.contact.tipping.guard`` only, once the guard
    found nothing in these very fields."""
    if channel not in (Channel.EMAIL, Channel.SMS) or not account_id:
        raise ValueError("a Guarded message is an email or SMS to an account holder")
    made = object.__new__(Guarded)
    fields = {
        "channel": channel,
        "to": to,
        "body": body,
        "account_id": account_id,
        "subject": subject,
        "html": html,
        "reply_to": reply_to,
        "case_id": case_id,
    }
    for name, value in fields.items():
        object.__setattr__(made, name, value)
    return made
