"""The JavaScript client (clients/js, npm `persistream-client`) under Node against a real server: its own
`node --test` files, given the server's URL and the fake model's scripts; here, what only the server side can
tell: the model was asked exactly once per answer (twice for an answer with a tool call: once per step)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.identities import AUDIENCE, HS_SECRET, ISSUER, hs_token
from tests.support.jsclient import CLIENT_DIR, run_node_tests
from tests.support.rounds import rounds
from tests.support.server import ServerProcess
from tests.support.streams import unique
from tests.support.tool_answers import REPORTED, stored_parts, tool_answer, tools_env

pytestmark = pytest.mark.node


# The random-cuts test: this many rounds, each of this many answers (driven and observed) cut at random moments
# (more with PERSISTREAM_LONG_TESTS=1: tests/support/rounds.py).
RANDOM_ROUNDS = rounds(2, 4)
RANDOM_STREAMS = 3
# The parts test: random-cut rounds of answers that reason, call a tool and answer (plus the two answers of the
# other tests).
PARTS_ROUNDS = rounds(2, 3)
PARTS_STREAMS = 2


def words(count: int, word: str = "word") -> list[str]:
    return [f"{word}{i}" if i == 0 else f" {word}{i}" for i in range(count)] + ["."]


def scripts_for(fake: FakeOpenAI) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Each Node test's script: {name: {prompt, text}} for Node, {name: script name} to count model requests."""
    emoji = ["Party ", "🎉", " and ", "😀😀", " (astral) ", "𝄞", " é", " 中文", " 👩‍👩‍👧", " end", " 🎉."]
    plan = {
        "basic": Script(words(40), delay=0.02),
        "emoji": Script(emoji, delay=0.03),
        "cut": Script(words(120, "cut"), delay=0.03),
        "stall": Script(words(80, "stall"), delay=0.03),
        "close": Script(words(40, "close"), delay=0.03),
        "cancel": Script(words(200, "cancel"), delay=0.05),
        "many-1": Script(words(20, "one"), delay=0.02),
        "many-2": Script(words(25, "two"), delay=0.02),
        "many-3": Script(words(30, "three"), delay=0.02),
        "socket-only": Script(words(10, "ws"), delay=0.01),
        "restart": Script(words(40, "restart"), delay=0.02),
        "online": Script(words(60, "online"), delay=0.03),
        "visible": Script(words(60, "visible"), delay=0.03),
        "random": Script(words(50, "random"), delay=0.02),
        # Silent stretches of 0.6 s between tokens: longer than the test's stall timeout, so pongs must count.
        "healthy": Script(["Slow", " but", " alive", "."], delay=0.6),
    }
    handed: dict[str, dict[str, str]] = {}
    names: dict[str, str] = {}
    for key, script in plan.items():
        name = unique(f"js-{key}")
        marker = fake.add(name, script)
        handed[key] = {"prompt": f"Answer {marker}", "text": "".join(script.tokens)}
        names[key] = name
    handed["random"] |= {"rounds": str(RANDOM_ROUNDS), "streams": str(RANDOM_STREAMS)}
    return handed, names


async def test_js_client_streams_resumes_and_cancels(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    handed, names = scripts_for(fake_openai)
    run = await run_node_tests(
        CLIENT_DIR / "test" / "stream.test.mjs",
        {"PERSISTREAM_TEST_URL": server.graphql_http, "PERSISTREAM_TEST_SCRIPTS": json.dumps(handed)},
    )
    assert run.passed == 14, run.output
    for key, name in names.items():
        asked = len(fake_openai.requests_for(name))
        expected = RANDOM_ROUNDS * RANDOM_STREAMS if key == "random" else 1
        assert asked == expected, f"{key}: the model was asked {asked} times"


async def test_js_client_answer_state() -> None:
    run = await run_node_tests(CLIENT_DIR / "test" / "answer.test.mjs", {})
    assert run.passed == 7, run.output


async def test_js_client_auth_and_share_reader(make_server: ServerFactory, fake_openai: FakeOpenAI) -> None:
    server = make_server(
        PERSISTREAM_AUTH="jwt",
        PERSISTREAM_JWT_SECRET=HS_SECRET,
        PERSISTREAM_JWT_AUDIENCE=AUDIENCE,
        PERSISTREAM_JWT_ISSUER=ISSUER,
    )
    names: dict[str, str] = {}
    handed: dict[str, dict[str, str]] = {}
    for key, script in {"shared": Script(words(60, "shared"), delay=0.03), "refused": Script(words(5))}.items():
        names[key] = unique(f"js-{key}")
        handed[key] = {"prompt": f"Answer {fake_openai.add(names[key], script)}", "text": "".join(script.tokens)}
    token = hs_token("js-owner")
    run = await run_node_tests(
        CLIENT_DIR / "test" / "share.test.mjs",
        {
            "PERSISTREAM_TEST_URL": server.graphql_http,
            "PERSISTREAM_TEST_SCRIPTS": json.dumps(handed),
            "PERSISTREAM_TEST_TOKEN": token,
        },
    )
    assert run.passed == 2, run.output
    assert len(fake_openai.requests_for(names["shared"])) == 1
    assert fake_openai.requests_for(names["refused"]) == []


async def test_js_client_parts_resume_by_cursor(
    make_server: ServerFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    server = make_server(**tools_env(tmp_path))
    names = [unique("js-parts") for _ in range(2 + PARTS_ROUNDS * PARTS_STREAMS)]
    handed = {
        "parts": {
            "answers": [f"What is 2 + 3? {fake_openai.add(name, tool_answer())}" for name in names],
            "expected": stored_parts(),
            "usage": REPORTED,
            "rounds": PARTS_ROUNDS,
            "streams": PARTS_STREAMS,
        }
    }
    run = await run_node_tests(
        CLIENT_DIR / "test" / "parts.test.mjs",
        {"PERSISTREAM_TEST_URL": server.graphql_http, "PERSISTREAM_TEST_SCRIPTS": json.dumps(handed)},
    )
    assert run.passed == 3, run.output
    for name in names:
        assert len(fake_openai.requests_for(name)) == 2, f"{name}: one request per step"


async def test_js_client_branches(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    names: dict[str, str] = {}
    handed: dict[str, dict[str, str]] = {}
    for key in ("root", "asked", "edited", "follow", "lonely"):
        script = Script(words(8, key), delay=0.01)
        names[key] = unique(f"js-branch-{key}")
        handed[key] = {"prompt": f"Answer {fake_openai.add(names[key], script)}", "text": "".join(script.tokens)}
    run = await run_node_tests(
        CLIENT_DIR / "test" / "branches.test.mjs",
        {"PERSISTREAM_TEST_URL": server.graphql_http, "PERSISTREAM_TEST_SCRIPTS": json.dumps(handed)},
    )
    assert run.passed == 2, run.output
    # The first prompt answered, then regenerated: asked twice; the lonely ones were cancelled before any drive.
    asked = {key: len(fake_openai.requests_for(name)) for key, name in names.items()}
    assert asked == {"root": 1, "asked": 2, "edited": 1, "follow": 1, "lonely": 0}


async def test_js_client_ai_sdk_transport(make_server: ServerFactory, fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    """persistream-client/ai-sdk: its chunks checked by the AI SDK's own schema (clients/js/test/ai-sdk.test.mjs)."""
    server = make_server(**tools_env(tmp_path))
    tool_names = [unique("js-ai-sdk-tool") for _ in range(2)]
    plan = {
        "stop": Script(words(200, "stop"), delay=0.03),
        "resume": Script(words(150, "resume"), delay=0.03),
        "resume-stop": Script(words(200, "halt"), delay=0.03),
        "root": Script(words(8, "root"), delay=0.01),
        "edited": Script(words(8, "edited"), delay=0.01),
        "fail": Script(words(20, "fail"), delay=0.01, error_after=3),
    }
    names = {key: unique(f"js-ai-sdk-{key}") for key in plan}
    handed: dict[str, object] = {
        key: {"prompt": f"Answer {fake_openai.add(names[key], script)}", "text": "".join(script.tokens)}
        for key, script in plan.items()
    }
    handed["parts"] = {
        "answers": [f"What is 2 + 3? {fake_openai.add(name, tool_answer())}" for name in tool_names],
        "expected": stored_parts(),
        "usage": REPORTED,
    }
    run = await run_node_tests(
        CLIENT_DIR / "test" / "ai-sdk.test.mjs",
        {"PERSISTREAM_TEST_URL": server.graphql_http, "PERSISTREAM_TEST_SCRIPTS": json.dumps(handed)},
    )
    assert run.passed == 7, run.output
    asked = {key: len(fake_openai.requests_for(name)) for key, name in names.items()}
    # A reader that went away and two that reconnected: the answer was still generated once.
    assert asked["resume"] == asked["resume-stop"] == asked["stop"] == asked["edited"] == 1, asked
    assert asked["root"] == 2, "asked, then regenerated"
    for name in tool_names:
        assert len(fake_openai.requests_for(name)) == 2, f"{name}: one request per step"
