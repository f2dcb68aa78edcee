"""Counterparties' own scores: the second stage of a two-stage model (ADR 0051).

A first booster scores every money transaction from the catalogue's features; the second
one sees, beside those features, each side's highest first-stage score among the
transactions that side took part in (as either end) in the ``SCORE_WINDOW`` before this
one (``features.STACKED``): an account paid by, or paying, accounts whose own traffic
looks like laundering. Both engines compute the two columns the same way:

- the monitor (``Memory``): per account, the first-stage scores of its recent
  transactions as a falling list (a later, higher score makes the earlier lower ones
  useless for a maximum); read before this transaction's own score is added;
- training (``best_before``): a window maximum on DuckDB over one row per (transaction,
  side), over the rows of the same account strictly before this one in processing order
  within the window (``RANGE`` on the time for earlier instants, ``ROWS`` on the order for
  the same instant).

Training (``first_stage``) must not score a train transaction with a booster that saw its
label: an in-sample score carries the label itself, and laundering accounts deal with each
other, so the second stage would learn to trust its neighbours' labels. The train days
are cut in two blocks of whole days and a booster is fitted on each; every train
transaction is scored by the other block's booster (out of fold), every later one by the
later block's, which is also the first stage the artifact carries for live traffic.
What remains: a transaction's own label shaped, as one row among hundreds of thousands,
the booster that scored its neighbours in the other block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

import msgspec
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from riskops.learn import batch, protocol
from riskops.learn.features import FEATURE_NAMES, SCORE_WINDOW, STACKED_NAMES
from riskops.learn.model import Artifact, Model

Floats = npt.NDArray[np.float64]
Trainer = Callable[[Any, Any], Any]  # (x, y) -> a LightGBM booster on the catalogue's columns
WIDTH = len(STACKED_NAMES)
_CHUNK = 500_000  # rows a batch prediction copies at a time
FIRST_ROWS = 400_000  # each block's booster fits at most this many rows (every positive)


class Memory:
    """Per account, the first-stage scores of its transactions in the window, falling."""

    __slots__ = ("_accounts",)

    def __init__(self) -> None:
        self._accounts: dict[str, list[tuple[int, float]]] = {}

    def __len__(self) -> int:
        return len(self._accounts)

    def best(self, account: str, ts: int) -> float:
        """The highest score of ``account``'s transactions after ``ts - SCORE_WINDOW``
        (0 with none). Times never run backwards here (the feature state's clock)."""
        entries = self._accounts.get(account)
        if entries is None:
            return 0.0
        horizon = ts - SCORE_WINDOW
        gone = 0
        while gone < len(entries) and entries[gone][0] <= horizon:
            gone += 1
        if gone == len(entries):
            del self._accounts[account]
            return 0.0
        if gone:
            del entries[:gone]
        return entries[0][1]

    def step(self, own: str, other: str | None, ts: int, score: float) -> tuple[float, float]:
        """One transaction of ``own`` (with the counterparty account ``other``, if any):
        both sides' highest earlier score, then this one's added to both."""
        mine = self.best(own, ts)
        theirs = 0.0 if other is None else self.best(other, ts)
        self.add(own, ts, score)
        if other is not None and other != own:
            self.add(other, ts, score)
        return mine, theirs

    def add(self, account: str, ts: int, score: float) -> None:
        entries = self._accounts.setdefault(account, [])
        while entries and entries[-1][1] <= score:
            entries.pop()  # earlier and no higher: never the maximum again
        entries.append((ts, score))

    def snapshot(self) -> bytes:
        return msgspec.msgpack.encode(self._accounts)

    @classmethod
    def restore(cls, blob: bytes) -> Memory:
        memory = cls()
        decoded = msgspec.msgpack.decode(blob, type=dict[str, list[tuple[int, float]]])
        memory._accounts = decoded
        return memory


# --- batch --------------------------------------------------------------------------------


class Parties(NamedTuple):
    """Who took part in each row of a feature table (processing order): its time, its
    account, and its counterparty account (null unless an internal transfer)."""

    ts: npt.NDArray[np.int64]
    own: pa.Array
    cp: pa.Array


def parties_of(table: pa.Table) -> Parties:
    """The parties of ``learn.batch.features``' rows (``has_cp`` says whether the
    counterparty is an account, as in both engines)."""
    transfer = pc.equal(table.column("has_cp"), 1.0)
    cp = pc.if_else(transfer, table.column("counterparty_id"), pa.scalar(None, pa.string()))
    return Parties(
        table.column("ts_us").to_numpy().astype(np.int64),
        table.column("account_id").combine_chunks(),
        cp.combine_chunks() if isinstance(cp, pa.ChunkedArray) else cp,
    )


def concat_parties(parts: Sequence[Parties]) -> Parties:
    return Parties(
        np.concatenate([p.ts for p in parts]) if parts else np.zeros(0, np.int64),
        pa.concat_arrays([p.own for p in parts]) if parts else pa.array([], pa.string()),
        pa.concat_arrays([p.cp for p in parts]) if parts else pa.array([], pa.string()),
    )


_BEST_SQL = f"""
WITH sides AS (
  SELECT k, 0 AS side, own AS acc, ts, s FROM parties
  UNION ALL
  SELECT k, 1 AS side, cp AS acc, ts, s FROM parties
  WHERE cp IS NOT NULL AND cp <> own
)
SELECT k, side,
  greatest(coalesce(max(s) OVER earlier, 0), coalesce(max(s) OVER same, 0)) AS best
FROM sides
WINDOW earlier AS (PARTITION BY acc ORDER BY ts
    RANGE BETWEEN {SCORE_WINDOW - 1} PRECEDING AND 1 PRECEDING),
  same AS (PARTITION BY acc, ts ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
"""


def best_before(parties: Parties, scores: Floats, threads: int = 2) -> Floats:
    """An (n, 2) array: each row's own and counterparty's highest score among that
    account's rows strictly before it within the window (0 with none; the counterparty's
    0 when there is none)."""
    n = len(parties.ts)
    table = pa.table(
        {
            "k": pa.array(np.arange(n, dtype=np.int64)),
            "ts": pa.array(parties.ts),
            "own": parties.own,
            "cp": parties.cp,
            "s": pa.array(np.asarray(scores, dtype=np.float64)),
        }
    )
    con = batch.connect(threads)
    try:
        con.register("parties", table)
        result = con.sql(_BEST_SQL).fetchnumpy()
    finally:
        con.close()
    out = np.zeros((n, WIDTH), dtype=np.float64)
    out[result["k"], result["side"]] = result["best"]
    # a transfer to oneself has one side row: its counterparty is itself
    itself = pc.fill_null(pc.equal(parties.own, parties.cp), False)
    mask = np.asarray(itself.to_numpy(zero_copy_only=False))
    out[mask, 1] = out[mask, 0]
    return out


class FirstStage(NamedTuple):
    text: str  # the booster that scores val, test and live traffic (LightGBM model text)
    rows: tuple[int, int]  # rows the two blocks' boosters trained on (early, late)
    scores: Floats  # each row's first-stage score: out of fold on the train days


def first_stage(
    x: npt.NDArray[Any],
    y: npt.NDArray[Any],
    split: npt.NDArray[np.int8],
    days: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    parties: Parties,
    train: Trainer,
    threads: int = 2,
    seed: int = 1,
) -> FirstStage | None:
    """Fill ``x``'s last ``WIDTH`` columns (in place) with each side's highest first-stage
    score before the row, and return the first stage; None when the train days cannot be
    cut in two blocks that both hold both labels (the columns are then left at 0).

    ``rows`` are the train rows to fit on (thinned; each block thinned again to
    ``FIRST_ROWS`` with ``seed``); the other columns of ``x`` are the catalogue's."""
    base = x.shape[1] - WIDTH
    in_train = split == protocol.TRAIN
    cut = _middle_day(days[in_train])
    if cut is None:
        return None
    labels = np.asarray(y, dtype=np.float64)
    early, late = (
        protocol.thinned(block, labels, FIRST_ROWS, seed)
        for block in (rows[days[rows] <= cut], rows[days[rows] > cut])
    )
    if any(len(r) == 0 or not labels[r].any() or labels[r].all() for r in (early, late)):
        return None
    first_early = train(columns(x, early, base), labels[early])
    first_late = train(columns(x, late, base), labels[late])
    scores = predict_columns(first_late, x, base, threads)
    in_late = np.flatnonzero(in_train & (days > cut))
    scores[in_late] = predict_columns(first_early, x, base, threads, in_late)
    x[:, base:] = best_before(parties, scores, threads)
    return FirstStage(first_late.model_to_string(), (len(early), len(late)), scores)


def _middle_day(days: npt.NDArray[np.int64]) -> int | None:
    """The last day of the first block: the day boundary nearest half the rows, one day
    at least on each side; None with fewer than two days."""
    unique, counts = np.unique(days, return_counts=True)
    if len(unique) < 2:
        return None
    ends = np.cumsum(counts) / float(counts.sum())
    at = int(np.argmin(np.abs(ends[:-1] - 0.5)))
    return int(unique[at])


Fit = TypeVar("Fit")


def better_stages(
    stages: Sequence[int], fit: Callable[[int], tuple[Fit, float]], say: Callable[[str], None]
) -> tuple[Fit, int]:
    """Fit one model per number of stages (``fit`` gives it and its validation F1) and keep
    the best on the validation days (the fewer stages on a tie), with how many it has."""
    best: tuple[Fit, float, int] | None = None
    for n in stages:
        fitted, f1 = fit(n)
        say(f"{n} stage{'s' if n > 1 else ''}: validation F1 {f1:.3f}")
        if best is None or f1 > best[1]:
            best = (fitted, f1, n)
    if best is None:
        raise ValueError("no number of stages to fit")
    return best[0], best[2]


def columns(x: npt.NDArray[Any], rows: npt.NDArray[np.int64], base: int) -> npt.NDArray[Any]:
    """The first ``base`` columns of ``rows``, one contiguous copy."""
    return x[np.ix_(rows, np.arange(base))]


def predict_columns(
    booster: Any,
    x: npt.NDArray[Any],
    base: int,
    threads: int,
    rows: npt.NDArray[np.int64] | None = None,
) -> Floats:
    """The booster's probabilities of the first ``base`` columns of every row (or of
    ``rows``), copied a chunk at a time (a 5M-row matrix is never copied whole)."""
    n = len(x) if rows is None else len(rows)
    out = np.empty(n, dtype=np.float64)
    for at in range(0, n, _CHUNK):
        if rows is None:
            part = np.ascontiguousarray(x[at : at + _CHUNK, :base])
        else:
            part = columns(x, rows[at : at + _CHUNK], base)
        out[at : at + len(part)] = booster.predict(part, num_threads=threads)
    return out


def score_table(model: Model, table: pa.Table, threads: int = 2) -> Floats:
    """A stored model's calibrated scores of ``learn.batch.features``' rows (the whole
    history in processing order): for two stages the first scores every row and each
    row's counterparties' columns follow, as the monitor computes them live."""
    base = np.column_stack(
        [table.column(name).to_numpy(zero_copy_only=False) for name in FEATURE_NAMES]
    ).astype(np.float64)
    catalogue: tuple[str, ...] = FEATURE_NAMES
    if model.stages == 2:
        first = model.first_many(base[:, [FEATURE_NAMES.index(n) for n in model.first_names]])
        stacked = best_before(parties_of(table), first, threads)
        base = np.hstack([base, stacked])
        catalogue = FEATURE_NAMES + STACKED_NAMES
    if not len(base):
        return np.zeros(0)
    return model.predict_many(base[:, [catalogue.index(name) for name in model.names]])


def widen(first: Artifact, x: Floats, parties: Parties) -> tuple[Floats, dict[str, Any]]:
    """``x`` (the catalogue's columns) with the second stage's after them, as ``first``'s
    booster scores the rows, and the artifact fields that make it a second stage's first:
    how a test or a bench builds a two-stage model from boosters of its own."""
    fields: dict[str, Any] = {"first_text": first.model_text, "first_names": list(FEATURE_NAMES)}
    scores = Model(msgspec.structs.replace(first, **fields)).first_many(x)
    stacked = best_before(parties, scores)
    return np.hstack([x, stacked]), fields
