"""What the audit tests share: the app's client and a held withdrawal to act on."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from riskops.kernel.clock import utcnow
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor.models import Hold, HoldStatus
from riskops.web.app import create_app
from riskops.web.deps import Container

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Container(Settings(data_dir=tmp_path), engine), start_background=False)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def held_hold_id(engine: Engine) -> int:
    """The id of a held 0.5 BTC withdrawal of ``acct-9``, committed."""
    with unit_of_work(session_factory(engine)) as session:
        hold = Hold(
            event_id="w-1",
            account_id="acct-9",
            withdrawal_id="wd-1",
            asset="BTC",
            amount=Decimal("0.5"),
            usd_value=Decimal("30000.00"),
            status=HoldStatus.HELD,
            reasons=[],
            created_at=utcnow(),
        )
        session.add(hold)
        session.flush()
        return hold.id
