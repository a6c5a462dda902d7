"""Hot statements compiled once per dialect and run on the connection's own DBAPI cursor.

SQLAlchemy's execution path costs about 100 µs a statement on this machine: measured, it was
two thirds of the writer's time per check-in, of which SQLite itself was a fifth, and a
check-in runs a dozen statements. The statements on that path skip it: compiled once, with
the same bind and result processors SQLAlchemy would apply, in the same transaction (the
cursor belongs to the connection SQLAlchemy opened and began). Everything else stays plain
SQLAlchemy; this is for the few statements every request runs.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    names: tuple[str, ...]
    """Bind names in the order the DBAPI wants them (all of them, for named styles too)."""
    fixed: Mapping[str, Any]
    """Values bound inside the statement itself (literals such as a state to exclude)."""
    bind: Mapping[str, Processor]
    row: type[tuple[Any, ...]] | None
    results: tuple[Processor | None, ...]


class Prepared:
    """One statement, run with `rows`, `first`, `scalar` or `run` (for a rowcount).

    `columns` names the columns an INSERT sets (it compiles only those), so one values
    dict shape per statement. Rows come back as named tuples, like SQLAlchemy's rows.
    """

    def __init__(self, statement: ClauseElement, *, columns: Sequence[str] | None = None) -> None:
        self._statement = statement
        self._columns = list(columns) if columns is not None else None
        self._column_set = frozenset(self._columns) if self._columns is not None else None
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect[dialect.name] = self._compile(dialect)
        return found

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._statement.compile(dialect=dialect, column_keys=self._columns)
        assert isinstance(compiled, SQLCompiler)
        binds = compiled.binds
        names = tuple(compiled.positiontup or binds) if dialect.positional else tuple(binds)
        fixed = {
            name: bind.effective_value
            for name, bind in binds.items()
            if not bind.required and bind.callable is None
        }
        bind_processors = {}
        for name, bind in binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                bind_processors[name] = processor
        exported = list(getattr(self._statement, "exported_columns", ()))
        row = namedtuple("Row", [c.key for c in exported]) if exported else None
        results = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in exported
        )
        return _Compiled(
            compiled.string, dialect.positional, names, fixed, bind_processors, row, results
        )

    def _execute(self, conn: Connection, params: Mapping[str, Any]) -> tuple[_Compiled, Any]:
        c = self._compiled(conn.dialect)
        if self._column_set is not None and params.keys() != self._column_set:
            missing = sorted(self._column_set - params.keys())
            extra = sorted(params.keys() - self._column_set)
            raise ValueError(f"insert columns differ: missing {missing}, unexpected {extra}")
        values: dict[str, Any] = dict(c.fixed)
        values.update(params)
        for name, processor in c.bind.items():
            values[name] = processor(values[name])
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if c.positional:
            cursor.execute(c.sql, [values[name] for name in c.names])
        else:
            cursor.execute(c.sql, {name: values[name] for name in c.names})
        return c, cursor

    def run(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Execute; the number of rows changed."""
        _, cursor = self._execute(conn, params)
        count = int(cursor.rowcount)
        cursor.close()
        return count

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        c, cursor = self._execute(conn, params)
        raw = cursor.fetchall()
        cursor.close()
        assert c.row is not None, "a statement without result columns has no rows"
        make, results = c.row, c.results
        if not any(results):
            return [make(*r) for r in raw]
        return [
            make(*(v if p is None else p(v) for p, v in zip(results, r, strict=True))) for r in raw
        ]

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Any | None:
        found = self.rows(conn, params)
        return found[0] if found else None

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        row = self.first(conn, params)
        return None if row is None else row[0]


def savepoint(conn: Connection, name: str) -> None:
    """SAVEPOINT on the raw connection: the writer's per-request undo, without SQLAlchemy's
    nested-transaction bookkeeping (two statements on every request)."""
    _raw(conn, f"SAVEPOINT {name}")


def release(conn: Connection, name: str) -> None:
    _raw(conn, f"RELEASE SAVEPOINT {name}")


def rollback_to(conn: Connection, name: str) -> None:
    _raw(conn, f"ROLLBACK TO SAVEPOINT {name}")


def _raw(conn: Connection, sql: str) -> None:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(sql)
    cursor.close()
