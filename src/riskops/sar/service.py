"""SAR use cases: draft from a case, edit, submit, approve (four-eyes), export, file,
legal hold and retention. Each takes the caller's session and principal and never commits."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.orm import Session

from riskops.sar import repository as repo


def accounts_under_sar(session: Session, account_ids: Collection[str]) -> set[str]:
    """Of ``account_ids``, those for which a SAR is being considered (a case referred for
    SAR or with a pending REFER_SAR action, a draft, an awaiting, approved or filed report).

    The tipping-off guard's question: nothing may tell these accounts' holders that a report
    is being made. No permission check: it reveals nothing to the caller's user, the guard
    only refuses a message."""
    return repo.accounts_under_sar(session, account_ids)
