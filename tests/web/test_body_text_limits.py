"""Every text field of every write endpoint's body has a length limit (``maxLength`` in the
OpenAPI document), and the limit is enforced: limit + 1 characters is a 422 naming the
field. The bodies are found by walking the app's routes, so a new endpoint is covered."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from sqlalchemy import create_engine

from riskops.contact import schemas as contact_schemas
from riskops.http.bodies import decode_json
from riskops.intake import schemas as intake
from riskops.kernel.config import Settings
from riskops.kernel.errors import ValidationFailed
from riskops.web.app import create_app
from riskops.web.deps import Container

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi import FastAPI

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _app(tmp: Path) -> FastAPI:
    container = Container(Settings(data_dir=tmp), create_engine("sqlite://"))
    return create_app(container, start_background=False)


def _body_type(route: APIRoute) -> type[msgspec.Struct] | None:
    """The Struct a route's ``msgspec_body`` dependency decodes, if it has one."""
    for dependency in route.dependant.dependencies:
        for cell in getattr(dependency.call, "__closure__", None) or ():
            kind = cell.cell_contents
            if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
                return kind
    return None


def _texts(info: mi.Type, path: str) -> Iterator[tuple[str, mi.StrType]]:
    """(JSON path, type) of every text field under ``info``; arrays by their first item.
    Dates, times, enums and literals are bounded by their form, not listed."""
    if isinstance(info, mi.StrType):
        yield path, info
    elif isinstance(info, mi.UnionType):
        for branch in info.types:
            yield from _texts(branch, path)
    elif isinstance(info, mi.StructType):
        for field in info.fields:
            yield from _texts(field.type, f"{path}.{field.encode_name}")
    elif isinstance(info, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        yield from _texts(info.item_type, f"{path}[0]")


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) of every API route, through included routers."""
    for route in routes:
        if hasattr(route, "original_router"):  # an included router (FastAPI >= 0.16x)
            inner = route.original_router.routes
            yield from _routes(inner, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route


BODIES: set[str] = set()  # every write route whose body a walk below found


def _cases(tmp: Path) -> list[tuple[str, type[msgspec.Struct], str, mi.StrType]]:
    found = []
    for where, route in _routes(list(_app(tmp).routes)):
        if not (route.methods or set()) & WRITES:
            continue
        kind = _body_type(route)
        if kind is None:
            continue
        BODIES.add(f"{sorted(route.methods or ())[0]} {where}")
        for path, text in _texts(mi.type_info(kind), "$"):
            found.append((f"{sorted(route.methods or ())[0]} {where}", kind, path, text))
    return found


CASES = _cases(Path("/nonexistent-riskops-data"))


def test_the_walk_finds_the_write_bodies() -> None:
    routes = {route for route, *_ in CASES}
    assert {"POST /v1/cases/{case_id}/decisions", "POST /v1/holds/{hold_id}/release"} <= routes
    assert len(CASES) >= 20


@pytest.mark.parametrize(
    ("route", "kind", "path", "text"), CASES, ids=[f"{c[0]} {c[2]}" for c in CASES]
)
def test_each_text_field_is_bounded_and_the_bound_holds(
    route: str, kind: type[msgspec.Struct], path: str, text: mi.StrType
) -> None:
    limit = text.max_length
    assert limit is not None, f"{route}: {path} has no length limit"
    with pytest.raises(ValidationFailed) as refused:
        decode_json(_body(path, "x" * (limit + 1)), kind)
    assert path in {d["field"] for d in refused.value.details}, refused.value.details


def _pydantic_routes(tmp: Path) -> list[tuple[str, type[BaseModel], str, dict[str, Any]]]:
    """(route, model, JSON path, schema) of every string of a pydantic-bodied write route."""
    found = []
    for where, route in _routes(list(_app(tmp).routes)):
        if not (route.methods or set()) & WRITES:
            continue
        for param in route.dependant.body_params:
            model = param.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                BODIES.add(f"{sorted(route.methods or ())[0]} {where}")
                schema = model.model_json_schema()
                for path, text in _schema_texts(schema, schema.get("$defs", {}), "$"):
                    found.append((f"{sorted(route.methods or ())[0]} {where}", model, path, text))
    return found


def _schema_texts(
    schema: dict[str, Any], defs: dict[str, Any], path: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    while "$ref" in schema:
        schema = defs[schema["$ref"].split("/")[-1]]
    for branch in schema.get("anyOf", []):
        yield from _schema_texts(branch, defs, path)
    if schema.get("type") == "string" and "enum" not in schema and "format" not in schema:
        yield path, schema
    for name, prop in schema.get("properties", {}).items():
        yield from _schema_texts(prop, defs, f"{path}.{name}")
    if schema.get("type") == "array" and "items" in schema:
        yield from _schema_texts(schema["items"], defs, f"{path}[0]")


PYDANTIC = _pydantic_routes(Path("/nonexistent-riskops-data"))


def test_the_walk_finds_the_pydantic_bodies() -> None:
    routes = {route for route, *_ in PYDANTIC}
    assert {"POST /v1/users", "POST /v1/tokens", "POST /v1/auth/login"} <= routes


@pytest.mark.parametrize(
    ("route", "model", "path", "text"), PYDANTIC, ids=[f"{c[0]} {c[2]}" for c in PYDANTIC]
)
def test_each_pydantic_text_field_is_bounded_and_the_bound_holds(
    route: str, model: type[BaseModel], path: str, text: dict[str, Any]
) -> None:
    limit = text.get("maxLength")
    assert isinstance(limit, int), f"{route}: {path} has no length limit"
    with pytest.raises(ValidationError) as refused:
        model.model_validate_json(_body(path, "x" * (limit + 1)))
    too_long = {
        _json_path(e["loc"]) for e in refused.value.errors() if e["type"] == "string_too_long"
    }
    assert path in too_long, refused.value.errors()


# The intake's provider bodies are read raw (a signature covers the bytes) and decoded by
# ``intake.schemas.decode``, not by a dependency the walk can see: named here, and the
# coverage test below fails if another write body escapes all three lists.
INTAKE_BODIES = {
    "POST /v1/signals/sms": intake.SmsSignal,
    "POST /v1/service-requests": intake.ServiceRequestIn,
    "POST /v1/contact/sms-inbound": contact_schemas.SmsInbound,
}
INTAKE = [
    (route, kind, path, text)
    for route, kind in INTAKE_BODIES.items()
    for path, text in _texts(mi.type_info(kind), "$")
]
# Events (POST /v1/events, POST /v1/decisions) are bounded field by field by
# ``kernel.bounds`` in the event schema (tests/events/test_bounds.py).
EVENT_BODIES = {"POST /v1/events", "POST /v1/decisions"}


def test_every_write_body_of_the_openapi_document_is_walked() -> None:
    document = _app(Path("/nonexistent-riskops-data")).openapi()
    with_body = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    }
    walked = BODIES | set(INTAKE_BODIES)
    assert with_body - walked - EVENT_BODIES == set()


@pytest.mark.parametrize(
    ("route", "kind", "path", "text"), INTAKE, ids=[f"{c[0]} {c[2]}" for c in INTAKE]
)
def test_each_intake_text_field_is_bounded_and_the_bound_holds(
    route: str, kind: type[msgspec.Struct], path: str, text: mi.StrType
) -> None:
    limit = text.max_length
    assert limit is not None, f"{route}: {path} has no length limit"
    refused = intake.decode(_body(path, "x" * (limit + 1)), kind)
    assert isinstance(refused, list)
    assert path in {e.field for e in refused}, refused


def _json_path(loc: tuple[int | str, ...]) -> str:
    return "$" + "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in loc)


def _body(path: str, value: str) -> bytes:
    """A body holding only ``value`` at ``path`` (``$.note.summary``, ``$.scopes[0]``):
    msgspec refuses the long string where it reads it, before it misses other fields."""
    node: Any = value
    for step in reversed(path.removeprefix("$.").split(".")):
        name, _, index = step.partition("[")
        node = {name: [node] if index else node}
    return msgspec.json.encode(node)
