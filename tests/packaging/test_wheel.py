"""vaxflow installed from its wheel, not editable: the demo starts with the site file shipped
as package data, in a fresh virtual environment, run from outside the source tree.

The wheel is built from a copy of the tree (pip builds it, with setuptools from the package
index in an isolated build environment: about 10 s). The new environment reuses the test
environment's dependencies through a path file instead of downloading them again, and its
own site-packages come first, so `vaxflow` is the installed copy; the test checks that too.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_SHIPPED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "var", "__pycache__", ".*_cache", ".hypothesis"
)


def _env() -> dict[str, str]:
    """The environment without PYTHONPATH: nothing may come from the source tree."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with vaxflow installed from its wheel; its bin folder."""
    folder = tmp_path_factory.mktemp("wheel")
    source = folder / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SHIPPED)
    env = folder / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env)
    python = env / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    subprocess.run([*pip, "--no-deps", str(source)], check=True, env=_env(), timeout=240)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        env=_env(),
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "vaxflow-test-dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    shutil.rmtree(source)  # nothing left to import from but the installed wheel
    return env / "bin"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_installed_wheel_runs_the_demo(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed / "python"), "-c", "import vaxflow; print(vaxflow.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
    ).stdout
    assert Path(where).is_relative_to(installed.parent), where
    out, err = tmp_path / "demo.out", tmp_path / "demo.err"
    command = [str(installed / "vaxflow"), "demo", "--headless", "--port", "0", "--speed", "60"]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [*command, "--db", str(tmp_path / "demo.sqlite")],
            stdout=stdout,
            stderr=stderr,
            env=_env(),
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + 60
        while not (match := re.search(r"server\s+(http://\S+?)/?$", out.read_text(), re.M)):
            assert proc.poll() is None, err.read_text()[-3000:]
            assert time.monotonic() < deadline, "the demo did not start"
            time.sleep(0.1)
        # The built-in demo site, recognised as such: its staff PINs are the demo's.
        assert "every demo PIN is 1234" in out.read_text()
        with urllib.request.urlopen(f"{match.group(1)}/api/health", timeout=10) as answer:
            assert answer.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(20)
    assert code == 0, err.read_text()[-3000:]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_installed_wheel_prints_its_demo_site(installed: Path, tmp_path: Path) -> None:
    shown = subprocess.run(
        [str(installed / "vaxflow"), "config", "demo"],
        check=True,
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
    )
    assert shown.stdout == (ROOT / "vaxflow" / "config" / "demo.toml").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_installed_wheel_has_its_version_commands_and_units(
    installed: Path, tmp_path: Path
) -> None:
    """Issue 20: what docs/install.md runs on a fresh machine is in the wheel."""

    def run(*argv: str) -> str:
        return subprocess.run(
            [str(installed / "vaxflow"), *argv],
            check=True,
            capture_output=True,
            text=True,
            env=_env(),
            cwd=tmp_path,
        ).stdout

    assert run("--version").strip() == "vaxflow 0.1.0"
    assert "--headless" in run("demo", "--help")
    deploy = installed.parent / "share" / "vaxflow" / "deploy"
    shipped = {p.relative_to(deploy).as_posix() for p in deploy.rglob("*") if p.is_file()}
    source = ROOT / "deploy"
    assert shipped == {p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()}
