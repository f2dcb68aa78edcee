"""Every route (API and console) for every kind of caller: each refusal proven, and the
four-eyes rule unbroken by any route (issue 9, "What must exist" 3; ADR 0018).

``ROUTES`` has one row per route of the app: the permission it needs, and a request that
would pass every check but the permission's. The first test enumerates the app's routes,
so a new route without a row fails it. The matrix then calls every route as nobody (401
for the API, the login page for the console), as a user of each role and as API tokens
with and without the needed scope: a caller without the permission gets 403, a caller
with it is not refused. Every ``POST`` that can restrict an account asks for a full
freeze, so the matrix also proves that no route, for any caller, puts one in force.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.engine import Engine
from starlette.routing import Mount, Route

from riskops.accounts import service as accounts
from riskops.accounts.models import AccountActionStatus, Restriction, RestrictionKind
from riskops.auth.permissions import ROLE_PERMISSIONS, TOKEN_SCOPES, Permission, Principal, Role
from riskops.cases.alert_intake import ensure_default_queues, raise_alert
from riskops.cases.models import AlertSource
from riskops.cases.schemas import AlertIn
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import DEFAULT_PASSWORD, make_user, token_for

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

P = Permission
PUBLIC = "public"  # no caller needed (health, login, documentation)
LOGIN = "login"  # any authenticated caller
OWN = "own credentials"  # a password, a provider's signature: refused without, whoever calls
NOTE = {k: "x" for k in ("summary", "evidence", "findings", "decision", "rationale")}
FREEZE = {"kind": "full_freeze", "reason": "matrix"}
EVENT = {
    "type": "withdrawal.requested",
    "event_id": "matrix-w",
    "account_id": "matrix-acc",
    "occurred_at": "2026-03-01T12:00:00Z",
    "asset": "BTC",
    "amount": "0.5",
    "usd_value": "30000.00",
    "address": "bc1q",
}
NONE = 999_999  # an id nothing has: a caller who may ask gets 404, one who may not gets 403


@dataclass(frozen=True)
class Row:
    need: Permission | str
    path: str  # the route's path with ids filled in
    json: Any = None
    form: dict[str, str] | None = None
    params: dict[str, str] = field(default_factory=dict)
    last: bool = False  # logs the caller out: run after the caller's other requests
    answer: str = "answered"  # what a caller who may call it sees


ROUTES: dict[tuple[str, str], Row] = {
    # --- public -----------------------------------------------------------------------
    ("GET", "/openapi.json"): Row(PUBLIC, "/openapi.json"),
    ("GET", "/docs"): Row(PUBLIC, "/docs"),
    ("GET", "/healthz"): Row(PUBLIC, "/healthz"),
    ("GET", "/readyz"): Row(PUBLIC, "/readyz"),
    ("GET", "/metrics"): Row(PUBLIC, "/metrics"),  # counts for Prometheus, no personal data
    ("POST", "/v1/auth/login"): Row(OWN, "/v1/auth/login", json={"username": "x", "password": "y"}),
    ("GET", "/login"): Row(PUBLIC, "/login"),
    ("POST", "/login"): Row(OWN, "/login", form={"username": "x", "password": "y"}),
    # --- events, decisions, monitor ----------------------------------------------------
    ("POST", "/v1/events"): Row(P.EVENT_INGEST, "/v1/events", json=EVENT),
    ("GET", "/v1/dead-letters"): Row(P.DEAD_LETTER_VIEW, "/v1/dead-letters"),
    ("GET", "/v1/dead-letters/{dead_letter_id}"): Row(
        P.DEAD_LETTER_VIEW, f"/v1/dead-letters/{NONE}"
    ),
    ("POST", "/v1/dead-letters/{dead_letter_id}/replay"): Row(
        P.DEAD_LETTER_REPLAY, f"/v1/dead-letters/{NONE}/replay", json={}
    ),
    ("POST", "/v1/decisions"): Row(P.DECISION_REQUEST, "/v1/decisions", json=EVENT),
    ("GET", "/v1/decisions"): Row(P.CASE_VIEW, "/v1/decisions"),
    ("GET", "/v1/alerts"): Row(P.CASE_VIEW, "/v1/alerts"),
    ("GET", "/v1/holds"): Row(P.CASE_VIEW, "/v1/holds"),
    ("POST", "/v1/holds/{hold_id}/release"): Row(
        P.HOLD_RESOLVE, f"/v1/holds/{NONE}/release", json={"note": "n"}
    ),
    ("POST", "/v1/holds/{hold_id}/reject"): Row(
        P.HOLD_RESOLVE, f"/v1/holds/{NONE}/reject", json={"note": "n"}
    ),
    # --- account controls --------------------------------------------------------------
    ("POST", "/v1/accounts/{account_id}/restrictions"): Row(
        P.ACCOUNT_RESTRICT, "/v1/accounts/matrix-acc/restrictions", json=FREEZE
    ),
    ("GET", "/v1/accounts/{account_id}/restrictions"): Row(
        P.ACCOUNT_VIEW, "/v1/accounts/matrix-acc/restrictions"
    ),
    ("POST", "/v1/accounts/{account_id}/restrictions/{restriction_id}/lift"): Row(
        P.ACCOUNT_RESTRICT,
        f"/v1/accounts/matrix-acc/restrictions/{NONE}/lift",
        json={"reason": "r"},
    ),
    ("GET", "/v1/account-actions"): Row(P.ACCOUNT_VIEW, "/v1/account-actions"),
    ("GET", "/v1/account-actions/{action_id}"): Row(P.ACCOUNT_VIEW, f"/v1/account-actions/{NONE}"),
    ("POST", "/v1/account-actions/{action_id}/approve"): Row(
        P.CASE_APPROVE, f"/v1/account-actions/{NONE}/approve", json={}
    ),
    ("POST", "/v1/account-actions/{action_id}/refuse"): Row(
        P.CASE_APPROVE, f"/v1/account-actions/{NONE}/refuse", json={"comment": "no"}
    ),
    # --- auth --------------------------------------------------------------------------
    ("POST", "/v1/auth/logout"): Row(LOGIN, "/v1/auth/logout", last=True),
    ("GET", "/v1/auth/me"): Row(LOGIN, "/v1/auth/me"),
    ("GET", "/v1/users"): Row(P.USER_MANAGE, "/v1/users"),
    ("POST", "/v1/users"): Row(
        P.USER_MANAGE,
        "/v1/users",
        json={
            "username": "m-new",
            "password": "a password long enough",
            "role": "analyst",
            "display_name": "New",
        },
    ),
    ("PATCH", "/v1/users/{user_id}"): Row(
        P.USER_MANAGE, f"/v1/users/{NONE}", json={"active": True}
    ),
    ("GET", "/v1/tokens"): Row(P.TOKEN_MANAGE, "/v1/tokens"),
    ("POST", "/v1/tokens"): Row(
        P.TOKEN_MANAGE, "/v1/tokens", json={"name": "m-token", "scopes": ["case:view"]}
    ),
    ("DELETE", "/v1/tokens/{token_id}"): Row(P.TOKEN_MANAGE, f"/v1/tokens/{NONE}"),
    ("GET", "/v1/audit"): Row(P.AUDIT_VIEW, "/v1/audit"),
    # --- cases -------------------------------------------------------------------------
    ("GET", "/v1/queues"): Row(P.CASE_VIEW, "/v1/queues"),
    ("PATCH", "/v1/queues/{key}"): Row(P.QUEUE_MANAGE, "/v1/queues/nope", json={"sla_minutes": 60}),
    ("GET", "/v1/shifts"): Row(
        P.CASE_VIEW,
        "/v1/shifts",
        params={"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"},
    ),
    ("POST", "/v1/shifts"): Row(
        P.QUEUE_MANAGE,
        "/v1/shifts",
        json={
            "user_id": NONE,
            "starts_at": "2026-01-01T08:00:00Z",
            "ends_at": "2026-01-01T16:00:00Z",
        },
    ),
    ("DELETE", "/v1/shifts/{shift_id}"): Row(P.QUEUE_MANAGE, f"/v1/shifts/{NONE}"),
    ("GET", "/v1/queues/{key}/cases"): Row(P.CASE_VIEW, "/v1/queues/aml/cases"),
    ("GET", "/v1/cases"): Row(P.CASE_VIEW, "/v1/cases"),
    ("GET", "/v1/cases/{case_id}"): Row(P.CASE_VIEW, f"/v1/cases/{NONE}"),
    ("POST", "/v1/cases/take-next"): Row(
        P.CASE_WORK, "/v1/cases/take-next", json={"queue_keys": ["nope"]}
    ),
    ("POST", "/v1/cases/{case_id}/assign"): Row(
        P.CASE_ASSIGN, f"/v1/cases/{NONE}/assign", json={"user_id": NONE}
    ),
    ("POST", "/v1/cases/{case_id}/decisions"): Row(
        P.CASE_WORK,
        f"/v1/cases/{NONE}/decisions",
        json={"action": "restrict", "restrictions": ["full_freeze"], "note": NOTE},
    ),
    ("POST", "/v1/cases/{case_id}/reopen"): Row(
        P.CASE_REOPEN, f"/v1/cases/{NONE}/reopen", json={"reason": "r"}
    ),
    ("GET", "/v1/approvals"): Row(P.CASE_APPROVE, "/v1/approvals"),
    ("POST", "/v1/actions/{action_id}/approve"): Row(
        P.CASE_APPROVE, f"/v1/actions/{NONE}/approve", json={}
    ),
    ("POST", "/v1/actions/{action_id}/refuse"): Row(
        P.CASE_APPROVE, f"/v1/actions/{NONE}/refuse", json={"comment": "no"}
    ),
    ("POST", "/v1/notes/{note_id}/amendments"): Row(
        P.CASE_WORK, f"/v1/notes/{NONE}/amendments", json={"text": "t"}
    ),
    # --- investigation: the account 360, links, screening, intel ----------------------
    ("GET", "/v1/accounts/{account_id}"): Row(P.ACCOUNT_VIEW, "/v1/accounts/matrix-acc"),
    ("GET", "/v1/accounts/{account_id}/links"): Row(
        P.ACCOUNT_VIEW, "/v1/accounts/matrix-acc/links"
    ),
    ("GET", "/v1/accounts/{account_id}/graph"): Row(
        P.ACCOUNT_VIEW, "/v1/accounts/matrix-acc/graph"
    ),
    ("GET", "/v1/reports/{chart}"): Row(P.REPORT_VIEW, "/v1/reports/alerts"),
    ("GET", "/v1/links"): Row(
        P.ACCOUNT_VIEW, "/v1/links", params={"kind": "ip", "value": "192.0.2.7"}
    ),
    ("GET", "/v1/intel"): Row(P.ACCOUNT_VIEW, "/v1/intel", params={"value": "192.0.2.7"}),
    ("GET", "/v1/accounts/{account_id}/screening-hits"): Row(
        P.ACCOUNT_VIEW, "/v1/accounts/matrix-acc/screening-hits"
    ),
    ("GET", "/v1/screening/hits"): Row(P.SCREENING_REVIEW, "/v1/screening/hits"),
    ("GET", "/v1/screening/hits/{hit_id}"): Row(P.ACCOUNT_VIEW, f"/v1/screening/hits/{NONE}"),
    ("POST", "/v1/screening/hits/{hit_id}/review"): Row(
        P.SCREENING_REVIEW,
        f"/v1/screening/hits/{NONE}/review",
        json={"decision": "not_a_match", "note": "n"},
    ),
    ("GET", "/v1/screening/lists"): Row(P.CASE_VIEW, "/v1/screening/lists"),
    # --- rating and KYC / KYB review ---------------------------------------------------
    ("GET", "/v1/accounts/{account_id}/rating"): Row(
        P.ACCOUNT_VIEW, "/v1/accounts/matrix-acc/rating"
    ),
    ("GET", "/v1/accounts/{account_id}/rating/history"): Row(
        P.ACCOUNT_VIEW, "/v1/accounts/matrix-acc/rating/history"
    ),
    ("GET", "/v1/accounts/{account_id}/kyc-reviews"): Row(
        P.ACCOUNT_VIEW, "/v1/accounts/matrix-acc/kyc-reviews"
    ),
    ("GET", "/v1/kyc-reviews"): Row(P.KYC_REVIEW, "/v1/kyc-reviews"),
    ("GET", "/v1/kyc-reviews/{review_id}"): Row(P.ACCOUNT_VIEW, f"/v1/kyc-reviews/{NONE}"),
    ("POST", "/v1/kyc-reviews/{review_id}/decision"): Row(
        P.KYC_REVIEW,
        f"/v1/kyc-reviews/{NONE}/decision",
        json={"decision": "approve", "note": "n"},
    ),
    # --- intake ------------------------------------------------------------------------
    ("POST", "/v1/signals/sms"): Row(OWN, "/v1/signals/sms", json={}),
    ("POST", "/v1/service-requests"): Row(
        P.SERVICE_REQUEST_CREATE,
        "/v1/service-requests",
        json={
            "kind": "dispute",
            "account_id": "matrix-acc",
            "subject": "s",
            "description": "d",
            "requested_by": "agent",
        },
    ),
    ("GET", "/v1/emails"): Row(P.CASE_VIEW, "/v1/emails"),
    ("GET", "/v1/emails/{email_id}"): Row(P.CASE_VIEW, f"/v1/emails/{NONE}"),
    ("GET", "/v1/emails/{email_id}/attachments/{position}"): Row(
        P.CASE_VIEW, f"/v1/emails/{NONE}/attachments/0"
    ),
    # --- outbound: the outbox and webhook subscriptions -------------------------------
    ("GET", "/v1/outbox"): Row(P.OUTBOX_VIEW, "/v1/outbox"),
    ("GET", "/v1/outbox/{message_id}"): Row(P.OUTBOX_VIEW, f"/v1/outbox/{NONE}"),
    ("POST", "/v1/outbox/{message_id}/retry"): Row(P.OUTBOX_RETRY, f"/v1/outbox/{NONE}/retry"),
    ("POST", "/v1/webhooks"): Row(
        P.WEBHOOK_MANAGE,
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/matrix", "topics": ["case.closed"]},
    ),
    ("GET", "/v1/webhooks"): Row(P.WEBHOOK_MANAGE, "/v1/webhooks"),
    ("GET", "/v1/webhooks/{subscription_id}"): Row(P.WEBHOOK_MANAGE, f"/v1/webhooks/{NONE}"),
    ("DELETE", "/v1/webhooks/{subscription_id}"): Row(P.WEBHOOK_MANAGE, f"/v1/webhooks/{NONE}"),
    # --- console -----------------------------------------------------------------------
    ("POST", "/logout"): Row(LOGIN, "/logout", form={}, last=True, answer="login page"),
    ("GET", "/"): Row(P.CASE_VIEW, "/"),
    ("GET", "/overview/table"): Row(P.CASE_VIEW, "/overview/table"),
    ("POST", "/take-next"): Row(P.CASE_WORK, "/take-next", form={"queue": "nope"}),
    ("GET", "/my"): Row(P.CASE_VIEW, "/my"),
    ("GET", "/queues/{key}"): Row(P.CASE_VIEW, "/queues/aml"),
    ("GET", "/search"): Row(P.ACCOUNT_VIEW, "/search", params={"q": "matrix-acc"}),
    ("GET", "/cases/{case_id}"): Row(P.CASE_VIEW, f"/cases/{NONE}"),
    ("POST", "/cases/{case_id}/assign-me"): Row(P.CASE_WORK, f"/cases/{NONE}/assign-me", form={}),
    ("POST", "/cases/{case_id}/assign"): Row(
        P.CASE_ASSIGN, f"/cases/{NONE}/assign", form={"user_id": str(NONE)}
    ),
    ("POST", "/cases/{case_id}/start-review"): Row(
        P.CASE_WORK, f"/cases/{NONE}/start-review", form={}
    ),
    ("POST", "/cases/{case_id}/decide"): Row(
        P.CASE_WORK,
        f"/cases/{NONE}/decide",
        form={"action": "restrict", "restrictions": "full_freeze", **NOTE},
    ),
    ("POST", "/approvals/{action_id}/approve"): Row(
        P.CASE_APPROVE, f"/approvals/{NONE}/approve", form={}
    ),
    ("POST", "/approvals/{action_id}/refuse"): Row(
        P.CASE_APPROVE, f"/approvals/{NONE}/refuse", form={"comment": "no"}
    ),
    ("POST", "/cases/{case_id}/notes/{note_id}/amend"): Row(
        P.CASE_WORK, f"/cases/{NONE}/notes/{NONE}/amend", form={"text": "t"}
    ),
    ("POST", "/cases/{case_id}/reopen"): Row(
        P.CASE_REOPEN, f"/cases/{NONE}/reopen", form={"reason": "r"}
    ),
    ("GET", "/accounts/{account_id}"): Row(P.ACCOUNT_VIEW, "/accounts/matrix-acc"),
    ("GET", "/accounts/{account_id}/timeline"): Row(
        P.ACCOUNT_VIEW, "/accounts/matrix-acc/timeline"
    ),
    ("POST", "/accounts/{account_id}/restrictions"): Row(
        P.ACCOUNT_RESTRICT, "/accounts/matrix-acc/restrictions", form=FREEZE
    ),
    ("POST", "/accounts/{account_id}/restrictions/{restriction_id}/lift"): Row(
        P.ACCOUNT_RESTRICT, f"/accounts/matrix-acc/restrictions/{NONE}/lift", form={"reason": "r"}
    ),
    ("GET", "/holds"): Row(P.ACCOUNT_VIEW, "/holds"),
    ("POST", "/holds/{hold_id}/resolve"): Row(
        P.HOLD_RESOLVE, f"/holds/{NONE}/resolve", form={"action": "release", "note": "n"}
    ),
    ("GET", "/approvals"): Row(LOGIN, "/approvals"),
    ("POST", "/approvals/account-actions/{action_id}/approve"): Row(
        P.CASE_APPROVE, f"/approvals/account-actions/{NONE}/approve", form={}
    ),
    ("POST", "/approvals/account-actions/{action_id}/refuse"): Row(
        P.CASE_APPROVE, f"/approvals/account-actions/{NONE}/refuse", form={"comment": "no"}
    ),
    ("GET", "/rota"): Row(P.CASE_VIEW, "/rota"),
    ("GET", "/service-requests/new"): Row(P.SERVICE_REQUEST_CREATE, "/service-requests/new"),
    ("POST", "/service-requests"): Row(
        P.SERVICE_REQUEST_CREATE,
        "/service-requests",
        form={"kind": "dispute", "account_id": "matrix-acc", "subject": "s", "description": "d"},
    ),
    ("GET", "/audit"): Row(P.AUDIT_VIEW, "/audit"),
    ("GET", "/links"): Row(P.ACCOUNT_VIEW, "/links", params={"kind": "ip", "value": "192.0.2.7"}),
    ("GET", "/reports"): Row(P.REPORT_VIEW, "/reports"),
    ("GET", "/reports/{chart}.csv"): Row(P.REPORT_VIEW, "/reports/alerts.csv"),
    ("GET", "/accounts/{account_id}/graph.json"): Row(
        P.ACCOUNT_VIEW, "/accounts/matrix-acc/graph.json"
    ),
    ("POST", "/screening/hits/{hit_id}/review"): Row(
        P.SCREENING_REVIEW,
        f"/screening/hits/{NONE}/review",
        form={"decision": "not_a_match", "note": "n"},
    ),
    ("POST", "/kyc/reviews/{review_id}/decide"): Row(
        P.KYC_REVIEW, f"/kyc/reviews/{NONE}/decide", form={"decision": "approve", "note": "n"}
    ),
    ("GET", "/outbox"): Row(P.OUTBOX_VIEW, "/outbox"),
    ("GET", "/outbox/{message_id}"): Row(P.OUTBOX_VIEW, f"/outbox/{NONE}"),
    ("POST", "/outbox/{message_id}/retry"): Row(P.OUTBOX_RETRY, f"/outbox/{NONE}/retry", form={}),
    ("GET", "/cases/{case_id}/outbox"): Row(LOGIN, f"/cases/{NONE}/outbox"),  # says if it may
    # --- sar -----------------------------------------------------------------------------
    ("GET", "/v1/sars"): Row(P.SAR_DRAFT, "/v1/sars"),
    ("POST", "/v1/sars"): Row(P.SAR_DRAFT, "/v1/sars", json={"case_id": NONE}),
    ("GET", "/v1/sars/{sar_id}"): Row(P.SAR_DRAFT, f"/v1/sars/{NONE}"),
    ("PATCH", "/v1/sars/{sar_id}"): Row(P.SAR_DRAFT, f"/v1/sars/{NONE}", json={"typology": "x"}),
    ("GET", "/v1/sars/{sar_id}/candidates"): Row(P.SAR_DRAFT, f"/v1/sars/{NONE}/candidates"),
    ("POST", "/v1/sars/{sar_id}/submit"): Row(P.SAR_DRAFT, f"/v1/sars/{NONE}/submit"),
    ("POST", "/v1/sars/{sar_id}/approve"): Row(P.SAR_APPROVE, f"/v1/sars/{NONE}/approve", json={}),
    ("POST", "/v1/sars/{sar_id}/withdraw"): Row(
        P.SAR_APPROVE, f"/v1/sars/{NONE}/withdraw", json={"reason": "r"}
    ),
    ("POST", "/v1/sars/{sar_id}/exports"): Row(
        P.SAR_DRAFT, f"/v1/sars/{NONE}/exports", json={"format": "goaml"}
    ),
    ("GET", "/v1/sars/{sar_id}/exports"): Row(P.SAR_DRAFT, f"/v1/sars/{NONE}/exports"),
    ("GET", "/v1/sars/{sar_id}/exports/{export_id}/file"): Row(
        P.SAR_DRAFT, f"/v1/sars/{NONE}/exports/{NONE}/file"
    ),
    ("POST", "/v1/sars/{sar_id}/file"): Row(
        P.SAR_FILE, f"/v1/sars/{NONE}/file", json={"export_id": NONE}
    ),
    ("PUT", "/v1/sars/{sar_id}/legal-hold"): Row(
        P.RETENTION_MANAGE, f"/v1/sars/{NONE}/legal-hold", json={"hold": True, "reason": "r"}
    ),
    ("GET", "/cases/{case_id}/sar"): Row(LOGIN, f"/cases/{NONE}/sar"),  # says if it may
    ("GET", "/sars"): Row(P.SAR_DRAFT, "/sars"),
    ("POST", "/sars"): Row(P.SAR_DRAFT, "/sars", form={"case_id": str(NONE)}),
    ("GET", "/sars/{sar_id}"): Row(P.SAR_DRAFT, f"/sars/{NONE}"),
    ("POST", "/sars/{sar_id}/edit"): Row(P.SAR_DRAFT, f"/sars/{NONE}/edit", form={}),
    ("POST", "/sars/{sar_id}/submit"): Row(P.SAR_DRAFT, f"/sars/{NONE}/submit", form={}),
    ("POST", "/sars/{sar_id}/approve"): Row(P.SAR_APPROVE, f"/sars/{NONE}/approve", form={}),
    ("POST", "/sars/{sar_id}/withdraw"): Row(
        P.SAR_APPROVE, f"/sars/{NONE}/withdraw", form={"reason": "r"}
    ),
    ("POST", "/sars/{sar_id}/export"): Row(
        P.SAR_DRAFT, f"/sars/{NONE}/export", form={"format": "goaml"}
    ),
    ("GET", "/sars/{sar_id}/exports/{export_id}"): Row(P.SAR_DRAFT, f"/sars/{NONE}/exports/{NONE}"),
    ("POST", "/sars/{sar_id}/file"): Row(
        P.SAR_FILE, f"/sars/{NONE}/file", form={"export_id": str(NONE)}
    ),
    ("POST", "/sars/{sar_id}/legal-hold"): Row(
        P.RETENTION_MANAGE, f"/sars/{NONE}/legal-hold", form={"hold": "1", "reason": "r"}
    ),
    # --- qa ----------------------------------------------------------------------------
    ("GET", "/v1/qa/plan"): Row(P.QA_REVIEW, "/v1/qa/plan"),
    ("PUT", "/v1/qa/plan"): Row(P.QA_MANAGE, "/v1/qa/plan", json={"base_rate": 0.0}),
    ("GET", "/v1/qa/samples"): Row(P.QA_REVIEW, "/v1/qa/samples"),
    ("GET", "/v1/qa/samples/{sample_id}"): Row(P.QA_REVIEW, f"/v1/qa/samples/{NONE}"),
    ("POST", "/v1/qa/samples/{sample_id}/take"): Row(
        P.QA_REVIEW, f"/v1/qa/samples/{NONE}/take", json={}
    ),
    ("POST", "/v1/qa/samples/{sample_id}/review"): Row(
        P.QA_REVIEW, f"/v1/qa/samples/{NONE}/review", json={"verdict": "agree"}
    ),
    ("GET", "/v1/qa/agreement"): Row(P.QA_REVIEW, "/v1/qa/agreement"),
    # --- the rule author's workbench (authoring, ADR 0040) ----------------------------
    ("GET", "/workbench"): Row(P.RULE_AUTHOR, "/workbench"),
    ("GET", "/workbench/requests"): Row(P.RULE_AUTHOR, "/workbench/requests"),
    ("POST", "/workbench/requests/{request_id}/approve"): Row(
        P.RULE_PROMOTE, f"/workbench/requests/{NONE}/approve", form={}
    ),
    ("POST", "/workbench/requests/{request_id}/reject"): Row(
        P.RULE_PROMOTE, f"/workbench/requests/{NONE}/reject", form={"why": "x"}
    ),
    ("GET", "/workbench/rules/{rule_id}"): Row(P.RULE_AUTHOR, "/workbench/rules/NONE-RULE"),
    ("POST", "/workbench/rules/{rule_id}/promote"): Row(
        P.RULE_PROMOTE,
        "/workbench/rules/NONE-RULE/promote",
        form={"version": "1", "target": "live", "why": "x"},
    ),
    ("POST", "/workbench/models/{model_id}/promote"): Row(
        P.RULE_PROMOTE,
        "/workbench/models/none/promote",
        form={"version": "1", "target": "live", "why": "x"},
    ),
    ("GET", "/workbench/editor"): Row(P.RULE_AUTHOR, "/workbench/editor"),
    ("POST", "/workbench/editor/check"): Row(
        P.RULE_AUTHOR, "/workbench/editor/check", form={"source": "id: X"}
    ),
    ("POST", "/workbench/editor"): Row(
        P.RULE_AUTHOR, "/workbench/editor", form={"source": "id: X"}
    ),
    ("POST", "/workbench/rules/{rule_id}/backtests"): Row(
        P.RULE_AUTHOR, "/workbench/rules/NONE-RULE/backtests", form={"version": "1"}
    ),
    ("GET", "/workbench/backtests/{job_id}"): Row(
        P.RULE_AUTHOR, f"/workbench/backtests/{'0' * 32}"
    ),
    ("GET", "/workbench/backtests/{job_id}/status"): Row(
        P.RULE_AUTHOR, f"/workbench/backtests/{'0' * 32}/status"
    ),
    ("GET", "/workbench/rules/{rule_id}/compare"): Row(
        P.RULE_AUTHOR, "/workbench/rules/NONE-RULE/compare"
    ),
    # --- the account's anomaly panel on the case page (learn.anomaly, ADR 0039) ----------
    ("GET", "/accounts/{account_id:path}/anomaly"): Row(
        P.CASE_VIEW, "/accounts/matrix-acc/anomaly"
    ),
    ("GET", "/qa"): Row(P.QA_REVIEW, "/qa"),
    ("POST", "/qa/sample"): Row(P.QA_MANAGE, "/qa/sample", form={}),
    ("GET", "/qa/plan"): Row(P.QA_REVIEW, "/qa/plan"),
    ("POST", "/qa/plan"): Row(P.QA_MANAGE, "/qa/plan", form={"base_rate": "0"}),
    ("GET", "/qa/agreement"): Row(P.QA_REVIEW, "/qa/agreement"),
    ("GET", "/qa/mine"): Row(P.CASE_VIEW, "/qa/mine"),
    ("GET", "/qa/{sample_id}"): Row(P.QA_REVIEW, f"/qa/{NONE}"),
    ("POST", "/qa/{sample_id}/take"): Row(P.QA_REVIEW, f"/qa/{NONE}/take", form={}),
    ("POST", "/qa/{sample_id}/assign"): Row(
        P.QA_MANAGE, f"/qa/{NONE}/assign", form={"reviewer": "x"}
    ),
    ("POST", "/qa/{sample_id}/review"): Row(
        P.QA_REVIEW, f"/qa/{NONE}/review", form={"verdict": "agree"}
    ),
    ("POST", "/qa/{sample_id}/acknowledge"): Row(P.CASE_WORK, f"/qa/{NONE}/acknowledge", form={}),
    ("GET", "/cases/{case_id}/qa"): Row(P.CASE_VIEW, f"/cases/{NONE}/qa"),
    # --- contact -----------------------------------------------------------------------
    ("GET", "/v1/contact/templates"): Row(P.CONTACT_SEND, "/v1/contact/templates"),
    ("POST", "/v1/cases/{case_id}/messages/preview"): Row(
        P.CONTACT_SEND, f"/v1/cases/{NONE}/messages/preview", json={"template": "education_2fa"}
    ),
    ("POST", "/v1/cases/{case_id}/messages"): Row(
        P.CONTACT_SEND, f"/v1/cases/{NONE}/messages", json={"template": "education_2fa"}
    ),
    ("POST", "/v1/contact/sms-inbound"): Row(OWN, "/v1/contact/sms-inbound", json={}),
    ("GET", "/cases/{case_id}/contact"): Row(P.CASE_VIEW, f"/cases/{NONE}/contact"),
    ("POST", "/cases/{case_id}/contact/preview"): Row(
        P.CONTACT_SEND, f"/cases/{NONE}/contact/preview", form={"template": "education_2fa"}
    ),
    ("POST", "/cases/{case_id}/contact/send"): Row(
        P.CONTACT_SEND, f"/cases/{NONE}/contact/send", form={"template": "education_2fa"}
    ),
}
CONSOLE_API_PREFIXES = ("/v1/", "/openapi.json", "/docs", "/healthz", "/readyz")


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """``(method, path)`` of every route the app serves (static files aside)."""

    def walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
        for route in routes:
            if hasattr(route, "original_router"):  # an included router (FastAPI >= 0.16x)
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif isinstance(route, Route):
                for method in route.methods or ():
                    if method != "HEAD":
                        yield method, prefix + route.path
            else:
                assert isinstance(route, Mount), route  # /static: files, no caller check

    return set(walk(list(app.routes)))


def _app(engine: Engine, tmp_path: Path) -> FastAPI:
    settings = Settings(  # configured: it checks
        data_dir=tmp_path, sms_hmac_secret="matrix", sms_inbound_secret="matrix"
    )
    return create_app(Container(settings, engine), start_background=False)


def test_every_route_has_a_row(sqlite_engine: Engine, tmp_path: Path) -> None:
    served = app_routes(_app(sqlite_engine, tmp_path))
    assert served - set(ROUTES) == set(), "a route without a row in ROUTES: say who may call it"
    assert set(ROUTES) - served == set(), "a row for a route the app no longer serves"


# --- callers --------------------------------------------------------------------------


@dataclass
class Caller:
    name: str
    permissions: frozenset[Permission] | None  # None: nobody (not authenticated)
    client: TestClient

    def may(self, row: Row) -> bool:
        if row.need in (PUBLIC, LOGIN):
            return True
        return self.permissions is not None and row.need in self.permissions


@pytest.fixture
def served(engine: Engine, tmp_path: Path) -> Iterator[FastAPI]:
    with unit_of_work(session_factory(engine)) as session:
        ensure_default_queues(session)
        for role in Role:
            make_user(session, f"m-{role}", role)
        make_user(session, "m-maker", Role.ANALYST)
    app = _app(engine, tmp_path)
    with TestClient(app):
        yield app


def _session(app: FastAPI, username: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    login = client.post("/v1/auth/login", json={"username": username, "password": DEFAULT_PASSWORD})
    assert login.status_code == 200, login.text
    client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    return client


def _bearer(app: FastAPI, engine: Engine, name: str, scopes: set[Permission]) -> TestClient:
    token = token_for(engine, sorted(scopes), name=name)
    return TestClient(app, follow_redirects=False, headers={"Authorization": f"Bearer {token}"})


def callers(app: FastAPI, engine: Engine) -> list[Caller]:
    """Nobody, a user of each role, and a token with every scope a token may have."""
    found = [Caller("nobody", None, TestClient(app, follow_redirects=False))]
    for role in Role:
        found.append(Caller(str(role), ROLE_PERMISSIONS[role], _session(app, f"m-{role}")))
    everything = set(TOKEN_SCOPES)
    found.append(Caller("token:all", TOKEN_SCOPES, _bearer(app, engine, "all", everything)))
    return found


def without(app: FastAPI, engine: Engine, scope: Permission) -> Caller:
    """A token with every scope but ``scope``."""
    rest = set(TOKEN_SCOPES) - {scope}
    return Caller(f"token:no-{scope}", frozenset(rest), _bearer(app, engine, f"no-{scope}", rest))


def call(client: TestClient, method: str, row: Row) -> Any:
    return client.request(method, row.path, json=row.json, data=row.form, params=row.params)


def expected(caller: Caller, path: str, row: Row) -> str:
    if row.need == PUBLIC:
        return "answered"
    if row.need == OWN:
        return "refused"
    if caller.permissions is None:
        console = not path.startswith(CONSOLE_API_PREFIXES)
        return "login page" if console else "401"
    return row.answer if caller.may(row) else "403"


def observed(response: Any) -> str:
    status = response.status_code
    if status == 303 and response.headers.get("location", "").startswith("/login"):
        return "login page"
    if status in (401, 403):
        return str(status) if status == 401 else "403"
    if status >= 500:
        return f"error {status}"
    return "answered"


def test_every_route_refuses_every_caller_without_the_permission(
    served: FastAPI, engine: Engine
) -> None:
    """The whole matrix; every difference is listed (route, caller, expected, observed)."""
    wrong = []
    ordered = sorted(ROUTES.items(), key=lambda item: item[1].last)
    runs = [(caller, ordered) for caller in callers(served, engine)]
    # a token with every scope but the one a route needs (token:all is refused the others)
    runs += [
        (without(served, engine, row.need), [(route, row)])
        for route, row in ordered
        if isinstance(row.need, Permission) and row.need in TOKEN_SCOPES
    ]
    for caller, rows in runs:
        for (method, path), row in rows:
            response = call(caller.client, method, row)
            want, got = expected(caller, path, row), observed(response)
            if row.need == OWN and got in ("401", "403"):
                got = "refused"
            if want != got:
                wrong.append((method, path, caller.name, want, got, response.text[:120]))
    assert wrong == [], "\n".join(map(str, wrong))
    with session_factory(engine)() as session:
        in_force = accounts.active_kinds(session)
        assert in_force == {}, "a route put a restriction in force without a second person"
        asked = accounts.account_actions(
            session, Principal.system("tests"), status=AccountActionStatus.PENDING_APPROVAL
        )
        makers = {a.requested_by for a in asked}
        may_restrict = {f"m-{r}" for r in Role if P.ACCOUNT_RESTRICT in ROLE_PERMISSIONS[r]}
        # each asked (over the API and the console); none got it in force
        assert makers == may_restrict | {"token:all"}


# --- four-eyes through every route that approves ----------------------------------------


def test_no_route_lets_the_maker_approve_their_own_full_freeze(
    served: FastAPI, engine: Engine
) -> None:
    """The maker of a full freeze (over the API) and of a case's offboarding tries every
    approving route, API and console: each refuses; another person's approval records
    both names."""
    maker = _session(served, "m-maker")
    asked = maker.post("/v1/accounts/acc-4e/restrictions", json=FREEZE)
    assert asked.status_code == 202, asked.text
    account_action = asked.json()["id"]
    with unit_of_work(session_factory(engine)) as session:
        raise_alert(
            session,
            AlertIn(
                source=AlertSource.EMAIL,
                source_ref="matrix-1",
                account_id="acc-case",
                kind="email",
                title="t",
                severity=50,
            ),
        )
    case = maker.post("/v1/cases/take-next", json={})
    assert case.status_code == 200, case.text
    made = maker.post(
        f"/v1/cases/{case.json()['id']}/decisions", json={"action": "offboard", "note": NOTE}
    )
    assert made.status_code == 201, made.text
    case_action = made.json()["action"]["id"]
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", f"/v1/account-actions/{account_action}/approve", {"json": {}}),
        ("POST", f"/approvals/account-actions/{account_action}/approve", {"data": {}}),
        ("POST", f"/v1/actions/{case_action}/approve", {"json": {}}),
        ("POST", f"/approvals/{case_action}/approve", {"data": {}}),
    ]
    for method, path, body in attempts:
        assert maker.request(method, path, **body).status_code == 403, path
    with session_factory(engine)() as session:
        assert accounts.active_kinds(session) == {}
    approver = _session(served, f"m-{Role.SENIOR_ANALYST}")
    # the approvals page: the maker sees their request waiting, the approver its buttons
    mine = maker.get("/approvals").text
    assert f'id="account-action-{account_action}"' in mine and "Waiting for someone else" in mine
    theirs = approver.get("/approvals").text
    assert f'action="/approvals/account-actions/{account_action}/approve"' in theirs
    for method, path, body in (attempts[1], attempts[2]):  # the console, then the API
        answer = approver.request(method, path, **body)
        assert answer.status_code in (200, 303), (path, answer.text)
    with session_factory(engine)() as session:
        rows = session.scalars(select(Restriction).order_by(Restriction.id)).all()
        assert [(r.account_id, r.kind, r.created_by, r.approved_by) for r in rows] == [
            ("acc-4e", RestrictionKind.FULL_FREEZE, "m-maker", "m-senior_analyst"),
            ("acc-case", RestrictionKind.ACCOUNT_CLOSED, "m-maker", "m-senior_analyst"),
        ]
