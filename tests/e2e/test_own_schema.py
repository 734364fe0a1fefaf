"""persistream's operations merged into an app's own Strawberry schema (`persistream.schema.public`), served by
Strawberry's ASGI view in the app's own Starlette app under a real uvicorn, the app's own login (an API key header)
deciding who calls: the ownership cases of tests/identity run against it, streaming works over WebSocket, error
codes are the contract's (the app's own coded errors kept), and an unexpected error is masked, its log line free of
any traceback. The app is examples/own_schema.py, with two fields of the test's merged in."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from persistream.config import Settings
from persistream.errors import Unauthenticated
from persistream.schema import public as chat
from persistream.web.app import create_app
from tests.conftest import server_env
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import SEND, STREAM_CHAT, check_events, collect
from tests.support.identities import Caller
from tests.support.net import free_port
from tests.support.ownership import CASES, a_owns_a_thread, b_finds_nothing
from tests.support.server import ROOT, ServerProcess
from tests.support.streams import unique

# The app of the example, with a field that fails as a bug would and one that refuses with the app's own code.
APP = """
import strawberry
from graphql import GraphQLError
from starlette.applications import Starlette
from strawberry.tools import merge_types

from own_schema import AppQuery, lifespan, routes
from persistream.schema import public as chat


@strawberry.type
class Faults:
    @strawberry.field
    def boom(self) -> str:
        raise RuntimeError("the app's bug")

    @strawberry.field
    def upgrade(self) -> str:
        raise GraphQLError("Not in your plan.", extensions={"code": "PAYMENT_REQUIRED"})


schema = chat.build_schema(
    query=merge_types("Query", (AppQuery, Faults, chat.Query)),
    mutation=chat.Mutation,
    subscription=chat.Subscription,
)
app = Starlette(routes=routes(schema), lifespan=lifespan)
"""

OPERATIONS = """query { __schema { queryType { fields { name } } mutationType { fields { name } }
  subscriptionType { fields { name } } } }"""


@pytest.fixture(scope="module")
def app_server(
    fake_openai: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, Path]]:
    folder = tmp_path_factory.mktemp("own_schema")
    (folder / "faulty_app.py").write_text(APP, encoding="utf-8")
    db_path = folder / "app.db"
    env = server_env(fake_openai, db_path, PYTHONPATH=f"{folder}:{ROOT / 'examples'}:{ROOT}")
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "faulty_app:app"]
    arguments = ["--port", str(port), "--log-level", "info"]
    server = ServerProcess(env, log_path=folder / "app.log", port=port, command=command, arguments=arguments)
    server.start()
    yield server, db_path
    server.stop()


def caller(server: ServerProcess, key: str | None) -> Caller:
    return Caller(server, headers={} if key is None else {"X-Api-Key": key})


async def test_the_merged_schema_serves_every_operation_with_its_ownership_case(
    app_server: tuple[ServerProcess, Path],
) -> None:
    server, _ = app_server
    found = (await caller(server, "key-alice").gql(OPERATIONS))["data"]["__schema"]
    served = {root: {f["name"] for f in found[f"{root.lower()}Type"]["fields"]} for root in CASES}
    assert served["Query"] == set(CASES["Query"]) | {"me", "boom", "upgrade"}, served
    for root in ("Mutation", "Subscription"):
        assert served[root] == set(CASES[root]), served


async def test_another_user_of_the_app_finds_nothing(
    app_server: tuple[ServerProcess, Path], fake_openai: FakeOpenAI
) -> None:
    server, db_path = app_server
    a, b = caller(server, "key-alice"), caller(server, "key-bob")
    assert (await a.gql("query { me }"))["data"] == {"me": "alice"}
    owned, name, _ = await a_owns_a_thread(a, fake_openai)
    assert owned.owner_id == "alice"  # the app's login decided the identity
    await b_finds_nothing(a, b, owned, name, db_path, fake_openai, "own schema")
    assert "Traceback" not in server.log()


async def test_an_answer_streams_over_websocket_in_the_merged_schema(
    app_server: tuple[ServerProcess, Path], fake_openai: FakeOpenAI
) -> None:
    server, _ = app_server
    a = caller(server, "key-alice")
    name = unique("merged")
    tokens = ["Merged", " schemas", " stream", " too."]
    marker = fake_openai.add(name, Script(tokens, delay=0.02))
    sent = await a.gql(SEND, {"prompt": f"Stream {marker}", "thread": None})
    stream_id = sent["data"]["sendMessage"]["responseStreamId"]
    async with a.ws() as client:
        events = await collect(client.subscribe(STREAM_CHAT, {"id": stream_id}), "streamChat")
    assert check_events(events) == "".join(tokens)
    assert events[-1]["status"] == "DONE"
    assert len(events) > 1, "the driver saw the answer only at its end"


@pytest.mark.parametrize(
    ("key", "query", "code", "message"),
    [
        ("key-alice", "query { boom }", "INTERNAL_SERVER_ERROR", "Internal server error."),
        ("key-alice", "query { upgrade }", "PAYMENT_REQUIRED", "Not in your plan."),
        (None, "query { me }", "UNAUTHENTICATED", "Sign in first."),
        (None, "query { threads { id } }", "UNAUTHENTICATED", None),
        ("key-mallory", "query { threads { id } }", "UNAUTHENTICATED", "Unknown API key."),
        ("key-alice", 'query { messages(threadId: "nope") { id } }', "BAD_USER_INPUT", None),
        ("key-alice", "query { threads(last: 0) { id } }", "BAD_USER_INPUT", None),
        ("key-alice", "query { nope }", "GRAPHQL_VALIDATION_FAILED", None),
        ("key-alice", "query {", "GRAPHQL_PARSE_FAILED", None),
    ],
)
async def test_errors_carry_their_codes_and_unexpected_ones_are_masked(
    app_server: tuple[ServerProcess, Path], key: str | None, query: str, code: str, message: str | None
) -> None:
    server, _ = app_server
    result: dict[str, Any] = await caller(server, key).gql(query)
    [error] = result["errors"]
    assert error["extensions"]["code"] == code, result
    if message is not None:
        assert error["message"] == message, result
    log = server.log()
    assert "Traceback" not in log, log[-3000:]
    if code == "INTERNAL_SERVER_ERROR":
        assert "the app's bug" not in str(result)
        assert "unexpected error in boom: RuntimeError" in log, log[-3000:]


def test_the_page_shows_the_example_as_it_is() -> None:
    page = (ROOT / "docs" / "own-schema.md").read_text(encoding="utf-8")
    [block] = re.findall(r"^```python\n(.*?)^```", page, re.MULTILINE | re.DOTALL)
    assert block == (ROOT / "examples" / "own_schema.py").read_text(encoding="utf-8")


def test_the_context_reads_a_persistream_app_services(tmp_path: Path) -> None:
    settings = Settings.from_env({"PERSISTREAM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/app.db"}, None)
    app = create_app(settings.replace(auth_mode="proxy"))
    context = chat.context_for(app, "carol")
    assert context.chat is app.state.services.chat is chat.chat_service(app)
    assert (context.caller(), context.auth_mode) == (chat.Identity("carol"), "proxy")
    refused = chat.context_for(app.state.services, "carol", refused="Expired session.")
    with pytest.raises(Unauthenticated, match="Expired session"):
        refused.caller()
    assert chat.context_for(app.state.services.chat, None).caller() is None
