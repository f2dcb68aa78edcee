"""The model registry: trained versions and their life, draft -> shadow -> live -> retired.

A model id (``aml``) has numbered versions; each holds its whole artifact (model text,
calibration, feature names, threshold: ``riskops.learn.model.Artifact``), the training data's
span (first and last event time), its metrics (precision, recall, F1 on validation and test,
label counts), who trained it and when. The life is the rules' (``riskops.rules.service
.check_transition`` decides which moves are allowed): a model has at most one live and one
shadow version, the one replaced retires, and a retired version may come back (a rollback).

The service functions (for the CLI and the console's workbench):

- ``register(session, principal, model_id, trained)``: a new version lands as a draft
  (needs ``rule:author``; audited ``model.train``).
- ``list_models(session, model_id=None, limit=50, offset=0) -> list[ModelVersionView]``:
  one page of versions, newest first per model (no artifacts).
- ``get_version(session, model_id, version) -> ModelVersionView`` (404 when unknown).
- ``history(session, model_id, version) -> list[ModelEventView]``: who moved it, why.
- ``set_status(session, principal, model_id, version, status, why)``: **the one door** of
  every status change, promotion and rollback alike (a rollback is ``live`` again for a
  retired version). Needs ``rule:promote``, a reason, an allowed transition; appends a
  ``model_events`` row and an audit entry ``model.status``. The workbench wraps it in its
  four-eyes request/approve flow; the CLI calls it as the named operator.
- ``running(session) -> list[RunningModel]``: the live and shadow versions with their
  artifacts, what the monitor loads; ``running_keys`` says cheaply whether that changed.

Services never commit: the caller's ``unit_of_work`` does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from riskops.audit.service import record
from riskops.auth.permissions import Permission, Principal, require
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import NotFound, ValidationFailed
from riskops.learn import repository as repo
from riskops.learn.models import ModelEvent, ModelVersion
from riskops.rules.service import check_transition
from riskops.rules.types import RuleStatus

ModelStatus = RuleStatus  # the same life, the same names
MAX_WHY = 2_000
MAX_PAGE = 200
MAX_ID = 48
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.")


class ModelVersionView(msgspec.Struct, frozen=True):
    """One version as lists and pages show it (no artifact)."""

    model_id: str
    version: int
    status: str
    trained_at: datetime
    trained_by: str
    span_first: datetime
    span_last: datetime
    metrics: dict[str, Any]
    threshold: float
    note: str


class ModelEventView(msgspec.Struct, frozen=True):
    model_id: str
    version: int
    from_status: str | None
    to_status: str
    at: datetime
    by: str
    why: str


class Trained(msgspec.Struct, frozen=True):
    """What training hands the registry."""

    artifact: bytes
    threshold: float
    span_first: datetime
    span_last: datetime
    metrics: dict[str, Any]
    note: str = ""


class RunningModel(msgspec.Struct, frozen=True):
    model_id: str
    version: int
    status: str  # live | shadow
    artifact: bytes


def view(row: ModelVersion) -> ModelVersionView:
    return ModelVersionView(
        model_id=row.model_id,
        version=row.version,
        status=row.status,
        trained_at=row.trained_at,
        trained_by=row.trained_by,
        span_first=row.span_first,
        span_last=row.span_last,
        metrics=dict(row.metrics),
        threshold=row.threshold,
        note=row.note,
    )


def check_model_id(model_id: str) -> str:
    """A model id: 1-48 of lower-case letters, digits, ``_-.`` (its hits' rule id,
    ``MODEL:<id>@<version>``, must fit the alerts' 64 characters)."""
    if not 1 <= len(model_id) <= MAX_ID or not set(model_id) <= _ID_CHARS:
        raise ValidationFailed(
            "invalid model id",
            details=[{"field": "model_id", "reason": f"1-{MAX_ID} of a-z, 0-9, _ - ."}],
        )
    return model_id


def register(
    session: Session,
    principal: Principal,
    model_id: str,
    trained: Trained,
    now: datetime | None = None,
) -> ModelVersionView:
    """Store a trained model as the next version of ``model_id``, a draft."""
    require(principal, Permission.RULE_AUTHOR)
    check_model_id(model_id)
    now = now or utcnow()
    version = repo.next_version(session, model_id)
    row = ModelVersion(
        model_id=model_id,
        version=version,
        status=ModelStatus.DRAFT.value,
        threshold=trained.threshold,
        span_first=trained.span_first,
        span_last=trained.span_last,
        metrics=trained.metrics,
        artifact=trained.artifact,
        trained_at=now,
        trained_by=principal.name,
        note=trained.note[:MAX_WHY],
    )
    repo.add_version(session, row)
    repo.add_event(
        session,
        ModelEvent(
            model_id=model_id,
            version=version,
            from_status=None,
            to_status=ModelStatus.DRAFT.value,
            at=now,
            by=principal.name,
            why="trained",
        ),
    )
    record(session, principal, "model.train", "model", f"{model_id}@{version}", now=now)
    session.flush()
    return view(row)


def list_models(
    session: Session, model_id: str | None = None, *, limit: int = 50, offset: int = 0
) -> list[ModelVersionView]:
    """One page of versions (at most ``MAX_PAGE``), by model id, newest version first."""
    limit = max(1, min(limit, MAX_PAGE))
    return [view(r) for r in repo.list_versions(session, model_id, limit, max(0, offset))]


def count_models(session: Session, model_id: str | None = None) -> int:
    return repo.count_versions(session, model_id)


def _row(
    session: Session, model_id: str, version: int, *, for_update: bool = False
) -> ModelVersion:
    row = repo.get_version(session, model_id, version, for_update=for_update)
    if row is None:
        raise NotFound(f"model {model_id} has no version {version}")
    return row


def get_version(session: Session, model_id: str, version: int) -> ModelVersionView:
    return view(_row(session, model_id, version))


def get_artifact(session: Session, model_id: str, version: int) -> bytes:
    return _row(session, model_id, version).artifact


def history(session: Session, model_id: str, version: int) -> list[ModelEventView]:
    _row(session, model_id, version)
    return [
        ModelEventView(e.model_id, e.version, e.from_status, e.to_status, e.at, e.by, e.why)
        for e in repo.events_of(session, model_id, version)
    ]


def _move(
    session: Session, row: ModelVersion, target: RuleStatus, by: str, why: str, now: datetime
) -> None:
    repo.add_event(
        session,
        ModelEvent(
            model_id=row.model_id,
            version=row.version,
            from_status=row.status,
            to_status=target.value,
            at=now,
            by=by,
            why=why,
        ),
    )
    row.status = target.value


def set_status(
    session: Session,
    principal: Principal,
    model_id: str,
    version: int,
    status: RuleStatus | str,
    why: str,
    now: datetime | None = None,
) -> ModelVersionView:
    """Move a version to ``status`` (the one door); the previous live (or shadow) retires."""
    require(principal, Permission.RULE_PROMOTE)
    try:
        target = RuleStatus(status)
    except ValueError:
        allowed = ", ".join(s.value for s in RuleStatus)
        raise ValidationFailed(
            "invalid status", details=[{"field": "status", "reason": f"one of {allowed}"}]
        ) from None
    why = why.strip()
    if not why or len(why) > MAX_WHY:
        raise ValidationFailed(
            "a reason is required",
            details=[{"field": "why", "reason": f"1-{MAX_WHY} characters"}],
        )
    row = _row(session, model_id, version, for_update=True)
    current = RuleStatus(row.status)
    check_transition(current, target)
    now = now or utcnow()
    if target in (RuleStatus.LIVE, RuleStatus.SHADOW):
        for other in repo.with_status(session, [target.value], model_id):
            if other.version != version:
                _move(
                    session,
                    other,
                    RuleStatus.RETIRED,
                    principal.name,
                    f"replaced by {version}",
                    now,
                )
    _move(session, row, target, principal.name, why, now)
    detail = {"from": current.value, "to": target.value, "why": why}
    record(session, principal, "model.status", "model", f"{model_id}@{version}", detail, now=now)
    session.flush()
    return view(row)


def rollback(
    session: Session, principal: Principal, model_id: str, version: int, why: str
) -> ModelVersionView:
    """Make an earlier (retired) version live again, through ``set_status``."""
    row = _row(session, model_id, version)
    if row.status != RuleStatus.RETIRED.value:
        raise ValidationFailed(
            f"only a retired version can be rolled back to (version {version} is {row.status})",
            details=[{"field": "version", "reason": "not retired"}],
        )
    return set_status(session, principal, model_id, version, RuleStatus.LIVE, why)


def running(session: Session) -> list[RunningModel]:
    """The live and shadow versions with their artifacts (what the monitor scores with)."""
    statuses = [RuleStatus.LIVE.value, RuleStatus.SHADOW.value]
    return [
        RunningModel(r.model_id, r.version, r.status, r.artifact)
        for r in repo.with_status(session, statuses)
    ]


def running_keys(session: Session) -> list[tuple[str, int, str]]:
    """(model id, version, status) of what runs: compared to notice a promotion."""
    return repo.running_keys(session)
