"""What the linked-accounts queries answer (msgspec Structs: the API and the CLI's JSON
encode them as they are). Accounts are named by their ``account_id`` alone, so a caller
above (the console, the account 360) joins each with its status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class Use(msgspec.Struct, frozen=True):
    """An account's use of a value."""

    account_id: str
    first_seen: datetime
    last_seen: datetime


class WhoElse(msgspec.Struct, frozen=True):
    """A page of the accounts that used a value (``next_cursor``: the next page's cursor)."""

    kind: str
    value: str
    accounts: int  # every account that used it, not only this page
    hub: bool
    items: list[Use]
    next_cursor: str | None = None


class Shared(msgspec.Struct, frozen=True):
    """A value two accounts share, and since when both had used it."""

    kind: str
    value: str
    first_shared: datetime


class LinkedAccount(msgspec.Struct, frozen=True):
    """An account linked to the one asked about, ``hop`` links away; ``via`` is the
    account of hop 1 it is reached through (two hops), ``shared`` what links it there."""

    account_id: str
    hop: int
    shared: list[Shared]
    via: str | None = None
    cluster_id: str | None = None


class HubValue(msgspec.Struct, frozen=True):
    """A value of the account that too many accounts share to link them (not traversed)."""

    kind: str
    value: str
    accounts: int


class Linked(msgspec.Struct, frozen=True):
    account_id: str
    hops: int
    items: list[LinkedAccount]
    hubs: list[HubValue]
    truncated: bool = False  # more accounts were linked than ``limit``
    cluster_id: str | None = None


class Cluster(msgspec.Struct, frozen=True):
    cluster_id: str
    size: int
    alerted_size: int
    formed_at: datetime
    updated_at: datetime
    accounts: list[str]


class Graph(msgspec.Struct, frozen=True):
    """Nodes and edges in cytoscape.js' JSON shape: ``{"data": {"id": ..., ...}}`` each."""

    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    truncated: bool = False
