"""One identity's threads and streams answer NOT_FOUND to another, for every operation the schema exports, in
every mode, and the attempts change nothing stored.

The cases are keyed by field name and checked against the exported schema: an operation added later without an
ownership case here makes `test_every_operation_has_an_ownership_case` fail."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema

from persistream.schema import schema
from tests.conftest import ServerFactory
from tests.support.dump import dump_database
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import BODY, CANCEL, SEND, STREAM_BODY, STREAM_CHAT, SubscriptionError, collect
from tests.support.identities import (
    HS_SECRET,
    JWT_ENV,
    Caller,
    JwksServer,
    RsaKeys,
    anonymous,
    bearer,
    hs_token,
)
from tests.support.streams import assert_clean_log, unique


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


def exported_operations() -> dict[str, set[str]]:
    exported = build_schema(schema.as_str())
    roots = {
        "Query": exported.query_type,
        "Mutation": exported.mutation_type,
        "Subscription": exported.subscription_type,
    }
    return {name: set(root.fields) for name, root in roots.items() if root is not None}


def test_every_operation_has_an_ownership_case() -> None:
    operations = exported_operations()
    assert operations == {root: set(cases) for root, cases in CASES.items()}, (
        "every Query, Mutation and Subscription field needs an ownership case in CASES"
    )


# --- the modes -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_keys() -> RsaKeys:
    return RsaKeys()


@pytest.fixture
def jwks(rsa_keys: RsaKeys) -> Iterator[JwksServer]:
    with JwksServer(rsa_keys.jwks()) as served:
        yield served


@pytest.mark.parametrize("mode", ["anonymous", "jwt-hs256", "jwt-rs256-pem", "jwt-jwks", "proxy"])
async def test_another_identity_finds_nothing(
    mode: str,
    make_server: ServerFactory,
    fake_openai: FakeOpenAI,
    tmp_path: Path,
    rsa_keys: RsaKeys,
    jwks: JwksServer,
) -> None:
    db_path = tmp_path / "persistream.db"
    if mode == "anonymous":
        server = make_server(db_path, PERSISTREAM_AUTH="anonymous")
        a, b = await anonymous(server), await anonymous(server)
    elif mode == "jwt-hs256":
        server = make_server(db_path, PERSISTREAM_JWT_SECRET=HS_SECRET, **JWT_ENV)
        a, b = bearer(server, hs_token("alice")), bearer(server, hs_token("bob"))
    elif mode == "jwt-rs256-pem":
        server = make_server(db_path, PERSISTREAM_JWT_PUBLIC_KEY=rsa_keys.public_pem, **JWT_ENV)
        a, b = bearer(server, rsa_keys.token("alice")), bearer(server, rsa_keys.token("bob"), on_upgrade=True)
    elif mode == "jwt-jwks":
        server = make_server(db_path, PERSISTREAM_JWT_JWKS_URL=jwks.url, **JWT_ENV)
        a, b = bearer(server, rsa_keys.token("alice")), bearer(server, rsa_keys.token("bob"))
    else:
        server = make_server(db_path, PERSISTREAM_AUTH="proxy")
        a = Caller(server, headers={"X-Forwarded-User": "alice@example.com"})
        b = Caller(server, headers={"X-Forwarded-User": "bob@example.com"})

    name = unique("owned")
    marker = fake_openai.add(name, Script([" never", " driven"]))
    sent = await a.gql(SEND, {"prompt": f"Mine {marker}", "thread": None})
    assert not sent.get("errors"), sent
    a_viewer = (await a.gql("query { viewer { id authMode } }"))["data"]["viewer"]
    message = sent["data"]["sendMessage"]
    owned = Owned(message["threadId"], message["responseStreamId"], a_viewer["id"], message["id"])
    assert a_viewer["authMode"] == mode.split("-")[0]
    # A sees its own thread (so B's empty answers below are about B, not about a broken listing).
    assert (await a.gql("query { threads { id } }"))["data"]["threads"] == [{"id": owned.thread_id}]

    before = dump_database(db_path)
    for root, cases in CASES.items():
        for field, case in cases.items():
            try:
                await case(b, owned)
            except AssertionError as failure:
                raise AssertionError(f"{mode}: {root}.{field}: {failure}") from failure
    assert dump_database(db_path) == before, f"{mode}: another identity's attempts changed what is stored"
    assert fake_openai.requests_for(name) == [], "another identity's streamChat started a generation"
    # And A still owns it all, untouched.
    body = (await a.gql(BODY, {"id": owned.stream_id}))["data"]["streamBody"]
    assert (body["status"], body["text"]) == ("PENDING", "")
    assert_clean_log(server)


async def test_ids_that_do_not_exist_answer_the_same(make_server: ServerFactory) -> None:
    """NOT_FOUND for another identity's thread is word for word the answer for a thread that never existed."""
    server = make_server(PERSISTREAM_AUTH="proxy")
    a = Caller(server, headers={"X-Forwarded-User": "alice"})
    b = Caller(server, headers={"X-Forwarded-User": "bob"})
    thread = (await a.gql(SEND, {"prompt": "Hi", "thread": None}))["data"]["sendMessage"]["threadId"]
    query = "query($t: ID!) { messages(threadId: $t) { id } }"
    theirs = await b.gql(query, {"t": thread})
    missing = await b.gql(query, {"t": str(uuid.uuid4())})
    for result in (theirs, missing):
        for error in result["errors"]:
            error.pop("locations", None)
    assert theirs == missing, (theirs, missing)


async def test_messages_that_do_not_exist_answer_the_same(make_server: ServerFactory) -> None:
    """regenerate and editMessage on another identity's message answer word for word as on a message that never
    existed, and store nothing."""
    server = make_server(PERSISTREAM_AUTH="proxy")
    a = Caller(server, headers={"X-Forwarded-User": "alice"})
    b = Caller(server, headers={"X-Forwarded-User": "bob"})
    message = (await a.gql(SEND, {"prompt": "Hi", "thread": None}))["data"]["sendMessage"]["id"]
    queries = [
        "mutation($m: ID!) { regenerate(messageId: $m) { id } }",
        'mutation($m: ID!) { editMessage(messageId: $m, prompt: "Mine now") { id } }',
    ]
    for query in queries:
        theirs = await b.gql(query, {"m": message})
        missing = await b.gql(query, {"m": str(uuid.uuid4())})
        for result in (theirs, missing):
            for error in result["errors"]:
                error.pop("locations", None)
        assert theirs == missing, (theirs, missing)
        not_found(theirs)
    assert (await b.gql("query { threads { id } }"))["data"]["threads"] == []
    listed = await a.gql("query { threads { messages { id } } }")
    assert listed["data"]["threads"] == [{"messages": [{"id": message}]}], listed
