"""``riskops models``, ``riskops labels import`` and ``riskops train`` end to end: changes go
through the service door as the named operator; errors are a message, never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from riskops.auth.permissions import Principal
from riskops.cli import app
from riskops.kernel.db import open_database, session_factory, unit_of_work
from riskops.learn import registry

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _register(n: int) -> None:
    with unit_of_work(session_factory(open_database())) as s:
        for _ in range(n):
            trained = registry.Trained(b"x", 0.42, T0, T0, {"test": {"f1": 0.81}})
            registry.register(s, Principal.system("test"), "aml", trained)


def test_models_list_show_promote_rollback(data_dir: Path) -> None:
    _register(2)
    runner = CliRunner()
    listed = runner.invoke(app, ["models", "list"])
    assert listed.exit_code == 0, listed.output
    assert "draft" in listed.output and "0.810" in listed.output and "2 versions" in listed.output
    steps = [
        ["models", "promote", "aml", "1", "live", "--why", "first", "--by", "ana"],
        ["models", "promote", "aml", "2", "live", "--why", "better", "--by", "ana"],
        ["models", "rollback", "aml", "1", "--why", "v2 too noisy", "--by", "bo"],
    ]
    for args in steps:
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.output
    shown = runner.invoke(app, ["models", "show", "aml", "1"])
    assert "aml version 1" in shown.output and ": live" in shown.output
    assert "retired -> live by system:cli:bo: v2 too noisy" in shown.output
    refused = runner.invoke(app, ["models", "promote", "aml", "1", "shadow", "--why", "x"])
    assert refused.exit_code == 1 and "cannot become shadow" in refused.output
    missing = runner.invoke(app, ["models", "show", "aml", "9"])
    assert missing.exit_code == 1 and "no version 9" in missing.output
    assert "Traceback" not in refused.output + missing.output


def test_labels_import_good_and_bad(data_dir: Path) -> None:
    good, bad = data_dir / "good.csv", data_dir / "bad.csv"
    good.write_text("event_id,label,decided_at\ne1,1,2026-01-01T00:00:00Z\n")
    bad.write_text("event_id,label,decided_at\ne1,2,2026-01-01T00:00:00Z\ne2,1,yesterday\n")
    runner = CliRunner()
    done = runner.invoke(app, ["labels", "import", str(good)])
    assert done.exit_code == 0, done.output
    assert "1 new, 0 changed, 0 unchanged" in done.output
    refused = runner.invoke(app, ["labels", "import", str(bad)])
    assert refused.exit_code == 1
    assert "2 bad row(s)" in refused.output
    assert "row 2: label" in refused.output and "row 3: decided_at" in refused.output


def test_train_refuses_clearly(data_dir: Path) -> None:
    runner = CliRunner()
    none = runner.invoke(app, ["train"])
    assert none.exit_code == 1 and "exactly one of" in none.output
    unlabelled = runner.invoke(app, ["train", "--stored"])
    assert unlabelled.exit_code == 1 and "no stored labels" in unlabelled.output
    missing = runner.invoke(app, ["train", "--events", str(data_dir / "nope.csv")])
    assert missing.exit_code == 1 and "no such file" in missing.output
    bad_id = runner.invoke(app, ["train", "--stored", "--model", "Bad Id"])
    assert bad_id.exit_code == 1 and "invalid model id" in bad_id.output
    assert "Traceback" not in none.output + unlabelled.output + missing.output
