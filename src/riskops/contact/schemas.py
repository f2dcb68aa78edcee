"""Shapes that cross the contact package boundary (API bodies and answers)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from riskops.accounts.models import RestrictionKind
from riskops.kernel.bounds import LongText, Name, ShortText

ChannelName = Literal["email", "sms"]


class MessageIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A message to the case's account holder: a template, a channel and the template's
    values. ``language``: en, es or ru (default: the account's; English when the account's
    language has no template). ``details`` and ``due_at``: what the request for information
    asks and by when (sending it puts the case in waiting for the customer); ``restriction``:
    for the restriction notices; ``subject`` and ``message``: the free text of ``custom``.
    ``note``: why the information is requested (the case decision's note; defaults to the
    request itself). ``idempotency_key``: a second send with the same key sends nothing."""

    template: Name
    channel: ChannelName = "email"
    language: Name | None = None
    details: LongText = ""
    due_at: datetime | None = None
    restriction: RestrictionKind | None = None
    subject: ShortText = ""
    message: LongText = ""
    note: LongText = ""
    idempotency_key: Name | None = None


class TemplateOut(msgspec.Struct, kw_only=True):
    key: str
    title: str
    variables: list[str]
    languages: list[str]


class PreviewOut(msgspec.Struct, kw_only=True):
    """The rendered message as the customer would get it, and whether it may be sent."""

    template: str
    channel: str
    language: str
    fallback_from: str | None  # the account's language when it has no template
    channels: list[str]  # the channels the account can receive
    to: str | None  # masked
    subject: str
    text: str
    html: str
    sms: str
    blocked: str | None = None  # why sending would be refused (the words are not echoed)
    blocked_fields: list[str] = msgspec.field(default_factory=list)


class SentOut(msgspec.Struct, kw_only=True):
    id: int
    case_id: int
    template: str
    channel: str
    language: str
    to: str  # masked
    outbound_id: int
    outbound_message_id: str
    case_status: str
    waiting_until: datetime | None = None


class MessageOut(msgspec.Struct, kw_only=True):
    id: int
    template: str
    channel: str
    language: str
    to: str
    subject: str | None
    sent_by: str
    sent_at: datetime
    outbound_id: int


class ReplyOut(msgspec.Struct, kw_only=True):
    id: int
    channel: str
    sender: str
    body: str
    received_at: datetime


class SmsInbound(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An SMS a customer sent to the exchange's number, as the provider forwards it."""

    message_id: Name  # the provider's id: a second delivery of it is refused
    from_: Name = msgspec.field(name="from")  # E.164
    text: LongText
    received_at: datetime | None = None


class SmsInboundOut(msgspec.Struct, kw_only=True):
    id: int
    case_id: int | None
    account_id: str | None
    resumed: bool  # the case waited for this reply and is back in review
