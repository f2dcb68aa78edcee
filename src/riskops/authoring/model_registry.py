"""The model registry of ``riskops.learn``, when it is there.

The workbench lists models and promotes their versions through the registry's own functions
(``list_models``, ``get_version``, ``set_status``). The registry is built beside this
package; until it lands (or in an install without it) the workbench says "no models yet",
so it is looked up at run time rather than imported.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from sqlalchemy.orm import Session

from riskops.auth.permissions import Principal
from riskops.kernel.errors import NotFound

MODULE = "riskops.learn.registry"


def registry() -> ModuleType | None:
    """``riskops.learn.registry`` if it exists and has the functions the workbench calls."""
    try:
        module = importlib.import_module(MODULE)
    except ModuleNotFoundError:
        return None
    needed = ("list_models", "get_version", "set_status")
    return module if all(hasattr(module, name) for name in needed) else None


def _field(row: Any, *names: str) -> Any:
    for name in names:
        if isinstance(row, dict) and name in row:
            return row[name]
        if hasattr(row, name):
            return getattr(row, name)
    return None


def list_models(session: Session) -> list[dict[str, Any]]:
    """Every model version as {model_id, version, status, created_at, metrics}; [] without a
    registry."""
    module = registry()
    if module is None:
        return []
    out: list[dict[str, Any]] = []
    for row in module.list_models(session):
        versions = _field(row, "versions")
        for item in versions if isinstance(versions, list | tuple) else [row]:
            out.append(
                {
                    "model_id": str(_field(item, "model_id", "name") or _field(row, "model_id")),
                    "version": int(_field(item, "version") or 0),
                    "status": str(getattr(_field(item, "status"), "value", _field(item, "status"))),
                    "created_at": _field(item, "created_at", "trained_at"),
                    "metrics": _field(item, "metrics") or {},
                }
            )
    return out


def version_status(session: Session, model_id: str, version: int) -> str:
    """The status of a model version; NotFound when there is none (or no registry)."""
    module = registry()
    found = module.get_version(session, model_id, version) if module is not None else None
    if found is None:
        raise NotFound(f"model {model_id} has no version {version}")
    status = _field(found, "status")
    return str(getattr(status, "value", status))


def set_status(
    session: Session, principal: Principal, model_id: str, version: int, status: str, why: str
) -> None:
    module = registry()
    if module is None:
        raise NotFound("no model registry in this installation")
    module.set_status(session, principal, model_id, version, status, why)
