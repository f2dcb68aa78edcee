"""Decisions routed to the partition owner over the real NATS (riskops.cluster.routing)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, TypeAlias

import msgspec
import nats
import pytest
from routing_owner import (
    FakeOwner,
    accounts_in,
    created,
    event,
    owner_db,
    reference_runtime,
    scratch_stream,
    stream_messages,
)

from riskops.cluster.routing import (
    FAILSAFE_RULE,
    OwnerRefused,
    RoutedDecider,
    RoutingMisconfigured,
    decision_subject,
    serve_decisions,
)
from riskops.events.nats import partition_of
from riskops.events.schemas import Event
from riskops.monitor.schemas import DecisionResponse
from support import migrated_engine

pytestmark = pytest.mark.nats
Answer: TypeAlias = DecisionResponse | Exception


@pytest.fixture
def stream(nats_url: str) -> Iterator[tuple[str, str]]:
    with scratch_stream(nats_url) as names:
        yield names


@asynccontextmanager
async def owners(
    nats_url: str, subject: str, tmp_path: Path, partitions: int, live: list[int], **kw: Any
) -> AsyncIterator[dict[int, FakeOwner]]:
    """Owners of the ``live`` partitions (of ``partitions``), each with its own database."""
    found: dict[int, FakeOwner] = {}
    with ExitStack() as databases:
        try:
            for p in live:
                engine = databases.enter_context(owner_db(tmp_path / f"owner-{p}"))
                owner = FakeOwner(engine, tmp_path / f"owner-{p}", p, partitions, **kw)
                found[p] = owner
                await owner.start(nats_url, subject)
            yield found
        finally:
            for owner in found.values():
                await owner.stop()


@asynccontextmanager
async def decider(
    nats_url: str, subject: str, partitions: int, timeout_s: float = 5.0, failsafe: str = "hold"
) -> AsyncIterator[RoutedDecider]:
    nc = await nats.connect(nats_url)
    try:
        yield RoutedDecider(nc, subject, partitions, timeout_s, failsafe)
    finally:
        await nc.drain()


def decided(answer: Answer) -> DecisionResponse:
    assert isinstance(answer, DecisionResponse), answer
    return answer


def failsafe_reason(answer: Answer) -> str:
    response = decided(answer)
    assert response.hold_id is None
    [reason] = response.reasons
    assert reason.rule_id == FAILSAFE_RULE
    return reason.reason


def shape(answer: Answer) -> tuple[Any, ...]:
    """What must agree between two monitors (hold ids are each database's own)."""
    d = decided(answer)
    reasons = [(r.rule_id, r.action, r.score, r.reason) for r in d.reasons]
    return d.event_id, d.decision, d.score, reasons, d.hold_id is not None, d.duplicate


def test_requests_stay_out_of_the_stream(nats_url: str, stream: tuple[str, str]) -> None:
    """The stream on ``{subject}.>`` does not capture the decision subjects (it would store
    each request and answer it with its PubAck first); one that does is refused."""

    async def scenario() -> None:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            target = decision_subject(stream[1], 3)
            with pytest.raises(nats.js.errors.NotFoundError):
                await js.find_stream_name_by_subject(target)
            greedy = stream[0] + "_GREEDY"
            await js.add_stream(name=greedy, subjects=[f"{stream[1]}-decide.>"])
            try:
                with pytest.raises(RoutingMisconfigured, match=greedy):
                    await serve_decisions(nc, stream[1], 3, _never)
            finally:
                await js.delete_stream(greedy)
        finally:
            await nc.close()

    asyncio.run(scenario())


async def _never(events: list[Event]) -> list[Answer]:
    raise AssertionError("decide must not be called")


def test_stateful_decisions_equal_the_in_process_monitor(
    nats_url: str, stream: tuple[str, str], tmp_path: Path
) -> None:
    """The same history, event by event: through two owners over NATS and through one
    in-process monitor, the same decisions, structuring (ST-002, three withdrawals just
    under USD 10,000 within 7 days) and pass-through (PT-001) included."""
    partitions = 2
    a, b = accounts_in(0, partitions, 1)[0], accounts_in(1, partitions, 2)
    history = [
        event("withdrawal.requested", "s1", a, "9500.00", 1),
        event("deposit", "d1", b[0], "5000.00", 2),
        event("withdrawal.requested", "s2", a, "9600.00", 3),
        event("withdrawal.requested", "p1", b[0], "4800.00", 4),  # 96% of what came in
        event("withdrawal.requested", "s3", a, "9700.00", 5),
        event("withdrawal.requested", "x1", b[1], "25000.00", 6),
        event("withdrawal.requested", "s4", a, "9800.00", 7),
        event("withdrawal.requested", "x2", b[1], "40.00", 8),
    ]

    with migrated_engine("sqlite", tmp_path) as engine:
        local = reference_runtime(tmp_path, engine)
        expected = [shape(local.decide_events([e])[0]) for e in history]

    async def scenario() -> list[tuple[Any, ...]]:
        async with (
            owners(nats_url, stream[1], tmp_path, partitions, [0, 1]),
            decider(nats_url, stream[1], partitions) as routed,
        ):
            return [shape((await routed.decide([e]))[0]) for e in history]

    assert asyncio.run(scenario()) == expected
    rules = {r[0] for answer in expected for r in answer[3]}
    assert {"ST-002", "PT-001"} <= rules  # stateful rules did fire
    assert [answer[1] for answer in expected][4] == "review"  # s3: the third near 10,000


def test_many_requests_in_flight_get_their_own_answers(
    nats_url: str, stream: tuple[str, str], tmp_path: Path
) -> None:
    """200 withdrawals of 200 accounts over 4 partitions, all in flight at once: each answer
    is its own event's, as the in-process monitor decides it."""
    partitions = 4
    # One in 9 from a high-risk country its account does not live in (GEO-001, review),
    # one in 7 big.
    history = [created(f"c{i}", f"acc-{i}", "DE") for i in range(0, 200, 9)] + [
        event("withdrawal.requested", f"w{i}", f"acc-{i}", "25000.00", ip_country="KP")
        if i % 9 == 0
        else event("withdrawal.requested", f"w{i}", f"acc-{i}", f"{70 + i % 7 * 5000}.00")
        for i in range(200)
    ]
    with migrated_engine("sqlite", tmp_path) as engine:
        expected = [shape(a) for a in reference_runtime(tmp_path, engine).decide_events(history)]

    async def scenario() -> tuple[list[Answer], dict[int, FakeOwner]]:
        async with (
            owners(nats_url, stream[1], tmp_path, partitions, [0, 1, 2, 3]) as running,
            decider(nats_url, stream[1], partitions) as routed,
        ):
            return await routed.decide(history), running

    answers, running = asyncio.run(scenario())
    assert [shape(a) for a in answers] == expected
    assert {d[1] for d in expected} >= {"allow", "review"}
    for p, owner in running.items():  # each owner saw its own accounts only, each once
        mine = [e.event_id for e in history if partition_of(e.account_id, partitions) == p]
        assert sorted(owner.seen) == sorted(mine)


def test_a_batch_request_is_decided_in_one_group_in_order(
    nats_url: str, stream: tuple[str, str], tmp_path: Path
) -> None:
    """A JSON array of events: one call of decide, answers in the request's order; an
    invalid one is answered with its field reasons and never decided."""
    [account] = accounts_in(0, 1, 1)
    good = [event("withdrawal.requested", f"b{i}", account, "9500.00", i) for i in range(3)]
    bad = {"type": "withdrawal.requested", "event_id": "bad-1", "asset": "usdt"}
    body = b"[" + b",".join([*map(msgspec.json.encode, good), msgspec.json.encode(bad)]) + b"]"

    async def scenario() -> tuple[list[dict[str, Any]], FakeOwner]:
        async with owners(nats_url, stream[1], tmp_path, 1, [0]) as running:
            nc = await nats.connect(nats_url)
            try:
                reply = await nc.request(decision_subject(stream[1], 0), body, timeout=10)
            finally:
                await nc.close()
            return msgspec.json.decode(reply.data), running[0]

    answers, owner = asyncio.run(scenario())
    assert owner.groups == [3]
    assert [a.get("event_id") for a in answers[:3]] == ["b0", "b1", "b2"]
    assert [a["decision"] for a in answers[:3]] == ["allow", "allow", "review"]
    assert answers[3]["status"] == 422
    assert answers[3]["error"] == "validation_failed"
    fields = {d["field"] for d in answers[3]["details"]}
    assert {"$.asset", "$.account_id", "$.amount"} <= fields
    assert "bad-1" not in owner.seen


def test_an_event_asked_twice_together_is_decided_once(
    nats_url: str, stream: tuple[str, str], tmp_path: Path
) -> None:
    """The same event twice in a group (a client's retry) is handed to decide once and
    both are answered; the same id with another payload is not merged: a conflict."""
    [account] = accounts_in(0, 1, 1)
    first = event("withdrawal.requested", "r1", account, "9500.00")
    changed = event("withdrawal.requested", "r1", account, "10.00")
    twice = b"[" + b",".join(msgspec.json.encode(e) for e in (first, first)) + b"]"

    async def scenario() -> tuple[list[Any], FakeOwner]:
        async with owners(nats_url, stream[1], tmp_path, 1, [0]) as running:
            nc = await nats.connect(nats_url)
            try:
                target = decision_subject(stream[1], 0)
                replies = [
                    await nc.request(target, body, timeout=10)
                    for body in (twice, msgspec.json.encode(changed))
                ]
            finally:
                await nc.close()
            return [msgspec.json.decode(r.data) for r in replies], running[0]

    (both, conflict), owner = asyncio.run(scenario())
    assert owner.groups == [1, 1]
    assert both[0] == both[1]
    assert (both[0]["event_id"], both[0]["decision"]) == ("r1", "allow")
    assert (conflict["status"], conflict["error"]) == (409, "conflict")


def test_an_invalid_request_is_refused_with_reasons(
    nats_url: str, stream: tuple[str, str], tmp_path: Path
) -> None:
    """Whatever a sender puts on the subject, the owner decides only valid events."""
    requests = [b"{nope", b'{"type": "withdrawal.requested"}', b"[]", b"[1, 2"]

    async def scenario() -> tuple[list[dict[str, Any]], FakeOwner]:
        async with owners(nats_url, stream[1], tmp_path, 1, [0]) as running:
            nc = await nats.connect(nats_url)
            try:
                target = decision_subject(stream[1], 0)
                replies = [await nc.request(target, r, timeout=10) for r in requests]
            finally:
                await nc.close()
            return [msgspec.json.decode(r.data) for r in replies], running[0]

    answers, owner = asyncio.run(scenario())
    assert [a["status"] for a in answers] == [422] * 4
    assert all(a["details"] and a["details"][0]["reason"] for a in answers)
    assert owner.seen == []


def test_a_dead_partition_answers_the_failsafe_and_its_owner_decides_it_once_back(
    nats_url: str, stream: tuple[str, str], tmp_path: Path
) -> None:
    """Nobody owns partition 1: the answer is the fail-safe hold, saying so, and the
    withdrawal is queued on the stream (once, however often it is asked); the owner, back,
    decides it once, and asking again returns that decision."""
    partitions = 2
    [account] = accounts_in(1, partitions, 1)
    withdrawal = event("withdrawal.requested", "dead-1", account, "9500.00")

    async def scenario() -> None:
        async with (
            owners(nats_url, stream[1], tmp_path, partitions, [0]),
            decider(nats_url, stream[1], partitions, timeout_s=0.25) as routed,
        ):
            first = await asyncio.wait_for(routed.decide([withdrawal]), 10)
            again = await asyncio.wait_for(routed.decide([withdrawal]), 10)
            for answer in (first, again):
                reason = failsafe_reason(answer[0])
                assert decided(answer[0]).decision == "hold"
                assert "no owner of partition 1 is listening: held by the fail-safe" in reason
                assert "queued for the owner" in reason
            assert await stream_messages(nats_url, stream[0]) == 1
            async with owners(nats_url, stream[1], tmp_path, partitions, [1]) as back:
                assert await back[1].replay_stream(nats_url, *stream) == 1
                assert back[1].decisions_of("dead-1") == 1
                owner_says = decided((await routed.decide([withdrawal]))[0])
                assert owner_says.duplicate is True
                assert owner_says.decision == "allow"
                assert back[1].decisions_of("dead-1") == 1

    asyncio.run(scenario())


def test_a_slow_owner_times_out_to_the_failsafe_and_decides_once(
    nats_url: str, stream: tuple[str, str], tmp_path: Path
) -> None:
    """The owner is alive but does not answer in time: the fail-safe says so; the owner
    then decides the request and finds the queued copy a duplicate."""
    [account] = accounts_in(0, 1, 1)
    withdrawal = event("withdrawal.requested", "slow-1", account, "25000.00")

    async def scenario() -> None:
        async with owners(nats_url, stream[1], tmp_path, 1, [0]) as running:
            owner = running[0]
            owner.gate = asyncio.Event()
            async with decider(nats_url, stream[1], 1, timeout_s=0.2, failsafe="block") as routed:
                [answer] = await asyncio.wait_for(routed.decide([withdrawal]), 10)
            assert decided(answer).decision == "block"
            reason = failsafe_reason(answer)
            assert "owner partition 0 did not answer within 200 ms: blocked by the fail-safe" in (
                reason
            )
            owner.gate.set()
            await _until(lambda: owner.decisions_of("slow-1") == 1)
            assert await owner.replay_stream(nats_url, *stream) == 1  # the queued copy
            assert owner.decisions_of("slow-1") == 1
            assert owner.seen == ["slow-1"]

    asyncio.run(scenario())


def test_a_busy_or_failing_owner_answers_the_failsafe(
    nats_url: str, stream: tuple[str, str], tmp_path: Path
) -> None:
    """Past ``max_pending`` waiting events the owner answers busy: the sender's fail-safe,
    queued for later; the others are decided."""
    [account] = accounts_in(0, 1, 1)
    events = [event("withdrawal.requested", f"q{i}", account, "50.00", i) for i in range(4)]

    async def scenario() -> list[Answer]:
        async with owners(nats_url, stream[1], tmp_path, 1, [0], max_pending=1) as running:
            running[0].gate = asyncio.Event()
            async with decider(nats_url, stream[1], 1, timeout_s=5) as routed:
                tasks = [asyncio.ensure_future(routed.decide_one(e)) for e in events]
                # One is being decided (held at the gate), at most one waits: the others
                # are answered busy at once, while the gate is still shut.
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                running[0].gate.set()
                return list(await asyncio.gather(*tasks))

    answers = asyncio.run(scenario())
    busy = [a for a in answers if any("(busy)" in r.reason for r in decided(a).reasons)]
    assert len(busy) >= 2, answers
    for answer in busy:
        assert "owner partition 0 could not decide it (busy)" in failsafe_reason(answer)
    assert all(decided(a).decision == "allow" for a in answers if a not in busy)


def test_a_decide_that_raises_is_a_failsafe_and_a_4xx_passes_through(
    nats_url: str, stream: tuple[str, str]
) -> None:
    """An owner whose decide raises answers unavailable (the sender's fail-safe); an
    owner's 4xx (a payload changed under the same event id) reaches the caller as is."""
    from riskops.kernel.errors import Conflict

    async def broken(events: list[Event]) -> list[Answer]:
        raise OSError("disk on fire")

    async def conflicting(events: list[Event]) -> list[Answer]:
        return [Conflict("event e1 was logged with another payload") for _ in events]

    [account] = accounts_in(0, 1, 1)
    withdrawal = event("withdrawal.requested", "e1", account, "50.00")

    async def scenario() -> tuple[Answer, Answer]:
        nc = await nats.connect(nats_url)
        try:
            sub = await serve_decisions(nc, stream[1], 0, broken)
            async with decider(nats_url, stream[1], 1) as routed:
                [first] = await routed.decide([withdrawal])
                await sub.unsubscribe()
                await serve_decisions(nc, stream[1], 0, conflicting)
                # The new owner subscribed on another connection: on a loaded machine the
                # server may still answer "no responders" for a moment (a CI run saw it).
                for _ in range(20):
                    [second] = await routed.decide([withdrawal])
                    if isinstance(second, OwnerRefused):
                        break
                    assert "is listening" in failsafe_reason(second)  # not yet: ask again
                    await asyncio.sleep(0.05)
            return first, second
        finally:
            await nc.close()

    first, second = asyncio.run(scenario())
    assert "could not decide it (unavailable)" in failsafe_reason(first)
    assert isinstance(second, OwnerRefused)
    assert (second.status_code, second.code) == (409, "conflict")


def test_a_sender_counting_partitions_differently_is_refused_not_queued(
    nats_url: str, stream: tuple[str, str], tmp_path: Path
) -> None:
    """Owners of 2 partitions, a sender that counts 3: an account the sender sends to the
    wrong owner is refused (deciding it there would split its state) and not queued."""
    account = next(
        a
        for a in (f"acc-{i}" for i in range(1000))
        if partition_of(a, 3) in (0, 1) and partition_of(a, 3) != partition_of(a, 2)
    )
    withdrawal = event("withdrawal.requested", "m1", account, "50.00")

    async def scenario() -> tuple[Answer, int]:
        async with (
            owners(nats_url, stream[1], tmp_path, 2, [0, 1]) as running,
            decider(nats_url, stream[1], 3) as routed,
        ):
            [answer] = await routed.decide([withdrawal])
            assert all(owner.seen == [] for owner in running.values())
        return answer, await stream_messages(nats_url, stream[0])

    answer, queued = asyncio.run(scenario())
    assert "could not decide it (misrouted)" in failsafe_reason(answer)
    assert "not queued" in failsafe_reason(answer)
    assert queued == 0


def test_settings_out_of_bounds_are_refused() -> None:
    for args, setting in [
        ((0, 0.25, "hold"), "partitions"),
        ((2, 0, "hold"), "RISKOPS_DECISION_TIMEOUT_MS"),
        ((2, 0.25, "maybe"), "RISKOPS_DECISION_FAILSAFE"),
    ]:
        with pytest.raises(ValueError, match=setting):
            RoutedDecider.check(*args)


async def _until(condition: Callable[[], bool], seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.02)


def test_an_owner_that_is_not_the_owner_answers_the_failsafe_and_queues(
    nats_url: str, stream: tuple[str, str]
) -> None:
    """A worker asked for an account it does not run (``NotOwner``, a 503 ``not_owner``):
    the sender answers its fail-safe and queues the event on the stream for the owner."""
    from riskops.cluster.answers import NotOwner

    async def elsewhere(events: list[Event]) -> list[Answer]:
        return [NotOwner("partition 0 is not running here") for _ in events]

    [account] = accounts_in(0, 1, 1)
    withdrawal = event("withdrawal.requested", "e-not-owner", account, "50.00")

    async def scenario() -> Answer:
        nc = await nats.connect(nats_url)
        try:
            await serve_decisions(nc, stream[1], 0, elsewhere)
            async with decider(nats_url, stream[1], 1) as routed:
                [answer] = await routed.decide([withdrawal])
            return answer
        finally:
            await nc.close()

    answer = asyncio.run(scenario())
    reason = failsafe_reason(answer)
    assert "could not decide it (not_owner)" in reason and "queued for the owner" in reason
    assert decided(answer).decision == "hold"


def test_groups_in_flight_at_once_when_asked(nats_url: str, stream: tuple[str, str]) -> None:
    """``groups=2``: a second request is decided while the first group is still in
    ``decide`` (a partition worker's groups go to its stream at once); with the default
    of one group, it waits for the first."""
    from riskops.monitor.schemas import DecisionResponse as Response

    [account] = accounts_in(0, 1, 1)

    async def scenario(groups: int) -> list[str]:
        gate = asyncio.Event()
        order: list[str] = []

        async def decide(events: list[Event]) -> list[Answer]:
            if events[0].event_id.endswith("first"):
                await gate.wait()
            order.append(events[0].event_id)
            return [Response(e.event_id, "allow", 0, [], None, False) for e in events]

        nc = await nats.connect(nats_url)
        try:
            await serve_decisions(nc, stream[1], 0, decide, groups=groups)
            async with decider(nats_url, stream[1], 1) as routed:
                first = asyncio.create_task(
                    routed.decide(
                        [event("withdrawal.requested", f"g{groups}-first", account, "50.00")]
                    )
                )
                await asyncio.sleep(0.2)
                second = asyncio.create_task(
                    routed.decide(
                        [event("withdrawal.requested", f"g{groups}-second", account, "50.00")]
                    )
                )
                await asyncio.sleep(0.5)
                gate.set()
                await asyncio.gather(first, second)
            return order
        finally:
            await nc.close()

    assert asyncio.run(scenario(2)) == ["g2-second", "g2-first"]
    assert asyncio.run(scenario(1)) == ["g1-first", "g1-second"]
