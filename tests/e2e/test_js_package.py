"""The JavaScript client as a package: its declarations and a typed usage file pass `tsc`, the committed dist/
is what `tsc` builds from src/ today, and the tarball `npm pack` makes installs into an empty project and imports
(its one dependency from npm's cache where it is there, else from the registry: a cache that `npm ci` filled holds
tarballs but not always the index a version range needs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.jsclient import CLIENT_DIR, require_client_deps

pytestmark = pytest.mark.node

TSC = CLIENT_DIR / "node_modules" / ".bin" / "tsc"


def run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_a_typed_usage_file_passes_tsc_against_the_declarations() -> None:
    require_client_deps()
    # (The sources themselves are checked by the build below.) It imports "persistream-client" and
    # "persistream-client/react" through the package's exports; its @ts-expect-error lines fail the check if
    # the declarations ever get looser.
    run([str(TSC), "-p", "test/tsconfig.json"], CLIENT_DIR)


def test_sources_pass_tsc_and_the_committed_dist_is_built_from_them(tmp_path: Path) -> None:
    require_client_deps()
    run([str(TSC), "-p", "tsconfig.json", "--outDir", str(tmp_path)], CLIENT_DIR)
    built = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {p.name: p.read_bytes() for p in (CLIENT_DIR / "dist").iterdir()}
    stale = sorted(name for name in built.keys() | committed.keys() if built.get(name) != committed.get(name))
    assert stale == [], f"clients/js/dist is not what `npm run build` makes from src/: {stale}"


def test_npm_pack_tarball_installs_and_imports(tmp_path: Path) -> None:
    node = require_client_deps()
    npm = shutil.which("npm")
    assert npm is not None
    packed = json.loads(run([npm, "pack", "--json", "--pack-destination", str(tmp_path)], CLIENT_DIR))
    files = {f["path"] for f in packed[0]["files"]}
    wanted = {
        "package.json",
        "README.md",
        "dist/index.js",
        "dist/index.d.ts",
        "dist/react.js",
        "dist/react.d.ts",
        "dist/ai-sdk.js",
    }
    assert wanted <= files
    assert not [f for f in files if f.startswith(("src/", "test/", "node_modules/"))], files
    tarball = tmp_path / packed[0]["filename"]

    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "app", "private": True, "type": "module"}))
    env = {**os.environ, "npm_config_audit": "false", "npm_config_fund": "false"}
    result = subprocess.run(
        [npm, "install", "--prefer-offline", "--no-audit", "--no-fund", str(tarball)],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    check = (
        "const m = await import('persistream-client');"
        "if (typeof m.createClient !== 'function' || typeof m.PersistreamError !== 'function') process.exit(2);"
        "const c = m.createClient({ url: 'http://127.0.0.1:9/graphql' });"
        "if (typeof c.stream !== 'function') process.exit(3);"
        "c.dispose();"
        "console.log(JSON.stringify(Object.keys(m).sort()));"
    )
    exported = json.loads(run([node, "--input-type=module", "-e", check], app))
    assert {"createClient", "PersistreamError", "Stream", "isFinal"} <= set(exported)
    installed = app / "node_modules"
    assert (installed / "persistream-client" / "dist" / "react.js").is_file()
    assert (installed / "graphql-ws" / "package.json").is_file(), "its one dependency came along"
    assert not (installed / "react").exists(), "react is an optional peer: not installed unless asked for"
    # The AI SDK transport loads without the AI SDK: `ai` is an optional peer, used only for its types.
    ai_sdk = (
        "const { createClient } = await import('persistream-client');"
        "const { PersistreamChatTransport } = await import('persistream-client/ai-sdk');"
        "const client = createClient({ url: 'http://127.0.0.1:9/graphql' });"
        "const t = new PersistreamChatTransport({ client, storage: null });"
        "console.log(JSON.stringify([typeof t.sendMessages, typeof t.reconnectToStream, t.resumeStreamIsReplay]));"
        "client.dispose();"
    )
    assert json.loads(run([node, "--input-type=module", "-e", ai_sdk], app)) == ["function", "function", True]
    assert not (installed / "ai").exists(), "ai is an optional peer: not installed unless asked for"
