"""Bad input of every kind in the contract's error table gets its code, over HTTP and over WebSocket; garbage
WebSocket frames close only the socket that sent them (with the protocol's close code) or are ignored; the
server keeps serving; and no stored byte changes (a full dump of the database before and after is equal)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import server_env
from tests.support.dump import dump_database, stored_state
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import STREAM_BODY, STREAM_CHAT, GraphQLWS, SubscriptionError, check_events, send
from tests.support.server import ServerProcess
from tests.support.streams import Tap, assert_clean_log, start_stream, unique

MAX_PROMPT = 40
# Words that only an internal error would put in a message: tracebacks, source files, SQL, exception types.
SECRET_WORDS = ("Traceback", 'File "', ".py", "site-packages", "sqlite", "sqlalchemy", "SELECT ", "Exception")
SECRET_WORDS += ("TypeError", "KeyError", "ValueError", "AttributeError", "UnicodeEncodeError", "surrogates not")


@pytest.fixture(scope="module")
def db_path(module_tmp: Path) -> Path:
    return module_tmp / "bad-input.db"


@pytest.fixture(scope="module")
def server(fake_openai: FakeOpenAI, module_tmp: Path, db_path: Path) -> Iterator[ServerProcess]:
    env = server_env(fake_openai, db_path, PERSISTREAM_MAX_PROMPT_CHARS=str(MAX_PROMPT))
    process = ServerProcess(env, log_path=module_tmp / "bad-input.log").start()
    yield process
    process.stop()


# --- what is stored ------------------------------------------------------------------------------------------


class Seed:
    """A thread with a finished answer (chunks stored) and a PENDING stream that bad input must not claim."""

    thread_id: str
    done_stream: str
    pending_stream: str


_seeds: dict[int, Seed] = {}  # by server port: made once per server, by whichever test runs first


async def seeded(server: ServerProcess, fake: FakeOpenAI) -> Seed:
    if server.port not in _seeds:
        seed = Seed()
        marker = fake.add(unique("seed"), Script(["Stored", " text", ".", " More", " text", "."]))
        message = await send(server.graphql_http, f"Seed {marker}")
        async with GraphQLWS(server.graphql_ws) as client:
            events = await Tap.driver(client, message["responseStreamId"]).result()
        assert check_events(events) == "Stored text. More text."
        seed.thread_id = message["threadId"]
        seed.done_stream = message["responseStreamId"]
        seed.pending_stream = (await send(server.graphql_http, "Wait for me", seed.thread_id))["responseStreamId"]
        _seeds[server.port] = seed
    return _seeds[server.port]


# --- error helpers -------------------------------------------------------------------------------------------


async def post(server: ServerProcess, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST a GraphQL request as ASCII JSON, so that even a lone surrogate travels as its `\\ud800` escape."""
    body = json.dumps({"query": query, "variables": variables or {}})
    response = await HTTP.client.post(server.graphql_http, content=body, headers={"content-type": "application/json"})
    result: dict[str, Any] = response.json()
    return result


class HTTP:
    """One HTTP client per test (creating one per request costs more than the request)."""

    client: httpx.AsyncClient


@pytest.fixture(autouse=True)
async def http_client() -> Any:
    async with httpx.AsyncClient(timeout=30) as client:
        HTTP.client = client
        yield client


async def http_error(server: ServerProcess, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error of a request that must fail as a whole; checks it says nothing about internals."""
    result = await post(server, query, variables)
    assert not result.get("data"), result
    [error] = result["errors"]
    assert_no_internals(error["message"])
    assert error["extensions"]["code"], error
    return error


async def http_code(server: ServerProcess, query: str, variables: dict[str, Any] | None = None) -> str:
    code: str = (await http_error(server, query, variables))["extensions"]["code"]
    return code


async def ws_code(client: GraphQLWS, query: str, variables: dict[str, Any]) -> str | None:
    """The code a subscription fails with; it must fail before yielding any event."""
    with pytest.raises(SubscriptionError) as raised:
        async for data in client.subscribe(query, variables, timeout=10):
            pytest.fail(f"an event before the error: {data}")
    for error in raised.value.errors:
        assert_no_internals(error["message"])
    return raised.value.code


def assert_no_internals(message: str) -> None:
    for word in SECRET_WORDS:
        assert word not in message, message


# --- the contract's error table ------------------------------------------------------------------------------

CANONICAL = "123e4567-e89b-12d3-a456-426614174000"
MALFORMED_IDS: list[Any] = [
    "",
    " ",
    "abc",
    "null",
    CANONICAL.replace("-", ""),  # 32 hex digits
    CANONICAL + "0",  # 37 characters
    CANONICAL[:-1],  # 35
    " " + CANONICAL[1:],
    CANONICAL[:-1] + "\n",
    CANONICAL[:-1] + "g",
    "{" + CANONICAL[1:-1] + "}",
    "urn:uuid:" + CANONICAL,
    "----" + CANONICAL.replace("-", ""),  # 36 characters a lenient UUID parser would accept
    "'; DROP TABLE threads; --",
    "../../etc/passwd",
    "🎉" * 36,
    "x" * 100_000,
    5,  # ID also accepts an Int, which is then the text "5"
]

HTTP_ID_OPERATIONS = {
    "streamBody": "query($id: ID!) { streamBody(streamId: $id) { text } }",
    "messages": "query($id: ID!) { messages(threadId: $id) { id } }",
    "sendMessage": 'mutation($id: ID) { sendMessage(prompt: "hello", threadId: $id) { id } }',
    "cancelStream": "mutation($id: ID!) { cancelStream(streamId: $id) { status } }",
    "deleteThread": "mutation($id: ID!) { deleteThread(threadId: $id) }",
}
WS_ID_OPERATIONS = {"streamChat": STREAM_CHAT, "streamBody": STREAM_BODY}


async def test_malformed_ids_in_every_operation(server: ServerProcess, fake_openai: FakeOpenAI, db_path: Path) -> None:
    await seeded(server, fake_openai)
    before = await stored_state(server, db_path)
    for name, query in HTTP_ID_OPERATIONS.items():
        for value in MALFORMED_IDS:
            error = await http_error(server, query, {"id": value})
            assert error["extensions"]["code"] == "BAD_USER_INPUT", (name, value, error)
            assert "UUID" in error["message"], error
    async with GraphQLWS(server.graphql_ws) as client:
        for name, query in WS_ID_OPERATIONS.items():
            for value in MALFORMED_IDS:
                assert await ws_code(client, query, {"id": value}) == "BAD_USER_INPUT", (name, value)
        # Mutations sent over the socket are checked the same way.
        for name, query in HTTP_ID_OPERATIONS.items():
            for value in ("abc", CANONICAL + "0"):
                assert await ws_code(client, query, {"id": value}) == "BAD_USER_INPUT", (name, value)
    assert await stored_state(server, db_path) == before


async def test_unknown_ids_are_not_found(server: ServerProcess, fake_openai: FakeOpenAI, db_path: Path) -> None:
    seed = await seeded(server, fake_openai)
    before = await stored_state(server, db_path)
    unknown = [str(uuid.uuid4()) for _ in range(3)] + [CANONICAL, seed.thread_id]  # a thread id is no stream id
    for value in unknown:
        for name, query in HTTP_ID_OPERATIONS.items():
            if value == seed.thread_id and name in ("messages", "sendMessage", "deleteThread"):
                continue
            assert await http_code(server, query, {"id": value}) == "NOT_FOUND", (name, value)
    async with GraphQLWS(server.graphql_ws) as client:
        for value in unknown:
            for name, query in WS_ID_OPERATIONS.items():
                # Fails with NOT_FOUND before any event (ws_code fails the test on an event).
                assert await ws_code(client, query, {"id": value}) == "NOT_FOUND", (name, value)
    # A stream id is no thread id either.
    for name in ("messages", "sendMessage", "deleteThread"):
        assert await http_code(server, HTTP_ID_OPERATIONS[name], {"id": seed.done_stream}) == "NOT_FOUND", name
    assert await stored_state(server, db_path) == before


async def test_negative_offset_and_last_out_of_range(
    server: ServerProcess, fake_openai: FakeOpenAI, db_path: Path
) -> None:
    seed = await seeded(server, fake_openai)
    before = await stored_state(server, db_path)
    async with GraphQLWS(server.graphql_ws) as client:
        for stream_id in (seed.done_stream, seed.pending_stream, str(uuid.uuid4())):
            for offset in (-1, -1000, -(2**31)):
                assert await ws_code(client, STREAM_BODY, {"id": stream_id, "from": offset}) == "BAD_USER_INPUT"
        # 2**31 is no GraphQL Int at all: a variable error, still BAD_USER_INPUT.
        assert await ws_code(client, STREAM_BODY, {"id": seed.done_stream, "from": 2**31}) == "BAD_USER_INPUT"
    messages = "query($id: ID!, $last: Int!) { messages(threadId: $id, last: $last) { id } }"
    threads = "query($last: Int!) { threads(last: $last) { id } }"
    for last in (0, -1, 1001, 10**6, -(2**31), 2**31 - 1):
        assert await http_code(server, messages, {"id": seed.thread_id, "last": last}) == "BAD_USER_INPUT", last
        assert await http_code(server, threads, {"last": last}) == "BAD_USER_INPUT", last
    # Inline literals are checked the same way as variables.
    assert await http_code(server, "{ threads(last: 0) { id } }") == "BAD_USER_INPUT"
    assert await http_code(server, "{ threads(last: 99999999999) { id } }") == "BAD_USER_INPUT"
    # The bounds themselves are fine.
    for last in (1, 1000):
        result = await post(server, messages, {"id": seed.thread_id, "last": last})
        assert not result.get("errors"), result
        result = await post(server, threads, {"last": last})
        assert not result.get("errors"), result
    assert await stored_state(server, db_path) == before


async def test_null_for_an_argument_that_may_not_be_null(
    server: ServerProcess, fake_openai: FakeOpenAI, db_path: Path
) -> None:
    """A nullable variable may stand where a non-null argument has a default (the spec allows it); sent as null
    it is the client's mistake: BAD_USER_INPUT, not an internal error (found by the GraphQL fuzz)."""
    seed = await seeded(server, fake_openai)
    before = await stored_state(server, db_path)
    operations = [
        ("query($v: Int) { threads(last: $v) { id } }", {"v": None}),
        ("query($v: Int, $id: ID!) { messages(threadId: $id, last: $v) { id } }", {"v": None, "id": seed.thread_id}),
        ("query($v: Int) { threads { messages(last: $v) { id } } }", {"v": None}),
    ]
    for query, variables in operations:
        error = await http_error(server, query, variables)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (query, error)
    async with GraphQLWS(server.graphql_ws) as client:
        stream_body = "subscription($id: ID!, $v: Int) { streamBody(streamId: $id, fromOffset: $v) { delta } }"
        assert await ws_code(client, stream_body, {"id": seed.done_stream, "v": None}) == "BAD_USER_INPUT"
    assert await stored_state(server, db_path) == before
    assert "unexpected error" not in server.log()


async def test_prompts_empty_too_long_or_not_text(
    server: ServerProcess, fake_openai: FakeOpenAI, db_path: Path
) -> None:
    """The module's server accepts prompts of at most MAX_PROMPT characters (PERSISTREAM_MAX_PROMPT_CHARS)."""
    seed = await seeded(server, fake_openai)
    before = await stored_state(server, db_path)
    mutation = "mutation($p: String!, $t: ID) { sendMessage(prompt: $p, threadId: $t) { id } }"
    too_long = ["x" * (MAX_PROMPT + 1), "🎉" * (MAX_PROMPT + 1), "a" * 100_000]
    for prompt in ["", " ", "\n\t \r\n", "\u3000\u00a0", *too_long, "lone \ud800 surrogate", "nul \x00 char"]:
        for target in (None, seed.thread_id):
            assert await http_code(server, mutation, {"p": prompt, "t": target}) == "BAD_USER_INPUT", repr(prompt)
    async with GraphQLWS(server.graphql_ws) as client:
        for prompt in ("", "   ", "y" * (MAX_PROMPT + 1)):
            assert await ws_code(client, mutation, {"p": prompt, "t": None}) == "BAD_USER_INPUT", repr(prompt)
    # A prompt of the wrong type is a variable error, also BAD_USER_INPUT.
    for wrong in (5, None, ["a"], {"a": 1}):
        assert await http_code(server, mutation, {"p": wrong}) == "BAD_USER_INPUT", wrong
    assert await stored_state(server, db_path) == before
    # Exactly the limit, counted in code points, is accepted.
    for prompt in ("x" * MAX_PROMPT, "🎉" * MAX_PROMPT, " spaces count too ".ljust(MAX_PROMPT)):
        result = await post(server, mutation, {"p": prompt, "t": seed.thread_id})
        assert not result.get("errors"), (prompt, result)
    assert_clean_log(server)


async def test_malformed_documents_and_variables_over_http(
    server: ServerProcess, fake_openai: FakeOpenAI, db_path: Path
) -> None:
    seed = await seeded(server, fake_openai)
    before = await stored_state(server, db_path)
    assert await http_code(server, "{ threads { id ") == "GRAPHQL_PARSE_FAILED"
    assert await http_code(server, "not graphql at all") == "GRAPHQL_PARSE_FAILED"
    assert await http_code(server, '{ streamBody(streamId: "\\ud800") { text } }') == "GRAPHQL_PARSE_FAILED"
    assert await http_code(server, "{ nope }") == "GRAPHQL_VALIDATION_FAILED"
    assert await http_code(server, "{ threads { id nope } }") == "GRAPHQL_VALIDATION_FAILED"
    assert await http_code(server, "{ streamBody { text } }") == "BAD_USER_INPUT"  # a missing argument
    assert await http_code(server, "query A { threads { id } } query A { threads { id } }") == (
        "GRAPHQL_VALIDATION_FAILED"
    )
    # Variables of the wrong type, missing, or not declared as used.
    last = "query($last: Int!) { threads(last: $last) { id } }"
    body = "query($id: ID!) { streamBody(streamId: $id) { text } }"
    offset_query = "query($id: ID!, $o: Int!) { messages(threadId: $id, last: $o) { id } }"
    assert await http_code(server, last, {"last": "abc"}) == "BAD_USER_INPUT"
    assert await http_code(server, last, {"last": 1.5}) == "BAD_USER_INPUT"
    assert await http_code(server, last, {"last": None}) == "BAD_USER_INPUT"
    assert await http_code(server, last, {}) == "BAD_USER_INPUT"
    assert await http_code(server, body, {"id": {"nested": True}}) == "BAD_USER_INPUT"
    assert await http_code(server, body, {"id": [seed.done_stream]}) == "BAD_USER_INPUT"
    assert await http_code(server, offset_query, {"id": seed.thread_id, "o": "1"}) == "BAD_USER_INPUT"
    # A variable declared with the wrong type: the contract names no code for it; either of these is fit.
    assert await http_code(server, "query($x: String!) { threads(last: $x) { id } }", {"x": "1"}) in (
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_USER_INPUT",
    )

    # Requests that are not GraphQL at all: a plain 400 with no internals, never a crash.
    for content, content_type in (
        (b"not json", "application/json"),
        (b'{"variables": {}}', "application/json"),
        (b'{"query": 5}', "application/json"),
        (b'{"query": "{ threads { id } }", "variables": "x"}', "application/json"),
        (b"[1, 2]", "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"query { threads { id } }", "text/plain"),
    ):
        response = await HTTP.client.post(server.graphql_http, content=content, headers={"content-type": content_type})
        assert response.status_code in (400, 415), (content, response.status_code, response.text)
        assert_no_internals(response.text)
    mutation_by_get = await HTTP.client.get(
        server.graphql_http, params={"query": 'mutation { sendMessage(prompt: "via GET") { id } }'}
    )
    assert mutation_by_get.status_code in (400, 405), mutation_by_get.text

    assert await stored_state(server, db_path) == before
    assert_clean_log(server)


async def test_a_subscription_asked_for_as_a_plain_request(
    server: ServerProcess, fake_openai: FakeOpenAI, db_path: Path
) -> None:
    """A subscription in a plain JSON POST or a GET (no streaming Accept) is the client's mistake, told as a 400:
    it was run as a query, failed inside and came back INTERNAL_SERVER_ERROR, logged as unexpected."""
    seed = await seeded(server, fake_openai)
    before = dump_database(db_path)
    for document in (STREAM_CHAT, STREAM_BODY):
        variables = {"id": seed.pending_stream}
        posted = await HTTP.client.post(server.graphql_http, json={"query": document, "variables": variables})
        got = await HTTP.client.get(server.graphql_http, params={"query": document, "variables": json.dumps(variables)})
        for response in (posted, got):
            assert response.status_code == 400, (document, response.status_code, response.text)
            assert "subscriptions are not allowed" in response.text, response.text
            assert_no_internals(response.text)
    assert dump_database(db_path) == before  # the PENDING stream was not claimed
    assert "unexpected error" not in server.log()
    assert_clean_log(server)


async def test_a_json_body_that_is_not_an_object(server: ServerProcess, db_path: Path) -> None:
    """A JSON string, number, boolean or null as the body, as any transport asks: a 400, never a 500."""
    before = dump_database(db_path)
    for content in (b'"{ threads { id } }"', b"null", b"1", b"true"):
        for accept in ("application/json", "text/event-stream", "multipart/mixed;subscriptionSpec=1.0"):
            response = await HTTP.client.post(
                server.graphql_http, content=content, headers={"content-type": "application/json", "accept": accept}
            )
            assert response.status_code == 400, (content, accept, response.status_code, response.text)
            assert_no_internals(response.text)
    assert dump_database(db_path) == before
    assert_clean_log(server)


# --- garbage WebSocket frames --------------------------------------------------------------------------------


async def close_code(
    server: ServerProcess, frames: list[str | bytes], *, init: bool = True, protocol: str = "graphql-transport-ws"
) -> int | None:
    """Send frames on a fresh socket; the close code the server answers with (None if it keeps the socket)."""
    async with websockets.connect(server.graphql_ws, subprotocols=[protocol], max_size=None) as ws:  # type: ignore[list-item]
        if init:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
        with contextlib.suppress(websockets.ConnectionClosed):
            for frame in frames:
                await ws.send(frame)
        try:
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
                assert message.get("type") in ("next", "complete", "error", "ka", "ping"), message
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None
        except TimeoutError:
            return None


def subscribe(op_id: Any, payload: Any, kind: str = "subscribe") -> str:
    return json.dumps({"id": op_id, "type": kind, "payload": payload})


async def test_client_text_in_a_close_reason(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    """Strawberry puts client text in some close reasons (an unknown type, a duplicate id): a lone surrogate (sent
    as its JSON escape) or a long text still closes with the protocol's code, not a dropped socket (1006) and a
    traceback in the log."""
    seed = await seeded(server, fake_openai)
    watch = {"query": STREAM_BODY, "variables": {"id": seed.done_stream}}
    for op_id in ("\ud800", "x" * 300):
        assert await close_code(server, [json.dumps({"type": op_id})]) == 4400, op_id
        assert await close_code(server, [json.dumps({"type": op_id, "id": "1", "payload": {}})]) == 4400, op_id
        # The first subscription ends at once (a finished stream); a hung one keeps the id taken.
        pending = {"query": STREAM_BODY, "variables": {"id": seed.pending_stream}}
        duplicate = [subscribe(op_id, pending), subscribe(op_id, watch)]
        assert await close_code(server, duplicate) == 4409, op_id
    assert_clean_log(server)


async def test_a_text_frame_that_is_not_utf8(server: ServerProcess) -> None:
    """uvicorn closes the socket with 1007; neither its own log line nor the application, still answering the
    `connection_init` sent just before, leaves a stack trace in the log."""
    for round_ in range(10):
        for protocol in ("graphql-transport-ws", "graphql-ws"):
            async with websockets.connect(server.graphql_ws, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
                await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
                if round_ % 2:
                    await asyncio.sleep(0.001 * round_)
                await ws.send(b"\xed\xa0\x80 not UTF-8", text=True)
                with contextlib.suppress(websockets.ConnectionClosed):
                    while True:
                        await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 1007, (protocol, ws.close_code)
    assert "Invalid UTF-8 sequence received from client." in server.log()
    assert_clean_log(server)


async def test_operations_that_close_a_socket_already_closed(server: ServerProcess) -> None:
    """A syntax error in an operation closes the socket (4400) from that operation's task; when another message
    closed it first, the second close is nothing, not a stack trace in the log."""
    for round_ in range(10):
        broken = [subscribe(str(i), {"query": "subscription {"}) for i in range(3)]
        first = [json.dumps({"type": "bogus"})] if round_ % 2 else []
        assert await close_code(server, first + broken) == 4400
    assert_clean_log(server)


async def test_a_second_connection_init_over_the_legacy_protocol(server: ServerProcess) -> None:
    """Closed with 4429 as over graphql-transport-ws: it was acknowledged again, with a second keep-alive task
    whose predecessor was left to fail unretrieved."""
    for payload in ({}, [], {"Authorization": "Bearer nope"}):
        async with websockets.connect(server.graphql_ws, subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            replies = []
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    replies.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
            assert [r for r in replies if r["type"] != "ka"] == [], replies
            assert ws.close_code == 4429, (payload, ws.close_code)
    assert_clean_log(server)


async def test_garbage_websocket_frames(server: ServerProcess, fake_openai: FakeOpenAI, db_path: Path) -> None:
    seed = await seeded(server, fake_openai)
    watch_pending = {"query": STREAM_BODY, "variables": {"id": seed.pending_stream}}
    claim_pending = {"query": STREAM_CHAT, "variables": {"id": seed.pending_stream}}
    before = await stored_state(server, db_path)
    async with GraphQLWS(server.graphql_ws) as bystander:
        # A healthy client is watching the PENDING stream the whole time.
        watcher = Tap.observer(bystander, seed.pending_stream)
        cases: list[tuple[str, list[str | bytes], set[int | None]]] = [
            ("not JSON", ["{oops"], {4400}),
            ("binary", [b"\x00\x01\x02"], {4400}),
            ("unknown type", [json.dumps({"type": "bogus"})], {4400}),
            ("a JSON list", [json.dumps([1, 2])], {4400}),
            ("a JSON string", [json.dumps("subscribe")], {4400}),
            ("null", ["null"], {4400}),
            ("type not a string", [json.dumps({"type": ["subscribe"]})], {4400}),
            ("no id", [json.dumps({"type": "subscribe", "payload": watch_pending})], {4400}),
            ("numeric id", [subscribe(1, watch_pending)], {4400}),
            ("payload not an object", [subscribe("1", "x")], {4400}),
            ("query not a string", [subscribe("1", {"query": 5})], {4400}),
            ("variables not an object", [subscribe("1", {**claim_pending, "variables": "x"})], {4400}),
            ("syntax error", [subscribe("1", {"query": "subscription {"})], {4400}),
            ("duplicate id", [subscribe("1", watch_pending), subscribe("1", watch_pending)], {4409}),
            ("second connection_init", [json.dumps({"type": "connection_init"})], {4429}),
            ("huge frame", ["x" * (2 << 20)], {1009}),
            ("huge JSON frame", [subscribe("1", {"query": "#" + "x" * (2 << 20)})], {1009}),
            ("complete of an unknown id", [json.dumps({"type": "complete", "id": "nope"})], {None}),
        ]
        for name, frames, codes in cases:
            assert await close_code(server, frames) in codes, name
        # Before connection_init: unauthorized, and nothing ran (the PENDING stream is still unclaimed).
        assert await close_code(server, [subscribe("1", claim_pending)], init=False) == 4401
        assert await close_code(server, [json.dumps({"type": "connection_init", "payload": [1]})], init=False) == 4400
        # A subprotocol the server does not speak.
        assert await close_code(server, [], init=False, protocol="mqtt") == 4406

        # The legacy protocol answers garbage with an error (or ignores it) and keeps the socket usable.
        async with GraphQLWS(server.graphql_ws, legacy=True) as legacy:
            for frame in ("{oops", "null", "[1]", json.dumps({"type": "bogus"}), subscribe("9", "x", "start")):
                await legacy.ws.send(frame)
            events = await Tap(legacy, STREAM_BODY, {"id": seed.done_stream}, "streamBody").result()
            assert check_events(events) == "Stored text. More text."
        assert await close_code(server, [b"\x00"], protocol="graphql-ws") in (1002, 4400)

        # Bad variables over the socket do not claim the PENDING stream.
        assert await ws_code(bystander, STREAM_CHAT, {"id": seed.pending_stream.upper() + "x"}) == "BAD_USER_INPUT"
        assert not watcher.task.done()
        assert watcher.events == [
            {"streamId": seed.pending_stream, "delta": "", "offset": 0, "status": "PENDING", "error": None}
        ]
        assert await stored_state(server, db_path) == before

        # The server still serves: the bystander and a new client run a whole stream.
        stream_id, _ = await start_stream(server, fake_openai, Script(["Still", " serving", "."], delay=0.01))
        async with GraphQLWS(server.graphql_ws) as newcomer:
            observer = Tap.observer(bystander, stream_id)
            driven = await Tap.driver(newcomer, stream_id).result()
            assert check_events(driven) == "Still serving."
            assert check_events(await observer.result()) == "Still serving."
        watcher.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher.task
    assert_clean_log(server)
