"""The catalogue of learning features: one definition that both engines compute.

A feature vector describes one money transaction (the flat row 0 of a transfer, deposit,
withdrawal or P2P order) *as of* that transaction: it sees every money row processed
before it, in processing order ``(ts_us, seq, row)``, and itself, never a later one
(ADR 0037). ``learn.stream`` computes it incrementally for the monitor and ``learn.batch``
over history on DuckDB; the parity test holds them to the same numbers.

A vector holds the transaction's own columns, then the features of the row's own account
(``own.*``, as of its row 0) and of the counterparty's account (``cp.*``, as of the
transfer's row 1: the receiver's view, which includes this transfer). A deposit, withdrawal
or P2P order has no counterparty account: its ``cp.*`` columns are 0 and ``has_cp`` is 0.

Each feature has a stable name (models and stored reasons refer to it), a description, and a
words template (``{v}`` is the value) that explains a model's reason to an analyst.
"""

from __future__ import annotations

from dataclasses import dataclass

MONEY_TYPES: tuple[str, ...] = ("transfer.internal", "deposit", "withdrawal.requested", "p2p.order")
US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000
# Sliding windows over an account's history: (suffix, width in microseconds, in words).
WINDOWS: tuple[tuple[str, int, str], ...] = (
    ("1d", US_PER_DAY, "24 hours"),
    ("7d", 7 * US_PER_DAY, "7 days"),
    ("30d", 30 * US_PER_DAY, "30 days"),
)
# The windows whose money sums are features (the 30-day sums add nothing the counts miss).
SUM_WINDOWS: tuple[str, ...] = ("1d", "7d")
PASS_WINDOW = 7 * US_PER_DAY
# A cycle closing through one other account is looked for when one side has at most this
# many distinct parties in the window (a bound on the work per event, in both engines).
CYCLE_CAP = 64
CYCLE_WINDOW = 7 * US_PER_DAY
# The two-hop shapes (a cycle of four, scatter-gather) pair up two sets of parties and probe
# a third account's window for each pair: both sets must hold at most this many parties
# (at most PROBE_CAP ** 2 probes an event, in both engines), else the feature is -1.
PROBE_CAP = 32
# A USD value that is a whole multiple of this many cents counts as round ($100).
ROUND_CENTS = 10_000


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    description: str
    template: str  # words for an analyst; {v} is the value
    negative: str | None = None  # the words for a value below 0 ("none", "not searched")


def _side(prefix: str, whose: str) -> list[Feature]:
    """The per-account features of one side (``own`` or ``cp``)."""
    out: list[Feature] = []
    for suffix, _, span in WINDOWS:
        for direction, verb, prep in (("out", "sent", "to"), ("in", "received", "from")):
            out.append(
                Feature(
                    f"{prefix}.{direction}_n_{suffix}",
                    f"{whose}: money movements {direction} in the last {span}",
                    f"{whose} {verb} {{v:.0f}} payments in the last {span}",
                )
            )
            out.append(
                Feature(
                    f"{prefix}.{direction}_cp_{suffix}",
                    f"{whose}: distinct counterparties {direction} in the last {span}",
                    f"{whose} {verb} money {prep} {{v:.0f}} distinct parties in the last {span}",
                )
            )
    for suffix, _, span in WINDOWS:
        if suffix not in SUM_WINDOWS:
            continue
        for direction, verb in (("out", "sent"), ("in", "received")):
            out.append(
                Feature(
                    f"{prefix}.{direction}_usd_{suffix}",
                    f"{whose}: USD {direction} in the last {span}",
                    f"{whose} {verb} ${{v:,.0f}} in the last {span}",
                )
            )
    out += [
        Feature(
            f"{prefix}.pass_7d",
            f"{whose}: pass-through, USD out over USD in (+$1) in the last 7 days",
            f"{whose} passed on {{v:.0%}} of what it received in the last 7 days",
        ),
        Feature(
            f"{prefix}.since_in_h",
            f"{whose}: hours since the previous inbound payment (-1: none)",
            f"{whose}'s previous inbound payment was {{v:.1f}} hours earlier",
            f"{whose}: no earlier payment that way",
        ),
        Feature(
            f"{prefix}.since_out_h",
            f"{whose}: hours since the previous outbound payment (-1: none)",
            f"{whose}'s previous outbound payment was {{v:.1f}} hours earlier",
            f"{whose}: no earlier payment that way",
        ),
        Feature(
            f"{prefix}.n_all",
            f"{whose}: money movements so far",
            f"{whose} has made {{v:.0f}} payments in all",
        ),
        Feature(
            f"{prefix}.gs_7d",
            f"{whose}: gather-scatter, the smaller of its distinct payers and its distinct"
            " payees in the last 7 days (a hub that both gathers and scatters)",
            f"{whose} both received from and paid at least {{v:.0f}} distinct parties in the"
            " last 7 days",
        ),
        Feature(
            f"{prefix}.amt_ratio",
            f"{whose}: this amount over the account's mean amount so far",
            f"the amount is {{v:.1f}} times {whose}'s usual amount",
        ),
    ]
    return out


_BUSY = "one or both parties deal with too many accounts for the shapes between them to be searched"

_TRANSACTION = [
    Feature("usd", "the transaction's USD value", "the amount is ${v:,.2f}"),
    Feature("round", "the USD value is a whole multiple of $100", "a round amount ({v:.0f})"),
    Feature("out", "the account sends (1) or receives (0)", "direction out ({v:.0f})"),
    Feature(
        "has_cp",
        "the counterparty is an account of the exchange (internal transfer)",
        "an internal transfer ({v:.0f})",
    ),
    Feature(
        "pair_n",
        "payments in this direction between the account and this counterparty so far",
        "payment number {v:.0f} between these two parties",
    ),
    Feature(
        "recip",
        "payments in the opposite direction between the two so far (reciprocity)",
        "the counterparty had paid the other way {v:.0f} times before",
    ),
    Feature(
        "cycle3_7d",
        "accounts X such that the receiver paid X and X paid the sender in the last 7 days:"
        " this transfer closes a cycle of three (-1: both sides too busy to look; 0 for a"
        " deposit, withdrawal, P2P order or a transfer to oneself)",
        "the payment closes a cycle through {v:.0f} other accounts within 7 days",
        _BUSY,
    ),
    Feature(
        "cycle4_7d",
        "pairs of accounts X, Y (neither end, X != Y) such that the receiver paid X, X paid Y"
        " and Y paid the sender, each in the payer's last 7 days: this transfer closes that"
        f" many cycles of four (-1: a side with more than {PROBE_CAP} parties; 0 when not a"
        " transfer between two accounts)",
        "the payment closes {v:.0f} cycles of four accounts within 7 days",
        _BUSY,
    ),
    Feature(
        "sg_7d",
        "scatter-gather: other accounts that paid the receiver in the last 7 days and share"
        " a payer with the sender (one source, neither end, scattered to both, and both"
        f" gather at the receiver; -1: a side with more than {PROBE_CAP} payers; 0 when not"
        " a transfer between two accounts)",
        "{v:.0f} other accounts funded from the sender's own sources also paid the receiver"
        " within 7 days (scatter-gather)",
        _BUSY,
    ),
]

CATALOGUE: tuple[Feature, ...] = tuple(
    _TRANSACTION + _side("own", "the account") + _side("cp", "the counterparty")
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in CATALOGUE)

# The second stage of a two-stage model (ADR 0051): each side's highest first-stage score
# among the transactions it took part in (either end) within SCORE_WINDOW before this one;
# 0 with none, and for ``cp`` when there is no counterparty account. They depend on a
# model's first stage, so they follow the catalogue: ``learn.stacking`` computes them.
SCORE_WINDOW = 7 * US_PER_DAY
STACKED: tuple[Feature, ...] = tuple(
    Feature(
        f"{prefix}.score_7d",
        f"{whose}: the highest first-stage model score of the transactions it took part in"
        " during the 7 days before this one (0: none)",
        f"{whose}'s other payments in the last 7 days scored up to {{v:.2f}}",
    )
    for prefix, whose in (("own", "the account"), ("cp", "the counterparty"))
)
STACKED_NAMES: tuple[str, ...] = tuple(f.name for f in STACKED)
BY_NAME: dict[str, Feature] = {f.name: f for f in CATALOGUE + STACKED}
SIDE_NAMES: tuple[str, ...] = tuple(
    f.name.removeprefix("own.") for f in CATALOGUE if f.name.startswith("own.")
)


def words(name: str, value: float) -> str:
    """One feature's value in words for an analyst ("sent money to 12 distinct parties...")."""
    feature = BY_NAME.get(name)
    if feature is None:
        raise KeyError(f"unknown feature {name!r}")
    if value < 0 and feature.negative is not None:
        return feature.negative
    return feature.template.format(v=value)
