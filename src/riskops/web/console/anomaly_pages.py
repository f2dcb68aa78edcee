"""Console pages of issue 12 (filled in by its work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
