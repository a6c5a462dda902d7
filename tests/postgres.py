"""A throw-away PostgreSQL server for the tests, and the `db_url` fixture (SQLite and PostgreSQL).

The server is Debian's `postgresql` package run by hand: `initdb` in a temporary folder, then
`pg_ctl start` listening only on a unix socket in that folder (no TCP port to collide with),
with fsync off (the folder is thrown away). As root it runs as the `postgres` user, because
initdb refuses root. Each test module gets a database of its own, copied from a migrated
template, and each test starts on its emptied tables.

Set VAXFLOW_TEST_POSTGRES_URL to use an existing server instead (a superuser URL; the tests
create and drop databases named `vaxflow_test_*` on it), or VAXFLOW_PG_BIN to the folder that
holds initdb and pg_ctl.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from vaxflow.queue.store.db import database_url, make_engine, migrate

URL_ENV = "VAXFLOW_TEST_POSTGRES_URL"
BIN_ENV = "VAXFLOW_PG_BIN"
TEMPLATE = "vaxflow_test_template"
DB_KINDS = ["sqlite", "postgresql"]
_counter = itertools.count(1)


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: $VAXFLOW_PG_BIN, PATH, or Debian's newest."""
    candidates = []
    if os.environ.get(BIN_ENV):
        candidates.append(Path(os.environ[BIN_ENV]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = sorted(
            (p for p in debian.iterdir() if p.name.isdigit()), key=lambda p: -int(p.name)
        )
        candidates.extend(p / "bin" for p in versions)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


class PostgresServer:
    """A PostgreSQL server the tests may create and drop databases on."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url  # libpq URL of the maintenance database

    def url(self, dbname: str) -> str:
        """A SQLAlchemy URL for one database of this server."""
        url = make_url(self.admin_url.replace("postgresql://", "postgresql+psycopg://", 1))
        return url.set(database=dbname).render_as_string(hide_password=False)

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.admin_url, autocommit=True)

    def prepare_template(self) -> None:
        """A database at the newest migration that each test's database is copied from."""
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
        engine = make_engine(self.url(TEMPLATE), writer=True)
        try:
            migrate(engine)
        finally:
            engine.dispose()

    def create_database(self, *, migrated: bool = True) -> str:
        name = f"vaxflow_test_{os.getpid()}_{next(_counter)}"
        template = TEMPLATE if migrated else "template0"
        with self._admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        return name

    def drop_database(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


class ThrowawayPostgres(PostgresServer):
    """initdb + pg_ctl in a temporary folder, on a unix socket there; removed by `stop`."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="vaxflow-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")  # KeyError: no user to run as
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        super().__init__(f"postgresql://postgres@/postgres?host={self.folder}")

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self._as_user, *args], capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {result.stderr.strip()}\n{log[-2000:]}")

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        options = (
            f"-k {self.folder} -c listen_addresses='' -c fsync=off -c synchronous_commit=off"
            " -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session; skips the test (with the reason) when none runs."""
    existing = os.environ.get(URL_ENV)
    if existing:
        server = PostgresServer(existing)
        server.prepare_template()
        yield server
        return
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(
            "no PostgreSQL server binaries (initdb, pg_ctl): install Debian's postgresql "
            f"package (./dev setup does), or set {BIN_ENV} or {URL_ENV}"
        )
    try:
        throwaway = ThrowawayPostgres(bindir)
    except KeyError:
        pytest.skip("running as root and there is no `postgres` user to run initdb as")
    try:
        throwaway.start()
        throwaway.prepare_template()
    except (RuntimeError, OSError, psycopg.Error) as err:
        throwaway.stop()
        pytest.skip(f"could not start a throw-away PostgreSQL server: {err}")
    yield throwaway
    throwaway.stop()


@pytest.fixture(scope="module")
def postgres_module_db(postgres_server: PostgresServer) -> Iterator[str]:
    """A database of its own for each test module (CREATE DATABASE takes about a second)."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the newest migration, made once per session (per xdist worker): each
    test's file is a copy, as each PostgreSQL test's database is (migrating takes ~0.1 s)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite"
    engine = make_engine(database_url(str(path)), writer=True)
    try:
        migrate(engine)
    finally:
        engine.dispose()  # the last connection checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(params=DB_KINDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty site database at the newest migration: a SQLite file path or a PostgreSQL URL.

    On SQLite a copy of the session's migrated template; on PostgreSQL the module's database
    is emptied before each test (TRUNCATE ... RESTART IDENTITY), so every test starts from no
    rows and sequences at 1, as on a new SQLite file.
    """
    if request.param == "sqlite":
        path = tmp_path / "site.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield str(path)
        return
    url: str = request.getfixturevalue("postgres_module_db")
    empty_database(url)
    yield url


def empty_database(url: str) -> None:
    """Remove every row of every table but alembic's, and restart the id sequences."""
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '10s'")  # a test that left a connection open fails
        names = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'alembic_version'"
            )
        ]
        if names:
            conn.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                    sql.SQL(", ").join(sql.Identifier(n) for n in names)
                )
            )
