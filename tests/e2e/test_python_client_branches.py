"""persistream.client's branch operations against a real server: regenerate and edit_message make siblings with a
new answer, branch() walks the newest one or the one asked for, send_message(parent_id=...) continues an older
variant, and the model is asked once per answer."""

from __future__ import annotations

from persistream.client import PersistreamClient, PersistreamError
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.server import ServerProcess
from tests.support.streams import unique


async def test_regenerate_edit_and_branch(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    names = {key: unique(f"pybranch-{key}") for key in ("root", "asked", "edited", "follow")}
    prompts = {key: f"Say {fake_openai.add(name, Script([key, ' done.']))}" for key, name in names.items()}
    async with PersistreamClient(server.graphql_http) as client:
        first = await client.send_message(prompts["root"])
        assert (first.parent_id, first.sibling_ids) == (None, (first.id,))
        await client.collect(first.stream_id, drive=True)
        asked = await client.send_message(prompts["asked"], first.thread_id)
        assert asked.parent_id == first.id
        await client.collect(asked.stream_id, drive=True)

        again = await client.regenerate(asked.id)
        assert (again.prompt, again.parent_id, again.status) == (prompts["asked"], first.id, "PENDING")
        assert again.sibling_ids == (asked.id, again.id)
        assert (await client.collect(again.stream_id, drive=True)).text == "asked done."
        edited = await client.edit_message(asked.id, prompts["edited"])
        assert edited.sibling_ids == (asked.id, again.id, edited.id)
        await client.collect(edited.stream_id, drive=True)

        newest = await client.branch(first.thread_id)
        assert [m.id for m in newest] == [first.id, edited.id]
        assert (newest[1].text, newest[1].status) == ("edited done.", "DONE")
        assert [m.id for m in await client.branch(first.thread_id, asked.id)] == [first.id, asked.id]
        assert [m.id for m in await client.branch(first.thread_id, asked.id, last=1)] == [asked.id]

        follow = await client.send_message(prompts["follow"], first.thread_id, parent_id=asked.id)
        assert follow.parent_id == asked.id
        await client.collect(follow.stream_id, drive=True)
        assert [m.id for m in await client.branch(first.thread_id)] == [first.id, asked.id, follow.id]

        other = await client.send_message(prompts["root"])
        try:
            await client.branch(first.thread_id, other.id)
        except PersistreamError as error:
            assert error.code == "BAD_USER_INPUT"
        else:
            raise AssertionError("a leaf of another thread was accepted")
        await client.cancel(other.stream_id)

    asked_counts = {key: len(fake_openai.requests_for(name)) for key, name in names.items()}
    assert asked_counts == {"root": 1, "asked": 2, "edited": 1, "follow": 1}
