"""Legitimate daily activity: the noise every rule has to see past.

An active day is a login followed by a few actions drawn from the account's habit. Rare
but legitimate things happen too, at rates that make them common in absolute numbers:
failed logins, a new phone or laptop, travel (logins from another country for a few days),
password and 2FA resets, email or phone changes, API keys, whitelist edits, SMS and email
provider signals, withdrawals of nearly the whole balance, withdrawals to a new address.
"""

from __future__ import annotations

from riskops.sim.assets import CHAINS, DAY_US, MINUTE_US, address
from riskops.sim.ops import Ctx, Ops
from riskops.sim.population import ACTIONS, TRAVEL, Account, new_device, random_ip

_RARE = 0.03  # share of active days with one rare-but-legitimate security event


def run_day(ops: Ops, day: int, active: list[Account]) -> None:
    """Schedule the background activity of ``day`` for the ``active`` accounts."""
    rng = ops.rng
    rand = rng.random
    day_start = ops.tl.start_us + day * DAY_US
    accounts = ops.accounts
    n = len(accounts)
    for a in active:
        if rand() >= a.p_active or a.created_us >= day_start:
            continue
        offset = int((rand() + rand() + rand() - 1.5) * 21_600) + a.center_s
        ts = day_start + (offset % 86_400) * 1_000_000 + rng.randrange(1_000_000)
        ctx = _context(ops, a, day)
        if rand() < 0.04:  # typo, forgotten password
            ops.login(a, ts, ctx, success=False)
            ts += rng.randrange(10_000_000, 120_000_000)
        if rand() < _RARE:
            ts, ctx = _rare(ops, a, ts, ctx, day)
        ops.login(a, ts, ctx)
        if rand() < 0.1:
            ops.session(a, ts + rng.randrange(MINUTE_US, 30 * MINUTE_US), ctx)
        count = 1
        while rand() < a.more and count < 8:
            count += 1
        for action in rng.choices(ACTIONS, cum_weights=a.cum, k=count):
            ts += rng.randrange(20_000_000, 15 * MINUTE_US)
            if action == "trade":
                asset = a.assets[0] if rand() < 0.6 else rng.choice(a.assets)
                side = "buy" if rand() < 0.55 else "sell"
                ops.trade(a, ts, asset, int(a.size_cents * rng.uniform(0.05, 1.0)) + 100, side)
            elif action == "dep_crypto":
                cents = int(a.size_cents * rng.lognormvariate(0, 0.6)) + 500
                ops.deposit_crypto(a, ts, rng.choice(a.assets), cents)
            elif action == "dep_fiat":
                rail = "card" if a.card and (not a.bank or rand() < 0.5) else "bank"
                cents = int(a.size_cents * rng.lognormvariate(0, 0.5)) + 1000
                if rail == "bank" and a.bank is None:
                    a.bank = f"bank-{rng.getrandbits(48):012x}"
                ops.deposit_fiat(a, ts, rail, cents)
            elif action == "withdraw":
                _withdraw(ops, a, ts, ctx)
            elif action == "transfer" and a.contacts:
                if a.balance > 2_000:
                    to = accounts[rng.choice(a.contacts)]
                    cents = min(a.balance // 2, rng.randrange(1_000, 30_000))
                    ops.transfer(a, ts, to, "USDT", cents)
            elif action == "p2p":
                other = accounts[rng.randrange(n)]
                if other is not a:
                    side = "buy" if rand() < 0.5 or a.balance < 20_000 else "sell"
                    ops.p2p(a, ts, other, rng.randrange(5_000, 150_000), side)


def _context(ops: Ops, a: Account, day: int) -> Ctx:
    """Where the customer logs in from today: home, a shared network, or abroad."""
    if a.travel_until >= day:
        return a.travel_ip, a.travel_country, a.devices[0]
    rand = ops.rng.random
    device = a.devices[0] if len(a.devices) == 1 or rand() < 0.7 else ops.rng.choice(a.devices)
    ip = a.shared_ip if a.shared_ip is not None and rand() < 0.5 else a.home_ip
    return ip, a.country, device


def _withdraw(ops: Ops, a: Account, ts: int, ctx: Ctx) -> None:
    rng = ops.rng
    if a.balance < 2_000:
        return
    roll = rng.random()
    # Now and then a customer legitimately empties the account (moving to cold storage).
    share = rng.uniform(0.9, 1.0) if roll < 0.04 else rng.uniform(0.15, 0.7)
    cents = int(a.balance * share)
    if a.bank is not None and roll > 0.9:
        ops.withdraw_bank(a, ts, ctx, cents)
        return
    asset = rng.choice(a.assets)
    chain = rng.choice(CHAINS[asset])
    dest = None
    if rng.random() < 0.05:  # a new wallet, then it becomes a known one
        dest = a.wallets[chain] = address(rng, chain)
    ops.withdraw(a, ts, ctx, asset, cents, dest=dest, chain=chain)


def _rare(ops: Ops, a: Account, ts: int, ctx: Ctx, day: int) -> tuple[int, Ctx]:
    """One rare legitimate event before today's login; may change the login context."""
    rng = ops.rng
    kind = rng.choices(
        (
            "device",
            "travel",
            "password",
            "2fa",
            "email",
            "phone",
            "api",
            "whitelist",
            "antiphishing",
            "sms_fail",
            "bounce",
            "ported",
        ),
        (22, 14, 18, 5, 3, 3, 12, 8, 4, 6, 4, 1),
    )[0]
    if kind == "device":
        a.devices.append(new_device(rng))
        return ts, (ctx[0], ctx[1], a.devices[-1])
    if kind == "travel":
        a.travel_country = rng.choice(TRAVEL)
        a.travel_ip = random_ip(rng, a.travel_country)
        a.travel_until = day + rng.randint(1, 10)
        return ts, (a.travel_ip, a.travel_country, a.devices[0])
    if kind in ("sms_fail", "bounce", "ported"):
        signal = {"sms_fail": "sms_delivery_failure", "bounce": "email_bounce"}.get(
            kind, "number_ported"
        )
        ops.signal(a, ts + rng.randrange(MINUTE_US, 600 * MINUTE_US), signal)
        return ts, ctx
    ops.login(a, ts, ctx)
    ts += rng.randrange(MINUTE_US, 20 * MINUTE_US)
    if kind == "password":
        ops.security(a, ts, ctx, "password_reset", "email")
    elif kind == "2fa":
        ops.security(a, ts, ctx, "2fa_reset", rng.choice(("support", "email", "sms")))
    elif kind == "email":
        a.email = f"{a.name.split()[0].lower()}{rng.randrange(10**5)}@outlook.com"
        ops.security(a, ts, ctx, "email_changed", "email", new_value=a.email)
    elif kind == "phone":
        a.phone = a.phone[:-4] + f"{rng.randrange(10_000):04d}"
        ops.security(a, ts, ctx, "phone_changed", "sms", new_value=a.phone)
    else:
        change = {"api": "api_key_created", "whitelist": "whitelist_changed"}.get(
            kind, "antiphishing_changed"
        )
        ops.security(a, ts, ctx, change, "app")
    return ts + rng.randrange(MINUTE_US, 10 * MINUTE_US), ctx
