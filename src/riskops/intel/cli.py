"""Commands of the ``intel`` package: ``riskops intel lookup VALUE``, ``mismatch``, ``sources``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

intel_app = typer.Typer(
    help="Intelligence on IPs, phones, emails, crypto addresses, domains and tx ids "
    "(data shipped in registry packages, nothing fetched).",
    no_args_is_help=True,
)

# Lists printed one item a line, under the singular of their name.
_ONE = {
    "sources": "source",
    "links": "link",
    "notes": "note",
    "listings": "listing",
    "mismatches": "mismatch",
}


def _print(data: dict[str, Any], as_json: bool) -> None:
    import orjson

    if as_json:
        typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False, soft_wrap=True)
    for key, value in data.items():
        if key in _ONE and isinstance(value, list):
            for item in value:
                shown = (
                    " · ".join(str(v) for v in item.values() if v)
                    if isinstance(item, dict)
                    else item
                )
                console.print(f"[bold]{_ONE[key]}[/bold]: {escape(str(shown))}")
        elif value is not None and value != []:
            console.print(f"[bold]{key}[/bold]: {escape(str(value))}")


@intel_app.command("lookup")
def lookup(
    value: Annotated[
        str, typer.Argument(help="an IP, phone (+country code), email, address, domain or tx id")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    kind: Annotated[
        str | None, typer.Option(help="ip|phone|email|address|domain|tx_hash: skip detection")
    ] = None,
    chain: Annotated[
        str | None, typer.Option(help="the chain of a tx id whose shape several chains share")
    ] = None,
) -> None:
    """Detect what VALUE is and print what the shipped data says of it, with its sources."""
    from riskops.intel.service import describe

    _print(describe(value, kind=kind, chain=chain), as_json)


@intel_app.command("mismatch")
def mismatch(
    kyc: Annotated[str | None, typer.Option(help="KYC country (ISO-2)")] = None,
    phone: Annotated[str | None, typer.Option(help="phone number, +country code")] = None,
    ip: Annotated[str | None, typer.Option(help="IP address")] = None,
    card: Annotated[str | None, typer.Option(help="card issuer country (ISO-2)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Compare the countries named by KYC, phone, IP and card; print each disagreement."""
    import msgspec

    from riskops.intel.service import default_service

    report = default_service().mismatches(kyc_country=kyc, phone=phone, ip=ip, card_country=card)
    data = {
        "countries": report.countries,
        "mismatches": msgspec.to_builtins(report.mismatches),
        "notes": report.notes,
    }
    _print(data, as_json)


@intel_app.command("sources")
def sources(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The data sets intel reads: package, version, the data's date, licence and credit."""
    import msgspec

    from riskops.intel.service import default_service

    _print({"sources": msgspec.to_builtins(default_service().sources())}, as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(intel_app, name="intel")
