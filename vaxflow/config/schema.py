"""The site schema: every setting an operator can put in a site TOML file, with units."""

from __future__ import annotations

import re
from datetime import date, time
from enum import StrEnum
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from vaxflow.config.languages import DEFAULT_LANGUAGE, Language

Role = Literal["kiosk", "station", "observer", "marshal", "board", "admin", "metrics"]
"""`metrics` is a scraper's (Prometheus): it may read `GET /metrics` and nothing else."""
ROLES: tuple[Role, ...] = (
    "kiosk",
    "station",
    "observer",
    "marshal",
    "board",
    "admin",
    "metrics",
)

#: Which URL schemes each kind of device accepts; `vaxflow.hardware.urls` maps them to classes.
DEVICE_SCHEMES: dict[str, frozenset[str]] = {
    "scanner": frozenset({"camera", "serial", "hid", "sim"}),
    "idcard": frozenset({"serial", "sim"}),
    "printer": frozenset({"tcp", "usb", "serial", "file", "sim"}),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _table_name(data: object, key: str, names: str) -> object:
    """A `key = { "zh-CN" = "…", en = "…" }` table: `key` becomes its first entry as written
    (what code, tickets and logs use) and `names` the whole table (what pages show in their
    language). A plain string is left as it is."""
    if isinstance(data, dict) and isinstance(data.get(key), dict):
        table = data[key]
        if not table:
            raise ValueError(f"{key} is an empty table; give a name in at least one language")
        return {**data, key: next(iter(table.values())), names: table}
    return data


class _Named(_Strict):
    names: dict[Language, Annotated[str, Field(min_length=1, max_length=100)]] = {}
    """The name in each language, from `name = { "zh-CN" = "…", "zh-TW" = "…", en = "…" }`;
    a language without one shows `name` (a plain string: the one name everywhere)."""

    @model_validator(mode="before")
    @classmethod
    def _names_table(cls, data: object) -> object:
        return _table_name(data, "name", "names")

    def name_in(self, language: str) -> str:
        """The name in `language` (zh-TW falls back to zh-CN), else the one name."""
        names: dict[str, str] = {str(k): v for k, v in self.names.items()}
        found = names.get(language) or (names.get("zh-CN") if language == "zh-TW" else None)
        return found or str(getattr(self, "name", ""))


class LaneKind(StrEnum):
    """What a lane is for; check-in picks the lane by kind."""

    REGULAR = "regular"
    PRIORITY = "priority"
    WALK_IN = "walk_in"
    REVIEW = "review"


class Lane(_Named):
    prefix: Annotated[str, Field(pattern=r"^[A-Z]$")]
    """The ticket letter for this lane, e.g. "A" gives A001, A002, ..."""
    name: str
    """Shown on tickets and boards."""
    kind: LaneKind = LaneKind.REGULAR
    """regular, priority (elderly, disabled), walk_in (no booking) or review (doctor review)."""
    weight: Annotated[float, Field(gt=0, le=100)] = 1.0
    """Priority weight: a waiting minute in this lane counts `weight` minutes when calling next."""


Platform = Literal["inactivated", "recombinant_protein", "adenovirus_vector", "mrna"]
"""Vaccine platforms as the notices name them; booster rules compare them."""
PLATFORMS: tuple[Platform, ...] = (
    "inactivated",
    "recombinant_protein",
    "adenovirus_vector",
    "mrna",
)


class Product(_Named):
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
    """Short product code used in bookings, stations and lots."""
    name: str
    """Product name as printed on certificates."""
    manufacturer: str
    """Manufacturer; later doses of a series must be from the same one."""
    platform: Platform | None = None
    """inactivated, recombinant_protein, adenovirus_vector or mrna; none: not stated (a booster
    rule that compares platforms then refuses rather than guesses)."""
    aliases: list[Annotated[str, Field(min_length=1, max_length=100)]] = []
    """Other names or codes earlier-dose records use for this product ("Sinovac CoronaVac",
    "克尔来福"); matched ignoring case, spaces and punctuation."""
    doses_in_series: Annotated[int, Field(ge=1, le=10)] = 2
    """Number of doses in the primary series."""
    min_interval_days: Annotated[int, Field(ge=0)] = 21
    """Minimum days between two doses of the series."""
    max_interval_days: Annotated[int, Field(ge=0)] | None = 56
    """Maximum days between two doses (56 when not given); later is overdue
    (see [schedule] overdue)."""
    series_window_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    """Every dose of the series, the last included, within this many days of dose 1
    (ZF2001: dose 3 within 180 days); none for no window. Later is overdue."""
    observation_minutes: Annotated[int, Field(ge=0, le=240)] = 30
    """Observation after the dose, in minutes."""
    min_age_years: Annotated[int, Field(ge=0, le=130)] | None = None
    """Youngest age this product is licensed for, in years; none uses the site's age rules."""
    max_age_years: Annotated[int, Field(ge=0, le=130)] | None = None
    """Oldest age this product is licensed for, in years; none for no limit."""

    @model_validator(mode="after")
    def _intervals(self) -> Product:
        if self.max_interval_days is not None and self.max_interval_days < self.min_interval_days:
            raise ValueError(
                f"max_interval_days ({self.max_interval_days}) is shorter than "
                f"min_interval_days ({self.min_interval_days})"
            )
        if self.series_window_days is not None:
            if self.doses_in_series < 2:
                raise ValueError("series_window_days needs a series of two or more doses")
            shortest = (self.doses_in_series - 1) * self.min_interval_days
            if self.series_window_days < shortest:
                raise ValueError(
                    f"series_window_days ({self.series_window_days}) is shorter than the "
                    f"{self.doses_in_series - 1} minimum intervals together ({shortest} days)"
                )
        return self


class Station(_Named):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,20}$")]
    """Station identifier used by consoles and in URLs, e.g. "S05"."""
    name: str
    """What the call board says: "Station 5"."""
    zone: str
    """Where the station is, so the board can say where to go: "Hall B"."""
    zone_names: dict[Language, Annotated[str, Field(min_length=1, max_length=100)]] = {}
    """The zone in each language, from `zone = { "zh-CN" = "…", en = "…" }` (stations of one
    zone give the same table; `zone` is its first entry)."""

    @model_validator(mode="before")
    @classmethod
    def _zone_table(cls, data: object) -> object:
        return _table_name(data, "zone", "zone_names")

    products: list[str]
    """Product codes this station can give."""


class AgeRules(_Strict):
    min_age_years: Annotated[int, Field(ge=0, le=130)] = 18
    """Youngest person served, in whole years on the visit day."""
    review_age_years: Annotated[int, Field(ge=0, le=130)] | None = 60
    """From this age (in years) people are routed to the doctor-review or priority lane."""
    max_age_years: Annotated[int, Field(ge=0, le=130)] | None = None
    """Oldest person served, in years; none for no limit."""


class AgeBand(_Strict):
    products: list[str] = []
    """Product codes the band opens; empty: every product."""
    min_age_years: Annotated[int, Field(ge=0, le=130)] = 0
    """Youngest age in the band, in whole years on the visit day."""
    max_age_years: Annotated[int, Field(ge=0, le=130)] | None = None
    """Oldest age in the band, in whole years (inclusive); none for no limit."""
    effective_from: date
    """First visit day (site time) the band is open."""
    until: date | None = None
    """Last visit day (site time, inclusive) the band is open; none: open until changed."""

    @model_validator(mode="after")
    def _band(self) -> AgeBand:
        if self.max_age_years is not None and self.max_age_years < self.min_age_years:
            raise ValueError(
                f"max_age_years ({self.max_age_years}) is below min_age_years "
                f"({self.min_age_years})"
            )
        if self.until is not None and self.until < self.effective_from:
            raise ValueError(f"until ({self.until}) is before effective_from")
        return self

    def in_effect(self, day: date) -> bool:
        return self.effective_from <= day and (self.until is None or day <= self.until)


BoosterRelation = Literal["same_manufacturer", "same_platform", "other_platform", "any"]


class BoosterRule(_Strict):
    effective_from: date
    """First visit day (site time) the rule applies."""
    until: date | None = None
    """Last visit day (site time, inclusive) the rule applies; none: until changed."""
    after_platforms: list[Platform] = []
    """Completed primary series of these platforms qualify; with after_products empty too: any."""
    after_products: list[str] = []
    """Completed primary series of these product codes (the series' dose 1) qualify."""
    months_after_completion: Annotated[int, Field(ge=0, le=120)] = 6
    """Calendar months from the series' last dose (from the previous booster for number > 1)."""
    products: list[str] = []
    """Product codes that may be given as this booster; empty: any product in [[products]]."""
    relation: BoosterRelation = "any"
    """The booster against the primary series: same_manufacturer, same_platform,
    other_platform or any."""
    number: Annotated[int, Field(ge=1, le=5)] = 1
    """Which booster the rule allows: 1 for the first booster, 2 for a second, ..."""
    min_age_years: Annotated[int, Field(ge=0, le=130)] | None = None
    """Youngest age for this booster, in whole years; none: the age bands alone decide."""
    max_age_years: Annotated[int, Field(ge=0, le=130)] | None = None
    """Oldest age for this booster, in whole years; none for no limit."""

    @model_validator(mode="after")
    def _rule(self) -> BoosterRule:
        if self.until is not None and self.until < self.effective_from:
            raise ValueError(f"until ({self.until}) is before effective_from")
        if (
            self.min_age_years is not None
            and self.max_age_years is not None
            and self.max_age_years < self.min_age_years
        ):
            raise ValueError("max_age_years is below min_age_years")
        return self

    def in_effect(self, day: date) -> bool:
        return self.effective_from <= day and (self.until is None or day <= self.until)

    def covers(self, series: Product) -> bool:
        """Does a completed primary series begun with `series` fall under `after_*`?"""
        if not self.after_platforms and not self.after_products:
            return True
        return series.code in self.after_products or (
            series.platform is not None and series.platform in self.after_platforms
        )


class ScheduleRules(_Strict):
    overdue: Literal["regular", "review"] = "regular"
    """A dose past max_interval_days or the series window: regular (ticket as usual, the station
    console notes "complete as soon as possible") or review (doctor-review lane)."""


class BookingRules(_Strict):
    early_tolerance_minutes: Annotated[int, Field(ge=0, le=720)] = 30
    """How early before the booked window a person is still checked in, in minutes."""
    late_tolerance_minutes: Annotated[int, Field(ge=0, le=720)] = 60
    """How late after the booked window a person is still checked in, in minutes."""
    public_keys: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,20}$")], str] = {}
    """Ed25519 public keys (base64) of booking QR issuers, by key id."""
    service_url: str | None = None
    """Booking service asked for codes not on the imported list (http://host/...), or none."""
    service_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 3.0
    """Longest a booking-service lookup may take, in seconds."""
    url_code_params: list[str] = ["code", "booking", "b"]
    """Query parameters that carry the booking code when a booking QR holds a URL."""
    require_id_card: bool = True
    """A booked check-in needs the person's ID card read and matched to the booking."""

    @field_validator("public_keys")
    @classmethod
    def _keys(cls, value: dict[str, str]) -> dict[str, str]:
        import base64
        import binascii

        for kid, key in value.items():
            try:
                raw = base64.b64decode(key, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"public key {kid!r} is not base64") from None
            if len(raw) != 32:
                raise ValueError(f"public key {kid!r} is not a 32-byte Ed25519 key")
        return value


class Question(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,40}$")]
    """Stable identifier stored with the answers."""
    effect: Literal["pass", "defer", "refer"]
    """What a "yes" does: pass (note it), defer (not today), refer (doctor review)."""
    text: dict[Language, str]
    """The question in every language the site offers."""


class Consent(_Strict):
    version: Annotated[str, Field(min_length=1, max_length=40)] = "none"
    """Version of the consent text; stored with each visit that agreed to it."""
    text: dict[Language, str] = {}
    """The informed-consent text in every language the site offers."""


class WalkInRules(_Strict):
    daily_capacity: Annotated[int, Field(ge=0)] = 0
    """Walk-in tickets the site may issue per site day (0: no walk-ins)."""
    default_product: str | None = None
    """Product code given to walk-ins when they do not choose one."""


class KioskRules(_Strict):
    typed_documents: bool = True
    """Whether people without a resident ID card (passport, Hong Kong/Macau or Taiwan permit)
    may type their document at the kiosk; false sends them to the information desk."""


class ObservationRules(_Strict):
    seats: Annotated[int, Field(ge=1)] = 100
    """Chairs in the observation area."""
    last_minutes: Annotated[int, Field(ge=0, le=60)] = 5
    """Boards highlight people with fewer than this many minutes left."""
    exit_printer: str | None = None
    """Certificate printer at the exit (tcp://host:9100, sim://, ...), or none to show it only."""

    @field_validator("exit_printer")
    @classmethod
    def _exit_printer(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return str(_device_url("printer").func(value))  # type: ignore[call-arg]


class QueueRules(_Strict):
    call_repeat_limit: Annotated[int, Field(ge=1, le=20)] = 3
    """Calls without the person appearing before a skip becomes a no-show."""
    default_service_minutes: Annotated[float, Field(gt=0, le=120)] = 3.0
    """Assumed minutes at an injection station until real service times are known."""
    service_sample_size: Annotated[int, Field(ge=1, le=1000)] = 30
    """How many recent services the wait estimate averages over."""
    target_wait_minutes: Annotated[float, Field(gt=0, le=600)] = 30.0
    """The wait, in minutes, the site aims to stay under; the marshal's dashboard colours
    waits over it (amber from three quarters of it)."""


def _device_url(kind: str) -> AfterValidator:
    def check(url: str) -> str:
        scheme = urlsplit(url).scheme
        if not scheme:
            raise ValueError(
                f"{url!r} is not a device URL (expected e.g. sim:// or tcp://host:9100)"
            )
        allowed = DEVICE_SCHEMES[kind]
        if scheme not in allowed:
            raise ValueError(
                f"unknown {kind} scheme {scheme!r}; use one of: {', '.join(sorted(allowed))}"
            )
        return url

    return AfterValidator(check)


class Devices(_Strict):
    scanner: Annotated[str, _device_url("scanner")] = "sim://"
    """QR scanner: camera://0, serial:///dev/ttyACM0?baudrate=9600, sim://, or a USB keyboard-
    wedge scanner: hid:///dev/input/by-id/usb-...-event-kbd (Linux: its own input device,
    grabbed so its keys never reach the screen; ?layout=us|de), or hid:// (no path: its keys
    as typed into the kiosk window, where /dev/input cannot be read)."""
    idcard: Annotated[str, _device_url("idcard")] = "sim://"
    """ID-card reader: serial:///dev/ttyUSB0?baudrate=115200 or sim://."""
    printer: Annotated[str, _device_url("printer")] = "sim://"
    """Ticket printer: tcp://host:9100, usb://0x0416:0x5011, serial://..., file:///dev/usb/lp0, sim://."""
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    """Longest any single device call may take, in seconds."""


class SiteInfo(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
    """Site identifier stored on every row; lowercase letters, digits, - and _."""
    name: str
    """Site name as printed on tickets and certificates."""
    timezone: str = "Asia/Shanghai"
    """IANA time zone of the site; site days are counted in it (see `day_turns_at`)."""
    day_turns_at: time = time(4, 0)
    """When one site day gives way to the next, site time, "HH:MM" from "00:00" to "12:00".
    Not midnight by default: a day that runs late keeps serving its people (call, dose,
    observation, exit) and numbering its check-ins until then. Staff may close a day earlier
    (POST /api/site-day/close): check-ins are refused and its people finish, until the next
    day opens at this turn or by staff (POST /api/site-day/open); a clock set back never
    reopens a day."""
    languages: list[Language] = [DEFAULT_LANGUAGE, "en"]
    """Languages offered on screens; the first is the default."""

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"{value!r} is not a known time zone (e.g. Asia/Shanghai)") from err
        return value

    @field_validator("day_turns_at", mode="before")
    @classmethod
    def _turn(cls, value: object) -> object:
        text = value.isoformat() if isinstance(value, time) else value
        if not isinstance(text, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d(:00)?", text):
            raise ValueError(f'{value!r} is not a time of day as "HH:MM" (e.g. "04:00")')
        turn = time.fromisoformat(text)
        if turn > time(12, 0):
            raise ValueError(
                f"{text} is after noon: a site day must turn between 00:00 and 12:00, "
                "so that each day's morning belongs to it"
            )
        return turn

    @field_validator("languages")
    @classmethod
    def _langs(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one language")
        return value


_Cap = Annotated[int, Field(ge=0, le=100_000)]


class WebSocketsPerRole(_Strict):
    """Event-feed WebSockets each role may hold at once, all its devices together; 0 keeps the
    role off the feed. `server.max_websockets` still bounds them all."""

    board: _Cap = 300
    """Public boards and their browser pages: many (every hall screen, every open tab)."""
    station: _Cap = 100
    """Station consoles: one or two each."""
    observer: _Cap = 40
    """Observation-area consoles."""
    marshal: _Cap = 40
    """The marshal's dashboards."""
    admin: _Cap = 20
    """Administrators' pages."""
    kiosk: _Cap = 4
    """Kiosks: few (they follow no feed today; the route refuses them)."""
    metrics: _Cap = 0
    """A Prometheus scraper reads /metrics only: none."""


class ServerSettings(_Strict):
    host: str = "127.0.0.1"
    """Address the site server listens on."""
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    """TCP port of the site server."""
    db: str = "var/site.sqlite"
    """SQLite file path or a database URL (postgresql://...)."""
    allowed_origins: list[str] = []
    """Extra browser origins allowed to open the event WebSocket (same origin is always allowed)."""
    max_body_bytes: Annotated[int, Field(ge=1024, le=10_000_000)] = 64 * 1024
    """Largest request body accepted, in bytes."""
    kiosk_requests_per_second: Annotated[float, Field(gt=0, le=10_000)] = 20.0
    """Sustained requests one kiosk (token and device) may make, per second."""
    kiosk_burst: Annotated[int, Field(ge=1, le=100_000)] = 60
    """Requests a kiosk may make at once before the per-second limit applies."""
    tls_cert: str | None = None
    """PEM certificate file to serve HTTPS, or none for plain HTTP on a closed site LAN."""
    tls_key: str | None = None
    """PEM private key file for `tls_cert`."""
    tls_ca: str | None = None
    """PEM file of the site CA (`vaxflow tls init`): clients of this site trust only it."""
    header_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 20.0
    """A client that has not sent its request line and headers within this many seconds is
    disconnected (a slowloris holds no connection longer)."""
    body_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 15.0
    """A request body not fully received within this many seconds is refused (408)."""
    max_websockets: Annotated[int, Field(ge=1, le=100_000)] = 400
    """Event-feed WebSockets open at once, all roles together; more are refused (503)."""
    max_websockets_per_device: Annotated[int, Field(ge=1, le=1000)] = 4
    """Event-feed WebSockets one device token (or one shared token) may hold at once."""
    max_replays: Annotated[int, Field(ge=1, le=1000)] = 8
    """Feed subscribers replaying history at once; the others wait their turn."""
    max_websockets_per_role: WebSocketsPerRole = WebSocketsPerRole()
    """Event-feed WebSockets per role, all its devices together (a table in [server]): one
    role's flood (a leaked board token) leaves room for the stations and the marshal."""


#: Device kinds a token of `[device_tokens.<name>]` may name: the roles.
DeviceKind = Role
#: Roles that are machines at one place: their tokens belong to one device each on a real site.
DEVICE_ROLES: frozenset[Role] = frozenset({"kiosk", "station", "observer", "board"})


class DeviceToken(_Strict):
    """One device's own bearer token: the server then knows which device (and station) asks."""

    token: Annotated[str, Field(min_length=12)]
    """The bearer token of this device only, at least 12 characters."""
    kind: Role
    """What the device is: kiosk, station, observer, board, marshal or admin."""
    station: str | None = None
    """For a station console: the id of the station it is (it may act for no other)."""


StaffRole = Literal["station", "observer", "marshal", "admin"]


def _hash_string(value: object) -> str:
    """Check a PIN or badge hash; never echo the value (it may be a PIN typed in by mistake)."""
    from vaxflow.config.pins import HashFormatError, parse_hash

    if not isinstance(value, str):
        raise ValueError("must be a quoted hash string made by `vaxflow staff hash-pin`")
    try:
        parse_hash(value)
    except HashFormatError as err:
        raise ValueError(str(err)) from None
    return value


class StaffMember(_Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,20}$")]
    """Staff number typed at sign-in and written on every audit event: "N0012"."""
    name: Annotated[str, Field(min_length=1, max_length=60)]
    """The person's name, shown on consoles and written on dose records."""
    roles: Annotated[list[StaffRole], Field(min_length=1)]
    """What this person may do: station (vaccinate), observer, marshal, admin."""
    pin_hash: Annotated[str, BeforeValidator(_hash_string)]
    """Salted scrypt hash of the PIN from `vaxflow staff hash-pin`; never the PIN itself."""
    badge_hash: Annotated[str, BeforeValidator(_hash_string)] | None = None
    """Hash of the badge code from `vaxflow staff hash-badge --site SITE`, or none (no badge)."""


class StaffSignIn(_Strict):
    required: bool = False
    """Staff actions (station, observer and marshal POSTs) need a signed-in person, not only
    the device's token; off, a device token alone still works and sign-in is optional."""
    idle_minutes: Annotated[int, Field(ge=1, le=720)] = 15
    """A staff session ends after this many minutes without a request (pages sign out too)."""
    max_session_hours: Annotated[float, Field(gt=0, le=24)] = 12.0
    """A staff session ends this many hours after sign-in, however busy."""
    max_failed_attempts: Annotated[int, Field(ge=1, le=100)] = 5
    """Failed sign-ins of one staff number (or badges) at one device before that device is
    slowed for it: 15 seconds, doubling with each further failure. Never a lock everywhere."""
    lockout_minutes: Annotated[int, Field(ge=1, le=1440)] = 5
    """The longest a sign-in throttle makes anyone wait, in minutes."""
    badge_needs_pin: bool = True
    """A badge scan also needs the PIN; off, a badge alone signs its owner in."""


class DemoSettings(_Strict):
    bookings: Annotated[int, Field(ge=0, le=100_000)] = 2000
    """How many demo bookings to seed (codes DEMO0001...)."""
    visit_date: date | None = None
    """Booking date for demo bookings; none means today."""


class RegionUplink(_Strict):
    """Shipping this site's events to the city's region server (issue 16); off without `url`."""

    url: str | None = None
    """The region server's base URL (https://region.example:8090), or none: no region."""
    token: str | None = None
    """This site's bearer token at the region (the region's file lists it for this site)."""
    site_id: str | None = None
    """The site's name at the region; none: `[site] id`."""
    history_key: str | None = None
    """The city's secret for the keyed hash (HMAC-SHA256) of ID numbers, the same at every
    site: the region matches people across sites by it and never holds an ID number."""
    batch_max: Annotated[int, Field(ge=1, le=10_000)] = 1000
    """Most events sent in one request."""
    interval_seconds: Annotated[float, Field(gt=0, le=60)] = 0.25
    """Pause between sends when there is nothing new, in seconds (a commit wakes it sooner)."""
    status_seconds: Annotated[float, Field(gt=0, le=600)] = 10.0
    """How often the site's live figures (queue, waits, seats, alerts) ride along, in seconds."""
    history_deadline_seconds: Annotated[float, Field(gt=0, le=10)] = 1.0
    """How long a check-in waits for the region's dose history before using the local one."""
    retry_max_seconds: Annotated[float, Field(gt=0, le=300)] = 5.0
    """Longest pause between sends while the region does not answer (it doubles up to this),
    in seconds: the backlog starts draining at most this long after the region is back."""

    @model_validator(mode="after")
    def _complete(self) -> RegionUplink:
        if self.url is not None and not self.token:
            raise ValueError("region.token: give the site's token at the region with the url")
        if self.url is not None and urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError("region.url: must start with http:// or https://")
        return self


class FhirUplink(_Strict):
    url: Annotated[str, Field(pattern=r"^https?://")]
    """The registry's FHIR R4 base, e.g. `https://iis.example/fhir`."""
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    """Longest wait for one request to the registry, in seconds."""
    history: bool = True
    """Ask the registry for a person's earlier doses at check-in."""
    history_timeout_seconds: Annotated[float, Field(gt=0, le=10)] = 1.5
    """Longest wait for that answer at check-in, in seconds; then the local history is used."""


class Hl7Uplink(_Strict):
    host: str
    """The registry's MLLP listener (HL7 v2 VXU^V04)."""
    port: Annotated[int, Field(ge=1, le=65535)]
    """Its TCP port."""
    sending_facility: str | None = None
    """MSH-4; the site id when not given."""
    receiving_application: str = "IIS"
    """MSH-5."""
    receiving_facility: str = "IIS"
    """MSH-6."""
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    """Longest wait for a connection or an ACK, in seconds."""


class UplinkSettings(_Strict):
    """What leaves the site: doses to the registry, booking write-offs (through the outbox)."""

    fhir: FhirUplink | None = None
    """Send each dose as FHIR `PUT Patient` and `PUT Immunization` with client-assigned ids."""
    hl7: Hl7Uplink | None = None
    """Send each dose as an HL7 v2 VXU^V04 over MLLP."""
    booking_writeoff: bool = False
    """Tell the booking service (`[booking] service_url`) when a booking is used, dosed, or
    not used by the end of its window."""
    deadline_hours: Annotated[float, Field(gt=0, le=240)] = 24.0
    """Each dose must reach the registry within this many hours of the injection."""
    alert_after_hours: Annotated[float, Field(gt=0, le=240)] = 4.0
    """The dashboard alerts when a record has waited longer than this, in hours."""
    retry_base_seconds: Annotated[float, Field(gt=0, le=600)] = 2.0
    """First wait after a failed send, in seconds; doubled after each failure (with jitter)."""
    retry_max_seconds: Annotated[float, Field(gt=0, le=3600)] = 300.0
    """Longest wait between two attempts, in seconds."""
    certificate_key_file: str | None = None
    """The site's certificate signing key (JSON from `vaxflow certificate keygen`); with it,
    each exit certificate carries a signed QR anyone can verify."""
    certificate_trust_file: str | None = None
    """Other sites' public keys the /verify page trusts (the `trust` part of their keygen)."""


class Settings(_Strict):
    """One vaccination site."""

    site: SiteInfo
    lanes: list[Lane]
    stations: list[Station]
    products: list[Product]
    age: AgeRules = AgeRules()
    age_bands: list[AgeBand] = []
    """Who may come, by age and product, with the dates each band opens; empty: [age] decides."""
    boosters: list[BoosterRule] = []
    """When a completed primary series may get a booster, and with what; empty: no boosters."""
    schedule: ScheduleRules = ScheduleRules()
    booking: BookingRules = BookingRules()
    walk_in: WalkInRules = WalkInRules()
    observation: ObservationRules = ObservationRules()
    queue: QueueRules = QueueRules()
    devices: Devices = Devices()
    kiosk: KioskRules = KioskRules()
    """What the check-in kiosk offers besides the resident ID card."""
    questions: list[Question] = []
    """Contraindication questions asked before a ticket, one per screen."""
    consent: Consent = Consent()
    tokens: dict[Role, list[str]] = {}
    """Shared bearer tokens per role: `kiosk = ["token1", "token2"]`. They name no device, so a
    real site gives devices `[device_tokens.<name>]` instead (`vaxflow config check` refuses
    shared device tokens on a site that is not a demo)."""
    device_tokens: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")], DeviceToken] = {}
    """One token per device, by device name: `[device_tokens.station-s01]` with token, kind and
    (for a station) station."""
    server: ServerSettings = ServerSettings()
    demo: DemoSettings = DemoSettings()
    staff: list[StaffMember] = []
    """People who sign in at stations and staff pages with a PIN or badge."""
    staff_sign_in: StaffSignIn = StaffSignIn()
    region: RegionUplink = RegionUplink()
    """The city's region server this site ships its events to (none by default)."""

    uplink: UplinkSettings = UplinkSettings()
    """The registry uplink and booking write-off (issue 15)."""

    @field_validator("tokens", mode="before")
    @classmethod
    def _tokens_as_lists(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("tokens")
    @classmethod
    def _tokens_strong(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: dict[str, str] = {}
        for role, tokens in value.items():
            for token in tokens:
                if len(token) < 12:
                    raise ValueError(
                        f"the {role} token {token[:3]}... is shorter than 12 characters"
                    )
                if token in seen:
                    raise ValueError(f"the same token is given to both {seen[token]} and {role}")
                seen[token] = role
        return value

    @model_validator(mode="after")
    def _device_tokens(self) -> Settings:
        seen: dict[str, str] = {t: role for role, tokens in self.tokens.items() for t in tokens}
        station_ids = {s.id for s in self.stations}
        for name, device in self.device_tokens.items():
            where = f"device_tokens.{name}"
            if device.token in seen:
                raise ValueError(f"{where}: the same token is given to {seen[device.token]} too")
            seen[device.token] = where
            if device.kind == "station" and device.station is None:
                raise ValueError(f"{where}: a station's token names its station (station = ...)")
            if device.station is not None and device.station not in station_ids:
                raise ValueError(f"{where}.station: {device.station!r} is not in [[stations]]")
        if not self.tokens and not self.device_tokens:
            raise ValueError("tokens: give at least one token ([device_tokens.<name>])")
        return self

    @property
    def is_demo(self) -> bool:
        """A demo or rehearsal site (its id starts with "demo"): shared tokens and plain HTTP
        are tolerated there, never on a real site."""
        return self.site.id.startswith("demo")

    def shared_device_tokens(self) -> list[Role]:
        """Roles of machines whose tokens are shared (they name no device): refused on a
        real site, where the server must know which kiosk, station or board asks."""
        return sorted(
            role for role, tokens in self.tokens.items() if role in DEVICE_ROLES and tokens
        )

    @model_validator(mode="after")
    def _cross_refs(self) -> Settings:
        if not self.lanes:
            raise ValueError("lanes: define at least one lane")
        prefixes = [lane.prefix for lane in self.lanes]
        dup = {p for p in prefixes if prefixes.count(p) > 1}
        if dup:
            raise ValueError(f"lanes: prefix {sorted(dup)[0]} is used by two lanes")
        codes = [p.code for p in self.products]
        if len(set(codes)) != len(codes):
            raise ValueError("products: two products share one code")
        ids = [s.id for s in self.stations]
        if len(set(ids)) != len(ids):
            raise ValueError("stations: two stations share one id")
        for index, station in enumerate(self.stations):
            for code in station.products:
                if code not in codes:
                    raise ValueError(
                        f"stations[{index}].products: station {station.id} gives {code!r}, "
                        f"which is not in [[products]]"
                    )
        if self.walk_in.default_product and self.walk_in.default_product not in codes:
            raise ValueError(
                f"walk_in.default_product: {self.walk_in.default_product!r} is not in [[products]]"
            )
        if self.walk_in.daily_capacity and not self.lane_of_kind(LaneKind.WALK_IN):
            raise ValueError(
                'walk_in.daily_capacity: walk-ins are allowed but no lane has kind = "walk_in"'
            )
        for index, question in enumerate(self.questions):
            missing = [lang for lang in self.site.languages if lang not in question.text]
            if missing:
                raise ValueError(f"questions[{index}].text: no text for {', '.join(missing)}")
        missing = [lang for lang in self.site.languages if lang not in self.consent.text]
        if self.consent.text and missing:
            raise ValueError(f"consent.text: no text for {', '.join(missing)}")
        if not self.lane_of_kind(LaneKind.REGULAR):
            raise ValueError('lanes: one lane must have kind = "regular"')
        staff_ids = [person.id for person in self.staff]
        dup = {i for i in staff_ids if staff_ids.count(i) > 1}
        if dup:
            raise ValueError(f"staff: two people share the id {sorted(dup)[0]}")
        badges = [person.badge_hash for person in self.staff if person.badge_hash]
        if len(set(badges)) != len(badges):
            raise ValueError("staff: two people have the same badge")
        if self.staff_sign_in.required and not self.staff:
            raise ValueError(
                "staff_sign_in.required: sign-in is required but no [[staff]] can sign in"
            )
        _check_policy(self)
        return self

    def lane_of_kind(self, kind: LaneKind) -> Lane | None:
        """The first lane of a kind (lanes are listed in the order operators prefer)."""
        return next((lane for lane in self.lanes if lane.kind == kind), None)

    def lane(self, prefix: str) -> Lane:
        return next(lane for lane in self.lanes if lane.prefix == prefix)

    def product(self, code: str) -> Product | None:
        return next((p for p in self.products if p.code == code), None)

    def station(self, station_id: str) -> Station | None:
        return next((s for s in self.stations if s.id == station_id), None)

    def staff_member(self, staff_id: str) -> StaffMember | None:
        return next((p for p in self.staff if p.id == staff_id), None)

    def role_of(self, token: str) -> Role | None:
        """The role a bearer token grants, or None for an unknown token."""
        for role, tokens in self.tokens.items():
            if token in tokens:
                return role
        for device in self.device_tokens.values():
            if device.token == token:
                return device.kind
        return None


def _overlap(a_from: date, a_until: date | None, b_from: date, b_until: date | None) -> bool:
    return (a_until is None or b_from <= a_until) and (b_until is None or a_from <= b_until)


def _check_policy(settings: Settings) -> None:
    """A schedule policy that contradicts itself fails at load, naming the key."""
    products = {p.code: p for p in settings.products}
    platforms = {p.platform for p in settings.products if p.platform}
    for index, band in enumerate(settings.age_bands):
        where = f"age_bands[{index}].products"
        for code in band.products:
            product = products.get(code)
            if product is None:
                raise ValueError(f"{where}: {code!r} is not in [[products]]")
            low = max(band.min_age_years, product.min_age_years or 0)
            high = min(
                band.max_age_years if band.max_age_years is not None else 200,
                product.max_age_years if product.max_age_years is not None else 200,
            )
            if low > high:
                raise ValueError(
                    f"{where}: {code} is licensed for ages {product.min_age_years or 0}-"
                    f"{product.max_age_years or 'any'}, outside this band"
                )
    for index, rule in enumerate(settings.boosters):
        where = f"boosters[{index}]"
        for key, codes in (("products", rule.products), ("after_products", rule.after_products)):
            for code in codes:
                if code not in products:
                    raise ValueError(f"{where}.{key}: {code!r} is not in [[products]]")
        for platform in rule.after_platforms:
            if platform not in platforms:
                raise ValueError(
                    f"{where}.after_platforms: no product in [[products]] has platform {platform!r}"
                )
        if rule.relation in ("same_platform", "other_platform"):
            after = [p for p in settings.products if rule.covers(p)]
            given = [products[c] for c in rule.products] if rule.products else settings.products
            unstated = sorted({p.code for p in [*after, *given] if p.platform is None})
            if unstated:
                raise ValueError(
                    f"{where}.relation: {rule.relation} compares platforms but "
                    f"{', '.join(unstated)} state no platform"
                )
        if rule.number > 1 and not any(
            other.number == rule.number - 1 for other in settings.boosters
        ):
            raise ValueError(
                f"{where}.number: booster {rule.number} has no rule for booster {rule.number - 1}"
            )
        for earlier_index, other in enumerate(settings.boosters[:index]):
            if (
                other.number == rule.number
                and _overlap(other.effective_from, other.until, rule.effective_from, rule.until)
                and any(rule.covers(p) and other.covers(p) for p in settings.products)
                and (
                    not rule.products
                    or not other.products
                    or set(rule.products) & set(other.products)
                )
                and other.months_after_completion != rule.months_after_completion
            ):
                raise ValueError(
                    f"{where}.months_after_completion: boosters[{earlier_index}] covers the "
                    f"same series, booster and days with {other.months_after_completion} months; "
                    "end the older rule with until"
                )
