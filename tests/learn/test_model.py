"""The model: deterministic training, monotone calibration, one-row scores equal to
LightGBM's batch predict, reasons equal ``pred_contrib``'s top features."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.learn import model as m

NAMES = [f"f{i}" for i in range(8)]


def _data(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(NAMES)))
    x[:, 3] = np.round(x[:, 3])  # many exact zeros: LightGBM's "Zero" missing type
    y = (x[:, 0] + x[:, 1] * x[:, 2] + rng.normal(size=n) * 0.5 > 1.2).astype(float)
    x[rng.random(x.shape) < 0.05] = np.nan  # missing values follow default_left
    return x, y


@pytest.fixture(scope="module")
def fit() -> m.Fit:
    x, y = _data(1)
    return m.train(x[:2000], y[:2000], x[2000:], y[2000:], NAMES, seed=5, rounds=60)


def test_training_is_deterministic_with_a_seed(fit: m.Fit) -> None:
    x, y = _data(1)
    again = m.train(x[:2000], y[:2000], x[2000:], y[2000:], NAMES, seed=5, rounds=60)
    assert again.artifact == fit.artifact
    other = m.train(x[:2000], y[:2000], x[2000:], y[2000:], NAMES, seed=6, rounds=60)
    assert other.artifact.model_text != fit.artifact.model_text


def test_the_artifact_round_trips(fit: m.Fit) -> None:
    assert m.Artifact.decode(fit.artifact.encode()) == fit.artifact
    assert fit.artifact.feature_names == NAMES and 0 < fit.artifact.threshold < 1


def test_one_row_scores_equal_lightgbm(fit: m.Fit) -> None:
    model = m.Model(fit.artifact)
    x, _ = _data(2, 500)
    x[:5] = np.nan
    x[5:10] = 0.0
    ours = np.array([model.raw(row) for row in x])
    theirs = np.asarray(model._booster.predict(x, raw_score=True))
    assert np.array_equal(ours, theirs)
    assert np.allclose([model.predict(row) for row in x], model.predict_many(x), atol=1e-12)
    with pytest.raises(ValueError, match="expected 8 features"):
        model.raw(x[0][:5])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=2, max_size=30))
def test_calibration_is_monotone(raws: list[float]) -> None:
    rng = np.random.default_rng(0)
    raw = np.sort(rng.normal(size=400))
    y = (raw + rng.normal(size=400) > 0.5).astype(float)
    a, b = m.platt(raw, y)
    assert a > 0
    probe = np.sort(np.asarray(raws))
    calibrated = 1 / (1 + np.exp(-(a * probe + b)))
    assert np.all(np.diff(calibrated) >= 0)


def test_scores_rise_with_the_raw_margin(fit: m.Fit) -> None:
    model = m.Model(fit.artifact)
    x, _ = _data(3, 300)
    pairs = sorted((model.raw(r), model.predict(r)) for r in x)
    assert all(p1 <= p2 for (_, p1), (_, p2) in itertools.pairwise(pairs))


def test_reasons_are_pred_contribs_top_features(fit: m.Fit) -> None:
    model = m.Model(fit.artifact)
    x, _ = _data(4, 50)
    for row in x:
        contrib = model._booster.predict(row.reshape(1, -1), pred_contrib=True)[0][:-1]
        top = [NAMES[j] for j in np.argsort(-contrib, kind="stable")[:3] if contrib[j] > 0]
        reasons = model.reasons(row, k=3)
        assert [r.name for r in reasons] == top
        assert all(r.words for r in reasons)
        assert [r.contribution for r in reasons] == sorted(
            (r.contribution for r in reasons), reverse=True
        )


def test_best_threshold_and_metrics() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    y = np.array([1.0, 1.0, 0.0, 1.0, 0.0])
    assert m.best_threshold(scores, y) == 0.2  # flags 4: P 3/4, R 1 -> F1 0.857
    got = m.metrics(scores, y, 0.8)
    assert (got["precision"], got["recall"], got["flagged"]) == (1.0, 0.6667, 2.0)


def test_training_refuses_one_class() -> None:
    x, _ = _data(1, 200)
    with pytest.raises(ValueError, match="both positive and negative"):
        m.train(x[:100], np.zeros(100), x[100:], np.zeros(100), NAMES)
