"""A cluster alert finds its group's open case through ``ix_case_alerts_group_key``: the
group key is a column the database computes from the alert detail, the lookup reads it,
and both planners pick the index for that lookup (migration 0017, ADR 0030)."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from case_fakes import alert
from sqlalchemy import event, inspect, select, text
from sqlalchemy.engine import Engine

from riskops.cases import alert_intake
from riskops.cases.models import CaseAlert
from riskops.cases.repository import open_cases_of_groups
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.migrations import alembic_config, upgrade_head

INDEX = "ix_case_alerts_group_key"


def _raise(engine: Engine) -> dict[str, int]:
    """Alerts of three clusters (two accounts each) and plain alerts: group key -> case."""
    alerts = [alert(f"plain-{i}", f"acc-{i}") for i in range(6)]
    alerts += [
        alert(f"cluster-{c}-{i}", None, kind="linked_accounts", group_key=f"links:{c}")
        for c in range(3)
        for i in range(2)
    ]
    with unit_of_work(session_factory(engine)) as session:
        alert_intake.raise_alerts(session, alerts)
    with session_factory(engine)() as session:
        rows = session.execute(select(CaseAlert.group_key, CaseAlert.case_id)).all()
    return {key: case for key, case in rows if key is not None and case is not None}


def test_the_group_key_column_is_the_details_key_and_the_lookup_finds_each_groups_case(
    engine: Engine,
) -> None:
    cases = _raise(engine)
    assert set(cases) == {"links:0", "links:1", "links:2"}
    with session_factory(engine)() as session:
        for row in session.scalars(select(CaseAlert)):
            assert row.group_key == row.detail.get("group_key")
        found = open_cases_of_groups(session, ["links:1", "links:2", "links:9"])
    assert {key: case.id for key, case in found.items()} == {
        "links:1": cases["links:1"],
        "links:2": cases["links:2"],
    }


def _lookup_sql(engine: Engine) -> tuple[str, Any]:
    """The statement and parameters ``open_cases_of_groups`` sends."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with session_factory(engine)() as session:
            open_cases_of_groups(session, ["links:1", "links:2"])
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    (found,) = [(sql, params) for sql, params in sent if "group_key" in sql]
    return found


def test_the_lookup_uses_the_index(engine: Engine) -> None:
    _raise(engine)
    sql, params = _lookup_sql(engine)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
            plan = "\n".join(str(row[-1]) for row in rows)
        else:
            # A few rows: a sequential scan is cheaper, so forbid it to see whether the
            # index applies to the query at all (it does not when the expression differs).
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = conn.exec_driver_sql(f"EXPLAIN {sql}", params).all()
            plan = "\n".join(str(row[0]) for row in rows)
    assert INDEX in plan, plan


def test_downgrade_drops_the_column_and_upgrade_computes_it_for_existing_alerts(
    engine: Engine,
) -> None:
    cases = _raise(engine)
    command.downgrade(alembic_config(engine), "0016")  # type: ignore[arg-type]
    columns = {c["name"] for c in inspect(engine).get_columns("case_alerts")}
    assert "group_key" not in columns
    assert INDEX not in {i["name"] for i in inspect(engine).get_indexes("case_alerts")}
    upgrade_head(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT group_key, case_id FROM case_alerts WHERE group_key IS NOT NULL")
        ).all()
    assert {key: case for key, case in rows} == cases


@pytest.mark.parametrize("value", ["", "links:x" * 100, "ключ"], ids=["empty", "long", "utf8"])
def test_any_text_key_reads_back_as_written(engine: Engine, value: str) -> None:
    with unit_of_work(session_factory(engine)) as session:
        alert_intake.raise_alerts(session, [alert("one", None, group_key=value)])
    with session_factory(engine)() as session:
        assert session.scalars(select(CaseAlert.group_key)).one() == value
