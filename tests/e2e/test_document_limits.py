"""Documents past PERSISTREAM_MAX_QUERY_DEPTH, PERSISTREAM_MAX_ALIASES or PERSISTREAM_MAX_QUERY_TOKENS are refused
with GRAPHQL_VALIDATION_FAILED before anything runs, over HTTP and as an `error` for that operation over both
WebSocket protocols (the socket goes on); PERSISTREAM_INTROSPECTION=false and PERSISTREAM_GRAPHIQL=false."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import server_env
from tests.support.dump import dump_database
from tests.support.fake_openai import FakeOpenAI
from tests.support.gql import BODY, STREAM_BODY, GraphQLWS, SubscriptionError, gql, gql_data, send
from tests.support.server import ServerProcess
from tests.support.streams import assert_clean_log, wait_final

DEPTH, ALIASES, TOKENS = 2, 3, 120

# Strawberry counts the depth below the root fields: `text` here is at depth 3, `prompt` below at 2.
DEEP = "query { threads { messages { response { text } } } }"
SHALLOW = "query { threads { messages { prompt } } }"
ALIASED_SENDS = (
    "mutation { " + " ".join(f'm{i}: sendMessage(prompt: "p{i}") {{ id }}' for i in range(ALIASES + 1)) + " }"
)
LONG = "query { " + " ".join(["__typename"] * TOKENS) + " }"
ALIASED_BODY = (
    "subscription($id: ID!) { streamBody(streamId: $id) { "
    + " ".join(f"d{i}: delta" for i in range(ALIASES + 1))
    + " } }"
)
LONG_BODY = "subscription($id: ID!) { streamBody(streamId: $id) { " + " ".join(["delta"] * TOKENS) + " } }"


@pytest.fixture(scope="module")
def db_path(module_tmp: Path) -> Path:
    return module_tmp / "documents.db"


@pytest.fixture(scope="module")
def server(fake_openai: FakeOpenAI, module_tmp: Path, db_path: Path) -> Iterator[ServerProcess]:
    env = server_env(
        fake_openai,
        db_path,
        PERSISTREAM_MAX_QUERY_DEPTH=str(DEPTH),
        PERSISTREAM_MAX_ALIASES=str(ALIASES),
        PERSISTREAM_MAX_QUERY_TOKENS=str(TOKENS),
    )
    process = ServerProcess(env, log_path=module_tmp / "documents.log").start()
    yield process
    process.stop()


def assert_refused(result: dict[str, object]) -> None:
    assert "data" not in result or result["data"] is None, result
    errors = result["errors"]
    assert isinstance(errors, list) and errors, result
    assert {e["extensions"]["code"] for e in errors} == {"GRAPHQL_VALIDATION_FAILED"}, errors


async def test_over_http_a_document_past_a_limit_is_refused_before_it_runs(
    server: ServerProcess, db_path: Path
) -> None:
    await send(server.graphql_http, "Something stored")
    before = dump_database(db_path)  # the database itself: the dump query is past this server's depth
    assert_refused(await gql(server.graphql_http, DEEP))
    assert_refused(await gql(server.graphql_http, ALIASED_SENDS))
    assert_refused(await gql(server.graphql_http, LONG))
    # Not one of the aliased sendMessage calls ran.
    assert dump_database(db_path) == before
    # At the limits, documents run.
    assert (await gql_data(server.graphql_http, SHALLOW))["threads"]
    assert await gql_data(server.graphql_http, "query { " + " ".join(["__typename"] * (TOKENS - 3)) + " }")
    assert_clean_log(server)


@pytest.mark.parametrize("legacy", [False, True])
async def test_over_websocket_a_refused_document_is_an_error_and_the_socket_goes_on(
    server: ServerProcess, legacy: bool
) -> None:
    message = await send(server.graphql_http, "Watch me")
    stream_id = message["responseStreamId"]
    async with GraphQLWS(server.graphql_ws, legacy=legacy) as client:
        # The legacy protocol runs subscriptions only (and ours are too shallow to pass a depth limit).
        for document in (ALIASED_BODY, LONG_BODY) if legacy else (DEEP, ALIASED_BODY, LONG_BODY):
            with pytest.raises(SubscriptionError) as raised:
                async for data in client.subscribe(document, {"id": stream_id}, timeout=10):
                    pytest.fail(f"an event before the error: {data}")
            assert raised.value.code == "GRAPHQL_VALIDATION_FAILED", raised.value.errors
        # The same socket still serves: an observer follows the stream while the HTTP side cancels it.
        events = client.subscribe(STREAM_BODY, {"id": stream_id}, timeout=10)
        first = await anext(events)
        assert first["streamBody"]["streamId"] == stream_id
        await gql_data(
            server.graphql_http, "mutation($id: ID!) { cancelStream(streamId: $id) { status } }", {"id": stream_id}
        )
        async for data in events:
            if data["streamBody"]["status"] != "STREAMING" and data["streamBody"]["status"] != "PENDING":
                break
    assert (await wait_final(server, stream_id))["status"] == "CANCELLED"
    assert (await gql_data(server.graphql_http, BODY, {"id": stream_id}))["streamBody"]["status"] == "CANCELLED"
    assert_clean_log(server)


async def test_introspection_and_graphiql_can_be_turned_off(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    env = server_env(
        fake_openai, tmp_path / "closed.db", PERSISTREAM_INTROSPECTION="false", PERSISTREAM_GRAPHIQL="false"
    )
    server = ServerProcess(env, log_path=tmp_path / "closed.log").start()
    try:
        assert_refused(await gql(server.graphql_http, "{ __schema { queryType { name } } }"))
        assert_refused(await gql(server.graphql_http, '{ __type(name: "Query") { name } }'))
        assert (await gql_data(server.graphql_http, "{ __typename }")) == {"__typename": "Query"}
        async with httpx.AsyncClient() as client:
            page = await client.get(server.graphql_http, headers={"accept": "text/html"})
        assert page.status_code == 404
        assert "graphiql" not in page.text.lower()
        # Plain GraphQL over GET still works: only the IDE is gone.
        async with httpx.AsyncClient() as client:
            query = await client.get(server.graphql_http, params={"query": "{ __typename }"})
        assert query.json() == {"data": {"__typename": "Query"}}
        assert_clean_log(server)
    finally:
        server.stop()


async def test_by_default_introspection_and_graphiql_are_on(server: ServerProcess) -> None:
    data = await gql_data(server.graphql_http, "{ __schema { queryType { name } } }")
    assert data == {"__schema": {"queryType": {"name": "Query"}}}
    async with httpx.AsyncClient() as client:
        page = await client.get(server.graphql_http, headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
