"""The official AG-UI client (@ag-ui/client's HttpAgent, under Node) runs answers with reasoning and a tool call
through POST /agui: the events pass the client's own verifyEvents, and the messages it builds are what the server
stored (read back through GraphQL)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI
from tests.support.gql import gql_data
from tests.support.node import NODE_DIR, require_node
from tests.support.tool_answers import tool_answer, tools_env, words

SCRIPT = NODE_DIR / "agui_http_agent.mjs"
pytestmark = pytest.mark.node

BRANCH = """query($threadId: ID!) { branch(threadId: $threadId) { prompt responseStreamId
  response { status parts { kind text toolCallId } } } }"""


async def test_http_agent_runs_reasoning_and_a_tool_call(
    make_server: ServerFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    node = require_node()
    server = make_server(**tools_env(tmp_path))
    # The first run (run + verifyEvents) and the agent's first turn each get a tool answer; the second turn text.
    run_prompt, prompt = (
        f"What is 2 + 3? {fake_openai.add(f'agui-{uuid.uuid4().hex[:8]}', tool_answer(reasoning=6, text=8))}"
        for _ in range(2)
    )
    thread_id = str(uuid.uuid4())
    process = await asyncio.create_subprocess_exec(
        node,
        str(SCRIPT),
        f"{server.url}/agui",
        thread_id,
        run_prompt,
        prompt,
        "And now?",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, stderr.decode(errors="replace")
    result = json.loads(stdout)

    kinds = [e["type"] for e in result["events"]]
    assert kinds[0] == "RUN_STARTED" and kinds[-1] == "RUN_FINISHED"
    for kind in ("REASONING_MESSAGE_CONTENT", "TOOL_CALL_ARGS", "TOOL_CALL_RESULT", "TEXT_MESSAGE_CONTENT"):
        assert kind in kinds
    args = "".join(e["delta"] for e in result["events"] if e["type"] == "TOOL_CALL_ARGS")
    assert json.loads(args) == {"a": 2, "b": 3}

    # The agent's thread, as the server stored it: two prompts on one branch, the first answered with every part.
    branch = (await gql_data(server.graphql_http, BRANCH, {"threadId": thread_id}))["branch"]
    assert [m["prompt"] for m in branch] == [prompt, "And now?"]
    parts = branch[0]["response"]["parts"]
    assert [p["kind"] for p in parts] == ["REASONING", "TOOL_CALL", "TOOL_RESULT", "TEXT"]
    assert parts[3]["text"] == "".join(words(8, "sum"))

    # The messages the client built from the events: its reasoning, the assistant's call, the tool's result, the text.
    new = result["newMessages"]
    roles = [m["role"] for m in new]
    assert "reasoning" in roles and "tool" in roles and "assistant" in roles
    tool = next(m for m in new if m["role"] == "tool")
    assert tool["content"] == "5" and tool["toolCallId"] == "call_add"
    texts = [m.get("content") for m in new if m["role"] == "assistant" and m.get("content")]
    assert texts == [parts[3]["text"]]
    assert any(m["role"] == "assistant" and m.get("content") for m in result["second"])
