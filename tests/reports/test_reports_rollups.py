"""The daily rollups equal a direct count over the same history, and an incremental pass
(at any cut of the history) ends where a rebuild does; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reports_fakes import (
    ANALYSTS,
    QUEUES,
    RULES,
    T0,
    TYPOLOGIES,
    CaseSpec,
    History,
    HoldSpec,
    advance,
    as_of,
    base,
    direct,
    stored,
    write,
)
from sqlalchemy import delete
from sqlalchemy.engine import Engine

from riskops.cases.models import Case, CaseAlert, CaseOutcome
from riskops.events.models import EventRecord
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor.models import Alert, Hold, HoldStatus
from riskops.reports import rollups
from riskops.reports.models import ReportCursor, ReportDaily

SPAN = timedelta(days=12)
NOW = T0 + SPAN


def _moment() -> st.SearchStrategy[datetime]:
    return st.integers(0, int(SPAN.total_seconds()) - 1).map(lambda s: T0 + timedelta(seconds=s))


@st.composite
def _case(draw: st.DrawFn, index: int = 0) -> CaseSpec:
    opened = draw(_moment())
    closes = draw(st.booleans())
    closed = opened + timedelta(hours=draw(st.integers(0, 24 * 6))) if closes else None
    if closed is not None and closed > NOW:
        closed = None
    return CaseSpec(
        queue=draw(st.sampled_from(QUEUES)),
        typology=draw(st.sampled_from(TYPOLOGIES)),
        opened=opened,
        due_hours=draw(st.integers(1, 72)),
        closed=closed,
        outcome=draw(st.sampled_from(list(CaseOutcome))) if closed else None,
        analyst=draw(st.sampled_from([*ANALYSTS, None])) if closed else None,
        rules=tuple(draw(st.lists(st.sampled_from(RULES), max_size=3))),
    )


@st.composite
def _hold(draw: st.DrawFn) -> HoldSpec:
    created = draw(_moment())
    status = draw(st.sampled_from(list(HoldStatus)))
    resolved = None
    if status is not HoldStatus.HELD:
        resolved = min(created + timedelta(minutes=draw(st.integers(1, 3000))), NOW)
    return HoldSpec(created, Decimal(draw(st.integers(1, 10**7))) / 100, status, resolved)


@st.composite
def histories(draw: st.DrawFn) -> History:
    cases = draw(st.lists(_case(), max_size=12))
    holds = draw(st.lists(_hold(), max_size=6))
    return History(
        alerts=draw(
            st.lists(
                st.tuples(
                    _moment(), st.sampled_from(RULES), st.sampled_from(TYPOLOGIES), st.booleans()
                ),
                max_size=20,
            )
        ),
        events=draw(st.lists(_moment(), max_size=15)),
        cases=[CaseSpec(**{**c.__dict__, "tag": f"c{i}"}) for i, c in enumerate(cases)],
        holds=[HoldSpec(**{**h.__dict__, "tag": f"h{i}"}) for i, h in enumerate(holds)],
    )


def _clear(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        for model in (ReportDaily, ReportCursor, CaseAlert, Case, Alert, EventRecord, Hold):
            session.execute(delete(model))


def _based(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        base(session)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=histories(), cut=st.integers(0, int(SPAN.total_seconds())))
def test_incremental_passes_equal_a_rebuild_and_a_direct_count(
    engine: Engine, history: History, cut: int
) -> None:
    if not hasattr(engine, "_reports_based"):
        _based(engine)
        engine._reports_based = True  # type: ignore[attr-defined]
    _clear(engine)
    t1 = T0 + timedelta(seconds=cut)
    factory = session_factory(engine)
    with unit_of_work(factory) as session:
        write(session, as_of(history, t1))
        rollups.roll_up(session, t1)  # the first pass is a rebuild
    with unit_of_work(factory) as session:
        advance(session, history, t1)
        rollups.roll_up(session, NOW)
        incremental = stored(session)
    with unit_of_work(factory) as session:
        rollups.rebuild(session, NOW)
        rebuilt = stored(session)
    assert incremental == rebuilt
    assert rebuilt == direct(history, NOW)


def test_a_second_pass_with_nothing_new_changes_nothing(engine: Engine) -> None:
    history = History(
        alerts=[(T0 + timedelta(hours=1), "R-1", "mule", False)],
        events=[T0 + timedelta(hours=2)],
        cases=[
            CaseSpec(
                "aml",
                "mule",
                T0,
                24,
                T0 + timedelta(days=2),
                CaseOutcome.RESTRICTED,
                "ana",
                ("R-1",),
                "c0",
            )
        ],
        holds=[HoldSpec(T0, Decimal("12.34"), HoldStatus.REJECTED, T0 + timedelta(hours=1))],
    )
    factory = session_factory(engine)
    with unit_of_work(factory) as session:
        base(session)
        write(session, history)
        rollups.roll_up(session, NOW)
        first = stored(session)
    with unit_of_work(factory) as session:
        done = rollups.roll_up(session, NOW)
        assert done.alerts == 0 and done.events == 0
        assert stored(session) == first
    assert first[(T0.date(), "rejected", "", "", "", "", "", "c")] == 1234
    assert (
        first[
            ((T0 + timedelta(days=2)).date(), "rule_outcome", "R-1", "aml", "mule", "", "tp", "n")
        ]
        == 1
    )


def test_backlog_ages_and_sla_breaches_are_snapshots_at_the_day_end() -> None:
    from riskops.reports.repository import CaseRow

    opened = datetime(2026, 3, 2, 10, tzinfo=UTC)
    row = CaseRow(1, "aml", "mule", "", opened, opened + timedelta(hours=20), None, None)
    counts = rollups.mutable_counts([row], {}, [], opened.date(), opened + timedelta(days=4))
    backlog = {k[0].day: k[6] for k in counts if k[1] == rollups.BACKLOG}
    breached = sorted(k[0].day for k in counts if k[1] == rollups.BREACHED)
    assert backlog == {2: "<1d", 3: "1-3d", 4: "1-3d", 5: "3-7d", 6: "3-7d"}
    assert breached == [3, 4, 5, 6]
