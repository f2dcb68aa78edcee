"""What the account rating and KYC reviews cost the monitor, what their follower does, and
a recompute at size.

1. The monitor's whole path on SQLite (read, decide, write, commit; the monitor benchmark's
   "with SQLite writes" on simulated traffic; the links have their own follower) alone, and
   with the accounts follower (``accounts.tasks``: profiles, KYC/KYB reviews, rating signals
   read from the monitor's decisions, recomputes) run after each monitor batch as the worker
   does, alternating runs in one process, the best of each. CPU time (``process_time``; the
   machine is shared), each side timed on its own: the monitor's added cost is what its
   batches pay for the ratings the follower writes (the cache the rules read, refreshed
   before each batch), the follower's events/s is the log it covers per CPU second.
2. ``rating.recompute_many`` of a batch of accounts with profiles and signals: the cost of
   one follower batch's recompute, per account.

    python -m bench.bench_rating [--events N] [--rounds N] [--accounts N] [--warm F]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import Result, at_most, monitor_on_sqlite

NAME = "rating"
MODES = ("monitor alone", "with follower")


def sim_events(n_events: int) -> list[Any]:
    from riskops.events.validation import from_obj
    from riskops.sim import SimConfig, generate

    accounts = max(50, n_events // 11)
    events = [from_obj(o) for o in generate(SimConfig(accounts=accounts, days=10, seed=7))]
    return events[:n_events]


def monitor_cost(n_events: int, rounds: int = 2, warm: float = 0.0) -> dict[str, float]:
    """The monitor's events/s alone and with the accounts follower after each batch, and
    the follower's. With ``warm`` (a fraction), that much of the log is processed first
    (monitor and follower), untimed: the simulator opens (and KYCs) every account within
    its window, so its first days are mostly account.created and kyc.* events; the rest is
    closer to an exchange whose customers came before."""
    from riskops.accounts import tasks as accounts_tasks
    from riskops.accounts.rating import graph_links
    from riskops.accounts.watch import AccountWatch
    from riskops.monitor.evaluators import RulesEvaluatorFactory
    from riskops.monitor.runtime import tune_gc
    from riskops.monitor.service import AccountFeed

    tune_gc()
    events = sim_events(n_events)
    factory = RulesEvaluatorFactory.load(None)
    feed = AccountFeed()
    best: dict[str, float] = {}
    for _ in range(rounds):
        for mode in MODES:
            gc.collect()
            with monitor_on_sqlite(events, factory) as (engine, sessions, runtime):
                watch = AccountWatch(links=graph_links)
                refresh_s, refreshed = [0.0], [0]
                real_refresh = runtime.ratings.refresh

                def timed_refresh(
                    session: Any,
                    real: Any = real_refresh,
                    refresh_s: list[float] = refresh_s,
                    refreshed: list[int] = refreshed,
                ) -> int:
                    started = time.process_time()
                    rows: int = real(session)
                    refresh_s[0] += time.process_time() - started
                    refreshed[0] += rows
                    return rows

                runtime.ratings.refresh = timed_refresh  # type: ignore[method-assign]
                follows = mode == "with follower"
                skip = int(len(events) * warm)
                while runtime.seq < skip and runtime.step(min(2_000, skip - runtime.seq)).read:
                    if follows:
                        accounts_tasks.follow(sessions, feed, watch)
                decided, monitor_s, follower_s = 0, 0.0, 0.0
                refresh_s[0], refreshed[0] = 0.0, 0
                while True:
                    started = time.process_time()
                    done = runtime.step()
                    monitor_s += time.process_time() - started
                    if not done.read:
                        break
                    decided += done.events
                    if follows:
                        started = time.process_time()
                        accounts_tasks.follow(sessions, feed, watch)
                        follower_s += time.process_time() - started
                rate = decided / monitor_s
                if follows:
                    best["cache refresh us/event (with follower, last run)"] = (
                        refresh_s[0] / decided * 1e6
                    )
                    best["cache refresh rows read (last run)"] = refreshed[0]
                    key = "follower events/s (log covered per CPU s)"
                    best[key] = max(best.get(key, 0.0), decided / follower_s)
                    with engine.connect() as conn:
                        for table in ("account_ratings", "account_signals", "kyc_reviews"):
                            best[table] = conn.exec_driver_sql(
                                f"SELECT count(*) FROM {table}"
                            ).scalar_one()
            best[f"{mode} events/s"] = max(best.get(f"{mode} events/s", 0.0), rate)
    alone, with_ = best["monitor alone events/s"], best["with follower events/s"]
    best["events"] = len(events)
    best["warm"] = warm
    best["monitor added cost %"] = (alone / with_ - 1) * 100
    best["monitor added cost us/event"] = (1 / with_ - 1 / alone) * 1e6
    return best


def recompute_cost(n_accounts: int) -> dict[str, float]:
    """``recompute_many`` of ``n_accounts`` accounts, each with a profile and 3 signals."""
    from riskops.accounts import rating
    from riskops.accounts.models import AccountProfile, SignalKind
    from riskops.kernel.db import make_engine, migrate, session_factory, unit_of_work

    now = datetime(2026, 11, 24, tzinfo=UTC)
    ids = [f"acc-{i:07}" for i in range(n_accounts)]
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/riskops.db")
        migrate(engine)
        sessions = session_factory(engine)
        with unit_of_work(sessions) as session:
            session.add_all(
                AccountProfile(
                    account_id=a,
                    opened_at=now - timedelta(days=i % 400),
                    country=("DE", "VE", "FR", "NG")[i % 4],
                    corporate=False,
                    kyc_level=i % 3,
                    updated_at=now,
                )
                for i, a in enumerate(ids)
            )
            rating.record_signals(
                session,
                [
                    rating.Signal(a, SignalKind.ALERT, f"r{j}", 20 * j, "x", now)
                    for a in ids
                    for j in range(3)
                ],
            )
        with unit_of_work(sessions) as session:
            started = time.perf_counter()
            rating.recompute_many(session, ids, trigger="bench", now=now)
            first = time.perf_counter() - started
        with unit_of_work(sessions) as session:
            started = time.perf_counter()
            rating.recompute_many(session, ids, trigger="bench", now=now + timedelta(seconds=1))
            unchanged = time.perf_counter() - started
        engine.dispose()
    return {
        "accounts": n_accounts,
        "recompute us/account (first, all written)": first / n_accounts * 1e6,
        "recompute us/account (unchanged, none written)": unchanged / n_accounts * 1e6,
    }


def measure(quick: bool = False) -> list[Result]:
    """The benchmark harness entry point (``python -m bench``)."""
    m = monitor_cost(20_000 if quick else 100_000)
    r = recompute_cost(500 if quick else 2_000)
    return [
        Result(NAME, "monitor alone", m["monitor alone events/s"], "events/s"),
        Result(NAME, "monitor with the accounts follower", m["with follower events/s"], "events/s"),
        at_most(
            NAME, "accounts follower: monitor's added cost", m["monitor added cost %"], "%", 10
        ),
        Result(
            NAME,
            "accounts follower",
            m["follower events/s (log covered per CPU s)"],
            "events/s",
        ),
        Result(
            NAME,
            "recompute per account",
            r["recompute us/account (first, all written)"],
            "us",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--warm", type=float, default=0.0, help="fraction processed untimed")
    args = parser.parse_args()
    out = monitor_cost(args.events, args.rounds, args.warm)
    out.update(recompute_cost(args.accounts))
    for key, value in out.items():
        print(f"{key:48} {value:>14,.2f}")


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")
    main()
