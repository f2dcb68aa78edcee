"""Tables of the linked-accounts graph: shared values, who used them, and clusters.

``link_values`` holds one row per (kind, value) with how many accounts used it and whether
it is a hub (too many accounts: a carrier NAT address, a common device, an exchange's hot
wallet). ``account_links`` holds one row per (kind, value, account) with when the account
first and last used it: its primary key serves "who else used this value", its second index
"which values did this account use". An account-to-account link (an internal transfer, a P2P
trade, a referral) is stored both ways, with the other account's id as the value.

Clusters are the connected components of accounts over links that are not hubs (weighted by
kind, see ``riskops.links.policy``). ``link_members`` says which cluster an account is in (an
account in no cluster has no row); ``link_clusters`` holds each cluster's size and the size
at which it was last alerted, so an alert is raised once per cluster state. A cluster's id is
the id of one of its accounts. All of it is written by the links follower of the event log
(``riskops.links.tasks``, through ``riskops.links.service.LinkKeeper``), a batch per
transaction with its cursor (``links_cursor``); replays change nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from riskops.events.follow import CursorColumns
from riskops.kernel.db import Base
from riskops.kernel.types import UtcDateTime


class LinkValue(Base):
    """One shared value: how many accounts used it, whether it is a hub."""

    __tablename__ = "link_values"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(256), primary_key=True)
    accounts: Mapped[int] = mapped_column(Integer, default=0)
    hub: Mapped[bool] = mapped_column(Boolean, default=False)
    # when the first account used it, and when the latest account to use it first did
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    last_joined: Mapped[datetime] = mapped_column(UtcDateTime)


class AccountLink(Base):
    """One account's use of one value, first and last seen (event times)."""

    __tablename__ = "account_links"
    __table_args__ = (
        Index("ix_account_links_account", "account_id", "kind", "value"),
        {"sqlite_with_rowid": False},
    )

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(256), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)


class LinkMember(Base):
    """The cluster an account is in (accounts in no cluster have no row)."""

    __tablename__ = "link_members"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    cluster_id: Mapped[str] = mapped_column(String(128), index=True)


class LinkCluster(Base):
    """A cluster of linked accounts: its size, and the size it was last alerted at."""

    __tablename__ = "link_clusters"

    cluster_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    alerted_size: Mapped[int] = mapped_column(Integer, default=0)
    formed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LinksCursor(CursorColumns, Base):
    """How far the links follower has read the event log (``riskops.links.tasks``)."""

    __tablename__ = "links_cursor"
