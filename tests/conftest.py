"""Shared fixtures: the demo settings, a frozen clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings, load_settings

from .postgres import db_url, postgres_module_db, postgres_server  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = ROOT / "config" / "demo.toml"
QR_SAMPLES = ROOT.parent / "shared" / "data" / "qr-samples"


@pytest.fixture
def settings() -> Settings:
    return load_settings(DEMO_CONFIG)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()
