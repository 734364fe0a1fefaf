"""Branches against a real server: regenerate, editMessage and sendMessage(parentId:) make variants, `branch` reads
one branch, and the model is sent exactly the branch it answers (checked in the requests the test model received).

Seeded: a failure prints its seed."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerFactory, server_env
from tests.support.dump import dump_database, stored_state
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import CANCEL, GraphQLWS, check_events, gql, gql_data
from tests.support.server import ServerProcess
from tests.support.streams import Tap, assert_clean_log, unique, wait_final, wait_until

SYSTEM = "You answer questions about branches."
FIELDS = "id threadId prompt parentId siblingIds responseStreamId response { text status }"
SEND_AFTER = f"""mutation($p: String!, $t: ID, $parent: ID) {{
  sendMessage(prompt: $p, threadId: $t, parentId: $parent) {{ {FIELDS} }} }}"""
REGENERATE = f"mutation($m: ID!) {{ regenerate(messageId: $m) {{ {FIELDS} }} }}"
EDIT = f"mutation($m: ID!, $p: String!) {{ editMessage(messageId: $m, prompt: $p) {{ {FIELDS} }} }}"
BRANCH = f"""query($t: ID!, $l: ID, $last: Int! = 50) {{
  branch(threadId: $t, leafId: $l, last: $last) {{ {FIELDS} }} }}"""
MESSAGES = f"query($t: ID!) {{ messages(threadId: $t, last: 1000) {{ {FIELDS} }} }}"
THREAD_MESSAGES = "query { threads { id messages { id parentId siblingIds } } }"
# Each regenerate of a prompt is the next request with its marker: its script is the next one of the chain.
VARIANTS = 8


@pytest.fixture(scope="module")
def server(fake_openai: FakeOpenAI, module_tmp: Path) -> Iterator[ServerProcess]:
    env = server_env(fake_openai, module_tmp / "branches.db", PERSISTREAM_SYSTEM_PROMPT=SYSTEM)
    process = ServerProcess(env, log_path=module_tmp / "branches.log").start()
    yield process
    process.stop()


def variants(name: str) -> Script:
    """Answers that say which request of the marker they are: v0 for the first, v1 for its first regenerate..."""
    script: Script | None = None
    for n in reversed(range(VARIANTS)):
        script = Script([name, f" v{n}", "."], then=script)
    assert script is not None
    return script


@dataclass
class Node:
    id: str
    parent: str | None
    prompt: str
    answer: str
    name: str  # the marker's script
    request: int  # which of the marker's requests answered it


class Tree:
    """What the test made, as it expects the server to hold it."""

    def __init__(self, server: ServerProcess, fake: FakeOpenAI) -> None:
        self.server, self.fake = server, fake
        self.nodes: dict[str, Node] = {}
        self.thread: str | None = None

    def prompt(self, text: str) -> tuple[str, str]:
        name = unique("b")
        return f"{text} {self.fake.add(name, variants(name))}", name

    async def run(self, query: str, variables: dict[str, Any], field: str, name: str) -> Node:
        """Make a message with `query`, drive its answer to the end, and record it."""
        message = (await gql_data(self.server.graphql_http, query, variables))[field]
        assert message["response"]["status"] == "PENDING", message
        self.thread = message["threadId"]
        async with GraphQLWS(self.server.graphql_ws) as client:
            events = await Tap.driver(client, message["responseStreamId"]).result()
        assert events[-1]["status"] == "DONE", events
        request = sum(1 for node in self.nodes.values() if node.name == name)
        node = Node(message["id"], message["parentId"], message["prompt"], check_events(events), name, request)
        self.nodes[node.id] = node
        return node

    async def send(self, text: str, parent: str | None = None) -> Node:
        prompt, name = self.prompt(text)
        variables = {"p": prompt, "t": self.thread, "parent": parent}
        return await self.run(SEND_AFTER, variables, "sendMessage", name)

    async def regenerate(self, of: Node) -> Node:
        return await self.run(REGENERATE, {"m": of.id}, "regenerate", of.name)

    async def edit(self, of: Node, text: str) -> Node:
        prompt, name = self.prompt(text)
        return await self.run(EDIT, {"m": of.id, "p": prompt}, "editMessage", name)

    def path(self, leaf: Node) -> list[Node]:
        nodes = [leaf]
        while nodes[-1].parent is not None:
            nodes.append(self.nodes[nodes[-1].parent])  # type: ignore[index]
        return nodes[::-1]

    def siblings(self, node: Node) -> list[str]:
        return [n.id for n in self.nodes.values() if n.parent == node.parent]

    def sent(self, node: Node) -> list[tuple[str, str]]:
        request = self.fake.requests_for(node.name)[node.request]
        return [(m["role"], m["content"]) for m in request.messages]

    def expected(self, node: Node) -> list[tuple[str, str]]:
        turns = [turn for n in self.path(node)[:-1] for turn in (("user", n.prompt), ("assistant", n.answer))]
        return [("system", SYSTEM), *turns, ("user", node.prompt)]


async def check_tree(tree: Tree, seed: int) -> None:
    """Every answer was sent exactly its branch; the server's tree (branch, parentId, siblingIds, messages) is the
    test's."""
    url = tree.server.graphql_http
    for node in tree.nodes.values():
        assert tree.sent(node) == tree.expected(node), f"seed {seed}: {node.prompt}"
        branch = (await gql_data(url, BRANCH, {"t": tree.thread, "l": node.id}))["branch"]
        assert [m["id"] for m in branch] == [n.id for n in tree.path(node)], f"seed {seed}"
        for message in branch:
            assert message["parentId"] == tree.nodes[message["id"]].parent, f"seed {seed}"
            assert message["siblingIds"] == tree.siblings(tree.nodes[message["id"]]), f"seed {seed}"
    listed = (await gql_data(url, MESSAGES, {"t": tree.thread}))["messages"]
    assert [m["id"] for m in listed] == list(tree.nodes), f"seed {seed}: messages lists every message"
    newest = (await gql_data(url, BRANCH, {"t": tree.thread, "l": None}))["branch"]
    assert [m["id"] for m in newest] == [n.id for n in tree.path(list(tree.nodes.values())[-1])], f"seed {seed}"


async def test_every_answer_is_sent_exactly_its_branch(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    tree = Tree(server, fake_openai)
    chain = [await tree.send("Q0")]
    for depth in range(1, 4):
        chain.append(await tree.send(f"Q{depth}"))  # no parentId: after the newest message
        assert chain[-1].parent == chain[-2].id
    # Variants at the first message, in the middle and at the end, then random ones anywhere.
    await tree.regenerate(chain[0])
    await tree.edit(chain[2], "Q2, edited")
    await tree.regenerate(chain[3])
    for step in range(8):
        target = tree.nodes[rng.choice(list(tree.nodes))]
        kind = rng.choice(["regenerate", "edit", "send"])
        if kind == "regenerate" and target.request < VARIANTS - 2:
            await tree.regenerate(target)
        elif kind == "edit":
            await tree.edit(target, f"Edit {step}")
        else:
            await tree.send(f"Reply {step}", parent=target.id)
    await check_tree(tree, seed)
    # A regenerated answer is a new answer: its request's script is the next variant.
    regenerated = [n for n in tree.nodes.values() if n.request > 0]
    assert regenerated and all(n.answer.endswith(f" v{n.request}.") for n in regenerated), f"seed {seed}"
    # Without parentId, a send continues the branch of the newest message, whatever made it.
    newest = await tree.regenerate(chain[1])
    after = await tree.send("After the regenerate")
    assert after.parent == newest.id, f"seed {seed}"
    await check_tree(tree, seed)
    nested = (await gql_data(server.graphql_http, THREAD_MESSAGES))["threads"]
    [mine] = [t for t in nested if t["id"] == tree.thread]
    assert [(m["id"], m["parentId"], m["siblingIds"]) for m in mine["messages"]] == [
        (n.id, n.parent, tree.siblings(n)) for n in tree.nodes.values()
    ], f"seed {seed}"
    assert_clean_log(server)


async def test_branch_last_keeps_the_newest_of_the_branch(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tree = Tree(server, fake_openai)
    chain = [await tree.send(f"Q{i}") for i in range(5)]
    await tree.edit(chain[1], "Q1, edited")
    url = server.graphql_http
    tail = (await gql_data(url, BRANCH, {"t": tree.thread, "l": chain[4].id, "last": 2}))["branch"]
    assert [m["id"] for m in tail] == [chain[3].id, chain[4].id]
    default = (await gql_data(url, BRANCH, {"t": tree.thread, "l": None, "last": 1000}))["branch"]
    assert [m["prompt"] for m in default] == [chain[0].prompt, list(tree.nodes.values())[-1].prompt]


def code_of(result: dict[str, Any]) -> str | None:
    errors = result.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


async def test_bad_input_is_refused_and_stores_nothing(make_server: ServerFactory, tmp_path: Path) -> None:
    db_path = tmp_path / "bad.db"
    server = make_server(db_path, PERSISTREAM_MAX_PROMPT_CHARS="100")
    url = server.graphql_http
    first = (await gql_data(url, SEND_AFTER, {"p": "One", "t": None, "parent": None}))["sendMessage"]
    other = (await gql_data(url, SEND_AFTER, {"p": "Other thread", "t": None, "parent": None}))["sendMessage"]
    thread = first["threadId"]
    before = await stored_state(server, db_path)
    refused = [
        (SEND_AFTER, {"p": "x", "t": thread, "parent": other["id"]}, "parentId is not a message of this thread."),
        (SEND_AFTER, {"p": "x", "t": thread, "parent": "00000000-0000-4000-8000-000000000000"}, None),
        (SEND_AFTER, {"p": "x", "t": None, "parent": first["id"]}, "parentId needs the threadId of its thread."),
        (SEND_AFTER, {"p": "x", "t": thread, "parent": "not-an-id"}, None),
        (REGENERATE, {"m": "not-an-id"}, None),
        (EDIT, {"m": first["id"], "p": "   "}, "The prompt is empty."),
        (EDIT, {"m": first["id"], "p": "x" * 101}, "The prompt is longer than 100 characters."),
        (EDIT, {"m": first["id"], "p": "a\x00b"}, None),
        (EDIT, {"m": "not-an-id", "p": "fine"}, None),
        (BRANCH, {"t": thread, "l": other["id"]}, "leafId is not a message of this thread."),
        (BRANCH, {"t": thread, "l": None, "last": 0}, None),
        (BRANCH, {"t": thread, "l": None, "last": 1001}, None),
    ]
    for query, variables, message in refused:
        result = await gql(url, query, variables)
        assert result.get("data") is None and code_of(result) == "BAD_USER_INPUT", (variables, result)
        if message is not None:
            assert result["errors"][0]["message"] == message, result
    assert await stored_state(server, db_path) == before
    assert_clean_log(server)


async def test_regenerate_and_edit_count_as_live_answers(make_server: ServerFactory, tmp_path: Path) -> None:
    """Past the live answers' limit, regenerate and editMessage are RATE_LIMITED and store nothing, as sendMessage
    is; an answer that ends frees a place for them."""
    db_path = tmp_path / "live.db"
    server = make_server(db_path, PERSISTREAM_MAX_LIVE_STREAMS="2")
    url = server.graphql_http
    first = (await gql_data(url, SEND_AFTER, {"p": "One", "t": None, "parent": None}))["sendMessage"]
    await gql_data(url, REGENERATE, {"m": first["id"]})  # two live answers: nobody drives them
    before = await stored_state(server, db_path)
    for query, variables in ((REGENERATE, {"m": first["id"]}), (EDIT, {"m": first["id"], "p": "Two"})):
        result = await gql(url, query, variables)
        assert code_of(result) == "RATE_LIMITED" and "in progress" in result["errors"][0]["message"], result
    assert await stored_state(server, db_path) == before
    await gql_data(url, CANCEL, {"id": first["responseStreamId"]})
    assert (await wait_final(server, first["responseStreamId"]))["status"] == "CANCELLED"
    edited = (await gql_data(url, EDIT, {"m": first["id"], "p": "Two"}))["editMessage"]
    assert edited["response"]["status"] == "PENDING" and edited["parentId"] is None
    assert_clean_log(server)


async def test_regenerate_and_edit_count_in_the_rate(make_server: ServerFactory, tmp_path: Path) -> None:
    db_path = tmp_path / "rate.db"
    server = make_server(db_path, PERSISTREAM_RATE_LIMIT="2/hour")
    url = server.graphql_http
    while True:
        window = int(time.time() // 3600)
        first = (await gql_data(url, SEND_AFTER, {"p": "One", "t": None, "parent": None}))["sendMessage"]
        await gql_data(url, REGENERATE, {"m": first["id"]})
        before = await stored_state(server, db_path)
        refused = [
            await gql(url, REGENERATE, {"m": first["id"]}),
            await gql(url, EDIT, {"m": first["id"], "p": "Two"}),
        ]
        if int(time.time() // 3600) == window:  # else the hour turned mid-test: the counts began afresh
            break
    for result in refused:
        assert code_of(result) == "RATE_LIMITED" and "Too many messages" in result["errors"][0]["message"], result
    assert await stored_state(server, db_path) == before
    assert_clean_log(server)


async def test_two_clients_regenerate_the_same_message_at_once(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    """Both variants are kept, each answer is generated once however many drivers race for it, and every message
    of the turn reports the same siblings."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    tree = Tree(server, fake_openai)
    first = await tree.send("Q0")
    second = await tree.send("Q1")
    url = server.graphql_http

    async def regenerate() -> dict[str, Any]:
        await asyncio.sleep(rng.uniform(0, 0.02))
        return dict((await gql_data(url, REGENERATE, {"m": second.id}))["regenerate"])

    made = await asyncio.gather(*(regenerate() for _ in range(2)))
    streams = [m["responseStreamId"] for m in made]
    async with GraphQLWS(server.graphql_ws) as a, GraphQLWS(server.graphql_ws) as b:
        # Two drivers for each new answer, from two connections: each answer is claimed and generated once.
        taps = [Tap.driver(client, stream) for stream in streams for client in (a, b)]
        results = [await tap.result() for tap in taps]
    for events in results:
        assert events[-1]["status"] == "DONE", f"seed {seed}: {events}"
    assert len(fake_openai.requests_for(second.name)) == 3, f"seed {seed}: each answer is generated once"
    texts = {check_events(events) for events in results}
    assert len(texts) == 2, f"seed {seed}: {texts}"  # two answers, each seen whole by both of its drivers
    turn = {second.id, *(m["id"] for m in made)}
    listed = (await gql_data(url, MESSAGES, {"t": tree.thread}))["messages"]
    reported = [m["siblingIds"] for m in listed if m["id"] in turn]
    assert len(reported) == 3 and reported[0] == reported[1] == reported[2], f"seed {seed}: {reported}"
    # Oldest first: the message regenerated, then its variants in the order they were stored (that of `messages`).
    assert reported[0] == [m["id"] for m in listed if m["id"] in turn] and reported[0][0] == second.id, f"seed {seed}"
    assert {m["parentId"] for m in listed if m["id"] in turn} == {first.id}, f"seed {seed}"
    for request in fake_openai.requests_for(second.name)[1:]:
        assert [m["content"] for m in request.messages][1:] == [first.prompt, first.answer, second.prompt]


async def test_an_edit_while_the_old_answer_still_streams(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    """The old answer goes on to the end and stays; the edit's answer is sent its own branch, without the old one."""
    tree = Tree(server, fake_openai)
    first = await tree.send("Q0")
    slow_name = unique("slow")
    tokens = [f" t{i}" for i in range(30)]
    slow_prompt = f"Slow {fake_openai.add(slow_name, Script(tokens, delay=0.02))}"
    url = server.graphql_http
    old = (await gql_data(url, SEND_AFTER, {"p": slow_prompt, "t": tree.thread, "parent": None}))["sendMessage"]
    assert old["parentId"] == first.id
    async with GraphQLWS(server.graphql_ws) as client:
        streaming = Tap.driver(client, old["responseStreamId"])
        await streaming.until_text(len(" t0 t1 t2"))
        prompt, name = tree.prompt("Instead")
        edited = (await gql_data(url, EDIT, {"m": old["id"], "p": prompt}))["editMessage"]
        assert not streaming.finished
        edited_events = await Tap.driver(client, edited["responseStreamId"]).result()
        old_events = await streaming.result()
    assert check_events(old_events) == "".join(tokens) and old_events[-1]["status"] == "DONE"
    assert edited_events[-1]["status"] == "DONE"
    [request] = fake_openai.requests_for(name)
    assert [(m["role"], m["content"]) for m in request.messages] == [
        ("system", SYSTEM),
        ("user", first.prompt),
        ("assistant", first.answer),
        ("user", prompt),
    ]
    listed = (await gql_data(url, MESSAGES, {"t": tree.thread}))["messages"]
    assert [(m["id"], m["response"]["status"]) for m in listed] == [
        (first.id, "DONE"),
        (old["id"], "DONE"),
        (edited["id"], "DONE"),
    ]
    assert listed[1]["siblingIds"] == listed[2]["siblingIds"] == [old["id"], edited["id"]]


async def test_delete_thread_takes_every_branch(
    make_server: ServerFactory, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """deleteThread removes every variant with its stream and chunks, and cancels a live one first."""
    db_path = tmp_path / "delete.db"
    server = make_server(db_path)
    tree = Tree(server, fake_openai)
    first = await tree.send("Q0")
    second = await tree.send("Q1")
    await tree.regenerate(second)
    await tree.edit(first, "Q0, edited")
    hang = unique("hang")
    live_prompt = f"Live {fake_openai.add(hang, Script([' never', ' ends'], hang_after=1))}"
    url = server.graphql_http
    live = (await gql_data(url, SEND_AFTER, {"p": live_prompt, "t": tree.thread, "parent": first.id}))["sendMessage"]
    async with GraphQLWS(server.graphql_ws) as client:
        streaming = Tap.driver(client, live["responseStreamId"])
        await streaming.until_text(len(" never"))
        assert (await gql_data(url, "mutation($t: ID!) { deleteThread(threadId: $t) }", {"t": tree.thread}))[
            "deleteThread"
        ]
        events = await streaming.result()
    assert events[-1]["status"] == "CANCELLED"
    [request] = fake_openai.requests_for(hang)
    await wait_until(lambda: request.closed_at is not None)  # the cancel reached the model
    assert dump_database(db_path) == {"threads": [], "messages": [], "streams": [], "chunks": []}
    assert_clean_log(server)
