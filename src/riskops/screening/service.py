"""Screening use cases: load a list version, screen subjects, review hits, read them.

Services take the caller's session and never commit (one CLI command, request or worker
pass is one transaction). Who calls them:

- ``load_list``: ``riskops screening load`` (permission ``screening:load``). A new version is
  stored and made current in one transaction; loading files already loaded stores nothing.
- ``observe``: the screening follower (``tasks.follow``), which reads the event log for the
  events that name a subject (KYC and KYB submissions and decisions, P2P orders) and screens
  each new or changed subject at once.
- ``rescreen``: after a list changed, subjects screened against older versions are screened
  again against the lists that changed only, a batch per transaction (``tasks``,
  ``riskops screening rescreen``).
- ``review``: a reviewer decides a hit (``screening:review``), audited.
- ``decide_by_case``: a case closed in the case flow decides the open hits its alerts name
  (``riskops.cases.review_outcomes``; ``screening:review``), audited (ADR 0031).

A load also stores the version's digital currency addresses (``addresses``), which intel's
listed addresses read through the provider the composition hands it.

A hit is unique on its key (``hit_key``); a new hit is told on the kernel outbox topic
``schemas.HIT_RAISED`` in the transaction that stores it, and cases open a case alert of it.
A hit that exists, open or decided, is never stored or told again: so a "not a match" stays
quiet across rescreens and list versions, and a list change alerts only what is new.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from riskops.audit import service as audit
from riskops.auth.permissions import Permission, Principal, require
from riskops.events import schemas as s
from riskops.kernel import outbox
from riskops.kernel.bounds import identifier_problem
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Conflict, NotFound, ValidationFailed
from riskops.screening import lists
from riskops.screening import repository as repo
from riskops.screening.addresses import address_rows
from riskops.screening.lists import ListEntry, Match, Query
from riskops.screening.matcher import DEFAULT_THRESHOLD, Screener
from riskops.screening.models import (
    Hit,
    HitStatus,
    ListVersion,
    ScreeningList,
    Subject,
    SubjectRole,
)
from riskops.screening.schemas import HIT_RAISED, hit_message

# The events that name someone to screen (``facts_of``).
SCREENED_EVENTS = frozenset(
    {"kyc.submitted", "kyc.decided", "kyb.submitted", "kyb.decided", "p2p.order"}
)
DECISIONS = {"match": HitStatus.CONFIRMED, "not_a_match": HitStatus.NOT_A_MATCH}
_KINDS = {"person", "organization"}
_entries_type = list[ListEntry]


# --- lists --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What a load did: ``created`` a new version, or made an earlier one current again
    (``switched``), or nothing (the files are those of the current version)."""

    list_name: str
    version: int
    version_id: int
    entry_count: int
    created: bool
    switched: bool

    @property
    def changed(self) -> bool:
        return self.created or self.switched


def file_facts(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Name, SHA-256 and size of each file, in the order given."""
    facts = []
    for path in paths:
        data = path.read_bytes()
        facts.append(
            {"name": path.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        )
    return facts


def load_digest(source: str, files: Iterable[dict[str, Any]]) -> str:
    """The identity of a load: the source and the files' contents (not their names or order)."""
    parts = [source, *sorted(str(f["sha256"]) for f in files)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def encode_entries(entries: Sequence[ListEntry]) -> bytes:
    return zlib.compress(msgspec.json.encode(list(entries)), 6)


def decode_entries(blob: bytes) -> list[ListEntry]:
    entries: list[ListEntry] = msgspec.json.decode(zlib.decompress(blob), type=_entries_type)
    return entries


def load_list(
    session: Session,
    loader: Principal,
    source: str,
    paths: Sequence[Path],
    *,
    name: str | None = None,
    now: datetime | None = None,
) -> LoadResult:
    """Store the entries of ``paths`` (read by ``lists.load(source, ...)``) as a new version
    of the list ``name`` (default: the source) and make it current, in the caller's
    transaction; needs ``screening:load``; audited.

    Files whose contents were loaded before for this list store nothing: the version they
    made becomes current again if it is not (``switched``). A malformed file raises
    ``lists.ListFormatError`` (422) and stores nothing.
    """
    require(loader, Permission.SCREENING_LOAD)
    try:
        return _load(session, loader, source, paths, name=name, now=now)
    except repo.Raced as exc:
        raise Conflict(
            f"another load of list {name or source!r} ran at the same time; retry"
        ) from exc


def _load(
    session: Session,
    loader: Principal,
    source: str,
    paths: Sequence[Path],
    *,
    name: str | None,
    now: datetime | None,
) -> LoadResult:
    if source not in lists.SOURCES:
        raise ValidationFailed(
            f"unknown source {source!r}",
            details=[{"field": "source", "reason": f"one of {', '.join(lists.SOURCES)}"}],
        )
    name = name or source
    if not name or len(name) > 64:
        raise ValidationFailed(
            "a list name has 1 to 64 characters",
            details=[{"field": "name", "reason": "1 to 64 characters"}],
        )
    now = now or utcnow()
    files = file_facts(paths)
    digest = load_digest(source, files)
    current = repo.get_list(session, name, for_update=True)
    known = repo.version_by_digest(session, name, digest)
    if known is not None:
        _backfill_addresses(session, known)
        switched = current is None or current.version_id != known.id
        if switched:
            _make_current(session, current, name, known, now)
            _audit_load(session, loader, known, "switched", now)
        return LoadResult(name, known.version, known.id, known.entry_count, False, switched)
    entries = lists.load(source, paths)
    version = ListVersion(
        list_name=name,
        version=repo.last_version_number(session, name) + 1,
        source=source,
        digest=digest,
        files=files,
        entry_count=len(entries),
        loaded_at=now,
        loaded_by=loader.name,
        entries=encode_entries(entries),
    )
    repo.add(session, version)
    repo.insert_addresses(session, address_rows(version.id, name, entries))
    _make_current(session, current, name, version, now)
    _audit_load(session, loader, version, "created", now)
    return LoadResult(name, version.version, version.id, version.entry_count, True, False)


def _backfill_addresses(session: Session, version: ListVersion) -> None:
    """A version stored before its addresses were extracted (migration 0023) gets them when
    its files are loaded again."""
    if repo.has_addresses(session, version.id):
        return
    blob = repo.entries_blob(session, version.id)
    entries = decode_entries(blob) if blob is not None else []
    repo.insert_addresses(session, address_rows(version.id, version.list_name, entries))


def _make_current(
    session: Session,
    current: ScreeningList | None,
    name: str,
    version: ListVersion,
    now: datetime,
) -> None:
    if current is None:
        repo.add(
            session,
            ScreeningList(name=name, source=version.source, version_id=version.id, changed_at=now),
        )
    else:
        current.version_id, current.source, current.changed_at = version.id, version.source, now
        session.flush()


def _audit_load(
    session: Session, loader: Principal, version: ListVersion, how: str, now: datetime
) -> None:
    detail = {
        "list": version.list_name,
        "version": version.version,
        "source": version.source,
        "entries": version.entry_count,
        "files": version.files,
        "how": how,
    }
    audit.record(
        session, loader, "screening.list_load", "screening_list", version.id, detail, now=now
    )


def list_versions(
    session: Session,
    reader: Principal,
    *,
    list_name: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[tuple[ListVersion, bool]]:
    """Versions newest first, each with whether it is its list's current one (``case:view``;
    list entries are public data, so the read is not audited)."""
    require(reader, Permission.CASE_VIEW)
    current = {version_id for _, version_id in repo.current_versions(session)}
    rows = repo.list_versions(session, list_name, limit, offset)
    return [(v, v.id in current) for v in rows]


# --- the screeners a process holds ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Screeners:
    """The current version of every list, each with its Screener; ``key`` names the set."""

    versions: tuple[tuple[str, int], ...]
    screeners: tuple[Screener, ...]

    @property
    def key(self) -> str:
        return versions_key(self.versions)


def versions_key(versions: Iterable[tuple[str, int]]) -> str:
    """A short name for a set of (list, version id): what a subject was screened against."""
    text = ";".join(f"{name}={version_id}" for name, version_id in sorted(versions))
    return hashlib.sha256(text.encode()).hexdigest()


class ScreenerCache:
    """A process's Screeners, rebuilt only for a list whose current version changed.

    ``get`` reads the lists' current version ids (one small query) and reuses the Screener of
    every version it has built; a new version is decoded and indexed once. The result is an
    immutable snapshot, so a screening in progress keeps the lists it started with.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self._lock = threading.Lock()
        self._seen: tuple[tuple[str, int, str], ...] = ()
        self._current = Screeners((), ())
        self._built: dict[tuple[int, str], Screener] = {}

    def get(self, session: Session) -> Screeners:
        seen = tuple(repo.current_digests(session))
        if seen == self._seen:
            return self._current
        with self._lock:
            built = {}
            for _, version_id, digest in seen:
                screener = self._built.get((version_id, digest))
                if screener is None:
                    blob = repo.entries_blob(session, version_id)
                    entries = decode_entries(blob) if blob is not None else []
                    screener = Screener(entries, self.threshold)
                built[(version_id, digest)] = screener
            self._built = built  # versions no longer current are let go
            self._current = Screeners(
                tuple((name, version_id) for name, version_id, _ in seen),
                tuple(built[(version_id, digest)] for _, version_id, digest in seen),
            )
            self._seen = seen
            return self._current


default_cache = ScreenerCache()


def current_screener(session: Session, *, cache: ScreenerCache | None = None) -> Screener | None:
    """One Screener over the current version of every list (``riskops screening batch``
    without ``--list``); None when no list is loaded."""
    screeners = (cache or default_cache).get(session)
    if not screeners.screeners:
        return None
    if len(screeners.screeners) == 1:
        return screeners.screeners[0]
    entries = [entry for screener in screeners.screeners for entry in screener.entries]
    return Screener(entries, (cache or default_cache).threshold)


# --- subjects -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fact:
    """A subject as one event states it."""

    account_id: str
    role: SubjectRole
    ref: str
    kind: str | None
    name: str
    birth_date: date | None
    country: str | None
    event_id: str
    occurred_at: datetime  # when the event says it happened

    @property
    def identity(self) -> tuple[str, SubjectRole, str]:
        return (self.account_id, self.role, self.ref)


def owner_ref(name: str) -> str:
    """A beneficial owner's ref: a digest of the name, so the same owner is one subject."""
    return hashlib.sha256(" ".join(name.casefold().split()).encode()).hexdigest()[:32]


def facts_of(event: s.Event) -> list[Fact]:
    """The subjects an event names: the KYC identity, the KYB legal name and each beneficial
    owner, a P2P order's counterparty name. Other events name none."""
    acc, eid, at = event.account_id, event.event_id, event.occurred_at
    if isinstance(event, s.KycSubmitted | s.KycDecided):
        if not event.full_name:
            return []
        return [
            Fact(
                acc,
                SubjectRole.KYC,
                "",
                "person",
                event.full_name,
                event.date_of_birth,
                event.nationality,
                eid,
                at,
            )
        ]
    if isinstance(event, s.KybSubmitted | s.KybDecided):
        facts = []
        if event.legal_name:
            facts.append(
                Fact(
                    acc,
                    SubjectRole.KYB,
                    "",
                    "organization",
                    event.legal_name,
                    None,
                    event.country,
                    eid,
                    at,
                )
            )
        for owner in event.beneficial_owners:
            facts.append(
                Fact(
                    acc,
                    SubjectRole.OWNER,
                    owner_ref(owner.full_name),
                    "person",
                    owner.full_name,
                    owner.date_of_birth,
                    owner.nationality,
                    eid,
                    at,
                )
            )
        return facts
    if isinstance(event, s.P2POrder) and event.counterparty_name:
        return [
            Fact(
                acc,
                SubjectRole.P2P_COUNTERPARTY,
                event.counterparty_id,
                None,
                event.counterparty_name,
                None,
                None,
                eid,
                at,
            )
        ]
    return []


@dataclass
class Screened:
    """What a screening pass did."""

    subjects: int = 0  # screened
    changed: int = 0  # new or changed subjects stored
    hits: list[Hit] = field(default_factory=list)  # new hits, told on the outbox

    def merge(self, other: Screened) -> None:
        self.subjects += other.subjects
        self.changed += other.changed
        self.hits.extend(other.hits)


def observe(
    session: Session,
    facts: Sequence[Fact],
    *,
    cache: ScreenerCache | None = None,
    now: datetime | None = None,
) -> Screened:
    """Store the subjects ``facts`` state (the last fact of each subject wins) and screen
    those that are new, changed, or not yet screened against the current lists. A subject
    stated again unchanged is not screened again (a replay, a repeat P2P counterparty)."""
    now = now or utcnow()
    result = Screened()
    latest: dict[tuple[str, SubjectRole, str], Fact] = {}
    for fact in facts:
        latest[fact.identity] = _bounded(fact)
    if not latest:
        return result
    stored = _by_identity(repo.subjects_by_identity(session, list(latest)))
    fresh = [fact for identity, fact in latest.items() if identity not in stored]
    if fresh:
        repo.insert_subjects_ignore(session, [_subject_row(f, now) for f in fresh])
        stored = _by_identity(repo.subjects_by_identity(session, list(latest)))
        result.changed += len(fresh)
    due = []
    for identity, fact in latest.items():
        subject = stored[identity]
        if _differs(subject, fact):
            subject.kind, subject.name = fact.kind, fact.name
            subject.birth_date, subject.country = fact.birth_date, fact.country
            subject.event_id, subject.updated_at, subject.screened_key = fact.event_id, now, None
            subject.screened_versions = None  # a new name: every list again
            result.changed += 1
        due.append(subject)
    session.flush()
    screeners = (cache or default_cache).get(session)
    stale = [subject for subject in due if subject.screened_key != screeners.key]
    occurred = {stored[f.identity].id: f.occurred_at for f in latest.values()}
    result.merge(screen_subjects(session, stale, screeners, now=now, occurred=occurred))
    return result


def _bounded(fact: Fact) -> Fact:
    country = fact.country if fact.country and len(fact.country) == 2 else None
    kind = fact.kind if fact.kind in _KINDS else None
    return Fact(
        fact.account_id[:128],
        fact.role,
        fact.ref[:128],
        kind,
        fact.name[:256],
        fact.birth_date,
        country,
        fact.event_id[:128],
        fact.occurred_at,
    )


def _by_identity(subjects: Iterable[Subject]) -> dict[tuple[str, SubjectRole, str], Subject]:
    return {(x.account_id, x.role, x.ref): x for x in subjects}


def _differs(subject: Subject, fact: Fact) -> bool:
    return (subject.name, subject.birth_date, subject.country, subject.kind) != (
        fact.name,
        fact.birth_date,
        fact.country,
        fact.kind,
    )


def _subject_row(fact: Fact, now: datetime) -> dict[str, Any]:
    return {
        "account_id": fact.account_id,
        "role": fact.role,
        "ref": fact.ref,
        "kind": fact.kind,
        "name": fact.name,
        "birth_date": fact.birth_date,
        "country": fact.country,
        "event_id": fact.event_id,
        "updated_at": now,
        "screened_key": None,
        "screened_at": None,
        "screened_versions": None,
    }


def query_of(subject: Subject) -> Query:
    return Query(
        name=subject.name,
        birth_date=subject.birth_date.isoformat() if subject.birth_date else None,
        country=subject.country,
        kind=subject.kind,
    )


def hit_key(subject: Subject, list_name: str, entry_id: str, matched_name: str) -> str:
    """A hit's identity: the subject, the name it was screened under (a changed KYC name is
    screened afresh), the list, the entry, and the entry's name that matched."""
    parts = (
        str(subject.id),
        " ".join(subject.name.casefold().split()),
        list_name,
        entry_id,
        matched_name,
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def screen_subjects(
    session: Session,
    subjects: Sequence[Subject],
    screeners: Screeners,
    *,
    now: datetime | None = None,
    occurred: Mapping[int, datetime] | None = None,
) -> Screened:
    """Screen each of ``subjects`` against the current lists it was not screened against
    (every list for a new or renamed subject; after one list changed, that list's new
    version only), store the hits whose key is new, tell each new hit on ``HIT_RAISED``, and
    mark the subjects screened against ``screeners``. ``occurred`` gives, by subject id,
    when the event that named it happened: the time its hits' case alerts carry (default:
    now, as for a rescreen after a list change)."""
    now = now or utcnow()
    result = Screened(subjects=len(subjects))
    if not subjects:
        return result
    rows = []
    lists_now = dict(screeners.versions)
    for subject in subjects:
        query = query_of(subject)
        done = subject.screened_versions or {}
        for (list_name, version_id), screener in zip(
            screeners.versions, screeners.screeners, strict=True
        ):
            if done.get(list_name) == version_id:
                continue  # this version screened it already: nothing new can come of it
            for match in screener.screen(query):
                rows.append(_hit_row(subject, list_name, version_id, match, now))
    new_ids = repo.insert_hits(session, _unique_keys(rows))
    if new_ids:
        result.hits = repo.get_hits(session, new_ids)
        roles = {x.id: x.role for x in subjects}
        at = occurred or {}
        messages = [
            hit_message(hit, roles[hit.subject_id], at.get(hit.subject_id, now))
            for hit in result.hits
        ]
        outbox.publish_many(session, HIT_RAISED, messages, now=now)
    for subject in subjects:
        subject.screened_key, subject.screened_at = screeners.key, now
        subject.screened_versions = dict(lists_now)
    session.flush()
    return result


def _unique_keys(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(row["key"], row)
    return list(seen.values())


_ENTRY_NAMES = 20
_ENTRY_TEXT = 1_000


def _hit_row(
    subject: Subject, list_name: str, version_id: int, match: Match, now: datetime
) -> dict[str, Any]:
    entry = match.entry
    matched = match.matched_name[:512]
    return {
        "key": hit_key(subject, list_name, entry.entry_id, matched),
        "subject_id": subject.id,
        "account_id": subject.account_id,
        "subject_name": subject.name,
        "list_name": list_name,
        "list_version_id": version_id,
        "entry_id": entry.entry_id[:128],
        "matched_name": matched,
        "score": round(float(match.score), 4),
        "reasons": list(match.reasons),
        "entry": {
            "source": entry.source,
            "kind": entry.kind,
            "names": list(entry.names[:_ENTRY_NAMES]),
            "birth_dates": list(entry.birth_dates),
            "countries": list(entry.countries),
            "programs": list(entry.programs),
            "remarks": entry.remarks[:_ENTRY_TEXT],
        },
        "status": HitStatus.OPEN,
        "created_at": now,
        "decided_by": None,
        "decided_at": None,
        "note": None,
    }


@dataclass(frozen=True, slots=True)
class RescreenBatch:
    screened: int
    hits: int
    last_id: int  # the next batch starts after this subject id (0: nothing was left)


def rescreen(
    session: Session,
    *,
    cache: ScreenerCache | None = None,
    after_id: int = 0,
    limit: int = 500,
    now: datetime | None = None,
) -> RescreenBatch:
    """Screen up to ``limit`` subjects (ids after ``after_id``) not yet screened against the
    current list versions; only hits with a new key alert. Call again with ``last_id`` until
    it returns ``screened == 0``."""
    screeners = (cache or default_cache).get(session)
    stale = repo.stale_subjects(session, screeners.key, after_id, limit)
    done = screen_subjects(session, stale, screeners, now=now)
    return RescreenBatch(len(stale), len(done.hits), stale[-1].id if stale else 0)


def stale_count(session: Session, *, cache: ScreenerCache | None = None) -> int:
    """How many subjects wait to be screened against the current lists."""
    return repo.count_stale_subjects(session, (cache or default_cache).get(session).key)


# --- review -------------------------------------------------------------------------------


def review(
    session: Session,
    reviewer: Principal,
    hit_id: int,
    decision: str,
    note: str,
    *,
    now: datetime | None = None,
) -> Hit:
    """Decide an open hit: ``match`` (the subject is the listed party) or ``not_a_match``,
    with a note saying why; needs ``screening:review``; audited (``screening.review``).

    A decided hit is final (409 on a second decision): a "not a match" keeps the same hit
    from being raised again by any rescreen, on any later version of the list.
    """
    require(reviewer, Permission.SCREENING_REVIEW)
    status = DECISIONS.get(decision)
    if status is None:
        raise ValidationFailed(
            f"unknown decision {decision!r}",
            details=[{"field": "$.decision", "reason": "match or not_a_match"}],
        )
    note = (note or "").strip()
    if not note:
        raise ValidationFailed(
            "a screening decision needs a note",
            details=[{"field": "$.note", "reason": "say why: the evidence compared"}],
        )
    hit = repo.get_hit(session, hit_id, for_update=True)
    if hit is None:
        raise NotFound(f"screening hit {hit_id} not found")
    if hit.status is not HitStatus.OPEN:
        raise Conflict(f"screening hit {hit_id} is already decided ({hit.status})")
    now = now or utcnow()
    if not repo.decide_hit(session, hit_id, status, reviewer.name, note, now):
        raise Conflict(f"screening hit {hit_id} was decided meanwhile")
    hit.status, hit.decided_by, hit.decided_at, hit.note = status, reviewer.name, now, note
    detail = _review_detail(hit, decision, note)
    audit.record(session, reviewer, "screening.review", "screening_hit", hit_id, detail, now=now)
    return hit


def decide_by_case(
    session: Session,
    decider: Principal,
    hit_ids: Iterable[int],
    decision: str,
    note: str,
    *,
    case_id: int,
    now: datetime | None = None,
) -> list[Hit]:
    """Decide the open hits a closed case's alerts name, as its outcome says (``match`` for a
    case closed restricted, offboarded or referred for a SAR; ``not_a_match`` for one
    dismissed as legitimate), with the case's decision as the note; needs
    ``screening:review``; each hit decided is audited (``screening.review``, ``by_case``).
    Returns the hits it decided.

    A hit decided before keeps its decision, except that a case cannot be dismissed as
    "not a match" over a hit a reviewer confirmed as the listed party (409): a true match
    stays a match, and the case must say so."""
    require(decider, Permission.SCREENING_REVIEW)
    status = DECISIONS.get(decision)
    if status is None:
        raise ValidationFailed(
            f"unknown decision {decision!r}",
            details=[{"field": "decision", "reason": "match or not_a_match"}],
        )
    now = now or utcnow()
    text = (note or "").strip() or f"decided by case {case_id}"
    decided = []
    for hit in repo.get_hits(session, set(hit_ids), for_update=True):
        if hit.status is HitStatus.OPEN:
            if not repo.decide_hit(session, hit.id, status, decider.name, text, now):
                raise Conflict(f"screening hit {hit.id} was decided meanwhile")
            hit.status, hit.decided_by, hit.decided_at, hit.note = status, decider.name, now, text
            detail = {
                **_review_detail(hit, decision, text),
                "by_case": case_id,
            }
            audit.record(
                session, decider, "screening.review", "screening_hit", hit.id, detail, now=now
            )
            decided.append(hit)
        elif hit.status is HitStatus.CONFIRMED and status is HitStatus.NOT_A_MATCH:
            raise Conflict(
                f"screening hit {hit.id} was confirmed a match by {hit.decided_by}: a case "
                "with a true match is not dismissed (restrict, offboard or refer it)",
                details=[{"field": "action", "reason": f"hit {hit.id} is a confirmed match"}],
            )
    return decided


def _review_detail(hit: Hit, decision: str, note: str) -> dict[str, Any]:
    return {
        "account_id": hit.account_id,
        "decision": decision,
        "note": note,
        "subject_name": hit.subject_name,
        "list": hit.list_name,
        "entry_id": hit.entry_id,
        "matched_name": hit.matched_name,
        "score": hit.score,
    }


# --- reads: each shows personal data, so each is in the audit trail (ADR 0020) --------------


def hits_for_account(
    session: Session,
    reader: Principal,
    account_id: str,
    *,
    status: HitStatus | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Hit]:
    """An account's hits, newest first (``account:view``); audited (``screening_hit.list``)."""
    require(reader, Permission.ACCOUNT_VIEW)
    if (problem := identifier_problem(account_id)) is not None:
        raise ValidationFailed(
            "invalid account id", details=[{"field": "account_id", "reason": problem}]
        )
    rows = repo.hits(session, account_id=account_id, status=status, limit=limit, offset=offset)
    if rows:
        shown = {account_id: [h.id for h in rows]}
        audit.record_views(session, reader, "screening_hit.list", "account", shown)
    return rows


def review_queue(
    session: Session,
    reader: Principal,
    *,
    status: HitStatus | None = HitStatus.OPEN,
    limit: int = 50,
    offset: int = 0,
) -> list[Hit]:
    """Hits of every account, newest first, open ones by default (``screening:review``);
    audited per account shown (``screening_hit.list``)."""
    require(reader, Permission.SCREENING_REVIEW)
    rows = repo.hits(session, account_id=None, status=status, limit=limit, offset=offset)
    shown: dict[str, list[int]] = {}
    for hit in rows:
        shown.setdefault(hit.account_id, []).append(hit.id)
    audit.record_views(session, reader, "screening_hit.list", "account", shown)
    return rows


def hits_by_ids(session: Session, reader: Principal, hit_ids: Iterable[int]) -> list[Hit]:
    """The hits named (e.g. by a case's alerts: ``detail["hit_id"]``), by id; unknown ids
    are left out (``account:view``); audited per account shown (``screening_hit.list``)."""
    require(reader, Permission.ACCOUNT_VIEW)
    rows = repo.get_hits(session, set(hit_ids))
    shown: dict[str, list[int]] = {}
    for hit in rows:
        shown.setdefault(hit.account_id, []).append(hit.id)
    audit.record_views(session, reader, "screening_hit.list", "account", shown)
    return rows


def get_hit(session: Session, reader: Principal, hit_id: int) -> Hit:
    """One hit (``account:view``); audited (``screening_hit.view``)."""
    require(reader, Permission.ACCOUNT_VIEW)
    hit = repo.get_hit(session, hit_id)
    if hit is None:
        raise NotFound(f"screening hit {hit_id} not found")
    audit.record(
        session, reader, "screening_hit.view", "account", hit.account_id, {"ids": [hit_id]}
    )
    return hit
