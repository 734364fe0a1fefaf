"""Answers that use every kind of part, for the JavaScript client's tests (Node, the React hook, the example): the
fake model reasons, calls the `add` tool, and after the tool's result answers with text and usage. A server that
runs them needs the tool: `tools_env` is the environment that gives it one, from a module written for the test."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.support.fake_openai import Script, tool_call_deltas
from tests.support.server import ROOT

TOOLS_MODULE = '''
def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


def echo(text: str) -> str:
    """Say the text back."""
    return text


TOOLS = [add, echo]
'''
ARGUMENTS = '{"a": 2, "b": 3}'
USAGE = {"prompt_tokens": 21, "completion_tokens": 40, "completion_tokens_details": {"reasoning_tokens": 9}}
# USAGE as the GraphQL API reports it.
REPORTED = {"inputTokens": 21, "outputTokens": 40, "reasoningTokens": 9}


def words(count: int, word: str) -> list[str]:
    return [f"{word}{i}" if i == 0 else f" {word}{i}" for i in range(count)] + ["."]


def tools_env(directory: Path) -> dict[str, str]:
    """Server settings giving it the `add` and `echo` tools, from a module written into `directory`."""
    (directory / "js_tools.py").write_text(TOOLS_MODULE, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(directory), str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {"PERSISTREAM_TOOLS": "js_tools:TOOLS", "PYTHONPATH": path}


def tool_answer(
    reasoning: int = 24, text: int = 30, delay: float = 0.02, tool: str = "add", arguments: str = ARGUMENTS
) -> Script:
    """Reasoning in `reasoning` deltas, the call of `tool` (its arguments in 6), then `text` words with usage: the
    model's two steps (register it under a name of its own: its second request gets the second step)."""
    thinking = [{"reasoning_content": piece} for piece in words(reasoning, "think")]
    calls = tool_call_deltas([(f"call_{tool}", tool, arguments)], pieces=6)
    answer = Script(words(text, "sum"), delay=delay, usage=USAGE)
    return Script([], delay=delay, deltas=thinking + calls, finish_reason="tool_calls", then=answer)


def stored_parts(reasoning: int = 24, text: int = 30) -> list[dict[str, Any]]:
    """The parts the server stores for `tool_answer(reasoning, text)`, as GraphQL shows them."""
    head = {"toolName": None, "toolCallId": None, "isError": False}
    tool = {"toolName": "add", "toolCallId": "call_add", "isError": False}
    return [
        {"index": 0, "kind": "REASONING", "text": "".join(words(reasoning, "think")), **head},
        {"index": 1, "kind": "TOOL_CALL", "text": ARGUMENTS, **tool},
        {"index": 2, "kind": "TOOL_RESULT", "text": "5", **tool},
        {"index": 3, "kind": "TEXT", "text": "".join(words(text, "sum")), **head},
    ]
