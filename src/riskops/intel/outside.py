"""Links out to the usual websites for what the exchange does not hold (issue 10, item 6).

A target is a kind of value, or a chain's address or transaction (``bitcoin.address``,
``tron.tx``); each has a table of site name -> URL template, where ``{value}`` is the value
URL-quoted. A deployment replaces a target's table with ``RISKOPS_INTEL_LINKS`` (JSON, e.g.
``{"ip": {"ipinfo": "https://ipinfo.io/{value}"}, "bitcoin.address": {}}``: an empty table
turns a target's links off); targets it does not name keep the defaults below.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from riskops.intel.schemas import Link

DEFAULT_LINKS: dict[str, dict[str, str]] = {
    "bitcoin.address": {
        "mempool.space": "https://mempool.space/address/{value}",
        "Blockstream": "https://blockstream.info/address/{value}",
        "Blockchair": "https://blockchair.com/bitcoin/address/{value}",
    },
    "bitcoin.tx": {
        "mempool.space": "https://mempool.space/tx/{value}",
        "Blockstream": "https://blockstream.info/tx/{value}",
    },
    "bitcoin-testnet.address": {
        "mempool.space testnet": "https://mempool.space/testnet/address/{value}",
    },
    "bitcoin-testnet.tx": {"mempool.space testnet": "https://mempool.space/testnet/tx/{value}"},
    "ethereum.address": {
        "Etherscan": "https://etherscan.io/address/{value}",
        "Blockscout": "https://eth.blockscout.com/address/{value}",
    },
    "ethereum.tx": {
        "Etherscan": "https://etherscan.io/tx/{value}",
        "Blockscout": "https://eth.blockscout.com/tx/{value}",
    },
    "tron.address": {"Tronscan": "https://tronscan.org/#/address/{value}"},
    "tron.tx": {"Tronscan": "https://tronscan.org/#/transaction/{value}"},
    "solana.address": {
        "Solscan": "https://solscan.io/account/{value}",
        "Solana Explorer": "https://explorer.solana.com/address/{value}",
    },
    "solana.tx": {
        "Solscan": "https://solscan.io/tx/{value}",
        "Solana Explorer": "https://explorer.solana.com/tx/{value}",
    },
    "ip": {
        "ipinfo": "https://ipinfo.io/{value}",
        "AbuseIPDB": "https://www.abuseipdb.com/check/{value}",
        "Shodan": "https://www.shodan.io/host/{value}",
        "Hurricane Electric BGP": "https://bgp.he.net/ip/{value}",
    },
    "asn": {"Hurricane Electric BGP (AS)": "https://bgp.he.net/AS{value}"},
    "phone": {"Search": "https://www.google.com/search?q={value}"},
    "email": {"Search": "https://www.google.com/search?q={value}"},
    "domain": {
        "WHOIS": "https://who.is/whois/{value}",
        "urlscan.io": "https://urlscan.io/domain/{value}",
        "VirusTotal": "https://www.virustotal.com/gui/domain/{value}",
    },
}


_SAFE = re.compile(r"[A-Za-z0-9._-]+")


class OutsideLinks:
    """The link tables of one deployment: the defaults with the configured ones on top."""

    def __init__(self, configured: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.tables: dict[str, dict[str, str]] = {k: dict(v) for k, v in DEFAULT_LINKS.items()}
        for target, table in (configured or {}).items():
            for name, template in table.items():
                # The console renders these as hrefs: only web addresses, never javascript:.
                if not template.startswith(("https://", "http://")) or "{value}" not in template:
                    raise ValueError(
                        f"RISKOPS_INTEL_LINKS[{target!r}][{name!r}] must be an http(s) URL "
                        "template holding {value}"
                    )
            self.tables[target] = dict(table)

    def links(self, target: str, value: str) -> list[Link]:
        """The links of ``target`` for ``value`` (none for an unknown target)."""
        # IPs, hex and base58 need no quoting, an E.164 number only its "+": skip the
        # (relatively slow) quote for them.
        if _SAFE.fullmatch(value):
            quoted = value
        elif value[:1] == "+" and value[1:].isascii() and value[1:].isdigit():
            quoted = "%2B" + value[1:]
        else:
            quoted = quote(value, safe="")
        return [
            Link(name, template.replace("{value}", quoted))
            for name, template in self.tables.get(target, {}).items()
        ]
