"""The `vaxflow` command imports only the module of the command it runs (start-up time)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from vaxflow.cli import _COMMANDS, build_parser

_MODULES = tuple(_COMMANDS.values())


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def _name(module: str) -> str:
    return module.removeprefix("vaxflow.cli.").removesuffix("_cmd").replace("_", "-")


@pytest.mark.parametrize("module", _MODULES)
def test_each_module_adds_the_command_it_is_named_after(module: str) -> None:
    assert _commands(build_parser(["-v", _name(module), "--help"])) == {_name(module)}


@pytest.mark.parametrize("argv", [[], ["--help"], ["-v"], ["no-such-command", "x"]])
def test_without_a_known_command_every_command_is_there(argv: list[str]) -> None:
    assert _commands(build_parser(argv)) == {_name(m) for m in _MODULES}


def test_a_device_command_does_not_import_the_server_or_the_reports() -> None:
    probe = (
        "import sys; from vaxflow.cli import build_parser; build_parser(['idcard', 'read']); "
        "print(sorted(m for m in ('vaxflow.queue.server.app', 'matplotlib', 'cv2', 'sqlalchemy')"
        " if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("port", ["99999", "-1", "eighty"])
def test_demo_refuses_a_port_that_is_not_one_in_one_line(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = build_parser(["demo", "--port", port])
    with pytest.raises(SystemExit) as stopped:
        parser.parse_args(["demo", "--port", port])
    assert stopped.value.code == 2
    assert "--port" in capsys.readouterr().err.splitlines()[-1]


@pytest.mark.slow
def test_demo_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                *[sys.executable, "-m", "vaxflow", "demo", "--headless", "--no-traffic"],
                *["--port", str(port), "--db", f"{tmp_path}/demo.sqlite"],
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"cannot listen on 127.0.0.1:{port}:") and "Traceback" not in done.stderr
