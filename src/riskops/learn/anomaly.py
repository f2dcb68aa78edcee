"""Anomaly scores without labels: how far an account's event is from its own baseline and
from its peers', with the features that deviate named (ADR 0039).

``AnomalyState.observe`` takes one money event's feature vector (``learn.features``,
``FEATURE_NAMES`` order), scores it against the state *before* the event, then folds the
event in. Two baselines per feature, both exponentially weighted in event time:

- **own**: the account's mean and variance (half-life ``OWN_HALF_LIFE_US``); it counts only
  once the account is warm (``WARMUP_EVENTS`` events over at least ``WARMUP_US``);
- **peers**: the same statistics over every event of the account's peer group
  (``peer_of``: the event's family and the account's rating band), half-life
  ``PEER_HALF_LIFE_US``, warm after ``PEER_WARMUP_EVENTS`` events.

Values are compared on the ``asinh`` scale (about ``sign(x) * log(2|x|)`` for large values,
``x`` near 0): counts and amounts are heavy-tailed, and 14 against 1 should weigh what
1,400 against 100 does. The variance has a floor (``FLOOR``: a change of a third is never
extreme on its own) and each update is winsorised at ``CLIP`` standard deviations, so that
one wild value neither becomes the baseline nor widens it much. NaN means "no value" (the
feature neither deviates nor learns); infinities and huge values are capped.

The score (``Anomaly.score``) is in [0, 1]: per feature the excess of its z-score over
``Z_OWN`` (own baseline) or ``Z_PEERS`` (peers; weighted by how little history the account
has of its own, ``PRIOR``), the larger of the two; ``E`` the Euclidean norm of those
excesses over the features; ``score = 1 - 2 ** (-E / E_HALF)``. So 0 is "nothing beyond the
usual", 0.5 is one feature one standard deviation beyond its bar (E = 1), 0.75 is E = 2
(``THRESHOLD``: where the monitor names the anomaly on the decision), 0.875 is E = 3. The
score never falls when a deviation grows (monotone) and reaches 1.0 only by rounding,
for E beyond ~50 (an infinite or absurd value).

The per-event work is one pass over the features, compiled (``learn.anomaly_step``, ADR
0052): O(features), no loop over history; Python names the few features that deviate.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt

from riskops.learn.peers import peer_of as peer_of
from riskops.learn.peers import receiver_view as receiver_view

Vector = npt.NDArray[np.float64]
Versus = Literal["own", "peers"]

THRESHOLD = 0.75
"""Score from which the monitor names the anomaly on the decision (and a rule may act)."""
RULE_ID = "ANOMALY"
"""The rule id the monitor records anomaly reasons under (decision reasons, alerts)."""

DAY_US = 86_400_000_000
OWN_HALF_LIFE_US = 14 * DAY_US
PEER_HALF_LIFE_US = 3 * DAY_US
WARMUP_EVENTS = 8
WARMUP_US = DAY_US
PEER_WARMUP_EVENTS = 200
FLOOR = 0.3  # on the log scale: the smallest standard deviation a baseline is given
CLIP = 3.0  # updates are winsorised at this many standard deviations...
CLIP_AFTER = 3  # ...once the row has seen this many events
PRIOR = 8.0  # a young baseline's variance leans on its peers' as if they were this many events
Z_OWN = 3.0
Z_PEERS = 4.0
E_HALF = 1.0
MAX_DEVIATIONS = 5
_CAP = math.asinh(1e12)  # |values| beyond 1e12 (and infinities) count as 1e12
_FLOOR2 = FLOOR * FLOOR
_FORMAT = 1


def _unscale(t: float) -> float:
    """A baseline back in the feature's own units (the inverse of ``asinh``)."""
    return math.sinh(t) if math.isfinite(t) else math.nan


def _number(value: float) -> str:
    """A value as an analyst reads it: whole numbers plain, others to 3 significant digits."""
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    rounded = round(value)
    if abs(value - rounded) < 0.05 * max(1.0, abs(value)) and abs(value) >= 0.95:
        return f"{rounded:,}"
    return f"{value:,.3g}"


def _default_words(name: str, value: float) -> str:
    return f"{name.replace('_', ' ')} {_number(value)}"


class Deviation:
    """One feature that deviates: its value now, the account's usual value (``baseline``,
    from its own history), the peers' usual value, and the z-score of the comparison that
    counted most (``versus``)."""

    __slots__ = ("_number", "_phrase", "baseline", "name", "peers", "value", "versus", "z")

    def __init__(
        self,
        name: str,
        value: float,
        baseline: float,
        peers: float,
        z: float,
        versus: Versus,
        phrase: Callable[[str, float], str] = _default_words,
        number: Callable[[str, float], str] | None = None,
    ) -> None:
        self.name = name
        self.value = value
        self.baseline = baseline  # NaN while the account has no baseline of its own
        self.peers = peers  # NaN while the peer group is not warm
        self.z = z
        self.versus: Versus = versus
        self._phrase = phrase
        self._number = number

    def _say(self, value: float) -> str:
        try:
            return self._number(self.name, value) if self._number else _number(value)
        except Exception:
            return _number(value)

    @property
    def words(self) -> str:
        """A sentence for the analyst, e.g. "sent to 14 distinct accounts today; usually 1
        (own baseline), peers 2"."""
        try:
            said = str(self._phrase(self.name, self.value))
        except Exception:  # a phrase book that fails on a value must not lose the reason
            said = _default_words(self.name, self.value)
        parts = []
        if not math.isnan(self.baseline):
            parts.append(f"usually {self._say(self.baseline)} (own baseline)")
        if not math.isnan(self.peers):
            parts.append(f"peers {self._say(self.peers)}")
        if math.isnan(self.baseline):
            parts.append("too little history for an own baseline")
        return f"{said}; {', '.join(parts)}"

    def __repr__(self) -> str:
        return (
            f"Deviation({self.name!r}, value={self.value!r}, baseline={self.baseline!r}, "
            f"peers={self.peers!r}, z={self.z:.2f}, versus={self.versus!r})"
        )


class Anomaly:
    """The anomaly of one event: ``score`` in [0, 1] (see the module's docstring) and the
    deviating features, most deviant first (at most ``MAX_DEVIATIONS``)."""

    __slots__ = ("deviations", "score")

    def __init__(self, score: float, deviations: list[Deviation]) -> None:
        self.score = score
        self.deviations = deviations

    @property
    def high(self) -> bool:
        return self.score >= THRESHOLD

    @property
    def reason(self) -> str:
        """The decision's reason text: ``anomaly 0.93: <deviation> · <deviation>``
        (``parse_reason`` reads it back for the case page)."""
        said = " · ".join(d.words for d in self.deviations) or "no deviation"
        return f"anomaly {self.score:.2f}: {said}"

    def __repr__(self) -> str:
        return f"Anomaly(score={self.score:.3f}, deviations={self.deviations!r})"


NOTHING = Anomaly(0.0, [])

_REASON = re.compile(r"anomaly (?P<score>0(?:\.\d+)?|1(?:\.0+)?): (?P<rest>.*)", re.DOTALL)


def parse_reason(text: object) -> tuple[float | None, list[str]]:
    """The score and the deviation sentences of a stored reason (``Anomaly.reason``); a
    text of another shape gives (None, [the text]) and a non-text (None, [])."""
    if not isinstance(text, str) or not text.strip():
        return None, []
    match = _REASON.fullmatch(text.strip())
    if match is None:
        return None, [text.strip()]
    parts = [p.strip() for p in match["rest"].split(" · ") if p.strip()]
    return float(match["score"]), parts


_OWN_SAID = re.compile(r"usually (?P<v>.+?) \(own baseline\)")
_PEERS_SAID = re.compile(r"peers (?P<v>.+?)(?:, too little history for an own baseline)?$")


def split_deviation(text: str) -> tuple[str, str | None, str | None]:
    """A deviation's sentence (``Deviation.words``) as (what happened, the account's usual
    value, the peers' usual value), for a table; a sentence of another shape is returned
    whole, with (None, None)."""
    what, sep, rest = text.rpartition("; ")
    if not sep:
        return text, None, None
    own, peers = _OWN_SAID.search(rest), _PEERS_SAID.search(rest)
    if own is None and peers is None:
        return text, None, None
    return what, own["v"] if own else None, peers["v"] if peers else None


ANOMALY_FEATURES: tuple[str, ...] = (
    "usd",
    *(
        f"own.{direction}_{what}_{window}"
        for what in ("n", "cp")
        for window in ("1d", "7d", "30d")
        for direction in ("out", "in")
    ),
    *(f"own.{direction}_usd_{window}" for window in ("1d", "7d") for direction in ("out", "in")),
)
"""The features of ``learn.features`` an anomaly is scored on: the account's own activity
(counts, distinct counterparties and sums over its windows) and the amount. Not the
counterparty's (``cp.*``: its anomaly is its own), not the indicators (direction, round
amount), not the ever-growing count of all payments, not the hours since a payment (bursts
show in the 1-day counts), not the amount against the account's mean (the amount against
its own baseline is that already) and not the pass-through ratio (out over in + $1: any
withdrawal of an older balance makes it huge)."""
DIRECTION_COLUMN = "out"
"""The column that says the event sends (1) or receives (0): an outgoing event is scored on
the features of money out (``*.out_*``) and the amount, an incoming one on money in, so
that a deposit is not an anomaly for yesterday's withdrawals."""


def _feature_catalogue() -> tuple[
    list[str], Callable[[str, float], str], Callable[[str, float], str]
]:
    """``learn.features``' names, phrase book, and a formatter of values in each feature's
    own format (``$1,200``, ``3``, ``45%``, taken from its words template)."""
    from riskops.learn import features

    formats: dict[str, tuple[str, str]] = {}
    for feature in features.CATALOGUE:
        found = _SPEC.search(feature.template)
        if found is not None:
            formats[feature.name] = (found["dollar"], found["spec"])

    def number(name: str, value: float) -> str:
        dollar, spec = formats.get(name, ("", ""))
        if not spec or not math.isfinite(value):
            return _number(value)
        try:
            return dollar + format(value, spec)
        except ValueError:
            return _number(value)

    return list(features.FEATURE_NAMES), features.words, number


@functools.cache
def _step() -> Callable[..., float]:
    """The compiled step: numba imported and the step compiled (or read from numba's
    cache) by a first call on one feature of two rows, the argument types of every call."""
    from riskops.learn.anomaly_step import step

    one, two, pair = np.ones(1), np.ones(2), np.empty((2, 1))
    step(
        np.full((2, 1), np.nan), np.zeros((2, 1)), 0, 1, one, np.zeros(1, dtype=np.intp),
        one, np.ones(1, dtype=bool), one, False, _FLOOR2, _CAP, 1.0, two, two, two, two,
        pair, pair.copy(), pair.copy(), one.copy(), np.zeros(3, dtype=np.int64),
    )  # fmt: skip
    return step


_SPEC = re.compile(r"(?P<dollar>\$?)\{v:(?P<spec>[^}]*)\}")


class _Snapshot(msgspec.Struct, frozen=True):
    format: int
    names: list[str]
    accounts: list[str]
    account_rows: list[int]
    peers: list[str]
    peer_rows: list[int]
    count: list[int]
    first_us: list[int]
    last_us: list[int]
    weight: list[float]
    mean: bytes  # float64 [rows, features]
    var: bytes


class AnomalyState:
    """Per-account and per-peer-group baselines; ``observe`` scores one event and learns it.

    ``names`` are the vector's columns in order (default: ``learn.features.FEATURE_NAMES``),
    ``use`` the columns scored (default: ``ANOMALY_FEATURES`` of the default columns, else
    every column) and ``words`` says a value in words (default ``learn.features.words``).
    A feature deviates when it rises above its baselines (a fall is a customer going quiet,
    not a risk); one named in ``two_sided`` also when it falls.

    Memory: 16 bytes per feature per account (mean and variance, float64) plus a few
    scalars; an account's row is never dropped (like the rules' per-account state).
    """

    def __init__(
        self,
        names: Sequence[str] | None = None,
        words: Callable[[str, float], str] | None = None,
        *,
        use: Sequence[str] | None = None,
        two_sided: Sequence[str] = (),
    ) -> None:
        number: Callable[[str, float], str] | None = None
        if names is None:
            names, catalogue_words, number = _feature_catalogue()
            words = words or catalogue_words
            use = ANOMALY_FEATURES if use is None else use
        columns = list(names)
        if not columns or len(set(columns)) != len(columns):
            raise ValueError("feature names must be given, each once")
        self.names = list(columns if use is None else use)
        unknown = (set(self.names) | set(two_sided)) - set(columns)
        if unknown or not self.names or len(set(self.names)) != len(self.names):
            raise ValueError(f"the features to use must be columns, each once: {sorted(unknown)}")
        self.words: Callable[[str, float], str] = words or _default_words
        self._number = number
        self.two_sided = tuple(two_sided)
        self._columns = np.array([columns.index(n) for n in self.names], dtype=np.intp)
        self._shape = (len(columns),)
        width = len(self.names)
        self._down: Vector = np.array([n in two_sided for n in self.names], dtype=np.float64)
        # Which features an outgoing (1) or incoming (0) event is scored on; with no
        # direction column, all of them.
        self._direction = columns.index(DIRECTION_COLUMN) if DIRECTION_COLUMN in columns else -1
        outgoing = [".in_" not in n for n in self.names]
        incoming = [".out_" not in n for n in self.names]
        if self._direction < 0:
            outgoing = [True] * width
        self._scored = [np.array(m, dtype=np.float64) for m in (incoming, outgoing)]
        self._needed = [np.array(m, dtype=bool) for m in (incoming, outgoing)]
        # Accounts and peer groups are rows of the same arrays; the dicts say whose a row is.
        self._accounts: dict[str, int] = {}
        self._peers: dict[str, int] = {}
        self._count: list[int] = []
        self._first: list[int] = []
        self._last: list[int] = []
        self._weight: list[float] = []
        # bit d: every feature scored in direction d has had a value in the row
        self._complete: list[int] = []
        self._mean, self._var = self._empty(16)
        # The step's arguments and out arrays, reused by every event.
        self._rate = np.empty(2)
        self._clip = np.empty(2)
        self._weights = np.empty(2)
        self._z_bar: Vector = np.array([Z_OWN, Z_PEERS])
        self._before = np.empty((2, width))
        self._z = np.empty((2, width))
        self._excess = np.empty((2, width))
        self._best = np.empty(width)
        self._flags = np.zeros(3, dtype=np.int64)
        _step()  # compiled now, not on the first event

    def _empty(self, rows: int) -> tuple[Vector, Vector]:
        # no mean before a feature's first value
        return np.full((rows, len(self.names)), np.nan), np.zeros((rows, len(self.names)))

    @property
    def accounts(self) -> int:
        """How many accounts have a baseline (warm or not)."""
        return len(self._accounts)

    def _new_row(self, index: dict[str, int], key: str, ts_us: int) -> int:
        row = len(self._count)
        if row == len(self._mean):
            mean, var = self._empty(2 * row)
            mean[:row] = self._mean
            var[:row] = self._var
            self._mean, self._var = mean, var
        index[key] = row
        self._count.append(0)
        self._first.append(ts_us)
        self._last.append(ts_us)
        self._weight.append(0.0)
        self._complete.append(0)
        return row

    def observe(self, account_id: str, peer: str, ts_us: int, vector: npt.ArrayLike) -> Anomaly:
        """Score the event's features against the account's and its peer group's baselines
        as they stood before it, then learn it. Values never make it raise (NaN is "no
        value", infinities and huge values are capped); a vector of the wrong length is a
        ValueError."""
        x = np.ascontiguousarray(vector, dtype=np.float64)
        if x.shape != self._shape:
            raise ValueError(f"expected {self._shape[0]} features, got shape {x.shape}")
        way = 1 if self._direction < 0 else int(x[self._direction] == 1.0)
        own = self._accounts.get(account_id)
        if own is None:
            own = self._new_row(self._accounts, account_id, ts_us)
        group = self._peers.get(peer)
        if group is None:
            group = self._new_row(self._peers, peer, ts_us)
        bit = 1 << way
        complete = self._complete[own] & bit != 0 and self._complete[group] & bit != 0
        # A young baseline's variance leans on its peers' (its own is mostly not there yet).
        lean = PRIOR / (self._weight[own] + PRIOR)
        own_warm = self._count[own] >= WARMUP_EVENTS and ts_us - self._first[own] >= WARMUP_US
        peer_warm = self._count[group] >= PEER_WARMUP_EVENTS
        weights = self._weights
        weights[0] = 1.0 if own_warm else 0.0
        weights[1] = (lean if own_warm else 1.0) if peer_warm else 0.0
        self._advance(own, 0, ts_us, OWN_HALF_LIFE_US)
        self._advance(group, 1, ts_us, PEER_HALF_LIFE_US)
        flags = self._flags
        total2 = _step()(
            self._mean, self._var, own, group, x, self._columns, self._scored[way],
            self._needed[way], self._down, complete, _FLOOR2, _CAP, lean, weights, self._z_bar,
            self._rate, self._clip, self._before, self._z, self._excess, self._best, flags,
        )  # fmt: skip
        if not flags[0]:
            if flags[1]:
                self._complete[own] |= bit
            if flags[2]:
                self._complete[group] |= bit
        if total2 <= 0.0:
            return NOTHING
        return self._anomaly(x[self._columns], math.sqrt(total2), own_warm, weights[1] > 0.0)

    def _anomaly(self, x: Vector, total: float, own_warm: bool, peers: bool) -> Anomaly:
        """The score and the deviations, from the step's out arrays (``peers``: the peers'
        comparison counted)."""
        best, excess, mean, z = self._best, self._excess, self._before, self._z
        deviations = []
        for i in np.argsort(-best, kind="stable")[:MAX_DEVIATIONS].tolist():
            if best[i] <= 0.0:
                break
            versus: Versus = "own" if excess[0, i] >= excess[1, i] else "peers"
            deviations.append(
                Deviation(
                    name=self.names[i],
                    value=float(x[i]),
                    baseline=_unscale(float(mean[0, i])) if own_warm else math.nan,
                    peers=_unscale(float(mean[1, i])) if peers else math.nan,
                    z=float(z[0 if versus == "own" else 1, i]),
                    versus=versus,
                    phrase=self.words,
                    number=self._number,
                )
            )
        return Anomaly(1.0 - 2.0 ** (-total / E_HALF), deviations)

    def _advance(self, row: int, slot: int, ts_us: int, half_life: int) -> None:
        """The row's weight decays with the time since its last event, then counts this
        one; its learning rate is 1 / weight (an exponentially weighted mean in time)."""
        elapsed = ts_us - self._last[row]
        weight = self._weight[row] * (2.0 ** (-elapsed / half_life) if elapsed > 0 else 1.0)
        weight += 1.0
        self._weight[row] = weight
        if elapsed > 0:
            self._last[row] = ts_us
        self._count[row] += 1
        self._rate[slot] = 1.0 / weight
        self._clip[slot] = CLIP if self._count[row] > CLIP_AFTER else 1e6

    # --- snapshot ---

    def snapshot(self) -> bytes:
        """The whole state as bytes (msgpack); ``restore`` gives a state that scores alike."""
        size = len(self._count)
        return msgspec.msgpack.encode(
            _Snapshot(
                format=_FORMAT,
                names=self.names,
                accounts=list(self._accounts),
                account_rows=list(self._accounts.values()),
                peers=list(self._peers),
                peer_rows=list(self._peers.values()),
                count=self._count,
                first_us=self._first,
                last_us=self._last,
                weight=self._weight,
                mean=self._mean[:size].tobytes(),
                var=self._var[:size].tobytes(),
            )
        )

    @classmethod
    def restore(
        cls,
        blob: bytes,
        words: Callable[[str, float], str] | None = None,
        *,
        names: Sequence[str] | None = None,
        use: Sequence[str] | None = None,
        two_sided: Sequence[str] = (),
    ) -> AnomalyState:
        """The state a ``snapshot`` was taken of. ValueError if the blob is not one, or was
        taken over other features than the state would use (see the constructor), as after
        a change of the feature catalogue: the caller then starts afresh."""
        try:
            snap = msgspec.msgpack.decode(blob, type=_Snapshot)
        except (msgspec.DecodeError, TypeError) as error:
            raise ValueError(f"not an anomaly snapshot: {error}") from None
        if snap.format != _FORMAT:
            raise ValueError(f"anomaly snapshot format {snap.format}, expected {_FORMAT}")
        state = cls(names, words, use=use, two_sided=two_sided)
        if snap.names != state.names:
            raise ValueError("the anomaly snapshot was taken over other features")
        size, width = len(snap.count), len(state.names)
        owners = sorted(snap.account_rows + snap.peer_rows)
        if (
            any(len(c) != size for c in (snap.first_us, snap.last_us, snap.weight))
            or len(snap.accounts) != len(snap.account_rows)
            or len(snap.peers) != len(snap.peer_rows)
            or owners != list(range(size))
            or len(set(snap.accounts)) != len(snap.accounts)
            or len(set(snap.peers)) != len(snap.peers)
            or len(snap.mean) != size * width * 8
            or len(snap.var) != size * width * 8
        ):
            raise ValueError("the anomaly snapshot's parts do not agree")
        state._mean, state._var = state._empty(max(16, size))
        state._mean[:size] = np.frombuffer(snap.mean, dtype=np.float64).reshape(size, width)
        state._var[:size] = np.frombuffer(snap.var, dtype=np.float64).reshape(size, width)
        state._accounts = dict(zip(snap.accounts, snap.account_rows, strict=True))
        state._peers = dict(zip(snap.peers, snap.peer_rows, strict=True))
        state._count = list(snap.count)
        state._first = list(snap.first_us)
        state._last = list(snap.last_us)
        state._weight = list(snap.weight)
        state._complete = [0] * size
        for way, needed in enumerate(state._needed):
            done = ~np.isnan(state._mean[:size][:, needed]).any(axis=1)
            for row in np.flatnonzero(done).tolist():
                state._complete[row] |= 1 << way
        return state
