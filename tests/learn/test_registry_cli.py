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
from support import make_user

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _register(n: int) -> None:
    with unit_of_work(session_factory(open_database())) as s:
        for _ in range(n):
            trained = registry.Trained(b"x", 0.42, T0, T0, {"test": {"f1": 0.81}})
            registry.register(s, Principal.system("test"), "aml", trained)


def _request_id(output: str) -> str:
    """The id in "request #12: ..." of ``models promote``."""
    return output.split("#", 1)[1].split(":", 1)[0]


def test_models_list_show_and_promotion_with_a_second_person(data_dir: Path) -> None:
    _register(2)
    with unit_of_work(session_factory(open_database())) as s:
        make_user(s, "rui", "rule_author")
        make_user(s, "rita", "rule_author")
    runner = CliRunner()
    listed = runner.invoke(app, ["models", "list"])
    assert listed.exit_code == 0, listed.output
    assert "draft" in listed.output and "0.810" in listed.output and "2 versions" in listed.output

    def ask(*args: str, by: str = "rui") -> str:
        done = runner.invoke(app, ["models", "promote", *args, "--as", by])
        assert done.exit_code == 0, done.output
        assert "waits for a second person's approval" in done.output
        return _request_id(done.stdout)

    def approve(request_id: str, by: str = "rita") -> None:
        done = runner.invoke(app, ["models", "approve", request_id, "--as", by])
        assert done.exit_code == 0, done.output

    first = ask("aml", "1", "live", "--why", "first")
    own = runner.invoke(app, ["models", "approve", first, "--as", "rui"])
    assert own.exit_code == 1 and "Traceback" not in own.output  # never one person's word
    shown = runner.invoke(app, ["models", "show", "aml", "1"])
    assert ": draft" in shown.output  # asked, not yet approved
    approve(first)
    approve(ask("aml", "2", "live", "--why", "better"))
    approve(ask("aml", "1", "live", "--why", "v2 too noisy", "--rollback", by="rita"), by="rui")
    shown = runner.invoke(app, ["models", "show", "aml", "1"])
    assert "aml version 1" in shown.output and ": live" in shown.output
    assert "retired -> live by rui" in shown.output
    refused = runner.invoke(
        app, ["models", "promote", "aml", "1", "shadow", "--why", "x", "--as", "rui"]
    )
    assert refused.exit_code == 1 and "Traceback" not in refused.output
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
    stages = runner.invoke(app, ["train", "--stored", "--stages", "3"])
    assert stages.exit_code == 1 and "expected auto, 1 or 2" in stages.output
    assert "Traceback" not in none.output + unlabelled.output + missing.output


def test_numbers_past_the_database_integer_are_refused_with_a_message(data_dir: Path) -> None:
    runner = CliRunner()
    huge = str(2**64)
    for args in (
        ["models", "show", "aml", huge],
        ["models", "promote", "aml", huge, "live", "--why", "x", "--as", "rui"],
        ["models", "approve", huge, "--as", "rui"],
        ["rules", "approve", huge, "--as", "rui"],
        ["rules", "reject", "0", "--as", "rui", "--why", "x"],
    ):
        done = runner.invoke(app, args)
        assert done.exit_code == 2, (args, done.output)
        assert done.exception is None or isinstance(done.exception, SystemExit), args


def test_train_from_a_file_stores_a_draft_with_its_stages(data_dir: Path) -> None:
    from test_evaluate import write_fixture

    from riskops.learn import model as m

    events = data_dir / "small_Trans.csv"
    write_fixture(events)
    runner = CliRunner()
    args = ["train", "--events", str(events), "--rounds", "30", "--by", "test"]
    two = runner.invoke(app, [*args, "--stages", "2"])
    assert two.exit_code == 0, two.output
    assert "stored as a draft" in two.output and "two stages" in two.output
    either = runner.invoke(app, [*args, "--model", "aml-auto"])
    assert either.exit_code == 0, either.output
    with unit_of_work(session_factory(open_database())) as s:
        artifact = m.Artifact.decode(registry.get_artifact(s, "aml", 1))
        assert artifact.first_text and artifact.feature_names[-2:] == [
            "own.score_7d",
            "cp.score_7d",
        ]
        auto = registry.get_version(s, "aml-auto", 1)
    assert auto.metrics["stages"] in (1, 2)
