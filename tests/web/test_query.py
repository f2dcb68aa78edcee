"""A scalar query parameter sent more than once is refused, naming it; a list one is not."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from riskops.auth.permissions import TOKEN_SCOPES
from riskops.kernel.config import Settings
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import bearer, token_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/decisions?account_id=a&account_id=b", "account_id"),
        ("/v1/alerts?rule_id=r&limit=5&rule_id=s", "rule_id"),
        ("/v1/holds?limit=1&limit=2", "limit"),
        ("/v1/dead-letters?offset=0&offset=1", "offset"),
        ("/v1/emails?account_id=a&account_id=a", "account_id"),
    ],
)
def test_a_scalar_parameter_given_twice_is_refused(
    engine: Engine, tmp_path: Path, path: str, name: str
) -> None:
    app = create_app(Container(Settings(data_dir=tmp_path), engine), start_background=False)
    with TestClient(app) as client:
        answer = client.get(path, headers=bearer(token_for(engine, sorted(TOKEN_SCOPES))))
    assert answer.status_code == 422, answer.text
    assert answer.json()["details"] == [
        {"field": f"query.{name}", "reason": "given more than once"}
    ]


def test_a_list_parameter_takes_every_value(engine: Engine, tmp_path: Path) -> None:
    app = create_app(Container(Settings(data_dir=tmp_path), engine), start_background=False)
    with TestClient(app) as client:
        answer = client.get(
            "/v1/queues/nope/cases?status=new&status=in_review",
            headers=bearer(token_for(engine, sorted(TOKEN_SCOPES))),
        )
    assert answer.status_code == 404, answer.text  # both values read: then no such queue
