"""A PostgreSQL 15 primary and a streaming-replication standby with synchronous commit, as docs/deploy.md
describes them, in a temporary folder: the primary can be killed (``-m immediate``: a crash, no shutdown
checkpoint) and the standby promoted. As root (CI) the servers run as the ``postgres`` user."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.pgcluster import free_port, postgres_bindir

STANDBY_NAME = "standby1"


class ReplicatedPostgres:
    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.as_root = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="webapp-pg-replicated-"))
        self.user = "postgres" if self.as_root else os.environ.get("USER", "postgres")
        self.primary_port, self.standby_port = free_port(), free_port()
        self.primary, self.standby = self.folder / "primary", self.folder / "standby"

    def _run(self, *args: str) -> str:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    def _start(self, data: Path, port: int) -> None:
        options = f"-h 127.0.0.1 -p {port} -k {self.folder}"
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", f"{data}.log", "-w", "start")

    def start(self) -> ReplicatedPostgres:
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(
            "initdb",
            "-A",
            "trust",
            "-U",
            self.user,
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "-D",
            str(self.primary),
        )
        with (self.primary / "postgresql.conf").open("a") as conf:
            conf.write(
                "wal_level = replica\nmax_wal_senders = 4\nmax_connections = 200\n"
                f"synchronous_standby_names = '{STANDBY_NAME}'\nsynchronous_commit = on\n"
            )
        with (self.primary / "pg_hba.conf").open("a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        self._start(self.primary, self.primary_port)
        self._run(
            "pg_basebackup",
            "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", self.user,
            "-D", str(self.standby), "-R", "-X", "stream",
        )  # fmt: skip
        with (self.standby / "postgresql.auto.conf").open("a") as conf:
            conf.write(
                f"primary_conninfo = 'host=127.0.0.1 port={self.primary_port} user={self.user} "
                f"application_name={STANDBY_NAME}'\n"  # the name the primary waits for
                # the copied configuration would make the promoted server wait for a standby of its own
                # that does not exist yet: every commit would hang (docs/deploy.md)
                "synchronous_standby_names = ''\n"
            )
        self._start(self.standby, self.standby_port)
        return self

    def url(self, database: str) -> str:
        """Both servers, the one that takes writes chosen at each connection (docs/deploy.md)."""
        hosts = f"127.0.0.1:{self.primary_port},127.0.0.1:{self.standby_port}"
        return f"postgresql://{self.user}@{hosts}/{database}?target_session_attrs=read-write"

    def primary_url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.primary_port}/{database}"

    def standby_url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.standby_port}/{database}"

    def stop_primary(self, mode: str) -> None:
        """``immediate``: a crash (every backend killed, no checkpoint); ``fast``: a planned stop, which
        tells each connected client that an administrator ended its connection."""
        self._run("pg_ctl", "-D", str(self.primary), "-m", mode, "-w", "stop")

    def promote_standby(self) -> None:
        self._run("pg_ctl", "-D", str(self.standby), "-w", "promote")

    def stop(self) -> None:
        for data in (self.standby, self.primary):
            with contextlib.suppress(subprocess.CalledProcessError):  # already down: the killed primary
                self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
