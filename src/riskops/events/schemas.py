"""The canonical event schema (version 1): a tagged union on ``type``.

Every event carries an id (the idempotency key), its type, the account it belongs to and
when it happened (timezone-aware UTC). Money is exact: ``amount`` is a Decimal in the unit
of ``asset`` and ``usd_value`` is the USD value at event time, a Decimal with at most two
decimal places. The wire format is flat JSON: type-specific fields sit beside the envelope.

msgspec Structs decode and validate in one pass, several times faster than pydantic; the
hot path (HTTP batches, file ingestion, the broker) needs it.

Every field is bounded (ADR 0015): the annotated types below name their bound
(``riskops.kernel.bounds``: identifiers, text, IP addresses, times, amounts, USD values),
and each struct's ``__post_init__`` runs its fields' checks, compiled per struct, on every
path that makes an event (decoding, ``convert``, the constructor).
"""

from __future__ import annotations

import enum
import types
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, cast

import msgspec
import msgspec.inspect as mi
from msgspec import Meta

from riskops.kernel import bounds
from riskops.kernel.bounds import BOUNDS

SCHEMA_VERSION = 1


def _bound(kind: str, description: str, **constraints: Any) -> Meta:
    """Constraints msgspec checks, and the bound (``riskops.kernel.bounds``) that
    ``__post_init__`` checks after them: ``extra["bound"]`` names it."""
    return Meta(description=description, extra={"bound": kind}, **constraints)


Id = Annotated[
    str,
    _bound(
        "identifier",
        "an identifier: no surrounding spaces, no control or invisible characters",
        min_length=1,
        max_length=BOUNDS.max_identifier_length,
    ),
]
Short = Annotated[
    str, _bound("text", "text without control characters", min_length=1, max_length=256)
]
LongText = Annotated[str, _bound("text", "text without control characters", max_length=1024)]
Ip = Annotated[str, _bound("ip", "an IPv4 or IPv6 address", min_length=1, max_length=64)]
Country = Annotated[str, Meta(pattern="^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
Asset = Annotated[str, Meta(pattern="^[A-Z0-9]{2,12}$", description="asset ticker, e.g. BTC")]
UtcTime = Annotated[
    datetime,
    _bound("time", "RFC 3339 with a UTC offset, from 2009 to a few minutes ahead", tz=True),
]
BirthDate = Annotated[date, _bound("birth_date", "a date of birth, from 1900 to today")]
Amount = Annotated[Decimal, _bound("amount", "a positive amount, bounded in size and decimals")]
Usd = Annotated[Decimal, _bound("usd", "a non-negative USD value in whole cents, bounded")]

PROBLEMS: dict[str, Callable[[Any], str | None]] = {
    "identifier": bounds.identifier_problem,
    "text": bounds.text_problem,
    "ip": bounds.ip_problem,
    "time": bounds.time_problem,
    "birth_date": bounds.birth_date_problem,
    "amount": bounds.amount_problem,
    "usd": bounds.usd_problem,
}
"""By bound: why a value is refused (``riskops.kernel.bounds``), or None."""


def bound_of(kind: Any) -> str | None:
    """The bound a field's type carries (``msgspec.inspect`` type), if any."""
    if isinstance(kind, mi.UnionType):
        found = {bound_of(t) for t in kind.types} - {None}
        return found.pop() if found else None
    if isinstance(kind, mi.Metadata):
        return (kind.extra or {}).get("bound") or bound_of(kind.type)
    return None


def bounded_fields(cls: type[Any]) -> tuple[tuple[str, str, str], ...]:
    """``(attribute, wire name, bound)`` of every bounded field of a struct."""
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return tuple(
        (field.name, field.encode_name, bound)
        for field in info.fields
        if (bound := bound_of(field.type)) is not None
    )


# By bound, a condition on ``v`` that most valid values meet without a call (C methods and
# comparisons only); a value that fails it goes to the bound's check, which decides and says
# why. A condition may also raise when it cannot tell (ArithmeticError; TypeError: a time
# without an offset, which only the constructor lets through): the bound checks of every
# field then decide (``_refuse_first``). The checks run for every event decoded, so they
# are compiled per struct into one function of plain statements (``_compile``): a loop over
# fields cost twice as much.
_INLINE = {
    # strip() returns the string itself when there is nothing to strip (else: the check)
    "identifier": "len(v) <= ID_CHARS and v.isprintable() and v.strip() is v and v",
    "text": "v.isprintable()",
    "ip": "v in KNOWN_IPS or ip_fast(v)",
    "time": "EARLIEST <= v <= bounds.known_past",
    "birth_date": "False",  # rare: always the full check
    # A quantize in EXACT raises Inexact when it would lose digits: its result needs no
    # comparison with v, which cost as much as the quantize (and it is no answer: 0.00 is
    # falsy). Its arguments by position: by keyword the call costs three times as much.
    "amount": (
        "v.is_finite() and ZERO < v <= MAX_AMOUNT and v.quantize(STEP, None, EXACT) is not None"
    ),
    "usd": ("v.is_finite() and ZERO <= v <= MAX_USD and v.quantize(CENT, None, EXACT) is not None"),
}
assert set(_INLINE) == set(PROBLEMS), "a bound without its inline condition"
_NAMESPACE = {
    "bounds": bounds,
    "ZERO": Decimal(0),
    "ID_CHARS": BOUNDS.max_identifier_length,
    "EARLIEST": BOUNDS.min_event_time,
    "MAX_AMOUNT": BOUNDS.max_amount,
    "MAX_USD": BOUNDS.max_usd_value,
    "STEP": bounds.AMOUNT_STEP,
    "CENT": bounds.CENT,
    "EXACT": bounds.EXACT,
    "ip_fast": bounds.ip_fast,
    "KNOWN_IPS": bounds.KNOWN_IPS,
}


def _refuse(bound: str, wire_name: str, value: Any) -> None:
    reason = PROBLEMS[bound](value)
    if reason is not None:
        raise ValueError(f"`{wire_name}` {reason}")


_FIELDS: dict[type, tuple[tuple[str, str, str], ...]] = {}


def _refuse_first(obj: msgspec.Struct) -> None:
    """The bound checks of every field of ``obj``, in order, without the inline
    conditions: the first refusal raises (the compiled check's answer, when a condition
    could not tell)."""
    fields = _FIELDS.get(obj.__class__)
    if fields is None:
        fields = _FIELDS[obj.__class__] = bounded_fields(obj.__class__)
    for name, wire_name, bound in fields:
        value = getattr(obj, name)
        if value is not None:
            _refuse(bound, wire_name, value)


# For the fields of an event decoded from a JSON text whose strings are known printable
# (``PLAIN_TYPES``): an identifier's condition without ``isprintable``, no text condition.
_INLINE_PRINTABLE = {
    **_INLINE,
    "identifier": "len(v) <= ID_CHARS and v.strip() is v and v",
    "text": None,
}


def _compile(
    cls: type[msgspec.Struct], *, printable: bool = False, envelope: bool = False
) -> Callable[[Any], None]:
    """The bound checks of a struct's fields as one function (see ``_INLINE``).
    ``printable``: its strings are known printable (``_INLINE_PRINTABLE``); ``envelope``:
    the function is the whole ``__post_init__`` of an event, schema version included."""
    inline = _INLINE_PRINTABLE if printable else _INLINE
    lines = ["def check(self):"]
    if envelope:
        lines.append("    if self.schema_version != SCHEMA_VERSION:")
        lines.append("        wrong_version(self.schema_version)")
    lines.append("    try:")
    for name, wire_name, bound in bounded_fields(cls):
        condition = inline[bound]
        if condition is None:
            continue
        lines.append(f"        v = self.{name}")
        lines.append(f"        if v is not None and not ({condition}):")
        lines.append(f"            refuse({bound!r}, {wire_name!r}, v)")
    lines.append("    except (ArithmeticError, TypeError):")
    lines.append("        refuse_first(self)")
    lines.append("    return None")
    namespace = {
        **_NAMESPACE,
        "refuse": _refuse,
        "refuse_first": _refuse_first,
        "wrong_version": _wrong_version,
        "SCHEMA_VERSION": SCHEMA_VERSION,
    }
    exec("\n".join(lines), namespace)
    return cast("Callable[[Any], None]", namespace["check"])


_CHECKS: dict[type, Callable[[Any], None]] = {}


def check_bounds(obj: msgspec.Struct) -> None:
    """Raise ValueError naming the first field of ``obj`` outside its bound."""
    check = _CHECKS.get(obj.__class__)
    if check is None:
        check = _CHECKS[obj.__class__] = _compile(obj.__class__)
    check(obj)


class Rail(enum.StrEnum):
    CRYPTO = "crypto"
    CARD = "card"
    BANK = "bank"


class KycResult(enum.StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    RESUBMIT = "resubmit"


class SecurityChangeKind(enum.StrEnum):
    PASSWORD_RESET = "password_reset"
    TWO_FA_RESET = "2fa_reset"
    TWO_FA_DISABLED = "2fa_disabled"
    EMAIL_CHANGED = "email_changed"
    PHONE_CHANGED = "phone_changed"
    API_KEY_CREATED = "api_key_created"
    WHITELIST_CHANGED = "whitelist_changed"
    ANTIPHISHING_CHANGED = "antiphishing_changed"


class SignalKind(enum.StrEnum):
    SIM_SWAP = "sim_swap"
    NUMBER_PORTED = "number_ported"
    SMS_DELIVERY_FAILURE = "sms_delivery_failure"
    EMAIL_BOUNCE = "email_bounce"


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


class Event(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True):
    """Envelope shared by every event type."""

    event_id: Id
    account_id: Id
    occurred_at: UtcTime
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            _wrong_version(self.schema_version)
        _CHECKS[self.__class__](self)  # compiled for every event type below


def _wrong_version(version: int) -> None:
    raise ValueError(f"unsupported `schema_version` {version}")


# --- account and identity -------------------------------------------------------------


class AccountCreated(Event, tag="account.created"):
    email: Short | None = None
    phone: Short | None = None
    country: Country | None = None
    referral_code: Short | None = None
    referred_by: Id | None = None
    ip: Ip | None = None
    device_id: Short | None = None
    corporate: bool = False


class KycSubmitted(Event, tag="kyc.submitted"):
    level: Annotated[int, Meta(ge=0, le=3)]
    document_type: Short | None = None
    document_country: Country | None = None
    full_name: Short | None = None
    date_of_birth: BirthDate | None = None
    nationality: Country | None = None


class KycDecided(Event, tag="kyc.decided"):
    level: Annotated[int, Meta(ge=0, le=3)]
    result: KycResult
    document_type: Short | None = None
    document_country: Country | None = None
    full_name: Short | None = None
    date_of_birth: BirthDate | None = None
    nationality: Country | None = None
    reason: Short | None = None


class BeneficialOwner(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    full_name: Short
    ownership_pct: Annotated[float, Meta(ge=0, le=100)]
    date_of_birth: BirthDate | None = None
    nationality: Country | None = None

    def __post_init__(self) -> None:
        check_bounds(self)


class KybSubmitted(Event, tag="kyb.submitted"):
    legal_name: Short
    registration_number: Short
    country: Country
    beneficial_owners: list[BeneficialOwner] = []


class KybDecided(Event, tag="kyb.decided"):
    result: KycResult
    legal_name: Short | None = None
    registration_number: Short | None = None
    country: Country | None = None
    beneficial_owners: list[BeneficialOwner] = []
    reason: Short | None = None


# --- access and security --------------------------------------------------------------


class Login(Event, tag="login"):
    success: bool
    ip: Ip | None = None
    ip_country: Country | None = None
    device_id: Short | None = None
    user_agent: LongText | None = None
    two_fa_method: Short | None = None
    failure_reason: Short | None = None


class Session(Event, tag="session"):
    ip: Ip | None = None
    ip_country: Country | None = None
    device_id: Short | None = None
    user_agent: LongText | None = None


class SecurityChange(Event, tag="security.change"):
    change: SecurityChangeKind
    channel: Short | None = None  # how it was verified: sms, email, app, support
    ip: Ip | None = None
    ip_country: Country | None = None
    device_id: Short | None = None
    new_value: Short | None = None  # the new phone or email, where there is one


# --- money movement -------------------------------------------------------------------


class Money(Event):
    asset: Asset
    amount: Amount
    usd_value: Usd


class Deposit(Money, tag="deposit"):
    rail: Rail
    chain: Short | None = None
    tx_hash: Short | None = None
    source_address: Short | None = None
    # Fingerprint of the card or bank account for fiat deposits.
    instrument_id: Short | None = None


class WithdrawalRequested(Money, tag="withdrawal.requested"):
    withdrawal_id: Id | None = None
    chain: Short | None = None
    address: Short | None = None
    rail: Rail = Rail.CRYPTO
    instrument_id: Short | None = None
    ip: Ip | None = None
    ip_country: Country | None = None
    device_id: Short | None = None


class TransferInternal(Money, tag="transfer.internal"):
    """A transfer to another user of the exchange (``counterparty_id``)."""

    counterparty_id: Id
    transfer_id: Id | None = None
    method: Short | None = None


class Trade(Money, tag="trade"):
    side: Side
    quote_asset: Asset
    price: Amount | None = None


class P2POrder(Money, tag="p2p.order"):
    side: Side
    counterparty_id: Id
    payment_method: Short | None = None
    counterparty_name: Short | None = None
    order_id: Id | None = None


class CardChargeback(Money, tag="card.chargeback"):
    deposit_event_id: Id | None = None
    instrument_id: Short | None = None
    reason: Short | None = None


# --- provider signals -----------------------------------------------------------------


class ProviderSignal(Event, tag="provider.signal"):
    signal: SignalKind
    provider: Short | None = None
    phone: Short | None = None
    email: Short | None = None


AnyEvent = (
    AccountCreated
    | KycSubmitted
    | KycDecided
    | KybSubmitted
    | KybDecided
    | Login
    | Session
    | SecurityChange
    | Deposit
    | WithdrawalRequested
    | TransferInternal
    | Trade
    | P2POrder
    | CardChargeback
    | ProviderSignal
)

EVENT_TYPES: dict[str, type[Event]] = {cls.__struct_config__.tag: cls for cls in AnyEvent.__args__}
_BOUNDED: list[type[msgspec.Struct]] = [*EVENT_TYPES.values(), BeneficialOwner]
_CHECKS.update({cls: _compile(cls) for cls in _BOUNDED})


# --- events from text known printable ----------------------------------------------------
#
# A JSON text of ASCII bytes without a backslash (no escape) or DEL, which msgspec
# decodes, holds only strings of printable ASCII characters (0x20-0x7E): msgspec refuses
# the raw control characters 0x00-0x1F in a string. For such a text, which is nearly every
# line of a file, ``isprintable`` over each of its strings (~1,600 CPU instructions an
# event) can say nothing new. File ingestion decodes those lines into these twins of the
# event types: the same struct, tag and fields (so the same canonical JSON), whose
# ``__post_init__`` is the compiled check without ``isprintable``; every other bound
# condition stays, and a refusal goes to the same bound functions, with the same reason.


def _printable_twin(cls: type[Event]) -> type[Event]:
    check = _compile(cls, printable=True, envelope=True)
    tag = cls.__struct_config__.tag

    def body(namespace: dict[str, Any]) -> None:
        namespace["__post_init__"] = check
        namespace["__doc__"] = f"{cls.__name__}, decoded from text known printable."
        namespace["__module__"] = __name__

    return types.new_class(f"Printable{cls.__name__}", (cls,), {"tag": tag}, body)


PLAIN_TYPES: dict[type[Event], type[Event]] = {
    cls: _printable_twin(cls) for cls in EVENT_TYPES.values()
}
"""By event type, its twin for text known printable (see above); for file ingestion only:
a twin is an instance of its type, yet not equal to the same event of that type."""
TAG_OF: dict[type, str] = {cls: tag for tag, cls in EVENT_TYPES.items()} | {
    twin: tag for twin, tag in ((PLAIN_TYPES[cls], tag) for tag, cls in EVENT_TYPES.items())
}
"""The tag of every event type and of its twin."""
