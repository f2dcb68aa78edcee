"""Jinja2 for the console: the environment, its filters, and the one ``render`` helper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from riskops.kernel.clock import utcnow

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
SOON = timedelta(minutes=15)

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
env = templates.env
env.autoescape = True
env.trim_blocks = True
env.lstrip_blocks = True


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it: the nearest end
        end = datetime.min if moment.year == 1 else datetime.max
        return end.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str:
    return _utc(moment).isoformat().replace("+00:00", "Z") if moment else ""


def dt(moment: datetime | None) -> str:
    return _utc(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def span(delta: timedelta) -> str:
    """``3d 4h``, ``2h 05m``, ``7m``: the coarse length of a duration."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return ""
    delta = (now or utcnow()) - _utc(moment)
    if delta < timedelta(0):
        return f"in {span(delta)}"
    if delta < timedelta(minutes=1):
        return "just now"
    return f"{span(delta)} ago"


# Stored numbers are bounded at the edge (riskops.kernel.bounds), but a page must still
# render a row stored before the bounds, or by a path that missed them: beyond these
# magnitudes a number is written in scientific notation, never as a page of digits.
_PLAIN_DIGITS = 24


def _number(value: Decimal | int | float | str) -> Decimal | None:
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None
    return number if number.is_finite() else None


def usd(value: Decimal | int | float | None) -> str:
    if value is None:
        return ""
    number = _number(value)
    if number is None:
        return "—"
    if number and not -_PLAIN_DIGITS < number.adjusted() < _PLAIN_DIGITS:
        return f"${number:.3E}"
    return f"${number:,.2f}"


def amount(value: Decimal | None) -> str:
    if value is None:
        return ""
    number = _number(value)
    if number is None:
        return "—"
    if number and not -_PLAIN_DIGITS < number.adjusted() < _PLAIN_DIGITS:
        return f"{number:.6E}"
    text = f"{number:,f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    # a float's exact binary expansion (0.1 is 55 digits): scientific past the limit too
    return f"{number:.6E}" if len(text) > 2 * _PLAIN_DIGITS else text


def sla_class(due_at: datetime, paused_at: datetime | None = None) -> str:
    if paused_at is not None:
        return "sla-paused"
    left = _utc(due_at) - utcnow()
    if left < timedelta(0):
        return "sla-breached"
    return "sla-soon" if left < SOON else "sla-ok"


def sla_text(due_at: datetime, paused_at: datetime | None = None) -> str:
    """The same words the countdown script writes, so the page reads right without JS."""
    if paused_at is not None:
        return "paused — waiting for customer"
    left = _utc(due_at) - utcnow()
    if left < timedelta(0):
        return f"BREACHED {span(left)} ago"
    return f"due soon: {span(left)} left" if left < SOON else f"{span(left)} left"


def minutes(value: int) -> str:
    """An SLA length: ``15 min``, ``4 h``, ``2 d``."""
    if value % 1440 == 0:
        return f"{value // 1440} d"
    if value % 60 == 0:
        return f"{value // 60} h"
    return f"{value} min"


def label(value: Any) -> str:
    return str(getattr(value, "value", value) or "").replace("_", " ")


env.filters.update(
    iso=iso, dt=dt, ago=ago, usd=usd, amount=amount, span=span, label=label, minutes=minutes
)
env.globals.update(sla_class=sla_class, sla_text=sla_text)


# ``?done=<key>`` after a redirect: what the user just did, confirmed in words.
DONE = {
    "lifted": "Restriction lifted.",
    "decided": "Decision recorded.",
    "proposed": "Proposed: the action now waits for a second person's approval.",
    "approved": "Approved: the action was carried out.",
    "refused": "Refused: the case went back to its analyst.",
    "account_refused": "Refused: nothing happens to the account.",
    "restricted": "Restriction in force.",
    "asked": "Asked: a full freeze or an offboarding waits for a second person's approval.",
    "assigned": "Case assigned.",
    "unassigned": "Case back in its queue, unassigned.",
    "amended": "Amendment added to the note.",
    "reopened": "Case reopened.",
    "requested": "Service request created.",
    "review": "Review started.",
    "screened": "Screening decision recorded: a rescreen will not raise this hit again.",
    "kyc_decided": "KYC decision recorded: the account's standing and rating follow it.",
}


def flash_from(
    request: Request, param: str, messages: dict[str, str], context: dict[str, Any]
) -> dict[str, Any]:
    """``context`` with the ok flash that ``?<param>=<key>`` names among a page's own
    ``messages`` (where a redirect after a form says what was done); unknown keys: none."""
    done = messages.get(request.query_params.get(param, ""))
    if done:
        context["flash"], context["flash_kind"] = done, "ok"
    return context


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a console template; the page context (user, CSRF token) comes from the request
    state that the console's user dependency filled in."""
    ctx: dict[str, Any] = {
        "user": getattr(request.state, "console_user", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "now": utcnow(),
    }
    done = DONE.get(request.query_params.get("done", ""))
    if done:
        ctx["flash"], ctx["flash_kind"] = done, "ok"
    ctx.update(context or {})
    return templates.TemplateResponse(
        request, f"console/{name}", ctx, status_code=status_code, headers=headers
    )
