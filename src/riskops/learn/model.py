"""The model: LightGBM trained on labelled feature vectors, calibrated, fast for one row.

``train`` fits a binary LightGBM booster (threads set, deterministic with a seed, early
stopping on a validation slice that lies later in time than the training slice), fits a
Platt calibration (a logistic curve on the booster's raw margin) on the same validation
slice, and chooses the alert threshold there (best F1). The result is an ``Artifact``: the
model text, the calibration, the feature names and the threshold, stored in the registry row
(msgpack), never in a file.

``Model`` scores one vector. LightGBM's own one-row predict costs tens of microseconds of
wrapper overhead per call, so the trees are compiled once into one Python function of nested
comparisons (``compile_trees``) whose raw margin equals LightGBM's (a test holds them to it);
``reasons`` asks LightGBM's ``pred_contrib`` for the per-feature contributions, only when a
score is shown or alerts. ADR 0038.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]
FORMAT = 1
# LightGBM's kZeroThreshold: |x| below it counts as zero (missing type "Zero").
_ZERO = 1e-35


class Artifact(msgspec.Struct, frozen=True):
    """Everything needed to score: stored as the registry row's ``artifact``."""

    model_text: str
    feature_names: list[str]
    platt_a: float  # calibrated score = 1 / (1 + exp(-(a * raw + b)))
    platt_b: float
    threshold: float  # on the calibrated score
    seed: int
    best_iteration: int
    format: int = FORMAT

    def encode(self) -> bytes:
        return msgspec.msgpack.encode(self)

    @staticmethod
    def decode(blob: bytes) -> Artifact:
        return msgspec.msgpack.decode(blob, type=Artifact)


class Reason(msgspec.Struct, frozen=True):
    """One feature's push on a score: its name, its contribution (raw margin), in words."""

    name: str
    contribution: float
    words: str


class Fit(msgspec.Struct, frozen=True):
    """A trained model and what it scored on its validation slice."""

    artifact: Artifact
    valid_scores: list[float]


DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.08,
    "num_leaves": 31,
    "max_depth": 8,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_bin": 127,
    "verbosity": -1,
    "deterministic": True,
    "force_col_wise": True,
}


def train(
    x_train: npt.ArrayLike,
    y_train: npt.ArrayLike,
    x_valid: npt.ArrayLike,
    y_valid: npt.ArrayLike,
    feature_names: Sequence[str],
    *,
    seed: int = 7,
    num_threads: int = 2,
    rounds: int = 400,
    early_stopping: int = 40,
    params: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Fit:
    """Fit, calibrate and choose the threshold; the validation slice must be later in time."""
    import lightgbm as lgb

    xt, yt = np.asarray(x_train, dtype=np.float64), np.asarray(y_train, dtype=np.float64)
    xv, yv = np.asarray(x_valid, dtype=np.float64), np.asarray(y_valid, dtype=np.float64)
    names = list(feature_names)
    if xt.shape[1] != len(names) or xv.shape[1] != len(names):
        raise ValueError(f"expected {len(names)} features per row")
    if len(set(yt.tolist())) < 2:
        raise ValueError("the training slice needs both positive and negative labels")
    config = dict(DEFAULT_PARAMS, **(params or {}))
    config.update(seed=seed, num_threads=num_threads, metric="average_precision")
    safe = [_safe_name(n) for n in names]
    train_set = lgb.Dataset(xt, yt, feature_name=safe, free_raw_data=True)
    valid_set = lgb.Dataset(xv, yv, reference=train_set, free_raw_data=True)
    callbacks: list[Any] = [lgb.early_stopping(early_stopping, verbose=False)]
    if progress is not None:
        callbacks.append(lambda env: progress(env.iteration + 1, rounds))
    booster = lgb.train(config, train_set, rounds, valid_sets=[valid_set], callbacks=callbacks)
    best = booster.best_iteration or booster.current_iteration()
    raw_valid = np.asarray(booster.predict(xv, num_iteration=best, raw_score=True))
    a, b = platt(raw_valid, yv)
    scores = _sigmoid(a * raw_valid + b)
    threshold = best_threshold(scores, yv)
    text = booster.model_to_string(num_iteration=best)
    artifact = Artifact(text, names, a, b, threshold, seed, best)
    return Fit(artifact, scores.tolist())


def _safe_name(name: str) -> str:
    # LightGBM refuses JSON special characters in feature names; the artifact keeps ours
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def _sigmoid(z: Vector) -> Vector:
    out: Vector = 1.0 / (1.0 + np.exp(-z))
    return out


def platt(raw: Vector, y: Vector) -> tuple[float, float]:
    """Fit ``sigmoid(a * raw + b)`` to the labels (Platt); ``a > 0`` keeps the order."""
    if len(set(y.tolist())) < 2:
        return 1.0, 0.0
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), y)
    a, b = float(fitted.coef_[0][0]), float(fitted.intercept_[0])
    if not a > 0 or not math.isfinite(a) or not math.isfinite(b):
        return 1.0, 0.0  # a degenerate fit: LightGBM's own logistic link
    return a, b


def best_threshold(scores: Vector, y: Vector) -> float:
    """The score threshold (flag when score >= it) with the best F1 on these labels."""
    order = np.argsort(-scores, kind="stable")
    ranked, labels = scores[order], y[order]
    positives = float(labels.sum())
    if positives == 0:
        return 1.0
    tp = np.cumsum(labels)
    flagged = np.arange(1, len(labels) + 1)
    # only cut between distinct scores: ties are flagged together
    last = np.r_[ranked[1:] != ranked[:-1], True]
    f1 = np.where(last, 2 * tp / (flagged + positives), -1.0)
    best = int(np.argmax(f1))
    return float(ranked[best])


def metrics(scores: npt.ArrayLike, y: npt.ArrayLike, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 of ``score >= threshold``, with the label counts."""
    s, labels = np.asarray(scores), np.asarray(y)
    flagged = s >= threshold
    tp = float((flagged & (labels == 1)).sum())
    fp = float((flagged & (labels == 0)).sum())
    positives = float((labels == 1).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / positives if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "positives": positives,
        "negatives": float(len(labels)) - positives,
        "flagged": float(flagged.sum()),
    }


# --- scoring --------------------------------------------------------------------------


def compile_trees(dump: dict[str, Any]) -> Callable[[list[float]], float]:
    """One Python function of nested comparisons giving LightGBM's raw margin of a row.

    Follows LightGBM's numerical splits: ``x <= threshold`` goes left; a missing value
    (NaN, or zero for missing type "Zero") follows ``default_left``; for missing type
    "None" NaN counts as 0. Categorical splits are not used by ``train``.
    """
    lines = ["def raw(x):", "    s = 0.0"]
    for tree in dump["tree_info"]:
        _emit(tree["tree_structure"], lines, 1)
    lines.append("    return s")
    namespace: dict[str, Any] = {"isnan": math.isnan}
    exec(compile("\n".join(lines), "<lightgbm trees>", "exec"), namespace)
    fn: Callable[[list[float]], float] = namespace["raw"]
    return fn


def _emit(node: dict[str, Any], lines: list[str], depth: int) -> None:
    pad = "    " * depth
    if "leaf_value" in node:
        lines.append(f"{pad}s += {float(node['leaf_value'])!r}")
        return
    if node.get("decision_type", "<=") != "<=":
        raise ValueError("categorical splits are not supported")
    i, t = int(node["split_feature"]), float(node["threshold"])
    left = bool(node.get("default_left", True))
    missing = node.get("missing_type", "None")
    v = f"x[{i}]"
    if missing == "NaN":
        test = f"not ({v} > {t!r})" if left else f"{v} <= {t!r}"
    elif missing == "Zero":
        is_missing = f"(isnan({v}) or -{_ZERO!r} < {v} < {_ZERO!r})"
        test = f"({left} if {is_missing} else {v} <= {t!r})"
    else:  # None: NaN is read as 0
        test = f"({v} if {v} == {v} else 0.0) <= {t!r}"
    lines.append(f"{pad}if {test}:")
    _emit(node["left_child"], lines, depth + 1)
    lines.append(f"{pad}else:")
    _emit(node["right_child"], lines, depth + 1)


class Model:
    """A stored artifact, ready to score one vector at a time."""

    def __init__(self, artifact: Artifact) -> None:
        import lightgbm as lgb

        self.artifact = artifact
        self.names = artifact.feature_names
        self.threshold = artifact.threshold
        self._a, self._b = artifact.platt_a, artifact.platt_b
        booster = lgb.Booster(model_str=artifact.model_text)
        self._booster = booster
        self._raw = compile_trees(booster.dump_model())

    @classmethod
    def load(cls, blob: bytes) -> Model:
        return cls(Artifact.decode(blob))

    def raw(self, vector: Vector | Sequence[float]) -> float:
        """LightGBM's raw margin (log-odds before calibration)."""
        values = vector.tolist() if isinstance(vector, np.ndarray) else list(vector)
        return self._raw(values)

    def predict(self, vector: Vector | Sequence[float]) -> float:
        """The calibrated score in [0, 1] of one feature vector."""
        z = self._a * self.raw(vector) + self._b
        if z < -700.0:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def predict_many(self, matrix: npt.ArrayLike) -> Vector:
        """Calibrated scores of many rows at once (LightGBM's own predict; for batches)."""
        raw = np.asarray(
            self._booster.predict(np.asarray(matrix, dtype=np.float64), raw_score=True)
        )
        return _sigmoid(self._a * raw + self._b)

    def contributions(self, vector: Vector | Sequence[float]) -> Vector:
        """LightGBM's ``pred_contrib`` of one row: one value per feature, then the bias."""
        row = np.asarray(vector, dtype=np.float64).reshape(1, -1)
        out: Vector = np.asarray(self._booster.predict(row, pred_contrib=True))[0]
        return out

    def reasons(self, vector: Vector | Sequence[float], k: int = 3) -> list[Reason]:
        """The ``k`` features pushing this score up the most, in words."""
        values = np.asarray(vector, dtype=np.float64)
        contrib = self.contributions(values)[: len(self.names)]
        order = sorted(range(len(self.names)), key=lambda j: (-contrib[j], j))
        out = []
        for j in order[:k]:
            if contrib[j] <= 0:
                break
            name = self.names[j]
            out.append(Reason(name, float(contrib[j]), words(name, float(values[j]))))
        return out


def words(name: str, value: float) -> str:
    """A feature's value in words: ``learn.features.words`` when the catalogue has it."""
    try:
        from riskops.learn import features

        said: str = features.words(name, value)
        return said
    except (ImportError, AttributeError, KeyError, ValueError):
        return f"{name.replace('_', ' ')} = {value:g}"
