"""Runs the reverse proxies of docs/deploy (nginx, Caddy) as real processes on free ports, unprivileged and in the
foreground, from the shipped configuration files with only their addresses and paths substituted."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.server import ROOT

DEPLOY = ROOT / "docs" / "deploy"


def render(template: Path, replacements: dict[str, str]) -> str:
    """The shipped file with each literal replaced; every literal must be there, so an edit of the shipped file
    that the tests would no longer exercise fails here instead of passing untested."""
    text = template.read_text()
    for old, new in replacements.items():
        assert old in text, f"{template.name} no longer contains {old!r}: update the test's rendering"
        text = text.replace(old, new)
    return text


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key), made by openssl; clients trust it by name."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"proxy exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"proxy did not listen on {port}: {tail}") from None
            time.sleep(0.05)


class ProxyProcess:
    def __init__(self, command: list[str], *, port: int, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.command, self.port, self.log_path, self.env = command, port, log_path, env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ProxyProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        _wait_listening(self.port, self.process, self.log_path)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def nginx(conf_d_file: str, *, port: int, directory: Path) -> ProxyProcess:
    """nginx in the foreground with its own prefix, the rendered site file included in a minimal main file
    (what /etc/nginx/nginx.conf does for conf.d), its temporary files and logs in `directory`."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    site = directory / "persistream.conf"
    site.write_text(conf_d_file)
    main = directory / "nginx.conf"
    main.write_text(
        f"daemon off;\nmaster_process on;\nworker_processes 1;\npid {directory}/nginx.pid;\n"
        f"error_log {directory}/error.log info;\nevents {{ worker_connections 256; }}\n"
        f"http {{\n  access_log {directory}/access.log;\n  client_body_temp_path {directory}/body;\n"
        f"  proxy_temp_path {directory}/proxy;\n  fastcgi_temp_path {directory}/fastcgi;\n"
        f"  uwsgi_temp_path {directory}/uwsgi;\n  scgi_temp_path {directory}/scgi;\n  include {site};\n}}\n"
    )
    return ProxyProcess([binary, "-p", str(directory), "-c", str(main)], port=port, log_path=directory / "stdout.log")


def caddy(caddyfile: str, *, port: int, directory: Path) -> ProxyProcess:
    binary = shutil.which("caddy") or "/usr/bin/caddy"
    path = directory / "Caddyfile"
    path.write_text(caddyfile)
    # Caddy keeps its state (certificates, the last configuration) under these: the test's own directory.
    env = {**os.environ, "HOME": str(directory), "XDG_DATA_HOME": str(directory), "XDG_CONFIG_HOME": str(directory)}
    return ProxyProcess(
        [binary, "run", "--config", str(path), "--adapter", "caddyfile"],
        port=port,
        log_path=directory / "caddy.log",
        env=env,
    )
