"""The demo's SARs: one approved with a validated goAML export, one draft; skipped with a
reason when the demo people are missing."""

from __future__ import annotations

import random
from datetime import date

from sar_fakes import T0, open_case
from sqlalchemy.engine import Engine

from riskops.accounts.models import AccountProfile
from riskops.auth.permissions import Role
from riskops.kernel.db import session_factory, unit_of_work
from riskops.sar import repository as repo
from riskops.sar import seed
from riskops.sar.models import SarStatus
from support import make_user


def test_the_demo_leaves_an_approved_exportable_sar(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        make_user(session, "ana", Role.ANALYST)
        make_user(session, "cora", Role.COMPLIANCE)
        session.add(
            AccountProfile(
                account_id="acc-1",
                full_name="Zoë Ångström",
                birth_date=date(1988, 4, 1),
                opened_at=T0.replace(year=2024),
                country="SE",
                corporate=False,
                kyc_level=2,
                updated_at=T0,
            )
        )
        open_case(session, "acc-1")
        open_case(session, "acc-2")
        done = seed.seed(session, T0, random.Random(3))
        assert done.skipped == []
        assert len(done.approved) == 1 and len(done.drafts) == 1 and len(done.exports) == 1
        report = repo.get(session, done.approved[0])
        assert report is not None and report.status is SarStatus.APPROVED
        assert report.approved_by == "cora" and report.drafted_by == "ana"
        (export,) = repo.exports_of(session, report.id)
        assert export.report_version == report.version  # ready to be filed
        assert "<last_name>Angstrom</last_name>" in export.content
        assert "<opened>2024-01-01T12:00:00</opened>" in export.content  # the account's


def test_without_the_demo_people_nothing_is_seeded(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        done = seed.seed(session, T0, random.Random(3))
        assert done.approved == [] and done.skipped
