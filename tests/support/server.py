"""Runs `python -m persistream serve` as a real process on a free port, the way users run it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.support.net import free_port
from tests.support.secrets import leaked

ROOT = Path(__file__).resolve().parents[2]
# Seconds a server may take to start: generous, as imports crawl on a busy two-core machine.
START_TIMEOUT = 90.0


def start_servers(*processes: ServerProcess) -> None:
    """Start the processes side by side (their imports run in parallel), each waited for until it answers."""
    with ThreadPoolExecutor(len(processes)) as pool:
        futures = [pool.submit(p.start, START_TIMEOUT) for p in processes]
    try:
        for future in futures:
            future.result()
    except BaseException:
        # One did not start: the others are stopped too, so no process outlives the test that made it.
        for process in processes:
            process.kill()
        raise


def stop_servers(*processes: ServerProcess) -> None:
    """Stop the processes side by side: a stop takes most of a second (mostly the interpreter's own exit), so each
    is signalled without waiting for the others. Every one is stopped and its log checked, whichever fails."""
    with ThreadPoolExecutor(max(1, len(processes))) as pool:
        futures = [pool.submit(p.stop) for p in processes]
    for future in futures:
        future.result()


class ServerProcess:
    def __init__(
        self,
        env: dict[str, str],
        *,
        log_path: Path,
        port: int | None = None,
        workers: int = 1,
        command: Sequence[str] = (sys.executable, "-m", "persistream"),
        cwd: Path = ROOT,
        arguments: Sequence[str] | None = None,
    ) -> None:
        self.env = env
        self.port = port or free_port()
        self.workers = workers
        self.log_path = log_path
        # An installed `persistream` script, started from another folder, is a wheel's way to run.
        self.command = list(command)
        self.cwd = cwd
        # In place of `serve --port ...`: another app's own command line (uvicorn's, say), given `port` too.
        self._arguments = None if arguments is None else list(arguments)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graphql_http(self) -> str:
        return f"{self.url}/graphql"

    @property
    def graphql_ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def health_url(self) -> str:
        return f"{self.url}/healthz"

    def arguments(self) -> list[str]:
        """The command line after `command`."""
        if self._arguments is not None:
            return self._arguments
        return ["serve", "--port", str(self.port), "--log-level", "info", "--workers", str(self.workers)]

    def start(self, timeout: float = 90.0) -> ServerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSISTREAM_", "OPENAI_"))}
        env.update(self.env)
        env["PYTHONUNBUFFERED"] = "1"
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [*self.command, *self.arguments()],
                env=env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log()[-2000:]}")
            try:
                if httpx.get(self.health_url, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.kill()  # not left running (and warned about) after the test that failed to start it
                raise RuntimeError(f"server did not start: {self.log()[-2000:]}")
            time.sleep(0.05)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            self.check_log_for_secrets()
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.check_log_for_secrets()
        return code

    def check_log_for_secrets(self) -> None:
        """The whole log of this server, searched for every secret any test gave any server."""
        found = leaked(self.log())
        assert not found, f"secrets in the server log {self.log_path}: {found}"

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def children(pid: int) -> list[int]:
    """The process ids of `pid`'s children (uvicorn's workers under its supervisor, say)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []
