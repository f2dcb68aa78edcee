"""Backtest a draft against the STORED history: the event log read into DuckDB.

The events that occurred in the span (default the last 30 days, at most 90) are read from
the ``events`` table in log order, at most ``cap`` of them (the page says so when capped),
with a warm-up before the span as long as the rules' longest window so that windowed
features start full. The draft and the rule's live version run together through
``riskops.rules.sql`` (the backtest engine); hits are counted inside the span only. The
result: the draft's hits, the alerts it adds and removes against the live version (event
ids), and precision and recall against the decided cases of the span's alerted events.

A backtest runs in a background thread (at most ``MAX_RUNNING`` at once; the machine has
two cores); the page polls its state. Jobs live in this process's memory: they are a view,
not a record (ADR 0040).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from sqlalchemy.orm import Session

from riskops.auth.permissions import Permission, Principal, require
from riskops.authoring import repository as repo
from riskops.events.flat import FLAT_SCHEMA, to_rows
from riskops.events.validation import DECODE_ERRORS, decode_valid
from riskops.kernel import duck
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Busy, NotFound, ValidationFailed
from riskops.kernel.logging import get_logger
from riskops.rules import repository as rules_repo
from riskops.rules.definition import Rule
from riskops.rules.lists import default_lists
from riskops.rules.service import to_rule
from riskops.rules.sql import compile_rules
from riskops.rules.types import RuleStatus

log = get_logger(__name__)

DEFAULT_DAYS = 30
MAX_DAYS = 90
DEFAULT_CAP = 200_000
MAX_CAP = 1_000_000
MAX_RUNNING = 1
KEEP_JOBS = 50
LABEL_CAP = 1_000_000
READ_PAGE = 20_000
POSITIVE = frozenset(o.value for o in repo.POSITIVE)


@dataclass(frozen=True, slots=True)
class Score:
    hits: int
    true: int  # hits on events whose case was decided a true positive
    false: int  # ... dismissed as a false positive
    positives: int  # decided-positive events in the span (recall's denominator)

    @property
    def precision(self) -> float | None:
        decided = self.true + self.false
        return self.true / decided if decided else None

    @property
    def recall(self) -> float | None:
        return self.true / self.positives if self.positives else None


@dataclass(frozen=True, slots=True)
class BacktestOutcome:
    rule_id: str
    version: int
    live_version: int | None
    since: datetime
    until: datetime
    events: int  # events read (warm-up included)
    capped: bool
    last_event_at: datetime | None  # when capped: how far the read got
    draft: Score
    live: Score | None
    draft_labelled: Score  # against learn's event labels (imported, simulator, ...)
    live_labelled: Score | None
    added: list[str]  # event ids the draft flags and the live version does not
    removed: list[str]  # ... the live version flags and the draft does not
    labelled: int  # decided events in the span
    label_count: int  # events of the span with a label


def _key(event_id: str, row: int) -> str:
    return event_id if row == 0 else f"{event_id}:{row}"


def _us(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp() * 1_000_000)


def warmup_s(rules: list[Rule]) -> int:
    """The longest window the rules' features look back over (seconds)."""
    return max((f.window_s or 0 for r in rules for f in r.features.values()), default=0)


def run_backtest(
    session: Session,
    draft: Rule,
    live: Rule | None,
    since: datetime,
    until: datetime,
    cap: int = DEFAULT_CAP,
    progress: Callable[[str], None] | None = None,
) -> BacktestOutcome:
    """Run ``draft`` (and ``live``) over the stored events of [since, until)."""
    say = progress or (lambda _: None)
    rules = [draft] + ([live] if live is not None else [])
    # Two versions of one rule run side by side: the version tells their hits apart.
    start = since - timedelta(seconds=min(warmup_s(rules), MAX_DAYS * 86400))
    since_us = _us(since)
    batches: list[pa.Table] = []
    read = 0
    after = 0
    first_seq, last_seq = 0, -1
    last_us = 0
    capped = False
    while True:  # keyset pages: one page of payloads in memory at a time
        say(f"reading the stored events ({read:,} so far)")
        page = repo.events_between(session, start, until, after, min(READ_PAGE, cap + 1 - read))
        if not page:
            break
        if read + len(page) > cap:
            capped, page = True, page[: cap - read]
        rows: list[dict[str, Any]] = []
        for seq, source_row, payload in page:
            try:
                event = decode_valid(payload)
            except DECODE_ERRORS:  # stored events were valid when accepted; skip, never fail
                continue
            rows.extend(to_rows(event, seq=seq, source_row=source_row))
        for r in rows:
            if r["ts_us"] >= since_us:
                first_seq = first_seq or r["seq"]
                last_seq = r["seq"]
            last_us = r["ts_us"]
        batches.append(pa.Table.from_pylist(rows, schema=FLAT_SCHEMA))
        read += len(page)
        after = page[-1][0]
        if capped or read >= cap:
            capped = capped or bool(repo.events_between(session, start, until, after, 1))
            break
    say(f"running the rules over {read:,} events")
    hits: dict[int, set[tuple[str, int]]] = {r.version: set() for r in rules}
    last_at = datetime.fromtimestamp(last_us / 1_000_000, UTC) if last_us else None
    if read:
        con = duck.connect(1)
        try:
            con.register("flat", pa.concat_tables(batches))
            sql = compile_rules(rules, default_lists())
            query = f'SELECT rule_version, event_id, "row" FROM ({sql}) WHERE ts_us >= {since_us}'
            for version, event_id, row in con.execute(query).fetchall():
                hits[int(version)].add((str(event_id), int(row)))
        finally:
            con.close()
    batches.clear()
    say("comparing with case outcomes and labels")
    outcomes: dict[str, bool] = {}
    tagged: dict[str, tuple[datetime, bool]] = {}
    if read and last_seq >= first_seq:
        for event_id, row, outcome in repo.decided_events(session, first_seq, last_seq, LABEL_CAP):
            key = _key(event_id, row)
            outcomes[key] = outcomes.get(key, False) or outcome in POSITIVE
        for event_id, label, at in repo.event_labels(session, first_seq, last_seq, LABEL_CAP):
            seen = tagged.get(event_id)
            if seen is None or at >= seen[0]:  # the latest decision of any source wins
                tagged[event_id] = (at, label == 1)
    labels = {e: bad for e, (_, bad) in tagged.items()}

    def score(flagged: set[tuple[str, int]], truth: dict[str, bool], by_event: bool) -> Score:
        keys = [e if by_event else _key(e, r) for e, r in flagged]
        true = sum(1 for k in keys if truth.get(k) is True)
        false = sum(1 for k in keys if truth.get(k) is False)
        return Score(len(flagged), true, false, sum(1 for v in truth.values() if v))

    draft_hits = hits[draft.version]
    live_hits = hits[live.version] if live is not None else set()
    return BacktestOutcome(
        draft.id,
        draft.version,
        live.version if live is not None else None,
        since,
        until,
        read,
        capped,
        last_at if capped else None,
        score(draft_hits, outcomes, False),
        score(live_hits, outcomes, False) if live is not None else None,
        score(draft_hits, labels, True),
        score(live_hits, labels, True) if live is not None else None,
        sorted(_key(e, r) for e, r in draft_hits - live_hits),
        sorted(_key(e, r) for e, r in live_hits - draft_hits),
        len(outcomes),
        len(labels),
    )


# --- jobs ----------------------------------------------------------------------------------


@dataclass
class Job:
    id: str
    rule_id: str
    version: int
    requested_by: str
    started_at: datetime
    state: str = "queued"  # queued | running | done | failed
    step: str = "waiting to start"
    result: BacktestOutcome | None = None
    error: str = ""
    finished_at: datetime | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Jobs:
    """The backtests of this process: start one, read its state."""

    def __init__(self, max_running: int = MAX_RUNNING, keep: int = KEEP_JOBS) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_running)
        self._keep = keep

    def get(self, principal: Principal, job_id: str) -> Job:
        require(principal, Permission.RULE_AUTHOR)
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound("no such backtest (they are kept while the server runs)")
        return job

    def start(
        self,
        session: Session,
        sessions: Callable[[], Session],
        principal: Principal,
        rule_id: str,
        version: int,
        days: int = DEFAULT_DAYS,
        cap: int = DEFAULT_CAP,
        *,
        now: datetime | None = None,
    ) -> Job:
        """Check the request in the caller's session, then backtest in a thread of its own
        (a new session from ``sessions``). Busy when ``MAX_RUNNING`` already run."""
        require(principal, Permission.RULE_AUTHOR)
        problems = []
        if not 1 <= days <= MAX_DAYS:
            problems.append({"field": "days", "reason": f"1 to {MAX_DAYS} days"})
        if not 1_000 <= cap <= MAX_CAP:
            problems.append({"field": "cap", "reason": f"1,000 to {MAX_CAP:,} events"})
        if problems:
            raise ValidationFailed("the backtest's bounds are out of range", details=problems)
        row = rules_repo.get_version(session, rule_id, version)
        if row is None:
            raise NotFound(f"rule {rule_id} has no version {version}")
        draft = to_rule(row)
        live_rows = rules_repo.with_status(session, [RuleStatus.LIVE.value], rule_id)
        live = to_rule(live_rows[0]) if live_rows and live_rows[0].version != version else None
        until = now or utcnow()
        since = until - timedelta(days=days)
        if not self._slots.acquire(blocking=False):
            raise Busy("another backtest is running; try again when it has finished")
        job = Job(uuid.uuid4().hex, rule_id, version, principal.name, until)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self._keep:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].state in ("queued", "running"):
                    break
                del self._jobs[oldest]

        def work() -> None:
            try:
                job.state = "running"

                def step(text: str) -> None:
                    job.step = text

                with sessions() as own:
                    job.result = run_backtest(own, draft, live, since, until, cap, step)
                job.state, job.step = "done", "done"
            except Exception as exc:  # the page shows it; the server keeps running
                log.exception("authoring.backtest_failed", rule_id=rule_id, version=version)
                job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"[:500]
            finally:
                job.finished_at = utcnow()
                self._slots.release()

        threading.Thread(target=work, name=f"backtest-{job.id[:8]}", daemon=True).start()
        return job


JOBS = Jobs()
