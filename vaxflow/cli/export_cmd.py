"""`vaxflow export fhir|csv --date D [--db PATH|URL]`: a day's dose records for the registry."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, cast

from vaxflow.cli.common import CommandError
from vaxflow.cli.report_cmd import (
    add_database_options,
    load_configs,
    reading,
    run,
    site_day,
)
from vaxflow.csv_cells import safe_row
from vaxflow.private_files import open_private
from vaxflow.queue.records.fhir import resources
from vaxflow.queue.store.records import DoseRecord, dose_records, sites_on

log = logging.getLogger(__name__)

CSV_COLUMNS = (
    "site_id",
    "dose_id",
    "given_at",
    "product",
    "manufacturer",
    "lot",
    "dose_number",
    "station_id",
    "vaccinator",
    "ticket",
    "person_name",
    "id_type",
    "id_number",
    "birth_date",
    "sex",
    "reactions",
)


def register(sub: Any) -> None:
    parser = sub.add_parser("export", help="dose records for the immunization registry")
    formats = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")
    fhir = formats.add_parser(
        "fhir",
        help="HL7 FHIR R4 Patient and Immunization resources, one JSON object a line",
        description="Full ID numbers are in the output: it is meant for the registry only.",
    )
    plain = formats.add_parser("csv", help="one row per dose (full ID numbers)")
    for command, func in ((fhir, _fhir), (plain, _csv)):
        add_database_options(command)
        where = command.add_mutually_exclusive_group()
        where.add_argument("--site", help="site id (default: the site of the first --config)")
        where.add_argument("--region", action="store_true", help="every site in the database")
        command.add_argument("--out", help="file to write (default: standard output)")
        command.set_defaults(func=lambda args, f=func: run(f, args))


def _records(args: argparse.Namespace) -> tuple[list[DoseRecord], dict[str, Any]]:
    configs = load_configs(args)
    day = site_day(args, configs[0])
    with reading(args.db or configs[0].server.db) as conn:
        sites = sites_on(conn, day) if args.region else [args.site or configs[0].site.id]
        records = dose_records(conn, day, sites)
    log.info("%d dose records of %s at %d site(s)", len(records), day, len(sites))
    return records, {c.site.id: c for c in configs}


@contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    if path is None:
        try:
            yield sys.stdout
            sys.stdout.flush()
        except BrokenPipeError:  # `| head`: the reader went away; say so once, quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise CommandError("the output was closed before the export was complete") from None
        return
    with open_private(Path(path), "w", encoding="utf-8", newline="") as out:
        yield cast(TextIO, out)


def _fhir(args: argparse.Namespace) -> int:
    records, sites = _records(args)
    with _output(args.out) as out:
        for resource in resources(records, sites):
            out.write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n")
    return 0


def _csv(args: argparse.Namespace) -> int:
    records, _ = _records(args)
    with _output(args.out) as out:
        writer = _SafeWriter(csv.writer(out))
        writer.writerow(CSV_COLUMNS)
        for r in records:
            d = r.dose
            writer.writerow(
                [
                    d.site_id,
                    r.dose_id,
                    d.given_at.isoformat(timespec="seconds"),
                    d.product,
                    d.manufacturer,
                    d.lot,
                    d.dose_number,
                    d.station_id,
                    d.vaccinator,
                    r.ticket,
                    r.person_name,
                    r.id_type or "",
                    r.id_number,
                    r.birth_date.isoformat() if r.birth_date else "",
                    r.sex or "",
                    "; ".join(f"{a.kind} ({a.severity})" for a in r.reactions),
                ]
            )
    return 0


class _SafeWriter:
    """A csv writer whose text cells cannot run as spreadsheet formulas (vaxflow/csv_cells.py)."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def writerow(self, row: Any) -> None:
        self._writer.writerow(safe_row(row))
