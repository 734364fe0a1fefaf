"""A real server whose model may call tools: `PERSISTREAM_TOOLS` names the `add` tool of a module written for the
test (found on PYTHONPATH), behind the fake OpenAI server, so a script can have the model think, call `add`, get its
result and answer. `two_step` is such a script, cut into many small deltas so a test can act in the middle of each
part."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.conftest import server_env
from tests.support.fake_openai import FakeOpenAI, Script, tool_call_deltas
from tests.support.server import ROOT, ServerProcess

TOOLS_MODULE = '''
def add(a: int, b: int, why: str = "") -> int:
    """Add two whole numbers; `why` says what for."""
    return a + b


TOOLS = [add]
'''
ARGUMENTS = '{"a": 2, "b": 3, "why": "the question asks for the sum of two and three"}'


def start_tools_server(fake: FakeOpenAI, folder: Path) -> ServerProcess:
    package = folder / "tools"
    package.mkdir(exist_ok=True)
    (package / "client_test_tools.py").write_text(TOOLS_MODULE, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(package), str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = server_env(fake, folder / "tools.db", PERSISTREAM_TOOLS="client_test_tools:TOOLS", PYTHONPATH=path)
    return ServerProcess(env, log_path=folder / "tools-server.log").start()


def two_step(reasoning: list[str], answer: list[str], *, pieces: int = 3, delay: float = 0.0) -> Script:
    """The model reasons (each string one delta), calls `add` (its arguments in `pieces` deltas), and, given the
    result, answers with `answer`; each step reports its usage."""
    thinking: list[dict[str, Any]] = [{"reasoning_content": piece} for piece in reasoning]
    calls = tool_call_deltas([("call_add", "add", ARGUMENTS)], pieces=pieces)
    reply = Script(answer, delay=delay, usage={"prompt_tokens": 30, "completion_tokens": len(answer)})
    usage = {"prompt_tokens": 10, "completion_tokens": 8, "completion_tokens_details": {"reasoning_tokens": 5}}
    return Script([], deltas=thinking + calls, delay=delay, finish_reason="tool_calls", usage=usage, then=reply)
