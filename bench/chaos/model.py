"""What the test model answers in one run, drawn from the run's seed: text tokens, and in some runs reasoning
before them and a call of a slow tool (its arguments streamed in pieces, the tool run by the server, the model
asked again with its result), and at most one way of failing (an HTTP 500 before anything, or an error frame, a
dropped connection or a hang among the answer's text tokens).

`parts()` says what the server must store for the whole answer, part by part, as GraphQL shows it; `reachable()`
what it can store at most when the model fails part way."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from tests.support.fake_openai import Script, tool_call_deltas

# Words of the scripted answers: several scripts, multi-code-point characters, sentence and line ends (which cut
# chunks), so an offset counted in bytes or UTF-16 units, a lost or doubled chunk, shows in the text.
WORDS = (
    "alpha",
    "beta",
    "größe",
    "naïve",
    "café",
    "中文",
    "日本語",
    "😀",
    "🚀x",
    "Ω",
    "—",
    "tab\tbed",
    "line\n",
    "end.",
)
# The tool every server of the cluster has (`cluster.TOOLS_MODULE`): it waits, then says which word it was given.
TOOL_NAME = "pause"
# The pieces the tool call's arguments are streamed in.
TOOL_PIECES = 4


def tool_result(word: str) -> str:
    """What the `pause` tool returns, as stored in its TOOL_RESULT part."""
    return f"paused for {word}"


@dataclass(frozen=True)
class ToolPlan:
    call_id: str
    seconds: float
    word: str

    @property
    def arguments(self) -> str:
        return json.dumps({"seconds": self.seconds, "word": self.word}, ensure_ascii=False)


@dataclass(frozen=True)
class ModelPlan:
    tokens: tuple[str, ...]
    delay: float
    fail_status: int | None = None
    error_after: int | None = None
    drop_after: int | None = None
    hang_after: int | None = None
    # Reasoning deltas sent before anything else (`reasoning_content`).
    reasoning: tuple[str, ...] = field(default=())
    # A call of the slow tool after the reasoning: the text tokens then come from the model's second request.
    tool: ToolPlan | None = None

    @property
    def text(self) -> str:
        """The whole answer's text, as a model that never fails would send it."""
        return "".join(self.tokens)

    @property
    def steps(self) -> int:
        """How many requests the answer takes when nothing fails."""
        return 2 if self.tool else 1

    @property
    def tool_window(self) -> tuple[float, float]:
        """About when (seconds after the model's first request) the tool call streams and the tool runs."""
        if self.tool is None:
            return (0.0, 0.0)
        begin = len(self.reasoning) * self.delay
        return (begin, begin + TOOL_PIECES * self.delay + self.tool.seconds)

    @property
    def duration(self) -> float:
        """About how long the answer takes to stream, in seconds (for placing faults along it)."""
        tool = TOOL_PIECES * self.delay + self.tool.seconds if self.tool else 0.0
        return max(0.2, (len(self.reasoning) + len(self.tokens)) * self.delay + tool)

    @property
    def fails(self) -> bool:
        return any(v is not None for v in (self.fail_status, self.error_after, self.drop_after))

    def script(self) -> Script:
        answer = Script(
            list(self.tokens),
            delay=self.delay,
            error_after=self.error_after,
            hang_after=self.hang_after,
            drop_after=self.drop_after,
            deltas=[] if self.tool else self._thinking(),
        )
        if self.tool is None:
            answer.fail_status = self.fail_status
            return answer
        call = tool_call_deltas([(self.tool.call_id, TOOL_NAME, self.tool.arguments)], pieces=TOOL_PIECES)
        return Script(
            [],
            delay=self.delay,
            fail_status=self.fail_status,
            deltas=self._thinking() + call,
            finish_reason="tool_calls",
            then=answer,
        )

    def _thinking(self) -> list[dict[str, Any]]:
        return [{"reasoning_content": piece} for piece in self.reasoning]

    def parts(self, text: str | None = None) -> list[dict[str, Any]]:
        """The stored parts of the answer (`text`: its TEXT, the whole script's by default), in GraphQL's shape."""
        plain = {"toolName": None, "toolCallId": None, "isError": False}
        parts: list[dict[str, Any]] = []
        if self.reasoning:
            parts.append({"kind": "REASONING", "text": "".join(self.reasoning), **plain})
        if self.tool is not None:
            tool = {"toolName": TOOL_NAME, "toolCallId": self.tool.call_id, "isError": False}
            parts.append({"kind": "TOOL_CALL", "text": self.tool.arguments, **tool})
            parts.append({"kind": "TOOL_RESULT", "text": tool_result(self.tool.word), **tool})
        text = self.text if text is None else text
        if text:
            parts.append({"kind": "TEXT", "text": text, **plain})
        return [{"index": index, **part} for index, part in enumerate(parts)]

    def reachable(self) -> str:
        """The most text the model sends: everything before the token where its script fails, hangs or drops."""
        if self.fail_status is not None:
            return ""
        stops = [k for k in (self.error_after, self.drop_after, self.hang_after) if k is not None]
        return "".join(self.tokens[: min(stops)] if stops else self.tokens)

    def describe(self) -> str:
        extra = [
            f"{name}={value}"
            for name, value in (
                ("fail_status", self.fail_status),
                ("error_after", self.error_after),
                ("drop_after", self.drop_after),
                ("hang_after", self.hang_after),
            )
            if value is not None
        ]
        if self.reasoning:
            extra.append(f"reasoning={len(self.reasoning)}")
        if self.tool is not None:
            extra.append(f"tool {self.tool.seconds:.2f} s")
        return f"model {len(self.tokens)} tokens every {self.delay * 1000:.0f} ms {' '.join(extra)}".rstrip()


def draw_model(rng: random.Random, *, fail: str | None, parts: bool, tool: bool) -> ModelPlan:
    """`fail`: model_fail, model_error, model_drop, model_hang or None; `parts`: reasoning first; `tool`: a call."""
    count = rng.randint(8, 80)
    tokens = []
    for i in range(count):
        word = rng.choice(WORDS)
        tokens.append(f" {word}{i}" if not word.endswith(("\n", ".")) else f" {i}{word}")
    delay = rng.uniform(0.01, 0.05)
    reasoning = tuple(f"{rng.choice(WORDS)}~{i} " for i in range(rng.randint(3, 20))) if parts else ()
    # No tool call behind an HTTP 500: the test model gives a script's next step to the next request, so the
    # SDK's retry of the refused one would get the answer after the tool.
    planned = (
        ToolPlan(f"call_{rng.randrange(10**6)}", round(rng.uniform(0.3, 1.5), 2), rng.choice(WORDS).strip())
        if tool and fail != "model_fail"
        else None
    )
    failures: dict[str, Any] = {}
    if fail == "model_fail":
        failures["fail_status"] = 500
    elif fail == "model_error":
        failures["error_after"] = rng.randint(0, count - 1)
    elif fail == "model_drop":
        failures["drop_after"] = rng.randint(1, count - 1)
    elif fail == "model_hang":
        failures["hang_after"] = rng.randint(0, count - 1)
    return ModelPlan(tuple(tokens), delay, reasoning=reasoning, tool=planned, **failures)
