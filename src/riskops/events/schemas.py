"""The canonical event schema (version 1): a tagged union on ``type``.

Every event carries an id (the idempotency key), its type, the account it belongs to and
when it happened (timezone-aware UTC). Money is exact: ``amount`` is a Decimal in the unit
of ``asset`` and ``usd_value`` is the USD value at event time, a Decimal with at most two
decimal places. The wire format is flat JSON: type-specific fields sit beside the envelope.

msgspec Structs decode and validate in one pass, several times faster than pydantic; the
hot path (HTTP batches, file ingestion, the broker) needs it.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated

import msgspec
from msgspec import Meta

SCHEMA_VERSION = 1

Id = Annotated[str, Meta(min_length=1, max_length=128)]
Short = Annotated[str, Meta(min_length=1, max_length=256)]
Country = Annotated[str, Meta(pattern="^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
Asset = Annotated[str, Meta(pattern="^[A-Z0-9]{2,12}$", description="asset ticker, e.g. BTC")]
UtcTime = Annotated[datetime, Meta(tz=True, description="RFC 3339 with a UTC offset")]


def _positive(name: str, value: Decimal | None) -> None:
    if value is None:
        return
    if not value.is_finite() or value <= 0:
        raise ValueError(f"`{name}` must be a positive finite number")


_CENT = Decimal("0.01")


def _usd(value: Decimal | None) -> None:
    if value is None:
        return
    if not value.is_finite() or value < 0:
        raise ValueError("`usd_value` must be a non-negative finite number")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(_CENT):
        raise ValueError("`usd_value` has more than two decimal places")


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
            raise ValueError(f"unsupported `schema_version` {self.schema_version}")


# --- account and identity -------------------------------------------------------------


class AccountCreated(Event, tag="account.created"):
    email: Short | None = None
    phone: Short | None = None
    country: Country | None = None
    referral_code: Short | None = None
    referred_by: Id | None = None
    ip: Short | None = None
    device_id: Short | None = None
    corporate: bool = False


class KycSubmitted(Event, tag="kyc.submitted"):
    level: Annotated[int, Meta(ge=0, le=3)]
    document_type: Short | None = None
    document_country: Country | None = None
    full_name: Short | None = None
    date_of_birth: date | None = None
    nationality: Country | None = None


class KycDecided(Event, tag="kyc.decided"):
    level: Annotated[int, Meta(ge=0, le=3)]
    result: KycResult
    document_type: Short | None = None
    document_country: Country | None = None
    full_name: Short | None = None
    date_of_birth: date | None = None
    nationality: Country | None = None
    reason: Short | None = None


class BeneficialOwner(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    full_name: Short
    ownership_pct: Annotated[float, Meta(ge=0, le=100)]
    date_of_birth: date | None = None
    nationality: Country | None = None


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
    ip: Short | None = None
    ip_country: Country | None = None
    device_id: Short | None = None
    user_agent: Annotated[str, Meta(max_length=1024)] | None = None
    two_fa_method: Short | None = None
    failure_reason: Short | None = None


class Session(Event, tag="session"):
    ip: Short | None = None
    ip_country: Country | None = None
    device_id: Short | None = None
    user_agent: Annotated[str, Meta(max_length=1024)] | None = None


class SecurityChange(Event, tag="security.change"):
    change: SecurityChangeKind
    channel: Short | None = None  # how it was verified: sms, email, app, support
    ip: Short | None = None
    ip_country: Country | None = None
    device_id: Short | None = None
    new_value: Short | None = None  # the new phone or email, where there is one


# --- money movement -------------------------------------------------------------------


class Money(Event):
    asset: Asset
    amount: Decimal
    usd_value: Decimal

    def __post_init__(self) -> None:
        # The same checks as Event's, _positive and _usd, written out: this runs for most
        # events of a file, and the general helpers cost several times as much.
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(f"unsupported `schema_version` {self.schema_version}")
        amount, usd = self.amount, self.usd_value
        if not (amount.is_finite() and amount > 0):
            _positive("amount", amount)
        if not (usd.is_finite() and usd >= 0):
            _usd(usd)
        try:
            cents_only = usd == usd.quantize(_CENT)
        except InvalidOperation:  # too many digits to quantize: the general check decides
            cents_only = False
        if not cents_only:
            _usd(usd)


# Checks that msgspec constraints cannot express, by field; the validator reports each one.
MONEY_CHECKS = {"amount": lambda v: _positive("amount", v), "usd_value": _usd}


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
    ip: Short | None = None
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
    price: Decimal | None = None


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
