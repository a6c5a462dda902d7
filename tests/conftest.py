"""Shared fixtures: the demo settings, a frozen clock."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings, load_settings

from .figures import KEY as FIGURES_KEY
from .figures import Figures, count_hypothesis
from .postgres import (  # noqa: F401  (fixtures)
    db_url,
    postgres_module_db,
    postgres_server,
    sqlite_template,
)

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = ROOT / "vaxflow" / "config" / "demo.toml"
QR_SAMPLES = ROOT.parent / "shared" / "data" / "qr-samples"


@pytest.fixture
def settings() -> Settings:
    return load_settings(DEMO_CONFIG)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def load_test_site(folder: Path) -> Path:
    """The demo site for tests that send far faster than people do: no per-kiosk rate limit
    and walk-in capacity for a whole load test. Written to `folder`, returned as a path."""
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    text = text.replace("[server]\n", "[server]\nkiosk_requests_per_second = 10000\n", 1)
    text = re.sub(r"(?m)^daily_capacity\s*=\s*\d+", "daily_capacity = 100000", text)
    path = folder / "load-test-site.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the run's figures (tests/figures.py): faults injected, requests fuzzed, nothing lost ------


def pytest_configure(config: pytest.Config) -> None:
    config.stash[FIGURES_KEY] = Figures()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    """Counters printed at the end of the run: `figures.add("faults injected", 3)`."""
    return request.config.stash[FIGURES_KEY]


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    count_hypothesis(item)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    found = terminalreporter.config.stash.get(FIGURES_KEY, None)
    if found is None or not found.counts:
        return
    terminalreporter.section("reliability figures")
    for line in found.table():
        terminalreporter.write_line(line)
