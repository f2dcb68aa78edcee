"""``learn.scoring``: the watch that notices a promotion, models that cannot be loaded, a
learn state that cannot be restored."""

from __future__ import annotations

import msgspec

from riskops.learn import scoring
from riskops.learn.registry import RunningModel


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_watch_reloads_only_when_the_running_versions_change() -> None:
    keys = [("aml", 1, "live")]
    loads: list[int] = []

    def load() -> scoring.ModelSet:
        loads.append(1)
        return scoring.ModelSet()

    clock = Clock()
    watch = scoring.Watch(lambda: list(keys), load, list(keys), every=5.0, clock=clock)
    assert not watch.due()
    clock.now = 5.0
    assert watch.due() and watch.check() is None and not loads
    keys.append(("aml", 2, "shadow"))
    assert watch.check() is not None and len(loads) == 1
    assert watch.current == [("aml", 1, "live"), ("aml", 2, "shadow")]
    assert not watch.due()  # the next check is 5 s later


def test_an_unreadable_registry_keeps_the_current_models() -> None:
    def broken() -> list[tuple[str, int, str]]:
        raise OSError("database gone")

    watch = scoring.Watch(broken, scoring.ModelSet, [("aml", 1, "live")], clock=Clock())
    assert watch.check() is None and watch.current == [("aml", 1, "live")]


def test_a_model_that_cannot_be_loaded_is_left_out() -> None:
    models = scoring.load_running([RunningModel("aml", 1, "live", b"not a model")])
    assert not models and models.live is None


def test_a_state_that_cannot_be_read_starts_afresh() -> None:
    blob = msgspec.msgpack.encode({"format": 1, "features": b"junk", "anomaly": b"junk"})
    restored = scoring.Scoring.restore(scoring.ModelSet(), blob)
    assert restored._features is None and restored._anomaly is None
    assert scoring.hit_rule_id("aml", 12) == "MODEL:aml@12"
