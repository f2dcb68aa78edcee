"""The kernel outbox: messages by topic, taken once, in order, in the taker's transaction."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from riskops.kernel import outbox
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.migrations import alembic_config, upgrade_head


def test_messages_are_taken_by_topic_oldest_first_and_once(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        for i in range(5):
            outbox.publish(session, "a", {"i": i})
            outbox.publish(session, "b", {"i": -i})
    with unit_of_work(sessions) as session:
        assert outbox.take(session, "a", 3) == [{"i": 0}, {"i": 1}, {"i": 2}]
        assert outbox.take(session, "a", 3) == [{"i": 3}, {"i": 4}]
        assert outbox.take(session, "a", 3) == []
        assert outbox.pending(session, "b") == 5


def test_a_rolled_back_take_puts_the_messages_back(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        outbox.publish(session, "t", {"hold_id": 1})
    with pytest.raises(RuntimeError), unit_of_work(sessions) as session:
        assert outbox.take(session, "t", 10) == [{"hold_id": 1}]
        raise RuntimeError("the subscriber failed")
    with unit_of_work(sessions) as session:
        assert outbox.take(session, "t", 10) == [{"hold_id": 1}]


def test_a_message_published_and_rolled_back_never_arrives(engine: Engine) -> None:
    sessions = session_factory(engine)
    with pytest.raises(RuntimeError), unit_of_work(sessions) as session:
        outbox.publish(session, "t", {"hold_id": 2})
        raise RuntimeError("the publisher's change failed")
    with unit_of_work(sessions) as session:
        assert outbox.take(session, "t", 10) == []


def test_two_takers_at_once_get_different_messages(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's write lock serializes takers; nothing runs at once")
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        for i in range(4):
            outbox.publish(session, "t", {"i": i})
    with unit_of_work(sessions) as first, unit_of_work(sessions) as second:
        mine = outbox.take(first, "t", 2)
        theirs = outbox.take(second, "t", 10)  # skips the rows the first holds, does not wait
        assert mine == [{"i": 0}, {"i": 1}] and theirs == [{"i": 2}, {"i": 3}]


def test_migration_0011_adds_and_drops_the_outbox(engine: Engine) -> None:
    config = alembic_config(engine)
    command.downgrade(config, "0010")  # type: ignore[arg-type]
    assert "kernel_outbox" not in inspect(engine).get_table_names()
    upgrade_head(engine)
    assert "kernel_outbox" in inspect(engine).get_table_names()
    with unit_of_work(session_factory(engine)) as session:
        outbox.publish(session, "t", {"after": "upgrade"})
    with unit_of_work(session_factory(engine)) as session:
        assert outbox.take(session, "t", 1) == [{"after": "upgrade"}]


def test_publish_many_leaves_each_message_in_order_among_single_ones(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        outbox.publish(session, "m", {"i": 0})
        assert outbox.publish_many(session, "m", [{"i": 1}, {"i": 2}, {"i": 3}]) == 3
        assert outbox.publish_many(session, "m", []) == 0
        outbox.publish(session, "m", {"i": 4})
        assert outbox.publish_many(session, "other", [{"i": -1}]) == 1
    with unit_of_work(sessions) as session:
        assert outbox.take(session, "m", 10) == [{"i": i} for i in range(5)]
        assert outbox.pending(session, "other") == 1
