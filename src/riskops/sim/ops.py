"""Event builders: one method per thing a customer (or an attacker) does.

Each builder makes a wire-format dict (flat JSON shape, ``event_id`` and ``occurred_at``
filled in later by the timeline), keeps the account's approximate balance, and schedules
the event. Background activity and planted scenarios use the same builders, so a planted
event is indistinguishable in shape from a legitimate one.
"""

from __future__ import annotations

import random
from typing import Any

from riskops.sim.assets import CHAINS, address, money, price_text, tx_hash
from riskops.sim.population import USER_AGENTS, Account
from riskops.sim.timeline import Label, Timeline

Ctx = tuple[str, str, str]  # ip, ip_country, device_id


def _base(kind: str, account_id: str) -> dict[str, Any]:
    # Key order is the wire order: envelope first, the timeline fills the two placeholders.
    return {"event_id": "", "type": kind, "account_id": account_id, "occurred_at": ""}


class Ops:
    """Builders bound to one timeline and one random stream."""

    def __init__(self, rng: random.Random, timeline: Timeline, accounts: list[Account]) -> None:
        self.rng = rng
        self.tl = timeline
        self.accounts = accounts
        self._ids = 0

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}-{self._ids:09d}"

    # --- account and identity ----------------------------------------------------------

    def onboard(
        self,
        a: Account,
        ts: int,
        ip: str,
        device: str,
        label: Label | None = None,
        referred_by: str | None = None,
        kyc: bool = True,
        document_country: str | None = None,
    ) -> int:
        """account.created, then KYC (or KYB) submission and decision; returns the last time.
        The identity document is from the declared country (an expat's, 5%, from another)
        unless ``document_country`` says otherwise."""
        ev = _base("account.created", a.account_id)
        ev.update(email=a.email, phone=a.phone, country=a.country, ip=ip, device_id=device)
        if referred_by is not None:
            ev["referral_code"] = f"ref-{referred_by[-7:]}"
            ev["referred_by"] = referred_by
        if a.corporate:
            ev["corporate"] = True
        self.tl.emit(ts, ev, label)
        if not kyc:
            return ts
        rng = self.rng
        ts += rng.randrange(60_000_000, 3_600_000_000)
        doc = rng.choice(("passport", "id_card", "driving_licence"))
        doc_country = a.country if rng.random() < 0.95 else rng.choice(("GB", "DE", "US", "FR"))
        doc_country = document_country or doc_country
        kyc_fields = {
            "level": a.kyc_level,
            "document_type": doc,
            "document_country": doc_country,
            "full_name": a.name,
            "date_of_birth": a.dob,
            "nationality": doc_country,
        }
        ev = _base("kyc.submitted", a.account_id)
        ev.update(kyc_fields)
        self.tl.emit(ts, ev, label)
        ts += rng.randrange(120_000_000, 20 * 3_600_000_000)
        ev = _base("kyc.decided", a.account_id)
        roll = rng.random()
        result = "approved" if roll < 0.92 else "resubmit" if roll < 0.97 else "rejected"
        ev.update(kyc_fields, result=result)
        if result != "approved":
            ev["reason"] = rng.choice(("document_unreadable", "name_mismatch", "selfie_failed"))
        self.tl.emit(ts, ev, label)
        if a.corporate:
            ts += rng.randrange(3_600_000_000, 48 * 3_600_000_000)
            kyb = {
                "legal_name": f"{a.name.split()[1]} Trading Ltd",
                "registration_number": f"REG{rng.randrange(10**7, 10**8)}",
                "country": a.country,
            }
            owners = [{"full_name": a.name, "ownership_pct": 100.0, "nationality": a.country}]
            ev = _base("kyb.submitted", a.account_id)
            ev.update(kyb, beneficial_owners=owners)
            self.tl.emit(ts, ev, label)
            ev = _base("kyb.decided", a.account_id)
            ev.update(kyb, result="approved", beneficial_owners=owners)
            self.tl.emit(ts + rng.randrange(3_600_000_000, 72 * 3_600_000_000), ev, label)
        return ts

    # --- access and security -----------------------------------------------------------

    def login(
        self,
        a: Account,
        ts: int,
        ctx: Ctx,
        success: bool = True,
        label: Label | None = None,
        two_fa: str | None = "app",
        agent: str | None = None,
        reason: str = "bad_password",
    ) -> None:
        ev = _base("login", a.account_id)
        ev.update(
            success=success,
            ip=ctx[0],
            ip_country=ctx[1],
            device_id=ctx[2],
            user_agent=agent or USER_AGENTS[a.idx % len(USER_AGENTS)],
        )
        if success:
            if two_fa:
                ev["two_fa_method"] = two_fa
        else:
            ev["failure_reason"] = reason
        self.tl.emit(ts, ev, label)

    def session(self, a: Account, ts: int, ctx: Ctx) -> None:
        ev = _base("session", a.account_id)
        ev.update(ip=ctx[0], ip_country=ctx[1], device_id=ctx[2])
        self.tl.emit(ts, ev)

    def security(
        self,
        a: Account,
        ts: int,
        ctx: Ctx,
        change: str,
        channel: str,
        new_value: str | None = None,
        label: Label | None = None,
    ) -> None:
        ev = _base("security.change", a.account_id)
        ev.update(change=change, channel=channel, ip=ctx[0], ip_country=ctx[1], device_id=ctx[2])
        if new_value is not None:
            ev["new_value"] = new_value
        self.tl.emit(ts, ev, label)

    def signal(self, a: Account, ts: int, kind: str, label: Label | None = None) -> None:
        ev = _base("provider.signal", a.account_id)
        if kind == "email_bounce":
            ev.update(signal=kind, provider="mailgun", email=a.email)
        else:
            ev.update(signal=kind, provider=self.rng.choice(("twilio", "vonage")), phone=a.phone)
        self.tl.emit(ts, ev, label)

    # --- money movement ----------------------------------------------------------------

    def deposit_crypto(
        self,
        a: Account,
        ts: int,
        asset: str,
        cents: int,
        source: str | None = None,
        chain: str | None = None,
        label: Label | None = None,
    ) -> int:
        chain = chain or self.rng.choice(CHAINS[asset])
        amount, usd, cents = money(asset, cents)
        ev = _base("deposit", a.account_id)
        ev.update(
            asset=asset,
            amount=amount,
            usd_value=usd,
            rail="crypto",
            chain=chain,
            tx_hash=tx_hash(self.rng, chain),
            source_address=source or a.wallets.get(chain) or address(self.rng, chain),
        )
        if self.tl.emit(ts, ev, label):
            a.balance += cents
        return cents

    def deposit_fiat(
        self,
        a: Account,
        ts: int,
        rail: str,
        cents: int,
        instrument: str | None = None,
        label: Label | None = None,
    ) -> dict[str, Any]:
        amount, usd, cents = money(a.fiat, cents)
        ev = _base("deposit", a.account_id)
        ev.update(
            asset=a.fiat,
            amount=amount,
            usd_value=usd,
            rail=rail,
            instrument_id=instrument or (a.card if rail == "card" else a.bank),
        )
        if self.tl.emit(ts, ev, label):
            a.balance += cents
        return ev

    def withdraw(
        self,
        a: Account,
        ts: int,
        ctx: Ctx,
        asset: str,
        cents: int,
        dest: str | None = None,
        chain: str | None = None,
        label: Label | None = None,
    ) -> str:
        """A crypto withdrawal to ``dest`` (default: the account's own wallet); returns it."""
        chain = chain or self.rng.choice(CHAINS[asset])
        dest = dest or a.wallets.get(chain) or a.wallets.setdefault(chain, address(self.rng, chain))
        amount, usd, cents = money(asset, cents)
        ev = _base("withdrawal.requested", a.account_id)
        ev.update(
            asset=asset,
            amount=amount,
            usd_value=usd,
            withdrawal_id=self._next_id("wd"),
            chain=chain,
            address=dest,
            rail="crypto",
            ip=ctx[0],
            ip_country=ctx[1],
            device_id=ctx[2],
        )
        if self.tl.emit(ts, ev, label):
            a.balance -= cents
        return dest

    def withdraw_bank(self, a: Account, ts: int, ctx: Ctx, cents: int) -> None:
        amount, usd, cents = money(a.fiat, cents)
        ev = _base("withdrawal.requested", a.account_id)
        ev.update(
            asset=a.fiat,
            amount=amount,
            usd_value=usd,
            withdrawal_id=self._next_id("wd"),
            rail="bank",
            instrument_id=a.bank,
            ip=ctx[0],
            ip_country=ctx[1],
            device_id=ctx[2],
        )
        if self.tl.emit(ts, ev):
            a.balance -= cents

    def transfer(
        self, a: Account, ts: int, to: Account, asset: str, cents: int, label: Label | None = None
    ) -> None:
        amount, usd, cents = money(asset, cents)
        ev = _base("transfer.internal", a.account_id)
        ev.update(
            asset=asset,
            amount=amount,
            usd_value=usd,
            counterparty_id=to.account_id,
            transfer_id=self._next_id("tr"),
            method=self.rng.choice(("uid", "email", "phone")),
        )
        if self.tl.emit(ts, ev, label):
            a.balance -= cents
            to.balance += cents

    def trade(
        self, a: Account, ts: int, asset: str, cents: int, side: str, label: Label | None = None
    ) -> None:
        amount, usd, _ = money(asset, cents)
        ev = _base("trade", a.account_id)
        ev.update(
            asset=asset,
            amount=amount,
            usd_value=usd,
            side=side,
            quote_asset="USDT",
            price=price_text(asset),
        )
        self.tl.emit(ts, ev, label)

    def p2p(self, a: Account, ts: int, other: Account, cents: int, side: str) -> None:
        amount, usd, cents = money("USDT", cents)
        ev = _base("p2p.order", a.account_id)
        ev.update(
            asset="USDT",
            amount=amount,
            usd_value=usd,
            side=side,
            counterparty_id=other.account_id,
            payment_method=self.rng.choice(("bank_transfer", "wise", "revolut", "pix")),
            counterparty_name=other.name,
            order_id=self._next_id("p2p"),
        )
        if self.tl.emit(ts, ev):
            a.balance += cents if side == "buy" else -cents

    def chargeback(
        self,
        a: Account,
        ts: int,
        deposit: dict[str, Any],
        instrument: str,
        label: Label | None = None,
    ) -> None:
        ev = _base("card.chargeback", a.account_id)
        ev.update(
            asset=deposit["asset"],
            amount=deposit["amount"],
            usd_value=deposit["usd_value"],
            instrument_id=instrument,
            reason=self.rng.choice(("fraudulent", "unauthorized", "not_recognised")),
        )
        ev["deposit_event_id"] = ""
        if self.tl.emit(ts, ev, label):
            # The deposit's id exists only once its (earlier) day is released.
            self.tl.link(ts, ev, "deposit_event_id", deposit)
