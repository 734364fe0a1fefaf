"""The packages a release builds: `python -m build` (the sdist, then a wheel from that sdist) from a clean clone.
The wheel, installed into a fresh virtualenv outside the checkout and started from an empty folder, serves the
chat page and GraphiQL from its own files with every non-loopback request blocked. A wheel built from the sdist
needs no npm; a clean clone built without npm fails, saying what is missing, rather than packaging a broken page."""

from __future__ import annotations

import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Response, expect

from tests.browser.chat import ChatPage
from tests.browser.conftest import OfflineContext
from tests.support.server import ServerProcess

from .conftest import child_env, clone_head, measure, run

# What the page and GraphiQL load from static/vendor/ (graphql-ws's shared chunk has a hashed name).
VENDOR = "persistream/web/static/vendor/"
VENDOR_FILES = [
    "marked/marked.esm.js",
    "dompurify/purify.es.mjs",
    "graphql-ws/client.js",
    "persistream-client/index.js",
    "react/react.production.min.js",
    "react-dom/react-dom.production.min.js",
    "graphiql/graphiql.min.js",
    "graphiql/graphiql.min.css",
]


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def assert_vendor_files(names: set[str]) -> None:
    missing = [f for f in VENDOR_FILES if VENDOR + f not in names]
    assert missing == [], f"the package lacks {missing}"
    assert any(n.startswith(VENDOR + "graphql-ws/common-") and n.endswith(".js") for n in names)
    assert "persistream/web/static/index.html" in names and "persistream/web/static/js/chat.js" in names


def no_npm_env() -> dict[str, str]:
    # A PATH with nothing on it: no npm, no node. pip and the build backend run by absolute path.
    return child_env(PATH=str(Path(sys.executable).parent.parent / "no-tools-here"))


@dataclass
class Built:
    sdist: Path
    wheel: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    project = clone_head(tmp_path_factory.mktemp("release") / "clean")
    dist = project / "dist"
    result = run([sys.executable, "-m", "build", "--outdir", dist], cwd=project)
    measure(f"python -m build (sdist, then the wheel from it) from a clean clone took {result.seconds:.0f} s")
    assert result.returncode == 0, result.output[-6000:]
    (sdist,) = dist.glob("persistream-*.tar.gz")
    (wheel,) = dist.glob("persistream-*.whl")
    measure(f"wheel {wheel.name}: {wheel.stat().st_size} bytes; sdist: {sdist.stat().st_size} bytes")
    yield Built(sdist, wheel)


@pytest.mark.packaging
@pytest.mark.browser
def test_the_installed_wheel_serves_the_chat_and_graphiql_offline(
    built: Built, offline: OfflineContext, tmp_path: Path
) -> None:
    assert_vendor_files(wheel_names(built.wheel))

    venv = tmp_path / "venv"
    made = run([sys.executable, "-m", "venv", venv], cwd=tmp_path)
    assert made.returncode == 0, made.output
    installed = run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", built.wheel], cwd=tmp_path)
    measure(f"pip install of the wheel into a fresh virtualenv took {installed.seconds:.0f} s")
    assert installed.returncode == 0, installed.output[-4000:]
    where = run([venv / "bin" / "python", "-c", "import persistream.web.app as m; print(m.__file__)"], cwd=tmp_path)
    assert Path(where.output.strip()).is_relative_to(venv), where.output

    # An empty folder and no settings at all: the demo model and ./persistream.db, as a new user gets them.
    here = tmp_path / "empty"
    here.mkdir()
    server = ServerProcess({}, log_path=tmp_path / "server.log", command=[str(venv / "bin" / "persistream")], cwd=here)
    server.start()
    try:
        served: dict[str, int] = {}

        def remember(response: Response) -> None:
            served[response.url.removeprefix(server.url)] = response.status

        page = offline.context.new_page()
        page.on("response", remember)
        chat = ChatPage(page, server.url).open()
        prompt = "Does the wheel bring its own JavaScript?"
        answer = chat.send(prompt)
        chat.wait_status(answer, "DONE", timeout=60_000)
        text = chat.text(answer)
        assert "Demo model." in text and prompt in text, text
        assert served.get("/static/vendor/graphql-ws/client.js") == 200, served
        assert served.get("/static/vendor/marked/marked.esm.js") == 200, served
        assert (here / "persistream.db").is_file()

        ide = offline.context.new_page()
        ide.on("response", remember)
        ide.goto(f"{server.url}/graphql")
        # GraphiQL's own query editor (CodeMirror), which only a running GraphiQL renders; the page's placeholder
        # is a bare div saying "Loading GraphiQL…".
        editor = ide.locator(".graphiql-container .graphiql-query-editor .CodeMirror")
        expect(editor).to_be_visible(timeout=20_000)
        shown: str = ide.evaluate("document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()")
        assert "sendMessage" in shown, shown
        assert served.get("/static/vendor/graphiql/graphiql.min.js") == 200, served
        assert served.get("/static/vendor/react/react.production.min.js") == 200, served
    finally:
        server.stop()
    assert "Traceback" not in server.log()


@pytest.mark.packaging
def test_the_sdist_holds_what_its_wheel_needs_so_it_builds_without_npm(built: Built, tmp_path: Path) -> None:
    with tarfile.open(built.sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
        archive.extractall(tmp_path, filter="data")
    assert_vendor_files(names)
    assert {"setup.py", "scripts/build_assets.sh", "persistream/web/frontend/package-lock.json"} <= names
    (source,) = tmp_path.glob("persistream-*")

    out = tmp_path / "wheels"
    result = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, "."], cwd=source, env=no_npm_env())
    measure(f"pip wheel from the extracted sdist, without npm, took {result.seconds:.0f} s")
    assert result.returncode == 0, result.output[-4000:]
    (wheel,) = out.glob("persistream-*.whl")
    assert_vendor_files(wheel_names(wheel))
    assert wheel_names(wheel) == wheel_names(built.wheel)


@pytest.mark.packaging
def test_pip_wheel_from_a_clean_clone_builds_the_files_or_fails_saying_what_is_missing(tmp_path: Path) -> None:
    project = clone_head(tmp_path / "clean")
    out = tmp_path / "wheels"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, "."]

    refused = run(command, cwd=project, env=no_npm_env())
    assert refused.returncode != 0, refused.output[-4000:]
    assert "npm (Node.js) is not on PATH" in refused.output, refused.output[-4000:]
    assert "persistream/web/static/vendor/" in refused.output and "package-lock.json" in refused.output
    assert not out.exists() or list(out.glob("*.whl")) == []

    result = run(command, cwd=project)
    measure(f"pip wheel --no-deps . from a clean clone (npm ci included) took {result.seconds:.0f} s")
    assert result.returncode == 0, result.output[-4000:]
    (wheel,) = out.glob("persistream-*.whl")
    assert_vendor_files(wheel_names(wheel))
