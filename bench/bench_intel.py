"""Intelligence lookups per second on one core: IP, phone and crypto address, mixed.

Values: public IPv4 and IPv6 addresses drawn at random (most in routed space), valid phone
numbers of 40 countries (libphonenumber's example numbers with their last digits varied),
and addresses of the simulator's four chains (valid ones, as the exchange would see them).

- **cold**: every value is new to the process (the answer LRU, the phone parser's and the
  address checker's caches are cleared first, each value is looked up once): the cost of
  the data itself.
- **warm**: a stream where values recur as they do in an exchange's events (a Zipf-like
  draw from the same values: an account's IP, phone and withdrawal addresses come back),
  answered through the service's LRU; the first sight of each value is inside the run.

Both through ``IntelService.describe`` (kind detection included), one thread, the IP data
installed by ``make install``. ``to_dict()`` (the JSON shape the CLI prints) is measured
apart, since the console renders the typed answer.

    python -m bench.bench_intel [--values N] [--lookups N]
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import random
import time

from bench.common import Result, at_least

NAME = "intel"
TARGET = 50_000  # lookups/s on one core (issue 10)
_REGIONS = [
    "US",
    "GB",
    "DE",
    "FR",
    "IT",
    "ES",
    "NL",
    "BE",
    "PL",
    "RU",
    "UA",
    "TR",
    "BR",
    "MX",
    "AR",
    "CO",
    "IN",
    "ID",
    "PK",
    "BD",
    "CN",
    "JP",
    "KR",
    "VN",
    "TH",
    "PH",
    "MY",
    "SG",
    "AU",
    "NZ",
    "ZA",
    "NG",
    "KE",
    "EG",
    "SA",
    "AE",
    "IL",
    "CA",
    "CH",
    "SE",
]


def _ips(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        if rng.random() < 0.8:
            ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address(
                rng.getrandbits(32)
            )
        else:  # 2000::/3, the routed IPv6 space
            ip = ipaddress.IPv6Address((0x2 << 125) | rng.getrandbits(125))
        if ip.is_global:
            out.append(str(ip))
    return out


def _phones(rng: random.Random, n: int) -> list[str]:
    import phonenumbers

    templates = []
    for region in _REGIONS:
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if example is not None:
            templates.append(
                phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            )
    out = []
    for i in range(n):
        base = templates[i % len(templates)]
        out.append(base[:-3] + f"{rng.randrange(1000):03d}")
    return out


def _addresses(rng: random.Random, n: int) -> list[str]:
    from riskops.sim.assets import address

    chains = ("bitcoin", "ethereum", "tron", "solana")
    return [address(rng, chains[i % 4]) for i in range(n)]


def values(n: int, seed: int = 5) -> list[str]:
    """``n`` distinct values, a third each IPs, phones and addresses, shuffled."""
    rng = random.Random(seed)
    third = n // 3
    mixed = _ips(rng, third) + _phones(rng, third) + _addresses(rng, n - 2 * third)
    rng.shuffle(mixed)
    return mixed


class _Clock:
    """CPU seconds of this process (one thread: one core) and wall seconds of a block.

    The shared machine is loaded (other work competes for its two cores), so wall time
    understates what a core does; the CPU-time rate is the per-core figure the target
    names, and the wall rate is shown beside it.
    """

    def __enter__(self) -> _Clock:
        gc.collect()
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.cpu = time.process_time() - self.cpu
        self.wall = time.perf_counter() - self.wall


def _results(label: str, calls: int, clock: _Clock, target: bool) -> list[Result]:
    cpu = calls / clock.cpu if clock.cpu > 0 else float("inf")
    wall = calls / clock.wall if clock.wall > 0 else float("inf")
    first = (
        at_least(NAME, f"{label}, per CPU-second", cpu, "lookups/s", TARGET)
        if target
        else Result(NAME, f"{label}, per CPU-second", cpu, "lookups/s")
    )
    return [first, Result(NAME, f"{label}, wall clock", wall, "lookups/s")]


def _kind(value: str) -> str:
    if value.startswith("+"):
        return "phone"
    if ":" in value or (value[0].isdigit() and value.count(".") == 3):
        return "ip"
    return "address"


def _stream(distinct: list[str], n: int, seed: int = 9) -> list[str]:
    """Half the lookups from a heavy-tailed head (recurring values), half uniform."""
    rng = random.Random(seed)
    last = len(distinct) - 1
    return [
        distinct[min(int(rng.paretovariate(1.2)) - 1, last)]
        if rng.random() < 0.5
        else distinct[rng.randrange(len(distinct))]
        for _ in range(n)
    ]


def measure(
    quick: bool = False, n_values: int | None = None, n_lookups: int | None = None
) -> list[Result]:
    from riskops.intel import phones
    from riskops.intel.addresses import check_address
    from riskops.intel.phones import phone_intel
    from riskops.intel.service import IntelService

    n_values = n_values or (6_000 if quick else 30_000)
    n_lookups = n_lookups or (60_000 if quick else 300_000)
    service = IntelService()
    # Open the data, as the server does at its start: the ASN table (about a second) and
    # the numbering plans (compiled once per region, a fraction of a second).
    service.warm()
    service.describe("8.8.8.8")
    distinct = values(n_values)
    results: list[Result] = []

    def forget() -> None:
        service.set_listed(None)  # clears the answer LRU
        phone_intel.cache_clear()
        phones._area.cache_clear()  # the carrier and place answers kept per 9-digit prefix
        phones._operator.cache_clear()
        check_address.cache_clear()

    by_kind: dict[str, list[str]] = {"ip": [], "phone": [], "address": []}
    for v in distinct:
        by_kind[_kind(v)].append(v)
    for label, batch in [*by_kind.items(), ("mixed", distinct)]:
        forget()
        with _Clock() as clock:
            for v in batch:
                service.describe(v)
        results += _results(f"cold {label} (each value new)", len(batch), clock, label == "mixed")

    stream = _stream(distinct, n_lookups)
    forget()
    with _Clock() as clock:
        for v in stream:
            service.describe(v)
    share = len(set(stream)) / len(stream)
    label = f"warm mixed stream ({share:.0%} first sights, LRU)"
    results += _results(label, n_lookups, clock, True)

    answers = [service.describe(v) for v in distinct[:5_000]]
    with _Clock() as clock:
        for answer in answers:
            answer.to_dict()
    results.append(Result(NAME, "to_dict of an answer", len(answers) / clock.cpu, "answers/s"))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--values", type=int, default=30_000)
    parser.add_argument("--lookups", type=int, default=300_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for r in measure(
        args.quick,
        args.values if not args.quick else None,
        args.lookups if not args.quick else None,
    ):
        mark = "" if r.ok is None else ("  ok" if r.ok else "  MISSED")
        print(f"{r.name:45s} {r.shown:>22s}  {r.target}{mark}")


if __name__ == "__main__":
    main()
