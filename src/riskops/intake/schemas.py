"""Bodies that enter intake over HTTP (SMS provider signals, service requests), decoded with
msgspec; a refused body lists every bad field (``riskops.events.validation.field_errors``)."""

from __future__ import annotations

import enum
from typing import Annotated, Any, TypeVar, cast

import msgspec
from msgspec import Meta

from riskops.events.schemas import Id, UtcTime, check_bounds
from riskops.events.validation import FieldError, bound_checks, field_errors
from riskops.kernel.bounds import decode_json, string_problems

T = TypeVar("T")

Phone = Annotated[
    str, Meta(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164, e.g. +447700900123")
]
Provider = Annotated[
    str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="e.g. twilio")
]
Text = Annotated[str, Meta(min_length=1, max_length=256)]
LongText = Annotated[str, Meta(min_length=1, max_length=20_000)]


class SmsSignalType(enum.StrEnum):
    SIM_SWAP = "sim_swap"
    NUMBER_PORTED = "number_ported"
    OTP_DELIVERY_FAILURE = "otp_delivery_failure"


class SmsSignal(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A provider's notice about a phone number: SIM swapped, number ported, OTP not delivered.

    ``signal_id`` is the provider's own id: a retry with the same (provider, signal_id)
    changes nothing. ``account_id`` is optional; without it the phone number links.
    """

    signal_id: Id
    type: SmsSignalType
    phone: Phone
    occurred_at: UtcTime
    provider: Provider
    account_id: Id | None = None
    detail: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        check_bounds(self)  # the event schema's bounds on ids and times (ADR 0015)


class ServiceRequestKind(enum.StrEnum):
    DISPUTE = "dispute"
    APPEAL = "appeal"
    UNLOCK_REQUEST = "unlock_request"
    NOT_ME = "not_me"


class ContactChannel(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"
    SMS = "sms"
    WEB = "web"
    IN_PERSON = "in_person"


class ServiceRequestIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A support ticket that needs a risk analyst: a dispute, an appeal of a restriction, an
    unlock request or a customer saying "this was not me".

    ``request_id`` (the helpdesk ticket id) makes a retry harmless; without it every call is
    a new request. ``raised_by`` defaults to the caller (user or token name).
    """

    account_id: Id
    kind: ServiceRequestKind
    subject: Text
    description: LongText
    request_id: Id | None = None
    raised_by: Text | None = None
    contact_channel: ContactChannel | None = None

    def __post_init__(self) -> None:
        check_bounds(self)  # the event schema's bounds on ids (ADR 0015)


class ServiceRequestOut(msgspec.Struct, kw_only=True):
    request_id: str
    alert_id: int
    case_id: int
    queue: str
    created: bool  # False: this request_id was already received
    warnings: list[str]


class SignalAlertOut(msgspec.Struct, kw_only=True):
    account_id: str | None
    alert_id: int
    case_id: int
    queue: str
    created: bool


class SignalOut(msgspec.Struct, kw_only=True):
    signal_id: str
    provider: str
    duplicate: bool  # every alert of this signal was already stored
    linked_by: str | None  # account_id | phone | None (unlinked: triage)
    alerts: list[SignalAlertOut]
    events_accepted: int  # provider.signal events newly written to the event log


def decode(raw: bytes, cls: type[T]) -> T | list[FieldError]:
    """The body as ``cls``, or every field-level reason why it is not one."""
    try:
        body = cast(T, decode_json(raw, cls))  # not UTF-8, nested too deep: DecodeError too
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as exc:
        return [FieldError("$", f"not valid JSON: {exc}")]
    else:
        # any string, whatever its type: no control characters (``riskops.kernel.bounds``)
        problems = string_problems(body)
        return [FieldError(*problem) for problem in problems] if problems else body
    return field_errors(msgspec.json.decode(raw), cls, checks=bound_checks(cls))


class AttachmentOut(msgspec.Struct, kw_only=True):
    position: int  # n in /v1/emails/{id}/attachments/{n}
    filename: str | None
    content_type: str
    size: int
    sha256: str


class EmailOut(msgspec.Struct, kw_only=True):
    """A received message; ``text_body``, ``link_evidence`` and ``to`` only in the detail."""

    id: int
    ref: str
    message_id: str | None
    from_address: str | None
    from_name: str | None
    subject: str
    sent_at: str | None
    received_at: str
    channel: str
    category: str
    account_ids: list[str]
    case_ids: list[int]
    attachments: list[AttachmentOut]
    size: int
    to: list[str] | None = None
    text_body: str | None = None
    body_from: str | None = None
    link_evidence: list[dict[str, Any]] | None = None
    defects: list[str] | None = None


class EmailPage(msgspec.Struct, kw_only=True):
    total: int
    limit: int
    offset: int
    items: list[EmailOut]
