"""The SMTP listener: every message delivered to riskops is stored before it is accepted.

Each DATA is received in one transaction that commits before ``250`` is answered; if
storing fails the answer is ``451`` (a transient failure), so the sending server keeps the
message and retries. Nothing accepted is lost. The listener has no authentication: bind it
to a private address behind the exchange's mail relay (the default is 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from riskops.intake.service import MessageOutcome, Received, receive_email
from riskops.kernel.db import unit_of_work

log = logging.getLogger(__name__)


class IntakeHandler:
    """aiosmtpd handler: stores each message through ``receive_email``."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        max_bytes: int | None = None,
        own_addresses: frozenset[str] = frozenset(),
        reply_secret: str = "",
    ) -> None:
        self.sessions = sessions
        self.max_bytes = max_bytes
        self.own_addresses = own_addresses
        self.reply_secret = reply_secret  # RISKOPS_REPLY_SECRET: replies attach to their case

    def store(self, raw: bytes, peer: str, recipients: Sequence[str] = ()) -> Received:
        with unit_of_work(self.sessions) as session:
            return receive_email(
                session,
                raw,
                channel="smtp",
                source_name=f"smtp:{peer}",
                max_bytes=self.max_bytes,
                own_addresses=self.own_addresses,
                reply_secret=self.reply_secret,
                recipients=recipients,
            )

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):  # pragma: no cover - decode_data is off
            raw = raw.encode("utf-8", "surrogateescape")
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        try:
            recipients = [str(r) for r in getattr(envelope, "rcpt_tos", None) or ()]
            received = await asyncio.to_thread(self.store, raw, peer, recipients)
        except Exception:
            log.exception("smtp message not stored", extra={"peer": peer})
            return "451 4.3.0 Message not stored; try again later"
        # A malformed message is kept (dead letter) and so accepted: retrying cannot fix it.
        if received.outcome is MessageOutcome.MALFORMED:
            return "250 2.0.0 Kept as a dead letter (unreadable message)"
        return f"250 2.0.0 Stored as {received.ref}"[:510]


def controller(
    handler: IntakeHandler, host: str = "127.0.0.1", port: int = 2525, *, data_size_limit: int
) -> Controller:
    """An SMTP server on its own thread (``start()`` / ``stop()``)."""
    return Controller(
        handler, hostname=host, port=port, data_size_limit=data_size_limit, decode_data=False
    )
