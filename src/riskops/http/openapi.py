"""The OpenAPI document, true to what the app answers (checked by a schemathesis run in
``make test``, ``tests/web/test_openapi_conformance.py``; ADR 0020).

- msgspec types: hot-path endpoints decode with msgspec, not pydantic models, yet their
  bodies and responses are documented from the same types that validate them.
- Errors, in one place: every error answer is ``{error, message, details?}`` (``Error``),
  whoever raised it. ``install`` documents the ones every operation of a kind can give (401
  and 403 where a caller must authenticate, 404 where the path names something, 422 where
  there is input to refuse), and replaces FastAPI's own validation-error shape, which
  riskops never sends. A route declares the others it gives with ``errors(409, ...)``.
"""

from __future__ import annotations

from typing import Any

import msgspec
import msgspec.inspect
from fastapi import FastAPI

_REF = "#/components/schemas/{name}"
_COMPONENTS: dict[str, Any] = {}
_METHODS = frozenset({"get", "put", "post", "patch", "delete", "head", "options", "trace"})

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "a stable code: `not_found`, ..."},
        "message": {"type": "string", "description": "what went wrong, for a person"},
        "details": {"description": "more, when there is more: for 422, `[{field, reason}, ...]`"},
    },
}
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": _REF.format(name="Error")}}}
ERRORS: dict[int, str] = {
    400: "The request cannot be read.",
    401: "Not authenticated: no session or API token, or one unknown, expired or revoked.",
    403: "Not allowed: the role or token scope lacks the permission, the CSRF token is "
    "missing or wrong, or four-eyes asks for someone else.",
    404: "Nothing with that id.",
    409: "The state changed meanwhile, or the action does not apply to it now.",
    413: "The body is over the size limit.",
    422: "Invalid input; `details` names each bad field with a reason.",
    503: "Busy or unavailable for now; the same request can be sent again shortly.",
}


# What riskops refuses in any text, written as the patterns the document gives each string
# (``riskops.kernel.bounds``): no control character in a URL (``web.guard``, 400), none but
# tab, line feed and carriage return in a JSON body (422).
URL_TEXT = "^[^\\x00-\\x1f\\x7f-\\x9f]*$"
BODY_TEXT = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$"
RULES = "x-riskops-rules"


def rules(*found: tuple[str, str]) -> dict[str, Any]:
    """``openapi_extra`` naming the rules on an operation's input that a JSON schema cannot
    state (one field against another, a window around the current time): ``(field, rule)``,
    e.g. ``("$.occurred_at", "within the plausible window")``. A valid-looking request that
    breaks one is answered 422 naming that field."""
    return {RULES: [{"field": field, "rule": rule} for field, rule in found]}


# An account id in a path: the bounds every account id has (``kernel.bounds``), which a
# JSON schema pattern cannot state whole (invisible characters, padding).
ACCOUNT_ID_RULE = (
    "account_id",
    "an account id as events name one: not blank, no padding, no control"
    " or invisible character, at most RISKOPS_MAX_IDENTIFIER_LENGTH characters",
)


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The errors a route gives beyond the standard ones, for ``responses=`` (or under
    ``"responses"`` of ``openapi_extra``)."""
    return {str(c): {"description": ERRORS[c], "content": _ERROR_CONTENT} for c in codes}


def schema_of(kind: Any) -> dict[str, Any]:
    """The JSON schema of a msgspec type, its components registered for ``install``.

    Two things msgspec's schema leaves untrue are put right here, for every type: a
    ``datetime`` field is documented as ``format: date-time`` (msgspec 0.22 says only
    "string", yet refuses anything but RFC 3339), and two structs of one name in different
    domains (``CommentIn`` of cases and of accounts) become two components, not one that
    overwrites the other.
    """
    (schema,), components = msgspec.json.schema_components((kind,), ref_template=_REF)
    _mark_datetimes(kind, components)
    renames = {
        name: _free_name(name, kind, component)
        for name, component in components.items()
        if name in _COMPONENTS and _COMPONENTS[name] != component
    }
    if renames:
        text = msgspec.json.encode([schema, components]).decode()
        for old, new in renames.items():
            text = text.replace(f'"{_REF.format(name=old)}"', f'"{_REF.format(name=new)}"')
        schema, components = msgspec.json.decode(text)
        components = {renames.get(name, name): value for name, value in components.items()}
    _COMPONENTS.update(components)
    return schema


def _free_name(name: str, kind: Any, component: Any) -> str:
    """A name for ``component`` that no other component has: the domain's name first
    (``CasesCommentIn``), or the one it was given before."""
    domain = getattr(kind, "__module__", "").split(".")
    candidate = (domain[1].title() if len(domain) > 1 else "") + name
    n = 2
    while _COMPONENTS.get(candidate, component) != component:
        candidate = f"{name}{n}"
        n += 1
    return candidate


def _mark_datetimes(kind: Any, components: dict[str, Any]) -> None:
    seen: set[type] = set()

    def walk(info: Any) -> None:
        if isinstance(info, msgspec.inspect.StructType):
            if info.cls in seen:
                return
            seen.add(info.cls)
            properties = components.get(info.cls.__name__, {}).get("properties", {})
            for field in info.fields:
                if _is_datetime(field.type) and field.encode_name in properties:
                    _set_format(properties[field.encode_name])
                walk(field.type)
        elif isinstance(info, msgspec.inspect.UnionType):
            for member in info.types:
                walk(member)
        elif isinstance(info, (msgspec.inspect.ListType, msgspec.inspect.DictType)):
            walk(getattr(info, "item_type", None) or getattr(info, "value_type", None))

    walk(msgspec.inspect.type_info(kind))


def _is_datetime(info: Any) -> bool:
    if isinstance(info, msgspec.inspect.UnionType):
        return any(_is_datetime(member) for member in info.types)
    return isinstance(info, msgspec.inspect.DateTimeType)


def _set_format(node: dict[str, Any]) -> None:
    if node.get("type") == "string":
        node["format"] = "date-time"
    for member in node.get("anyOf", []):
        _set_format(member)


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
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, component in _COMPONENTS.items():
                # A msgspec type named like one of FastAPI's (a pydantic model, an enum in
                # a query) would silently replace it, and every operation naming the other
                # would be documented wrong: refuse to build such a document.
                if components.setdefault(name, component) != component:
                    raise RuntimeError(f"two OpenAPI components are named {name!r}: rename one")
            components["Error"] = ERROR_SCHEMA
            # FastAPI's validation error shapes: riskops never answers with them.
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            bounded: set[str] = set()
            for path, item in schema.get("paths", {}).items():
                for method, operation in item.items():
                    if method in _METHODS:
                        _document_errors(path, operation)
                        _bound_text(operation, components, bounded)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_errors(path: str, operation: dict[str, Any]) -> None:
    """The errors any operation of its kind gives, each with the one error body."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    codes = [400]  # every request's URL is checked first (web.guard)
    if operation.get("security"):
        codes += [401, 403]
    if "{" in path:
        codes.append(404)
    if operation.get("parameters") or operation.get("requestBody"):
        codes.append(422)
    for code in codes:
        responses.setdefault(str(code), {"description": ERRORS[code]})
    for status, response in responses.items():
        # Every error answer has the one shape; a route that documents its own keeps it.
        content = response.get("content", {}).get("application/json", {})
        if str(status)[0] in "45" and (not content or "ValidationError" in str(content)):
            response["content"] = _ERROR_CONTENT


def _bound_text(operation: dict[str, Any], components: dict[str, Any], done: set[str]) -> None:
    """Give every string of the operation's input the pattern of what riskops accepts."""
    for parameter in operation.get("parameters", []):
        _bound(parameter.get("schema", {}), URL_TEXT, components, done)
    for content in operation.get("requestBody", {}).get("content", {}).values():
        _bound(content.get("schema", {}), BODY_TEXT, components, done)


def _bound(node: Any, pattern: str, components: dict[str, Any], done: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _bound(item, pattern, components, done)
        return
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        if name not in done and name in components:
            done.add(name)
            _bound(components[name], pattern, components, done)
        return
    if node.get("type") == "string" and "pattern" not in node and "enum" not in node:
        node["pattern"] = pattern
    if node.get("type") == "object" and node.get("additionalProperties") not in (None, False):
        node.setdefault("propertyNames", {"pattern": pattern})
    for key in ("properties", "$defs"):
        for child in node.get(key, {}).values():
            _bound(child, pattern, components, done)
    for key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "prefixItems"):
        if key in node:
            _bound(node[key], pattern, components, done)
