"""Odd strings (Arabic, Han, 10,000 characters, control characters, blank) in the subject's
names and the narrative give either a valid export or a clear, field-level refusal in both
formats: never a crash, never an export that does not validate."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sar_fakes import SUBJECT, complete_edit, open_case, users
from sqlalchemy.engine import Engine

from riskops.auth import repository as auth_repo
from riskops.auth.service import user_principal
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import ValidationFailed
from riskops.sar import service
from riskops.sar.models import ExportFormat
from support import migrated_engine

ODD = [
    "محمد بن سلمان",
    "王伟",
    "Zoë O'Brien-Smith",
    "x" * 10_000,
    "a\x00b",
    "tab\there\nnewline",
    "\x1f",
    "   ",
    "",
    "\u200b\u00a0",
    "😀",
]
odd = st.one_of(st.sampled_from(ODD), st.text(max_size=40))
_accounts = itertools.count()


@pytest.fixture(scope="module")
def odd_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One database for every example (each example rolls its transaction back)."""
    with migrated_engine("sqlite", tmp_path_factory.mktemp("odd")) as engine:
        with unit_of_work(session_factory(engine)) as session:
            users(session)
        yield engine


def _attempt(engine: Engine, first: str, last: str, narrative: str) -> None:
    with session_factory(engine)() as session:
        ana = user_principal(auth_repo.user_by_username(session, "ana"))  # type: ignore[arg-type]
        account = f"odd-{next(_accounts)}"
        report = service.draft_from_case(session, ana, open_case(session, account).id)
        subject = msgspec.structs.replace(
            SUBJECT, first_name=first, last_name=last, account_id=account
        )
        edit = complete_edit(subjects=[subject], narrative=narrative)
        try:
            service.edit(session, ana, report.id, edit)
        except ValidationFailed as refused:
            assert refused.details and all(d["field"] and d["reason"] for d in refused.details)
            session.rollback()
            return
        for fmt in ExportFormat:
            try:
                stored = service.export(session, ana, report.id, fmt)
            except ValidationFailed as refused:
                assert refused.details
                assert all(d["field"] and d["reason"] for d in refused.details)
            else:
                assert stored.content.startswith("<?xml")
        session.rollback()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=odd, last=odd, narrative=odd)
def test_odd_text_exports_or_is_refused_clearly(
    odd_engine: Engine, first: str, last: str, narrative: str
) -> None:
    _attempt(odd_engine, first, last, narrative)


def test_a_known_odd_report_is_refused_in_goaml_and_exported_in_fincen(
    sqlite_engine: Engine,
) -> None:
    """Arabic names fail goAML's Latin name pattern (the reason names the element) and
    pass FinCEN's."""
    with unit_of_work(session_factory(sqlite_engine)) as session:
        u = users(session)
        report = service.draft_from_case(session, u["ana"], open_case(session, "acc-1").id)
        subject = msgspec.structs.replace(SUBJECT, first_name="محمد", last_name="王伟")
        service.edit(session, u["ana"], report.id, complete_edit(subjects=[subject]))
        goaml = service.check(session, u["ana"], report.id, ExportFormat.GOAML)
        assert any(e["field"].endswith("/first_name") for e in goaml.errors)
        assert service.check(session, u["ana"], report.id, ExportFormat.FINCEN).errors == []
