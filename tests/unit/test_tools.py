"""Tools from plain functions: the schema pydantic makes from a signature and docstring, arguments validated against
it, results as text, and `load_tools` resolving an import string (with errors that name it)."""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

import pytest
from pydantic import Field

from persistream.llm.tools import Tool, ToolArgumentsError, load_tools, make_tools, result_text
from persistream.parts import Usage


def get_weather(
    city: Annotated[str, Field(description="The city's name, in English.")],
    days: int = 1,
    unit: Literal["celsius", "fahrenheit"] = "celsius",
    hourly: bool = False,
) -> dict[str, object]:
    """Tell the weather of a city,
    for the next few days.

    This second paragraph is for people reading the code, not for the model.
    """
    return {"city": city, "days": days, "unit": unit, "hourly": hourly}


async def ping() -> str:
    """Answer pong."""
    return "pong"


def no_docstring(n: int) -> int:
    return n * 2


TOOLS = [get_weather, ping]
NOT_A_LIST = get_weather
NOT_CALLABLE = [get_weather, "ping"]


def test_the_schema_comes_from_the_signature_and_the_docstring() -> None:
    schema = Tool.from_function(get_weather).schema()
    assert schema["type"] == "function"
    function = schema["function"]
    assert function["name"] == "get_weather"
    assert function["description"] == "Tell the weather of a city, for the next few days."
    parameters = function["parameters"]
    assert parameters["type"] == "object"
    assert parameters["required"] == ["city"]
    properties = parameters["properties"]
    assert list(properties) == ["city", "days", "unit", "hourly"]
    assert properties["city"]["type"] == "string"
    assert properties["city"]["description"] == "The city's name, in English."
    assert properties["days"]["type"] == "integer" and properties["days"]["default"] == 1
    assert properties["unit"]["enum"] == ["celsius", "fahrenheit"] and properties["unit"]["default"] == "celsius"
    assert properties["hourly"]["type"] == "boolean"


def test_a_function_without_parameters_or_docstring() -> None:
    assert Tool.from_function(ping).parameters["properties"] == {}
    bare = Tool.from_function(no_docstring).schema()["function"]
    assert "description" not in bare and bare["parameters"]["required"] == ["n"]


def test_a_signature_json_schema_cannot_describe_is_refused_at_once() -> None:
    def spread(*values: int) -> int:
        return sum(values)

    def positional(a: int, /, b: int) -> int:
        return a + b

    def unknown(value: object, when: type) -> None:
        return None

    with pytest.raises(TypeError, match=r"tool spread: parameters \['values'\] cannot be passed by name"):
        Tool.from_function(spread)
    with pytest.raises(TypeError, match="tool positional"):
        Tool.from_function(positional)
    with pytest.raises(TypeError, match="tool unknown: its parameters have no JSON schema"):
        Tool.from_function(unknown)
    with pytest.raises(TypeError, match="needs a name"):
        Tool.from_function(lambda: 1)


async def test_arguments_are_validated_and_coerced_as_pydantic_does() -> None:
    tool = Tool.from_function(get_weather)
    text = await tool.call('{"city": "Oslo", "days": "3"}')
    assert text == '{"city":"Oslo","days":3,"unit":"celsius","hourly":false}'
    with pytest.raises(ToolArgumentsError, match="unit: Input should be 'celsius' or 'fahrenheit'"):
        await tool.call('{"city": "Oslo", "unit": "kelvin"}')
    with pytest.raises(ToolArgumentsError, match="city: Missing required argument"):
        await tool.call("{}")
    with pytest.raises(ToolArgumentsError, match="not JSON"):
        await tool.call('{"city": ')
    with pytest.raises(ToolArgumentsError, match="JSON list, not an object"):
        await tool.call("[]")
    assert await Tool.from_function(ping).call("") == "pong"


def test_results_become_text() -> None:
    assert result_text("as is") == "as is"
    assert result_text({"a": [1, 2.5, None]}) == '{"a":[1,2.5,null]}'
    assert result_text(datetime.date(2025, 1, 2)) == '"2025-01-02"'
    assert result_text(None) == "null"


def test_two_tools_of_one_name_are_refused() -> None:
    def ping() -> str:
        return "other"

    with pytest.raises(ValueError, match="two tools are named ping"):
        make_tools([globals()["ping"], ping])


def test_load_tools_resolves_an_import_string() -> None:
    assert load_tools("tests.unit.test_tools:TOOLS") == [get_weather, ping]


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("tests.unit.test_tools", "package.module:attribute"),
        ("tests.unit.no_such_module:TOOLS", "does not import"),
        ("tests.unit.test_tools:NO_SUCH", "has no attribute 'NO_SUCH'"),
        ("tests.unit.test_tools:NOT_A_LIST", "expected a list of functions, found function"),
        ("tests.unit.test_tools:NOT_CALLABLE", "a list holding str 'ping'"),
    ],
)
def test_load_tools_errors_name_the_string(spec: str, says: str) -> None:
    with pytest.raises(ValueError) as failure:
        load_tools(spec)
    assert repr(spec) in str(failure.value) and says in str(failure.value)


def test_usages_add_field_by_field() -> None:
    assert Usage(1, 2, None) + Usage(10, None, None) == Usage(11, 2, None)
    assert Usage(None, None, 3) + Usage(None, None, 4) == Usage(None, None, 7)
    assert Usage() + Usage() == Usage(None, None, None)
