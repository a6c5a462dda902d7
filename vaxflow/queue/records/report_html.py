"""The daily report as one self-contained HTML page (UTF-8, CJK-safe fonts) with SVG charts."""

from __future__ import annotations

import base64
import html
import io
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from vaxflow.queue.core.report import DailyReport

#: Page fonts: Latin first, then the CJK fonts of Debian, Windows and macOS.
FONT_STACK = (
    '"Noto Sans", "DejaVu Sans", "Noto Sans CJK SC", "Source Han Sans SC", '
    '"WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "Hiragino Sans GB", sans-serif'
)
_CHART_RC: Any = {
    "font.family": "sans-serif",
    "font.sans-serif": ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "DejaVu Sans"],
    "font.size": 9,
    "svg.fonttype": "none",  # text stays text: the browser renders it with its own fonts
    "svg.hashsalt": "vaxflow-report",  # same figures, same bytes
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_RC_LOCK = threading.Lock()  # rcParams are process-wide
COLOURS = ("#1f6f8b", "#e07a1f", "#3c9d5d", "#b2456e", "#6a5acd", "#8c8c3c")


def _svg(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def data_uri(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _figure() -> Figure:
    return Figure(figsize=(7.5, 3.0), dpi=100, layout="tight")


def chart_doses_per_hour(report: DailyReport) -> Figure | None:
    if not report.hours or not report.totals["doses"]:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    hours = [h.hour for h in report.hours]
    bottom = [0] * len(hours)
    for i, product in enumerate(report.products):
        counts = [h.doses_by_product.get(product, 0) for h in report.hours]
        ax.bar(hours, counts, bottom=bottom, label=product, color=COLOURS[i % len(COLOURS)])
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_xticks(hours, [f"{h:02d}" for h in hours])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("时（现场时间）· hour (site time)")
    ax.set_ylabel("剂次 · doses")
    ax.legend(frameon=False, fontsize=8)
    return fig


def chart_waits(report: DailyReport) -> Figure | None:
    points = [h for h in report.hours if h.waits]
    if not points:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    hours = [h.hour for h in points]
    ax.plot(
        hours,
        [h.wait_p50_minutes or 0.0 for h in points],
        marker="o",
        label="p50",
        color=COLOURS[0],
    )
    ax.plot(
        hours,
        [h.wait_p90_minutes or 0.0 for h in points],
        marker="s",
        label="p90",
        color=COLOURS[1],
    )
    ax.set_xticks(hours, [f"{h:02d}" for h in hours])
    ax.set_xlabel("签到时段（现场时间）· hour of check-in")
    ax.set_ylabel("签到到叫号（分钟）· minutes to call")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=8)
    return fig


def chart_stations(report: DailyReport) -> Figure | None:
    if not report.stations:
        return None
    fig = Figure(figsize=(7.5, 0.8 + 0.28 * len(report.stations)), dpi=100, layout="tight")
    ax = fig.add_subplot()
    names = [
        s.station_id if not report.region else f"{s.site_id}/{s.station_id}"
        for s in report.stations
    ]
    y = list(range(len(names)))
    ax.barh(y, [s.doses for s in report.stations], color=COLOURS[0], label="接种 · doses")
    ax.barh(
        y,
        [s.deferred + s.referred for s in report.stations],
        left=[s.doses for s in report.stations],
        color=COLOURS[1],
        label="暂缓或转诊 · deferred or referred",
    )
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("服务人数 · people served")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return fig


def chart_occupancy(report: DailyReport) -> Figure | None:
    occ = report.occupancy
    if not occ.points:
        return None
    zone = ZoneInfo(report.timezone)
    fig = _figure()
    ax = fig.add_subplot()
    xs = [_local_hours(at, zone) for at, _ in occ.points]
    ax.step(
        xs,
        [n for _, n in occ.points],
        where="post",
        color=COLOURS[0],
        label="留观中 · in observation",
    )
    if occ.seats is not None:
        ax.axhline(occ.seats, color=COLOURS[3], linestyle="--", label=f"座位 · seats ({occ.seats})")
    ticks = list(range(int(xs[0]), int(xs[-1]) + 2))
    ax.set_xticks(ticks, [f"{h:02d}:00" for h in ticks])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("现场时间 · site time")
    ax.set_ylabel("人数 · people")
    ax.legend(frameon=False, fontsize=8)
    return fig


def _local_hours(at: datetime, zone: ZoneInfo) -> float:
    local = at.astimezone(zone)
    return local.hour + local.minute / 60 + local.second / 3600


def chart_age_sex(report: DailyReport) -> Figure | None:
    if not report.dose_groups:
        return None
    bands = sorted({g.age_band for g in report.dose_groups}, key=_band_order)
    sexes = sorted({g.sex for g in report.dose_groups})
    fig = _figure()
    ax = fig.add_subplot()
    width = 0.8 / len(sexes)
    for i, sex in enumerate(sexes):
        counts = [
            sum(g.doses for g in report.dose_groups if g.age_band == band and g.sex == sex)
            for band in bands
        ]
        xs = [x + i * width - 0.4 + width / 2 for x in range(len(bands))]
        ax.bar(xs, counts, width=width, label=sex, color=COLOURS[i % len(COLOURS)])
    ax.set_xticks(range(len(bands)), bands)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("年龄段 · age band")
    ax.set_ylabel("剂次 · doses")
    ax.legend(frameon=False, fontsize=8)
    return fig


def chart_adverse(report: DailyReport) -> Figure | None:
    if not report.adverse:
        return None
    kinds = sorted({k for k, _, _ in report.adverse})
    severities = sorted({s for _, s, _ in report.adverse}, key=_severity_order)
    fig = Figure(figsize=(7.5, 1.0 + 0.3 * len(kinds)), dpi=100, layout="tight")
    ax = fig.add_subplot()
    left = [0] * len(kinds)
    for i, severity in enumerate(severities):
        counts = [
            next((n for k, s, n in report.adverse if (k, s) == (kind, severity)), 0)
            for kind in kinds
        ]
        ax.barh(kinds, counts, left=left, label=severity, color=COLOURS[(i + 1) % len(COLOURS)])
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("报告次数 · flags")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return fig


def _band_order(band: str) -> int:
    return (
        999 if not band[:1].isdigit() and band != "<18" else (0 if band == "<18" else int(band[:2]))
    )


def _severity_order(severity: str) -> tuple[int, str]:
    order = {"mild": 0, "moderate": 1, "severe": 2, "life_threatening": 3}
    return (order.get(severity, 9), severity)


CHARTS: tuple[tuple[str, str, Callable[[DailyReport], Figure | None]], ...] = (
    ("doses-per-hour", "每小时接种剂次 · Doses per hour", chart_doses_per_hour),
    ("waits", "每小时等候时间（中位、九成）· Waits per hour (p50, p90)", chart_waits),
    ("stations", "接种台工作量 · Station throughput", chart_stations),
    ("observation", "留观人数与座位 · Observation occupancy and seats", chart_occupancy),
    ("age-sex", "年龄段与性别 · Doses by age band and sex", chart_age_sex),
    ("adverse", "不良反应 · Adverse reactions", chart_adverse),
)


def render_charts(report: DailyReport) -> dict[str, bytes]:
    """Every chart that has data, as SVG documents by name."""
    out: dict[str, bytes] = {}
    with _RC_LOCK, matplotlib.rc_context(_CHART_RC):
        for name, _, draw in CHARTS:
            fig = draw(report)
            if fig is not None:
                out[name] = _svg(fig)
    return out


# --- the page ----------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(headers: list[str], rows: list[list[Any]], *, numeric_from: int = 1) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"n" if i >= numeric_from else ""}">{_e(c)}</td>'
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt_min(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _time(at: datetime | None, zone: ZoneInfo) -> str:
    return "–" if at is None else at.astimezone(zone).strftime("%H:%M")


def render_html(report: DailyReport, charts: dict[str, bytes] | None = None) -> str:
    """The whole page; `charts` from `render_charts` (drawn here when not given)."""
    charts = render_charts(report) if charts is None else charts
    zone = ZoneInfo(report.timezone)
    names = ", ".join(report.site_names.get(s, s) for s in report.sites) or "no sites"
    title = f"每日接种报告 Daily report {report.day.isoformat()} — {names}"
    totals = report.totals
    tiles = [
        ("Check-ins", "签到", totals["checked_in"]),
        ("Doses", "接种剂次", totals["doses"]),
        ("Deferred", "暂缓接种", totals["deferred"]),
        ("Referred", "转诊", totals["referred"]),
        ("No-shows", "过号未到", totals["no_show"]),
        ("Adverse reactions", "不良反应", totals["adverse"]),
        ("Observation peak", "留观峰值", report.occupancy.peak),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_css()}</style></head><body>",
        f"<header><h1>{_e(title)}</h1>",
        f"<p class=sub>每日接种报告 · site day {_e(report.day.isoformat())} ({_e(report.timezone)})"
        f" · figures as of {_e(report.as_of.astimezone(zone).strftime('%Y-%m-%d %H:%M'))}</p>",
        _reconciliation(report),
        "</header><main>",
        '<section class="tiles">'
        + "".join(
            f'<div class="tile"><b>{_e(n)}</b><span>{_e(zh)}</span><small>{_e(en)}</small></div>'
            for en, zh, n in tiles
        )
        + "</section>",
    ]
    for name, heading, _ in CHARTS:
        if name in charts:
            parts.append(
                f"<section><h2>{_e(heading)}</h2>"
                f'<img src="{data_uri(charts[name])}" alt="{_e(heading)}">'
                f"{_chart_note(report, name)}</section>"
            )
    parts.append(_doses_table(report))
    parts.append(_stations_table(report, zone))
    parts.append(_outcomes_table(report))
    if report.region:
        parts.append(_sites_table(report))
    parts.append(
        "<footer>vaxflow · counts from the site database, each checked against the event log"
        " · 数据来自现场数据库并与事件日志核对</footer></main></body></html>"
    )
    return "\n".join(parts)


def _css() -> str:
    return (
        f"body{{font-family:{FONT_STACK};margin:0;color:#1d2327;background:#f6f7f7}}"
        "header{background:#1f6f8b;color:#fff;padding:16px 24px}"
        "h1{margin:0;font-size:22px}.sub{margin:4px 0 0;opacity:.9}"
        "main{padding:16px 24px;max-width:1100px}"
        "section{background:#fff;border-radius:6px;padding:12px 16px;margin:0 0 16px;"
        "box-shadow:0 1px 2px rgba(0,0,0,.08)}"
        "h2{font-size:16px;margin:0 0 8px}img{max-width:100%}"
        ".tiles{display:flex;flex-wrap:wrap;gap:12px;background:none;box-shadow:none;padding:0}"
        ".tile{background:#fff;border-radius:6px;padding:10px 14px;min-width:120px;"
        "box-shadow:0 1px 2px rgba(0,0,0,.08);display:flex;flex-direction:column}"
        ".tile b{font-size:26px}.tile small{color:#646970}"
        "table{border-collapse:collapse;font-size:13px;width:100%}"
        "th,td{padding:3px 8px;border-bottom:1px solid #dcdcde;text-align:left}"
        "td.n{text-align:right;font-variant-numeric:tabular-nums}"
        ".ok{background:#d7f0dd;color:#0a5c27;padding:6px 10px;border-radius:4px;"
        "display:inline-block;margin-top:8px}"
        ".bad{background:#fbe3e4;color:#8a1f24;padding:6px 10px;border-radius:4px;margin-top:8px}"
        ".note{color:#646970;font-size:12px;margin:4px 0 0}"
        "footer{color:#646970;font-size:12px;padding:8px 0 24px}"
    )


def _reconciliation(report: DailyReport) -> str:
    if report.reconciled:
        return (
            f'<p class="ok">All {len(report.checks)} figures checked against the event log agree'
            " · 全部数字与事件日志一致</p>"
        )
    bad = [c for c in report.checks if not c.ok]
    items = "".join(
        f"<li>{_e(c.name)}: tables {_e(c.tables)} · events {_e(c.events)}</li>" for c in bad
    )
    return (
        f'<div class="bad">{len(bad)} of {len(report.checks)} figures disagree with the event log'
        f" · 与事件日志不一致<ul>{items}</ul></div>"
    )


def _chart_note(report: DailyReport, name: str) -> str:
    occ = report.occupancy
    notes = {
        "waits": "Wait: from check-in to being called, grouped by the hour of check-in.",
        "observation": (
            f"Peak {occ.peak} at {_time(occ.peak_at, ZoneInfo(report.timezone))}"
            + (f"; {occ.minutes_over_seats} minutes over the seats." if occ.seats else ".")
        ),
    }
    return f'<p class="note">{_e(notes[name])}</p>' if name in notes else ""


def _doses_table(report: DailyReport) -> str:
    headers = ["product", "manufacturer", "dose", "age band", "sex", "doses"]
    if report.region:
        headers.insert(0, "site")
    rows = []
    for g in report.dose_groups:
        row: list[Any] = [g.product, g.manufacturer, g.dose_number, g.age_band, g.sex, g.doses]
        rows.append([g.site_id, *row] if report.region else row)
    rows.append(["total"] + [""] * (len(headers) - 2) + [report.totals["doses"]])
    return (
        "<section><h2>Doses by product, manufacturer, dose number, age band and sex"
        " · 按疫苗、厂家、剂次、年龄段与性别</h2>"
        f"{_table(headers, rows, numeric_from=len(headers) - 1)}</section>"
    )


def _stations_table(report: DailyReport, zone: ZoneInfo) -> str:
    headers = [
        "station",
        "doses",
        "deferred",
        "referred",
        "service p50 (min)",
        "doses/hour",
        "first",
        "last",
    ]
    rows = [
        [
            s.station_id if not report.region else f"{s.site_id}/{s.station_id}",
            s.doses,
            s.deferred,
            s.referred,
            _fmt_min(s.service_p50_minutes),
            _fmt_min(s.doses_per_hour),
            _time(s.first_dose, zone),
            _time(s.last_dose, zone),
        ]
        for s in report.stations
    ]
    return f"<section><h2>接种台 · Stations</h2>{_table(headers, rows)}</section>"


def _outcomes_table(report: DailyReport) -> str:
    t = report.totals
    summary = _table(
        ["outcome", "visits"],
        [
            ["deferred · 暂缓", t["deferred"]],
            ["referred · 转诊", t["referred"]],
            ["no-show · 未到", t["no_show"]],
            ["cancelled · 取消", t["cancelled"]],
            ["left early · 提前离开", t["left_early"]],
            ["transferred · 转送", t["transferred"]],
            ["still waiting · 仍在等候", t["waiting"]],
            ["still in observation · 仍在留观", t["observing"]],
        ],
    )
    reasons = _table(
        ["outcome", "reason", "visits"], [list(r) for r in report.reasons], numeric_from=2
    )
    adverse = _table(
        ["reaction", "severity", "flags"], [list(a) for a in report.adverse], numeric_from=2
    )
    outcomes = _table(
        ["outcome of flag", "flags"], [list(o) for o in report.adverse_outcomes.items()]
    )
    return (
        f"<section><h2>暂缓、转诊、未到 · Deferrals, referrals, no-shows</h2>{summary}"
        f"<h2>原因 · Reasons</h2>{reasons}</section>"
        "<section><h2>不良反应（类型与程度）· Adverse reactions by type and severity</h2>"
        f"{adverse}{outcomes}</section>"
    )


def _sites_table(report: DailyReport) -> str:
    headers = [
        "site",
        "check-ins",
        "doses",
        "deferred",
        "referred",
        "no-shows",
        "adverse",
        "wait p50",
        "wait p90",
    ]
    rows = [
        [
            f"{s.name} ({s.site_id})",
            s.checked_in,
            s.doses,
            s.deferred,
            s.referred,
            s.no_show,
            s.adverse,
            _fmt_min(s.wait_p50_minutes),
            _fmt_min(s.wait_p90_minutes),
        ]
        for s in report.per_site
    ]
    return f"<section><h2>各接种点 · Sites</h2>{_table(headers, rows)}</section>"
