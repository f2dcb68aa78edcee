"""The workbench's view of the model registry (``riskops.learn.registry``).

Models live in learn's registry, with the rules' life (draft -> shadow -> live -> retired);
the workbench lists their versions and, on an approved request, moves one through the
registry's one door, ``set_status``, as the approver.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from riskops.auth.permissions import Principal
from riskops.learn import registry
from riskops.learn.registry import ModelVersionView


def page(session: Session, limit: int, offset: int = 0) -> tuple[list[ModelVersionView], int]:
    """One page of model versions (by model, newest version first) and how many there are."""
    return registry.list_models(session, limit=limit, offset=offset), registry.count_models(session)


def version_status(session: Session, model_id: str, version: int) -> str:
    """The status of a model version; NotFound when there is none."""
    return registry.get_version(session, model_id, version).status


def set_status(
    session: Session, principal: Principal, model_id: str, version: int, status: str, why: str
) -> None:
    registry.set_status(session, principal, model_id, version, status, why)
