"""Rule versions as data: save drafts, promote them, and read the sets that run.

Services take a Session and never commit (the caller's ``unit_of_work`` does). A rule
document saved again unchanged is not a new version; a changed one gets the next version
number as a draft. Promotion is draft -> shadow -> live; a rule has at most one live and
one shadow version, the one replaced is retired. Every status change is appended to
``rule_events``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import msgspec
import yaml
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Conflict, NotFound, ValidationFailed
from riskops.rules import repository as repo
from riskops.rules.definition import Rule
from riskops.rules.models import RuleEvent, RuleVersion
from riskops.rules.parse import RuleParseError, parse_rules
from riskops.rules.types import RuleStatus

S = RuleStatus
# from -> the statuses it may move to. Retired versions may come back (a rollback).
TRANSITIONS: dict[RuleStatus, frozenset[RuleStatus]] = {
    S.DRAFT: frozenset({S.SHADOW, S.LIVE, S.RETIRED}),
    S.SHADOW: frozenset({S.LIVE, S.RETIRED}),
    S.LIVE: frozenset({S.RETIRED}),
    S.RETIRED: frozenset({S.SHADOW, S.LIVE}),
}


class Saved(msgspec.Struct, frozen=True):
    rule_id: str
    version: int
    created: bool  # False: the document was unchanged, ``version`` is the existing one


def check_transition(current: RuleStatus, target: RuleStatus) -> None:
    """Raise ``Conflict`` unless ``current -> target`` is allowed (a pure rule)."""
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing"
        raise Conflict(f"a {current} version cannot become {target} (allowed: {allowed})")


def _docs(source: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    docs: Any = yaml.safe_load(source) if isinstance(source, str) else source
    if isinstance(docs, dict) and "rules" in docs:
        docs = docs["rules"]
    if not isinstance(docs, list):
        raise ValidationFailed("expected a list of rules")
    return docs


def body_hash(doc: dict[str, Any]) -> str:
    """sha256 of the document without the fields the store owns (version, status)."""
    content = {k: v for k, v in doc.items() if k not in ("version", "status")}
    return hashlib.sha256(msgspec.json.encode(content, order="sorted")).hexdigest()


def save_drafts(
    session: Session,
    source: str | list[dict[str, Any]],
    created_by: str,
    now: datetime | None = None,
) -> list[Saved]:
    """Store each rule of a YAML/JSON document as a new draft version if it changed."""
    docs = _docs(source)
    try:
        parse_rules(docs)
    except RuleParseError as exc:
        raise ValidationFailed("invalid rules", details=exc.problems) from exc
    now = now or utcnow()
    out: list[Saved] = []
    for doc in docs:
        rule_id, digest = doc["id"], body_hash(doc)
        latest = repo.latest_version(session, rule_id)
        if latest is not None and latest.body_hash == digest:
            out.append(Saved(rule_id, latest.version, False))
            continue
        version = latest.version + 1 if latest is not None else 1
        body = dict(doc, version=version, status=S.DRAFT.value)
        repo.add_version(
            session,
            RuleVersion(
                rule_id=rule_id,
                version=version,
                status=S.DRAFT.value,
                body=msgspec.json.encode(body).decode(),
                body_hash=digest,
                created_at=now,
                created_by=created_by,
            ),
        )
        repo.add_event(
            session,
            RuleEvent(
                rule_id=rule_id,
                version=version,
                from_status=None,
                to_status=S.DRAFT.value,
                at=now,
                by=created_by,
                why="saved",
            ),
        )
        out.append(Saved(rule_id, version, True))
    return out


PACK_AUTHOR = "riskops default pack"


def seed_default_pack(session: Session, now: datetime | None = None) -> int:
    """Install the default pack, each rule at its own status, into an empty rule store.

    From then on the store is the one truth the monitor runs: editing or retiring a rule
    never silently brings back (or drops) the rest of the pack. Returns the rules stored;
    0 when the store already holds versions.
    """
    if repo.count_versions(session):
        return 0
    from riskops.rules.parse import default_pack_documents

    docs = default_pack_documents()
    saved = save_drafts(session, docs, PACK_AUTHOR, now)
    for doc, stored in zip(docs, saved, strict=True):
        status = RuleStatus(doc.get("status", S.DRAFT.value))
        if status is not S.DRAFT:
            promote(session, stored.rule_id, stored.version, status, PACK_AUTHOR, "shipped", now)
    return len(saved)


def _set_status(
    session: Session, row: RuleVersion, target: RuleStatus, by: str, why: str, now: datetime
) -> None:
    repo.add_event(
        session,
        RuleEvent(
            rule_id=row.rule_id,
            version=row.version,
            from_status=row.status,
            to_status=target.value,
            at=now,
            by=by,
            why=why,
        ),
    )
    row.status = target.value


def promote(
    session: Session,
    rule_id: str,
    version: int,
    status: RuleStatus | str,
    by: str,
    why: str = "",
    now: datetime | None = None,
) -> RuleVersion:
    """Move a version to ``status``; the rule's previous live (or shadow) version retires."""
    target = RuleStatus(status)
    row = repo.get_version(session, rule_id, version)
    if row is None:
        raise NotFound(f"rule {rule_id} has no version {version}")
    check_transition(RuleStatus(row.status), target)
    now = now or utcnow()
    if target in (S.LIVE, S.SHADOW):
        for other in repo.with_status(session, [target.value], rule_id):
            if other.version != version:
                _set_status(session, other, S.RETIRED, by, f"replaced by version {version}", now)
    _set_status(session, row, target, by, why, now)
    session.flush()
    return row


def to_rule(row: RuleVersion) -> Rule:
    """The typed rule of a stored version, with the stored status."""
    body = msgspec.json.decode(row.body)
    status = row.status if row.status != S.RETIRED.value else S.DRAFT.value
    rule = parse_rules([dict(body, status=status)])[0]
    return msgspec.structs.replace(rule, status=RuleStatus(row.status))


def live_rules(session: Session) -> list[Rule]:
    return [to_rule(r) for r in repo.with_status(session, [S.LIVE.value])]


def running_rules(session: Session) -> list[Rule]:
    """The set the monitor runs: live and shadow versions."""
    return [to_rule(r) for r in repo.with_status(session, [S.LIVE.value, S.SHADOW.value])]


def monitor_rules(bind: Session | Engine) -> list[Rule]:
    """``running_rules`` from a Session, or from an Engine in a read-only session."""
    if isinstance(bind, Session):
        return running_rules(bind)
    with Session(bind) as session:
        return running_rules(session)


def list_versions(session: Session, rule_id: str | None = None) -> list[RuleVersion]:
    return repo.list_versions(session, rule_id)
