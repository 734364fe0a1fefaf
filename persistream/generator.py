"""Your own generation: the protocol a generator follows, and everything it receives and yields.

A **generator** turns a conversation into an async stream of text and parts. persistream stores what it yields as
it comes, streams it to every reader, and resumes a reader where it stopped; the generator knows nothing of that.

**What it receives.** `messages`, a sequence of `ChatMessage`: the system prompt first (`role="system"`,
PERSISTREAM_SYSTEM_PROMPT), then the branch's earlier prompts (`"user"`) and answers (`"assistant"`, oldest
first, as many as PERSISTREAM_MAX_CONTEXT_CHARS allows), then the new prompt last (`"user"`). An earlier answer's
`content` is its text; its `parts` hold every part it had, whole, in the types below (`str` for text).

**What it yields.** `str` is TEXT, appended to the answer. The part types: `ReasoningDelta` (the model's thinking),
`ToolCallDelta` (a tool call: the first for a `call_id` starts it, later ones for it append to its JSON
arguments), `ToolResult` (what a tool returned, one whole part; `is_error` when it failed). A generator that runs
tools of its own yields each call and then its result; they are stored and streamed exactly like the built-in
tool loop's. A new part starts whenever the kind (or the tool call) changes, and only the last part grows.

**Usage.** Yield a `Usage` (input, output and reasoning tokens, each may be None) at any point: it is no part, it
is summed over the answer and stored with it (`usage` of the answer's body and final event in the API).

**Errors.** Raise `ModelError(user_message, detail)` to end the answer in ERROR showing `user_message` to users
(`detail` goes to the log only). Any other exception ends it in ERROR with a generic message, its text only
logged. Yielding anything that is not text or a part ends it in ERROR with a message naming what was yielded.
Silence longer than PERSISTREAM_STREAM_TIMEOUT (PERSISTREAM_FIRST_TOKEN_TIMEOUT before the first delta) ends it in
TIMEOUT; cancelling closes the generator (its `finally` runs).

**Three shapes**, any of which `create_app(settings, model=...)` takes, and `PERSISTREAM_PROVIDER=
package.module:attribute` names (the attribute may also be a class, or a factory called with the `Settings` when it
takes an argument):
- the minimal `ChatModel`: a `name` and `stream(messages)`, an async iterator of `str`;
- a `PartsModel`: also `stream_parts(messages, tools)`, an async iterator of `PartEvent` (`tools` are the
  PERSISTREAM_TOOLS schemas; a call the generator does not answer itself is run by persistream's tool loop);
- a plain async generator function `async def generate(messages)`, wrapped as a `FunctionGenerator`.

An optional `async def aclose()` is awaited when the server stops.
"""

from persistream.llm.base import ChatMessage, ChatModel, ModelError, PartsModel, ToolCall
from persistream.llm.generators import FunctionGenerator, GeneratorFunction
from persistream.parts import PartEvent, PartKind, ReasoningDelta, ToolCallDelta, ToolResult, Usage

__all__ = [
    "ChatMessage",
    "ChatModel",
    "FunctionGenerator",
    "GeneratorFunction",
    "ModelError",
    "PartEvent",
    "PartKind",
    "PartsModel",
    "ReasoningDelta",
    "ToolCall",
    "ToolCallDelta",
    "ToolResult",
    "Usage",
]
