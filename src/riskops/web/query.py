"""A query parameter the route takes once is refused when it is sent more than once.

Starlette keeps every value of a repeated key and FastAPI hands a scalar parameter the
last one, so ``?actor=a&actor=b`` was read as ``actor=b``: a request the OpenAPI document
does not allow, answered as if it were another (found by the schemathesis run, ADR 0020).
A parameter declared as a list (``?status=a&status=b``) still takes every value.
"""

from __future__ import annotations

import typing
from typing import Any

from fastapi import Request

from riskops.kernel.errors import ValidationFailed

_SEQUENCES = (list, tuple, set, frozenset)
_scalars: dict[int, frozenset[str]] = {}  # by route: what each route takes once


def _is_sequence(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in _SEQUENCES or annotation in _SEQUENCES:
        return True
    return any(_is_sequence(arg) for arg in typing.get_args(annotation))


def scalar_query_names(dependant: Any) -> frozenset[str]:
    """The query parameters a route (its dependencies included) takes one value of."""
    names: set[str] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        names.update(
            field.alias
            for field in current.query_params
            if not _is_sequence(field.field_info.annotation)
        )
        stack.extend(current.dependencies)
    return frozenset(names)


async def single_valued_query(request: Request) -> None:
    """Dependency of every route: 422 naming each scalar parameter given more than once."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.url.query:
        return
    names = _scalars.get(id(route))
    if names is None:
        names = _scalars[id(route)] = scalar_query_names(dependant)
    repeated = sorted(n for n in names if len(request.query_params.getlist(n)) > 1)
    if repeated:
        details = [{"field": f"query.{n}", "reason": "given more than once"} for n in repeated]
        raise ValidationFailed("invalid request", details=details)
