"""Trend reports at size: the rollups' build and incremental pass, /reports rendered.

1. PostgreSQL, schema ``bench_reports_<events>``: ``--events`` events (default 10M) over
   the last ``--days`` days (default 365), 5% of them alerting (40 rules, 8 typologies,
   2% of those shadow); ``--cases`` cases (default 100k) over the same days in six queues,
   98% closed by one of 25 analysts with an outcome, each holding one or two rules' alerts;
   ``--cases / 5`` held withdrawals, a third rejected. The log and its alerts are generated
   server-side (``INSERT ... SELECT generate_series``: 10M rows need no trip through
   Python); cases, their alerts and the holds are written with COPY. Then VACUUM ANALYZE.
2. ``rollups.rebuild`` timed (the build time), then an incremental pass after a day's new
   traffic (``--events / 365`` events, their alerts, 500 cases closed) timed.
3. /reports rendered through the app by a logged-in manager (TestClient: routing, the
   session check, every chart, the template), ``--renders`` times for the default 30-day
   view and for the whole year: p50 / p95; and ``GET /v1/reports/alerts`` the same.

    python -m bench.bench_reports [--events N] [--cases N] [--days N] [--renders N]
                                  [--rebuild]
"""

from __future__ import annotations

import argparse
import io
import random
import tempfile
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import Result, at_most, drop_schema, percentile, schema_engine

NAME = "reports"
SCHEMA = "bench_reports"
RULES = 40
TYPOLOGIES = 8
ANALYSTS = 25
QUEUES = ("held_withdrawals", "account_takeover", "aml", "sanctions", "fraud", "triage")
OUTCOMES = ("dismissed",) * 6 + ("restricted", "restricted", "offboarded", "sar_referred")


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S+00")


def _case_rows(n_cases: int, start: datetime, days: int, users: list[int]) -> Iterator[str]:
    """COPY text lines of cases and, after a ``\\.`` marker, of their alerts."""
    rng = random.Random(17)
    span = days * 86_400
    for i in range(1, n_cases + 1):
        opened = start + timedelta(seconds=rng.randrange(span))
        queue = QUEUES[i % len(QUEUES)]
        rule = min(int(rng.expovariate(0.12)), RULES - 1)
        closed: datetime | None = opened + timedelta(minutes=rng.randrange(10, 5 * 24 * 60))
        assert closed is not None
        now = start + timedelta(days=days)
        if rng.random() < 0.02 or closed >= now:
            closed = None
        status = "closed" if closed else "in_review"
        outcome = rng.choice(OUTCOMES) if closed else "\\N"
        yield (
            "\t".join(
                [
                    str(i),
                    f"c-acc-{i:07d}",
                    queue,
                    status,
                    "bench case",
                    f"typ-{rule % TYPOLOGIES}",
                    "50",
                    "100.00",
                    "50",
                    str(rng.choice(users)),
                    "1",
                    _ts(opened),
                    _ts(opened + timedelta(hours=24)),
                    "\\N",
                    "\\N",
                    _ts(closed or opened),
                    _ts(closed) if closed else "\\N",
                    outcome,
                    "\\N",
                    "1",
                ]
            )
            + "\n"
        )


def _case_alert_rows(n_cases: int) -> Iterator[str]:
    rng = random.Random(19)
    for i in range(1, n_cases + 1):
        rules = {min(int(rng.expovariate(0.12)), RULES - 1) for _ in range(rng.choice((1, 2)))}
        for rule in rules:
            yield (
                "\t".join(
                    [
                        "monitor",
                        f"bench-{i}-{rule}",
                        str(i),
                        f"c-acc-{i:07d}",
                        f"R-{rule:02d}",
                        f"typ-{rule % TYPOLOGIES}",
                        "50",
                        "100.00",
                        "bench alert",
                        "",
                        "{}",
                        "2026-01-01 00:00:00+00",
                        "2026-01-01 00:00:00+00",
                    ]
                )
                + "\n"
            )


def _hold_rows(n_holds: int, start: datetime, days: int) -> Iterator[str]:
    rng = random.Random(23)
    for i in range(1, n_holds + 1):
        held = start + timedelta(seconds=rng.randrange(days * 86_400))
        status = "rejected" if rng.random() < 0.33 else "released"
        yield (
            "\t".join(
                [
                    f"bench-hold-{i}",
                    f"h-acc-{i}",
                    "BTC",
                    "0.1",
                    f"{rng.randrange(100, 90_000)}.00",
                    status,
                    "[]",
                    _ts(held),
                    _ts(held + timedelta(minutes=rng.randrange(2, 30))),
                ]
            )
            + "\n"
        )


def _copy(conn: Any, statement: str, lines: Iterator[str]) -> None:
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(statement) as copy:
        block = io.StringIO()
        for n, line in enumerate(lines, 1):
            block.write(line)
            if n % 50_000 == 0:
                copy.write(block.getvalue())
                block = io.StringIO()
        copy.write(block.getvalue())


def _events_sql(
    first: int, last: int, start: datetime, span_s: int, n_total: int, offset: int = 0
) -> str:
    """Events ``first..last`` spread evenly over the span, each an alert's source 5% of the
    time (the alerts are inserted by the statement of ``_alerts_sql``)."""
    seconds = f"(g - {offset})::float8 * {span_s} / {n_total}"
    moment = f"TIMESTAMPTZ '{_ts(start)}' + make_interval(secs => ({seconds}))"
    return (
        "INSERT INTO events (seq, event_id, type, account_id, occurred_at, received_at, "
        "source, payload) SELECT g, 'ev-' || g, 'deposit', 'acc-' || (g % 200003), "
        f"{moment}, {moment}, "
        f"'api', '{{}}' FROM generate_series({first}::bigint, {last}::bigint) g"
    )


def _alerts_sql(first: int, last: int) -> str:
    # rule skewed (a few rules raise most alerts), typology from the rule, 2% shadow
    rule = f"least(floor(-ln(1 - ((g * 7907) % 10007) / 10007.0) / 0.12)::int, {RULES - 1})"
    return (
        "INSERT INTO monitor_alerts (rule_id, rule_version, typology, event_id, row, "
        "account_id, seq, action, score, reason, shadow, created_at) "
        f"SELECT 'R-' || lpad(r::text, 2, '0'), 1, 'typ-' || (r % {TYPOLOGIES}), e.event_id, 0, "
        "e.account_id, e.seq, 'review', 50, '', (e.seq % 50 = 0), e.occurred_at "
        f"FROM (SELECT g, {rule} AS r FROM generate_series({first}::bigint, {last}::bigint) g "
        "WHERE (g * 7919) % 20 = 0) s JOIN events e ON e.seq = s.g"
    )


def build(
    n_events: int, n_cases: int, days: int, *, rebuild: bool
) -> tuple[Any, dict[str, float], datetime]:
    from sqlalchemy import text

    from riskops.cases.alert_intake import ensure_default_queues
    from riskops.kernel.db import migrate, session_factory, unit_of_work

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(days=days)
    schema = f"{SCHEMA}_{n_events}"
    if rebuild:
        drop_schema(schema)
    engine = schema_engine(schema, pool_size=4)
    migrate(engine)
    stats: dict[str, float] = {}
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
    if have:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT min(occurred_at) FROM events")).scalar_one()
        return engine, {"events": have}, first + timedelta(days=days)
    started = time.perf_counter()
    with unit_of_work(session_factory(engine)) as session:
        ensure_default_queues(session)
        for key in QUEUES:
            session.execute(
                text(
                    "INSERT INTO case_queues (key, name, description, sla_minutes, position, "
                    "active) VALUES (:k, :k, '', 1440, 9, true) ON CONFLICT DO NOTHING"
                ),
                {"k": key},
            )
        for i in range(ANALYSTS):
            session.execute(
                text(
                    "INSERT INTO auth_users (username, display_name, role, password_hash, "
                    "active, failed_logins, created_at) VALUES (:u, :u, 'analyst', 'x', true, "
                    "0, now())"
                ),
                {"u": f"analyst{i:02d}"},
            )
    with engine.connect() as conn:
        users = [r[0] for r in conn.execute(text("SELECT id FROM auth_users ORDER BY id"))]
    span_s = days * 86_400
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE events DROP CONSTRAINT IF EXISTS uq_events_event_id"))
        conn.execute(text("DROP INDEX IF EXISTS ix_events_account_seq"))
        step = 1_000_000
        for first in range(1, n_events + 1, step):
            last = min(first + step - 1, n_events)
            conn.execute(text(_events_sql(first, last, start, span_s, n_events)))
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('events', 'seq'), {n_events})"))
        stats["events s"] = time.perf_counter() - started
        for first in range(1, n_events + 1, step):
            conn.execute(text(_alerts_sql(first, min(first + step - 1, n_events))))
        stats["alerts s"] = time.perf_counter() - started
        conn.execute(text("ALTER TABLE events ADD CONSTRAINT uq_events_event_id UNIQUE (event_id)"))
        conn.execute(text("CREATE INDEX ix_events_account_seq ON events (account_id, seq)"))
        _copy(
            conn,
            "COPY cases (id, account_id, queue_key, status, title, typology, severity, "
            "amount_at_risk_usd, priority, assignee_id, alert_count, opened_at, due_at, "
            "sla_paused_at, waiting_until, updated_at, closed_at, outcome, reason_code, "
            "version) FROM STDIN",
            _case_rows(n_cases, start, days, users),
        )
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('cases', 'id'), {n_cases})"))
        _copy(
            conn,
            "COPY case_alerts (source, source_ref, case_id, account_id, kind, typology, "
            "severity, amount_usd, title, reason, detail, occurred_at, received_at) FROM STDIN",
            _case_alert_rows(n_cases),
        )
        _copy(
            conn,
            "COPY monitor_holds (event_id, account_id, asset, amount, usd_value, status, "
            "reasons, created_at, resolved_at) FROM STDIN",
            _hold_rows(n_cases // 5, start, days),
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("events", "monitor_alerts", "cases", "case_alerts", "monitor_holds"):
            conn.execute(text(f"VACUUM ANALYZE {table}"))
        stats["events"] = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
        stats["alerts"] = conn.execute(text("SELECT count(*) FROM monitor_alerts")).scalar_one()
        stats["cases"] = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
    stats["load s"] = time.perf_counter() - started
    return engine, stats, now


def rollups(engine: Any, n_events: int, now: datetime) -> dict[str, float]:
    """The rebuild, then an incremental pass after a day's traffic and 500 closings."""
    from sqlalchemy import text

    from riskops.kernel.db import session_factory, unit_of_work
    from riskops.reports import rollups as r

    sessions = session_factory(engine)
    out: dict[str, float] = {}
    started = time.perf_counter()
    with unit_of_work(sessions) as session:
        r.rebuild(session, now)
    out["rebuild s"] = time.perf_counter() - started
    with engine.connect() as conn:
        out["rollup rows"] = conn.execute(text("SELECT count(*) FROM report_daily")).scalar_one()
        last = conn.execute(text("SELECT max(seq) FROM events")).scalar_one()
    day = max(1, n_events // 365)
    later = now + timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(text(_events_sql(last + 1, last + day, now, 3_600, day, offset=last)))
        conn.execute(text(_alerts_sql(last + 1, last + day)))
        conn.execute(
            text(
                "UPDATE cases SET status = 'closed', outcome = 'dismissed', closed_at = :t, "
                "updated_at = :t WHERE id IN (SELECT id FROM cases WHERE closed_at IS NULL "
                "ORDER BY id LIMIT 500)"
            ),
            {"t": later},
        )
    started = time.perf_counter()
    with unit_of_work(sessions) as session:
        done = r.roll_up(session, later + timedelta(minutes=5))
    out["incremental pass s"] = time.perf_counter() - started
    out["incremental alerts"] = done.alerts
    out["incremental events"] = done.events
    return out


def render(engine: Any, n: int) -> dict[str, float]:
    """/reports as a logged-in manager sees it: the 30-day default and the whole year."""
    from fastapi.testclient import TestClient

    from riskops.auth import repository as auth_repo
    from riskops.auth import service
    from riskops.auth.permissions import Principal
    from riskops.kernel.config import Settings
    from riskops.kernel.db import session_factory, unit_of_work
    from riskops.web.app import create_app
    from riskops.web.deps import Container

    password = "bench bench bench bench"
    with unit_of_work(session_factory(engine)) as session:
        if auth_repo.user_by_username(session, "bench-manager") is None:
            service.create_user(
                session,
                Principal.system("bench"),
                username="bench-manager",
                password=password,
                role="manager",
                display_name="Bench",
            )
    out: dict[str, float] = {}
    today = datetime.now(UTC).date()
    views = {
        "30 days": "/reports",
        "year": f"/reports?since={(today - timedelta(days=364)).isoformat()}",
        "api alerts": "/v1/reports/alerts",
    }
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(
            Container(Settings(data_dir=Path(data_dir)), engine), start_background=False
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client = TestClient(app)
        login = client.post(
            "/v1/auth/login", json={"username": "bench-manager", "password": password}
        )
        assert login.status_code == 200, login.text
        for name, url in views.items():
            for _ in range(3):  # warm
                assert client.get(url).status_code == 200
            took: list[float] = []
            for _ in range(n):
                started = time.perf_counter()
                answer = client.get(url)
                took.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, answer.text[:300]
            took.sort()
            out[f"{name} p50 ms"] = percentile(took, 50)
            out[f"{name} p95 ms"] = percentile(took, 95)
    return out


def measure(quick: bool = False) -> list[Result]:
    """The benchmark harness entry point (``python -m bench``)."""
    n_events = 500_000 if quick else 10_000_000
    n_cases = 10_000 if quick else 100_000
    engine, stats, now = build(n_events, n_cases, 365, rebuild=False)
    built = rollups(engine, n_events, now)
    shown = render(engine, 20 if quick else 100)
    engine.dispose()
    return [
        Result(NAME, "events", stats.get("events", n_events), "events"),
        Result(NAME, "rollup rebuild", built["rebuild s"], "s"),
        Result(NAME, "incremental pass", built["incremental pass s"], "s"),
        Result(NAME, "/reports 30 days p50", shown["30 days p50 ms"], "ms"),
        at_most(NAME, "/reports 30 days p95", shown["30 days p95 ms"], "ms", 500),
        at_most(NAME, "/reports year p95", shown["year p95 ms"], "ms", 500),
    ]


def main() -> None:
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--renders", type=int, default=100)
    parser.add_argument("--rebuild", action="store_true", help="drop the schema first")
    args = parser.parse_args()
    out: dict[str, float] = {}
    engine, stats, now = build(args.events, args.cases, args.days, rebuild=args.rebuild)
    out.update(stats)
    out.update(rollups(engine, args.events, now))
    out.update(render(engine, args.renders))
    engine.dispose()
    for key, value in out.items():
        print(f"{key:32} {value:>14,.3f}")


if __name__ == "__main__":
    main()
