"""Settings come from RISKOPS_* variables with embedded defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskops.kernel.config import Settings


def test_defaults_need_nothing_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RISKOPS_DATABASE_URL", raising=False)
    monkeypatch.delenv("RISKOPS_DATA_DIR", raising=False)
    settings = Settings()
    assert settings.sqlalchemy_url.startswith("sqlite:///")
    assert settings.sqlalchemy_url.endswith(".riskops/riskops.db")


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RISKOPS_DATABASE_URL", "postgresql://u@h:5432/riskops")
    monkeypatch.setenv("RISKOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RISKOPS_MAX_EVENT_BYTES", "1024")
    settings = Settings()
    assert settings.sqlalchemy_url == "postgresql://u@h:5432/riskops"
    assert settings.data_dir == tmp_path
    assert settings.max_event_bytes == 1024
