"""Fixtures shared by every test module."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real, openly licensed test data that lives beside the repository (never copied in)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data not found (real test data lives beside the repo)")
    return SHARED_DATA
