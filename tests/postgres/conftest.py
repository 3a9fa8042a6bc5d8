"""A throwaway PostgreSQL cluster per test session (per xdist worker), and the reference system running on it.

The cluster lives in a temporary folder: initdb, a server on 127.0.0.1 and a free port with its socket in that
folder, fsync off (nothing here needs to survive a crash), a password made at run time. It is stopped and its
folder removed at the end, also when a test fails. As root, initdb refuses to run: the cluster then belongs to
the ``postgres`` system user that Debian's package makes.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from harness.sut_process import SutProcess

PACKAGE = "postgresql"  # the Debian package with initdb, pg_ctl and postgres
DEBIAN_ROOT = Path("/usr/lib/postgresql")  # Debian installs them in <version>/bin here, not on PATH
SERVER_USER = "postgres"
SUPERUSER = "postgres"
START_TIMEOUT = 30

# Written to postgresql.conf. The time zone is Sweden's, not UTC: the system must not depend on the server's zone.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "timezone": "'Europe/Stockholm'",
    "max_connections": "100",
}


def _binaries() -> Path:
    """The folder holding initdb, pg_ctl and postgres: from PATH, else Debian's versioned folder (newest)."""
    found = shutil.which("initdb")
    folders = [Path(found).resolve().parent] if found else []
    if DEBIAN_ROOT.is_dir():
        folders += sorted(DEBIAN_ROOT.glob("*/bin"), key=_version, reverse=True)
    for folder in folders:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    pytest.fail(f"PostgreSQL's server programs (initdb, pg_ctl, postgres) were not found on PATH or in "
                f"{DEBIAN_ROOT}/<version>/bin: install the Debian package {PACKAGE!r} (apt-get install {PACKAGE})",
                pytrace=False)


def _version(folder: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", folder.parent.name)) or (0,)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """One PostgreSQL cluster in a temporary folder: ``start``, ``create_database``, ``stop`` (idempotent)."""

    def __init__(self) -> None:
        self.bin = _binaries()
        self.as_root = os.geteuid() == 0
        if self.as_root and shutil.which("runuser") is None:
            pytest.fail("running as root needs runuser (Debian package util-linux) to start PostgreSQL as "
                        f"{SERVER_USER!r}", pytrace=False)
        self.folder = Path(tempfile.mkdtemp(prefix="pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.password = secrets.token_urlsafe(24)
        self.port = 0
        self.started = False

    def _run(self, program: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / program), *args]
        if self.as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,  # noqa: S603
                              check=False, cwd=self.folder)

    def init(self) -> None:
        if self.as_root:
            try:
                shutil.chown(self.folder, SERVER_USER, SERVER_USER)
            except LookupError:
                pytest.fail(f"no system user {SERVER_USER!r} to run PostgreSQL as: install the Debian package "
                            f"{PACKAGE!r}, or run the tests as an ordinary user", pytrace=False)
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        if self.as_root:
            shutil.chown(pwfile, SERVER_USER, SERVER_USER)
        pwfile.chmod(0o600)
        try:
            done = self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={pwfile}",
                             "--auth=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync")
        finally:
            pwfile.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
        settings = {**SERVER_SETTINGS, "unix_socket_directories": f"'{self.folder}'"}
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("".join(f"{name} = {value}\n" for name, value in settings.items()))

    def start(self, attempts: int = 3) -> None:
        """Start on a free port (another one if it was taken meanwhile) and wait until it takes connections."""
        for attempt in range(1, attempts + 1):
            self.port = _free_port()
            done = self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w",
                             "-t", str(START_TIMEOUT), "-o", f"-p {self.port}", timeout=START_TIMEOUT + 10)
            self.started = True  # even a failed start may have left a server behind: stop() finds out
            if done.returncode == 0:
                break
            self.stop()
            if attempt == attempts:
                raise RuntimeError(f"PostgreSQL did not start ({done.returncode}): {done.stderr.strip()}\n"
                                   f"server log:\n{self.log_tail()}")
        self._wait_for_connections()

    def _wait_for_connections(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def dsn(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of a database of this cluster (psycopg 3 driver)."""
        return f"postgresql+psycopg://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "sut") -> str:
        name = f"{prefix}_{secrets.token_hex(4)}"
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text(encoding="utf-8").split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        """pg_ctl stop -m fast; if that does not end it, kill the postmaster (its backends follow it)."""
        if self.started and self.data.is_dir():
            pid = self._postmaster_pid()
            try:
                self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "20", timeout=30)
            except subprocess.TimeoutExpired:
                pass
            if pid is not None and self._alive(pid):
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 10
                while self._alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
        self.started = False

    @staticmethod
    def _alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """A running throwaway cluster, stopped and removed at the end of the session (also after failures)."""
    cluster = Cluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        cluster.remove()


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: Cluster) -> str:
    """A fresh, empty database of the cluster: its SQLAlchemy URL (postgresql+psycopg://...)."""
    return postgres_cluster.create_database()


@pytest.fixture(scope="session")
def sut(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SutProcess]:
    """The reference system on PostgreSQL; overrides the SQLite one, so ``http``, ``new_client`` & co. use it."""
    log = tmp_path_factory.mktemp("sut-postgres") / "sut.log"
    with SutProcess(env={"SUT_DATABASE_URL": postgres_url}, log_path=log) as proc:
        yield proc
