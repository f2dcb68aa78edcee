"""All SQL of the learn package: model versions, their events, and labels."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from riskops.learn.models import Label, ModelEvent, ModelVersion


def add_version(session: Session, row: ModelVersion) -> None:
    session.add(row)


def add_event(session: Session, row: ModelEvent) -> None:
    session.add(row)


def next_version(session: Session, model_id: str) -> int:
    latest = session.scalar(
        select(func.max(ModelVersion.version)).where(ModelVersion.model_id == model_id)
    )
    return int(latest or 0) + 1


def get_version(
    session: Session, model_id: str, version: int, *, for_update: bool = False
) -> ModelVersion | None:
    query = select(ModelVersion).where(
        ModelVersion.model_id == model_id, ModelVersion.version == version
    )
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def with_status(
    session: Session, statuses: Iterable[str], model_id: str | None = None
) -> Sequence[ModelVersion]:
    """Versions in these statuses (artifact included), by model id and version."""
    query = select(ModelVersion).where(ModelVersion.status.in_(list(statuses)))
    if model_id is not None:
        query = query.where(ModelVersion.model_id == model_id)
    return session.scalars(query.order_by(ModelVersion.model_id, ModelVersion.version)).all()


def running_keys(session: Session) -> list[tuple[str, int, str]]:
    """(model id, version, status) of the live and shadow versions: a cheap "what runs?"."""
    query = (
        select(ModelVersion.model_id, ModelVersion.version, ModelVersion.status)
        .where(ModelVersion.status.in_(["live", "shadow"]))
        .order_by(ModelVersion.model_id, ModelVersion.version)
    )
    return [(m, v, s) for m, v, s in session.execute(query)]


def list_versions(
    session: Session, model_id: str | None, limit: int, offset: int
) -> Sequence[ModelVersion]:
    """One page of versions without their artifacts, newest first."""
    query = select(ModelVersion).options(defer(ModelVersion.artifact))
    if model_id is not None:
        query = query.where(ModelVersion.model_id == model_id)
    query = query.order_by(ModelVersion.model_id, ModelVersion.version.desc())
    return session.scalars(query.limit(limit).offset(offset)).all()


def count_versions(session: Session, model_id: str | None = None) -> int:
    query = select(func.count()).select_from(ModelVersion)
    if model_id is not None:
        query = query.where(ModelVersion.model_id == model_id)
    return int(session.scalar(query) or 0)


def events_of(session: Session, model_id: str, version: int) -> Sequence[ModelEvent]:
    query = (
        select(ModelEvent)
        .where(ModelEvent.model_id == model_id, ModelEvent.version == version)
        .order_by(ModelEvent.id)
    )
    return session.scalars(query).all()


# --- labels ---------------------------------------------------------------------------


def find_labels(
    session: Session, source: str, subjects: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Label]:
    """The stored labels of ``source`` for these (kind, id) subjects."""
    found: dict[tuple[str, str], Label] = {}
    by_kind: dict[str, list[str]] = {}
    for kind, subject_id in subjects:
        by_kind.setdefault(kind, []).append(subject_id)
    for kind, ids in by_kind.items():
        for start in range(0, len(ids), 500):
            query = select(Label).where(
                Label.source == source,
                Label.subject_kind == kind,
                Label.subject_id.in_(ids[start : start + 500]),
            )
            for row in session.scalars(query):
                found[(row.subject_kind, row.subject_id)] = row
    return found


def add_label(session: Session, row: Label) -> None:
    session.add(row)


def all_labels(session: Session) -> Sequence[Label]:
    return session.scalars(select(Label).order_by(Label.id)).all()


def count_labels(session: Session) -> dict[tuple[str, int], int]:
    """(source, label) -> count."""
    query = select(Label.source, Label.label, func.count()).group_by(Label.source, Label.label)
    return {(s, int(v)): int(n) for s, v, n in session.execute(query)}
