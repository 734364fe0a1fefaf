"""History: earlier prompts and answers go to the model as context; `messages`, `threads` and `deleteThread` behave
as the contract says (order, `last`, titles, nested messages; delete removes everything and cancels a live
stream first)."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import server_env
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import BODY, CANCEL, STREAM_BODY, GraphQLWS, SubscriptionError, check_events, gql, gql_data, send
from tests.support.server import ServerProcess
from tests.support.streams import Tap, ask, sent_to_model, unique, wait_final, wait_until

SYSTEM_PROMPT = "You answer questions about persistream's history tests."

MESSAGES = """query($id: ID!, $last: Int! = 50) { messages(threadId: $id, last: $last) {
  id threadId prompt responseStreamId createdAt response { streamId text status error offset } } }"""
THREADS = """query($last: Int! = 50) { threads(last: $last) {
  id title createdAt messages { id threadId prompt responseStreamId response { text status } } } }"""
DELETE = """mutation($id: ID!) { deleteThread(threadId: $id) }"""


@pytest.fixture(scope="module")
def db_path(module_tmp: Path) -> Path:
    return module_tmp / "history.db"


@pytest.fixture(scope="module")
def server(fake_openai: FakeOpenAI, module_tmp: Path, db_path: Path) -> Iterator[ServerProcess]:
    """This module's server has its own system prompt, to see that it is the one sent as context."""
    env = server_env(fake_openai, db_path, PERSISTREAM_SYSTEM_PROMPT=SYSTEM_PROMPT)
    process = ServerProcess(env, log_path=module_tmp / "history.log").start()
    yield process
    process.stop()


async def test_earlier_prompts_and_answers_are_the_context(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    first, first_script = await ask(
        server, fake_openai, ["Paris", " is", " the", " capital", "."], "Capital of France?"
    )
    thread = first["threadId"]
    second, second_script = await ask(server, fake_openai, ["About", " 2.1", " million", "."], "Population?", thread)
    third, third_script = await ask(server, fake_openai, ["Yes", "!"], "Is it big?", thread)
    elsewhere, elsewhere_script = await ask(server, fake_openai, ["Hi", "."], "Unrelated")

    system = ("system", SYSTEM_PROMPT)
    assert sent_to_model(fake_openai, first_script) == [system, ("user", first["prompt"])]
    assert sent_to_model(fake_openai, second_script) == [
        system,
        ("user", first["prompt"]),
        ("assistant", "Paris is the capital."),
        ("user", second["prompt"]),
    ]
    assert sent_to_model(fake_openai, third_script) == [
        system,
        ("user", first["prompt"]),
        ("assistant", "Paris is the capital."),
        ("user", second["prompt"]),
        ("assistant", "About 2.1 million."),
        ("user", third["prompt"]),
    ]
    # Another thread's history is not context.
    assert sent_to_model(fake_openai, elsewhere_script) == [system, ("user", elsewhere["prompt"])]


async def test_messages_oldest_first_and_last_keeps_the_newest(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    answered, _ = await ask(server, fake_openai, ["Done", " here", "."], "Message 0")
    thread = answered["threadId"]
    sent = [answered] + [await send(server.graphql_http, f"Message {i}", thread) for i in range(1, 6)]
    ids = [m["id"] for m in sent]

    listed = (await gql_data(server.graphql_http, MESSAGES, {"id": thread}))["messages"]
    assert [m["id"] for m in listed] == ids
    assert [m["prompt"] for m in listed] == [m["prompt"] for m in sent]
    assert [m["createdAt"] for m in listed] == sorted(m["createdAt"] for m in listed)
    assert {m["threadId"] for m in listed} == {thread}
    # Each message carries its response as persisted now: the answered one DONE, the others PENDING and empty.
    assert listed[0]["response"] == {
        "streamId": answered["responseStreamId"],
        "text": "Done here.",
        "status": "DONE",
        "error": None,
        "offset": 10,
    }
    for message, original in zip(listed[1:], sent[1:], strict=True):
        assert message["responseStreamId"] == original["responseStreamId"]
        assert message["response"] == {
            "streamId": original["responseStreamId"],
            "text": "",
            "status": "PENDING",
            "error": None,
            "offset": 0,
        }

    for last, expected in ((1, ids[-1:]), (2, ids[-2:]), (5, ids[-5:]), (6, ids), (1000, ids)):
        page = (await gql_data(server.graphql_http, MESSAGES, {"id": thread, "last": last}))["messages"]
        assert [m["id"] for m in page] == expected, last


async def test_threads_newest_first_with_titles_and_messages(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    long_prompt = "Tell me\n\n  everything about   persistent text streaming, " + "and more " * 30
    first = await send(server.graphql_http, long_prompt)
    second = await send(server.graphql_http, "Short question?")
    third = await send(server.graphql_http, "🎉 Emoji title, with CJK 中文")
    # A later message in the first thread neither moves it nor changes its title.
    follow_up = await send(server.graphql_http, "A follow-up", first["threadId"])
    thread_ids = [third["threadId"], second["threadId"], first["threadId"]]

    newest = (await gql_data(server.graphql_http, THREADS, {"last": 3}))["threads"]
    assert [t["id"] for t in newest] == thread_ids
    assert [t["id"] for t in (await gql_data(server.graphql_http, THREADS, {"last": 1}))["threads"]] == thread_ids[:1]
    everything = (await gql_data(server.graphql_http, THREADS, {"last": 1000}))["threads"]
    assert [t["id"] for t in everything][:3] == thread_ids
    assert [t["createdAt"] for t in everything] == sorted((t["createdAt"] for t in everything), reverse=True)

    by_id = {t["id"]: t for t in newest}
    assert by_id[second["threadId"]]["title"] == "Short question?"
    assert by_id[third["threadId"]]["title"] == "🎉 Emoji title, with CJK 中文"
    title = by_id[first["threadId"]]["title"]
    assert 10 < len(title) < len(long_prompt) // 4, title
    assert "\n" not in title and "  " not in title
    assert " ".join(long_prompt.split()).startswith(title.rstrip("…").rstrip()), title

    assert [(m["id"], m["prompt"]) for m in by_id[first["threadId"]]["messages"]] == [
        (first["id"], long_prompt),
        (follow_up["id"], "A follow-up"),
    ]
    assert [m["id"] for m in by_id[second["threadId"]]["messages"]] == [second["id"]]
    for thread in newest:
        for message in thread["messages"]:
            assert message["threadId"] == thread["id"]
            assert message["response"] == {"text": "", "status": "PENDING"}


def stored_rows(db_path: Path, thread_id: str, stream_ids: list[str]) -> dict[str, int]:
    """What the database still holds of a thread, read directly from the SQLite file."""
    marks = ",".join("?" * len(stream_ids))
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        return {
            "threads": conn.execute("SELECT count(*) FROM threads WHERE id = ?", (thread_id,)).fetchone()[0],
            "messages": conn.execute("SELECT count(*) FROM messages WHERE thread_id = ?", (thread_id,)).fetchone()[0],
            "streams": conn.execute(f"SELECT count(*) FROM streams WHERE id IN ({marks})", stream_ids).fetchone()[0],
            "chunks": conn.execute(f"SELECT count(*) FROM chunks WHERE stream_id IN ({marks})", stream_ids).fetchone()[
                0
            ],
        }


async def error_code(server: ServerProcess, query: str, variables: dict[str, Any]) -> str:
    result = await gql(server.graphql_http, query, variables)
    assert result.get("data") is None, result
    [error] = result["errors"]
    code: str = error["extensions"]["code"]
    return code


async def test_delete_thread_removes_everything_and_cancels_its_live_stream(
    server: ServerProcess, fake_openai: FakeOpenAI, db_path: Path
) -> None:
    """Several rounds, deleting at a random moment of the live answer (also while a chunk is being flushed)."""
    rng = random.Random()
    neighbour, _ = await ask(server, fake_openai, ["Still", " here", "."], "A thread that stays")
    for round_no in range(4):
        finished, _ = await ask(server, fake_openai, ["Kept", " until", " deleted", "."], f"Round {round_no}")
        thread = finished["threadId"]
        tokens = [f" d{round_no}w{i}" + rng.choice(["", "", ".", "\n"]) for i in range(400)]
        live_script = unique("del")
        marker = fake_openai.add(live_script, Script(tokens, delay=rng.uniform(0.002, 0.008)))
        live = await send(server.graphql_http, f"Live answer {marker}", thread)
        live_id = live["responseStreamId"]
        stream_ids = [finished["responseStreamId"], live_id]
        assert stored_rows(db_path, thread, stream_ids)["chunks"] > 0

        async with GraphQLWS(server.graphql_ws) as driver_ws, GraphQLWS(server.graphql_ws) as observer_ws:
            driver = Tap.driver(driver_ws, live_id)
            observer = Tap.observer(observer_ws, live_id)
            await driver.until_text(rng.randint(1, 600))
            deleted_at = time.monotonic()
            assert (await gql_data(server.graphql_http, DELETE, {"id": thread})) == {"deleteThread": True}

            # The live stream was cancelled first: its subscribers end CANCELLED, with valid events.
            for tap in (driver, observer):
                events = await tap.result(timeout=10)
                assert events[-1]["status"] == "CANCELLED", events[-1]
                assert "".join(tokens).startswith(check_events(events))
            # The model's stream was closed, promptly and before it finished.
            [request] = fake_openai.requests_for(live_script)
            await wait_until(lambda r=request: r.closed_at is not None, timeout=3)
            assert request.closed_at is not None and request.closed_at - deleted_at < 2.0
            assert not request.finished

            # Nothing is left: not through the API, not in the database.
            assert stored_rows(db_path, thread, stream_ids) == {"threads": 0, "messages": 0, "streams": 0, "chunks": 0}
            for stream_id in stream_ids:
                assert await error_code(server, BODY, {"id": stream_id}) == "NOT_FOUND"
                assert await error_code(server, CANCEL, {"id": stream_id}) == "NOT_FOUND"
                with pytest.raises(SubscriptionError) as raised:
                    async for _ in observer_ws.subscribe(STREAM_BODY, {"id": stream_id}):
                        pytest.fail("an event from a deleted stream")
                assert raised.value.code == "NOT_FOUND"
            assert await error_code(server, MESSAGES, {"id": thread}) == "NOT_FOUND"
            threads = (await gql_data(server.graphql_http, THREADS, {"last": 1000}))["threads"]
            assert thread not in {t["id"] for t in threads}
            assert (await gql(server.graphql_http, DELETE, {"id": thread}))["errors"][0]["extensions"]["code"] == (
                "NOT_FOUND"
            )
            add = await gql(
                server.graphql_http,
                'mutation($t: ID) { sendMessage(prompt: "late", threadId: $t) { id } }',
                {"t": thread},
            )
            assert add["errors"][0]["extensions"]["code"] == "NOT_FOUND"
            assert stored_rows(db_path, thread, stream_ids)["threads"] == 0

    # The neighbour thread is untouched.
    kept = (await gql_data(server.graphql_http, MESSAGES, {"id": neighbour["threadId"]}))["messages"]
    assert [(m["id"], m["response"]["text"], m["response"]["status"]) for m in kept] == [
        (neighbour["id"], "Still here.", "DONE")
    ]


async def test_delete_thread_with_a_pending_stream(
    server: ServerProcess, fake_openai: FakeOpenAI, db_path: Path
) -> None:
    message = await send(server.graphql_http, "Never driven")
    stream_id = message["responseStreamId"]
    async with GraphQLWS(server.graphql_ws) as client:
        waiting = Tap.observer(client, stream_id)
        await wait_until(lambda: bool(waiting.events))
        assert (await gql_data(server.graphql_http, DELETE, {"id": message["threadId"]})) == {"deleteThread": True}
        events = await waiting.result(timeout=5)
    assert events[-1] == {"streamId": stream_id, "delta": "", "offset": 0, "status": "CANCELLED", "error": None}
    assert stored_rows(db_path, message["threadId"], [stream_id]) == {
        "threads": 0,
        "messages": 0,
        "streams": 0,
        "chunks": 0,
    }
    assert await error_code(server, DELETE, {"id": message["threadId"]}) == "NOT_FOUND"
    assert await error_code(server, DELETE, {"id": str(uuid.uuid4())}) == "NOT_FOUND"


async def test_a_finished_answer_survives_in_history(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    """The `response` in history is the same body the streamBody query returns."""
    message, _ = await ask(server, fake_openai, ["Line one\r\n", "line two ✓."], "Two lines")
    body = await wait_final(server, message["responseStreamId"])
    [listed] = (await gql_data(server.graphql_http, MESSAGES, {"id": message["threadId"]}))["messages"]
    assert listed["response"] == body
    assert body["text"] == "Line one\r\nline two ✓."
