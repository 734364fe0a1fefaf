"""`persistream ask` as a shell uses it: `--header NAME:VALUE` (repeatable) reaches a server whose app brings its
own login (`create_app(settings, authenticate=...)` wanting two headers), over HTTP and the WebSocket; `ask -` reads
the prompt from a pipe; `ask ... | head -c 10` ends quietly with status 141 while the server finishes the answer;
`persistream --version` says the version; every subcommand's help shows its defaults and the variables it reads."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import shlex
import sys
from collections.abc import Iterator

import pytest

from persistream.__main__ import main
from persistream.config import Settings
from persistream.config.variables import declared_fields
from tests.conftest import server_env
from tests.e2e.test_ask import Ask, prompt_for, thread_messages
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import gql_data
from tests.support.net import free_port
from tests.support.server import ROOT, ServerProcess
from tests.support.streams import wait_final

# The app of a team that signs its callers in with an API key and a team header; persistream is its chat.
KEYED_APP = """
from persistream.chat.identity import Identity
from persistream.config import Settings
from persistream.errors import Unauthenticated
from persistream.web.app import create_app


class TeamKeys:
    async def authenticate(self, conn, connection_params):
        key, team = conn.headers.get("x-api-key"), conn.headers.get("x-team")
        if key is None and team is None:
            return None
        if key != "team-key-1" or not team:
            raise Unauthenticated("The API key and the team header are both needed.")
        return Identity(team)


def app():
    return create_app(Settings.from_env(), authenticate=TeamKeys())
"""


@pytest.fixture(scope="module")
def keyed(fake_openai: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("keyed")
    (folder / "keyed_app.py").write_text(KEYED_APP, encoding="utf-8")
    env = server_env(fake_openai, folder / "keyed.db", PYTHONPATH=f"{folder}:{ROOT}")
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "keyed_app:app", "--factory"]
    arguments = ["--port", str(port), "--log-level", "info"]
    server = ServerProcess(env, log_path=folder / "keyed.log", port=port, command=command, arguments=arguments)
    server.start()
    yield server
    server.stop()


async def test_headers_reach_a_server_with_its_own_login(keyed: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = ["Keyed", " answer", " over", " the", " socket."]
    prompt, name = prompt_for(fake_openai, Script(tokens, delay=0.02), "askkey")
    url = ["--url", keyed.graphql_http]

    nobody = await Ask(prompt, *url).run()
    assert nobody.returncode == 1 and "UNAUTHENTICATED" in nobody.stderr.decode(), nobody.stderr
    half = await Ask(prompt, *url, "--header", "X-Api-Key: team-key-1").run()
    assert half.returncode == 1 and "both needed" in half.stderr.decode(), half.stderr

    ask = await Ask(prompt, *url, "--header", "X-Api-Key: team-key-1", "-H", "X-Team:blue").run()
    assert ask.returncode == 0, ask.stderr
    assert ask.stdout.decode() == "".join(tokens)  # streamed over the WebSocket, whose upgrade carried both
    assert len(fake_openai.requests_for(name)) == 1
    assert "Traceback" not in ask.stderr.decode() + keyed.log()


async def test_a_malformed_header_is_refused_by_the_command() -> None:
    ask = await Ask("Hi", "--header", "X-Api-Key team-key-secret").run()
    assert ask.returncode == 2
    err = ask.stderr.decode()
    assert "NAME:VALUE" in err and "team-key-secret" not in err, err


async def shell(script: str, timeout: float = 60) -> tuple[str, bytes, str]:
    """Runs `script` in bash with a clean environment: its status line (printed by the script), stdout, stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSISTREAM_", "OPENAI_"))}
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", script, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    status = re.search(r"status=([\d ]+)", err.decode())
    assert status, err
    return status.group(1).strip(), out, err.decode()


ASK = f"{shlex.quote(sys.executable)} -m persistream ask"


async def test_ask_dash_reads_the_prompt_from_a_pipe(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    prompt, _ = prompt_for(fake_openai, Script(["From", " a", " pipe."]), "askpipe")
    prompt = f"Line one ✓\n{prompt}"
    script = f"printf '%s\\n' {shlex.quote(prompt)} | {ASK} - --url {server.graphql_http}; echo status=$? >&2"
    status, out, err = await shell(script)
    assert status == "0", err
    assert out == b"From a pipe."
    thread = re.search(r"thread: ([0-9a-f-]{36})", err)
    assert thread, err
    [message] = await thread_messages(server, thread.group(1))
    assert message["prompt"] == prompt  # the whole input, without the line end the pipe added


async def test_ask_into_head_exits_quietly(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = [f"word{i:03d} " for i in range(150)]
    prompt, _ = prompt_for(fake_openai, Script(tokens, delay=0.01), "askhead")
    script = (
        f"{ASK} {shlex.quote(prompt)} --url {server.graphql_http} | head -c 10; "
        'echo "status=${PIPESTATUS[0]} ${PIPESTATUS[1]}" >&2'
    )
    status, out, err = await shell(script)
    assert out == b"word000 wo"
    assert status == "141 0", err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception" not in err, err
    # Leaving never cancels: the server finishes the answer.
    thread = re.search(r"thread: ([0-9a-f-]{36})", err)
    assert thread, err
    query = "query($t: ID!) { messages(threadId: $t) { responseStreamId } }"
    [message] = (await gql_data(server.graphql_http, query, {"t": thread.group(1)}))["messages"]
    final = await wait_final(server, message["responseStreamId"], timeout=30)
    assert (final["status"], final["text"]) == ("DONE", "".join(tokens))


def help_of(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        main([*args, "--help"])
    assert exited.value.code == 0
    return " ".join(out.getvalue().split())  # argparse wraps lines: compare words


def test_the_version() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert re.fullmatch(r"persistream (\d+\.\d+\.\d+\S*|unknown)\n", out.getvalue()), out.getvalue()


def test_every_subcommand_help_shows_its_defaults_and_variables() -> None:
    serve = help_of("serve")
    for default in ("(default: 127.0.0.1)", "(default: 8000)", "(default: 1)", "(default info)"):
        assert default in serve, serve
    for _field, variable in declared_fields(Settings):
        assert variable.name in serve, variable.name
    migrate = help_of("migrate")
    assert "(default: head)" in migrate and "PERSISTREAM_DATABASE_URL" in migrate, migrate
    ask = help_of("ask")
    assert "(default: http://127.0.0.1:8000/graphql)" in ask and "PERSISTREAM_TOKEN" in ask, ask
    assert "--header NAME:VALUE" in ask and "- reads it from standard input" in ask, ask
    assert "Reads no environment variable" in help_of("export-schema")
    # No option shows a default it does not have.
    assert "(default: None)" not in serve + migrate + ask and "(default: [])" not in ask
