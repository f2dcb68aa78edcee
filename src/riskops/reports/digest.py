"""The weekly digest for management: the week's trends against the week before, as an HTML
email (to each active manager, through ``riskops.outbound``, the PDF attached and a link
to /reports for the week) and as a PDF drawn with reportlab (its charts are reportlab
graphics: alerts per day, true-positive rate per rule, backlog by age).

``riskops reports digest --week 2026-W10 --out digest.pdf`` writes the PDF; the weekly pass
(``tasks.digest_pass``) sends the last complete week's once.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.orm import Session

from riskops.kernel.config import get_settings
from riskops.kernel.errors import ValidationFailed
from riskops.outbound import service as outbound
from riskops.outbound.models import Channel
from riskops.reports import repository as repo
from riskops.reports import rollups as r
from riskops.reports.repository import Filters
from riskops.reports.schemas import Chart
from riskops.reports.trends import alerts_chart, backlog_chart, rule_rates_chart

WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
PALETTE = [colors.HexColor(c) for c in ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed")]


def parse_week(text: str) -> date:
    """The Monday of an ISO week ``YYYY-Www``; ``ValidationFailed`` for anything else."""
    found = WEEK.match(text.strip())
    try:
        if found is None:
            raise ValueError(text)
        return date.fromisocalendar(int(found[1]), int(found[2]), 1)
    except ValueError:
        raise ValidationFailed(
            "not an ISO week", details=[{"field": "week", "reason": "YYYY-Www, e.g. 2026-W10"}]
        ) from None


def week_name(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class Figure:
    name: str
    this_week: float
    last_week: float
    unit: str = "count"

    @property
    def change(self) -> str:
        if not self.last_week:
            return "new" if self.this_week else "—"
        pct = 100 * (self.this_week - self.last_week) / self.last_week
        return f"{pct:+.0f}%"

    def shown(self, value: float) -> str:
        return f"{value:,.2f} USD" if self.unit == "usd" else f"{value:,.0f}"


@dataclass(frozen=True)
class Digest:
    week: str
    monday: date
    figures: list[Figure]
    alerts: Chart
    rates: Chart
    backlog: Chart
    spikes: list[str]
    link: str


def _total(session: Session, metric: str, f: Filters, *, cents: bool = False) -> float:
    rows = repo.daily(session, metric, f, (), use=())
    return float(sum(row[-1] / 100 if cents else row[-2] for row in rows))


def _backlog_end(session: Session, f: Filters) -> float:
    end = Filters(f.until, f.until)
    return _total(session, r.BACKLOG, end)


def build(session: Session, monday: date) -> Digest:
    """The digest of the ISO week starting ``monday``, from the rollups."""
    this = Filters(monday, monday + timedelta(days=6))
    last = Filters(monday - timedelta(days=7), monday - timedelta(days=1))

    def fig(name: str, metric: str, *, cents: bool = False) -> Figure:
        return Figure(
            name,
            _total(session, metric, this, cents=cents),
            _total(session, metric, last, cents=cents),
            "usd" if cents else "count",
        )

    figures = [
        fig("Events received", r.EVENTS),
        fig("Alerts", r.ALERTS),
        fig("Cases opened", r.OPENED),
        fig("Cases closed", r.CLOSED),
        fig("Closed after their SLA", r.CLOSED_LATE),
        fig("Held withdrawals (USD)", r.HELD, cents=True),
        fig("Loss prevented: rejected holds (USD)", r.REJECTED, cents=True),
        Figure(
            "Backlog at the week's end", _backlog_end(session, this), _backlog_end(session, last)
        ),
    ]
    spikes = [
        f"{s.day.isoformat()}: {s.metric.replace('_', ' ')} for {s.dimension} {s.key}: "
        f"{s.observed} against a usual {s.baseline:g}"
        for s in repo.spikes_between(session, this.since, this.until)
    ]
    query = urlencode({"since": this.since.isoformat(), "until": this.until.isoformat()})
    return Digest(
        week=week_name(monday),
        monday=monday,
        figures=figures,
        alerts=alerts_chart(session, this),
        rates=rule_rates_chart(session, this),
        backlog=backlog_chart(session, this),
        spikes=spikes,
        link=f"{get_settings().console_url.rstrip('/')}/reports?{query}",
    )


# ---- PDF -----------------------------------------------------------------------------


def _line_drawing(chart: Chart, width: float, height: float) -> Drawing:
    d = Drawing(width, height)
    d.add(String(0, height - 12, chart.title, fontSize=10))
    series = [s for s in chart.series if any(v for v in s.values)][:5]
    if not series:
        d.add(String(0, height / 2, "No alerts this week.", fontSize=9))
        return d
    lc = HorizontalLineChart()
    lc.x, lc.y, lc.width, lc.height = 40, 30, width - 170, height - 60
    lc.data = [[v or 0 for v in s.values] for s in series]
    lc.categoryAxis.categoryNames = [label[5:] for label in chart.labels]
    lc.categoryAxis.labels.fontSize = 7
    lc.valueAxis.valueMin = 0
    lc.valueAxis.labels.fontSize = 7
    for i in range(len(series)):
        lc.lines[i].strokeColor = PALETTE[i % len(PALETTE)]
        lc.lines[i].strokeWidth = 1.5
    d.add(lc)
    d.add(_legend([s.name for s in series], width - 120, height - 30))
    return d


def _bar_drawing(
    chart: Chart, width: float, height: float, *, stacked: bool = False, take: int | None = None
) -> Drawing:
    d = Drawing(width, height)
    d.add(String(0, height - 12, chart.title, fontSize=10))
    series = chart.series if take is None else chart.series[:take]
    if not chart.labels or not any(v for s in series for v in s.values):
        d.add(String(0, height / 2, "Nothing this week.", fontSize=9))
        return d
    bc = VerticalBarChart()
    bc.x, bc.y, bc.width, bc.height = 40, 30, width - 170, height - 60
    bc.data = [[v or 0 for v in s.values] for s in series]
    bc.categoryAxis.categoryNames = [
        label[5:] if chart.x == "day" else label[:12] for label in chart.labels
    ]
    bc.categoryAxis.labels.fontSize = 7
    bc.valueAxis.valueMin = 0
    bc.valueAxis.labels.fontSize = 7
    if stacked:
        bc.categoryAxis.style = "stacked"
    for i in range(len(series)):
        bc.bars[i].fillColor = PALETTE[i % len(PALETTE)]
    d.add(bc)
    d.add(_legend([s.name for s in series], width - 120, height - 30))
    return d


def _legend(names: list[str], x: float, y: float) -> Legend:
    legend = Legend()
    legend.x, legend.y = x, y
    legend.fontSize = 7
    legend.alignment = "right"
    legend.colorNamePairs = [(PALETTE[i % len(PALETTE)], n[:28]) for i, n in enumerate(names)]
    return legend


def to_pdf(digest: Digest) -> bytes:
    """The digest as a PDF: the figures against last week, the charts, the spikes."""
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        title=f"riskops weekly digest {digest.week}",
        author="riskops",
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
    )
    styles = getSampleStyleSheet()
    sunday = digest.monday + timedelta(days=6)
    story: list[object] = [
        Paragraph(f"riskops weekly digest {digest.week}", styles["Title"]),
        Paragraph(
            f"{digest.monday.isoformat()} to {sunday.isoformat()} (UTC), against the week before.",
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
    ]
    rows = [["", "This week", "Last week", "Change"]] + [
        [f.name, f.shown(f.this_week), f.shown(f.last_week), f.change] for f in digest.figures
    ]
    table = Table(rows, colWidths=[70 * mm, 35 * mm, 35 * mm, 22 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f3f4f6")]),
            ]
        )
    )
    width = A4[0] - 36 * mm
    story += [
        table,
        Spacer(1, 6 * mm),
        _line_drawing(digest.alerts, width, 65 * mm),
        Spacer(1, 4 * mm),
        _bar_drawing(digest.rates, width, 65 * mm),
        Spacer(1, 4 * mm),
        _bar_drawing(digest.backlog, width, 65 * mm, stacked=True, take=len(r.AGE_BUCKETS)),
        Spacer(1, 4 * mm),
        Paragraph("Spikes", styles["Heading2"]),
    ]
    if digest.spikes:
        story += [Paragraph(html.escape(s), styles["Normal"]) for s in digest.spikes]
    else:
        story.append(Paragraph("No spike this week.", styles["Normal"]))
    story.append(
        Paragraph(f"The week in the console: {html.escape(digest.link)}", styles["Normal"])
    )
    doc.build(story)
    return out.getvalue()


# ---- email ---------------------------------------------------------------------------


def to_html(digest: Digest) -> str:
    """The digest as an HTML email body (inline styles only: mail clients drop the rest)."""
    rows = "".join(
        f"<tr><td>{html.escape(f.name)}</td><td align=right>{f.shown(f.this_week)}</td>"
        f"<td align=right>{f.shown(f.last_week)}</td><td align=right>{f.change}</td></tr>"
        for f in digest.figures
    )
    top = sorted(
        ((s.name, sum(v or 0 for v in s.values)) for s in digest.alerts.series),
        key=lambda item: -item[1],
    )[:5]
    rules = (
        "".join(f"<li>{html.escape(n)}: {t:,.0f} alerts</li>" for n, t in top) or "<li>none</li>"
    )
    spikes = "".join(f"<li>{html.escape(s)}</li>" for s in digest.spikes) or "<li>none</li>"
    link = html.escape(digest.link, quote=True)
    return (
        f'<html><body style="font-family:sans-serif"><h1>riskops weekly digest {digest.week}</h1>'
        f'<table cellpadding=4 style="border-collapse:collapse"><tr><th></th><th>This week</th>'
        f"<th>Last week</th><th>Change</th></tr>{rows}</table>"
        f"<h2>Rules with the most alerts</h2><ul>{rules}</ul><h2>Spikes</h2><ul>{spikes}</ul>"
        f'<p>The charts are in the attached PDF and <a href="{link}">on the reports page</a>.'
        f"</p></body></html>"
    )


def to_text(digest: Digest) -> str:
    lines = [f"riskops weekly digest {digest.week}", ""]
    lines += [
        f"{f.name}: {f.shown(f.this_week)} (last week {f.shown(f.last_week)}, {f.change})"
        for f in digest.figures
    ]
    lines += ["", "Spikes:", *(digest.spikes or ["none"]), "", f"Reports: {digest.link}"]
    return "\n".join(lines) + "\n"


def send(session: Session, monday: date, now: datetime) -> int:
    """Email the week's digest (HTML, text, PDF attached) to each active manager, once per
    manager and week (the outbox dedupes on the key); how many managers it was queued for."""
    digest = build(session, monday)
    pdf = to_pdf(digest)
    managers = repo.manager_emails(session)
    for username, email in managers:
        outbound.enqueue(
            session,
            channel=Channel.EMAIL,
            to=email,
            subject=f"riskops weekly digest {digest.week}",
            body=to_text(digest),
            html=to_html(digest),
            purpose="report.digest",
            dedupe_key=f"digest:{digest.week}:{username}",
            attachments=[
                outbound.Attachment(f"riskops-digest-{digest.week}.pdf", "application/pdf", pdf)
            ],
            now=now,
        )
    return len(managers)
