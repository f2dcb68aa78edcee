"""The request parameters every route shares: ids, offsets and pages, and bounded text.

A path id or query offset is a database integer: 2**63 or more would overflow the column
(a 500 from the driver), a negative one names nothing. Every route takes its ids and
offsets as these types, so the bounds are one definition (``riskops.kernel.bounds``) and a
test walks every route to prove no integer parameter is left unbounded (ADR 0015).
Pydantic bodies take text as ``Name``/``ShortText``/``LongText``: bounded in length, and
without the control characters no text column may receive.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, StringConstraints

from riskops.kernel.bounds import (
    LONG_TEXT_CHARS,
    MAX_DB_INT,
    NAME_CHARS,
    SHORT_TEXT_CHARS,
    note_problem,
)

RowIdPath = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="a row id")]
"""A row id in the path (``/v1/cases/{case_id}``)."""
PositionPath = Annotated[int, Path(ge=0, le=MAX_DB_INT, description="a 0-based position")]
"""A position in the path (``/attachments/{position}``)."""
Offset = Annotated[int, Query(ge=0, le=MAX_DB_INT, description="rows to skip")]
"""How many rows a page skips."""
Limit = Annotated[int, Query(ge=1, le=500, description="rows in a page")]
"""How many rows a page holds."""
BeforeId = Annotated[int | None, Query(ge=1, le=MAX_DB_INT, description="older than this id")]
"""Keyset paging: rows with a smaller id."""
Page = Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number")]
"""A page number (its offset, page times page size, stays far below 2**63)."""


def _storable(value: str) -> str:
    reason = note_problem(value)
    if reason is not None:
        raise ValueError(reason)
    return value


Name = Annotated[str, StringConstraints(max_length=NAME_CHARS), AfterValidator(_storable)]
"""A name, a title, a key (pydantic bodies)."""
ShortText = Annotated[
    str, StringConstraints(max_length=SHORT_TEXT_CHARS), AfterValidator(_storable)
]
"""A reason, a subject, a search query (pydantic bodies)."""
LongText = Annotated[str, StringConstraints(max_length=LONG_TEXT_CHARS), AfterValidator(_storable)]
"""A note, a comment, a description (pydantic bodies)."""
