"""An example app of examples/ (Vite + React, on persistream-client) type-checked and built from its lock file with
no warning, its dist/ served over HTTP on loopback: another origin than the server's, as a deployed app would be."""

from __future__ import annotations

import filecmp
import functools
import http.server
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import Page

from tests.support.net import free_port
from tests.support.server import ROOT

from .conftest import OfflineContext, _missing

CLIENT_DIST = ROOT / "clients" / "js" / "dist"


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # a line per asset request would bury a failure's output


def build_step(command: list[str], *, cwd: Path) -> None:
    """Runs one build step; it must succeed and print no warning."""
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    warnings = [line for line in output.splitlines() if re.search(r"warn|\(!\)|deprecat", line, re.IGNORECASE)]
    assert not warnings, output


@contextmanager
def served_example(example: Path, out: Path) -> Iterator[str]:
    """The example at `example` built into `out` and served; its origin."""
    bin_dir = example / "node_modules" / ".bin"
    name = f"examples/{example.name}"
    if not (bin_dir / "vite").exists():
        _missing(f"{name}/node_modules is missing: run scripts/setup.sh --test")
    # The example holds a copy of the client (install-links): it must be the client in this checkout.
    installed = example / "node_modules" / "persistream-client" / "dist"
    stale = [
        f.name
        for f in CLIENT_DIST.iterdir()
        if not (installed / f.name).exists() or not filecmp.cmp(f, installed / f.name, shallow=False)
    ]
    assert not stale, f"{name} has an old copy of the client ({stale}): run scripts/setup.sh --test"
    build_step([str(bin_dir / "tsc"), "--noEmit"], cwd=example)
    build_step([str(bin_dir / "vite"), "build", "--outDir", str(out), "--emptyOutDir"], cwd=example)
    handler = functools.partial(QuietFiles, directory=str(out))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def open_example(offline: OfflineContext, origin: str, graphql: str, recorder: str) -> Page:
    """A new page of the served example, talking to the server at `graphql`, with `recorder` run in every load."""
    offline.context.add_init_script(recorder)
    page = offline.context.new_page()
    page.goto(f"{origin}/?{urlencode({'api': graphql})}")
    return page


def send(page: Page, prompt: str) -> None:
    page.get_by_label("Message").fill(prompt)
    page.get_by_role("button", name="Send").click()
