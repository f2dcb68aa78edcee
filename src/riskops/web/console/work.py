"""Where the work is: the queue overview, my work, a queue's cases, take next (search:
``riskops.web.console.search``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from riskops.auth.permissions import Permission, Principal
from riskops.cases import service as cases
from riskops.cases.models import Case, CaseStatus
from riskops.http.deps import DbSession
from riskops.kernel.errors import ValidationFailed
from riskops.web.console.routing import ConsoleRoute, PageUser, see_other
from riskops.web.console.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 50
STATUS_FILTERS = [("", "All open"), *[(s.value, s.value.replace("_", " ")) for s in CaseStatus]]


def assignee_names(
    session: Session, principal: Principal, case_list: Sequence[Case]
) -> dict[int, str]:
    """Display names of the assignees of a page of cases, in one query (no N+1)."""
    ids = {c.assignee_id for c in case_list if c.assignee_id is not None}
    return cases.user_names(session, principal, ids)


def _overview_context(db: Session, principal: Principal) -> dict[str, Any]:
    stats = cases.queue_overview(db, principal)
    return {
        "stats": stats,
        "totals": {
            "open": sum(s.open for s in stats),
            "unassigned": sum(s.unassigned for s in stats),
            "breached": sum(s.breached for s in stats),
            "due_soon": sum(s.due_soon for s in stats),
        },
        "can_work": principal.can(Permission.CASE_WORK),
    }


@router.get("/")
def overview(request: Request, db: DbSession, user: PageUser, empty: str = "") -> Response:
    """Queue health: open, unassigned, oldest, SLA breaches, due soon; refreshes every 30 s."""
    context = {**_overview_context(db, user.principal), "nav": "overview"}
    if empty:
        context["flash"] = "No cases waiting — the queue is clear."
        context["flash_kind"] = "info"
    return render(request, "overview.html", context)


@router.get("/overview/table")
def overview_table(request: Request, db: DbSession, user: PageUser) -> Response:
    """The overview table alone (htmx polls it)."""
    return render(request, "_overview_table.html", _overview_context(db, user.principal))


@router.post("/take-next")
def take_next(
    request: Request,
    db: DbSession,
    user: PageUser,
    queue: Annotated[str, Form()] = "",
) -> Response:
    """Assign me the highest-priority waiting case (of one queue, or of my shift's queues)
    and open it; if nothing waits, say so."""
    case = cases.take_next(db, user.principal, [queue] if queue else None)
    if case is None:
        target = f"/queues/{queue}?empty=1" if queue else "/?empty=1"
        return see_other(target, request)
    return see_other(f"/cases/{case.id}", request)


@router.get("/my")
def my_work(request: Request, db: DbSession, user: PageUser) -> Response:
    """My open cases, by priority, each with its live SLA timer."""
    mine = cases.my_cases(db, user.principal)
    context = {"cases": mine, "nav": "my", "can_work": user.principal.can(Permission.CASE_WORK)}
    return render(request, "my.html", context)


def _after(cursor: str | None) -> tuple[int, datetime, int] | None:
    """``priority|due_at|id`` of the last case of the previous page (keyset paging)."""
    if not cursor:
        return None
    try:
        p, due, cid = cursor.split("|")
        return int(p), datetime.fromisoformat(due), int(cid)
    except ValueError:
        raise ValidationFailed("that page link is broken; start from the first page") from None


def _cursor(case: Case) -> str:
    return f"{case.priority}|{case.due_at.isoformat()}|{case.id}"


@router.get("/queues/{key}")
def queue_page(
    request: Request,
    key: str,
    db: DbSession,
    user: PageUser,
    status: str = "",
    unassigned: bool = False,
    q: Annotated[str, Query(max_length=128)] = "",
    after: str | None = None,
    empty: str = "",
) -> Response:
    """A queue's open cases by priority then time left; filter by status or unassigned,
    search by account or case id, page with "Next"."""
    q = q.strip()
    statuses = None
    if unassigned:
        statuses = [CaseStatus.NEW]
    elif status:
        try:
            statuses = [CaseStatus(status)]
        except ValueError:
            raise ValidationFailed(f"unknown status {status!r}") from None
    queue = next((s for s in cases.queue_overview(db, user.principal) if s.key == key), None)
    if q:
        found = cases.search_cases(db, user.principal, account_id=q)
        if q.lstrip("#").isdigit():
            found += cases.search_cases(db, user.principal, case_id=int(q.lstrip("#")))
        page, has_more = found[:PAGE], False
    else:
        rows = cases.list_queue_cases(
            db, user.principal, key, statuses=statuses, limit=PAGE + 1, after=_after(after)
        )
        page, has_more = rows[:PAGE], len(rows) > PAGE
    context = {
        "queue": queue,
        "key": key,
        "cases": page,
        "names": assignee_names(db, user.principal, page),
        "next_cursor": _cursor(page[-1]) if has_more and page else None,
        "paged": after is not None,
        "status": status,
        "unassigned": unassigned,
        "q": q,
        "status_filters": STATUS_FILTERS,
        "can_work": user.principal.can(Permission.CASE_WORK),
    }
    if empty:
        context["flash"], context["flash_kind"] = "No cases waiting — the queue is clear.", "info"
    return render(request, "queue.html", context)
