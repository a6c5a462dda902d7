"""Database engines: SQLite in WAL mode with synchronous=FULL by default, PostgreSQL by URL."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event

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

    `autocheckpoint=False` leaves WAL checkpoints to someone else (checkpoint.py).
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
