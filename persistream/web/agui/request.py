"""A `RunAgentInput` as a send: which thread, the prompt, and the earlier turns a new thread starts with.

- The last message must be the user's: its text is the prompt. Content given as parts must be text parts only.
- The messages before it are the thread's history, used only when `threadId` starts a new thread: each user
  message is a turn's prompt, and the text of the assistant messages after it, joined, is that turn's answer.
  System, developer, tool, reasoning and activity messages, and assistant messages before the first user
  message, are not stored (the server has its own system prompt, and runs its own tools).
- `tools`, `context`, `state`, `forwardedProps` and `resume` are accepted and not used; the input's `runId` is
  not used either: the run's id is the id of the answer's stream, as every event of the run says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ag_ui.core import AssistantMessage, RunAgentInput, UserMessage
from pydantic import ValidationError

from persistream.errors import BadInput
from persistream.web.agui.ids import thread_key

# Validation errors listed in a 400 at most (the rest are summed up).
MAX_ERRORS = 5


@dataclass(frozen=True, slots=True)
class RunRequest:
    thread_id: str  # as the caller named it
    thread_key: str  # the persistream thread id
    prompt: str
    history: tuple[tuple[str, str], ...]


def parse_run(body: bytes) -> RunRequest:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadInput("The body is not JSON: a RunAgentInput object is expected.") from None
    if not isinstance(data, dict):
        raise BadInput("The body must be a JSON object (a RunAgentInput).")
    try:
        run = RunAgentInput.model_validate(data)
    except ValidationError as exc:
        raise BadInput(describe(exc)) from None
    messages = run.messages
    if not messages or not isinstance(messages[-1], UserMessage):
        raise BadInput("messages must end with the user's message: it is the prompt.")
    history: list[tuple[str, list[str]]] = []
    for message in messages[:-1]:
        if isinstance(message, UserMessage):
            history.append((_text(message), []))
        elif isinstance(message, AssistantMessage) and history and message.content:
            history[-1][1].append(message.content)
    turns = tuple((prompt, "\n\n".join(answers)) for prompt, answers in history)
    return RunRequest(run.thread_id, thread_key(run.thread_id), _text(messages[-1]), turns)


def _text(message: UserMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if getattr(part, "type", None) != "text":
            raise BadInput("Only text content is supported in user messages.")
        texts.append(str(getattr(part, "text", "")))
    return "\n".join(texts)


def describe(exc: ValidationError) -> str:
    """What pydantic found wrong, one line per error, without the input echoed back (it may be large or secret)."""
    errors = exc.errors(include_url=False, include_input=False)
    lines = [f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}" for error in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        lines.append(f"and {len(errors) - MAX_ERRORS} more")
    return "Not a valid RunAgentInput: " + "; ".join(lines)
