"""AML typologies: scam victims, structuring, pass-through, money mules, sanctions exposure.

Shapes follow the FATF virtual-asset red flags: large deposits leaving at once for a new
address (pig butchering), repeated amounts just under USD 10,000, funds in and out within
minutes with no trading, fan-in from many unrelated senders then fast fan-out, and flows
to or from sanctioned, darknet or mixer addresses.
"""

from __future__ import annotations

from riskops.sim.assets import DAY_US, HOUR_US, MINUTE_US, address
from riskops.sim.ops import Ops
from riskops.sim.scenarios import Intel, PlanFn, Planner, Runner, Scenario

_CHAIN = {"USDT": "tron", "BTC": "bitcoin", "ETH": "ethereum"}


def _start(ops: Ops, sc: Scenario) -> int:
    return ops.tl.start_us + sc.day * DAY_US + ops.rng.randrange(DAY_US)


def _ctx(sc: Scenario) -> tuple[str, str, str]:
    a = sc.main
    return a.home_ip, a.country, a.devices[0]


def run_scam_victim(ops: Ops, sc: Scenario) -> None:
    rng, a = ops.rng, sc.main
    ts = _start(ops, sc)
    scam = address(rng, "tron")
    for _ in range(rng.randint(2, 5)):
        cents = rng.randrange(5_000, 60_000) * 100
        if rng.random() < 0.6:
            ops.deposit_fiat(
                a, ts, "bank", cents, instrument=a.bank or "bank-victim", label=sc.label
            )
        else:
            ops.deposit_crypto(a, ts, "USDT", cents, chain="tron", label=sc.label)
        ts += rng.randrange(20 * MINUTE_US, 36 * HOUR_US)
        ops.login(a, ts, _ctx(sc))
        ts += rng.randrange(MINUTE_US, 15 * MINUTE_US)
        if rng.random() < 0.4:  # the "platform" asks for a new deposit address
            scam = address(rng, "tron")
        ops.withdraw(
            a,
            ts,
            _ctx(sc),
            "USDT",
            int(cents * rng.uniform(0.9, 1.0)),
            dest=scam,
            chain="tron",
            label=sc.label,
        )
        ts += rng.randrange(DAY_US, 6 * DAY_US)


def run_structuring(ops: Ops, sc: Scenario) -> None:
    rng, a = ops.rng, sc.main
    ts = _start(ops, sc)
    deposits = rng.random() < 0.7
    dest = address(rng, "tron")
    for _ in range(rng.randint(4, 10)):
        cents = rng.randrange(9_000, 9_990) * 100 + rng.randrange(100)
        if deposits and rng.random() < 0.7:
            ops.deposit_fiat(
                a, ts, "bank", cents, instrument=a.bank or "bank-struct", label=sc.label
            )
        elif deposits:
            ops.deposit_crypto(a, ts, "USDT", cents, chain="tron", label=sc.label)
        else:
            ops.withdraw(a, ts, _ctx(sc), "USDT", cents, dest=dest, chain="tron", label=sc.label)
        ts += rng.randrange(8 * HOUR_US, 3 * DAY_US)


def run_pass_through(ops: Ops, sc: Scenario) -> None:
    rng, a = ops.rng, sc.main
    ts = _start(ops, sc)
    feeders = [acc for acc, role in sc.roles if role == "feeder"]
    dest = address(rng, "tron")
    for _ in range(rng.randint(2, 6)):
        cents = rng.randrange(2_000, 40_000) * 100
        if feeders and rng.random() < 0.3:
            ops.transfer(rng.choice(feeders), ts, a, "USDT", cents, label=sc.label)
        else:
            ops.deposit_crypto(
                a, ts, "USDT", cents, chain="tron", source=address(rng, "tron"), label=sc.label
            )
        ts += rng.randrange(3 * MINUTE_US, 40 * MINUTE_US)
        if rng.random() < 0.2:
            ops.trade(a, ts, "BTC", rng.randrange(1_000, 5_000), "buy")
            ts += rng.randrange(MINUTE_US, 5 * MINUTE_US)
        if rng.random() < 0.3:
            dest = address(rng, "tron")
        ops.withdraw(
            a,
            ts,
            _ctx(sc),
            "USDT",
            int(cents * rng.uniform(0.95, 1.0)),
            dest=dest,
            chain="tron",
            label=sc.label,
        )
        ts += rng.randrange(6 * HOUR_US, 4 * DAY_US)


def run_mule(ops: Ops, sc: Scenario) -> None:
    rng, mule = ops.rng, sc.main
    ts0 = _start(ops, sc)
    window = rng.randrange(6 * HOUR_US, 3 * DAY_US)
    total = 0
    last = ts0
    for sender, role in sc.roles:
        if role != "sender":
            continue
        ts = ts0 + rng.randrange(window)
        cents = rng.randrange(100, 3_000) * 100
        ops.transfer(sender, ts, mule, "USDT", cents, label=sc.label)
        total += cents
        last = max(last, ts)
    for _ in range(rng.randint(0, 4)):  # plus crypto from scattered wallets
        ts = ts0 + rng.randrange(window)
        total += ops.deposit_crypto(
            mule,
            ts,
            "USDT",
            rng.randrange(200, 2_000) * 100,
            chain="tron",
            source=address(rng, "tron"),
            label=sc.label,
        )
        last = max(last, ts)
    ts = last + rng.randrange(10 * MINUTE_US, 6 * HOUR_US)
    ops.login(mule, ts, _ctx(sc))
    dests = [address(rng, "tron") for _ in range(rng.randint(1, 3))]
    parts = rng.randint(1, 4)
    for _ in range(parts):
        ts += rng.randrange(MINUTE_US, 30 * MINUTE_US)
        ops.withdraw(
            mule,
            ts,
            _ctx(sc),
            "USDT",
            int(total * 0.97) // parts,
            dest=rng.choice(dests),
            chain="tron",
            label=sc.label,
        )


def run_sanctions_exposure(ops: Ops, sc: Scenario) -> None:
    rng, a = ops.rng, sc.main
    ts = _start(ops, sc)
    intel = sc.intel
    assert intel is not None, "the planner attaches the intel feed"
    for _ in range(rng.randint(1, 3)):
        category = rng.choice(("sanctioned", "sanctioned", "darknet", "mixer"))
        asset = "USDT" if category == "sanctioned" else rng.choice(("BTC", "ETH"))
        chain = _CHAIN[asset]
        bad = intel.bad_address(category, chain)
        cents = rng.randrange(200, 20_000) * 100
        if rng.random() < 0.55:
            ops.deposit_crypto(a, ts, asset, cents, source=bad, chain=chain, label=sc.label)
        else:
            ops.withdraw(a, ts, _ctx(sc), asset, cents, dest=bad, chain=chain, label=sc.label)
        ts += rng.randrange(HOUR_US, 5 * DAY_US)


def _one(typology: str, role: str, span: int, run: Runner, old: bool = False) -> PlanFn:
    def make(p: Planner, intel: Intel) -> Scenario | None:
        who = p.pick(p.old if old else p.established)
        if not who:
            return None
        sc = p.scenario(typology, p.day(span), [(who[0], role)], run)
        sc.intel = intel
        return sc

    return make


def _plan_pass_through(p: Planner, intel: Intel) -> Scenario | None:
    who = p.pick(p.established, 1 + p.rng.choice((0, 0, 1, 2)))
    if not who:
        return None
    roles = [(a, "account" if i == 0 else "feeder") for i, a in enumerate(who)]
    return p.scenario("pass_through", p.day(10), roles, run_pass_through)


def _plan_mule(p: Planner, intel: Intel) -> Scenario | None:
    who = p.pick(p.established, 1 + p.rng.randint(8, 25))
    if len(who) < 4:
        return None
    roles = [(a, "mule" if i == 0 else "sender") for i, a in enumerate(who)]
    return p.scenario("mule", p.day(4), roles, run_mule)


PLANNERS: dict[str, PlanFn] = {
    "scam_victim": _one("scam_victim", "victim", 14, run_scam_victim, old=True),
    "structuring": _one("structuring", "structurer", 14, run_structuring),
    "pass_through": _plan_pass_through,
    "mule": _plan_mule,
    "sanctions_exposure": _one("sanctions_exposure", "exposed", 6, run_sanctions_exposure),
}
