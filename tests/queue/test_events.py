"""Every event kind is an `EventKind` member: the store refuses others, and no code or page
writes or compares a kind as a bare string the enum does not hold."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.core.events import LIVE, EventKind
from vaxflow.queue.store.db import database_url
from vaxflow.queue.store.writer import Store, Tx, events_after

ROOT = Path(__file__).resolve().parents[2] / "vaxflow"
KINDS = {k.value for k in EventKind}
#: Calls whose first string argument after `tx` is an event kind.
EMITTERS = {"emit", "_emit_visit", "_update", "_save_station", "_record"}


def _python_sources() -> list[Path]:
    return [p for p in ROOT.rglob("*.py") if p.name != "events.py" and "migrations" not in p.parts]


async def test_the_store_refuses_a_kind_that_is_not_a_member(
    db_url: str, settings: Settings, clock: FrozenClock
) -> None:
    store = Store(database_url(db_url), site_id=settings.site.id, clock=clock)
    await store.start()
    try:

        def op(tx: Tx) -> None:
            tx.emit(EventKind.DEVICE_HEALTH, None, {})
            tx.emit("checked_inn", None, {})  # type: ignore[arg-type]

        with pytest.raises(ValueError, match="checked_inn"):
            await store.write(op, actor="test")
        event = await store.write(lambda tx: tx.emit("called", None, {}), actor="test")  # type: ignore[arg-type]
        events = await store.read(lambda conn: events_after(conn, store.site_id, 0))
        assert [(e.seq, e.kind) for e in events] == [(event.seq, "called")]  # nothing else kept
        assert event.kind is EventKind.CALLED
    finally:
        await store.stop()


def test_no_code_emits_a_kind_as_a_bare_string() -> None:
    bare = []
    for path in _python_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in EMITTERS and any(
                isinstance(a, ast.Constant) and a.value in KINDS for a in node.args
            ):
                bare.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert bare == []


def test_no_code_compares_a_kind_with_a_bare_string() -> None:
    bare = []
    for path in _python_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare) and "kind" in ast.unparse(node):
                sides = [node.left, *node.comparators]
                literals = [
                    c.value
                    for side in sides
                    for c in ast.walk(side)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)
                ]
                if any(v in KINDS or v == LIVE for v in literals):
                    bare.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert bare == []


def test_the_pages_know_only_kinds_the_server_emits() -> None:
    """The boards' JavaScript keeps its own sets of kinds; each must be a real kind."""
    seen: dict[str, list[str]] = {}
    for path in (ROOT / "screens" / "web").glob("*.js"):
        text = path.read_text(encoding="utf-8")
        for name, body in re.findall(
            r"const (\w+_(?:KINDS|EVENTS)) = new Set\(\[([^\]]*)\]\)", text
        ):
            seen[f"{path.name}:{name}"] = re.findall(r'"([^"]+)"', body)
        for kind in re.findall(r'\b(?:event|e)\.kind === "([^"]+)"', text):
            seen.setdefault(f"{path.name}:kind ===", []).append(kind)
    assert seen, "the pattern no longer finds the pages' kind sets"
    unknown = {where: set(kinds) - KINDS - {LIVE} for where, kinds in seen.items()}
    assert {where: kinds for where, kinds in unknown.items() if kinds} == {}
