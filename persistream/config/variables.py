"""How a setting is declared: one `Variable` per environment variable, carried by its `Settings` field.

A `Variable` holds everything said about one variable: its name, its `Kind` (how its text is parsed, and the type
the reference shows), its description, the section of the reference it belongs to, its check, and, when the
field's own default would mislead (it depends on another setting, or is computed later), the default to document.
`setting(...)` makes a dataclass field carrying one, and `declared_fields`, `parse_declared` and `check_declared`
walk such fields; the few variables read outside `Settings` are declared in
`OUTSIDE_SETTINGS`, so the reference lists them too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from persistream.config.parsers import TEXT, Check, Kind

# The sections of the configuration reference, in the order the `Settings` fields follow.
STORAGE, MODEL, TOOLS, STREAMS, AUTH, LIMITS, WEB, OPERATIONS, CLIENT = (
    "Storage and broadcast",
    "Model",
    "Tools",
    "Streams",
    "Authentication",
    "Limits",
    "Web",
    "Operations",
    "The `persistream ask` client",
)

# The key of a field's metadata that holds its `Variable`.
VARIABLE = "persistream.variable"


@dataclass(frozen=True)
class Variable:
    """One environment variable; `default` is the Markdown the reference shows, None to show the field's own."""

    name: str
    kind: Kind
    description: str
    section: str
    check: Check | None = None
    default: str | None = None


def setting(
    name: str,
    default: Any,
    kind: Kind,
    description: str,
    section: str,
    check: Check | None = None,
    *,
    shown: str | None = None,
    secret: bool = False,
) -> Any:
    """A `Settings` field read from the variable `name`, checked by `check` (else the kind's own check, if any);
    `shown` replaces the default in the reference, `secret` keeps the value out of `repr`."""
    variable = Variable(name, kind, description, section, check or kind.check, shown)
    return dataclasses.field(default=default, repr=not secret, metadata={VARIABLE: variable})


def declared_fields(cls: type) -> Iterator[tuple[dataclasses.Field[Any], Variable]]:
    """Each field of the dataclass `cls` read from a variable, with its declaration, in declaration order."""
    for field in dataclasses.fields(cls):
        if (variable := field.metadata.get(VARIABLE)) is not None:
            yield field, variable


def parse_declared(cls: type, env: Mapping[str, str]) -> dict[str, Any]:
    """The fields of `cls` whose variables `env` sets, each parsed by its kind; an empty value is unset."""
    return {
        field.name: variable.kind.parse(variable.name, value)
        for field, variable in declared_fields(cls)
        if (value := env.get(variable.name))
    }


def check_declared(settings: object) -> None:
    """Run each declared field's check on its value (a None value is unset: nothing to check)."""
    for field, variable in declared_fields(type(settings)):
        value = getattr(settings, field.name)
        if variable.check is not None and value is not None:
            variable.check(variable.name, value)


# Read by a command that must not read the server's settings (`ask` is a client of another server).
OUTSIDE_SETTINGS = (
    Variable(
        "PERSISTREAM_TOKEN",
        TEXT,
        "`persistream ask`: the bearer token sent to the server (or `--token`); never read by `serve`.",
        CLIENT,
        default="unset",
    ),
)
