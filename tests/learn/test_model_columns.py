"""A model version keeps the features it was trained on: after the catalogue grows (ADR
0050 added three), a version trained before scores the columns of its own names, taken
from the monitor's vector by name, and a version naming a feature the catalogue lacks is
left out of the running set, loudly, instead of scoring shifted columns."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from riskops.learn import model as m
from riskops.learn.features import FEATURE_NAMES, words
from riskops.learn.scoring import LoadedModel, UnknownFeatures, load_running
from riskops.learn.stream import FeatureState
from support import money_rows

ADDED = ("cycle4_7d", "sg_7d", "own.gs_7d", "cp.gs_7d")  # what an older catalogue lacked
OLDER = [name for name in FEATURE_NAMES if name not in ADDED]


def _vectors() -> tuple[np.ndarray, np.ndarray]:
    """Transfers whose label is the sender's 24-hour outflow (a column after the added
    transaction features, so a vector handed over whole would shift it)."""
    rng = np.random.default_rng(3)
    state = FeatureState()
    xs, ys = [], []
    for seq in range(1, 1500):
        sender, receiver = f"a{rng.integers(0, 40)}", f"b{rng.integers(0, 40)}"
        cents = int(rng.integers(1_000, 500_000))
        row = money_rows(seq, "transfer.internal", sender, receiver, seq / 200, cents, True)[0]
        vector = state.update(row)
        xs.append(vector)
        ys.append(vector[FEATURE_NAMES.index("own.out_usd_1d")] > 6_000)
    return np.array(xs), np.array(ys, dtype=np.float64)


def _running(artifact: bytes, version: int = 1) -> Any:
    return SimpleNamespace(model_id="aml", version=version, status="live", artifact=artifact)


def test_a_version_trained_on_an_older_catalogue_scores_its_own_columns() -> None:
    x, y = _vectors()
    columns = [FEATURE_NAMES.index(name) for name in OLDER]
    older = x[:, columns]
    params = {"min_data_in_leaf": 5, "bagging_freq": 0, "bagging_fraction": 1.0}
    fit = m.train(older[:1000], y[:1000], older[1000:], y[1000:], OLDER, rounds=30, params=params)
    live = load_running([_running(fit.artifact.encode())]).live
    assert live is not None
    model = m.Model(fit.artifact)
    got = np.array([live.predict(v) for v in x[1000:]])
    want = model.predict_many(older[1000:])
    assert np.allclose(got, want, rtol=0, atol=1e-12)
    shifted = np.array([model.predict(v[: len(OLDER)]) for v in x[1000:]])
    assert not np.allclose(shifted, want)  # what scoring the whole vector would have given
    top = x[1000 + int(np.argmax(got))]  # the reasons say the values of the right columns
    reasons = live.reasons(top, 3)
    assert reasons
    for reason in reasons:
        assert reason.words == words(reason.name, top[FEATURE_NAMES.index(reason.name)])


def test_a_version_naming_an_unknown_feature_is_left_out() -> None:
    x, y = _vectors()
    names = ["usd", "no.such_feature"]
    two = x[:, [0, 1]]
    fit = m.train(two[:1000], y[:1000], two[1000:], y[1000:], names, rounds=5)
    assert load_running([_running(fit.artifact.encode())]).live is None
    with pytest.raises(UnknownFeatures, match=r"no\.such_feature"):
        LoadedModel("aml", 1, False, m.Model(fit.artifact))
