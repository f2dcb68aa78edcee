"""GET /v1/emails: the list, one message, an attachment download; case:view required."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.audit.models import AuditEntry
from riskops.intake.service import receive_email
from riskops.kernel.db import unit_of_work
from support import bearer, token_for


def _import(sessions: sessionmaker[Session], raw: bytes) -> int:
    with unit_of_work(sessions) as session:
        received = receive_email(session, raw, channel="import")
    assert received.email_id is not None
    return received.email_id


def test_list_detail_and_download(
    client: TestClient,
    engine: Engine,
    seeded: sessionmaker[Session],
    fixture_bytes: Callable[[str], bytes],
) -> None:
    first = _import(seeded, fixture_bytes("plain.eml"))
    second = _import(seeded, fixture_bytes("multipart_pdf.eml"))
    auth = bearer(token_for(engine, ["case:view"]))

    page = client.get("/v1/emails", headers=auth).json()
    assert page["total"] == 2 and [e["id"] for e in page["items"]] == [second, first]
    assert page["items"][0]["attachments"] == [
        {
            "position": 1,
            "filename": "recall-request.pdf",
            "content_type": "application/pdf",
            "size": 77,
            "sha256": page["items"][0]["attachments"][0]["sha256"],
        }
    ]
    assert "text_body" not in page["items"][0] or page["items"][0]["text_body"] is None
    only = client.get("/v1/emails", params={"account_id": "acc-0000101"}, headers=auth).json()
    assert [e["id"] for e in only["items"]] == [first]

    detail = client.get(f"/v1/emails/{second}", headers=auth).json()
    assert detail["account_ids"] == ["acc-0000102"] and detail["category"] == "partner_bank"
    assert "recall request attached" in detail["text_body"]
    assert detail["link_evidence"][0]["by"] == "tx_hash"

    download = client.get(f"/v1/emails/{second}/attachments/1", headers=auth)
    assert download.status_code == 200
    assert download.content.startswith(b"%PDF-1.4")
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"

    assert client.get(f"/v1/emails/{second}/attachments/2", headers=auth).status_code == 404
    assert client.get("/v1/emails/999999", headers=auth).status_code == 404
    with unit_of_work(seeded) as session:
        actions = {a.action for a in session.scalars(select(AuditEntry))}
    assert {"email.view", "email.attachment.download"} <= actions


def test_reading_mail_needs_case_view(client: TestClient, engine: Engine) -> None:
    assert client.get("/v1/emails").status_code == 401
    auth = bearer(token_for(engine, ["signal:submit"]))
    assert client.get("/v1/emails", headers=auth).status_code == 403
