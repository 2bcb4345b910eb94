"""A throwaway PostgreSQL server for tests and benchmarks.

Uses the server binaries of the Debian ``postgresql`` package (``initdb``,
``pg_ctl``): on PATH, or in ``/usr/lib/postgresql/<version>/bin``. The cluster lives in
a new temporary folder, listens on a free loopback port (its unix socket stays in that
folder), trusts local connections, and is removed when stopped. PostgreSQL refuses to
run as root: as root, the cluster is made and run as the ``postgres`` user (which the
Debian package creates) through ``subprocess``'s ``user=``, with the folder handed to
that user.

``find_binaries()`` says why no server can be started (then the tests skip, unless
``USEPOLICY_REQUIRE_POSTGRES=1``, as in ``.ci/run``, makes that a failure).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PgServer", "find_binaries"]


def find_binaries() -> tuple[Path | None, str]:
    """(folder holding initdb and pg_ctl, "") or (None, why not)."""
    candidates = []
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).resolve().parent)
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    )
    candidates += [Path(p) for p in versions]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            if os.geteuid() == 0:
                try:
                    pwd.getpwnam("postgres")
                except KeyError:
                    return (
                        None,
                        "running as root, and there is no `postgres` user to run the server",
                    )
            return folder, ""
    return None, "no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One throwaway cluster. ``url(dbname)`` for clients; ``stop()``/``start()`` to
    take it down and bring it back (same port, same data); ``destroy()`` at the end.

    Args:
        fsync: the server's ``fsync`` setting (off only where the disk is not under test).
        parent: the folder to make the cluster's folder in (default: the temp folder).
    """

    def __init__(self, *, fsync: bool = True, parent: str | os.PathLike[str] | None = None) -> None:
        folder, why = find_binaries()
        if folder is None:
            raise RuntimeError(why)
        self.bin = folder
        self.fsync = fsync
        self.root = Path(tempfile.mkdtemp(prefix="usepolicy-pg-", dir=parent))
        self.data = self.root / "data"
        self.logfile = self.root / "server.log"
        self.port = 0
        self._user: str | None = None
        if os.geteuid() == 0:
            self._user = "postgres"
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        try:
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                "-E", "UTF8", "--no-locale", "--no-sync",
            )  # fmt: skip
            self.start()
        except BaseException:
            self.destroy()
            raise

    def _run(
        self, program: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(self.bin / program), *args],
            user=self._user,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and proc.returncode != 0:
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise RuntimeError(
                f"{program} failed ({proc.returncode}): {proc.stderr}\n{log[-2000:]}"
            )
        return proc

    def start(self) -> None:
        """Start (or restart) the server; picks a free port the first time."""
        for _attempt in range(5):
            port = self.port or _free_port()
            options = (
                f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 "
                f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=60 "
                "-c shared_buffers=64MB"
            )
            proc = self._run(
                "pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-o", options,
                "-w", "-t", "60", "start", check=False,
            )  # fmt: skip
            if proc.returncode == 0:
                self.port = port
                return
            if self.port:  # the same port again: it is ours, so something else is wrong
                break
        log = self.logfile.read_text() if self.logfile.exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {proc.stderr}\n{log[-2000:]}")

    def stop(self) -> None:
        """Stop now: open connections are cut off (``-m fast``)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> None:
        """Run SQL as the superuser (autocommit)."""
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its URL."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def wait_until_up(self, timeout: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
