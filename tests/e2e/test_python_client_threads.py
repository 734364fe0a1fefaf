"""persistream.client's thread operations against a real server with identities (proxy mode: a header names the
caller): threads() lists the caller's own, newest first, paging back; messages() reads every branch and pages; viewer()
says who the caller is; share_thread() gives one token until unshare_thread() revokes it, and with it a caller with
no credential reads the thread (shared_thread, messages, body) and follows a live answer; delete_thread() removes a
thread; another identity gets NOT_FOUND for all of it. With test_python_client*.py, every operation of the schema
is covered by the client (test_every_operation_has_a_client_method)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema

from persistream.client import PersistreamClient, PersistreamError, StreamEvent
from persistream.schema import schema
from tests.conftest import server_env
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.server import ServerProcess
from tests.support.streams import unique

USER = "X-Forwarded-User"


@pytest.fixture(scope="module")
def proxied(fake_openai: FakeOpenAI, module_tmp: Path) -> Iterator[ServerProcess]:
    env = server_env(fake_openai, module_tmp / "threads.db", PERSISTREAM_AUTH="proxy")
    process = ServerProcess(env, log_path=module_tmp / "threads.log").start()
    yield process
    process.stop()


def as_user(server: ServerProcess, user: str | None) -> PersistreamClient:
    return PersistreamClient(server.graphql_http, headers={USER: user} if user else None, give_up_after=10)


async def refused(call: Awaitable[Any], code: str = "NOT_FOUND") -> None:
    with pytest.raises(PersistreamError) as raised:
        await call
    assert raised.value.code == code, raised.value


async def test_threads_messages_and_viewer(proxied: ServerProcess, fake_openai: FakeOpenAI) -> None:
    user = unique("lister")
    prompts = [f"Thread {i} {fake_openai.add(unique('pythreads'), Script([f'answer {i}']))}" for i in range(3)]
    async with as_user(proxied, user) as client:
        assert (await client.viewer()).id == user
        assert (await client.viewer()).auth_mode == "proxy"
        assert await client.threads() == []
        sent = []
        for prompt in prompts:
            message = await client.send_message(prompt)
            await client.collect(message.stream_id, drive=True)
            sent.append(message)
        listed = await client.threads()
        assert [t.id for t in listed] == [m.thread_id for m in reversed(sent)]
        assert [t.title for t in listed] == list(reversed(prompts))
        assert all(re.match(r"\d{4}-\d\d-\d\dT", t.created_at) for t in listed), listed
        assert [t.id for t in await client.threads(last=2)] == [sent[2].thread_id, sent[1].thread_id]
        assert [t.id for t in await client.threads(before=sent[1].thread_id)] == [sent[0].thread_id]

        # messages() holds every branch: the regenerated sibling too, oldest first, with its text.
        first = sent[0]
        again = await client.regenerate(first.id)
        await client.collect(again.stream_id, drive=True)
        follow = await client.send_message(prompts[0] + " again", first.thread_id)
        await client.collect(follow.stream_id, drive=True)
        read = await client.messages(first.thread_id)
        assert [m.id for m in read] == [first.id, again.id, follow.id]
        assert (read[0].text, read[0].status, read[0].prompt) == ("answer 0", "DONE", prompts[0])
        assert [m.id for m in await client.messages(first.thread_id, last=1)] == [follow.id]
        assert [m.id for m in await client.messages(first.thread_id, before=follow.id)] == [first.id, again.id]
        await refused(client.messages(first.thread_id, last=0), "BAD_USER_INPUT")

    async with as_user(proxied, unique("other")) as other:
        assert await other.threads() == []
        await refused(other.messages(first.thread_id))
    async with as_user(proxied, None) as nobody:
        await refused(nobody.threads(), "UNAUTHENTICATED")


async def test_share_read_follow_and_unshare(proxied: ServerProcess, fake_openai: FakeOpenAI) -> None:
    name = unique("pyshare")
    tokens = [f" part{i}" for i in range(30)]
    prompt = f"Share {fake_openai.add(name, Script(tokens, delay=0.03))}"
    async with as_user(proxied, unique("sharer")) as owner, as_user(proxied, None) as reader:
        message = await owner.send_message(prompt)
        share = await owner.share_thread(message.thread_id)
        assert share.thread_id == message.thread_id and share.url == f"/?share={share.token}"
        assert await owner.share_thread(message.thread_id) == share  # the same token until revoked

        # A reader with no credential follows the live answer while the owner drives it.
        started = asyncio.Event()

        async def drive() -> str:
            text = ""
            async for event in owner.follow(message.stream_id, drive=True):
                text += event.delta
                started.set()
            return text

        async def read() -> list[StreamEvent]:
            await started.wait()
            return [e async for e in reader.follow(message.stream_id, share_token=share.token)]

        driven, seen = await asyncio.gather(drive(), read())
        assert seen[0].status == "STREAMING", "the reader joined after the answer ended"
        assert "".join(e.delta for e in seen) == driven == "".join(tokens)
        assert seen[-1].status == "DONE"

        thread = await reader.shared_thread(share.token)
        assert (thread.id, thread.title) == (message.thread_id, prompt)
        assert [(m.id, m.text) for m in thread.messages] == [(message.id, driven)]
        assert [m.id for m in await reader.messages(message.thread_id, share_token=share.token)] == [message.id]
        body = await reader.body(message.stream_id, share_token=share.token)
        assert (body.text, body.status) == (driven, "DONE")
        # A share reads, nothing else; without it the reader is nobody.
        await refused(reader.body(message.stream_id), "UNAUTHENTICATED")
        await refused(reader.delete_thread(message.thread_id), "UNAUTHENTICATED")

        assert await owner.unshare_thread(message.thread_id) is True
        assert await owner.unshare_thread(message.thread_id) is False
        await refused(reader.shared_thread(share.token))
        await refused(reader.body(message.stream_id, share_token=share.token))
        assert (await owner.share_thread(message.thread_id)).token != share.token


async def test_delete_thread(proxied: ServerProcess, fake_openai: FakeOpenAI) -> None:
    prompt = f"Delete {fake_openai.add(unique('pydelete'), Script(['gone']))}"
    async with as_user(proxied, unique("deleter")) as owner, as_user(proxied, unique("thief")) as other:
        message = await owner.send_message(prompt)
        await refused(other.delete_thread(message.thread_id))
        await refused(other.share_thread(message.thread_id))
        await refused(other.unshare_thread(message.thread_id))
        assert [t.id for t in await owner.threads()] == [message.thread_id]
        assert await owner.delete_thread(message.thread_id) is True
        assert await owner.threads() == []
        await refused(owner.messages(message.thread_id))
        await refused(owner.body(message.stream_id))
        await refused(owner.delete_thread(message.thread_id))


# Each operation of the schema and the client method that sends it.
CLIENT_METHODS: dict[str, dict[str, Callable[..., Any]]] = {
    "Query": {
        "streamBody": PersistreamClient.body,
        "messages": PersistreamClient.messages,
        "threads": PersistreamClient.threads,
        "branch": PersistreamClient.branch,
        "sharedThread": PersistreamClient.shared_thread,
        "viewer": PersistreamClient.viewer,
    },
    "Mutation": {
        "sendMessage": PersistreamClient.send_message,
        "regenerate": PersistreamClient.regenerate,
        "editMessage": PersistreamClient.edit_message,
        "cancelStream": PersistreamClient.cancel,
        "deleteThread": PersistreamClient.delete_thread,
        "shareThread": PersistreamClient.share_thread,
        "unshareThread": PersistreamClient.unshare_thread,
    },
    "Subscription": {"streamChat": PersistreamClient.follow, "streamBody": PersistreamClient.follow},
}


def test_every_operation_has_a_client_method() -> None:
    exported = build_schema(schema.as_str())
    roots = {"Query": exported.query_type, "Mutation": exported.mutation_type}
    roots["Subscription"] = exported.subscription_type
    served = {name: set(root.fields) for name, root in roots.items() if root is not None}
    assert served == {root: set(methods) for root, methods in CLIENT_METHODS.items()}, (
        "every operation of the schema needs a PersistreamClient method (and a test of it)"
    )
