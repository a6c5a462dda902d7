"""The district's daily report from the region: every site's doses of one day, CSV and HTML.

One row per site (every site in the region file, and any other that shipped), in district
order, with a total row: doses, by dose number, by product, adverse reactions flagged, and
the day's doses struck out since (given in error: left out of the doses before them). CSV
cells that a spreadsheet would run as a formula are quoted with a leading apostrophe.
"""

from __future__ import annotations

import csv
import html
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from vaxflow.config.region import RegionSettings
from vaxflow.csv_cells import safe_row
from vaxflow.region.store import RegionStore, day_bounds


@dataclass(frozen=True)
class DailyReport:
    """The day's table: column keys and labels, one dict per site, and the totals."""

    day: date
    columns: list[tuple[str, str]]
    rows: list[dict[str, Any]]
    total: dict[str, Any]


def daily_report(store: RegionStore, settings: RegionSettings, day: date) -> DailyReport:
    """Every site's figures for `day` (the city's time zone), read from the region."""
    start, end = day_bounds(day, settings.timezone)
    doses = store.dose_rows(start, end)
    adverse = store.kind_counts("adverse_flagged", start, end)
    struck = store.struck_by_site(start, end)
    known = {s.id: s for s in settings.sites}
    seen = {r["site_id"] for r in store.site_rows()}
    products = sorted({d["product"] for d in doses})
    per_site: dict[str, Counter[str]] = {}
    for d in doses:
        c = per_site.setdefault(d["site_id"], Counter())
        c["doses"] += 1
        number = d["dose_number"] or 0
        c["dose_1" if number == 1 else "dose_2" if number == 2 else "dose_3_plus"] += 1
        c[f"product:{d['product']}"] += 1
    columns = [
        ("date", "日期 Date"),
        ("district", "区县 District"),
        ("site_id", "接种点编号 Site"),
        ("site_name", "接种点 Site name"),
        ("doses", "接种总数 Doses"),
        ("dose_1", "第1剂 Dose 1"),
        ("dose_2", "第2剂 Dose 2"),
        ("dose_3_plus", "第3剂及以上 Dose 3+"),
        *[(f"product:{p}", f"{p}") for p in products],
        ("adverse", "不良反应 Adverse reactions"),
        ("struck", "误录作废 Struck out"),
    ]
    ids = set(known) | seen | set(per_site) | set(struck)
    order = sorted(ids, key=lambda i: (known[i].district if i in known else "~", i))
    rows = []
    for site_id in order:
        c = per_site.get(site_id, Counter())
        site = known.get(site_id)
        row: dict[str, Any] = {
            "date": day.isoformat(),
            "district": site.district if site else "",
            "site_id": site_id,
            "site_name": site.name if site else "",
            "adverse": adverse.get(site_id, 0),
            "struck": struck.get(site_id, 0),
        }
        for key, _label in columns[4:-2]:
            row[key] = c.get(key, 0)
        rows.append(row)
    total: dict[str, Any] = {"date": day.isoformat(), "district": "", "site_id": "合计 Total"}
    total["site_name"] = ""
    for key, _label in columns[4:]:
        total[key] = sum(int(r[key]) for r in rows)
    return DailyReport(day, columns, rows, total)


def to_csv(report: DailyReport) -> str:
    """UTF-8 CSV with a BOM-free header of labels; every cell formula-safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([label for _key, label in report.columns])
    for row in [*report.rows, report.total]:
        writer.writerow(safe_row(row.get(key) for key, _label in report.columns))
    return out.getvalue()


def to_html(report: DailyReport) -> str:
    """A printable page of the same table."""
    head = "".join(f"<th>{html.escape(label)}</th>" for _k, label in report.columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(str(r.get(k, '')))}</td>" for k, _l in report.columns)
        + "</tr>"
        for r in [*report.rows, report.total]
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>区域日报 {report.day.isoformat()}</title>
<style>table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:4px 8px}}
tr:last-child{{font-weight:bold}}</style></head><body>
<h1>疫苗接种日报 Daily vaccination report — {report.day.isoformat()}</h1>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>
"""


def write_daily(report: DailyReport, folder: Path) -> list[Path]:
    """`region-daily-D.csv` and `.html` in `folder` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"region-daily-{report.day.isoformat()}"
    csv_path, html_path = stem.with_suffix(".csv"), stem.with_suffix(".html")
    csv_path.write_text(to_csv(report), encoding="utf-8")
    html_path.write_text(to_html(report), encoding="utf-8")
    return [csv_path, html_path]
