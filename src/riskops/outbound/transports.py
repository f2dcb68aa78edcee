"""How a message leaves: one transport per channel, each given the message id to send with.

Email goes over SMTP (``RISKOPS_SMTP_URL``; one connection reused across a pass) with the
message id as its ``Message-ID``, or, without a server, into a local mailbox (``.eml``
files under the data directory; the /outbox page shows every message too). SMS goes to a
provider over HTTP: a generic JSON endpoint, or Twilio's Messages API. Webhooks are POSTed
signed (``riskops.outbound.webhooks.sign``). Every HTTP attempt carries ``Idempotency-Key``
and ``X-Riskops-Message-Id``: the same value on every retry of the message.

A transport raises ``DeliveryFailed`` when the receiver did not take the message;
``permanent`` says trying again will not help (a refused address, a 4xx answer).
"""

from __future__ import annotations

import base64
import contextlib
import os
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import msgspec

from riskops.outbound.models import Channel
from riskops.outbound.webhooks import MESSAGE_ID_HEADER, SIGNATURE_HEADER, TOPIC_HEADER, sign

HTTP_TIMEOUT_SECONDS = 10.0
SMTP_TIMEOUT_SECONDS = 10.0


class DeliveryFailed(Exception):
    """The receiver did not take the message. ``permanent``: trying again will not help.
    ``unreachable``: the server itself could not be reached (connect, TLS, login), so the
    other messages for it in this pass are not tried either."""

    def __init__(self, reason: str, *, permanent: bool = False, unreachable: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.unreachable = unreachable


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A claimed message as a transport sees it (no database row)."""

    pk: int
    channel: Channel
    message_id: str
    to: str
    body: str
    subject: str | None = None
    html: str | None = None
    reply_to: str | None = None
    attachments: tuple[dict[str, Any], ...] = ()
    topic: str | None = None
    secret: str | None = None  # webhooks: the subscription's signing secret


class Transport(Protocol):
    def send(self, message: Outgoing) -> None: ...

    def close(self) -> None: ...


def email_message(message: Outgoing, sender: str) -> EmailMessage:
    """The MIME message: text, an HTML alternative and attachments; ``Message-ID`` is the
    outbox's message id, the same on every attempt; ``Reply-To`` where the message has one
    (contact's reply address, ``reply+<token>@<domain>``)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = message.subject or ""
    if message.reply_to:
        mail["Reply-To"] = message.reply_to
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = f"<{message.message_id}@riskops>"
    mail.set_content(message.body)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    for a in message.attachments:
        maintype, _, subtype = str(a["content_type"]).partition("/")
        mail.add_attachment(
            base64.b64decode(a["data"]),
            maintype=maintype,
            subtype=subtype,
            filename=str(a["filename"]),
        )
    return mail


@dataclass(frozen=True, slots=True)
class SmtpUrl:
    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> SmtpUrl:
        """``smtp://[user:pass@]host[:port][?starttls=true]`` or ``smtps://...``."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("RISKOPS_SMTP_URL must look like smtp://host:port or smtps://...")
        implicit = parts.scheme == "smtps"
        query = parse_qs(parts.query)
        starttls = query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            implicit_tls=implicit,
            starttls=starttls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


@dataclass
class SmtpTransport:
    """Email over SMTP, one connection kept open across the messages of a pass."""

    url: SmtpUrl
    sender: str
    tls_context: ssl.SSLContext | None = None
    _conn: smtplib.SMTP | None = field(default=None, repr=False)

    def _connect(self) -> smtplib.SMTP:
        tls = self.url.implicit_tls or self.url.starttls
        # Made only when used: loading the system's CA store costs ~0.1 s each time.
        context = self.tls_context or (ssl.create_default_context() if tls else None)
        conn: smtplib.SMTP
        if self.url.implicit_tls:
            conn = smtplib.SMTP_SSL(
                self.url.host, self.url.port, timeout=SMTP_TIMEOUT_SECONDS, context=context
            )
        else:
            conn = smtplib.SMTP(self.url.host, self.url.port, timeout=SMTP_TIMEOUT_SECONDS)
        try:
            if self.url.starttls and not self.url.implicit_tls:
                conn.starttls(context=context)
            if self.url.username:
                conn.login(self.url.username, self.url.password or "")
        except BaseException:
            conn.close()
            raise
        return conn

    def send(self, message: Outgoing) -> None:
        if self._conn is None:
            try:
                self._conn = self._connect()
            except (OSError, smtplib.SMTPException) as exc:
                raise DeliveryFailed(f"SMTP server: {exc!r}", unreachable=True) from exc
        try:
            self._conn.send_message(email_message(message, self.sender))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            self.close()
            raise DeliveryFailed(
                f"recipient refused: {codes}", permanent=all(c >= 500 for c in codes)
            ) from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            # 5xx on the message itself is final; a refused login or TLS is our setup
            # (fixable without touching the message): tried again later.
            login = isinstance(exc, smtplib.SMTPAuthenticationError)
            permanent = exc.smtp_code >= 500 and not login
            raise DeliveryFailed(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=permanent
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            # A server that stops answering mid-message is not knocked for again this pass.
            stalled = isinstance(exc, TimeoutError | smtplib.SMTPServerDisconnected)
            raise DeliveryFailed(f"SMTP: {exc!r}", unreachable=stalled) from exc

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.quit()
            with contextlib.suppress(Exception):
                conn.close()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass
class MailboxTransport:
    """No SMTP server configured: each email becomes ``<dir>/<message id>.eml`` (a second
    attempt overwrites the same file: exactly one copy), readable in any mail client."""

    directory: Path
    sender: str

    def send(self, message: Outgoing) -> None:
        mail = email_message(message, self.sender)
        try:
            _write_atomically(self.directory / f"{message.message_id}.eml", mail.as_bytes())
        except OSError as exc:
            raise DeliveryFailed(f"mailbox: {exc!r}") from exc

    def close(self) -> None:
        pass


@dataclass
class LocalSmsTransport:
    """No SMS provider configured: each SMS becomes ``<dir>/<message id>.txt``."""

    directory: Path

    def send(self, message: Outgoing) -> None:
        text = f"To: {message.to}\nMessage-Id: {message.message_id}\n\n{message.body}\n"
        try:
            _write_atomically(self.directory / f"{message.message_id}.txt", text.encode())
        except OSError as exc:
            raise DeliveryFailed(f"sms mailbox: {exc!r}") from exc

    def close(self) -> None:
        pass


def _idempotency(message: Outgoing) -> dict[str, str]:
    return {"Idempotency-Key": message.message_id, MESSAGE_ID_HEADER: message.message_id}


def _check_answer(response: httpx.Response) -> None:
    if response.is_success:
        return
    code = response.status_code
    # A 4xx says the request itself is wrong (sending it again changes nothing), except
    # the ones that mean "later": timeout, too early, too many requests.
    permanent = 400 <= code < 500 and code not in (408, 409, 425, 429)
    raise DeliveryFailed(f"HTTP {code}: {response.text[:200]}", permanent=permanent)


@dataclass
class _Http:
    client: httpx.Client | None = field(default=None, repr=False)

    def _client(self) -> httpx.Client:
        if self.client is None:
            self.client = httpx.Client(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False)
        return self.client

    def _post(self, url: str, **kwargs: Any) -> None:
        try:
            response = self._client().post(url, **kwargs)
        except (httpx.ConnectError, httpx.TimeoutException) as exc:
            raise DeliveryFailed(f"HTTP: {exc!r}", unreachable=True) from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"HTTP: {exc!r}") from exc
        _check_answer(response)

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.close()


@dataclass
class JsonSmsTransport(_Http):
    """A generic SMS provider: ``POST <url>`` with ``{"to", "body", "from", "message_id"}``
    and an optional bearer token."""

    url: str = ""
    token: str = ""
    sender: str = ""

    def send(self, message: Outgoing) -> None:
        headers = _idempotency(message)
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {
            "to": message.to,
            "from": self.sender,
            "body": message.body,
            "message_id": message.message_id,
        }
        self._post(
            self.url,
            content=msgspec.json.encode(body),
            headers={**headers, "Content-Type": "application/json"},
        )


TWILIO_API = "https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json"


@dataclass
class TwilioSmsTransport(_Http):
    """Twilio's Messages API: a form POST (``To``, ``From``, ``Body``) with basic auth
    (account SID, auth token). ``url`` overrides the API's address (tests, a proxy)."""

    account_sid: str = ""
    auth_token: str = ""
    sender: str = ""
    url: str = ""

    def send(self, message: Outgoing) -> None:
        self._post(
            self.url or TWILIO_API.format(sid=self.account_sid),
            data={"To": message.to, "From": self.sender, "Body": message.body},
            auth=(self.account_sid, self.auth_token),
            headers=_idempotency(message),
        )


@dataclass
class WebhookTransport(_Http):
    """A signed POST of the message's JSON body to the subscription's URL."""

    def send(self, message: Outgoing) -> None:
        if message.secret is None:
            raise DeliveryFailed("the webhook subscription was deleted", permanent=True)
        body = message.body.encode()
        headers = {
            **_idempotency(message),
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(message.secret, body, int(time.time())),
            TOPIC_HEADER: message.topic or "",
        }
        self._post(message.to, content=body, headers=headers)


@dataclass
class Transports:
    """The transport of each channel, for one deliverer."""

    email: Transport
    sms: Transport
    webhook: Transport

    def of(self, channel: Channel) -> Transport:
        return {Channel.EMAIL: self.email, Channel.SMS: self.sms, Channel.WEBHOOK: self.webhook}[
            channel
        ]

    def close(self) -> None:
        for t in (self.email, self.sms, self.webhook):
            with contextlib.suppress(Exception):
                t.close()


@dataclass(frozen=True, slots=True)
class TransportSettings:
    """What the transports need of ``riskops.kernel.config.Settings``."""

    data_dir: Path
    smtp_url: str = ""
    mail_from: str = "riskops@localhost"
    sms_provider: str = ""
    sms_url: str = ""
    sms_username: str = ""
    sms_token: str = ""
    sms_from: str = ""


def from_settings(s: TransportSettings) -> Transports:
    """The configured transports: SMTP or the local mailbox; the SMS provider or the local
    SMS folder; webhooks over HTTP."""
    mailbox = s.data_dir / "outbox"
    email: Transport
    if s.smtp_url:
        email = SmtpTransport(SmtpUrl.parse(s.smtp_url), s.mail_from)
    else:
        email = MailboxTransport(mailbox / "mail", s.mail_from)
    sms: Transport
    if s.sms_provider == "json":
        sms = JsonSmsTransport(url=s.sms_url, token=s.sms_token, sender=s.sms_from)
    elif s.sms_provider == "twilio":
        sms = TwilioSmsTransport(
            account_sid=s.sms_username, auth_token=s.sms_token, sender=s.sms_from, url=s.sms_url
        )
    elif not s.sms_provider:
        sms = LocalSmsTransport(mailbox / "sms")
    else:
        raise ValueError(f"RISKOPS_SMS_PROVIDER must be json or twilio, not {s.sms_provider!r}")
    return Transports(email=email, sms=sms, webhook=WebhookTransport())
