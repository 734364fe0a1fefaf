"""Branches across two processes on PostgreSQL and Redis: a regenerate made on one process races one made on the
other, an edit lands on one while the other still streams the old answer; every variant is kept, each answer is
generated once whichever process drivers reach, and both processes report the same tree. Seeded."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from tests.scale.conftest import ScaleServerFactory, pg_url
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import GraphQLWS, check_events, gql_data
from tests.support.server import ServerProcess
from tests.support.streams import Tap, unique

pytestmark = pytest.mark.scale

FIELDS = "id threadId prompt parentId siblingIds responseStreamId response { text status }"
SEND_AFTER = f"""mutation($p: String!, $t: ID, $parent: ID) {{
  sendMessage(prompt: $p, threadId: $t, parentId: $parent) {{ {FIELDS} }} }}"""
REGENERATE = f"mutation($m: ID!) {{ regenerate(messageId: $m) {{ {FIELDS} }} }}"
EDIT = f"mutation($m: ID!, $p: String!) {{ editMessage(messageId: $m, prompt: $p) {{ {FIELDS} }} }}"
MESSAGES = f"query($t: ID!) {{ messages(threadId: $t, last: 1000) {{ {FIELDS} }} }}"
BRANCH = f"query($t: ID!, $l: ID) {{ branch(threadId: $t, leafId: $l) {{ {FIELDS} }} }}"


async def drive_everywhere(servers: list[ServerProcess], stream_id: str) -> list[list[dict[str, Any]]]:
    """A driver on each process at once: one claims, the others follow; every one sees the whole answer."""
    clients = [GraphQLWS(s.graphql_ws) for s in servers]
    for client in clients:
        await client.__aenter__()
    try:
        taps = [Tap.driver(client, stream_id) for client in clients]
        return [await tap.result(timeout=30) for tap in taps]
    finally:
        for client in clients:
            await client.__aexit__(None, None, None)


async def test_regenerates_and_edits_from_two_processes(
    make_scale_servers: ScaleServerFactory, pg_database: str, fake_openai: FakeOpenAI
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    servers = make_scale_servers(2, pg_url(pg_database))
    a, b = servers
    name = unique("cluster")
    script: Script | None = None
    for n in reversed(range(4)):
        script = Script([f" answer v{n}", "."], delay=0.005, then=script)
    assert script is not None
    marker = fake_openai.add(name, script)
    first = (await gql_data(a.graphql_http, SEND_AFTER, {"p": "Q0", "t": None, "parent": None}))["sendMessage"]
    thread = first["threadId"]
    await drive_everywhere(servers, first["responseStreamId"])
    second_prompt = f"Q1 {marker}"
    second = (await gql_data(b.graphql_http, SEND_AFTER, {"p": second_prompt, "t": thread, "parent": None}))[
        "sendMessage"
    ]
    assert second["parentId"] == first["id"], f"seed {seed}"
    await drive_everywhere(servers, second["responseStreamId"])

    async def regenerate(server: ServerProcess) -> dict[str, Any]:
        await asyncio.sleep(rng.uniform(0, 0.02))
        return dict((await gql_data(server.graphql_http, REGENERATE, {"m": second["id"]}))["regenerate"])

    made = await asyncio.gather(regenerate(a), regenerate(b))
    results = await asyncio.gather(*(drive_everywhere(servers, m["responseStreamId"]) for m in made))
    for per_stream in results:
        texts = {check_events(events) for events in per_stream}
        assert len(texts) == 1 and all(e[-1]["status"] == "DONE" for e in per_stream), f"seed {seed}: {per_stream}"
    assert len(fake_openai.requests_for(name)) == 3, f"seed {seed}: each answer is generated once"
    for request in fake_openai.requests_for(name):
        contents = [m["content"] for m in request.messages][1:]
        assert contents[0] == "Q0" and contents[-1] == second_prompt and len(contents) == 3, f"seed {seed}"

    # An edit on one process while the other streams the old answer: both stay, and are whole.
    slow = unique("slow")
    tokens = [f" s{i}" for i in range(30)]
    slow_prompt = f"Slow {fake_openai.add(slow, Script(tokens, delay=0.02))}"
    old = (await gql_data(a.graphql_http, SEND_AFTER, {"p": slow_prompt, "t": thread, "parent": first["id"]}))[
        "sendMessage"
    ]
    async with GraphQLWS(a.graphql_ws) as client:
        streaming = Tap.driver(client, old["responseStreamId"])
        await streaming.until_text(len(" s0 s1"))
        edited = (await gql_data(b.graphql_http, EDIT, {"m": old["id"], "p": "Edited"}))["editMessage"]
        edited_results = await drive_everywhere(servers, edited["responseStreamId"])
        old_events = await streaming.result(timeout=30)
    assert check_events(old_events) == "".join(tokens), f"seed {seed}"
    assert all(events[-1]["status"] == "DONE" for events in edited_results), f"seed {seed}"

    # Both processes report the same tree: every message, its parent and its siblings.
    views = [(await gql_data(s.graphql_http, MESSAGES, {"t": thread}))["messages"] for s in servers]
    assert views[0] == views[1], f"seed {seed}"
    by_id = {m["id"]: m for m in views[0]}
    children = [m["id"] for m in views[0] if m["parentId"] == first["id"]]
    assert set(children) == {second["id"], *(m["id"] for m in made), old["id"], edited["id"]}, f"seed {seed}"
    assert all(by_id[c]["siblingIds"] == children for c in children), f"seed {seed}"
    for server in servers:
        branch = (await gql_data(server.graphql_http, BRANCH, {"t": thread, "l": None}))["branch"]
        assert [m["id"] for m in branch] == [first["id"], edited["id"]], f"seed {seed}"
