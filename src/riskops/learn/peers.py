"""Who an account is compared with (ADR 0039): its peer group, from what the flat row
carries, and a transfer's vector as its receiver's own event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from riskops.learn.features import FEATURE_NAMES

# Event types with one direction; the others are named with theirs (transfer.internal.out).
_FAMILIES = {
    "withdrawal.requested": "withdrawal",
    "deposit": "deposit",
    "card.chargeback": "chargeback",
    "trade": "trade",
}


def peer_of(row: Mapping[str, Any]) -> str:
    """The peer group of the row's account: the event's family (with its direction where
    it has two) and the account's rating band (``account.rating_band``, which the monitor
    fills; ``unrated`` otherwise). Bounded: any value of any type gives a short key."""
    kind = row.get("type")
    family = _FAMILIES.get(kind) if isinstance(kind, str) else None
    if family is None:
        direction = row.get("direction")
        side = direction if direction in ("in", "out") else "other"
        family = f"{kind if isinstance(kind, str) else 'other'}.{side}"[:64]
    band = row.get("account.rating_band")
    return f"{family}/{band if isinstance(band, str) and band else 'unrated'}"[:96]


_NAMES = list(FEATURE_NAMES)
_OWN_AT = np.array([i for i, n in enumerate(_NAMES) if n.startswith("own.")], dtype=np.intp)
_CP_AT = np.array(
    [_NAMES.index("cp." + _NAMES[i].removeprefix("own.")) for i in _OWN_AT], dtype=np.intp
)
_OUT_AT = _NAMES.index("out")


def receiver_view(vector: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """An internal transfer's vector (``learn.stream``) as its receiver's own event, the
    flat row 1: the counterparty's features (``cp.*``, the receiver's as of the transfer)
    in the places of the account's (``own.*``), direction in. Observed under the receiver's
    id and ``peer_of(row 1)``, it gives the receiver a baseline of the money it is sent, so
    fan-in shows on the row where per-account rules see it. The vector is not changed."""
    view = np.array(vector, dtype=np.float64)
    view[_OWN_AT] = view[_CP_AT]
    view[_OUT_AT] = 0.0
    return view
