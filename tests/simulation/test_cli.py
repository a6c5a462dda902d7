"""`vaxflow simulate` as a planner runs it: JSON, tables, sweeps, files, and clear errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from vaxflow.cli import build_parser, main
from vaxflow.cli.simulate_cmd import parse_sweep, scenario_from_args
from vaxflow.config import Settings
from vaxflow.queue.simulation import Scenario

SMALL = ["simulate", "--hours", "2", "--seed", "4"]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*SMALL, *args])
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, _ = _run(capsys, "--json", *args)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 1  # one JSON object, nothing else on stdout
    result: dict[str, Any] = json.loads(lines[0])
    return result


def test_json_has_the_planning_figures(capsys: pytest.CaptureFixture[str]) -> None:
    s = _json(capsys, "--stations", "14", "--arrival-rate", "180", "--service-dist", "exp")
    for key in (
        "queue_wait_mean_min",
        "queue_wait_p90_min",
        "throughput_per_hour",
        "station_utilization",
        "observation_occupancy_max",
        "observation_occupancy_mean",
        "final_states",
        "kiosk_wait_mean_min",
        "wait_estimate_abs_error_mean_min",
        "events_processed",
        "wall_seconds",
    ):
        assert key in s, key
    assert s["stations"] == 14
    assert s["service"] == "exp(3)"  # the site file's default_service_minutes
    assert 0 < s["station_utilization"] <= 1


def test_same_seed_same_output(capsys: pytest.CaptureFixture[str]) -> None:
    first, second = _json(capsys), _json(capsys)
    first.pop("wall_seconds")
    second.pop("wall_seconds")
    assert first == second


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--arrivals", "booked", "--seats", "unlimited")
    assert code == 0
    assert "queue wait mean / p50 / p90 / max (min)" in out
    assert " hour  arrived  doses" in out
    assert "08:00" in out
    assert "Traceback" not in err


def test_empirical_service_times_from_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    samples = tmp_path / "service.txt"
    samples.write_text("# minutes at station 3, Monday\n2.5, 3.0\n4.0\n", encoding="utf-8")
    s = _json(capsys, "--service-dist", "empirical", "--service-samples", str(samples))
    assert s["service"] == "empirical(n=3, mean 3.17)"
    s = _json(capsys, "--service-dist", "empirical", "--service-samples", "2,4")
    assert s["service"] == "empirical(n=2, mean 3.00)"


def test_sweep_answers_how_many_stations(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--sweep", "stations=10:16:2", "--target-p90", "15", "--json")
    assert code == 0
    sweep = json.loads(out)
    assert sweep["values"] == [10, 12, 14, 16]
    p90 = {r["value"]: r["summary"]["queue_wait_p90_min"] for r in sweep["runs"]}
    meeting = [v for v in sweep["values"] if p90[v] <= 15]
    assert sweep["answer"] == meeting[0]
    assert p90[10] > p90[16]
    code, out, _ = _run(capsys, "--sweep", "stations=10:16:2", "--target-p90", "15")
    assert f"smallest stations with a p90 queue wait <= 15 min: {meeting[0]}" in out


def test_out_writes_tables_and_plots(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, _ = _run(capsys, "--out", str(tmp_path / "day"))
    assert code == 0
    for name in ("queue.png", "waits.png", "observation.png"):
        assert (tmp_path / "day" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    hourly = (tmp_path / "day" / "hourly.csv").read_text(encoding="utf-8").splitlines()
    assert hourly[0].startswith("hour,arrivals,checked_in,doses,released,queue_length_mean")
    assert len(hourly) >= 3
    summary = json.loads((tmp_path / "day" / "summary.json").read_text(encoding="utf-8"))
    assert "queue_wait_p90_min" in summary
    code, _, _ = _run(capsys, "--sweep", "seats=60:100:40", "--out", str(tmp_path / "sweep"))
    assert code == 0
    assert (tmp_path / "sweep" / "sweep.csv").read_text(encoding="utf-8").startswith("seats,")
    assert (tmp_path / "sweep" / "sweep.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arrival-rate", "-5"], "--arrival-rate: -5 is out of range"),
        (["--arrival-rate", "lots"], "'lots' is not a number"),
        (["--service-dist", "gamma"], "unknown distribution 'gamma'"),
        (["--sweep", "stations=20-40"], "START, STOP and STEP must be whole numbers"),
        (["--sweep", "stations=40:20"], "need 1 <= START <= STOP"),
        (["--sweep", "tables=1:3"], "NAME one of stations, seats, kiosks"),
        (["--sweep", "stations=1:2:3:4"], "START:STOP or START:STOP:STEP"),
        (["--stations", "0"], "--stations: 0 is out of range"),
        (["--seats", "many"], "'many' is not a whole number"),
        (["--walk-in-share", "1.5"], "--walk-in-share: 1.5 is out of range"),
        (["--hours", "0"], "--hours: 0 is out of range"),
        (["--product-mix", "CORONAVAC"], "write CODE=WEIGHT"),
    ],
)
def test_bad_flags_exit_2_with_a_reason(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*SMALL, *args])
    _, err = capsys.readouterr()
    assert exit_.value.code == 2
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--service-dist", "empirical"], "needs --service-samples"),
        (["--service-dist", "empirical", "--service-samples", "2,x"], "'x' is not a number"),
        (["--service-samples", "2,3"], "only for --service-dist empirical"),
        (["--target-p90", "15"], "--target-p90 needs --sweep"),
        (["--product-mix", "NOPE=1"], "product 'NOPE' is not in the site file"),
        (["--config", "/nonexistent/site.toml"], "/nonexistent/site.toml"),
    ],
)
def test_bad_combinations_exit_2_with_a_reason(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = _run(capsys, *args)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.startswith("vaxflow simulate: error:")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stations=20:40:2", ("stations", list(range(20, 41, 2)))),
        ("stations=20:22", ("stations", [20, 21, 22])),
        ("seats=100:300:100", ("seats", [100, 200, 300])),
        (" kiosks=4:4", ("kiosks", [4])),
    ],
)
def test_sweep_syntax(text: str, expected: tuple[str, list[int]]) -> None:
    assert parse_sweep(text) == expected


def test_flag_defaults_are_the_scenarios(settings: Settings) -> None:
    """No flag repeats a scenario default: with no flags, the scenario is `Scenario()`, but
    for the service time's mean, which is the site file's."""
    args = build_parser().parse_args(["simulate"])
    base = Scenario()
    mean = settings.queue.default_service_minutes
    expected = dataclasses.replace(
        base, service_time=dataclasses.replace(base.service_time, mean=mean)
    )
    assert scenario_from_args(args, settings) == expected
