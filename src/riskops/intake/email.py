"""Reading an email: parse the raw bytes, find what it mentions, classify it. No database.

Parsing uses the standard library (``email`` with ``policy.default``): encoded headers are
decoded, text/plain is preferred, HTML is stripped to text when it is the only body. A
message is *malformed* when nothing in it identifies a message or a sender (no headers, or
neither From nor Message-ID): such input is kept as a dead letter, never dropped.
"""

from __future__ import annotations

import enum
import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser

_parser = BytesParser(policy=policy.default)
MAX_REF = 200  # longer Message-IDs are replaced by their sha256 (alert refs are 256 chars)
MAX_MENTIONS = 50  # per kind; bounds the lookups one message can cause


@dataclass(frozen=True, slots=True)
class Attachment:
    position: int  # from 1, in MIME tree order
    filename: str | None
    content_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(slots=True)
class ParsedEmail:
    """What riskops keeps of a message besides its raw bytes."""

    ref: str  # the idempotency key
    message_id: str | None
    from_address: str | None
    from_name: str | None
    to_addresses: list[str]
    subject: str
    sent_at: datetime | None
    text_body: str
    body_from: str  # plain | html | none
    attachments: list[Attachment]
    defects: list[str]
    raw_sha256: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """Input that is not a readable email, with the reason."""

    reason: str
    raw_sha256: str


def parse_message(raw: bytes) -> ParsedEmail | Malformed:
    """Parse one RFC 5322 message (the bytes of a .eml file, an mbox entry or an SMTP DATA)."""
    digest = hashlib.sha256(raw).hexdigest()
    if not raw.strip():
        return Malformed("empty message", digest)
    try:
        message = _parser.parsebytes(raw)
        assert isinstance(message, EmailMessage)
        return _read(message, digest)
    except Exception as exc:  # the parser is lenient; anything it still raises is malformed
        return Malformed(f"unreadable message: {type(exc).__name__}: {exc}"[:500], digest)


def _read(message: EmailMessage, digest: str) -> ParsedEmail | Malformed:
    if not message.keys():
        return Malformed("no header block: this is not an email message", digest)
    message_id = _message_id(message)
    sender = _addresses(message, "from")
    if message_id is None and not sender:
        return Malformed("neither a From nor a Message-ID header", digest)
    ref = _ref(message_id, digest)
    from_address, from_name = sender[0] if sender else (None, None)
    text_body, body_from = _body(message)
    return ParsedEmail(
        ref=ref,
        message_id=message_id,
        from_address=from_address,
        from_name=from_name,
        to_addresses=[a for a, _ in _addresses(message, "to") + _addresses(message, "cc")],
        subject=_header(message, "subject"),
        sent_at=_date(message),
        text_body=text_body,
        body_from=body_from,
        attachments=_attachments(message),
        defects=sorted({type(d).__name__ for d in _all_defects(message)}),
        raw_sha256=digest,
    )


def _ref(message_id: str | None, digest: str) -> str:
    if message_id is None:
        return f"sha256:{digest}"
    if len(message_id) > MAX_REF:
        return "sha256-mid:" + hashlib.sha256(message_id.encode()).hexdigest()
    return message_id


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a header the policy cannot parse: keep its raw text
        value = next((v for k, v in message.raw_items() if k.lower() == name), "")
    return " ".join(_clean(str(value or "")).split())


def _message_id(message: EmailMessage) -> str | None:
    value = _header(message, "message-id").strip().strip("<>").strip()
    return value or None


def _addresses(message: EmailMessage, name: str) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    try:
        values = message.get_all(name) or []
    except Exception:
        return found
    for value in values:
        addresses: tuple[Address, ...] = getattr(value, "addresses", ())
        for address in addresses:
            if address.addr_spec and "@" in address.addr_spec:
                display = _clean(address.display_name) or None
                found.append((_clean(address.addr_spec).lower(), display))
    return found


def _date(message: EmailMessage) -> datetime | None:
    raw = _header(message, "date")
    if not raw:
        return None
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # RFC 5322 "-0000": the zone is unknown; read it as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _body(message: EmailMessage) -> tuple[str, str]:
    part = message.get_body(preferencelist=("plain",))
    if part is not None:
        return _text_of(part).strip(), "plain"
    part = message.get_body(preferencelist=("html",))
    if part is not None:
        return html_to_text(_text_of(part)), "html"
    return "", "none"


def _text_of(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # unknown charset: decode the bytes leniently
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return _clean(content) if isinstance(content, str) else ""


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL; nothing readable is lost by dropping it. Line ends
    # are normalized (the raw message keeps the original).
    return text.replace("\x00", "").replace("\r\n", "\n")


def _attachments(message: EmailMessage) -> list[Attachment]:
    found: list[Attachment] = []
    for part in message.iter_attachments():
        found.extend(_flatten(part, len(found)))
    return found


def _flatten(part: MIMEPart, before: int) -> list[Attachment]:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):  # a multipart or message/rfc822 attachment
        payload = part.as_bytes()
    name = part.get_filename()
    name = _clean(name) if name else None
    return [Attachment(before + 1, name, part.get_content_type(), payload)]


def _all_defects(message: EmailMessage) -> list[object]:
    defects: list[object] = []
    for part in message.walk():
        defects.extend(getattr(part, "defects", []))
    return defects


# --- HTML to text ----------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "table", "hr"})
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        if tag == "a":  # keep link targets: mailto: addresses and explorer links are evidence
            href = dict(attrs).get("href") or ""
            if href.startswith("mailto:"):
                self.parts.append(f" {href.removeprefix('mailto:')} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML body: scripts and styles dropped, one line per block."""
    extractor = _TextExtractor()
    try:
        extractor.feed(markup)
        extractor.close()
        text = "".join(extractor.parts)
    except Exception:  # pragma: no cover - HTMLParser is lenient; fall back to crude stripping
        text = html.unescape(re.sub(r"<[^>]+>", " ", markup))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


# --- what a message mentions -----------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,24}")
# Account ids as the exchange writes them (``acc-0001234``), or any token after a label.
_ACCOUNT = re.compile(r"\bacc-\d{3,20}\b", re.IGNORECASE)
_ACCOUNT_LABEL = re.compile(
    r"\b(?:account(?:\s*(?:id|number|no\.?))?|uid|user\s*id|customer\s*id)\s*[:#]?\s*"
    r"([A-Za-z0-9][A-Za-z0-9_.:-]{2,127})",
    re.IGNORECASE,
)
_WITHDRAWAL = re.compile(r"\bwd-\d{3,20}\b", re.IGNORECASE)
_WITHDRAWAL_LABEL = re.compile(
    r"\bwithdrawal(?:\s*(?:id|ref(?:erence)?|no\.?))?\s*[:#]?\s*([A-Za-z0-9][A-Za-z0-9_.:-]{2,127})",
    re.IGNORECASE,
)
# Ethereum-style (0x + 64 hex), bitcoin/tron-style (64 hex), solana signatures (base58, 87-88).
_TX_HASH = re.compile(r"\b(0x[0-9a-fA-F]{64}|[0-9a-fA-F]{64}|[1-9A-HJ-NP-Za-km-z]{87,88})\b")


@dataclass(slots=True)
class Mentions:
    """Identifiers found in a message; candidates until the event log confirms them."""

    emails: dict[str, str] = field(default_factory=dict)  # value -> where (from, subject, body)
    account_ids: dict[str, str] = field(default_factory=dict)
    tx_hashes: dict[str, str] = field(default_factory=dict)
    withdrawal_ids: dict[str, str] = field(default_factory=dict)


def mentions(parsed: ParsedEmail, *, own_addresses: frozenset[str] = frozenset()) -> Mentions:
    """Every email address, account id, tx hash and withdrawal id in sender, subject, body.

    Recipients are not searched (they are riskops' own mailboxes); ``own_addresses`` are
    dropped wherever they appear (quoted replies repeat them).
    """
    found = Mentions()
    if parsed.from_address:
        found.emails[parsed.from_address] = "from"
    for where, text in (("subject", parsed.subject), ("body", parsed.text_body)):
        _scan(text, where, found)
    for address in own_addresses | set(parsed.to_addresses):
        if found.emails.get(address) != "from":
            found.emails.pop(address, None)
    return found


def _add(target: dict[str, str], value: str, where: str) -> None:
    if value not in target and len(target) < MAX_MENTIONS:
        target[value] = where


def _scan(text: str, where: str, found: Mentions) -> None:
    for match in _EMAIL.finditer(text):
        _add(found.emails, match.group(0).lower().strip(".'"), where)
    for match in _ACCOUNT.finditer(text):
        _add(found.account_ids, match.group(0).lower(), where)
    for match in _ACCOUNT_LABEL.finditer(text):
        _add(found.account_ids, match.group(1).rstrip(".:-"), where)
    for match in _WITHDRAWAL.finditer(text):
        _add(found.withdrawal_ids, match.group(0).lower(), where)
    for match in _WITHDRAWAL_LABEL.finditer(text):
        _add(found.withdrawal_ids, match.group(1).rstrip(".:-").lower(), where)
    for match in _TX_HASH.finditer(text):
        _add(found.tx_hashes, match.group(1), where)


def same_tx_hash(a: str, b: str) -> bool:
    """Hex hashes compare case-insensitively; base58 (solana) is case-sensitive."""
    if _HEX.fullmatch(a) and _HEX.fullmatch(b):
        return a.lower().removeprefix("0x") == b.lower().removeprefix("0x")
    return a == b


_HEX = re.compile(r"(?:0x)?[0-9a-fA-F]{64}")


# --- classification ------------------------------------------------------------------


class Category(enum.StrEnum):
    LAW_ENFORCEMENT = "law_enforcement"
    PARTNER_BANK = "partner_bank"
    NOT_ME = "not_me"
    FRAUD_REPORT = "fraud_report"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Classification:
    category: Category
    severity: int
    typology: str | None
    label: str
    matched: str | None  # the keyword that decided it


# Checked in this order: a police letter quoting a customer's "it was not me" is still a
# law-enforcement request; a bank's recall is not a customer report.
_RULES: tuple[tuple[Category, int, str | None, str, tuple[str, ...]], ...] = (
    (
        Category.LAW_ENFORCEMENT,
        85,
        None,
        "law-enforcement request",
        (
            "law enforcement",
            "subpoena",
            "court order",
            "search warrant",
            "warrant",
            "production order",
            "police",
            "prosecutor",
            "federal bureau",
            "fbi",
            "europol",
            "interpol",
            "preservation request",
            "freezing order",
            "seizure",
        ),
    ),
    (
        Category.PARTNER_BANK,
        70,
        None,
        "partner bank report",
        (
            "recall request",
            "funds recall",
            "recall of funds",
            "swift",
            "mt103",
            "iban",
            "beneficiary bank",
            "correspondent bank",
            "our customer",
            "our client",
            "chargeback notification",
            "unauthorised payment",
            "unauthorized payment",
        ),
    ),
    (
        Category.NOT_ME,
        75,
        "account_takeover",
        "customer reports activity they did not do",
        (
            "wasn't me",
            "was not me",
            "not me",
            "didn't do",
            "did not do",
            "didn't make",
            "did not make",
            "didn't authorize",
            "did not authorize",
            "didn't authorise",
            "did not authorise",
            "i did not request",
            "i didn't request",
            "hacked",
            "someone accessed",
            "someone logged",
            "unauthorized withdrawal",
            "unauthorised withdrawal",
            "not recognize",
            "don't recognise",
            "don't recognize",
        ),
    ),
    (
        Category.FRAUD_REPORT,
        60,
        None,
        "external fraud report",
        (
            "fraud report",
            "scam",
            "scammer",
            "phishing",
            "stolen funds",
            "stolen crypto",
            "victim",
            "abuse report",
            "fraudulent",
            "pig butchering",
            "ransomware",
        ),
    ),
)


def classify(parsed: ParsedEmail) -> Classification:
    """Keyword rules on subject and body (case-insensitive, whole words)."""
    text = f"{parsed.subject}\n{parsed.text_body}".lower().replace("’", "'")
    for category, severity, typology, label, words in _RULES:
        for word in words:
            if re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text):
                return Classification(category, severity, typology, label, word)
    return Classification(Category.OTHER, 30, None, "email", None)
