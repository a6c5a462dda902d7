"""A private Xvfb display (1920x1920) for the screen tests: portrait and landscape fit in it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.xvfb import xvfb


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xvfb("1920x1920x24", range(360, 460)) as name:
        yield name
