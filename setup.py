"""Packaging hooks: every sdist and wheel carries the browser files the chat page and GraphiQL load.

Those files (persistream/web/static/vendor/) are not committed: scripts/build_assets.sh installs them from the
pinned persistream/web/frontend/package-lock.json with npm. A wheel without them serves a chat page that cannot load
and a GraphiQL stuck on "Loading...", so building one without them is an error, never a silent omission. The sdist
ships the vendor files (and the lock file and script they came from), so a wheel built from it needs no npm.
The chat page's streaming code is the project's JavaScript client: its committed build (clients/js/dist) is
copied in beside them, and is part of what the stamp says the vendor files were built from.
Everything else about the package is declared in pyproject.toml.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
LOCK = ROOT / "persistream" / "web" / "frontend" / "package-lock.json"
SCRIPT = ROOT / "scripts" / "build_assets.sh"
VENDOR = ROOT / "persistream" / "web" / "static" / "vendor"
# The project's own JavaScript client, copied into vendor/persistream-client/ (its React hook is not).
CLIENT_DIST = ROOT / "clients" / "js" / "dist"
# Written by scripts/build_assets.sh: the hash of the lock file and the script the vendor files were built from.
STAMP = VENDOR / ".build-inputs.sha256"
# The files the page and GraphiQL load; if one is missing the build is broken, whatever the stamp says.
REQUIRED = [
    "marked/marked.esm.js",
    "dompurify/purify.es.mjs",
    "graphql-ws/client.js",
    "persistream-client/index.js",
    "react/react.production.min.js",
    "react-dom/react-dom.production.min.js",
    "graphiql/graphiql.min.js",
    "graphiql/graphiql.min.css",
]


def _client_files() -> list[Path]:
    return sorted((p for p in CLIENT_DIST.glob("*.js") if p.name != "react.js"), key=lambda p: p.name.encode())


def _inputs_hash() -> str | None:
    if not (LOCK.is_file() and SCRIPT.is_file()):
        return None
    client = b"".join(p.read_bytes() for p in _client_files())
    return hashlib.sha256(LOCK.read_bytes() + SCRIPT.read_bytes() + client).hexdigest()


def _vendor_problem() -> str | None:
    """Why the vendor files cannot be packaged as they are, or None when they are complete and current."""
    if not VENDOR.is_dir():
        return "the folder is absent"
    missing = [name for name in REQUIRED if not (VENDOR / name).is_file()]
    if missing:
        return f"missing {', '.join(missing)}"
    wanted = _inputs_hash()
    if wanted is None:
        return None  # no lock file to rebuild from (an unusual source tree): the files present are what we have
    recorded = STAMP.read_text(encoding="utf-8").strip() if STAMP.is_file() else ""
    if recorded != wanted:
        return f"built from another {LOCK.name} or {SCRIPT.name} than this one"
    return None


def ensure_vendor_files() -> None:
    problem = _vendor_problem()
    if problem is None:
        return
    where = VENDOR.relative_to(ROOT)
    if _inputs_hash() is None:
        raise SystemExit(f"persistream build: the browser files in {where}/ are incomplete ({problem}).")
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise SystemExit(
            f"persistream build: the browser files in {where}/ are not ready ({problem}), and npm (Node.js) is "
            f"not on PATH to install them from {LOCK.relative_to(ROOT)}. Install Node.js with npm and build again, "
            "or build the wheel from a persistream sdist, which holds them."
        )
    print(f"persistream build: running {SCRIPT.relative_to(ROOT)} ({problem})")
    subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, check=True)
    problem = _vendor_problem()
    if problem is not None:
        raise SystemExit(f"persistream build: {SCRIPT.name} ran but {where}/ is still not ready ({problem})")


class BuildPy(build_py):
    def run(self) -> None:
        # An editable install (scripts/setup.sh) reads the files in place; setup.sh builds them, or says why not.
        if not self.editable_mode:
            ensure_vendor_files()
            # The list of package data may have been taken (by egg_info) before the vendor files existed.
            self.__dict__.pop("data_files", None)
        super().run()


class Sdist(sdist):
    def run(self) -> None:
        ensure_vendor_files()
        # egg_info, run by sdist, lists the package data; make sure it looks again now the files are there.
        build = self.distribution.get_command_obj("build_py")
        build.__dict__.pop("data_files", None)
        super().run()


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
