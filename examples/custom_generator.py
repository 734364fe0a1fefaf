"""Your own generator: a plain async generator function with a tool of its own, served by persistream.

    cd examples && PERSISTREAM_PROVIDER=custom_generator:generate persistream serve

Ask it "what is 12 * 7 + 1?": it thinks out loud (a REASONING part), calls its `calculate` tool (a TOOL_CALL part),
yields what the tool returned (a TOOL_RESULT part), then answers (TEXT), and reports the tokens it used. persistream
stores every part as it comes, streams it to every reader, and resumes a reader that reloads where it stopped.

`python examples/custom_generator.py "what is 2 ** 10?"` prints the parts it yields, without a server.
"""

from __future__ import annotations

import ast
import asyncio
import json
import operator
import re
import sys
from collections.abc import AsyncIterator, Callable, Sequence

from persistream.generator import (
    ChatMessage,
    ModelError,
    PartEvent,
    ReasoningDelta,
    ToolCallDelta,
    ToolResult,
    Usage,
)

OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
# The first run of digits, operators, brackets and spaces that holds an operator: "12 * 7 + 1" in "what is 12 * 7 + 1?".
EXPRESSION = re.compile(r"[\d.(][\d.\s()+\-*/]*[+\-*/][\d.\s()+\-*/]*[\d.)]")


def calculate(expression: str) -> float:
    """The tool: arithmetic on numbers with + - * / and **, nothing else (no names, no calls)."""

    def value(node: ast.expr) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
            if isinstance(node.op, ast.Pow) and abs(value(node.right)) > 100:
                raise ValueError("exponent too large")
            return OPERATORS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        raise ValueError(f"not arithmetic: {ast.dump(node)[:40]}")

    return value(ast.parse(expression, mode="eval").body)


async def generate(messages: Sequence[ChatMessage]) -> AsyncIterator[PartEvent]:
    """One answer to the conversation's last prompt (the system prompt is first, earlier turns in between)."""
    prompt = messages[-1].content
    if not prompt.strip():
        # A ModelError's message is what users see; `detail` only reaches the server's log.
        raise ModelError("Ask me some arithmetic, like 12 * 7.", detail="empty prompt")
    found = EXPRESSION.search(prompt)
    if found is None:
        yield "I only do arithmetic: ask me something like *what is 12 \\* 7?*"
        yield Usage(input_tokens=len(prompt.split()), output_tokens=11)
        return
    expression = " ".join(found.group().split())
    yield ReasoningDelta(f"The prompt holds the expression {expression}; ")
    await asyncio.sleep(0.01)  # a real generator waits on a model or a service here
    yield ReasoningDelta("my calculate tool will work it out.")

    # The tool call, streamed as its JSON arguments are written, then the tool's result: the same parts the
    # built-in tool loop yields, stored and streamed the same way.
    call_id = f"calc-{len(messages)}"
    arguments = json.dumps({"expression": expression})
    middle = len(arguments) // 2
    yield ToolCallDelta(call_id, "calculate", arguments[:middle])
    yield ToolCallDelta(call_id, "calculate", arguments[middle:])
    try:
        result = calculate(expression)
    except (ValueError, ArithmeticError, SyntaxError) as exc:
        yield ToolResult(call_id, "calculate", f"cannot calculate: {exc}", is_error=True)
        yield f"I could not work out `{expression}`."
        return
    shown = int(result) if result == int(result) else result
    yield ToolResult(call_id, "calculate", json.dumps({"result": shown}))

    for word in f"{expression} = **{shown}**.".split(" "):
        yield word + " "
        await asyncio.sleep(0.01)
    yield Usage(input_tokens=sum(len(m.content.split()) for m in messages), output_tokens=24)


async def main(prompt: str) -> None:
    async for event in generate([ChatMessage("system", "Be exact."), ChatMessage("user", prompt)]):
        print(repr(event))


if __name__ == "__main__":
    asyncio.run(main(" ".join(sys.argv[1:]) or "what is 12 * 7 + 1?"))
