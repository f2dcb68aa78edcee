"""HTTP API of the events package: ``POST /v1/events`` and the dead-letter listing.

The body is read raw and decoded with msgspec (no pydantic model on the hot path); the
OpenAPI description of the body comes from ``openapi_extra``. Ingestion does not know the
monitor: the monitor tails the event log by ``seq`` on its own.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import msgspec.inspect
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from riskops.auth.http import requires
from riskops.auth.permissions import Permission, Principal
from riskops.events import adapters, service
from riskops.events.models import Source
from riskops.events.schemas import EVENT_TYPES, AnyEvent, bounded_fields
from riskops.http.bodies import read_body
from riskops.http.deps import AppState, DbSession, container
from riskops.http.openapi import errors, rules, schema_of
from riskops.http.params import Limit, Offset, RowIdPath

router = APIRouter(prefix="/v1", tags=["events"])
NDJSON = "application/x-ndjson"


class FieldErrorOut(BaseModel):
    field: str
    reason: str


class RejectedOut(BaseModel):
    index: int
    event_id: str | None
    errors: list[FieldErrorOut]


class IngestOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[RejectedOut]
    first_seq: int | None
    last_seq: int | None


class DeadLetterOut(BaseModel):
    id: int
    received_at: str
    source: str
    source_name: str | None
    source_row: int | None
    event_id: str | None
    reason: str
    errors: list[FieldErrorOut]
    raw: str = Field(description="the input as text (U+FFFD where its bytes are not UTF-8)")
    raw_base64: str | None = Field(
        description="the input's exact bytes, base64, when they are not UTF-8 text (else null)"
    )
    replayed: bool = Field(
        default=False, description="replayed after a fix (``POST .../replay``; audited)"
    )


class DeadLetterPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[DeadLetterOut]


_EVENT_SCHEMA = schema_of(AnyEvent)
_BOUND_RULES = {
    "identifier": "an identifier: not blank, no control or invisible character, not too long",
    "text": "no control character",
    "ip": "an IPv4 or IPv6 address",
    "time": "not before the earliest accepted time, nor further ahead than the clock skew",
    "birth_date": "a plausible date of birth",
    "amount": "positive, within the precision and the ceiling",
    "usd": "positive, within the precision and the ceiling",
}


def bound_rules(*structs: type[Any]) -> dict[str, Any]:
    """``openapi_extra`` naming each bounded field of ``structs`` (``riskops.kernel.bounds``):
    what their JSON schema cannot state, refused with a 422 (or a ``rejected`` item)."""
    found = {
        (f"$.{wire_name}", _BOUND_RULES[bound])
        for cls in structs
        for _, wire_name, bound in bounded_fields(cls)
    }
    # Events are decoded strictly (events.validation, the hot path): an integer written as
    # 1.0 is refused naming its field, which JSON Schema's "integer" cannot say.
    found |= {
        (f"$.{field.encode_name}", "an integer written without a fraction (1, not 1.0)")
        for cls in structs
        for field in msgspec.structs.fields(cls)
        if _is_int(field.type)
    }
    # A list of structs (beneficial owners) is refused naming the list for its items' bounds.
    found |= {
        (f"$.{field.encode_name}", "each item within the bounds of its fields")
        for cls in structs
        for field in msgspec.structs.fields(cls)
        if any(bounded_fields(inner) for inner in _structs_in(field.type))
    }
    return rules(*sorted(found))


def _structs_in(kind: Any) -> list[type[Any]]:
    info = msgspec.inspect.type_info(kind)
    members = info.types if isinstance(info, msgspec.inspect.UnionType) else (info,)
    found = []
    for member in members:
        item = getattr(member, "item_type", member)
        if isinstance(item, msgspec.inspect.StructType):
            found.append(item.cls)
    return found


def _is_int(kind: Any) -> bool:
    info = msgspec.inspect.type_info(kind)
    if isinstance(info, msgspec.inspect.UnionType):
        return any(isinstance(t, msgspec.inspect.IntType) for t in info.types)
    return isinstance(info, msgspec.inspect.IntType)


def event_rules() -> dict[str, Any]:
    """``bound_rules`` of every event type."""
    return bound_rules(*EVENT_TYPES.values())


# Any body is answered 202: what is not an event (or not JSON) is refused item by item in
# `rejected` and dead-lettered, so the document promises no more than that of the body.
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One event, or a JSON array of events (each an `AnyEvent`); an item "
        "that is not one is listed in `rejected` with its reasons, and kept.",
        "content": {
            "application/json": {"schema": {}},
            NDJSON: {"schema": {"type": "string", "description": "one JSON event per line"}},
        },
    },
    "x-riskops-item-schema": _EVENT_SCHEMA,
    # 503: the event log's append lock stayed taken past its limit (``Busy``, ADR 0017)
    "responses": errors(413, 503),
}


@router.post("/events", status_code=202, response_model=IngestOut, openapi_extra=_BODY_DOC)
async def post_events(
    request: Request,
    session: DbSession,
    box: Annotated[AppState, Depends(container)],
    _who: Principal = requires(Permission.EVENT_INGEST),
) -> dict[str, Any]:
    """Ingest one event, a JSON array of events, or NDJSON (``application/x-ndjson``).

    Idempotent on ``event_id``: a replay with the same content counts as a duplicate. Every
    refused event is listed with field-level reasons and kept in the dead-letter store.
    A 202 means the accepted events are durably stored in the event log.
    Needs an API token with the ``event:ingest`` scope.
    """
    settings = box.settings
    body = await read_body(request, settings.max_body_bytes)
    ndjson = request.headers.get("content-type", "").startswith(NDJSON)
    results = adapters.parse_body(body, ndjson=ndjson, max_event_bytes=settings.max_event_bytes)
    report = await run_in_threadpool(
        service.ingest, session, [(None, r) for r in results], source=Source.HTTP.value
    )
    return {
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "rejected": [
            {
                "index": r.index,
                "event_id": r.event_id,
                "errors": [{"field": e.field, "reason": e.reason} for e in r.errors],
            }
            for r in report.rejected
        ],
        "first_seq": report.first_seq,
        "last_seq": report.last_seq,
    }


@router.get("/dead-letters", response_model=DeadLetterPage)
def get_dead_letters(
    session: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
    source: Annotated[Source | None, Query()] = None,
    who: Principal = requires(Permission.DEAD_LETTER_VIEW),
) -> dict[str, Any]:
    """Refused input, newest first, with the reasons and the raw payload (audited)."""
    items, total = service.dead_letters(
        session, who, limit=limit, offset=offset, source=source.value if source else None
    )
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "items": service.with_replayed(session, [service.dead_letter_view(d) for d in items]),
    }


@router.get("/dead-letters/{dead_letter_id}", response_model=DeadLetterOut)
def get_dead_letter(
    dead_letter_id: RowIdPath,
    session: DbSession,
    who: Principal = requires(Permission.DEAD_LETTER_VIEW),
) -> dict[str, Any]:
    """One dead letter, with its raw payload (audited)."""
    view = service.dead_letter_view(service.dead_letter(session, who, dead_letter_id))
    return service.with_replayed(session, [view])[0]


def include(app: FastAPI) -> None:
    """Add the events routes to the app."""
    app.include_router(router)
