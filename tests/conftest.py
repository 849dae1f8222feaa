"""Shared test fixtures. Research data lives in ../shared beside the checkout; tests that
need it skip cleanly when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def shared_dir() -> Path:
    """The ../shared folder (golden cases, research data); skips the test when absent."""
    if not (SHARED / "golden").is_dir():
        pytest.skip("../shared is not present beside the checkout")
    return SHARED
