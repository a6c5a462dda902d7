"""The region server's file: its database, where it listens, and the sites it takes events from."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vaxflow.config.errors import ConfigError, ConfigProblem
from vaxflow.config.load import _problem


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class RegionSite(_Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
    """The site's id, as its `[region] site_id` (or `[site] id`) says."""
    name: str = ""
    """Shown on the region dashboard and the district report."""
    district: str = ""
    """The district the site reports to (the daily report groups by it)."""
    token: Annotated[str, Field(min_length=16)]
    """The bearer token the site ships with; each site its own."""


class RegionSettings(_Strict):
    """The city's region server."""

    database: str
    """The cluster as a SQLAlchemy URL: every node, `target_session_attrs=read-write`."""
    host: str = "127.0.0.1"
    """Address the region server listens on."""
    port: Annotated[int, Field(ge=0, le=65535)] = 8090
    """TCP port of the region server."""
    timezone: str = "Asia/Shanghai"
    """The city's time zone: what "today" means on the dashboard and in the report."""
    quiet_after_seconds: Annotated[float, Field(gt=0)] = 120.0
    """A site not heard from for this long is shown as quiet, in seconds."""
    retry_deadline_seconds: Annotated[float, Field(gt=0, le=300)] = 30.0
    """How long one write keeps retrying through a failover before the site is told to resend."""
    dashboard_token: str | None = None
    """Bearer token (or `?token=`) for the dashboard, report and history pages; none: open."""
    sites: list[RegionSite] = []
    """Every site that ships here."""

    @model_validator(mode="after")
    def _unique(self) -> RegionSettings:
        ids = [s.id for s in self.sites]
        if len(ids) != len(set(ids)):
            raise ValueError("sites: a site id is listed twice")
        tokens = [s.token for s in self.sites]
        if len(tokens) != len(set(tokens)):
            raise ValueError("sites: two sites share a token")
        return self

    def site_of_token(self, token: str) -> RegionSite | None:
        """The site a bearer token belongs to."""
        return next((s for s in self.sites if s.token == token), None)


def load_region_settings(path: str | Path) -> RegionSettings:
    """Load and validate a region file; raise ConfigError naming the file on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(str(path), [ConfigProblem("(file)", "the file does not exist")]) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(str(path), [ConfigProblem("(file)", str(err))]) from err
    try:
        return RegionSettings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(str(path), [_problem(text, data, e) for e in err.errors()]) from err
