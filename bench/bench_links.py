"""Linked accounts: the two-hop query at size, what keeping the graph costs the monitor.

1. The graph in PostgreSQL (schema ``bench_links``): ``--accounts`` accounts (default 1M)
   with about ten links each (default 10M links: emails, phones, devices, IPs and their
   /24s, cards, withdrawal addresses, transfers stored both ways), a few carrier-NAT IPs
   used by hundreds of accounts (hubs), rings of 3-8 accounts sharing a device. Written with
   COPY, then ``link_values`` aggregated from it in SQL, indexes built, ``VACUUM ANALYZE``.
   Then ``linked(hops=2)`` of random accounts as the service runs it (the audit entries it
   writes included, each call its own transaction): p50 and p95.
2. The monitor's per-event cost with the graph kept by its follower of the log and without
   (the monitor benchmark's "with SQLite writes" path on simulated traffic), alternating
   runs, same process, and the follower's own events/s (wall and CPU time).

    python -m bench.bench_links [--accounts N] [--links-per-account K] [--events N]
                                [--queries N] [--skip-graph] [--skip-monitor] [--rebuild]
"""

from __future__ import annotations

import argparse
import gc
import io
import random
import time
from typing import Any

from bench.common import (
    Result,
    at_most,
    drop_schema,
    monitor_on_sqlite,
    percentile,
    schema_engine,
)

NAME = "links"
SCHEMA = "bench_links"
T0 = "2026-11-01 00:00:00+00"


# --- 1. the graph at size ---------------------------------------------------------------


def _rows(n_accounts: int, per_account: int, seed: int) -> Any:
    """``kind \\t value \\t account \\t first \\t last`` lines, a block of accounts at a
    time (COPY text format). About ``per_account`` links per account."""
    rng = random.Random(seed)
    nat = [f"100.64.{i // 256}.{i % 256}" for i in range(max(1, n_accounts // 5_000))]
    scale = per_account / 10
    block = io.StringIO()
    ring_device = None
    ring_left = 0
    for i in range(n_accounts):
        a = f"acc-{i:08d}"
        day = rng.randrange(90)
        first = f"2026-08-{1 + day % 28:02d} 12:00:00+00"
        lines: list[str] = []

        def add(
            kind: str, value: str, acct: str = a, lines: list[str] = lines, first: str = first
        ) -> None:
            lines.append(f"{kind}\t{value}\t{acct}\t{first}\t{T0}\n")

        add("email", f"user{i}@example.com")
        add("phone", f"+1555{i:08d}")
        if ring_left == 0 and rng.random() < 0.01:
            ring_device, ring_left = f"dev-ring-{i}", rng.randint(3, 8)
        if ring_left:
            add("device", str(ring_device))
            ring_left -= 1
        else:
            add("device", f"dev-{rng.randrange(int(n_accounts * 0.95)):x}")
        add("device", f"dev-{i:x}-b")
        for _ in range(2):
            if rng.random() < 0.02:
                address = rng.choice(nat)  # carrier NAT: a hub
            else:
                octets = (rng.randrange(1, 223), rng.randrange(256), rng.randrange(256))
                address = ".".join(map(str, octets)) + f".{rng.randrange(1, 255)}"
            add("ip", address)
            add("ip_net", address.rsplit(".", 1)[0] + ".0/24")
        if rng.random() < 0.5:
            add("card", f"card-{rng.randrange(int(n_accounts * 0.6)):x}")
        add("withdrawal_address", f"T{rng.randrange(int(n_accounts * 0.8)):033x}")
        if rng.random() < 0.5 * scale:
            other = f"acc-{rng.randrange(n_accounts):08d}"
            if other != a:
                add("transfer", other)
                add("transfer", a, other)
        for _ in range(max(0, per_account - 10)):
            add("device", f"dev-extra-{rng.randrange(n_accounts * 4):x}")
        block.writelines(lines)
        if i % 20_000 == 19_999:
            yield block.getvalue()
            block = io.StringIO()
    yield block.getvalue()


def build(n_accounts: int, per_account: int, *, rebuild: bool) -> tuple[Any, dict[str, float]]:
    from sqlalchemy import text

    from riskops.kernel.db import migrate

    schema = f"{SCHEMA}_{n_accounts}"
    if rebuild:
        drop_schema(schema)
    engine = schema_engine(schema, pool_size=4)
    migrate(engine)
    stats: dict[str, float] = {}
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM link_values")).scalar_one()
    if have:
        with engine.connect() as conn:
            stats["links"] = conn.execute(text("SELECT count(*) FROM account_links")).scalar_one()
        return engine, stats
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX IF EXISTS ix_account_links_account"))
        conn.execute(text("ALTER TABLE account_links DROP CONSTRAINT IF EXISTS pk_account_links"))
        conn.execute(text("CREATE TEMP TABLE staging (LIKE account_links) ON COMMIT DROP"))
        raw = conn.connection.driver_connection
        cursor = raw.cursor()  # type: ignore[union-attr]
        with cursor.copy(
            "COPY staging (kind, value, account_id, first_seen, last_seen) FROM STDIN"
        ) as copy:
            for chunk in _rows(n_accounts, per_account, seed=11):
                copy.write(chunk)
        stats["copy s"] = time.perf_counter() - started
        # the generator can draw the same (kind, value, account) twice: keep one
        conn.execute(
            text(
                "INSERT INTO account_links SELECT DISTINCT ON (kind, value, account_id) * "
                "FROM staging ORDER BY kind, value, account_id"
            )
        )
        conn.execute(
            text(
                "ALTER TABLE account_links ADD CONSTRAINT pk_account_links "
                "PRIMARY KEY (kind, value, account_id)"
            )
        )
        conn.execute(
            text("CREATE INDEX ix_account_links_account ON account_links (account_id, kind, value)")
        )
        conn.execute(
            text(
                "INSERT INTO link_values (kind, value, accounts, hub, first_seen, last_joined) "
                "SELECT kind, value, count(*), count(*) > CASE kind WHEN 'ip_net' THEN 200 "
                "ELSE 20 END, min(first_seen), max(first_seen) FROM account_links "
                "GROUP BY kind, value"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE account_links"))
        conn.execute(text("VACUUM ANALYZE link_values"))
        stats["links"] = conn.execute(text("SELECT count(*) FROM account_links")).scalar_one()
        stats["hubs"] = conn.execute(
            text("SELECT count(*) FROM link_values WHERE hub")
        ).scalar_one()
    stats["build s"] = time.perf_counter() - started
    return engine, stats


def query(engine: Any, n_accounts: int, n_queries: int) -> dict[str, float]:
    from riskops.auth.permissions import Principal, Role
    from riskops.kernel.db import session_factory, unit_of_work
    from riskops.links import service

    reader = Principal.for_user(1, "bench", Role.ANALYST)
    sessions = session_factory(engine)
    rng = random.Random(5)
    picks = [f"acc-{rng.randrange(n_accounts):08d}" for _ in range(n_queries)]
    for account in picks[:20]:  # warm the cache a little, as a running server is
        with unit_of_work(sessions) as session:
            service.linked(session, reader, account, hops=2, limit=100)
    took: list[float] = []
    sizes: list[int] = []
    for account in picks:
        started = time.perf_counter()
        with unit_of_work(sessions) as session:
            answer = service.linked(session, reader, account, hops=2, limit=100)
        took.append((time.perf_counter() - started) * 1000)
        sizes.append(len(answer.items))
    took.sort()
    sizes.sort()
    return {
        "two hops p50 ms": percentile(took, 50),
        "two hops p95 ms": percentile(took, 95),
        "two hops max ms": took[-1],
        "linked accounts p50": percentile(sizes, 50),
        "linked accounts max": sizes[-1],
    }


# --- 2. the monitor's cost --------------------------------------------------------------


def sim_events(n_events: int, days: int) -> list[Any]:
    """About ``n_events`` simulated events over ``days`` (the monitor benchmark's traffic
    when ``days`` is 10)."""
    from riskops.events.validation import from_obj
    from riskops.sim import SimConfig, generate

    per_account = 1.1 * days + 1  # the simulator's rate, about
    accounts = max(50, int(n_events / per_account))
    events = [from_obj(o) for o in generate(SimConfig(accounts=accounts, days=days, seed=7))]
    return events[:n_events]


def monitor_cost(
    n_events: int, rounds: int = 2, warm: float = 0.0, days: int = 10
) -> dict[str, float]:
    """Events/s of the monitor's whole path on SQLite (read, decide, write, commit) with the
    graph kept by its follower and without, alternating; the best run of each, and the
    follower's own events/s (wall and CPU time: the machine is shared). "With the graph":
    the follower follows the log first (timed on its own), then the monitor runs over it,
    its rating reading the graph the follower left; "without": the follower never runs.
    With ``warm`` (a fraction), that much of the log is processed first, untimed: the
    simulator's accounts all open within its window, so its first days are mostly new links
    (a cold start). The monitor keeps no accounts watch either (its own follower does,
    ADR 0028): both runs are the monitor's batch alone."""
    from riskops.links import tasks as links_tasks
    from riskops.links.keeper import LinkKeeper
    from riskops.monitor.evaluators import RulesEvaluatorFactory
    from riskops.monitor.runtime import tune_gc

    tune_gc()
    events = sim_events(n_events, days)
    factory = RulesEvaluatorFactory.load(None)
    best: dict[str, float] = {}

    def keep(key: str, value: float) -> None:
        best[key] = max(best.get(key, 0.0), value)

    for _ in range(rounds):
        for mode in ("without links", "with links"):
            gc.collect()
            with monitor_on_sqlite(events, factory) as (engine, sessions, runtime):
                skip = int(len(events) * warm)
                if mode == "with links":
                    keeper = LinkKeeper()
                    links_tasks.follow(sessions, keeper, limit=2_000, max_batches=skip // 2_000)
                    wall, cpu = time.perf_counter(), time.process_time()
                    followed = links_tasks.follow(sessions, keeper)
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    covered = len(events) - 2_000 * (skip // 2_000)
                    keep("follower events/s", covered / wall)
                    keep("follower events/cpu-s", covered / cpu)
                    best["follower linked events"] = followed.events
                while runtime.seq < skip and runtime.step(min(2_000, skip - runtime.seq)).read:
                    pass
                wall, cpu = time.perf_counter(), time.process_time()
                done = runtime.catch_up()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                keep(f"{mode} events/s", done.events / wall)
                keep(f"{mode} events/cpu-s", done.events / cpu)
                if mode == "with links":
                    with engine.connect() as conn:
                        best["links written"] = conn.exec_driver_sql(
                            "SELECT count(*) FROM account_links"
                        ).scalar_one()
                        best["clusters"] = conn.exec_driver_sql(
                            "SELECT count(*) FROM link_clusters"
                        ).scalar_one()
    best["events"] = len(events)
    for unit in ("events/s", "events/cpu-s"):
        without, with_ = best[f"without links {unit}"], best[f"with links {unit}"]
        per = unit.split("/")[1]
        best[f"monitor added cost % ({per})"] = (without / with_ - 1) * 100
    return best


def measure(quick: bool = False) -> list[Result]:
    """The benchmark harness entry point (``python -m bench``)."""
    n_accounts = 20_000 if quick else 1_000_000
    engine, stats = build(n_accounts, 10, rebuild=False)
    q = query(engine, n_accounts, 200 if quick else 1_000)
    engine.dispose()
    m = monitor_cost(20_000 if quick else 200_000)
    return [
        Result(NAME, "accounts", n_accounts, "accounts"),
        Result(NAME, "links", stats["links"], "links"),
        Result(NAME, "two hops p50", q["two hops p50 ms"], "ms"),
        at_most(NAME, "two hops p95", q["two hops p95 ms"], "ms", 50),
        Result(NAME, "monitor without links", m["without links events/s"], "events/s"),
        Result(NAME, "monitor with links", m["with links events/s"], "events/s"),
        Result(NAME, "follower", m["follower events/s"], "events/s"),
        at_most(NAME, "monitor added cost", m["monitor added cost % (s)"], "%", 10),
    ]


def main() -> None:
    import warnings

    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--links-per-account", type=int, default=10)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warm", type=float, default=0.0, help="untimed fraction first")
    parser.add_argument("--days", type=int, default=10, help="simulated days")
    parser.add_argument("--skip-graph", action="store_true")
    parser.add_argument("--skip-monitor", action="store_true")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    out: dict[str, float] = {}
    if not args.skip_graph:
        engine, stats = build(args.accounts, args.links_per_account, rebuild=args.rebuild)
        out.update(stats)
        out.update(query(engine, args.accounts, args.queries))
        engine.dispose()
    if not args.skip_monitor:
        out.update(monitor_cost(args.events, args.rounds, args.warm, args.days))
    for key, value in out.items():
        print(f"{key:32} {value:>14,.3f}")


if __name__ == "__main__":
    main()
