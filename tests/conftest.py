"""Shared pytest set-up: offline hub, no tracking by default, and the tiny release fixture.

Run all default tests:  pytest        (slow and GPU tests: pytest -m slow / -m gpu)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Hub lookups stall ~20 s each without a network; tests never need one. Tracking is off unless a test
# points MLFLOW_TRACKING_URI at a temporary store and turns it on.
os.environ.update(
    HF_HUB_OFFLINE="1",
    HF_DATASETS_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
    TINYHELEN_TRACKING="off",
    DVC_NO_ANALYTICS="1",
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "tinyhelen-data"


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/tinyhelen-data is not present")
    return SHARED_DATA


@pytest.fixture
def params():
    from tinyhelen.params import load_params

    return load_params(REPO_ROOT / "params.yaml")


@pytest.fixture
def tiny_release(tmp_path: Path) -> Path:
    """A small corpus in the release layout with every file format (see tests/fixtures/tiny_release.py)."""
    from tests.fixtures.tiny_release import write_tiny_release

    return write_tiny_release(tmp_path / "release")


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Turn tracking on, into a temporary sqlite store; returns its URI."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("TINYHELEN_TRACKING", "mlflow")
    return uri
