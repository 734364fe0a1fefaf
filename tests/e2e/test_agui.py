"""POST /agui and its rejoin over real sockets: the AG-UI conformance validator finds nothing wrong, a reader cut
at random moments gets the rest of the same events by rejoining (nothing twice), and refusals (another identity's
thread, malformed input, a send limit) store nothing."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from tests.conftest import ServerFactory
from tests.support.agui import merged, post_run, rejoin, run_input, sse_events
from tests.support.fake_openai import FakeOpenAI
from tests.support.rounds import rounds
from tests.support.server import ROOT, ServerProcess
from tests.support.tool_answers import tool_answer, tools_env

VALIDATOR = Path(sys.executable).with_name("ag-ui-validate")
THREADS = "{ threads { id messages { prompt response { status text } } } }"


def validate(target: str, tmp_path: Path) -> dict[str, object]:
    report = tmp_path / f"report-{uuid.uuid4().hex[:6]}.json"
    done = subprocess.run(
        [str(VALIDATOR), target, "--max-warnings", "0", "--json-file", str(report)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, object] = json.loads(report.read_text())
    return result


async def test_ag_ui_validate_finds_nothing_wrong(
    make_server: ServerFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    server = make_server(**tools_env(tmp_path))
    # Against the endpoint itself, with the validator's own RunAgentInput (a plain text answer).
    validate(f"{server.url}/agui", tmp_path)
    # A run with reasoning, a tool call and its result, recorded as sent, then the rejoin of the whole run.
    marker = fake_openai.add(f"agui-{uuid.uuid4().hex[:8]}", tool_answer(reasoning=8, text=10))
    async with httpx.AsyncClient(timeout=60) as client:
        body = json.dumps(run_input(f"What is 2 + 3? {marker}"))
        recorded = (await client.post(f"{server.url}/agui", content=body)).text
        run_id = json.loads(recorded.split("data: ", 1)[1].split("\n", 1)[0])["runId"]
        replayed = (await client.get(f"{server.url}/agui/runs/{run_id}")).text
    for name, text in (("run.sse", recorded), ("rejoin.sse", replayed)):
        assert "TOOL_CALL_RESULT" in text and "REASONING_MESSAGE_CONTENT" in text
        (tmp_path / name).write_text(text)
        validate(str(tmp_path / name), tmp_path)


async def test_rejoin_after_a_cut_gives_the_rest_once(
    make_server: ServerFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    server = make_server(**tools_env(tmp_path))
    seed = int(os.environ.get("AGUI_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    # New random cuts each round, alternating how the last id is given; more rounds with PERSISTREAM_LONG_TESTS=1.
    for round_ in range(rounds(2, 6)):
        marker = fake_openai.add(f"agui-{uuid.uuid4().hex[:8]}", tool_answer(reasoning=10, text=12, delay=0.01))
        cut_after = rng.randint(1, 40)
        async with httpx.AsyncClient(timeout=60) as client:
            body = json.dumps(run_input(f"What is 2 + 3? {marker}"))
            async with client.stream("POST", f"{server.url}/agui", content=body) as response:
                seen = [e async for e in sse_events(response, limit=cut_after)]
        # The connection is gone mid-answer; the answer goes on, and the reader rejoins from its last id.
        run_id = seen[0]["runId"]
        rest = await rejoin(server, run_id, seen[-1]["_id"], header=bool(round_ % 2))
        whole = await rejoin(server, run_id)  # after the end: the whole run from RUN_STARTED
        context = f"seed {seed}, round {round_}, cut after {cut_after}"
        assert merged(seen + rest) == merged(whole), context
        assert whole[0]["type"] == "RUN_STARTED" and whole[-1]["type"] == "RUN_FINISHED", context
        assert all(e["runId"] == run_id for e in (whole[0], whole[-1])), context
        ids = [e["_id"] for e in seen + rest]
        assert len(set(ids)) == len(ids), context


async def test_refusals_store_nothing(make_server: ServerFactory, tmp_path: Path) -> None:
    server = make_server(PERSISTREAM_AUTH="proxy", PERSISTREAM_RATE_LIMIT="3/minute")
    alice, bob = {"x-forwarded-user": "alice"}, {"x-forwarded-user": "bob"}
    thread = "alice's notes"
    events = await post_run(server, run_input("Hello", thread_id=thread), alice)
    run_id = events[0]["runId"]
    assert events[0]["threadId"] == thread and events[-1]["type"] == "RUN_FINISHED"
    before = {who: await threads_of(server, who) for who in ("alice", "bob")}
    assert len(before["alice"]) == 1 and before["bob"] == []

    async with httpx.AsyncClient(timeout=30, base_url=server.url) as client:
        # Another identity's thread id, and its run: exactly as if they did not exist.
        refused = await client.post("/agui", json=run_input("Mine now", thread_id=thread), headers=bob)
        assert refused.status_code == 404
        assert refused.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        unknown = await client.post("/agui", json=run_input("x", thread_id=str(uuid.uuid4())), headers={})
        assert unknown.status_code == 401  # no credential in proxy mode
        for path in (f"/agui/runs/{run_id}", f"/agui/runs/{uuid.uuid4()}", "/agui/runs/not-a-run"):
            missing = await client.get(path, headers=bob if "not" not in path else alice)
            assert missing.status_code == 404, path
            assert missing.json() == {
                "errors": [{"message": "No run with that id.", "extensions": {"code": "NOT_FOUND"}}]
            }
        # Malformed input: 400 with pydantic's reason, no traceback.
        for body, reason in (
            (b"{", "not JSON"),
            (b"[]", "JSON object"),
            (json.dumps({"threadId": "t", "messages": []}).encode(), "runId: Field required"),
            (json.dumps({**run_input("x"), "messages": [{"id": "1", "role": "robot"}]}).encode(), "messages.0"),
            (json.dumps({**run_input("x"), "messages": []}).encode(), "end with the user's message"),
            (json.dumps(run_input("   ")).encode(), "empty"),
        ):
            bad = await client.post("/agui", content=body, headers={"content-type": "application/json", **alice})
            assert bad.status_code == 400, body
            error = bad.json()["errors"][0]
            assert error["extensions"]["code"] == "BAD_USER_INPUT" and reason in error["message"], error
            assert "Traceback" not in bad.text
        bad_cursor = await client.get(f"/agui/runs/{run_id}", params={"cursor": "nope.1"}, headers=alice)
        assert bad_cursor.status_code == 400
        # The send limit (3 a minute; one used): the fourth send is a 429 with Retry-After, and stores nothing.
        for _ in range(2):
            assert len(await post_run(server, run_input("Again", thread_id=str(uuid.uuid4())), alice)) > 2
        limited = await client.post("/agui", json=run_input("One too many"), headers=alice)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert limited.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    after = {who: await threads_of(server, who) for who in ("alice", "bob")}
    assert after["bob"] == [] and len(after["alice"]) == 3
    assert [t for t in after["alice"] if t["id"] == before["alice"][0]["id"]] == before["alice"]


async def test_a_new_thread_stores_the_history_it_brings(server: ServerProcess) -> None:
    history = [
        {"id": "s", "role": "system", "content": "Be brief."},
        {"id": "u1", "role": "user", "content": "My name is Ada."},
        {"id": "a1", "role": "assistant", "content": "Hello Ada."},
        {"id": "u2", "role": "user", "content": "Remember it."},
        {"id": "a2", "role": "assistant", "content": "I will."},
    ]
    thread = str(uuid.uuid4())
    await post_run(server, run_input("What is my name?", thread_id=thread, history=history))
    # A second run on the thread: its messages are not history any more (the thread exists), only its prompt counts.
    await post_run(server, run_input("Again?", thread_id=thread, history=[*history, *history]))
    stored = next(t for t in await threads_of(server) if t["id"] == thread)["messages"]
    assert [(m["prompt"], m["response"]["text"]) for m in stored[:2]] == [
        ("My name is Ada.", "Hello Ada."),
        ("Remember it.", "I will."),
    ]
    assert [m["prompt"] for m in stored[2:]] == ["What is my name?", "Again?"]
    assert all(m["response"]["status"] == "DONE" for m in stored)


async def test_the_example_client_prints_a_run(server: ServerProcess) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / "agui_client.py"),
        "--url",
        server.url,
        "Say hello",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode(errors="replace")
    lines = stdout.decode().splitlines()
    assert lines[0].startswith("RUN_STARTED") and lines[-1].startswith("RUN_FINISHED")
    deltas = [json.loads(line.split(" ", 1)[1]) for line in lines if line.startswith("TEXT_MESSAGE_CONTENT")]
    assert "".join(deltas).startswith("You said: Say hello.")


async def threads_of(server: ServerProcess, who: str | None = None) -> list[dict[str, object]]:
    headers = {"x-forwarded-user": who} if who else {}
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(server.graphql_http, json={"query": THREADS}, headers=headers)
    data = response.json()
    assert not data.get("errors"), data
    threads: list[dict[str, object]] = data["data"]["threads"]
    return threads
