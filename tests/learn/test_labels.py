"""Labels: import of good and bad files (all or nothing, row-level reasons), one label per
subject and source, the latest decision wins for training."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Principal, Role
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Forbidden, ValidationFailed
from riskops.learn import labels
from riskops.learn import repository as repo

AUTHOR = Principal.for_user(1, "ana", Role.RULE_AUTHOR)
ANALYST = Principal.for_user(2, "bo", Role.ANALYST)

GOOD_CSV = """event_id,account_id,label,decided_at,note
e1,,1,2026-01-02T10:00:00Z,mule
,acc-9,0,2026-01-03T10:00:00+02:00,
e2,,0,2026-01-04T00:00:00Z,cleared
"""
GOOD_NDJSON = """{"event_id": "e1", "label": 0, "decided_at": "2026-02-01T00:00:00Z"}

{"account_id": "acc-9", "label": true, "decided_at": "2026-02-01T00:00:00Z", "note": "SAR"}
"""
BAD_CSV = """event_id,account_id,label,decided_at
e1,,1,2026-01-02T10:00:00Z
e3,acc-1,1,2026-01-02T10:00:00Z
e4,,yes,2026-01-02
,,0,2026-01-02T10:00:00Z
"""


def _count(engine: Engine) -> int:
    with session_factory(engine)() as s:
        return len(repo.all_labels(s))


def test_import_csv_then_ndjson_replaces_per_subject(engine: Engine, tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.ndjson"
    first.write_text(GOOD_CSV)
    second.write_text(GOOD_NDJSON)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as s:
        assert labels.import_file(s, AUTHOR, first) == labels.Written(inserted=3)
    with unit_of_work(sessions) as s:
        assert labels.import_file(s, AUTHOR, first) == labels.Written(unchanged=3)
        assert labels.import_file(s, AUTHOR, second) == labels.Written(updated=2)
    with unit_of_work(sessions) as s:
        got = labels.training_labels(s)
        assert got.events == {"e1": 0, "e2": 0} and got.accounts == {"acc-9": 1}
        assert labels.counts(s) == {"import": {"positive": 1, "negative": 2}}
        [row] = [r for r in repo.all_labels(s) if r.subject_id == "acc-9"]
        assert (row.by, row.note, row.decided_at) == (
            "ana",
            "SAR",
            datetime(2026, 2, 1, tzinfo=UTC),
        )
        actions = s.scalars(select(AuditEntry.action)).all()
        assert actions.count("labels.import") == 3


def test_a_bad_file_imports_nothing_and_names_each_bad_row(engine: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CSV)
    with unit_of_work(session_factory(engine)) as s, pytest.raises(ValidationFailed) as caught:
        labels.import_file(s, AUTHOR, bad)
    assert "3 bad row(s); nothing imported" in caught.value.message
    problems = {(p["row"], p["field"]) for p in caught.value.details}
    assert problems == {(3, "event_id"), (4, "label"), (4, "decided_at"), (5, "event_id")}
    assert _count(engine) == 0


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        (
            "x.ndjson",
            '{"event_id": "e1", "label": 1, "decided_at": "2026-01-01T00:00:00Z"}\n[1]\n',
            "not a JSON object",
        ),
        ("x.ndjson", "{nope\n", "not JSON"),
        ("x.csv", "event_id,label,decided_at\n", "no rows"),
        (
            "x.ndjson",
            '{"event_id": "e", "label": [1], "decided_at": "2026-01-01T00:00:00Z"}\n',
            "1 (bad)",
        ),
        ("x.csv", "event_id,label,decided_at\n" + "e" * 129 + ",1,2026-01-01T00:00:00Z\n", "1-128"),
    ],
)
def test_malformed_files_are_refused(
    engine: Engine, tmp_path: Path, name: str, text: str, reason: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValidationFailed) as caught:
        labels.parse_file(path)
    assert reason in str(caught.value.details)


def test_import_needs_the_permission(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(GOOD_CSV)
    with unit_of_work(session_factory(engine)) as s, pytest.raises(Forbidden):
        labels.import_file(s, ANALYST, path)
    assert _count(engine) == 0


def test_the_latest_decision_of_any_source_wins(engine: Engine) -> None:
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
    with unit_of_work(session_factory(engine)) as s:
        labels.write(s, [labels.LabelIn("event", "e1", 1, early)], "sim", "sim")
        labels.write(s, [labels.LabelIn("event", "e1", 0, late)], "case", "system:cases")
        labels.write(s, [labels.LabelIn("account", "a", 1, late)], "sim", "sim")
        assert labels.training_labels(s).events == {"e1": 0}
        assert labels.training_labels(s, ["sim"]).events == {"e1": 1}
