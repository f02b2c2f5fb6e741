"""`webapp serve` as a real process on 127.0.0.1 over a throwaway SQLite file, migrated and seeded with the
demo: for the E2E suite and the benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.pgcluster import free_port

WEBAPP = str(Path(sys.executable).parent / "webapp")


class AppServer:
    def __init__(self, folder: Path, secret_key: str, workers: int = 1, **settings: str):
        """settings: WEBAPP_* variables on top of production, SQLite in ``folder`` and the smtp channel."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = folder / "app.sqlite3"
        self.workers = workers
        self.env = {
            **os.environ,
            "WEBAPP_ENV": "production",
            "WEBAPP_SECRET_KEY": secret_key,
            "WEBAPP_DATABASE_URL": f"sqlite:///{self.database}",
            "WEBAPP_SMS_CHANNEL": "smtp",
            **settings,
        }
        self.log_path = folder / "server.log"
        self.process: subprocess.Popen | None = None

    def cli(self, *args: str) -> str:
        done = subprocess.run([WEBAPP, *args], env=self.env, capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"webapp {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self) -> AppServer:
        self.cli("migrate")
        self.cli("demo")
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                WEBAPP,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the server did not start:\n" + self.log_path.read_text()[-3000:])

    def stop(self) -> None:
        stop_process(self.process)
        if getattr(self, "log", None):
            self.log.close()


def stop_process(process: subprocess.Popen | None) -> None:
    """Terminate a server process, and kill it if it does not end within 20 s."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
