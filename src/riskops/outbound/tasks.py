"""The deliverer: claim due messages under a lease, send each, record what happened.

A pass is three steps, each short: (1) a transaction claims up to ``batch`` due messages
(``sending`` until ``now + lease``); (2) outside any transaction, each goes through its
channel's transport with its message id; (3) a transaction records sent / retrying
(exponential backoff with jitter) / dead, and an attempt row each. A deliverer that dies
between (2) and (3) leaves its messages ``sending``: once the lease ends another pass takes
them again and sends them with the same message id, which the receiver dedupes on. So a
message is delivered at least once and identified exactly once; none is lost while a
server is down (it waits ``retrying``). ADR 0032.

The composition schedules ``delivery_pass`` (``riskops.worker``, the server's followers).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import structlog
from sqlalchemy.orm import Session, sessionmaker

from riskops.kernel.clock import utcnow
from riskops.kernel.db import unit_of_work
from riskops.kernel.retry import Backoff
from riskops.outbound import repository
from riskops.outbound.models import Channel, OutboundMessage, Status
from riskops.outbound.repository import Outcome
from riskops.outbound.transports import (
    DeliveryFailed,
    Outgoing,
    Transports,
    TransportSettings,
    from_settings,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Policy:
    """How hard the deliverer tries."""

    max_attempts: int = 30  # half a day to a day of an outage: 30 s doubling to the 1 h cap
    retry_seconds: float = 30.0  # the first retry's delay (before jitter)
    retry_max_seconds: float = 3600.0
    lease_seconds: float = 120.0  # longer than a pass may send for
    batch: int = 200
    # A pass stops trying new messages after this long (the rest wait for the next pass):
    # it runs between the worker's monitor batches, which must not wait on a slow server.
    pass_seconds: float = 5.0


@dataclass
class PassResult:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0


@dataclass
class Deliverer:
    """Delivers the outbox through ``transports``; one instance per process (it keeps the
    SMTP connection and HTTP clients between the messages of a pass)."""

    sessions: sessionmaker[Session]
    transports: Transports
    policy: Policy = field(default_factory=Policy)
    clock: Callable[[], datetime] = utcnow
    rng: random.Random = field(default_factory=random.Random)
    timer: Callable[[], float] = time.monotonic  # the pass's time budget is measured on it

    def run_pass(
        self, *, now: datetime | None = None, writer: AbstractContextManager[object] | None = None
    ) -> PassResult:
        """One pass over at most ``policy.batch`` due messages. ``writer`` (the server's
        SQLite writer lock) is held around each of the two transactions, never around the
        sends. An error while recording propagates; the messages stay leased and are taken
        again when the lease ends."""
        at = now or self.clock()
        lease_until = at + timedelta(seconds=self.policy.lease_seconds)
        with writer or nullcontext(), unit_of_work(self.sessions) as session:
            claimed = repository.claim_due(
                session, now=at, lease_until=lease_until, limit=self.policy.batch
            )
            secrets = repository.secrets_of(
                session, {m.subscription_id for m in claimed if m.subscription_id is not None}
            )
            outgoing = [_outgoing(m, secrets) for m in claimed]
            attempts = {m.id: m.attempts for m in claimed}
        result = PassResult(claimed=len(outgoing))
        if not outgoing:
            return result
        outcomes: list[Outcome] = []
        untried: list[int] = []
        started = self.timer()
        budget = min(self.policy.pass_seconds, self.policy.lease_seconds / 2)
        down: dict[tuple[Channel, str], DeliveryFailed] = {}  # servers found unreachable
        try:
            for message in outgoing:
                # Stop in time for the worker's next batch, and well before the lease ends
                # (or another deliverer would send these too).
                if self.timer() - started > budget:
                    untried.append(message.pk)
                    continue
                number = attempts[message.pk] + 1
                server = _server_of(message)
                if server in down:  # do not knock on a door that just stayed shut
                    at = now or self.clock()
                    outcomes.append(self._failed(message, number, lease_until, at, down[server]))
                    continue
                outcome, failure = self._attempt(message, number, lease_until, fixed=now)
                outcomes.append(outcome)
                if failure is not None and failure.unreachable:
                    down[server] = failure
        finally:
            self.transports.close()
        done = now or self.clock()
        with writer or nullcontext(), unit_of_work(self.sessions) as session:
            repository.record(session, outcomes)
            repository.release(session, untried, lease_until, done)
        for o in outcomes:
            if o.status is Status.SENT:
                result.sent += 1
            elif o.status is Status.RETRYING:
                result.retrying += 1
            else:
                result.dead += 1
        if result.retrying or result.dead:
            log.warning(
                "outbound.failures", retrying=result.retrying, dead=result.dead, sent=result.sent
            )
        return result

    def _attempt(
        self, message: Outgoing, number: int, lease_until: datetime, fixed: datetime | None
    ) -> tuple[Outcome, DeliveryFailed | None]:
        at = fixed or self.clock()
        try:
            self.transports.of(message.channel).send(message)
        except Exception as exc:
            failure = exc if isinstance(exc, DeliveryFailed) else None
            if failure is None:
                # A defect (a message the transport cannot build): counted like any failed
                # attempt, so it ends dead instead of looping, and its pass goes on.
                log.error("outbound.send_error", message=message.pk, error=repr(exc))
                failure = DeliveryFailed(f"error: {exc!r}")
            return self._failed(message, number, lease_until, at, failure), failure
        sent = Outcome(
            pk=message.pk,
            lease_until=lease_until,
            status=Status.SENT,
            attempts=number,
            at=at,
            next_attempt_at=at,
        )
        return sent, None

    def _failed(
        self,
        message: Outgoing,
        number: int,
        lease_until: datetime,
        at: datetime,
        failure: DeliveryFailed,
    ) -> Outcome:
        dead = failure.permanent or number >= self.policy.max_attempts
        return Outcome(
            pk=message.pk,
            lease_until=lease_until,
            status=Status.DEAD if dead else Status.RETRYING,
            attempts=number,
            at=at,
            next_attempt_at=at if dead else at + timedelta(seconds=self.delay(number)),
            error=failure.reason[:2000],
        )

    def delay(self, failures: int) -> float:
        """Seconds before the next attempt after ``failures`` failed ones: doubling from
        ``retry_seconds`` up to ``retry_max_seconds``, jittered (at least half of it)."""
        backoff = Backoff(
            initial=self.policy.retry_seconds,
            maximum=self.policy.retry_max_seconds,
            failures=max(0, failures - 1),
            _rng=self.rng,
        )
        return backoff.next_delay()

    def drain(self, *, max_passes: int = 1_000) -> PassResult:
        """Passes until nothing due is left (tests, ``riskops outbox deliver``)."""
        total = PassResult()
        for _ in range(max_passes):
            r = self.run_pass()
            total.claimed += r.claimed
            total.sent += r.sent
            total.retrying += r.retrying
            total.dead += r.dead
            if r.claimed == 0:
                break
        return total


def _server_of(message: Outgoing) -> tuple[Channel, str]:
    """Which server a message goes to: one per channel for email and SMS, the URL's host
    for a webhook."""
    if message.channel is Channel.WEBHOOK:
        return message.channel, urlsplit(message.to).netloc
    return message.channel, ""


def _outgoing(m: OutboundMessage, secrets: dict[int, str]) -> Outgoing:
    return Outgoing(
        pk=m.id,
        channel=Channel(m.channel),
        message_id=m.message_id,
        to=m.recipient,
        body=m.body,
        subject=m.subject,
        html=m.html,
        reply_to=m.reply_to,
        attachments=tuple(m.attachments or ()),
        topic=m.topic,
        secret=secrets.get(m.subscription_id) if m.subscription_id is not None else None,
    )


def deliverer_from_settings(sessions: sessionmaker[Session]) -> Deliverer:
    """A deliverer with the configured transports and retry policy (``RISKOPS_SMTP_URL``,
    ``RISKOPS_SMS_*``, ``RISKOPS_OUTBOUND_*``)."""
    from riskops.kernel.config import get_settings

    s = get_settings()
    transports = from_settings(
        TransportSettings(
            data_dir=s.data_dir,
            smtp_url=s.smtp_url,
            mail_from=s.mail_from,
            sms_provider=s.sms_provider,
            sms_url=s.sms_url,
            sms_username=s.sms_username,
            sms_token=s.sms_token,
            sms_from=s.sms_from,
        )
    )
    policy = Policy(
        max_attempts=s.outbound_max_attempts,
        retry_seconds=s.outbound_retry_seconds,
        retry_max_seconds=s.outbound_retry_max_seconds,
    )
    return Deliverer(sessions, transports, policy)


_deliverers: dict[int, Deliverer] = {}


def delivery_pass(
    sessions: sessionmaker[Session], writer: AbstractContextManager[object] | None = None
) -> None:
    """One delivery pass with the configured deliverer (made on first use, kept per session
    factory), logged; an error is logged, never fatal (the messages wait for the next pass).
    The signature of the other ``Periodic`` passes, for ``riskops.worker`` and the server."""
    deliverer = _deliverers.get(id(sessions))
    if deliverer is None:
        deliverer = _deliverers.setdefault(id(sessions), deliverer_from_settings(sessions))
    try:
        result = deliverer.run_pass(writer=writer)
        if result.claimed:
            log.debug("outbound.pass", sent=result.sent, retrying=result.retrying)
    except Exception as exc:
        log.error("outbound.pass_failed", error=repr(exc))
