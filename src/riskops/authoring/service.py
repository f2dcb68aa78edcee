"""The workbench's reads and the editor: rules and models with their versions, state, hit
counts and true-positive rates, a rule's page, validation as you type, drafts, and shadow vs
live.

An alert is a true positive when the case it went to was closed restricted, offboarded or
referred for a SAR, a false positive when dismissed; alerts of open cases, of cases
resolved otherwise, and alerts that never reached a case are not counted (ADR 0040).
Every function takes the caller's Session and Principal and checks ``rule:author``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
import yaml
from sqlalchemy.orm import Session

from riskops.audit.service import record
from riskops.auth.permissions import Permission, Principal, require
from riskops.authoring import model_registry
from riskops.authoring import repository as repo
from riskops.authoring.models import PromotionRequest, SubjectKind
from riskops.authoring.promotions import subject_requests
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import NotFound, ValidationFailed
from riskops.learn.registry import ModelVersionView
from riskops.rules import repository as rules_repo
from riskops.rules import service as rules
from riskops.rules.lists import UnknownListError, default_lists
from riskops.rules.models import RuleEvent, RuleVersion
from riskops.rules.parse import RuleParseError, parse_rules
from riskops.rules.stream import StreamEvaluator
from riskops.rules.types import RuleStatus

STATS_DAYS = 30
MAX_DOCUMENT = 64_000  # characters of one rule's YAML
MAX_COMPARE_DAYS = 90
COMPARE_CAP = 100_000  # alerts read per side of a shadow vs live comparison
LABEL_CAP = 1_000_000
STATES = tuple(s.value for s in RuleStatus)


@dataclass(frozen=True, slots=True)
class Rate:
    """Alerts and how their decided cases ended."""

    alerts: int = 0
    true: int = 0
    false: int = 0

    @property
    def decided(self) -> int:
        return self.true + self.false

    @property
    def tp_rate(self) -> float | None:
        return self.true / self.decided if self.decided else None


@dataclass(frozen=True, slots=True)
class RuleRow:
    """A rule in the workbench's list: its versions by state and its last 30 days."""

    rule_id: str
    name: str
    typology: str
    versions: list[tuple[int, str]]  # (version, status), oldest first
    live: Rate
    shadow: Rate
    pending: bool

    def with_status(self, status: str) -> list[int]:
        return [v for v, s in self.versions if s == status]


@dataclass(frozen=True, slots=True)
class Listing:
    rules: list[RuleRow]
    total: int
    typologies: list[str]
    models: list[ModelVersionView]
    models_total: int
    models_pending: set[str]


@dataclass(frozen=True, slots=True)
class VersionView:
    row: RuleVersion
    yaml: str
    rate: Rate
    shadow_rate: Rate


@dataclass(frozen=True, slots=True)
class RuleView:
    rule_id: str
    name: str
    typology: str
    versions: list[VersionView]
    history: list[RuleEvent]
    requests: list[PromotionRequest]

    def current(self, status: str) -> VersionView | None:
        return next((v for v in self.versions if v.row.status == status), None)


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class Checked:
    """What the editor's document is: its rule id when valid, else the problems."""

    problems: list[Problem] = field(default_factory=list)
    rule_id: str | None = None
    document: dict[str, Any] | None = None

    @property
    def valid(self) -> bool:
        return not self.problems and self.document is not None


def _body(row: RuleVersion) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.json.decode(row.body)
    return body


def to_yaml(row: RuleVersion) -> str:
    """A stored version as the YAML of one rule (the store's fields kept: version, status)."""
    body = dict(_body(row), status=row.status if row.status != "retired" else "draft")
    return yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)


def _rates(stats: Iterable[tuple[str, bool, int, int, int]]) -> dict[tuple[str, bool], Rate]:
    return {(r, s): Rate(n, t, f) for r, s, n, t, f in stats}


def listing(
    session: Session,
    principal: Principal,
    *,
    state: str = "",
    typology: str = "",
    q: str = "",
    limit: int = 25,
    offset: int = 0,
    now: datetime | None = None,
) -> Listing:
    """Rules (filtered by a state one of their versions is in, a typology, and a search of
    id and name), a page of them, with the last 30 days' alerts and TP rates; and models."""
    require(principal, Permission.RULE_AUTHOR)
    if state and state not in STATES:
        raise ValidationFailed(
            "unknown state", details=[{"field": "state", "reason": f"one of {', '.join(STATES)}"}]
        )
    since = (now or utcnow()) - timedelta(days=STATS_DAYS)
    by_rule: dict[str, list[RuleVersion]] = {}
    for row in rules.list_versions(session):
        by_rule.setdefault(row.rule_id, []).append(row)
    stats = _rates(repo.alert_stats(session, since))
    waiting = repo.pending_subjects(session)
    rows: list[RuleRow] = []
    typologies: set[str] = set()
    needle = q.strip().lower()
    for rule_id, versions in sorted(by_rule.items()):
        latest = _body(versions[-1])
        kind = str(latest.get("typology", ""))
        typologies.add(kind)
        name = str(latest.get("name", ""))
        if state and not any(v.status == state for v in versions):
            continue
        if typology and kind != typology:
            continue
        if needle and needle not in rule_id.lower() and needle not in name.lower():
            continue
        rows.append(
            RuleRow(
                rule_id,
                name,
                kind,
                [(v.version, v.status) for v in versions],
                stats.get((rule_id, False), Rate()),
                stats.get((rule_id, True), Rate()),
                (SubjectKind.RULE.value, rule_id) in waiting,
            )
        )
    models, models_total = model_registry.page(session, limit, offset)
    return Listing(
        rows[offset : offset + limit],
        len(rows),
        sorted(typologies),
        models,
        models_total,
        {s for k, s in waiting if k == SubjectKind.MODEL.value},
    )


def rule_view(
    session: Session, principal: Principal, rule_id: str, *, now: datetime | None = None
) -> RuleView:
    """A rule's versions (newest first) with their 30 days' alerts, its status history and
    its promotion requests."""
    require(principal, Permission.RULE_AUTHOR)
    rows = rules.list_versions(session, rule_id)
    if not rows:
        raise NotFound(f"no rule {rule_id!r}")
    since = (now or utcnow()) - timedelta(days=STATS_DAYS)
    per_version = {
        (v, s): Rate(n, t, f) for v, s, n, t, f in repo.version_stats(session, rule_id, since)
    }
    latest = _body(rows[-1])
    return RuleView(
        rule_id,
        str(latest.get("name", "")),
        str(latest.get("typology", "")),
        [
            VersionView(
                r,
                to_yaml(r),
                per_version.get((r.version, False), Rate()),
                per_version.get((r.version, True), Rate()),
            )
            for r in reversed(rows)
        ],
        list(reversed(rules_repo.list_events(session, rule_id)))[:200],
        subject_requests(session, principal, SubjectKind.RULE, rule_id),
    )


def draft_template(session: Session, principal: Principal, rule_id: str | None) -> str:
    """The editor's starting text: the rule's newest version as a draft, or a new rule."""
    require(principal, Permission.RULE_AUTHOR)
    if rule_id:
        latest = rules_repo.latest_version(session, rule_id)
        if latest is None:
            raise NotFound(f"no rule {rule_id!r}")
        body = dict(_body(latest), version=latest.version + 1, status="draft")
        return yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)
    return NEW_RULE


NEW_RULE = """\
id: NEW-001
version: 1
status: draft
name: A short name
description: What the rule finds, and why it matters.
typology: structuring
when: [deposit]
features:
  deposits_24h:
    agg: count
    by: account_id
    window: 24h
if:
  all:
    - {feature: deposits_24h, gte: 10}
action: review
score: 40
reason: "{deposits_24h} deposits within a day"
"""


def _problem(text: str) -> Problem:
    path, sep, reason = text.partition(": ")
    if not sep:
        return Problem("rule", text)
    missing = re.match(r"missing required key '([a-z_]+)'", reason)
    if missing:  # the field is the one to add
        return Problem(missing.group(1), "required: add it")
    for prefix in ("rules[0].", "rules[0]"):
        if path.startswith(prefix):
            path = path[len(prefix) :]
            break
    return Problem(path or "rule", reason)


def check_document(text: str) -> Checked:
    """Validate the YAML of one rule (the editor, as you type): every problem with its
    field, from the rule parser and the lists it names. ``status`` and ``version`` are the
    store's: a draft gets the next version when saved."""
    if len(text) > MAX_DOCUMENT:
        return Checked([Problem("rule", f"at most {MAX_DOCUMENT:,} characters")])
    try:
        loaded: Any = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "yaml"
        problem = getattr(exc, "problem", None) or str(exc)
        return Checked([Problem(where, f"not valid YAML: {problem}")])
    if isinstance(loaded, list) and len(loaded) == 1:
        loaded = loaded[0]
    if not isinstance(loaded, dict):
        return Checked(
            [Problem("rule", "write one rule: a mapping with id, typology, when, if, ...")]
        )
    doc = dict(loaded, status=RuleStatus.DRAFT.value)
    if not isinstance(doc.get("version"), int) or isinstance(doc.get("version"), bool):
        doc["version"] = 1
    try:
        parsed = parse_rules([doc])
        store = default_lists()
        store.strict = True
        StreamEvaluator(parsed, store, include_drafts=True)
    except RuleParseError as exc:
        return Checked([_problem(p) for p in exc.problems])
    except UnknownListError as exc:
        return Checked([Problem("if", str(exc).strip("'\""))])
    return Checked([], parsed[0].id, doc)


def check_draft(principal: Principal, text: str) -> Checked:
    """``check_document`` for a rule author (the editor's validation as you type)."""
    require(principal, Permission.RULE_AUTHOR)
    return check_document(text)


def save_draft(
    session: Session, principal: Principal, text: str, *, now: datetime | None = None
) -> rules.Saved:
    """Store the editor's rule as a new draft version (unchanged: the existing version)."""
    require(principal, Permission.RULE_AUTHOR)
    checked = check_document(text)
    if not checked.valid or checked.document is None:
        raise ValidationFailed(
            "the rule is not valid",
            details=[{"field": p.field, "reason": p.reason} for p in checked.problems],
        )
    saved = rules.save_drafts(session, [checked.document], principal.name, now)[0]
    if saved.created:
        record(
            session,
            principal,
            "rule.draft",
            "rule",
            saved.rule_id,
            {"version": saved.version},
            now=now,
        )
    return saved


# --- shadow vs live -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparison:
    rule_id: str
    since: datetime
    until: datetime
    shadow: Rate
    live: Rate
    overlap: int
    only_shadow: list[str]  # event ids (":row" for an internal transfer's second row)
    only_live: list[str]
    capped: bool


def _key(event_id: str, row: int) -> str:
    return event_id if row == 0 else f"{event_id}:{row}"


def _rate_of(hits: set[str], outcomes: dict[str, bool]) -> Rate:
    true = sum(1 for k in hits if outcomes.get(k) is True)
    false = sum(1 for k in hits if outcomes.get(k) is False)
    return Rate(len(hits), true, false)


POSITIVE_VALUES = frozenset(o.value for o in repo.POSITIVE)


def compare_shadow(
    session: Session,
    principal: Principal,
    rule_id: str,
    days: int = STATS_DAYS,
    *,
    now: datetime | None = None,
) -> Comparison:
    """A rule's recorded shadow and live alerts over the last ``days`` days: both counts,
    the overlap (same event and row), what only one of them flagged, TP rates."""
    require(principal, Permission.RULE_AUTHOR)
    if not 1 <= days <= MAX_COMPARE_DAYS:
        raise ValidationFailed(
            "the period is out of range",
            details=[{"field": "days", "reason": f"1 to {MAX_COMPARE_DAYS} days"}],
        )
    if not rules.list_versions(session, rule_id):
        raise NotFound(f"no rule {rule_id!r}")
    until = now or utcnow()
    since = until - timedelta(days=days)
    shadow: set[str] = set()
    live: set[str] = set()
    found = repo.rule_hits(session, rule_id, since, until, 2 * COMPARE_CAP + 1)
    for event_id, row, is_shadow, _ in found[: 2 * COMPARE_CAP]:
        (shadow if is_shadow else live).add(_key(event_id, row))
    # An event's outcome is its decided case's, whichever alert took it there (shadow
    # alerts open no case).
    seqs = [seq for *_, seq in found]
    outcomes: dict[str, bool] = {}
    if seqs:
        for event_id, row, outcome in repo.decided_events(session, min(seqs), max(seqs), LABEL_CAP):
            key = _key(event_id, row)
            outcomes[key] = outcomes.get(key, False) or outcome in POSITIVE_VALUES
    both = shadow & live
    return Comparison(
        rule_id,
        since,
        until,
        _rate_of(shadow, outcomes),
        _rate_of(live, outcomes),
        len(both),
        sorted(shadow - both),
        sorted(live - both),
        len(found) > 2 * COMPARE_CAP,
    )
