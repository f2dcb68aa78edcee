"""SAR use cases: drafting from a case, field-level reasons, four-eyes approval,
permissions, exports validated against the regulators' schemas, filing, legal hold and
the retention purge."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree
from sar_fakes import SUBJECT, T0, approved, at, complete_edit, open_case, users
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.audit.models import AuditEntry
from riskops.cases.models import CaseStatus
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Conflict, Forbidden, ValidationFailed
from riskops.sar import repository as repo
from riskops.sar import service, tasks, xsd
from riskops.sar.models import ExportFormat, SarExport, SarReport, SarStatus
from riskops.sar.schemas import EditIn

FORMATS = [ExportFormat.GOAML, ExportFormat.FINCEN]


def test_a_draft_from_a_case_names_its_account_and_its_notes(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = open_case(session, "acc-1")
        report = service.draft_from_case(session, u["ana"], case.id, now=T0)
        assert report.status is SarStatus.DRAFT
        assert report.typology == "structuring"
        assert repo.accounts_of(session, report.id) == ["acc-1"]
        assert report.subjects == [{"kind": "person", "account_id": "acc-1"}]
        assert f"Case {case.id}" in report.narrative
        assert report.retention_until == T0.replace(year=T0.year + 5)
        assert service.accounts_under_sar(session, ["acc-1", "acc-2"]) == {"acc-1"}
        with pytest.raises(Conflict):  # one live report per case
            service.draft_from_case(session, u["comp"], case.id, now=T0)


def test_a_closed_case_without_referral_cannot_be_reported(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = open_case(session, "acc-1")
        case.status = CaseStatus.CLOSED
        session.flush()
        with pytest.raises(Conflict):
            service.draft_from_case(session, u["ana"], case.id, now=T0)


def test_an_incomplete_draft_gives_field_level_reasons(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        report = service.draft_from_case(session, u["ana"], open_case(session, "acc-1").id)
        service.edit(session, u["ana"], report.id, EditIn(subjects=[], narrative=" "))
        with pytest.raises(ValidationFailed) as exc:
            service.submit(session, u["ana"], report.id)
        fields = {d["field"] for d in exc.value.details}
        assert fields == {"subjects", "transactions", "narrative"}
        with pytest.raises(ValidationFailed) as exc:
            service.export(session, u["ana"], report.id, ExportFormat.GOAML)
        assert "subjects" in {d["field"] for d in exc.value.details}


def test_goaml_names_the_missing_fields_of_its_client_person(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        report = service.draft_from_case(session, u["ana"], open_case(session, "acc-1").id)
        bare = SUBJECT.__class__(kind="person", first_name="Sara", last_name="Lopez")
        service.edit(session, u["ana"], report.id, complete_edit(subjects=[bare]))
        preview = service.check(session, u["ana"], report.id, ExportFormat.GOAML)
        fields = {e["field"] for e in preview.errors}
        assert {"subjects[0].birth_date", "subjects[0].gender", "subjects[0].id_number"} <= fields
        # the schema's own reasons follow, by element path
        assert any(e["field"].startswith("/report/transaction") for e in preview.errors)
        # FinCEN asks less of a subject: the same draft validates there
        assert service.check(session, u["ana"], report.id, ExportFormat.FINCEN).errors == []


def test_the_drafter_cannot_approve_a_second_compliance_user_can(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = open_case(session, "acc-1")
        report = service.draft_from_case(session, u["comp"], case.id, now=T0)
        service.edit(session, u["comp"], report.id, complete_edit(), now=T0)
        service.submit(session, u["comp"], report.id, now=T0)
        with pytest.raises(Forbidden, match="four-eyes"):
            service.approve(session, u["comp"], report.id, now=T0)
        done = service.approve(session, u["comp2"], report.id, now=at(1))
        assert (done.status, done.approved_by, done.approved_at) == (
            SarStatus.APPROVED,
            "comp2",
            at(1),
        )


def test_an_approver_may_return_a_report_with_a_comment(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        report = service.draft_from_case(session, u["ana"], open_case(session, "acc-1").id)
        service.edit(session, u["ana"], report.id, complete_edit())
        service.submit(session, u["ana"], report.id)
        with pytest.raises(ValidationFailed):
            service.approve(session, u["comp"], report.id, decision="return")
        back = service.approve(session, u["comp"], report.id, decision="return", comment="why?")
        assert back.status is SarStatus.DRAFT


def test_an_analyst_may_draft_but_not_approve_or_file(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        report = service.draft_from_case(session, u["ana"], open_case(session, "acc-1").id)
        service.edit(session, u["ana"], report.id, complete_edit())
        service.submit(session, u["ana"], report.id)
        with pytest.raises(Forbidden, match="sar:approve"):
            service.approve(session, u["ana"], report.id)
        service.approve(session, u["comp"], report.id)
        sent = service.export(session, u["ana"], report.id, ExportFormat.FINCEN)
        with pytest.raises(Forbidden, match="sar:file"):
            service.file(session, u["ana"], report.id, sent.id)
        with pytest.raises(Forbidden):  # admin sees no SAR at all
            service.get(session, u["admin"], report.id)
        with pytest.raises(Forbidden, match="retention:manage"):
            service.set_legal_hold(session, u["ana"], report.id, hold=True, reason="court")


@pytest.mark.parametrize("fmt", FORMATS, ids=[f.value for f in FORMATS])
def test_an_approved_report_exports_valid_xml_and_is_filed(
    engine: Engine, fmt: ExportFormat
) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        report = approved(session, u)
        sent = service.export(session, u["comp"], report.id, fmt, now=at(1))
        root = etree.fromstring(sent.content.encode())
        if fmt is ExportFormat.GOAML:
            assert root.tag == "report"
            assert root.findtext("rentity_id") == "1"
            assert [t.findtext("transactionnumber") for t in root.iter("transaction")] == [
                "ev-1",
                "ev-2",
            ]
            assert root.find("transaction/t_to_my_client/to_account/signatory") is not None
            assert root.findtext("report_indicators/indicator") == "STRUC"
        else:
            ns = {"f": "www.fincen.gov/base"}
            codes = [p.text for p in root.findall("f:Activity/f:Party/f:ActivityPartyTypeCode", ns)]
            assert codes == ["35", "37", "30", "8", "34", "33"]
            assert root.get("TotalAmount") == "18600"
            assert root.findtext(".//f:SuspiciousActivitySubtypeID", namespaces=ns) == "114"
            assert root.findtext(".//f:RawEntityIndividualLastName", namespaces=ns) == "Lopez"
        filed = service.file(
            session, u["comp2"], report.id, sent.id, fiu_reference="FIU-9", now=at(2)
        )
        assert filed.status is SarStatus.FILED
        assert (filed.filed_sha256, filed.filed_format, filed.filed_by) == (
            sent.sha256,
            fmt.value,
            "comp2",
        )
        assert filed.fiu_reference == "FIU-9"
        assert filed.retention_until == at(2).replace(year=at(2).year + 5)
        with pytest.raises(Conflict):
            service.edit(session, u["ana"], report.id, EditIn(narrative="later"))


def test_filing_needs_an_export_of_the_approved_version(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = open_case(session, "acc-1")
        report = service.draft_from_case(session, u["ana"], case.id, now=T0)
        service.edit(session, u["ana"], report.id, complete_edit(), now=T0)
        early = service.export(session, u["ana"], report.id, ExportFormat.GOAML)
        service.submit(session, u["ana"], report.id, now=T0)
        with pytest.raises(Conflict, match="approved"):
            service.file(session, u["comp"], report.id, early.id)
        service.approve(session, u["comp"], report.id, now=T0)
        with pytest.raises(Conflict, match="version"):
            service.file(session, u["comp"], report.id, early.id)
        with pytest.raises(ValidationFailed):
            service.file(session, u["comp"], report.id, early.id + 1000)


def test_an_edit_is_audited_with_a_diff(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        report = service.draft_from_case(session, u["ana"], open_case(session, "acc-1").id)
        service.edit(session, u["ana"], report.id, EditIn(typology="mule"))
        session.flush()
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "sar.edit")).one()
        assert entry.detail["changes"] == {"typology": {"from": "structuring", "to": "mule"}}
        assert entry.actor == "ana"


def test_the_purge_deletes_expired_reports_except_under_legal_hold(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        kept = approved(session, u, "acc-1")
        gone = approved(session, u, "acc-2")
        service.export(session, u["comp"], gone.id, ExportFormat.FINCEN)
        young = approved(session, u, "acc-3")
        young.retention_until = at(10_000)
        service.set_legal_hold(session, u["comp"], kept.id, hold=True, reason="subpoena 12")
        later = T0 + timedelta(days=6 * 366)
        dry = service.purge(session, u["comp"], now=later, dry_run=True)
        assert (dry.purged, dry.kept_on_hold) == ([gone.id], [kept.id])
        assert session.get(SarReport, gone.id) is not None
        done = service.purge(session, u["comp"], now=later)
        session.flush()
        assert (done.purged, done.kept_on_hold) == ([gone.id], [kept.id])
        session.expire_all()
        assert session.get(SarReport, gone.id) is None
        assert not session.scalars(select(SarExport).where(SarExport.sar_id == gone.id)).all()
        assert {r.id for r in session.scalars(select(SarReport))} == {kept.id, young.id}
        purged = session.scalars(select(AuditEntry).where(AuditEntry.action == "sar.purge")).all()
        assert [e.subject_id for e in purged] == [str(gone.id)]
        # lifted, the hold no longer keeps it
        service.set_legal_hold(session, u["comp"], kept.id, hold=False, reason="case closed")
        assert service.purge(session, u["comp"], now=later).purged == [kept.id]
        assert service.accounts_under_sar(session, ["acc-1", "acc-2", "acc-3"]) == {"acc-3"}


def test_a_missing_schema_is_a_clear_error_naming_the_setting(
    engine: Engine, tmp_path: Path
) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        report = approved(session, u)
        missing = Settings(data_dir=tmp_path, goaml_xsd=str(tmp_path / "nope.xsd"))
        with pytest.raises(xsd.SchemaMissing) as exc:
            service.export(session, u["comp"], report.id, ExportFormat.GOAML, settings=missing)
        assert exc.value.status_code == 503
        assert exc.value.details == [
            {"field": "RISKOPS_GOAML_XSD", "reason": f"no readable file at {tmp_path / 'nope.xsd'}"}
        ]
        # an FIU's own schema is read from where the setting points
        own = tmp_path / "fiu.xsd"
        own.write_bytes((xsd.SHARED / xsd.DEFAULT_FILES[ExportFormat.FINCEN]).read_bytes())
        theirs = Settings(data_dir=tmp_path, fincen_xsd=str(own))
        assert service.export(session, u["comp"], report.id, ExportFormat.FINCEN, settings=theirs)


def test_a_withdrawn_report_is_kept_but_no_longer_puts_its_account_under_sar(
    engine: Engine,
) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        report = approved(session, u)
        with pytest.raises(Forbidden):
            service.withdraw(session, u["ana"], report.id, "no")
        with pytest.raises(ValidationFailed):
            service.withdraw(session, u["comp"], report.id, " ")
        gone = service.withdraw(session, u["comp"], report.id, "activity explained", now=at(3))
        assert (gone.status, gone.withdrawn_reason) == (SarStatus.WITHDRAWN, "activity explained")
        assert gone.retention_until == at(3).replace(year=at(3).year + 5)
        session.flush()
        assert service.accounts_under_sar(session, ["acc-1"]) == set()
        with pytest.raises(Conflict):
            service.export(session, u["comp"], report.id, ExportFormat.GOAML)
        # the case may be reported again
        again = service.draft_from_case(session, u["ana"], report.case_id, now=at(4))
        assert again.id != report.id


def test_the_retention_task_purges_as_the_system(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        u = users(session)
        report = approved(session, u)
        report.retention_until = T0
        sar_id = report.id
    tasks.retention_pass(sessions)
    with sessions() as session:
        assert session.get(SarReport, sar_id) is None
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "sar.purge")).one()
        assert entry.actor == "system:sar.retention"
