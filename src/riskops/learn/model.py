"""The model: LightGBM trained on labelled feature vectors, calibrated, fast for one row.

``train`` fits a binary LightGBM booster (threads set, deterministic with a seed, early
stopping on a validation slice that lies later in time than the training slice), fits a
Platt calibration (a logistic curve on the booster's raw margin) on the same validation
slice, and chooses the alert threshold there (best F1). The result is an ``Artifact``: the
model text, the calibration, the feature names and the threshold, stored in the registry row
(msgpack), never in a file.

``Model`` scores one vector. LightGBM's Python ``predict`` costs milliseconds per call for
one row (it parses its parameters and starts its threads each time), so ``Model`` calls
LightGBM's own fast single-row C API (``LGBM_BoosterPredictForMatSingleRowFast``, set up
once, one thread): the same trees, the same numbers, about 15 us for 400 trees.
``reasons`` asks the same API for ``pred_contrib`` (the per-feature SHAP contributions),
only when a score is shown or alerts. ADR 0038.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]
FORMAT = 1


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
    # A two-stage model (``learn.stacking``, ADR 0051): the first stage's booster and the
    # catalogue columns it reads; ``feature_names`` then end with ``STACKED_NAMES``.
    first_text: str = ""
    first_names: list[str] = []

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


class _SingleRow:
    """LightGBM's own fast one-row predictor (``LGBM_BoosterPredictForMatSingleRowFast``):
    the C API with its configuration prepared once, one thread, no per-call parsing."""

    RAW, CONTRIB = 1, 3  # C_API_PREDICT_RAW_SCORE, C_API_PREDICT_CONTRIB

    def __init__(self, booster: Any, kind: int, width: int) -> None:
        import lightgbm.basic

        # the C library LightGBM's own wrapper calls (not re-exported: read by name)
        lib: Any = getattr(lightgbm.basic, "_LIB")  # noqa: B009
        check: Callable[[int], None] = getattr(lightgbm.basic, "_safe_call")  # noqa: B009
        self._lib = lib
        self._booster = booster  # keeps the handle alive
        self._handle = ctypes.c_void_p()
        check(
            lib.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(kind),
                ctypes.c_int(0),  # from the first iteration
                ctypes.c_int(-1),  # to the last (the artifact holds the best ones only)
                ctypes.c_int(1),  # C_API_DTYPE_FLOAT64
                ctypes.c_int32(width),
                ctypes.c_char_p(b"num_threads=1"),
                ctypes.byref(self._handle),
            )
        )
        self._out: Vector = np.zeros(width + 1 if kind == self.CONTRIB else 1)
        self._out_ptr = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._out_len = ctypes.c_int64()
        self._call = lib.LGBM_BoosterPredictForMatSingleRowFast
        self._width = width

    def __call__(self, vector: Vector) -> Vector:
        row = np.ascontiguousarray(vector, dtype=np.float64)
        if row.shape != (self._width,):
            raise ValueError(f"expected {self._width} features, got shape {row.shape}")
        status = self._call(
            self._handle,
            row.ctypes.data_as(ctypes.c_void_p),
            ctypes.byref(self._out_len),
            self._out_ptr,
        )
        if status != 0:
            raise RuntimeError(self._lib.LGBM_GetLastError().decode())
        return self._out

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None and handle.value:
            self._lib.LGBM_FastConfigFree(handle)


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
        width = len(self.names)
        self._raw = _SingleRow(booster, _SingleRow.RAW, width)
        self._contrib = _SingleRow(booster, _SingleRow.CONTRIB, width)
        self.first_names = artifact.first_names
        self._first: _SingleRow | None = None
        self._first_booster: Any = None
        if artifact.first_text:
            self._first_booster = lgb.Booster(model_str=artifact.first_text)
            self._first = _SingleRow(self._first_booster, _SingleRow.RAW, len(self.first_names))

    @property
    def stages(self) -> int:
        return 1 if self._first is None else 2

    def first_score(self, vector: Vector | Sequence[float]) -> float:
        """A two-stage model's first-stage probability of one row (its ``first_names``
        columns), as LightGBM's own ``predict`` gives it."""
        if self._first is None:
            raise ValueError("a one-stage model has no first stage")
        raw = float(self._first(np.asarray(vector, dtype=np.float64))[0])
        return 0.0 if raw < -700.0 else 1.0 / (1.0 + math.exp(-raw))

    @classmethod
    def load(cls, blob: bytes) -> Model:
        return cls(Artifact.decode(blob))

    def raw(self, vector: Vector | Sequence[float]) -> float:
        """LightGBM's raw margin (log-odds before calibration) of one row."""
        return float(self._raw(np.asarray(vector, dtype=np.float64))[0])

    def predict(self, vector: Vector | Sequence[float]) -> float:
        """The calibrated score in [0, 1] of one feature vector."""
        z = self._a * self.raw(vector) + self._b
        if z < -700.0:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def first_many(self, matrix: npt.ArrayLike) -> Vector:
        """First-stage probabilities of many rows (``first_names`` columns; for batches)."""
        if self._first_booster is None:
            raise ValueError("a one-stage model has no first stage")
        rows = np.asarray(matrix, dtype=np.float64)
        return np.asarray(self._first_booster.predict(rows), dtype=np.float64)

    def predict_many(self, matrix: npt.ArrayLike) -> Vector:
        """Calibrated scores of many rows at once (LightGBM's own predict; for batches)."""
        raw = np.asarray(
            self._booster.predict(np.asarray(matrix, dtype=np.float64), raw_score=True)
        )
        return _sigmoid(self._a * raw + self._b)

    def contributions(self, vector: Vector | Sequence[float]) -> Vector:
        """LightGBM's ``pred_contrib`` of one row: one value per feature, then the bias."""
        return self._contrib(np.asarray(vector, dtype=np.float64)).copy()

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
