"""What the optional extras install, as import names, and a Python that cannot import them.

The modules are read from pyproject.toml's extras and the installed distributions' metadata,
not listed by hand, so that a dependency added to an extra is blocked here too. A module that
a base dependency also needs (numpy, through matplotlib) is not blocked: the base has it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL = ("kiosk", "postgres")

#: Run in a fresh interpreter: modules named in argv[1] (comma-separated) cannot be imported,
#: then the `vaxflow` command runs with the rest of argv.
BLOCKED_MAIN = """
import importlib.abc, sys

BLOCKED = set(sys.argv[1].split(","))


class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None


sys.meta_path.insert(0, Blocked())
from vaxflow.cli import main

sys.exit(main(sys.argv[2:]))
"""


def _project() -> dict[str, object]:
    project: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", Requirement(requirement).name).lower()


def _applies(requirement: str, extra: str) -> bool:
    """Whether a requirement applies on this machine without (or with) an extra."""
    marker = Requirement(requirement).marker
    return marker is None or marker.evaluate({"extra": extra})


def _closure(requirements: list[str]) -> set[str]:
    """The distributions these requirements install, with everything they require."""
    seen: set[str] = set()
    todo = [r for r in requirements if _applies(r, "")]
    while todo:
        req = Requirement(todo.pop())
        name = _name(str(req))
        if name in seen or name == "vaxflow":
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [sub for sub in requires if _applies(sub, "")]
    return seen


def optional_modules() -> set[str]:
    """Top-level modules that only the optional extras install."""
    project = _project()
    base = _closure(list(project["dependencies"]))  # type: ignore[call-overload]
    extras: dict[str, list[str]] = project["optional-dependencies"]  # type: ignore[assignment]
    wanted = {_name(r) for extra in OPTIONAL for r in extras[extra]} - base
    modules: set[str] = set()
    for module, dists in metadata.packages_distributions().items():
        if module.startswith("_") or module.isidentifier() is False:
            continue
        if any(_name(d) in wanted for d in dists) and not any(_name(d) in base for d in dists):
            modules.add(module)
    return modules


def blocked_vaxflow(python: str, blocked: set[str], *args: str) -> list[str]:
    """The command line of `vaxflow ARGS` in `python`, unable to import `blocked`."""
    return [python, "-c", BLOCKED_MAIN, ",".join(sorted(blocked)), *args]


def run_blocked(blocked: set[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        blocked_vaxflow(sys.executable, blocked, *args),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
