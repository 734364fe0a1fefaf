"""Tools a model may call, each made from a plain Python function (async or not).

A `Tool` takes its name from the function, its description from the first paragraph of its docstring, and the JSON
schema of its parameters from its signature, through pydantic (annotations, defaults, `Annotated[..., Field(...)]`
descriptions): nothing here writes a schema by hand. The model's arguments are JSON text, validated by pydantic
against the same signature before the function runs; what the function returns becomes text, a `str` as it is and
anything else as JSON.

`load_tools("package.module:attribute")` resolves an import string to the list of functions it names.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pydantic

from persistream.llm.imports import import_attribute


class ToolArgumentsError(Exception):
    """The model's arguments do not fit the tool: not a JSON object, or not valid for its parameters."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    # The JSON schema of the function's parameters (an object schema).
    parameters: dict[str, Any]
    function: Callable[..., Any] = field(repr=False)

    @classmethod
    def from_function(cls, function: Callable[..., Any]) -> Tool:
        if not callable(function):
            raise TypeError(f"a tool must be a function, not {type(function).__name__}")
        name = getattr(function, "__name__", "")
        if not name or name == "<lambda>":
            raise TypeError(f"a tool needs a name: {function!r} has none")
        positional = [
            p.name
            for p in inspect.signature(function).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.VAR_POSITIONAL)
        ]
        if positional:
            # The model's arguments are a JSON object: every one of them is passed by name.
            raise TypeError(f"tool {name}: parameters {positional} cannot be passed by name")
        doc = inspect.getdoc(function) or ""
        description = " ".join(doc.split("\n\n", 1)[0].split())
        try:
            parameters = pydantic.TypeAdapter(cast(Any, function)).json_schema()
        except pydantic.PydanticUserError as exc:
            first_line = str(exc).splitlines()[0]
            raise TypeError(f"tool {name}: its parameters have no JSON schema ({first_line})") from None
        return cls(name, description, parameters, pydantic.validate_call(function))

    def schema(self) -> dict[str, Any]:
        """The tool as the chat completions API takes it (an element of `tools`)."""
        function: dict[str, Any] = {"name": self.name, "parameters": self.parameters}
        if self.description:
            function["description"] = self.description
        return {"type": "function", "function": function}

    async def call(self, arguments: str) -> str:
        """Run the tool on the model's JSON arguments (an async function awaited, any other in a thread); its
        result as text. Raises `ToolArgumentsError` for arguments that do not fit, and whatever the tool raises."""
        try:
            kwargs = json.loads(arguments) if arguments.strip() else {}
        except ValueError as exc:
            raise ToolArgumentsError(f"the arguments are not JSON ({exc})") from None
        if not isinstance(kwargs, dict):
            raise ToolArgumentsError(f"the arguments are JSON {type(kwargs).__name__}, not an object")
        try:
            if inspect.iscoroutinefunction(self.function):
                result = await self.function(**kwargs)
            else:
                result = await asyncio.to_thread(self.function, **kwargs)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'arguments'}: {error['msg']}" for error in exc.errors()
            )
            raise ToolArgumentsError(f"invalid arguments: {problems}") from None
        return result_text(result)


def result_text(result: Any) -> str:
    """A tool's result as the text the model reads: a `str` as it is, anything else as JSON (pydantic's, so
    models, dataclasses and dates are written too)."""
    if isinstance(result, str):
        return result
    return pydantic.TypeAdapter(Any).dump_json(result).decode("utf-8")


def make_tools(functions: Sequence[Callable[..., Any]]) -> list[Tool]:
    """Tools for these functions; two tools of one name would be one tool to the model, so that is refused."""
    tools = [Tool.from_function(f) for f in functions]
    names = [t.name for t in tools]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"two tools are named {', '.join(twice)}: a model calls a tool by its name")
    return tools


def load_tools(spec: str) -> list[Callable[..., Any]]:
    """The functions that `package.module:attribute` names: the attribute must be a list (or tuple) of callables."""
    target = import_attribute(spec, "tools")
    if not isinstance(target, list | tuple) or not all(callable(f) for f in target):
        raise ValueError(f"tools {spec!r}: expected a list of functions, found {_kind(target)}")
    return list(target)


def _kind(value: Any) -> str:
    if isinstance(value, list | tuple):
        odd = next(v for v in value if not callable(v))
        return f"a {type(value).__name__} holding {type(odd).__name__} {odd!r:.60}"
    return f"{type(value).__name__} {value!r:.60}"
