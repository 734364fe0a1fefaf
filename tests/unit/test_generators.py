"""PERSISTREAM_PROVIDER: `openai`, `demo` (any case) or an import string, its case kept, naming a generator object, a
class, a factory (called with the settings when it takes an argument) or an async generator function; anything
else is a ConfigError naming the variable, with no traceback in its message."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest

from persistream.config import ConfigError, Settings
from persistream.generator import ChatMessage, FunctionGenerator, ModelError, PartEvent, ToolCallDelta, ToolResult
from persistream.llm import DemoModel, create_model

HERE = __name__


class Echo:
    """The minimal generator: a name and `stream`."""

    name = "Echo"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        yield messages[-1].content


class NoArguments:
    name = "no-arguments"

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        yield "hi"


ECHO = Echo()


def make_echo(settings: Settings) -> Echo:
    return Echo(settings)


def make_nothing_useful() -> int:
    return 42


def failing_factory(settings: Settings) -> Echo:
    raise RuntimeError("no licence for this model")


async def generate(messages: Sequence[ChatMessage]) -> AsyncIterator[PartEvent]:
    yield ToolCallDelta("c1", "lookup", '{"q": 1}')
    yield ToolResult("c1", "lookup", "found")
    yield "It is " + messages[-1].content


def sync_generate(messages: Sequence[ChatMessage]) -> Iterator[str]:
    yield "no"


NOT_A_GENERATOR = [1, 2, 3]


def provider(value: str) -> Settings:
    return Settings.from_env({"PERSISTREAM_PROVIDER": value}, env_file=None)


def test_the_built_in_names_in_any_case_and_an_import_string_as_written() -> None:
    assert provider("OpenAI").provider == "openai"
    assert provider(" Demo ").provider == "demo"
    assert provider(f"{HERE}:ECHO").provider == f"{HERE}:ECHO"
    assert isinstance(create_model(provider("DEMO")), DemoModel)


@pytest.mark.parametrize("value", ["gpt", "my_module", "my_module:", ":attr", "path/to.py:x", "a b:c"])
def test_a_value_that_is_neither_is_refused_when_read(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^PERSISTREAM_PROVIDER must be 'openai', 'demo' or an import string"):
        provider(value)


def test_an_object_a_class_a_factory_taking_the_settings_and_a_function() -> None:
    assert create_model(provider(f"{HERE}:ECHO")) is ECHO
    made = create_model(provider(f"{HERE}:Echo"))
    assert isinstance(made, Echo) and made.settings is not None
    assert made.settings.provider == f"{HERE}:Echo", "a class taking an argument receives the settings"
    assert isinstance(create_model(provider(f"{HERE}:NoArguments")), NoArguments)
    from_factory = create_model(provider(f"{HERE}:make_echo"))
    assert isinstance(from_factory, Echo) and from_factory.settings is not None
    function = create_model(provider(f"{HERE}:generate"))
    assert isinstance(function, FunctionGenerator) and function.name == "generate"


async def test_a_function_generator_streams_its_parts_and_its_text() -> None:
    function = FunctionGenerator(generate)
    messages = [ChatMessage("user", "noon")]
    parts = [event async for event in function.stream_parts(messages)]
    assert parts == [ToolCallDelta("c1", "lookup", '{"q": 1}'), ToolResult("c1", "lookup", "found"), "It is noon"]
    assert [event async for event in function.stream(messages)] == ["It is noon"]
    with pytest.raises(TypeError, match="async generator function"):
        FunctionGenerator(sync_generate)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("no_such_module_here:generator", "the module 'no_such_module_here' does not import"),
        (f"{HERE}:missing", f"{HERE!r} has no attribute 'missing'"),
        (f"{HERE}:NOT_A_GENERATOR", "expected a generator"),
        (f"{HERE}:make_nothing_useful", "calling it made int 42, which is not a generator"),
        (f"{HERE}:failing_factory", "calling it failed (RuntimeError: no licence for this model)"),
        (f"{HERE}:sync_generate", "sync_generate is a synchronous generator; write `async def`"),
        ("json:dumps", "calling it failed (TypeError"),
    ],
)
def test_what_cannot_be_a_generator_is_a_config_error_naming_the_variable(spec: str, said: str) -> None:
    with pytest.raises(ConfigError) as raised:
        create_model(provider(spec))
    message = str(raised.value)
    assert message.startswith(f"PERSISTREAM_PROVIDER={spec} cannot be used: "), message
    assert said in message, message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_module_that_fails_while_importing_is_named_with_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path
    (folder / "broken_generator_module.py").write_text("raise RuntimeError('half written')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    with pytest.raises(ConfigError, match=r"does not import \(RuntimeError: half written\)"):
        create_model(provider("broken_generator_module:generator"))


def test_the_public_module_names_the_error_the_engine_reports() -> None:
    from persistream import core, generator

    assert core.ModelError is generator.ModelError is ModelError
    assert set(generator.__all__) >= {"ChatModel", "PartsModel", "ChatMessage", "ToolCall", "ModelError", "Usage"}
