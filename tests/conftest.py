"""Shared fixtures. ``SHARED_DATA`` is ../shared/data beside the project; tests that use it skip
when it is absent (CI clones may not have it)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
RULES = ROOT / "rules"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA
