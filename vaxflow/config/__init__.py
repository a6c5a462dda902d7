"""Typed site settings: one schema, loaded from TOML, with errors naming file, key and line."""

from vaxflow.config.demo import DEMO_NAME, demo_settings, demo_text
from vaxflow.config.errors import ConfigError
from vaxflow.config.load import load_settings, load_settings_text
from vaxflow.config.schema import (
    DEVICE_SCHEMES,
    ROLES,
    Lane,
    LaneKind,
    Product,
    Settings,
    Station,
)

__all__ = [
    "DEMO_NAME",
    "DEVICE_SCHEMES",
    "ROLES",
    "ConfigError",
    "Lane",
    "LaneKind",
    "Product",
    "Settings",
    "Station",
    "demo_settings",
    "demo_text",
    "load_settings",
    "load_settings_text",
]
