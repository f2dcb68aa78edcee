"""/reports in Chromium: the charts are drawn (uPlot canvases, no CSP violation), the
filter form changes the data, and each chart's "Export CSV" link downloads its table with
the same filters."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from riskops.reports import seed


def test_reports_draw_filter_and_export(page: Any, served: Any, login: Callable[..., None]) -> None:
    served.seed(lambda session: seed.seed(session, datetime.now(UTC), random.Random(11)))
    login(page, "max")
    page.goto("/reports")
    for chart in ("backlog", "throughput", "holds", "rule-rates"):
        page.wait_for_selector(f'#chart-{chart} [data-drawn="true"] canvas')
    before = json.loads(page.get_attribute(".chart[data-chart=backlog]", "data-series") or "{}")

    queue = page.eval_on_selector(
        'select[name="queue"]', "s => s.options[1] ? s.options[1].value : ''"
    )
    assert queue, "the queue filter offers the queues in the rollups"
    page.select_option('select[name="queue"]', queue)
    page.click('#report-filters button[type="submit"]')
    page.wait_for_url(f"**/reports?*queue={queue}*")
    page.wait_for_selector('#chart-backlog [data-drawn="true"] canvas')
    after = json.loads(page.get_attribute(".chart[data-chart=backlog]", "data-series") or "{}")
    total = lambda c: sum(v or 0 for s in c["series"] for v in s["values"])  # noqa: E731
    assert 0 < total(after) < total(before)

    href = page.get_attribute("#chart-backlog a.csv-link", "href")
    assert href is not None and f"queue={queue}" in href
    answer = page.request.get(href)
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/csv")
    lines = answer.text().splitlines()
    assert lines[0].startswith("day,open <1d") and len(lines) == 1 + len(after["labels"])
