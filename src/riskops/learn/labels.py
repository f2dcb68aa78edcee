"""Labels: what is known to be bad (1) or good (0), of an event or an account, by source.

Sources: ``amlworld`` and ``sim`` (the labels shipped with a data set or planted by the
simulator), ``case`` (the outcome of a case, ``riskops.cases.outcomes``) and ``import``
(decided outside riskops: ``import_file``). A subject has at most one label per source; a
later write of the same subject and source replaces it (a case decided again).

``import_file`` reads a CSV (header ``event_id`` or ``account_id``, ``label``,
``decided_at``, optional ``note``) or NDJSON (one object per line, the same keys). Every row
is checked first; one bad row refuses the whole file with each bad row's reasons (row
number, field), and nothing is written. ``training_labels`` is what ``riskops train`` reads.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from riskops.audit.service import record
from riskops.auth.permissions import Permission, Principal, require
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import ValidationFailed
from riskops.learn import repository as repo
from riskops.learn.models import Label

SOURCES = ("amlworld", "sim", "case", "import")
KINDS = ("event", "account")
MAX_ROWS = 1_000_000
MAX_BYTES = 256 * 1024 * 1024
MAX_PROBLEMS = 200  # reasons reported of a refused file (the count is always exact)
MAX_ID = 128
MAX_NOTE = 2_000
_LABELS: dict[str | int, int] = {"1": 1, "0": 0, 1: 1, 0: 0}


class LabelIn(msgspec.Struct, frozen=True):
    subject_kind: str  # event | account
    subject_id: str
    label: int  # 1 bad, 0 good
    decided_at: datetime
    note: str = ""


class Written(msgspec.Struct):
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def write(session: Session, labels: Sequence[LabelIn], source: str, by: str) -> Written:
    """Upsert labels of one source (no permission check: callers check theirs)."""
    if source not in SOURCES:
        raise ValueError(f"unknown label source {source!r}")
    out = Written()
    latest: dict[tuple[str, str], LabelIn] = {}
    for item in labels:  # the last word on a subject within one write counts
        latest[(item.subject_kind, item.subject_id)] = item
    stored = repo.find_labels(session, source, list(latest))
    for key, item in latest.items():
        row = stored.get(key)
        if row is None:
            repo.add_label(
                session,
                Label(
                    subject_kind=item.subject_kind,
                    subject_id=item.subject_id,
                    label=item.label,
                    source=source,
                    decided_at=item.decided_at,
                    by=by,
                    note=item.note,
                ),
            )
            out.inserted += 1
        elif (row.label, row.note) == (item.label, item.note) and row.decided_at == item.decided_at:
            out.unchanged += 1
        else:
            row.label, row.decided_at, row.by, row.note = item.label, item.decided_at, by, item.note
            out.updated += 1
    session.flush()
    return out


# --- import ---------------------------------------------------------------------------


def _records(text: str, suffix: str) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    """(line number, record or the reason it is unreadable)."""
    if suffix in (".ndjson", ".jsonl", ".json"):
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"not JSON: {exc.msg}"
                continue
            yield number, value if isinstance(value, dict) else "not a JSON object"
        return
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        return
    for row in reader:
        yield reader.line_num, row


def _check(record_: Mapping[str, Any]) -> tuple[LabelIn | None, list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    event_id, account_id = record_.get("event_id"), record_.get("account_id")
    event_id = event_id if event_id not in ("", None) else None
    account_id = account_id if account_id not in ("", None) else None
    kind, subject = "event", event_id
    if (event_id is None) == (account_id is None):
        problems.append(("event_id", "give exactly one of event_id and account_id"))
    elif account_id is not None:
        kind, subject = "account", account_id
    if subject is not None and (
        not isinstance(subject, str) or not 1 <= len(subject.strip()) <= MAX_ID
    ):
        problems.append((f"{kind}_id", f"a text of 1-{MAX_ID} characters"))
    raw_label = record_.get("label")
    if isinstance(raw_label, str):
        raw_label = raw_label.strip()
    # True and False equal 1 and 0 as keys; a list or a float is no label
    label = _LABELS.get(raw_label) if isinstance(raw_label, str | int) else None
    if label is None:
        problems.append(("label", "1 (bad) or 0 (good)"))
    decided = record_.get("decided_at")
    when: datetime | None = None
    try:
        when = datetime.fromisoformat(str(decided).strip().replace("Z", "+00:00"))
        if when.tzinfo is None:
            problems.append(("decided_at", "must carry a UTC offset (e.g. 2026-01-31T12:00:00Z)"))
    except ValueError:
        problems.append(("decided_at", "an ISO 8601 time with offset, e.g. 2026-01-31T12:00:00Z"))
    note = record_.get("note") or ""
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        problems.append(("note", f"a text of at most {MAX_NOTE} characters"))
    if problems or when is None or label is None or subject is None:
        return None, problems
    item = LabelIn(kind, subject.strip(), label, when.astimezone(UTC), note)
    return item, []


def parse_file(path: Path) -> list[LabelIn]:
    """Every row of a label file, or ``ValidationFailed`` listing the bad rows' reasons."""
    if not path.is_file():
        raise ValidationFailed(
            f"{path}: no such file", details=[{"field": "file", "reason": "missing"}]
        )
    if path.stat().st_size > MAX_BYTES:
        raise ValidationFailed(
            f"{path}: larger than {MAX_BYTES // 2**20} MiB",
            details=[{"field": "file", "reason": "too large"}],
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed(
            f"{path}: not UTF-8 text", details=[{"field": "file", "reason": "not UTF-8"}]
        ) from None
    out: list[LabelIn] = []
    problems: list[dict[str, Any]] = []
    count = 0
    for number, item in _records(text, path.suffix.lower()):
        count += 1
        if count > MAX_ROWS:
            raise ValidationFailed(
                f"{path}: more than {MAX_ROWS:,} rows; split the file",
                details=[{"field": "file", "reason": "too many rows"}],
            )
        if isinstance(item, str):
            problems.append({"row": number, "field": "$", "reason": item})
            continue
        label, wrong = _check(item)
        problems += [{"row": number, "field": f, "reason": r} for f, r in wrong]
        if label is not None:
            out.append(label)
    if problems:
        bad_rows = len({p["row"] for p in problems})
        raise ValidationFailed(
            f"{path}: {bad_rows} bad row(s); nothing imported", details=problems[:MAX_PROBLEMS]
        )
    if not out:
        raise ValidationFailed(
            f"{path}: no labels", details=[{"field": "file", "reason": "no rows"}]
        )
    return out


def import_file(
    session: Session, principal: Principal, path: Path, now: datetime | None = None
) -> Written:
    """Import a label file (source ``import``): all rows or none. Needs ``rule:author``."""
    require(principal, Permission.RULE_AUTHOR)
    labels = parse_file(path)
    written = write(session, labels, "import", principal.name)
    detail = {"file": path.name[:200], **msgspec.structs.asdict(written)}
    record(session, principal, "labels.import", "labels", "import", detail, now=now or utcnow())
    return written


# --- reading ------------------------------------------------------------------------------


class TrainingLabels(msgspec.Struct):
    """Labels by subject, for training: the latest decision of any source wins."""

    events: dict[str, int]
    accounts: dict[str, int]

    def __len__(self) -> int:
        return len(self.events) + len(self.accounts)


def training_labels(session: Session, sources: Sequence[str] = SOURCES) -> TrainingLabels:
    latest: dict[tuple[str, str], tuple[datetime, int]] = {}
    for row in repo.all_labels(session):
        if row.source not in sources:
            continue
        key = (row.subject_kind, row.subject_id)
        seen = latest.get(key)
        if seen is None or row.decided_at >= seen[0]:
            latest[key] = (row.decided_at, row.label)
    events = {i: v for (k, i), (_, v) in latest.items() if k == "event"}
    accounts = {i: v for (k, i), (_, v) in latest.items() if k == "account"}
    return TrainingLabels(events, accounts)


def counts(session: Session) -> dict[str, dict[str, int]]:
    """{source: {"positive": n, "negative": n}}."""
    out: dict[str, dict[str, int]] = {}
    for (source, label), n in repo.count_labels(session).items():
        out.setdefault(source, {"positive": 0, "negative": 0})[
            "positive" if label else "negative"
        ] = n
    return out
