"""OpenAPI for msgspec types: hot-path endpoints decode with msgspec, not pydantic models,
yet their bodies and responses are documented from the same types that validate them."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import FastAPI

_REF = "#/components/schemas/{name}"
_COMPONENTS: dict[str, Any] = {}


def schema_of(kind: Any) -> dict[str, Any]:
    """The JSON schema of a msgspec type, its components registered for ``install``."""
    (schema,), components = msgspec.json.schema_components((kind,), ref_template=_REF)
    _COMPONENTS.update(components)
    return schema


def json_body(kind: Any, description: str) -> dict[str, Any]:
    """``openapi_extra`` for an endpoint whose JSON body is ``kind``."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema_of(kind)}},
        }
    }


def install(app: FastAPI) -> None:
    """Add the registered msgspec components to the app's OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()  # FastAPI builds once and caches it in app.openapi_schema
            schema.setdefault("components", {}).setdefault("schemas", {}).update(_COMPONENTS)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
