"""Shared test fixtures.

The golden cases (computed with the published code) live in ``tests/golden`` so a fresh
clone tests them. Research scans live in ``../shared/data`` beside the checkout; the few
tests that read them skip cleanly when that folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
GOLDEN = TESTS / "golden"
SHARED_DATA = TESTS.parents[1] / "shared" / "data"


@pytest.fixture
def golden_dir() -> Path:
    """The golden cases copied into the test tree (never skipped)."""
    return GOLDEN


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (research scans); skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present beside the checkout")
    return SHARED_DATA
