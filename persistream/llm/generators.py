"""Your own generator, named by `PERSISTREAM_PROVIDER=package.module:attribute` (or passed to `create_app(model=)`).

The attribute may be:
- a generator object: anything with a `name` and a `stream(messages)` method (the minimal `ChatModel`), or a
  `stream_parts(messages, tools)` method (a `PartsModel`);
- a class, or a factory function, that makes one: called with the `Settings` when it takes an argument, else with
  none;
- a plain async generator function, `async def generate(messages)`, yielding text and parts: it becomes a
  `FunctionGenerator` named after the function.

Anything else (a module that does not import, a missing attribute, a synchronous generator, a factory that fails or
makes something that is not a generator) is a `ValueError` that says which, for the caller to report as a
`ConfigError` naming the variable.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, cast

from persistream.config import Settings
from persistream.llm.base import ChatMessage, ChatModel
from persistream.llm.imports import import_attribute
from persistream.parts import PartEvent
from persistream.redact import redact_line

GeneratorFunction = Callable[[Sequence[ChatMessage]], AsyncIterator[PartEvent]]

EXPECTED = (
    "a generator (an object with `name` and `stream(messages)` or `stream_parts(messages, tools)`), a class or a "
    "factory making one, or an async generator function"
)


class FunctionGenerator:
    """An async generator function `async def generate(messages)` as a generator (a `PartsModel`): it is called
    once per answer with the conversation, and everything it yields is the answer (`str` is TEXT, the part types of
    persistream.parts the rest). It runs tools of its own, if any, so the `tools` persistream offers are not
    passed to it."""

    def __init__(self, function: GeneratorFunction, name: str | None = None) -> None:
        if not inspect.isasyncgenfunction(function):
            raise TypeError(f"FunctionGenerator takes an async generator function, not {_describe(function)}")
        self.function = function
        self.name = name or getattr(function, "__name__", "generator")

    def stream_parts(
        self, messages: Sequence[ChatMessage], tools: Sequence[dict[str, Any]] | None = None
    ) -> AsyncIterator[PartEvent]:
        return self.function(messages)

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        events = self.function(messages)
        try:
            async for event in events:
                if isinstance(event, str):
                    yield event
        finally:
            with contextlib.suppress(Exception):
                await cast(Any, events).aclose()


def is_generator(value: object) -> bool:
    """An object (not a class) with a `name` and a `stream` or `stream_parts` method."""
    if isinstance(value, type) or not isinstance(getattr(value, "name", None), str):
        return False
    return callable(getattr(value, "stream", None)) or callable(getattr(value, "stream_parts", None))


def load_generator(spec: str, settings: Settings) -> ChatModel:
    """The generator `spec` names, made if it names a class, a factory or an async generator function."""
    target = import_attribute(spec, "provider")
    if is_generator(target):
        return cast(ChatModel, target)
    if inspect.isasyncgenfunction(target):
        return cast(ChatModel, FunctionGenerator(target))
    if inspect.isgeneratorfunction(target):
        raise ValueError(f"provider {spec!r}: {target.__name__} is a synchronous generator; write `async def`")
    if not callable(target):
        raise ValueError(f"provider {spec!r}: expected {EXPECTED}, found {_describe(target)}")
    try:
        made = target(settings) if _takes_an_argument(target) else target()
    except Exception as exc:
        reason = f"{type(exc).__name__}: {redact_line(str(exc))}" if str(exc) else type(exc).__name__
        raise ValueError(f"provider {spec!r}: calling it failed ({reason})") from None
    if not is_generator(made):
        raise ValueError(f"provider {spec!r}: calling it made {_describe(made)}, which is not a generator")
    return cast(ChatModel, made)


def _takes_an_argument(factory: Callable[..., Any]) -> bool:
    """True when `factory` has a positional parameter that may take the settings."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(p.kind in positional or p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)


def _describe(value: object) -> str:
    return f"{type(value).__name__} {value!r:.60}"
