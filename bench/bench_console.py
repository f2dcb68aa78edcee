"""Case work at size on PostgreSQL: console page server time and "take next" under load.

Builds (once; kept in the PostgreSQL schema ``bench_console`` and reused while its sizes
match) an exchange of 100k accounts and about 1M events through the real path: simulate,
ingest, monitor (monitor alerts become cases in the same transactions), then tops the case
count up to 50k with alerts from the other sources through ``cases.alert_intake.raise_alert``.

Then measures, in-process (server time, no network):
- the queue page, case page and account page of the console (p95 over random picks);
- "take next": 20 analysts pulling at once, each in its own transaction, p95 per call,
  and a check that no case was handed to two analysts.

    python -m bench.bench_console [--quick] [--rebuild]
"""

from __future__ import annotations

import random
import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.common import (
    OUT,
    POSTGRES_URL,
    Result,
    at_most,
    drop_schema,
    percentile,
    schema_engine,
)

NAME = "console"
PASSWORD = "bench-password-123"
ANALYSTS = 20


def sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {"accounts": 10_000, "days": 7, "cases": 5_000, "takes": 20}
    return {"accounts": 100_000, "days": 7, "cases": 50_000, "takes": 50}


def counts(engine: Any) -> dict[str, int]:
    from sqlalchemy import text

    with engine.connect() as conn:
        return {
            table: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("events", "cases", "auth_users")
        }


def build(engine: Any, size: dict[str, int], log: Callable[[str], None]) -> None:
    """Simulate, ingest, monitor, then top the cases up to the wanted count."""
    from riskops.cases.tasks import drain
    from riskops.events.tasks import ingest_file
    from riskops.kernel.config import Settings
    from riskops.kernel.db import migrate, session_factory
    from riskops.monitor.runtime import MonitorRuntime
    from riskops.sim import SimConfig, simulate

    migrate(engine)
    sessions = session_factory(engine)
    sim_dir = OUT / f"console_sim_{size['accounts']}_{size['days']}"
    events_path = sim_dir / "events.ndjson"
    if not events_path.exists():
        log(f"simulating {size['accounts']:,} accounts over {size['days']} days")
        simulate(
            SimConfig(accounts=size["accounts"], days=size["days"], seed=11), sim_dir, "ndjson"
        )
    log("ingesting into PostgreSQL")
    t = time.perf_counter()
    report = ingest_file(events_path, "ndjson", "bench", sessions)
    log(f"  {report.accepted:,} events in {time.perf_counter() - t:.0f} s")
    log("monitoring, then delivering its case alerts (the intake outbox)")
    t = time.perf_counter()
    settings = Settings(data_dir=OUT / f"console_data_{_schema(engine)}", database_url=POSTGRES_URL)
    # The address lists of this simulation (sanctioned, darknet, mixer), as the demo does.
    shutil.copytree(sim_dir / "lists", settings.data_dir / "lists", dirs_exist_ok=True)
    runtime = MonitorRuntime.create(settings, engine)
    runtime.catch_up()
    drain(sessions)  # the monitor's intake outbox, into cases
    log(f"  monitored in {time.perf_counter() - t:.0f} s; cases: {counts(engine)['cases']:,}")
    _top_up(engine, size["cases"], log)
    _users(engine)


def _top_up(engine: Any, wanted: int, log: Callable[[str], None]) -> None:
    """Alerts from email, SMS and support for accounts without an open case, until
    ``wanted`` cases exist: through the real intake, in batches of 500 per transaction."""
    from sqlalchemy import text

    from riskops.cases.alert_intake import raise_alerts
    from riskops.cases.models import AlertSource
    from riskops.cases.schemas import AlertIn
    from riskops.kernel.db import session_factory, unit_of_work

    sessions = session_factory(engine)
    with engine.connect() as conn:
        busy = {r[0] for r in conn.execute(text("SELECT account_id FROM cases"))}
        accounts = [
            r[0]
            for r in conn.execute(text("SELECT DISTINCT account_id FROM events ORDER BY 1"))
            if r[0] not in busy
        ]
    rng = random.Random(5)
    rng.shuffle(accounts)
    have = counts(engine)["cases"]
    need = max(0, wanted - have)
    kinds = [
        (AlertSource.SMS, "sim_swap", "sim_swap", 80),
        (AlertSource.SMS, "otp_delivery_failure", None, 40),
        (AlertSource.EMAIL, "email_not_me", "account_takeover", 70),
        (AlertSource.EMAIL, "email_partner_bank", None, 50),
        (AlertSource.SERVICE_REQUEST, "dispute", None, 50),
        (AlertSource.SERVICE_REQUEST, "unlock_request", None, 30),
    ]
    log(f"topping up {need:,} cases from the other sources")
    t = time.perf_counter()
    for start in range(0, need, 500):
        batch = []
        for i in range(start, min(need, start + 500)):
            source, kind, typology, severity = kinds[i % len(kinds)]
            forced = "service_requests" if source is AlertSource.SERVICE_REQUEST else None
            batch.append(
                AlertIn(
                    source=source,
                    source_ref=f"bench-{i}",
                    account_id=accounts[i % len(accounts)],
                    kind=kind,
                    title=f"bench {kind}",
                    severity=severity,
                    typology=typology,
                    queue_key=forced,
                )
            )
        with unit_of_work(sessions) as session:
            raise_alerts(session, batch)
    log(f"  {need:,} alerts in {time.perf_counter() - t:.0f} s")


def _users(engine: Any) -> None:
    from riskops.auth.permissions import Principal, Role
    from riskops.auth.service import create_user
    from riskops.kernel.db import session_factory, unit_of_work

    with unit_of_work(session_factory(engine)) as session:
        system = Principal.system("bench")
        for i in range(ANALYSTS):
            create_user(
                session,
                system,
                username=f"analyst{i:02d}",
                password=PASSWORD,
                role=Role.ANALYST,
                display_name=f"Analyst {i}",
            )
        create_user(
            session,
            system,
            username="senior",
            password=PASSWORD,
            role=Role.SENIOR_ANALYST,
            display_name="Senior",
        )


def _timed_pages(engine: Any, quick: bool) -> list[Result]:
    """p95 server time of the queue, case and account pages (in-process ASGI calls)."""
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from riskops.kernel.config import Settings
    from riskops.web.app import create_app
    from riskops.web.deps import Container

    settings = Settings(data_dir=OUT / f"console_data_{_schema(engine)}", database_url=POSTGRES_URL)
    app = create_app(Container(settings, engine), start_background=False)
    with engine.connect() as conn:
        queues = [r[0] for r in conn.execute(text("SELECT key FROM case_queues"))]
        case_ids = [
            r[0] for r in conn.execute(text("SELECT id FROM cases WHERE status != 'closed'"))
        ]
        accounts = [
            r[0]
            for r in conn.execute(text("SELECT account_id FROM cases WHERE account_id IS NOT NULL"))
        ]
    rng = random.Random(3)
    n = 60 if quick else 300
    results: list[Result] = []
    with TestClient(app) as client:
        login = client.post("/login", data={"username": "senior", "password": PASSWORD})
        if login.status_code >= 400:
            raise RuntimeError(f"bench login failed: {login.status_code}")
        pages: dict[str, Callable[[], str]] = {
            "queue page": lambda: f"/queues/{rng.choice(queues)}?page={rng.randint(1, 5)}",
            "case page": lambda: f"/cases/{rng.choice(case_ids)}",
            "account page": lambda: f"/accounts/{rng.choice(accounts)}",
        }
        for label, pick in pages.items():
            for _ in range(10):  # warm caches and connections
                client.get(pick())
            times = []
            for _ in range(n):
                path = pick()
                t = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - t) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{path} answered {response.status_code}")
            times.sort()
            results.append(at_most(NAME, f"{label} p95", percentile(times, 95), "ms", 150))
            results.append(Result(NAME, f"{label} p50", percentile(times, 50), "ms"))
    return results


def _take_next(engine: Any, takes: int) -> list[Result]:
    """20 analysts pull at once; each call is one transaction; no case may go out twice."""
    from sqlalchemy import select, text

    from riskops.auth.models import User
    from riskops.auth.service import user_principal
    from riskops.cases.service import take_next
    from riskops.kernel.db import session_factory, unit_of_work

    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        users = session.scalars(select(User).where(User.username.like("analyst%"))).all()
        principals = [user_principal(u) for u in users]
    barrier = threading.Barrier(len(principals))
    taken: list[int] = []
    times: list[float] = []
    lock = threading.Lock()

    def pull(principal: Any) -> None:
        mine, spent = [], []
        with sessions() as warm:  # a pooled connection, as a running server has one
            warm.execute(text("SELECT 1"))
        barrier.wait()
        for _ in range(takes):
            t = time.perf_counter()
            with unit_of_work(sessions) as session:
                case = take_next(session, principal)
                case_id = case.id if case is not None else None
            spent.append((time.perf_counter() - t) * 1000)
            if case_id is not None:
                mine.append(case_id)
        with lock:
            taken.extend(mine)
            times.extend(spent)

    threads = [threading.Thread(target=pull, args=(p,)) for p in principals]
    started = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - started
    # Put the cases back, so the next run measures the same queue.
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE cases SET assignee_id = NULL, status = 'new' WHERE id = ANY(:ids)"),
            {"ids": taken},
        )
    times.sort()
    twice = len(taken) - len(set(taken))
    return [
        at_most(
            NAME,
            f"take next p95, {len(principals)} analysts at once",
            percentile(times, 95),
            "ms",
            50,
        ),
        Result(NAME, "take next p50", percentile(times, 50), "ms"),
        Result(NAME, "take next throughput", len(taken) / elapsed, "cases/s"),
        Result(NAME, "cases handed out twice", float(twice), "cases", "= 0", twice == 0),
    ]


def measure(quick: bool = False, rebuild: bool = False) -> list[Result]:
    size = sizes(quick)
    schema = "bench_console_quick" if quick else "bench_console"
    if rebuild:
        drop_schema(schema)
    engine = schema_engine(schema, pool_size=32)
    have = counts(engine) if _migrated(engine) else {"events": 0, "cases": 0, "auth_users": 0}
    if have["cases"] < size["cases"] or have["auth_users"] < ANALYSTS:
        engine.dispose()
        drop_schema(schema)
        engine = schema_engine(schema, pool_size=32)
        build(engine, size, lambda m: print(m, file=sys.stderr, flush=True))
        have = counts(engine)
    from riskops.kernel.db import migrate

    migrate(engine)  # a data set built by an older commit gets the newer tables and indexes
    results = [
        Result(NAME, "events in PostgreSQL", float(have["events"]), "events"),
        Result(NAME, "cases", float(have["cases"]), "cases"),
    ]
    results += _timed_pages(engine, quick)
    results += _take_next(engine, size["takes"])
    engine.dispose()
    return results


def _schema(engine: Any) -> str:
    """The engine's schema: each data set keeps its own monitor snapshot directory."""
    return str(engine.dialect.default_schema_name or "public")


def _migrated(engine: Any) -> bool:
    from sqlalchemy import inspect

    return {"events", "cases", "auth_users"} <= set(inspect(engine).get_table_names())


if __name__ == "__main__":
    for r in measure(quick="--quick" in sys.argv, rebuild="--rebuild" in sys.argv):
        mark = "" if r.ok is None else ("  met" if r.ok else "  NOT MET")
        print(f"{r.name:<45} {r.shown:>16}  {r.target}{mark}")
