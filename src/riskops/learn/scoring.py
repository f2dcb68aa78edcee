"""What the monitor calls: features -> the live model's score (and the shadow's) -> anomaly.

``Scoring.step(row)`` runs for every flat row before the rules: for a money event it
updates the feature state (``learn.stream.FeatureState``), scores the vector with the live
model (``row["model.score"]``) and observes it in the anomaly state
(``row["anomaly.score"]``, ``learn.anomaly``), so rules can use both fields. ``hits(row)``
then gives what the learning side adds to the row's evaluation, after the rules ran:

- a **live model hit** (score >= the version's threshold): action review, rule id
  ``MODEL:<model id>@<version>``, its reason the top ``pred_contrib`` features in words;
- a **shadow model hit**: recorded (``shadow=True``), never acting, its reason the score;
- an **anomaly** (score >= ``learn.anomaly.THRESHOLD``): rule id ``ANOMALY``, action allow,
  so the decision names it (and the case shows it) without raising an alert of its own;
  a rule on ``anomaly.score`` is how an exchange makes it act.

All of this runs only while a model is live or in shadow: with none, ``step`` returns at
once and the monitor is as before. The shadow period is what warms the feature windows
before a model goes live (ADR 0038). The state (features and anomaly) is ``snapshot``'s
bytes, restored with ``restore``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from riskops.kernel.logging import get_logger
from riskops.learn.anomaly import RULE_ID as ANOMALY_RULE_ID
from riskops.learn.anomaly import AnomalyState, peer_of, receiver_view
from riskops.learn.features import FEATURE_NAMES, STACKED_NAMES
from riskops.learn.model import Model, Reason
from riskops.learn.stacking import Memory
from riskops.learn.stream import FeatureState, counterparty_account, is_money
from riskops.rules.types import Action, Hit

log = get_logger(__name__)

MODEL_TYPOLOGY = "model"
ANOMALY_TYPOLOGY = "anomaly"
REASONS = 3
_FORMAT = 1


def hit_rule_id(model_id: str, version: int) -> str:
    """The rule id a model version's hits are recorded under (``monitor_alerts.rule_id``)."""
    return f"MODEL:{model_id}@{version}"


class UnknownFeatures(ValueError):
    """A model asks for features the catalogue does not have (``learn.features``)."""


class LoadedModel:
    """A running version, ready to score the monitor's vectors (``FEATURE_NAMES`` order).

    A version keeps the features it was trained on: one trained before the catalogue
    grew scores the columns of its own names, taken from the monitor's vector by name
    (a vector handed over whole would shift every column after an added feature).

    A two-stage version (``learn.stacking``) also keeps, per account, its first stage's
    scores of the recent transactions (``memory``): ``observe`` runs for every money row
    0, before ``predict``, and extends the vector with both sides' highest earlier score.
    """

    __slots__ = (
        "_stacked",
        "columns",
        "first_columns",
        "memory",
        "model",
        "model_id",
        "rule_id",
        "shadow",
        "version",
    )

    def __init__(self, model_id: str, version: int, shadow: bool, model: Model) -> None:
        self.model_id = model_id
        self.version = version
        self.shadow = shadow
        self.model = model
        self.rule_id = hit_rule_id(model_id, version)
        two = model.stages == 2
        self.columns = _columns_of(model.names, _EXTENDED if two else FEATURE_NAMES)
        self.first_columns = _columns_of(model.first_names, FEATURE_NAMES) if two else None
        self.memory: Memory | None = Memory() if two else None
        self._stacked = (0.0, 0.0)

    @property
    def key(self) -> str:
        return f"{self.model_id}@{self.version}"

    def observe(self, row: dict[str, Any], vector: npt.NDArray[np.float64], ts: int) -> None:
        """A two-stage version's step for a money row 0 and its catalogue vector: read both
        sides' highest earlier first-stage score, then add this transaction's to both."""
        memory = self.memory
        if memory is None:
            return
        columns = self.first_columns
        score = self.model.first_score(vector if columns is None else vector[columns])
        other = counterparty_account(row)
        self._stacked = memory.step(str(row["account_id"]), other, ts, score)

    def view(self, vector: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The model's own columns of a monitor vector (after ``observe`` for two stages)."""
        if self.memory is not None:
            vector = np.append(vector, self._stacked)
        return vector if self.columns is None else vector[self.columns]

    def predict(self, vector: npt.NDArray[np.float64]) -> float:
        return self.model.predict(self.view(vector))

    def reasons(self, vector: npt.NDArray[np.float64], k: int) -> list[Reason]:
        return self.model.reasons(self.view(vector), k)


_EXTENDED = FEATURE_NAMES + STACKED_NAMES


def _columns_of(names: Sequence[str], catalogue: Sequence[str]) -> npt.NDArray[np.intp] | None:
    """Where a model's features stand in the vector of ``catalogue``'s columns; None when
    they are that vector. Raises ``UnknownFeatures`` for a name the catalogue lacks."""
    if list(names) == list(catalogue):
        return None
    index = {name: i for i, name in enumerate(catalogue)}
    unknown = [name for name in names if name not in index]
    if unknown:
        raise UnknownFeatures(f"features not in the catalogue: {', '.join(unknown[:5])}")
    return np.array([index[name] for name in names], dtype=np.intp)


class ModelSet:
    """The running versions: at most one live model scores ``model.score``."""

    def __init__(self, models: Sequence[LoadedModel] = ()) -> None:
        self.models = list(models)
        self.live = next((m for m in self.models if not m.shadow), None)
        self.shadows = [m for m in self.models if m.shadow]
        self.staged = [m for m in self.models if m.memory is not None]  # two-stage versions
        self.keys = sorted(
            (m.model_id, m.version, "shadow" if m.shadow else "live") for m in self.models
        )

    def __bool__(self) -> bool:
        return bool(self.models)


def load_running(running: Sequence[Any]) -> ModelSet:
    """Models from ``registry.running``'s rows; one that cannot be loaded is left out, loudly.

    Several model ids may be live at once; the first (by id) scores ``model.score`` and
    the others record shadow hits only.
    """
    models: list[LoadedModel] = []
    live_taken = False
    for row in sorted(running, key=lambda r: (r.model_id, r.version)):
        shadow = row.status != "live" or live_taken
        try:
            loaded = LoadedModel(row.model_id, row.version, shadow, Model.load(row.artifact))
        except Exception as exc:
            log.error(
                "learn.model_unloadable",
                model=row.model_id,
                version=row.version,
                error=type(exc).__name__,
                reason=str(exc)[:200],
            )
            continue
        live_taken = live_taken or not shadow
        models.append(loaded)
    return ModelSet(models)


class _Snapshot(msgspec.Struct, frozen=True):
    format: int
    features: bytes | None
    anomaly: bytes | None
    memories: dict[str, bytes] = {}  # a two-stage version's first-stage scores, by key


class Scoring:
    """The monitor's learning state and step; one per monitor (not thread-safe)."""

    def __init__(self, models: ModelSet | None = None, features: Any = None, anomaly: Any = None):
        self.models = models or ModelSet()
        self._features = features
        self._anomaly = anomaly
        self._vector: npt.NDArray[np.float64] | None = None
        self._anomaly_now: Any = None
        self._last: tuple[int, float | None] = (-1, None)  # (seq, live score) of the last row 0
        self._last_vector: npt.NDArray[np.float64] | None = None  # the last row 0's vector
        if self.models:
            self._ensure_state()  # before the first event: the anomaly step compiles

    # -- state -------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return bool(self.models)

    def _ensure_state(self) -> None:
        if self._features is None:
            self._features = FeatureState()
        if self._anomaly is None:
            self._anomaly = _new_anomaly()

    def swap(self, models: ModelSet) -> None:
        """Score with other versions from the next row on (the state is kept, and so are
        the first-stage scores of a two-stage version that keeps running)."""
        kept = {m.key: m.memory for m in self.models.models if m.memory is not None}
        for loaded in models.models:
            memory = kept.get(loaded.key)
            if loaded.memory is not None and memory is not None:
                loaded.memory = memory
        self.models = models
        if models:
            self._ensure_state()

    def snapshot(self) -> bytes:
        features = self._features.snapshot() if self._features is not None else None
        anomaly = self._anomaly.snapshot() if self._anomaly is not None else None
        memories = {m.key: m.memory.snapshot() for m in self.models.models if m.memory is not None}
        return msgspec.msgpack.encode(_Snapshot(_FORMAT, features, anomaly, memories))

    @classmethod
    def restore(cls, models: ModelSet, blob: bytes) -> Scoring:
        """The state a ``snapshot`` was taken of; a part that cannot be read starts afresh
        (logged), as after a change of the feature catalogue."""
        snap = msgspec.msgpack.decode(blob, type=_Snapshot)
        features = anomaly = None
        if snap.features is not None:
            try:
                features = FeatureState.restore(snap.features)
            except Exception as exc:
                log.warning("learn.features_not_restored", error=str(exc)[:200])
        if snap.anomaly is not None:
            anomaly = _restore_anomaly(snap.anomaly)
        for loaded in models.models:
            kept = snap.memories.get(loaded.key)
            if loaded.memory is not None and kept is not None:
                try:
                    loaded.memory = Memory.restore(kept)
                except Exception as exc:
                    log.warning("learn.memory_not_restored", model=loaded.key, error=str(exc)[:200])
        return cls(models, features, anomaly)

    # -- per row ---------------------------------------------------------------------------

    def step(self, row: dict[str, Any]) -> None:
        """Before the rules: fill ``model.score`` and ``anomaly.score`` of a money row."""
        self._vector = None
        self._anomaly_now = None
        if not self.models or not is_money(row):
            return
        if row["row"] != 0:  # a transfer's receiver row: the same transaction, same score
            if self._last[0] == row["seq"]:
                row["model.score"] = self._last[1]
                if self._anomaly is not None and self._last_vector is not None:
                    # the receiver's own anomaly: its side of the vector (ADR 0039)
                    view = receiver_view(self._last_vector)
                    found = self._anomaly.observe(
                        row["account_id"], peer_of(row), row["ts_us"], view
                    )
                    self._anomaly_now = found
                    row["anomaly.score"] = float(found.score)
            return
        self._ensure_state()
        vector = self._features.update(row)
        self._vector = self._last_vector = vector
        for loaded in self.models.staged:
            loaded.observe(row, vector, self._features.clock)
        live = self.models.live
        score = live.predict(vector) if live is not None else None
        row["model.score"] = score
        self._last = (row["seq"], score)
        if self._anomaly is not None:
            found = self._anomaly.observe(row["account_id"], peer_of(row), row["ts_us"], vector)
            self._anomaly_now = found
            row["anomaly.score"] = float(found.score)

    def hits(self, row: dict[str, Any]) -> list[Hit]:
        """After the rules: the model's hits on a row 0, the anomaly's on either row."""
        found = self._anomaly_now
        named: list[Hit] = []
        if found is not None and found.high:
            reason = found.reason[:2000]
            named.append(Hit(ANOMALY_RULE_ID, 1, Action.ALLOW, 0, reason, ANOMALY_TYPOLOGY))
        vector = self._vector
        if vector is None or row["row"] != 0:
            return named  # a receiver's row: its anomaly only
        out: list[Hit] = []
        live = self.models.live
        score = row.get("model.score")
        if live is not None and score is not None and score >= live.model.threshold:
            out.append(_model_hit(live, score, vector))
        for shadow in self.models.shadows:
            shadow_score = shadow.predict(vector)
            if shadow_score >= shadow.model.threshold:
                reason = (
                    f"shadow model {shadow.model_id} v{shadow.version} score {shadow_score:.2f}"
                )
                out.append(
                    Hit(
                        shadow.rule_id,
                        shadow.version,
                        Action.REVIEW,
                        round(100 * shadow_score),
                        reason,
                        MODEL_TYPOLOGY,
                        shadow=True,
                    )
                )
        return out + named


def _model_hit(live: LoadedModel, score: float, vector: npt.NDArray[np.float64]) -> Hit:
    try:
        said = " · ".join(r.words for r in live.reasons(vector, REASONS))
    except Exception as exc:  # a reason is not worth losing the alert over
        log.warning("learn.reasons_failed", model=live.model_id, error=type(exc).__name__)
        said = ""
    reason = f"model {live.model_id} v{live.version} score {score:.2f}: {said or 'no reason'}"
    return Hit(
        live.rule_id, live.version, Action.REVIEW, round(100 * score), reason[:2000], MODEL_TYPOLOGY
    )


def _new_anomaly() -> Any:
    try:
        return AnomalyState()
    except Exception as exc:  # the anomaly side is optional: the model still scores
        log.warning("learn.anomaly_unavailable", error=type(exc).__name__)
        return None


def _restore_anomaly(blob: bytes) -> Any:
    try:
        return AnomalyState.restore(blob)
    except Exception as exc:
        log.warning("learn.anomaly_not_restored", error=str(exc)[:200])
        return None


class Watch:
    """Notices a promotion: compares the registry's running versions every ``every`` s."""

    def __init__(
        self,
        keys: Callable[[], list[tuple[str, int, str]]],
        load: Callable[[], ModelSet],
        current: list[tuple[str, int, str]],
        every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self._load = load
        self.current = current
        self.every = every
        self.clock = clock
        self._next = clock() + every

    def expire(self) -> None:
        """Check at the next row (a test, or a caller told of a promotion)."""
        self._next = self.clock()

    def due(self) -> bool:
        return self.clock() >= self._next

    def check(self) -> ModelSet | None:
        """A new model set when the running versions changed, else None (errors: None)."""
        self._next = self.clock() + self.every
        try:
            keys = self._keys()
            if keys == self.current:
                return None
            models = self._load()
        except Exception as exc:
            log.warning("learn.registry_unreadable", error=type(exc).__name__)
            return None
        self.current = keys
        log.info("learn.models_reloaded", running=[f"{m}@{v}:{s}" for m, v, s in keys])
        return models
