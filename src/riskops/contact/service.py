"""Use cases of contact: list templates, preview a message from a case, send it.

``send`` is the one way riskops writes to an account holder: every message passes the
tipping-off guard there (``contact.tipping.guard``), whatever its channel, and is enqueued
on the outbound outbox (``riskops.outbound``) as the ``Guarded`` message outbound requires
of a customer's (with its Reply-To, the case's reply address), in the caller's
transaction, with the case's
history entry, the contact record and the audit entry. Sending the request-for-information
template also makes the case decision ``request_info`` (the case waits for the customer,
its SLA paused until the due date) in that same transaction: the message and the wait
commit together or not at all. Messages need ``contact:send``; they are audited but need no
second person. ADR 0033.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from riskops.accounts.models import RestrictionKind
from riskops.audit.service import record
from riskops.auth.permissions import Permission, Principal, require
from riskops.cases import decisions, history
from riskops.cases.models import ActionKind, Case, CaseEvent
from riskops.cases.schemas import DecisionIn, NoteSections
from riskops.contact import repository as repo
from riskops.contact import templating, tipping
from riskops.contact.models import ContactMessage
from riskops.contact.schemas import ChannelName, MessageIn, PreviewOut, SentOut, TemplateOut
from riskops.contact.templating import REQUEST_INFO, Rendered
from riskops.contact.tipping import REFUSED_REASON
from riskops.contact.tipping import TippingOff as TippingOff  # raised by send
from riskops.intake import reply_tokens
from riskops.kernel.clock import utcnow
from riskops.kernel.config import Settings, get_settings
from riskops.kernel.errors import ValidationFailed
from riskops.outbound import service as outbound

PURPOSE = "customer_contact"

# The account's language until the profile carries one: from the country it declared.
_COUNTRY_LANGUAGE = {
    **dict.fromkeys(
        [
            "ES",
            "MX",
            "AR",
            "CO",
            "CL",
            "PE",
            "VE",
            "EC",
            "GT",
            "CU",
            "BO",
            "DO",
            "HN",
            "PY",
            "SV",
            "NI",
            "CR",
            "PA",
            "UY",
            "PR",
            "GQ",
        ],
        "es",
    ),
    **dict.fromkeys(["RU", "BY", "KZ", "KG"], "ru"),
}
_CUSTOMER = {"en": "customer", "es": "cliente", "ru": "клиент"}
_RESTRICTION: dict[str, dict[RestrictionKind, str]] = {
    "en": {
        RestrictionKind.WITHDRAWAL_LOCK: "withdrawals are paused",
        RestrictionKind.TRADING_LOCK: "trading is paused",
        RestrictionKind.P2P_BAN: "P2P trading is paused",
        RestrictionKind.API_DISABLE: "API access is paused",
        RestrictionKind.FULL_FREEZE: "all account activity is paused",
        RestrictionKind.REKYC_REQUIRED: "withdrawals wait for an identity check",
        RestrictionKind.ACCOUNT_CLOSED: "the account is closed",
    },
    "es": {
        RestrictionKind.WITHDRAWAL_LOCK: "los retiros están en pausa",
        RestrictionKind.TRADING_LOCK: "el trading está en pausa",
        RestrictionKind.P2P_BAN: "el trading P2P está en pausa",
        RestrictionKind.API_DISABLE: "el acceso por API está en pausa",
        RestrictionKind.FULL_FREEZE: "toda la actividad de la cuenta está en pausa",
        RestrictionKind.REKYC_REQUIRED: "los retiros esperan una verificación de identidad",
        RestrictionKind.ACCOUNT_CLOSED: "la cuenta está cerrada",
    },
    "ru": {
        RestrictionKind.WITHDRAWAL_LOCK: "вывод средств приостановлен",
        RestrictionKind.TRADING_LOCK: "торговля приостановлена",
        RestrictionKind.P2P_BAN: "P2P-торговля приостановлена",
        RestrictionKind.API_DISABLE: "доступ по API приостановлен",
        RestrictionKind.FULL_FREEZE: "все операции по аккаунту приостановлены",
        RestrictionKind.REKYC_REQUIRED: "вывод ждёт повторной проверки личности",
        RestrictionKind.ACCOUNT_CLOSED: "аккаунт закрыт",
    },
}


# --- masking --------------------------------------------------------------------------


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}{'*' * max(3, len(local) - 1)}@{domain}"


def mask_phone(phone: str) -> str:
    return phone[:3] + "*" * max(0, len(phone) - 6) + phone[-3:]


def mask_account(account_id: str) -> str:
    if len(account_id) <= 7:
        return account_id[:1] + "*" * max(0, len(account_id) - 2) + account_id[-1:]
    return account_id[:4] + "*" * 4 + account_id[-3:]


# --- reading --------------------------------------------------------------------------


def list_templates(principal: Principal) -> list[TemplateOut]:
    """Every template with the values it uses (``contact:send``)."""
    require(principal, Permission.CONTACT_SEND)
    return [
        TemplateOut(
            key=t.key,
            title=t.title,
            variables=list(t.variables),
            languages=list(templating.LANGUAGES),
        )
        for t in templating.templates().values()
    ]


def account_language(country: str | None) -> str | None:
    return _COUNTRY_LANGUAGE.get((country or "").upper())


def channels(recipient: repo.Recipient) -> list[ChannelName]:
    """The channels the account can receive: email and SMS, where its events gave one."""
    found: list[ChannelName] = []
    if recipient.email:
        found.append("email")
    if recipient.phone:
        found.append("sms")
    return found


class _Draft:
    """A message rendered for one case, before it is checked and sent."""

    def __init__(
        self,
        case: Case,
        recipient: repo.Recipient,
        rendered: Rendered,
        fallback_from: str | None,
        under_sar: bool,
    ) -> None:
        self.case = case
        self.recipient = recipient
        self.rendered = rendered
        self.fallback_from = fallback_from
        self.under_sar = under_sar

    def blocked_fields(self, channel: str) -> list[str]:
        parts = self.rendered.parts()
        fields = (
            {k: parts[k] for k in templating.EMAIL_PARTS}
            if channel == "email"
            else {"sms": parts["sms"]}
        )
        return [f.field for f in tipping.findings(fields, under_sar=self.under_sar)]


def _draft(session: Session, case: Case, body: MessageIn, now: datetime) -> _Draft:
    if case.account_id is None:
        raise ValidationFailed(
            f"case {case.id} is not linked to an account: there is no one to write to",
            details=[{"field": "$.case_id", "reason": "the case has no account"}],
        )
    template = templating.get(body.template)
    recipient = repo.recipient(session, case.account_id)
    wanted = body.language or account_language(recipient.country)
    language, fell_back = templating.pick_language(wanted)
    values = _values(template, body, recipient, language, now)
    rendered = templating.render(template, language, values)
    under_sar = case.account_id in repo.under_sar(session, [case.account_id])
    return _Draft(case, recipient, rendered, wanted if fell_back else None, under_sar)


def _values(
    template: templating.Template,
    body: MessageIn,
    recipient: repo.Recipient,
    language: str,
    now: datetime,
) -> dict[str, str]:
    problems: list[dict[str, str]] = []
    values = {
        "name": recipient.name or _CUSTOMER[language],
        "account_ref": mask_account(recipient.account_id),
    }
    needs = set(template.variables)
    if "details" in needs:
        if not body.details.strip():
            problems.append(
                {"field": "$.details", "reason": "required: what the customer is asked"}
            )
        values["details"] = body.details.strip()
    if "due_date" in needs:
        if body.due_at is None or body.due_at.tzinfo is None or body.due_at <= now:
            problems.append(
                {"field": "$.due_at", "reason": "required: a future time with a UTC offset"}
            )
        else:
            values["due_date"] = body.due_at.astimezone(now.tzinfo).strftime("%Y-%m-%d %H:%M UTC")
    if "restriction" in needs:
        if body.restriction is None:
            problems.append({"field": "$.restriction", "reason": "required: which restriction"})
        else:
            values["restriction"] = _RESTRICTION[language][body.restriction]
    if "message" in needs:
        if not body.message.strip():
            problems.append({"field": "$.message", "reason": "required: the message to send"})
        values["message"] = body.message.strip()
    if "subject" in needs:
        subject = " ".join(body.subject.split())
        if not subject and body.channel == "email":
            problems.append({"field": "$.subject", "reason": "required for an email"})
        values["subject"] = subject or "-"
    if problems:
        raise ValidationFailed("the message is incomplete", details=problems)
    return values


def preview(
    session: Session,
    principal: Principal,
    case_id: int,
    body: MessageIn,
    *,
    now: datetime | None = None,
) -> PreviewOut:
    """The message as the customer would get it, in the account's language (or English,
    then ``fallback_from`` names the language asked for), with ``blocked`` set when sending
    it would be refused. Needs ``contact:send``; audited (it shows the holder's name)."""
    require(principal, Permission.CONTACT_SEND)
    now = now or utcnow()
    case = history.load(session, case_id, for_update=False)
    draft = _draft(session, case, body, now)
    blocked = draft.blocked_fields(body.channel)
    r = draft.rendered
    to = _address(draft.recipient, body.channel)
    record(
        session,
        principal,
        "contact.preview",
        "case",
        case.id,
        {"template": r.key, "language": r.language, "channel": body.channel},
        now=now,
    )
    return PreviewOut(
        template=r.key,
        channel=body.channel,
        language=r.language,
        fallback_from=draft.fallback_from,
        channels=list[str](channels(draft.recipient)),
        to=_masked(body.channel, to) if to else None,
        subject=r.subject,
        text=r.text,
        html=r.html,
        sms=r.sms,
        blocked=REFUSED_REASON if blocked else None,
        blocked_fields=blocked,
    )


def _address(recipient: repo.Recipient, channel: str) -> str | None:
    return recipient.email if channel == "email" else recipient.phone


def _masked(channel: str, address: str) -> str:
    return mask_email(address) if channel == "email" else mask_phone(address)


# --- sending --------------------------------------------------------------------------


def send(
    session: Session,
    principal: Principal,
    case_id: int,
    body: MessageIn,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> SentOut:
    """Send a message to the case's account holder: the one function every customer
    message passes (the tipping-off guard is here). Refused (TippingOff) when any part of
    the message says what no customer may read, or, for an account under SAR consideration,
    what would hint at it. The request-for-information template also decides the case
    ``request_info`` (needs ``case:work``, the case assigned to the sender). Never commits."""
    require(principal, Permission.CONTACT_SEND)
    settings = settings or get_settings()
    now = now or utcnow()
    case = history.load(session, case_id)
    draft = _draft(session, case, body, now)
    to = _address(draft.recipient, body.channel)
    if to is None:
        raise ValidationFailed(
            f"the account has no {body.channel} to write to",
            details=[{"field": "$.channel", "reason": f"one of {channels(draft.recipient)}"}],
        )
    r = draft.rendered
    # The guard (tipping.guard) checks the fields as they are sent, and refuses them here.
    queued = _enqueue(session, draft, body, to, settings, now)
    earlier = repo.message_by_outbound_id(session, queued.id)
    if earlier is not None:  # the same idempotency key again: that message, nothing new
        return _sent(earlier, case)
    if body.template == REQUEST_INFO:
        _request_info(session, principal, case, body, now)
    message = repo.add_message(
        session,
        ContactMessage(
            case_id=case.id,
            account_id=draft.recipient.account_id,
            template=r.key,
            language=r.language,
            channel=body.channel,
            to_masked=_masked(body.channel, to),
            subject=r.subject if body.channel == "email" else None,
            outbound_id=queued.id,
            outbound_message_id=queued.message_id,
            sent_by=principal.name,
            sent_at=now,
        ),
    )
    detail = {
        "contact_message_id": message.id,
        "outbound_id": queued.id,
        "template": r.key,
        "language": r.language,
        "channel": body.channel,
        "to": message.to_masked,
    }
    history.event(session, case, principal.name, "customer_contacted", now, detail=detail)
    record(session, principal, "contact.send", "case", case.id, detail, now=now)
    session.flush()
    return _sent(message, case)


def _sent(message: ContactMessage, case: Case) -> SentOut:
    return SentOut(
        id=message.id,
        case_id=case.id,
        template=message.template,
        channel=message.channel,
        language=message.language,
        to=message.to_masked,
        outbound_id=message.outbound_id,
        outbound_message_id=message.outbound_message_id,
        case_status=case.status.value,
        waiting_until=case.waiting_until,
    )


def _request_info(
    session: Session, principal: Principal, case: Case, body: MessageIn, now: datetime
) -> None:
    """The case decision that goes with the request: the case waits for the customer."""
    asked = body.details.strip()
    note = NoteSections(
        summary="Information requested from the customer",
        evidence="The case as reviewed so far",
        findings=asked,
        decision=f"Request information by {body.due_at:%Y-%m-%d %H:%M %Z} ({body.channel})",
        rationale=body.note.strip() or asked,
    )
    decision = DecisionIn(action=ActionKind.REQUEST_INFO, note=note, due_at=body.due_at)
    decisions.decide(session, principal, case.id, decision, now=now)


def _enqueue(
    session: Session,
    draft: _Draft,
    body: MessageIn,
    to: str,
    settings: Settings,
    now: datetime,
) -> outbound.Queued:
    """The message through the tipping-off guard (``TippingOff`` when it says what it may
    not), then on the outbox as the ``Guarded`` message outbound requires of a customer's."""
    case, r = draft.case, draft.rendered
    account_id = draft.recipient.account_id
    dedupe = f"contact:{case.id}:{body.idempotency_key}" if body.idempotency_key else None
    if body.channel == "sms":
        message = tipping.guard(
            channel=outbound.Channel.SMS,
            to=to,
            body=r.sms,
            account_id=account_id,
            case_id=case.id,
            under_sar=draft.under_sar,
        )
    else:
        # The reply token rides in the Reply-To address (reply+<token>@RISKOPS_REPLY_DOMAIN)
        # and in the subject (mail clients keep it in "Re:"), so a reply finds its case
        # whichever of the two survives (intake.reply_tokens).
        message = tipping.guard(
            channel=outbound.Channel.EMAIL,
            to=to,
            subject=(r.subject + reply_tokens.subject_tag(settings.reply_secret, case.id))[:512],
            body=r.text,
            html=r.html,
            reply_to=reply_tokens.reply_address(
                settings.reply_secret, settings.reply_domain, case.id
            ),
            account_id=account_id,
            case_id=case.id,
            under_sar=draft.under_sar,
        )
    return outbound.enqueue_customer(session, message, purpose=PURPOSE, dedupe_key=dedupe, now=now)


# --- the case page's panel ------------------------------------------------------------


class Panel:
    """What the case page's contact panel shows: the templates, the channels the account
    can receive (masked), the messages sent from the case and the customer's replies (the
    ``customer_reply`` history entries, by email or SMS)."""

    def __init__(
        self,
        case: Case,
        can_send: bool,
        templates: list[TemplateOut],
        channels: dict[str, str],
        language: str,
        messages: list[ContactMessage],
        replies: list[CaseEvent],
    ) -> None:
        self.case = case
        self.can_send = can_send
        self.templates = templates
        self.channels = channels
        self.language = language
        self.messages = messages
        self.replies = replies


def panel(session: Session, principal: Principal, case_id: int) -> Panel:
    """The panel of a case (``case:view``; sending needs ``contact:send``, shown as such).
    Audited: it shows the holder's masked addresses."""
    require(principal, Permission.CASE_VIEW)
    case = history.load(session, case_id, for_update=False)
    can_send = principal.can(Permission.CONTACT_SEND)
    found: dict[str, str] = {}
    language = templating.DEFAULT_LANGUAGE
    if case.account_id is not None:
        recipient = repo.recipient(session, case.account_id)
        if recipient.email:
            found["email"] = mask_email(recipient.email)
        if recipient.phone:
            found["sms"] = mask_phone(recipient.phone)
        language = templating.pick_language(account_language(recipient.country))[0]
        record(session, principal, "contact.panel", "account", case.account_id, now=utcnow())
    return Panel(
        case,
        can_send,
        list_templates(principal) if can_send else [],
        found,
        language,
        repo.messages_of_case(session, case.id),
        repo.reply_events(session, case.id),
    )
