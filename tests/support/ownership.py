"""The ownership cases: for every operation of persistream's schema, what identity B gets when it reaches for what
identity A holds (NOT_FOUND, exactly as for an id that does not exist). tests/identity/test_ownership.py runs them in
every PERSISTREAM_AUTH mode; tests/e2e/test_own_schema.py runs them against an app's schema that merges persistream's
operations. The cases are keyed by field name, so a test can check them against the schema it serves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.dump import dump_database
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import BODY, CANCEL, SEND, STREAM_BODY, STREAM_CHAT, SubscriptionError, collect
from tests.support.identities import Caller
from tests.support.streams import unique


@dataclass
class Owned:
    """What identity A holds: a thread with a PENDING answer nobody drives."""

    thread_id: str
    stream_id: str
    owner_id: str
    message_id: str


Case = Callable[[Caller, Owned], Awaitable[None]]


def not_found(result: dict[str, Any]) -> None:
    assert result.get("data") is None, result
    [error] = result["errors"]
    assert error["extensions"]["code"] == "NOT_FOUND", result


async def sub_not_found(caller: Caller, query: str, variables: dict[str, Any], field: str) -> None:
    async with caller.ws() as client:
        with pytest.raises(SubscriptionError) as raised:
            await collect(client.subscribe(query, variables), field)
    assert raised.value.code == "NOT_FOUND", raised.value.errors


async def q_stream_body(b: Caller, a: Owned) -> None:
    not_found(await b.gql(BODY, {"id": a.stream_id}))


async def q_messages(b: Caller, a: Owned) -> None:
    not_found(await b.gql("query($t: ID!) { messages(threadId: $t) { id } }", {"t": a.thread_id}))


async def q_branch(b: Caller, a: Owned) -> None:
    query = "query($t: ID!, $l: ID) { branch(threadId: $t, leafId: $l) { id } }"
    not_found(await b.gql(query, {"t": a.thread_id, "l": None}))
    not_found(await b.gql(query, {"t": a.thread_id, "l": a.message_id}))


async def q_threads(b: Caller, a: Owned) -> None:
    result = await b.gql("query { threads { id messages { id } } }")
    assert result == {"data": {"threads": []}}, result
    # A's thread as a paging anchor is not in B's list: refused like any id not in it, revealing nothing.
    result = await b.gql("query($b: ID) { threads(before: $b) { id } }", {"b": a.thread_id})
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", result


async def q_shared_thread(b: Caller, a: Owned) -> None:
    # A's thread is not shared: no token opens it, and a guess finds nothing.
    not_found(await b.gql("query($t: String!) { sharedThread(token: $t) { id } }", {"t": a.thread_id}))


async def q_viewer(b: Caller, a: Owned) -> None:
    result = await b.gql("query { viewer { id authMode } }")
    assert result["data"]["viewer"]["id"] != a.owner_id, result


async def m_send_message(b: Caller, a: Owned) -> None:
    not_found(await b.gql(SEND, {"prompt": "Hijack", "thread": a.thread_id}))
    query = 'mutation($t: ID, $p: ID) { sendMessage(prompt: "Hijack", threadId: $t, parentId: $p) { id } }'
    not_found(await b.gql(query, {"t": a.thread_id, "p": a.message_id}))


async def m_regenerate(b: Caller, a: Owned) -> None:
    not_found(await b.gql("mutation($m: ID!) { regenerate(messageId: $m) { id } }", {"m": a.message_id}))


async def m_edit_message(b: Caller, a: Owned) -> None:
    query = 'mutation($m: ID!) { editMessage(messageId: $m, prompt: "Hijack") { id } }'
    not_found(await b.gql(query, {"m": a.message_id}))


async def m_cancel_stream(b: Caller, a: Owned) -> None:
    not_found(await b.gql(CANCEL, {"id": a.stream_id}))


async def m_delete_thread(b: Caller, a: Owned) -> None:
    not_found(await b.gql("mutation($t: ID!) { deleteThread(threadId: $t) }", {"t": a.thread_id}))


async def m_share_thread(b: Caller, a: Owned) -> None:
    not_found(await b.gql("mutation($t: ID!) { shareThread(threadId: $t) { token } }", {"t": a.thread_id}))


async def m_unshare_thread(b: Caller, a: Owned) -> None:
    not_found(await b.gql("mutation($t: ID!) { unshareThread(threadId: $t) }", {"t": a.thread_id}))


async def s_stream_chat(b: Caller, a: Owned) -> None:
    await sub_not_found(b, STREAM_CHAT, {"id": a.stream_id}, "streamChat")


async def s_stream_body(b: Caller, a: Owned) -> None:
    await sub_not_found(b, STREAM_BODY, {"id": a.stream_id}, "streamBody")


CASES: dict[str, dict[str, Case]] = {
    "Query": {
        "streamBody": q_stream_body,
        "messages": q_messages,
        "branch": q_branch,
        "threads": q_threads,
        "sharedThread": q_shared_thread,
        "viewer": q_viewer,
    },
    "Mutation": {
        "sendMessage": m_send_message,
        "regenerate": m_regenerate,
        "editMessage": m_edit_message,
        "cancelStream": m_cancel_stream,
        "deleteThread": m_delete_thread,
        "shareThread": m_share_thread,
        "unshareThread": m_unshare_thread,
    },
    "Subscription": {"streamChat": s_stream_chat, "streamBody": s_stream_body},
}


async def a_owns_a_thread(a: Caller, fake_openai: FakeOpenAI) -> tuple[Owned, str, str]:
    """A sends a prompt whose answer nobody drives; its Owned, the script's name, and A's viewer authMode."""
    name = unique("owned")
    marker = fake_openai.add(name, Script([" never", " driven"]))
    sent = await a.gql(SEND, {"prompt": f"Mine {marker}", "thread": None})
    assert not sent.get("errors"), sent
    a_viewer = (await a.gql("query { viewer { id authMode } }"))["data"]["viewer"]
    message = sent["data"]["sendMessage"]
    owned = Owned(message["threadId"], message["responseStreamId"], a_viewer["id"], message["id"])
    # A sees its own thread (so B's empty answers are about B, not about a broken listing).
    assert (await a.gql("query { threads { id } }"))["data"]["threads"] == [{"id": owned.thread_id}]
    return owned, name, a_viewer["authMode"]


async def b_finds_nothing(
    a: Caller, b: Caller, owned: Owned, name: str, db_path: Path, fake_openai: FakeOpenAI, label: str
) -> None:
    """Every case, as B on A's thread: NOT_FOUND everywhere, nothing stored changes, no generation starts, and A
    still holds its PENDING answer."""
    before = dump_database(db_path)
    for root, cases in CASES.items():
        for field, case in cases.items():
            try:
                await case(b, owned)
            except AssertionError as failure:
                raise AssertionError(f"{label}: {root}.{field}: {failure}") from failure
    assert dump_database(db_path) == before, f"{label}: another identity's attempts changed what is stored"
    assert fake_openai.requests_for(name) == [], "another identity's streamChat started a generation"
    body = (await a.gql(BODY, {"id": owned.stream_id}))["data"]["streamBody"]
    assert (body["status"], body["text"]) == ("PENDING", "")
