"""Fraud typologies: account takeover, SIM swap, credential stuffing, multi-accounting, card
fraud, synthetic identities.

Each planner picks participants and a start day; each runner, called by the generator on
that day, schedules the scenario's events (labelled) using the current account state, so
"most of the balance" is the balance the victim really holds in the simulation.
"""

from __future__ import annotations

import random

from riskops.sim.assets import DAY_US, HOUR_US, MINUTE_US, address
from riskops.sim.ops import Ctx, Ops
from riskops.sim.population import (
    CODES,
    DISPOSABLE,
    Account,
    calling_code,
    new_device,
    random_ip,
)
from riskops.sim.scenarios import Intel, PlanFn, Planner, Runner, Scenario

ATTACKER_COUNTRIES = ("RU", "NG", "VN", "BR", "TR", "NL", "US", "IN")
BOT_AGENT = "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0 Safari/537.36"
# Documents a synthetic identity is built on: bought or forged, from wherever they are sold.
FORGED_DOCUMENTS = ("GB", "FR", "DE", "ES", "IT", "NL", "US", "PL", "BR", "TR")


def _day_start(ops: Ops, sc: Scenario) -> int:
    return ops.tl.start_us + sc.day * DAY_US


def _attacker_ctx(rng: random.Random, victim: Account, foreign: bool = True) -> Ctx:
    country = victim.country
    if foreign:
        country = rng.choice([c for c in ATTACKER_COUNTRIES if c != victim.country])
    return random_ip(rng, country), country, new_device(rng)


def _fund(ops: Ops, a: Account, ts: int) -> None:
    """Make sure the victim holds something worth stealing: holdings from before the window
    (the simulation starts every balance at zero). Not a deposit event: a victim does not
    make a large, unusual deposit just before being robbed, and one made the victims look
    like the scam and behaviour-change typologies to rules and model."""
    if a.balance < 100_000:
        a.balance += int(ops.rng.uniform(1_500, 25_000)) * 100


def _cash_out(ops: Ops, sc: Scenario, a: Account, ts: int, ctx: Ctx, share: float) -> None:
    """Withdraw ``share`` of the balance to one fresh address, in one or two requests."""
    rng = ops.rng
    asset = rng.choice(("USDT", "BTC", "ETH"))
    chain = {"USDT": "tron", "BTC": "bitcoin", "ETH": "ethereum"}[asset]
    dest = address(rng, chain)
    total = int(max(a.balance, 50_000) * share)
    parts = 1 if rng.random() < 0.7 else 2
    for i in range(parts):
        ts += rng.randrange(2 * MINUTE_US, 40 * MINUTE_US) if i else 0
        ops.withdraw(a, ts, ctx, asset, total // parts, dest=dest, chain=chain, label=sc.label)


def run_account_takeover(ops: Ops, sc: Scenario) -> None:
    rng, a = ops.rng, sc.main
    ts = _day_start(ops, sc) + rng.randrange(DAY_US)
    _fund(ops, a, ts)
    ts += rng.randrange(6 * HOUR_US, 3 * DAY_US)
    ctx = _attacker_ctx(rng, a, foreign=rng.random() < 0.85)
    for _ in range(rng.choice((0, 0, 1, 2, 3))):
        ops.login(a, ts, ctx, success=False, label=sc.label)
        ts += rng.randrange(5_000_000, 90_000_000)
    ops.login(a, ts, ctx, label=sc.label, two_fa=rng.choice(("sms", "email", None)))
    changes = rng.sample(
        ("password_reset", "2fa_reset", "email_changed", "2fa_disabled"), k=rng.choice((1, 1, 2))
    )
    for change in changes:
        ts += rng.randrange(MINUTE_US, 45 * MINUTE_US)
        new_value = None
        if change == "email_changed":
            new_value = f"{rng.getrandbits(40):010x}@{rng.choice(DISPOSABLE)}"
        ops.security(a, ts, ctx, change, rng.choice(("email", "sms")), new_value, sc.label)
    if rng.random() < 0.4:
        ts += rng.randrange(MINUTE_US, 20 * MINUTE_US)
        ops.security(a, ts, ctx, "whitelist_changed", "email", label=sc.label)
    ts += rng.randrange(5 * MINUTE_US, 6 * HOUR_US)
    _cash_out(ops, sc, a, ts, ctx, rng.uniform(0.8, 1.0))


def run_sim_swap(ops: Ops, sc: Scenario) -> None:
    rng, a = ops.rng, sc.main
    ts = _day_start(ops, sc) + rng.randrange(DAY_US)
    _fund(ops, a, ts)
    ts += rng.randrange(6 * HOUR_US, 3 * DAY_US)
    # The provider does not always notice: sometimes only the phone change shows.
    signalled = rng.random() < 0.8
    if signalled:
        ops.signal(a, ts, rng.choice(("sim_swap", "number_ported")), label=sc.label)
    ctx = _attacker_ctx(rng, a, foreign=rng.random() < 0.3)
    if not signalled or rng.random() < 0.5:
        ts += rng.randrange(5 * MINUTE_US, 2 * HOUR_US)
        ops.security(a, ts, ctx, "phone_changed", "support", new_value=a.phone, label=sc.label)
    ts += rng.randrange(5 * MINUTE_US, 2 * HOUR_US)
    ops.login(a, ts, ctx, label=sc.label, two_fa="sms")
    ts += rng.randrange(MINUTE_US, 30 * MINUTE_US)
    ops.security(a, ts, ctx, "2fa_reset", "sms", label=sc.label)
    ts += rng.randrange(10 * MINUTE_US, 8 * HOUR_US)
    _cash_out(ops, sc, a, ts, ctx, rng.uniform(0.7, 1.0))


def run_credential_stuffing(ops: Ops, sc: Scenario) -> None:
    rng = ops.rng
    ts0 = _day_start(ops, sc) + rng.randrange(DAY_US - HOUR_US)
    duration = rng.randrange(5 * MINUTE_US, 40 * MINUTE_US)
    country = rng.choice(("NL", "US", "RU", "VN", "BR"))
    subnet = random_ip(rng, country).rsplit(".", 1)[0]
    ips = [f"{subnet}.{rng.randrange(2, 254)}" for _ in range(rng.randint(1, 6))]
    for a, role in sc.roles:
        ts = ts0 + rng.randrange(duration)
        ctx = (rng.choice(ips), country, new_device(rng))
        for _ in range(rng.randint(1, 3)):
            ops.login(a, ts, ctx, success=False, label=sc.label, agent=BOT_AGENT)
            ts += rng.randrange(1_000_000, 20_000_000)
        if role == "compromised":
            ops.login(a, ts, ctx, label=sc.label, two_fa=None, agent=BOT_AGENT)


def run_multi_accounting(ops: Ops, sc: Scenario) -> None:
    rng = ops.rng
    ring = [a for a, _ in sc.roles]
    boss = ring[0]
    shares = set(rng.sample(("device", "ip", "phone", "card", "address"), k=rng.randint(2, 4)))
    device, ip = boss.devices[0], boss.home_ip
    common = address(rng, "tron")
    card = boss.card or f"card-{rng.getrandbits(48):012x}"
    ts = _day_start(ops, sc) + rng.randrange(DAY_US)
    for a in ring:
        ts += rng.randrange(10 * MINUTE_US, 12 * HOUR_US)
        a.created_us = ts
        a.email = f"{a.name.split()[0].lower()}{rng.randrange(10**4)}@{rng.choice(DISPOSABLE)}"
        if "phone" in shares:
            a.phone = boss.phone
        ctx = (
            ip if "ip" in shares else a.home_ip,
            a.country,
            device if "device" in shares else a.devices[0],
        )
        referred = None if a is boss else boss.account_id
        t = ops.onboard(a, ts, ctx[0], ctx[2], sc.label, referred_by=referred)
        t += rng.randrange(10 * MINUTE_US, 3 * HOUR_US)
        ops.login(a, t, ctx, label=sc.label)
        t += rng.randrange(MINUTE_US, 20 * MINUTE_US)
        cents = rng.randrange(2_000, 12_000)
        if "card" in shares:
            ops.deposit_fiat(a, t, "card", cents, instrument=card, label=sc.label)
        else:
            ops.deposit_crypto(a, t, "USDT", cents, chain="tron", label=sc.label)
        if rng.random() < 0.5:
            t += rng.randrange(MINUTE_US, 30 * MINUTE_US)
            ops.trade(a, t, "BTC", cents // 2, "buy", label=sc.label)
        t += rng.randrange(HOUR_US, 4 * DAY_US)  # after the sign-up bonus lands
        dest = common if "address" in shares or rng.random() < 0.7 else None
        ops.withdraw(
            a,
            t,
            ctx,
            "USDT",
            int(cents * rng.uniform(1.0, 1.6)),
            dest=dest,
            chain="tron",
            label=sc.label,
        )


def run_card_fraud(ops: Ops, sc: Scenario) -> None:
    rng, a = ops.rng, sc.main
    ts = _day_start(ops, sc) + rng.randrange(DAY_US)
    a.created_us = ts
    ctx = _attacker_ctx(rng, a, foreign=rng.random() < 0.5)
    ts = ops.onboard(a, ts, ctx[0], ctx[2], referred_by=None)
    ts += rng.randrange(10 * MINUTE_US, 2 * DAY_US)
    ops.login(a, ts, ctx)
    deposits = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        ts += rng.randrange(MINUTE_US, 20 * MINUTE_US)
        card = f"card-{rng.getrandbits(48):012x}"
        cents = rng.randrange(300, 3_000) * 100
        deposits.append((card, ops.deposit_fiat(a, ts, "card", cents, card, sc.label)))
    ts += rng.randrange(MINUTE_US, 10 * MINUTE_US)
    asset = rng.choice(("BTC", "USDT", "ETH"))
    if asset != "USDT":
        ops.trade(a, ts, asset, a.balance, "buy", label=sc.label)
    ts += rng.randrange(2 * MINUTE_US, 60 * MINUTE_US)
    _cash_out(ops, sc, a, ts, ctx, rng.uniform(0.9, 0.99))
    for card, dep in deposits:
        ops.chargeback(a, ts + rng.randrange(2 * DAY_US, 21 * DAY_US), dep, card, sc.label)


def run_synthetic_identity(ops: Ops, sc: Scenario) -> None:
    """A made-up customer: declared in one country, an identity document from another, a
    phone number from a third, and everything done from where the fraudster really is.
    Once approved, the account collects crypto from a few unrelated wallets and sends it on
    (a cash-out or mule account no real person stands behind)."""
    rng, a = ops.rng, sc.main
    ts = _day_start(ops, sc) + rng.randrange(DAY_US)
    a.created_us = ts
    document = rng.choice([c for c in FORGED_DOCUMENTS if c != a.country])
    phone_from = rng.choice([c for c in CODES if c not in (a.country, document)])
    a.phone = f"+{calling_code(phone_from)}{rng.randrange(10**8, 10**9)}"
    where = rng.choice([c for c in ATTACKER_COUNTRIES if c not in (a.country, document)])
    ctx = (random_ip(rng, where), where, new_device(rng))
    ts = ops.onboard(a, ts, ctx[0], ctx[2], sc.label, referred_by=None, document_country=document)
    ts += rng.randrange(10 * MINUTE_US, DAY_US)
    ops.login(a, ts, ctx, label=sc.label)
    for _ in range(rng.randint(1, 4)):
        ts += rng.randrange(10 * MINUTE_US, 12 * HOUR_US)
        cents = rng.randrange(300, 8_000) * 100
        source = address(rng, "tron")
        ops.deposit_crypto(a, ts, "USDT", cents, source=source, chain="tron", label=sc.label)
    ts += rng.randrange(30 * MINUTE_US, 2 * DAY_US)
    ops.login(a, ts, ctx, label=sc.label)
    ts += rng.randrange(MINUTE_US, 20 * MINUTE_US)
    _cash_out(ops, sc, a, ts, ctx, rng.uniform(0.9, 1.0))


def _single(typology: str, role: str, span: int, run: Runner, fresh: bool = False) -> PlanFn:
    """A planner for one-account scenarios, drawn from established or newly opened accounts."""

    def make(p: Planner, intel: Intel) -> Scenario | None:
        who = p.pick(p.fresh if fresh else p.established)
        if not who:
            return None
        if fresh:
            who[0].scripted = True
        return p.scenario(typology, p.day(span), [(who[0], role)], run)

    return make


def _plan_stuffing(p: Planner, intel: Intel) -> Scenario | None:
    k = max(5, min(p.rng.randint(25, 80), len(p.established) // 10))
    targets = p.pick(p.established, k)
    hits = max(1, round(len(targets) * p.rng.uniform(0.03, 0.08)))
    roles = [(a, "compromised" if i < hits else "target") for i, a in enumerate(targets)]
    return p.scenario("credential_stuffing", p.day(1), roles, run_credential_stuffing)


def _plan_ring(p: Planner, intel: Intel) -> Scenario | None:
    ring = p.pick(p.fresh, p.rng.randint(5, 12))
    if len(ring) < 3:
        return None
    for a in ring:
        a.scripted = True
    roles = [(a, "controller" if i == 0 else "member") for i, a in enumerate(ring)]
    return p.scenario("multi_accounting", p.day(8), roles, run_multi_accounting)


PLANNERS: dict[str, PlanFn] = {
    "account_takeover": _single("account_takeover", "victim", 4, run_account_takeover),
    "sim_swap": _single("sim_swap", "victim", 4, run_sim_swap),
    "credential_stuffing": _plan_stuffing,
    "multi_accounting": _plan_ring,
    "card_fraud": _single("card_fraud", "fraudster", 10, run_card_fraud, fresh=True),
    "synthetic_identity": _single(
        "synthetic_identity", "fraudster", 5, run_synthetic_identity, fresh=True
    ),
}
