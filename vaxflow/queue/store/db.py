"""Database engines: SQLite in WAL mode with synchronous=FULL by default, PostgreSQL by URL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url
from sqlalchemy.exc import OperationalError

from vaxflow.queue.store.checkpoint import JOURNAL_SIZE_LIMIT

log = logging.getLogger(__name__)

MIGRATIONS = "vaxflow.queue.store:migrations"


def database_url(db: str) -> str:
    """A database URL from a path or a URL; relative SQLite paths get their folder created."""
    if "://" in db:
        # PostgreSQL through psycopg 3 (SQLAlchemy 2.0 would pick psycopg2 for a bare scheme).
        for bare in ("postgresql://", "postgres://"):
            if db.startswith(bare):
                return "postgresql+psycopg://" + db[len(bare) :]
        return db
    path = Path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def make_engine(url: str, *, writer: bool, autocheckpoint: bool = True) -> Engine:
    """An engine; on SQLite, the writer's transactions take the write lock up front.

    `autocheckpoint=False` leaves WAL checkpoints to the writer (checkpoint.py).
    """
    if not url.startswith("sqlite"):
        # Readers see one snapshot per read, as on SQLite; the writer commits in READ COMMITTED.
        isolation = "READ COMMITTED" if writer else "REPEATABLE READ"
        return create_engine(url, pool_pre_ping=True, isolation_level=isolation)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=1 if writer else 4,
        max_overflow=0 if writer else 4,
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (SQLAlchemy's recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # A log left larger than this by a burst is trimmed when it restarts (issue 18).
        cursor.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        if not autocheckpoint:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


def sqlite_path(url: str) -> str | None:
    """The database file of a SQLite URL, or None for another database."""
    prefix = "sqlite:///"
    return url[len(prefix) :] if url.startswith(prefix) else None


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":  # sites sharing a database start together
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7410071)")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class NotADatabase(Exception):
    """The path or URL names no vaxflow site database that can be opened (the message says
    which and why, for the operator)."""


@contextmanager
def read_snapshot(db: str) -> Iterator[Connection]:
    """A read-only snapshot of a site database; refuse a SQLite path that does not exist."""
    if "://" not in db and not Path(db).exists():
        raise NotADatabase(f"there is no database at {db}")
    engine = make_engine(database_url(db), writer=False)
    try:
        try:
            conn = engine.connect()
        except OperationalError as err:
            shown = make_url(engine.url).render_as_string(hide_password=True)
            raise NotADatabase(f"cannot open {shown}: {err.orig}") from None
        with conn, conn.begin():
            if not inspect(conn).has_table("visits"):
                raise NotADatabase(f"{db} is not a vaxflow site database")
            yield conn
    finally:
        engine.dispose()
