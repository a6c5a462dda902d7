"""A region cluster on one machine for tests and rehearsals: 3 etcd + 2 PostgreSQL under Patroni.

Debian's `etcd-server` and `patroni` packages, and the `postgresql` binaries, run on loopback
ports in one folder, as the unprivileged `postgres` user when started as root (PostgreSQL
refuses root; the user is created when missing). Patroni runs in synchronous mode with a
10 s leader TTL, the settings the region's deployment uses. Each Patroni node is its own
process group (Patroni and its postmaster), so `kill_node` takes a "machine" away whole.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

SCOPE = "vaxflow-region"
DATABASE = "vaxflow_region"
#: Patroni's leader key lifetime, in seconds; loop_wait + 2 × retry_timeout must not exceed it.
TTL = 10
LOOP_WAIT = 2
RETRY_TIMEOUT = 4
USER = "postgres"


class ClusterError(RuntimeError):
    """The dev cluster could not start or answer (the message names the log to read)."""


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports free on loopback just now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def pg_bindir() -> Path:
    """Debian's newest PostgreSQL server binaries (initdb, pg_ctl, postgres)."""
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        for version in sorted((p for p in debian.iterdir() if p.name.isdigit()), key=_neg):
            if (version / "bin" / "postgres").exists():
                return version / "bin"
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ClusterError("no PostgreSQL server binaries: apt-get install postgresql")


def _neg(p: Path) -> int:
    return -int(p.name)


def missing_programs() -> list[str]:
    """The programs the dev cluster needs that are not installed (Debian package names)."""
    missing = [
        pkg
        for prog, pkg in (("etcd", "etcd-server"), ("patroni", "patroni"))
        if not shutil.which(prog)
    ]
    try:
        pg_bindir()
    except ClusterError:
        missing.append("postgresql")
    return missing


def ensure_user(name: str = USER) -> pwd.struct_passwd | None:
    """As root: the unprivileged user the servers run as (created when missing); else None."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return pwd.getpwnam(name)


@dataclass
class Node:
    """One process the cluster runs: an etcd member or a Patroni node (with its postmaster)."""

    name: str
    argv: list[str]
    log: Path
    rest_port: int = 0  # Patroni's REST API
    pg_port: int = 0
    process: subprocess.Popen[bytes] | None = None


@dataclass
class DevCluster:
    """3 etcd members and 2 Patroni nodes in `folder`; `start()`, `url`, `stop()`."""

    folder: Path
    etcd_nodes: list[Node] = field(default_factory=list)
    pg_nodes: list[Node] = field(default_factory=list)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    started_in: float = 0.0  # seconds `start` took

    def __post_init__(self) -> None:
        self.folder = self.folder.resolve()
        self.user = ensure_user()
        ports = free_ports(10)
        etcd_client, etcd_peer = ports[0:3], ports[3:6]
        self.etcd_endpoints = [f"127.0.0.1:{p}" for p in etcd_client]
        token = f"{SCOPE}-{secrets.token_hex(4)}"
        initial = ",".join(f"etcd{i}=http://127.0.0.1:{etcd_peer[i]}" for i in range(3))
        for i in range(3):
            data = self.folder / f"etcd{i}"
            self.etcd_nodes.append(
                Node(
                    f"etcd{i}",
                    [
                        "etcd",
                        f"--name=etcd{i}",
                        f"--data-dir={data}",
                        f"--listen-client-urls=http://127.0.0.1:{etcd_client[i]}",
                        f"--advertise-client-urls=http://127.0.0.1:{etcd_client[i]}",
                        f"--listen-peer-urls=http://127.0.0.1:{etcd_peer[i]}",
                        f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer[i]}",
                        f"--initial-cluster={initial}",
                        "--initial-cluster-state=new",
                        f"--initial-cluster-token={token}",
                        "--heartbeat-interval=100",
                        "--election-timeout=1000",
                    ],
                    self.folder / f"etcd{i}.log",
                )
            )
        for i in range(2):
            rest, pg = ports[6 + i], ports[8 + i]
            config = self.folder / f"pg{i}.yml"
            self.pg_nodes.append(
                Node(f"pg{i}", ["patroni", str(config)], self.folder / f"pg{i}.log", rest, pg)
            )

    def _patroni_config(self, i: int, rest: int, pg: int) -> dict[str, Any]:
        """Patroni's YAML (JSON is YAML) for node `i`."""
        home = self.folder / f"pg{i}"
        return {
            "scope": SCOPE,
            "name": f"pg{i}",
            "restapi": {"listen": f"127.0.0.1:{rest}", "connect_address": f"127.0.0.1:{rest}"},
            "etcd3": {"hosts": self.etcd_endpoints},
            "bootstrap": {
                "dcs": {
                    "ttl": TTL,
                    "loop_wait": LOOP_WAIT,
                    "retry_timeout": RETRY_TIMEOUT,
                    "maximum_lag_on_failover": 1048576,
                    "synchronous_mode": True,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "parameters": {
                            "max_connections": 200,
                            "wal_level": "replica",
                            "hot_standby": "on",
                            "wal_keep_size": "128MB",
                            "max_wal_senders": 5,
                            "max_replication_slots": 5,
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C"}],
                "pg_hba": [
                    "local all all trust",
                    "host replication replicator 127.0.0.1/32 scram-sha-256",
                    "host all all 127.0.0.1/32 scram-sha-256",
                ],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{pg}",
                "connect_address": f"127.0.0.1:{pg}",
                "data_dir": str(home / "data"),
                "bin_dir": str(pg_bindir()),
                "pgpass": str(home / "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": self.password},
                    "replication": {"username": "replicator", "password": self.password},
                    "rewind": {"username": "rewind_user", "password": self.password},
                },
                "parameters": {"unix_socket_directories": str(home)},
            },
            "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False},
        }

    # --- addresses ---

    @property
    def hosts(self) -> str:
        """The PostgreSQL nodes as libpq's `host:port,host:port`."""
        return ",".join(f"127.0.0.1:{n.pg_port}" for n in self.pg_nodes)

    @property
    def url(self) -> str:
        """The region database as a SQLAlchemy URL: every node, the writable one chosen."""
        hosts = "&".join(f"host=127.0.0.1:{n.pg_port}" for n in self.pg_nodes)
        return (
            f"postgresql+psycopg://postgres:{quote(self.password, safe='')}@/{DATABASE}"
            f"?{hosts}&target_session_attrs=read-write&connect_timeout=2"
        )

    # --- life ---

    def start(self, timeout: float = 90.0) -> None:
        """Start etcd, then Patroni; wait for a leader and a streaming sync standby."""
        t0 = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        for i, node in enumerate(self.pg_nodes):
            (self.folder / f"pg{i}").mkdir(mode=0o700, exist_ok=True)
            config = self._patroni_config(i, node.rest_port, node.pg_port)
            (self.folder / f"pg{i}.yml").write_text(json.dumps(config, indent=1))
        self._give_to_user()
        try:
            for node in self.etcd_nodes:
                self._spawn(node)
            self._wait(self._etcd_healthy, timeout, "etcd quorum")
            for node in self.pg_nodes:
                self._spawn(node)
            deadline = t0 + timeout
            self._wait(
                self._ready, deadline - time.monotonic(), "a Patroni leader and a sync standby"
            )
            self._create_database()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - t0
        (self.folder / "cluster.json").write_text(json.dumps(self.describe(), indent=1))
        log.info("region dev cluster up in %.1f s: %s", self.started_in, self.hosts)

    def describe(self) -> dict[str, Any]:
        """What a user of the cluster needs: the URL, the nodes' ports, the etcd endpoints."""
        return {
            "url": self.url,
            "pg": {n.name: {"port": n.pg_port, "rest": n.rest_port} for n in self.pg_nodes},
            "etcd": self.etcd_endpoints,
            "started_in_s": round(self.started_in, 2),
        }

    def _give_to_user(self) -> None:
        if self.user is None:
            return
        for path in [self.folder, *self.folder.iterdir()]:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)
        probe = subprocess.run(
            ["runuser", "-u", self.user.pw_name, "--", "test", "-w", str(self.folder)],
            capture_output=True,
            timeout=10,
            check=False,
        )
        if probe.returncode != 0:
            raise ClusterError(
                f"{self.folder} is not writable by the {self.user.pw_name} user "
                "(a parent folder closed to others?): choose a folder under /tmp or /srv"
            )

    def _spawn(self, node: Node) -> None:
        out = node.log.open("ab")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        if self.user is not None:
            env["HOME"] = str(self.folder)
            env["USER"] = self.user.pw_name
        try:
            node.process = subprocess.Popen(
                node.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
                env=env,
                user=self.user.pw_uid if self.user else None,
                group=self.user.pw_gid if self.user else None,
                extra_groups=[] if self.user else None,
                process_group=0,
            )
        finally:
            out.close()

    def _wait(self, ready: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in self.etcd_nodes + self.pg_nodes:
                if node.process is not None and node.process.poll() is not None:
                    raise ClusterError(f"{node.name} exited; see {node.log}")
            if ready():
                return
            time.sleep(0.2)
        raise ClusterError(f"no {what} after {timeout:.0f} s; see the logs in {self.folder}")

    def _etcd_healthy(self) -> bool:
        return all(
            _get_json(f"http://{e}/health", 0.5).get("health") == "true"
            for e in self.etcd_endpoints
        )

    def members(self) -> list[dict[str, Any]]:
        """Patroni's view of the cluster (`/cluster` of any node that answers)."""
        for node in self.pg_nodes:
            if node.process is not None and node.process.poll() is None:
                found = _get_json(f"http://127.0.0.1:{node.rest_port}/cluster", 1.0)
                if found:
                    return list(found.get("members", []))
        return []

    def leader(self) -> Node | None:
        """The node Patroni names leader and that runs, if any."""
        for member in self.members():
            if member.get("role") == "leader" and member.get("state") == "running":
                return next((n for n in self.pg_nodes if n.name == member["name"]), None)
        return None

    def _ready(self) -> bool:
        roles = {m.get("role"): m.get("state") for m in self.members()}
        return roles.get("leader") == "running" and roles.get("sync_standby") in {
            "streaming",
            "running",
        }

    def _create_database(self) -> None:
        leader = self.leader()
        assert leader is not None
        socket_dir = self.folder / leader.name
        import psycopg  # the postgres extra; only the cluster's start needs it here

        with psycopg.connect(
            host=str(socket_dir),
            port=leader.pg_port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        ) as conn:
            if (
                conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
                is None
            ):
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def postmaster_pid(self, node: Node) -> int | None:
        """The node's running postmaster (Patroni starts it in a session of its own)."""
        pidfile = self.folder / node.name / "data" / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return pid

    def kill_node(self, node: Node) -> None:
        """SIGKILL a Patroni node and its PostgreSQL at once: a machine that went away."""
        postmaster = self.postmaster_pid(node)
        if node.process is not None and node.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.process.pid, signal.SIGKILL)
            node.process.wait(10)
        if postmaster is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(postmaster), signal.SIGKILL)

    def restart_node(self, node: Node) -> None:
        """Start a killed Patroni node again (it rejoins as a replica, pg_rewind if needed)."""
        self._spawn(node)

    def stop(self) -> None:
        """Replicas, then the leader (no failover on the way down), then etcd; SIGTERM each
        group and wait, SIGKILL what lingers, and the orphaned postmasters last."""
        postmasters = [self.postmaster_pid(n) for n in self.pg_nodes]
        leader = self.leader()
        replicas = [n for n in self.pg_nodes if n is not leader]
        # etcd's leader hands its leadership over on SIGTERM and waits for peers that are
        # stopping too (about 7 s); its write-ahead log makes a kill after 2 s safe.
        for group, grace in (
            (replicas, 30.0),
            ([leader] if leader else [], 30.0),
            (self.etcd_nodes, 2.0),
        ):
            t0 = time.monotonic()
            for node in group:
                if node.process is not None and node.process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(node.process.pid, signal.SIGTERM)
            for node in group:
                if node.process is None:
                    continue
                try:
                    node.process.wait(max(0.1, grace - (time.monotonic() - t0)))
                except subprocess.TimeoutExpired:
                    log.debug("%s did not stop in %.0f s: killed", node.name, grace)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(node.process.pid, signal.SIGKILL)
                node.process.wait(10)
            log.debug("stopped %s in %.1f s", [n.name for n in group], time.monotonic() - t0)
        for pid in postmasters:
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(os.getpgid(pid), signal.SIGKILL)


def _get_json(url: str, timeout: float) -> dict[str, Any]:
    """A JSON answer, or {} when nothing (or an error status without JSON) answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            data = json.loads(answer.read())
    except urllib.error.HTTPError as err:
        try:
            data = json.loads(err.read())
        except ValueError:
            return {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@contextlib.contextmanager
def running(folder: Path) -> Iterator[DevCluster]:
    """A started dev cluster in `folder`, stopped on leaving."""
    cluster = DevCluster(folder)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
