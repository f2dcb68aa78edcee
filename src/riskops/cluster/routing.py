"""Decisions routed to the owner of the account, over NATS request-reply (ADR 0042).

With the monitor partitioned by account (``crc32(account_id) mod N``, as the publisher
partitions the stream), only the worker that owns an account's partition holds its state,
so only it can decide that account's withdrawal. An API process sends the event to
``decision_subject(subject, partition)``; the owner answers with its decision.

Two sides:

- ``serve_decisions`` (the partition owner): subscribes in a queue group, validates each
  request (one event, or a JSON array of them), decides the requests that arrived together
  in one call of ``decide`` (one group commit, serialised: the next group waits), and
  replies with msgspec JSON: a ``DecisionResponse``, or an error body
  ``{error, message, details, status}`` (an invalid event: ``validation_failed`` with a
  reason per field).
- ``RoutedDecider`` (the API process): one request per event, all in flight at once. When
  the owner does not answer within the timeout (or nobody listens, or it could not decide)
  the answer is the configured fail-safe decision (hold by default), whose reason says so,
  and the event is published to the stream (``{subject}.{partition}``, ``Nats-Msg-Id`` =
  event id, as ``riskops.events.nats.publish`` does) so the owner decides and records it
  when it is back, once: JetStream drops a re-published id and the owner's log is
  idempotent on the event id.

The request subject is ``{subject}-decide.{partition}``, not ``{subject}.decide.{partition}``:
the stream listens on ``{subject}.>``, and a stream stores every message of its subjects,
requests included, and answers them with its PubAck before any owner can (tested).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import NotFoundError

from riskops.events.nats import partition_of
from riskops.events.schemas import Event
from riskops.events.validation import Rejection, decode
from riskops.kernel.errors import RiskopsError
from riskops.kernel.logging import get_logger
from riskops.monitor.engine import Reason
from riskops.monitor.runtime import tune_gc
from riskops.monitor.schemas import DecisionResponse

log = get_logger(__name__)

Decide = Callable[[list[Event]], Awaitable[list[DecisionResponse | Exception]]]
"""What a partition owner decides with: the events in order, an answer (or error) each."""

QUEUE = "riskops-deciders"
"""The queue group of the owners' subscriptions: a request goes to one member only, so a
handover where the old and the new owner both listen for a moment answers once."""

FAILSAFE_RULE = "FAILSAFE"
FAILSAFE_DECISIONS = ("allow", "review", "hold", "block")
MAX_BATCH = 500
"""Most events in one request, and in one group handed to ``decide``."""

_encode = msgspec.json.Encoder().encode
_decide_response = msgspec.json.Decoder(DecisionResponse).decode
_raw_list = msgspec.json.Decoder(list[msgspec.Raw]).decode


def decision_subject(subject: str, partition: int) -> str:
    """Where the owner of ``partition`` of the stream on ``subject`` takes decision requests."""
    return f"{subject}-decide.{partition}"


class ErrorBody(msgspec.Struct):
    """An answer that is not a decision, as the API's error body plus its HTTP status."""

    error: str
    message: str
    details: Any = None
    status: int = 503


class OwnerRefused(RiskopsError):
    """The owner's error answer, rendered by the API as the owner rendered it (its status,
    code, message and details: a 422's field reasons, an undecidable event's dead letter)."""

    def __init__(self, body: ErrorBody) -> None:
        super().__init__(body.message, details=body.details)
        self.status_code = body.status
        self.code = body.error


def error_body(exc: Exception) -> ErrorBody:
    """The wire form of a failed answer; an unexpected error names its type only (its
    message may carry values of the event)."""
    if isinstance(exc, RiskopsError):
        return ErrorBody(exc.code, exc.message, exc.details, exc.status_code)
    return ErrorBody("unavailable", f"the owner could not decide it ({type(exc).__name__})")


def _invalid(rejection: Rejection) -> ErrorBody:
    details = [{"field": e.field, "reason": e.reason} for e in rejection.errors]
    return ErrorBody("validation_failed", "invalid event", details, 422)


# --- the owner's side ---------------------------------------------------------------------


@dataclass
class _Request:
    msg: Msg
    batch: bool
    answers: list[DecisionResponse | ErrorBody]
    todo: list[tuple[int, Event]] = field(default_factory=list)  # (slot, event) to decide


class _Server:
    """Groups the requests that arrive while a group is being decided into the next one."""

    def __init__(
        self, decide: Decide, partition: int, partitions: int | None, groups: int = 1
    ) -> None:
        self.decide = decide
        self.partition = partition
        self.partitions = partitions
        self.groups = groups
        self.max_event_bytes = 64 * 1024
        self.max_pending = 10_000
        self.pending: list[_Request] = []
        self.waiting = 0  # events in ``pending``
        self.flushers: set[asyncio.Task[None]] = set()

    async def receive(self, msg: Msg) -> None:
        """The subscription's callback: parse, queue, and return at once."""
        request = self._parse(msg)
        if not request.todo:
            await _reply(request)
            return
        if self.waiting + len(request.todo) > self.max_pending:
            busy = ErrorBody("busy", f"partition {self.partition} has too many requests waiting")
            for slot, _ in request.todo:
                request.answers[slot] = busy
            await _reply(request)
            return
        self.pending.append(request)
        self.waiting += len(request.todo)
        self.flushers = {f for f in self.flushers if not f.done()}
        if len(self.flushers) < self.groups:
            self.flushers.add(asyncio.create_task(self._flush(), name="decision-group"))

    def _parse(self, msg: Msg) -> _Request:
        data = msg.data
        batch = data.lstrip()[:1] == b"["
        if not batch:
            items: list[bytes] = [data]
        else:
            try:
                items = [bytes(raw) for raw in _raw_list(data)]
            except msgspec.DecodeError as exc:
                reason = f"not a JSON array of events: {exc}"
                return _Request(msg, False, [_refused("$", reason)])
            if not items or len(items) > MAX_BATCH:
                reason = f"a batch holds 1 to {MAX_BATCH} events; this one holds {len(items)}"
                return _Request(msg, False, [_refused("$", reason)])
        answers: list[DecisionResponse | ErrorBody] = []
        request = _Request(msg, batch, answers)
        for slot, raw in enumerate(items):
            event = decode(raw, max_bytes=self.max_event_bytes)
            if isinstance(event, Rejection):
                answers.append(_invalid(event))
                continue
            owner = self._owner(event)
            if owner is not None:
                answers.append(owner)
                continue
            answers.append(_UNDECIDED)
            request.todo.append((slot, event))
        return request

    def _owner(self, event: Event) -> ErrorBody | None:
        """A refusal if the event's account is another partition's (the requester counts
        partitions differently: deciding here would split the account's state)."""
        if self.partitions is None:
            return None
        owner = partition_of(event.account_id, self.partitions)
        if owner == self.partition:
            return None
        message = (
            f"misrouted: the account belongs to partition {owner} of {self.partitions}, "
            f"not {self.partition}; the sender counts the partitions differently"
        )
        return ErrorBody("misrouted", message, None, 503)

    async def _flush(self) -> None:
        while self.pending:
            group: list[_Request] = []
            size = 0
            while self.pending and (not group or size + len(self.pending[0].todo) <= MAX_BATCH):
                request = self.pending.pop(0)
                group.append(request)
                size += len(request.todo)
            self.waiting -= size
            # A request sent again while the first is waiting (a client's retry) is decided
            # once, both answered; the same id with another payload stays apart (the
            # decider answers it 409).
            events: list[Event] = []
            slots: dict[str, list[int]] = {}
            where: list[int] = []
            for request in group:
                for _, event in request.todo:
                    same = slots.setdefault(event.event_id, [])
                    index = next((i for i in same if events[i] == event), None)
                    if index is None:
                        index = len(events)
                        events.append(event)
                        same.append(index)
                    where.append(index)
            try:
                answers = await self.decide(events)
                if len(answers) != len(events):
                    raise RuntimeError(f"{len(answers)} answers to {len(events)} events")
            except Exception as exc:
                log.warning("routing.group_failed", error=type(exc).__name__, events=len(events))
                failed = error_body(exc)
                answers = [OwnerRefused(failed)] * len(events)
            given = iter(where)
            for request in group:
                for slot, _ in request.todo:
                    answer = answers[next(given)]
                    request.answers[slot] = (
                        error_body(answer) if isinstance(answer, Exception) else answer
                    )
                await _reply(request)


_UNDECIDED = ErrorBody("unavailable", "not decided")


def _refused(where: str, reason: str) -> ErrorBody:
    return ErrorBody(
        "validation_failed", "invalid request", [{"field": where, "reason": reason}], 422
    )


async def _reply(request: _Request) -> None:
    if not request.msg.reply:  # a plain publish: decided and recorded, nobody to answer
        return
    body = request.answers if request.batch else request.answers[0]
    try:
        await request.msg.respond(_encode(body))
    except NatsError as exc:  # the requester has its fail-safe; the decision is recorded
        log.warning("routing.reply_failed", error=type(exc).__name__)


async def serve_decisions(
    nc: Client,
    subject: str,
    partition: int,
    decide: Decide,
    *,
    partitions: int | None = None,
    max_event_bytes: int = 64 * 1024,
    max_pending: int = 10_000,
    groups: int = 1,
) -> Subscription:
    """Answer decision requests for ``partition`` of the stream on ``subject`` with ``decide``.

    Call it when this process owns the partition (and unsubscribe when it stops owning
    it): only the owner holds the accounts' state. ``partitions`` (N), when given, refuses
    an event whose account is not this partition's, which a sender that counts partitions
    differently would send. At most ``max_pending`` events wait for ``decide``; past that a
    request is answered ``busy`` (the sender's fail-safe). ``groups``: how many groups may be
    in ``decide`` at once (1: the next group forms while one is decided, one transaction a
    group; a partition worker takes more, its stream read batches them anyway). Refuses to
    start when a stream would capture the requests (``RoutingMisconfigured``).
    """
    target = decision_subject(subject, partition)
    await ensure_uncaptured(nc, target)
    server = _Server(decide, partition, partitions, groups)
    server.max_event_bytes = max_event_bytes
    server.max_pending = max_pending
    subscription = await nc.subscribe(target, queue=QUEUE, cb=server.receive)
    await nc.flush()  # the server has the subscription (and any earlier unsubscribe) now
    return subscription


class RoutingMisconfigured(RuntimeError):
    """Decision requests would land in a JetStream stream (which answers them itself)."""


async def ensure_uncaptured(nc: Client, target: str) -> None:
    """Raise ``RoutingMisconfigured`` if a stream's subjects cover ``target``."""
    try:
        stream = await nc.jetstream().find_stream_name_by_subject(target)
    except NotFoundError:
        return
    raise RoutingMisconfigured(
        f"stream {stream} listens on {target}: it would store every decision request and "
        "answer it before the owner; give the stream subjects that leave the "
        "'-decide' subjects out"
    )


# --- the API's side -----------------------------------------------------------------------


class RoutedDecider:
    """Decides by asking each event's owner over NATS; the fail-safe when it does not answer.

    ``subject`` is the stream's (``RISKOPS_NATS_SUBJECT``), ``partitions`` the N the
    publisher and the workers use. ``timeout_s`` bounds the wait for an owner's answer
    (``RISKOPS_DECISION_TIMEOUT_MS``); ``failsafe`` is the decision given when it does not
    come (``RISKOPS_DECISION_FAILSAFE``: hold by default).
    """

    def __init__(
        self,
        nc: Client,
        subject: str,
        partitions: int,
        timeout_s: float,
        failsafe: str = "hold",
    ) -> None:
        self.check(partitions, timeout_s, failsafe)
        # The routed API process has no monitor runtime, which sets the process's garbage
        # collection (``tune_gc``) in the in-process API; with the defaults a full pass ran
        # every few seconds at 1,500 requests/s and took 150-190 ms (collecting nothing),
        # every request in flight waiting: p99 at 64 connections 179 -> 72 ms (ADR 0049).
        tune_gc()
        self.nc = nc
        self.js = nc.jetstream()
        self.subject = subject
        self.partitions = partitions
        self.timeout_s = timeout_s
        self.failsafe = failsafe

    @staticmethod
    def check(partitions: int, timeout_s: float, failsafe: str) -> None:
        """ValueError naming the setting that is out of bounds."""
        if partitions < 1:
            raise ValueError(f"partitions must be at least 1, not {partitions}")
        if not 0 < timeout_s <= 60:
            ms = f"{timeout_s * 1000:g}"
            raise ValueError(f"RISKOPS_DECISION_TIMEOUT_MS must be in 1..60000, not {ms}")
        if failsafe not in FAILSAFE_DECISIONS:
            known = ", ".join(FAILSAFE_DECISIONS)
            raise ValueError(f"RISKOPS_DECISION_FAILSAFE must be one of {known}, not {failsafe!r}")

    async def decide(self, events: Sequence[Event]) -> list[DecisionResponse | Exception]:
        """The owner's answer to each event (requests all in flight at once), in order."""
        if len(events) == 1:
            return [await self.decide_one(events[0])]
        return list(await asyncio.gather(*(self.decide_one(e) for e in events)))

    async def decide_one(self, event: Event) -> DecisionResponse | Exception:
        partition = partition_of(event.account_id, self.partitions)
        payload = _encode(event)
        target = decision_subject(self.subject, partition)
        try:
            msg = await self.nc.request(target, payload, timeout=self.timeout_s)
        except NatsTimeout:
            why = f"owner partition {partition} did not answer within {self._ms} ms"
            return await self._failsafe(event, partition, payload, why)
        except NoRespondersError:
            why = f"no owner of partition {partition} is listening"
            return await self._failsafe(event, partition, payload, why)
        except NatsError as exc:
            why = f"the request to partition {partition} failed ({type(exc).__name__})"
            return await self._failsafe(event, partition, payload, why)
        answer = _read_answer(msg.data)
        if isinstance(answer, ErrorBody):
            if answer.status < 500 or answer.error == "undecidable":
                return OwnerRefused(answer)  # a 4xx, or logged and quarantined by the owner
            why = f"owner partition {partition} could not decide it ({answer.error})"
            queue = answer.error != "misrouted"  # never to a partition that is not its owner
            return await self._failsafe(event, partition, payload, why, queue=queue)
        if answer.event_id != event.event_id:  # never another request's decision
            why = f"owner partition {partition} answered for another event"
            return await self._failsafe(event, partition, payload, why)
        return answer

    @property
    def _ms(self) -> str:
        return f"{self.timeout_s * 1000:g}"

    async def _failsafe(
        self, event: Event, partition: int, payload: bytes, why: str, *, queue: bool = True
    ) -> DecisionResponse:
        """The fail-safe answer; the event queued on the stream for its owner first."""
        if queue:
            queued = await self._queue(event, partition, payload)
        else:
            queued = "not queued (a configuration error): send it again once it is fixed"
        reason = f"{why}: {self._verb} by the fail-safe; {queued}"
        log.warning(
            "routing.failsafe",
            event_id=event.event_id,
            partition=partition,
            decision=self.failsafe,
            why=why,
        )
        reasons = [Reason(FAILSAFE_RULE, self.failsafe, 0, reason)]
        return DecisionResponse(event.event_id, self.failsafe, 0, reasons, None, False)

    @property
    def _verb(self) -> str:
        return {"allow": "allowed", "review": "sent to review", "hold": "held"}.get(
            self.failsafe, "blocked"
        )

    async def _queue(self, event: Event, partition: int, payload: bytes) -> str:
        """Publish the event to its partition of the stream; what became of it, said."""
        headers = {"Nats-Msg-Id": event.event_id}
        target = f"{self.subject}.{partition}"
        try:
            await self.js.publish(target, payload, timeout=self.timeout_s, headers=headers)
        except (NatsError, TimeoutError) as exc:
            log.error(
                "routing.not_queued",
                event_id=event.event_id,
                partition=partition,
                error=type(exc).__name__,
            )
            return f"it could not be queued for the owner ({type(exc).__name__}): send it again"
        return (
            "queued for the owner, which decides and records it once it is back; "
            "ask again with the same event_id for its decision"
        )


def _read_answer(data: bytes) -> DecisionResponse | ErrorBody:
    try:
        return _decide_response(data)
    except msgspec.DecodeError:
        pass
    try:
        return msgspec.json.decode(data, type=ErrorBody)
    except msgspec.DecodeError:
        return ErrorBody("unreadable", "the owner's answer could not be read")
