"""Share links: whoever holds the token (no credential, or another identity) reads the thread and follows a live
answer exactly; nothing else. Revoking ends the token for good; sharing again makes a new one."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import BODY, CANCEL, SEND, STREAM_CHAT, SubscriptionError, check_events, collect, gql
from tests.support.identities import AUDIENCE, HS_SECRET, ISSUER, Caller, bearer, hs_token
from tests.support.streams import assert_clean_log, unique, wait_until

SHARED_BODY = """subscription($id: ID!, $token: String) {
  streamBody(streamId: $id, shareToken: $token) { streamId delta offset status error } }"""
SHARE = "mutation($t: ID!) { shareThread(threadId: $t) { threadId token url } }"
UNSHARE = "mutation($t: ID!) { unshareThread(threadId: $t) }"
SHARED_THREAD = "query($k: String!) { sharedThread(token: $k) { id title messages { id prompt response { text } } } }"
SHARED_MESSAGES = "query($t: ID!, $k: String) { messages(threadId: $t, shareToken: $k) { id prompt } }"
SHARED_STREAM = "query($id: ID!, $k: String) { streamBody(streamId: $id, shareToken: $k) { text status } }"


def code_of(result: dict[str, Any]) -> str | None:
    errors = result.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


async def test_a_share_reader_follows_a_live_answer_and_can_do_nothing_else(
    make_server: ServerFactory, fake_openai: FakeOpenAI
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    server = make_server(
        PERSISTREAM_AUTH="jwt",
        PERSISTREAM_JWT_SECRET=HS_SECRET,
        PERSISTREAM_JWT_AUDIENCE=AUDIENCE,
        PERSISTREAM_JWT_ISSUER=ISSUER,
        PERSISTREAM_FLUSH_CHARS="8",
    )
    owner = bearer(server, hs_token("alice"))
    stranger = bearer(server, hs_token("mallory"))
    nobody = Caller(server)
    first = (await owner.gql(SEND, {"prompt": "First", "thread": None}))["data"]["sendMessage"]
    thread = first["threadId"]

    shared = (await owner.gql(SHARE, {"t": thread}))["data"]["shareThread"]
    token = shared["token"]
    assert len(token) >= 32 and shared["url"] == f"/?share={token}" and shared["threadId"] == thread
    assert (await owner.gql(SHARE, {"t": thread}))["data"]["shareThread"]["token"] == token

    tokens = [f" w{i}" for i in range(40)]
    name = unique("shared")
    marker = fake_openai.add(name, Script(tokens, delay=0.01))
    live = (await owner.gql(SEND, {"prompt": f"Go {marker}", "thread": thread}))["data"]["sendMessage"]
    stream = live["responseStreamId"]

    # Without a credential, what needs an owner is UNAUTHENTICATED; for another identity, as for a missing id.
    for reader, refused in ((nobody, "UNAUTHENTICATED"), (stranger, "NOT_FOUND")):
        # Reading with the token needs no credential of the owner's.
        got = (await reader.gql(SHARED_THREAD, {"k": token}))["data"]["sharedThread"]
        assert (got["id"], [m["prompt"] for m in got["messages"]]) == (thread, ["First", f"Go {marker}"])
        assert (await reader.gql(SHARED_MESSAGES, {"t": thread, "k": token}))["data"]["messages"][0][
            "prompt"
        ] == "First"
        # Nothing else: not send, cancel, delete, share, nor claim the answer.
        assert code_of(await reader.gql(CANCEL, {"id": stream})) == refused
        assert code_of(await reader.gql(SEND, {"prompt": "Me too", "thread": thread})) == refused
        delete = "mutation($t: ID!) { deleteThread(threadId: $t) }"
        assert code_of(await reader.gql(delete, {"t": thread})) == refused
        async with reader.ws() as client:
            with pytest.raises(SubscriptionError) as raised:
                await collect(client.subscribe(STREAM_CHAT, {"id": stream}), "streamChat")
            assert raised.value.code == "FORBIDDEN"
    assert fake_openai.requests_for(name) == [], "a share reader claimed the answer"

    # Two readers follow the answer live, one from the start and one joining at a random moment.
    async with nobody.ws() as early, stranger.ws() as late, owner.ws() as driver:
        early_events = asyncio.create_task(
            collect(early.subscribe(SHARED_BODY, {"id": stream, "token": token}), "streamBody")
        )
        await asyncio.sleep(0)
        driven = asyncio.create_task(collect(driver.subscribe(STREAM_CHAT, {"id": stream}), "streamChat"))
        await wait_until(lambda: bool(fake_openai.requests_for(name)))
        await asyncio.sleep(rng.uniform(0, 0.3))
        late_events = await collect(late.subscribe(SHARED_BODY, {"id": stream, "token": token}), "streamBody")
        driver_events, first_events = await driven, await early_events
    stored = (await owner.gql(BODY, {"id": stream}))["data"]["streamBody"]
    assert stored["status"] == "DONE" and stored["text"] == "".join(tokens), f"seed {seed}"
    assert check_events(driver_events) == stored["text"], f"seed {seed}"
    assert check_events(first_events) == stored["text"], f"seed {seed}"
    assert check_events(late_events) == stored["text"], f"seed {seed}"

    # Revoked: the old token opens nothing, anywhere; sharing again makes a new one.
    assert (await owner.gql(UNSHARE, {"t": thread}))["data"]["unshareThread"] is True
    assert (await owner.gql(UNSHARE, {"t": thread}))["data"]["unshareThread"] is False
    assert code_of(await nobody.gql(SHARED_THREAD, {"k": token})) == "NOT_FOUND"
    assert code_of(await nobody.gql(SHARED_MESSAGES, {"t": thread, "k": token})) == "NOT_FOUND"
    assert code_of(await nobody.gql(SHARED_STREAM, {"id": stream, "k": token})) == "NOT_FOUND"
    async with nobody.ws() as client:
        with pytest.raises(SubscriptionError) as raised:
            await collect(client.subscribe(SHARED_BODY, {"id": stream, "token": token}), "streamBody")
        assert raised.value.code == "NOT_FOUND"
        # Unshared, the stream is just another identity's: streamChat answers NOT_FOUND, not FORBIDDEN.
    async with stranger.ws() as client:
        with pytest.raises(SubscriptionError) as raised:
            await collect(client.subscribe(STREAM_CHAT, {"id": stream}), "streamChat")
        assert raised.value.code == "NOT_FOUND"
    again = (await owner.gql(SHARE, {"t": thread}))["data"]["shareThread"]["token"]
    assert again != token
    assert code_of(await nobody.gql(SHARED_THREAD, {"k": token})) == "NOT_FOUND"
    assert (await nobody.gql(SHARED_STREAM, {"id": stream, "k": again}))["data"]["streamBody"]["status"] == "DONE"
    # A token of one thread opens no other thread's stream.
    other = (await owner.gql(SEND, {"prompt": "Elsewhere", "thread": None}))["data"]["sendMessage"]
    assert code_of(await nobody.gql(SHARED_STREAM, {"id": other["responseStreamId"], "k": again})) == "NOT_FOUND"
    log = server.log()
    assert token not in log and again not in log
    assert_clean_log(server)


@pytest.mark.parametrize("token", ["\ud800", "a\x00b", "jeton-é", "x" * 10_000, ""], ids=repr)
async def test_a_token_no_share_could_have_finds_nothing(make_server: ServerFactory, token: str) -> None:
    """Text that is not a token we make (a lone surrogate, NUL, non-ASCII, huge, empty) in every place a share
    token goes: NOT_FOUND, as for any wrong token; it was an INTERNAL_SERVER_ERROR when the database could not
    even be asked about it (found by the GraphQL fuzz)."""
    server = make_server()
    sent = (await gql(server.graphql_http, SEND, {"prompt": "Shared?", "thread": None}))["data"]["sendMessage"]
    shared = await gql(server.graphql_http, SHARE, {"t": sent["threadId"]})
    assert not shared.get("errors"), shared
    queries = [
        (SHARED_THREAD, {"k": token}),
        (SHARED_MESSAGES, {"t": sent["threadId"], "k": token}),
        (SHARED_STREAM, {"id": sent["responseStreamId"], "k": token}),
    ]
    async with httpx.AsyncClient(timeout=30) as client:
        for query, variables in queries:
            # ASCII JSON, so a lone surrogate travels as its `\ud800` escape.
            body = json.dumps({"query": query, "variables": variables})
            response = await client.post(
                server.graphql_http, content=body, headers={"content-type": "application/json"}
            )
            assert code_of(response.json()) == "NOT_FOUND", (query, response.text)
    assert_clean_log(server)


BRANCH = """query($t: ID!, $l: ID, $k: String) {
  branch(threadId: $t, leafId: $l, shareToken: $k) { id prompt parentId siblingIds } }"""
REGENERATE = "mutation($m: ID!) { regenerate(messageId: $m) { id } }"
EDIT = "mutation($m: ID!, $p: String!) { editMessage(messageId: $m, prompt: $p) { id } }"
SEND_AFTER = 'mutation($t: ID, $p: ID) { sendMessage(prompt: "Me too", threadId: $t, parentId: $p) { id } }'


async def test_a_share_reader_reads_every_branch_and_makes_none(make_server: ServerFactory) -> None:
    """With the token, `branch` opens any branch of the shared thread (and `messages` lists them all); regenerate,
    editMessage and sendMessage(parentId:) stay the owner's: UNAUTHENTICATED without a credential, NOT_FOUND for
    another identity, nothing stored either way."""
    server = make_server(PERSISTREAM_AUTH="proxy")
    owner = Caller(server, headers={"X-Forwarded-User": "alice"})
    stranger = Caller(server, headers={"X-Forwarded-User": "mallory"})
    nobody = Caller(server)
    first = (await owner.gql(SEND, {"prompt": "First", "thread": None}))["data"]["sendMessage"]
    thread = first["threadId"]
    second = (await owner.gql(SEND, {"prompt": "Second", "thread": thread}))["data"]["sendMessage"]
    edited = (await owner.gql(EDIT, {"m": second["id"], "p": "Second, edited"}))["data"]["editMessage"]
    token = (await owner.gql(SHARE, {"t": thread}))["data"]["shareThread"]["token"]
    variants = [second["id"], edited["id"]]

    for reader, refused in ((nobody, "UNAUTHENTICATED"), (stranger, "NOT_FOUND")):
        newest = (await reader.gql(BRANCH, {"t": thread, "l": None, "k": token}))["data"]["branch"]
        assert [(m["prompt"], m["parentId"], m["siblingIds"]) for m in newest] == [
            ("First", None, [first["id"]]),
            ("Second, edited", first["id"], variants),
        ]
        older = (await reader.gql(BRANCH, {"t": thread, "l": second["id"], "k": token}))["data"]["branch"]
        assert [m["prompt"] for m in older] == ["First", "Second"]
        listed = (await reader.gql(SHARED_MESSAGES, {"t": thread, "k": token}))["data"]["messages"]
        assert [m["prompt"] for m in listed] == ["First", "Second", "Second, edited"]
        # Without the token, or with it on another thread's id, the branch is not there.
        assert code_of(await reader.gql(BRANCH, {"t": thread, "l": None, "k": None})) == refused
        assert code_of(await reader.gql(BRANCH, {"t": thread, "l": None, "k": "not-the-token"})) == "NOT_FOUND"
        assert code_of(await reader.gql(REGENERATE, {"m": second["id"]})) == refused
        assert code_of(await reader.gql(EDIT, {"m": second["id"], "p": "Mine"})) == refused
        assert code_of(await reader.gql(SEND_AFTER, {"t": thread, "p": first["id"]})) == refused
    after = (await owner.gql(SHARED_MESSAGES, {"t": thread, "k": None}))["data"]["messages"]
    assert [m["id"] for m in after] == [first["id"], *variants], "a share reader's attempt stored something"
    assert_clean_log(server)
