"""The incremental feature engine: per-account state the monitor updates event by event.

``FeatureState.update(row)`` takes a money event's flat row 0, applies it (and, for an
internal transfer, the receiver's row 1) and returns the transaction's vector in
``FEATURE_NAMES`` order, as of after seeing it (ADR 0037). Time never runs backwards in
the state: a row older than the latest one seen counts at the latest time (the monitor
processes in ``seq`` order; the batch engine orders by ``(ts_us, seq)``, and the two agree
whenever the log's times do not go backwards).

Each account keeps the money rows of its last 30 days (one list, a start index per window,
running counts and sums, and a count per counterparty per window for the distinct counts),
its pair counts and the times of its last inbound and outbound payment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import numpy as np

from riskops.learn.features import (
    CYCLE_CAP,
    CYCLE_WINDOW,
    FEATURE_NAMES,
    MONEY_TYPES,
    PROBE_CAP,
    ROUND_CENTS,
    SUM_WINDOWS,
    US_PER_HOUR,
    WINDOWS,
)

_WIDTHS = tuple(width for _, width, _ in WINDOWS)
_SUMS = tuple(i for i, (suffix, _, _) in enumerate(WINDOWS) if suffix in SUM_WINDOWS)
_PASS = next(i for i, (suffix, _, _) in enumerate(WINDOWS) if suffix == "7d")
_CYCLE = next(i for i, (_, width, _) in enumerate(WINDOWS) if width == CYCLE_WINDOW)
# transaction columns before the own side
_HEAD = sum(1 for name in FEATURE_NAMES if not name.startswith(("own.", "cp.")))
_MONEY = frozenset(MONEY_TYPES)
_N = len(FEATURE_NAMES)
_TRIM = 256  # drop expired entries from the front once this many have piled up

Entry = tuple[int, int, str, int]  # (ts_us, direction 0=out 1=in, counterparty key, cents)


def is_money(row: dict[str, Any]) -> bool:
    """Whether a flat row is a money movement the features describe."""
    return (
        row.get("type") in _MONEY
        and row.get("direction") in ("in", "out")
        and row.get("usd_cents") is not None
        and row.get("account_id") is not None
    )


def counterparty_account(row: dict[str, Any]) -> str | None:
    """The account on the other end of an internal transfer; None for any other row (its
    ``cp.*`` features are 0, and ``learn.stacking`` gives it no counterparty's score)."""
    cp = row.get("counterparty_id")
    return str(cp) if row["type"] == "transfer.internal" and cp is not None else None


def key_of(row: dict[str, Any]) -> str:
    """The counterparty a row counts as: its account, else its address, else ''."""
    cp = row.get("counterparty_id")
    if cp is not None:
        return str(cp)
    address = row.get("address")
    return "" if address is None else str(address)


class _Account:
    __slots__ = ("cents", "entries", "keys", "last", "n", "n_all", "pairs", "ptr", "sum_cents")

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.ptr = [0] * len(WINDOWS)
        # index w * 2 + direction
        self.n = [0] * (2 * len(WINDOWS))
        self.cents = [0] * (2 * len(WINDOWS))
        self.keys: list[dict[str, int]] = [{} for _ in range(2 * len(WINDOWS))]
        self.last: list[int | None] = [None, None]  # last out, last in (ts_us)
        self.n_all = 0
        self.sum_cents = 0
        self.pairs: dict[str, int] = {}  # "o:" / "i:" + key -> count

    def add(self, ts: int, direction: int, key: str, cents: int) -> None:
        entries = self.entries
        for w, width in enumerate(_WIDTHS):
            i = self.ptr[w]
            horizon = ts - width
            n, sums, keys = self.n, self.cents, self.keys
            while i < len(entries) and entries[i][0] <= horizon:
                _, d, k, c = entries[i]
                slot = w * 2 + d
                n[slot] -= 1
                sums[slot] -= c
                seen = keys[slot]
                left = seen[k] - 1
                if left:
                    seen[k] = left
                else:
                    del seen[k]
                i += 1
            self.ptr[w] = i
            slot = w * 2 + direction
            self.n[slot] += 1
            self.cents[slot] += cents
            seen = self.keys[slot]
            seen[key] = seen.get(key, 0) + 1
        entries.append((ts, direction, key, cents))
        oldest = self.ptr[-1]
        if oldest >= _TRIM:
            del entries[:oldest]
            self.ptr = [p - oldest for p in self.ptr]
        self.n_all += 1
        self.sum_cents += cents
        pair = ("o:" if direction == 0 else "i:") + key
        self.pairs[pair] = self.pairs.get(pair, 0) + 1

    def side(self, ts: int, cents: int, before: list[int | None]) -> list[float]:
        """This account's features at ``ts`` (after its row); ``before`` are the last
        out/in times as they stood before the row."""
        n, sums, keys = self.n, self.cents, self.keys
        out: list[float] = []
        for w in range(len(WINDOWS)):
            out += (n[w * 2], len(keys[w * 2]), n[w * 2 + 1], len(keys[w * 2 + 1]))
        for w in _SUMS:
            out += (sums[w * 2] / 100, sums[w * 2 + 1] / 100)
        out.append(sums[_PASS * 2] / (sums[_PASS * 2 + 1] + 100))
        last_out, last_in = before
        out.append(-1.0 if last_in is None else (ts - last_in) / US_PER_HOUR)
        out.append(-1.0 if last_out is None else (ts - last_out) / US_PER_HOUR)
        out.append(self.n_all)
        out.append(min(len(keys[_CYCLE * 2]), len(keys[_CYCLE * 2 + 1])))
        out.append(cents * self.n_all / max(self.sum_cents, 1))
        return out


_ZERO_SIDE: list[float] = [0.0] * ((_N - _HEAD) // 2)


def _cycles(sender: _Account, receiver: _Account) -> int:
    """Accounts the receiver paid and that paid the sender, both within the cycle window."""
    paid_sender = sender.keys[_CYCLE * 2 + 1]
    paid_by_receiver = receiver.keys[_CYCLE * 2]
    small, large = sorted((paid_sender, paid_by_receiver), key=len)
    if len(small) > CYCLE_CAP:
        return -1
    return sum(1 for key in small if key in large)


def _keys(account: _Account | None, direction: int) -> dict[str, int]:
    """The parties in ``account``'s cycle window one way (0: it paid them, 1: they paid
    it), as of its own latest row; none for a key that is not an account."""
    return {} if account is None else account.keys[_CYCLE * 2 + direction]


def _common(small: set[str], keys: dict[str, int]) -> int:
    """How many keys the two hold in common, looking from the smaller."""
    if len(keys) < len(small):
        return sum(1 for key in keys if key in small)
    return sum(1 for key in small if key in keys)


class FeatureState:
    """Every account's feature state; one instance per monitor (not thread-safe)."""

    def __init__(self) -> None:
        self._accounts: dict[str, _Account] = {}
        self._clock: int | None = None
        self._last: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self._accounts)

    @property
    def clock(self) -> int:
        """The time of the latest row applied (a row's time, never backwards)."""
        return 0 if self._clock is None else self._clock

    def _account(self, account_id: str) -> _Account:
        state = self._accounts.get(account_id)
        if state is None:
            state = self._accounts[account_id] = _Account()
        return state

    def _cycles4(self, a: str, sender: _Account, b: str, receiver: _Account) -> int:
        """Pairs X != Y, neither end, with the receiver paying X, X paying Y and Y paying
        the sender (the cycle window of each payer); -1 when a side exceeds PROBE_CAP."""
        paid_by_receiver, paid_sender = _keys(receiver, 0), _keys(sender, 1)
        if len(paid_by_receiver) > PROBE_CAP or len(paid_sender) > PROBE_CAP:
            return -1
        ends = (a, b)
        sources = {y for y in paid_sender if y not in ends}
        if not sources:
            return 0
        found = 0
        for x, account in self._third_parties(paid_by_receiver, ends):
            paid_by_x = account.keys[_CYCLE * 2]
            found += _common(sources, paid_by_x) - (x in sources and x in paid_by_x)
        return found

    def _scatter_gather(self, a: str, sender: _Account, b: str, receiver: _Account) -> int:
        """Payers X of the receiver that share a payer S with the sender (X and S neither
        end); -1 when either end has more than PROBE_CAP payers."""
        paid_receiver, paid_sender = _keys(receiver, 1), _keys(sender, 1)
        if len(paid_receiver) > PROBE_CAP or len(paid_sender) > PROBE_CAP:
            return -1
        ends = (a, b)
        sources = {key for key in paid_sender if key not in ends}
        if not sources:
            return 0
        parties = self._third_parties(paid_receiver, ends)
        return sum(1 for _, account in parties if _common(sources, account.keys[_CYCLE * 2 + 1]))

    def _third_parties(
        self, keys: dict[str, int], ends: tuple[str, str]
    ) -> Iterator[tuple[str, _Account]]:
        """The accounts among ``keys`` other than the transfer's ends, with their state (a
        key that is an address has no window of its own)."""
        for key in keys:
            if key not in ends and (account := self._accounts.get(key)) is not None:
                yield key, account

    def update(self, row: dict[str, Any]) -> np.ndarray:
        """Apply a money event's flat row 0 and return its feature vector (float64).

        A transfer's row 1 (the receiver's view) was applied with its row 0: passing it
        returns row 0's vector again. Any other row is refused (``is_money`` tells).
        """
        if not is_money(row):
            raise ValueError("not a money movement's flat row (see learn.stream.is_money)")
        seq = int(row["seq"])
        if row.get("row", 0) != 0:
            if self._last is not None and self._last[0] == seq:
                return self._last[1].copy()
            raise ValueError("a transfer's row 1 comes after its row 0")
        ts = int(row["ts_us"])
        if self._clock is not None and ts < self._clock:
            ts = self._clock
        self._clock = ts
        cents = int(row["usd_cents"])
        direction = 0 if row["direction"] == "out" else 1
        key = key_of(row)
        own = self._account(str(row["account_id"]))
        before = own.last.copy()
        own.add(ts, direction, key, cents)
        own.last[direction] = ts
        pair_n = own.pairs["o:" + key if direction == 0 else "i:" + key]
        recip = own.pairs.get(("i:" if direction == 0 else "o:") + key, 0)
        own_side = own.side(ts, cents, before)
        b = counterparty_account(row)
        transfer = b is not None
        cycles = cycles4 = scattered = 0
        if b is not None:
            other = self._account(b)
            before = other.last.copy()
            other.add(ts, 1, str(row["account_id"]), cents)
            other.last[1] = ts
            cp_side = other.side(ts, cents, before)
            if other is not own:
                cycles = _cycles(own, other)
                a = str(row["account_id"])
                cycles4 = self._cycles4(a, own, b, other)
                scattered = self._scatter_gather(a, own, b, other)
        else:
            cp_side = _ZERO_SIDE
        head = [
            cents / 100,
            1.0 if cents % ROUND_CENTS == 0 else 0.0,
            1.0 - direction,
            1.0 if transfer else 0.0,
            pair_n,
            recip,
            cycles,
            cycles4,
            scattered,
        ]
        vector = np.array(head + own_side + cp_side, dtype=np.float64)
        self._last = (seq, vector)
        return vector

    def snapshot(self) -> bytes:
        """The whole state as bytes (msgpack), for ``restore``."""
        accounts = {
            account_id: [a.entries[a.ptr[-1] :], a.last, a.n_all, a.sum_cents, a.pairs]
            for account_id, a in self._accounts.items()
        }
        return msgspec.msgpack.encode({"v": 1, "clock": self._clock, "accounts": accounts})

    @classmethod
    def restore(cls, blob: bytes) -> FeatureState:
        """A state from ``snapshot``'s bytes; the windows are rebuilt from the kept rows."""
        data = msgspec.msgpack.decode(blob, type=_Snapshot)
        state = cls()
        state._clock = data.clock
        for account_id, (entries, last, n_all, sum_cents, pairs) in data.accounts.items():
            a = state._account(account_id)
            # Replaying the kept rows in order rebuilds each window as the live state had it
            # (an account's windows move only when one of its own rows arrives).
            for ts, d, k, c in entries:
                a.add(ts, d, k, c)
            a.last = list(last)
            a.n_all = n_all
            a.sum_cents = sum_cents
            a.pairs = dict(pairs)
        return state


class _Snapshot(msgspec.Struct):
    v: int
    clock: int | None
    accounts: dict[
        str,
        tuple[list[tuple[int, int, str, int]], list[int | None], int, int, dict[str, int]],
    ]
