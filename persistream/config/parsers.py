"""How one environment variable's text becomes a setting's value, and how a value is checked.

A `Kind` turns text into a value (and names its type for the configuration reference); a check refuses a value
the server cannot use. Both raise `ConfigError` with a message that starts with the variable's name, so the
operator sees which variable to fix. Checks run on every `Settings`, however it was built; parsing runs only on
text from the environment or the `.env` file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Check = Callable[[str, Any], None]


class ConfigError(ValueError):
    """A setting has a value persistream cannot use. The message names the variable."""


@dataclass(frozen=True)
class Kind:
    """A variable's type: `parse(name, text)` gives the value, `label` names the type in the reference."""

    label: str
    parse: Callable[[str, str], Any]
    check: Check | None = None


def _as_is(name: str, value: str) -> str:
    return value


def _parse_int(name: str, value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None


def _parse_float(name: str, value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigError(f"{name} must be a finite number, not {value!r}")
    return number


def _parse_delay(name: str, value: str) -> float:
    # Refused when read, not when checked: code that builds `Settings` itself has always been free to pass any delay.
    number = _parse_float(name, value)
    if number < 0:
        raise ConfigError(f"{name} must be zero or more seconds")
    return number


def _parse_days(name: str, value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number of days (fractions allowed), not {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigError(f"{name} must be a finite number of days, not {value!r}")
    return number


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def _lower(name: str, value: str) -> str:
    return value.strip().lower()


def _upper(name: str, value: str) -> str:
    return value.strip().upper()


def _hosts(name: str, value: str) -> tuple[str, ...]:
    return tuple(h.strip() for h in value.split(",") if h.strip())


def _origins(name: str, value: str) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())


def _pem(name: str, value: str) -> str:
    # One-line environments often carry a PEM with literal "\n".
    return value.replace("\\n", "\n")


RATE_UNITS = {"second": 1, "minute": 60, "hour": 3600}


def parse_rate_limit(value: str) -> tuple[int, int] | None:
    """`N/second|minute|hour` -> (N, seconds); `off` -> None. ConfigError names PERSISTREAM_RATE_LIMIT."""
    if value == "off":
        return None
    count, sep, unit = value.partition("/")
    if sep and count.strip().isdigit() and int(count) > 0 and unit.strip() in RATE_UNITS:
        return int(count), RATE_UNITS[unit.strip()]
    raise ConfigError(
        f"PERSISTREAM_RATE_LIMIT must be 'off' or like '20/minute' (per second, minute or hour), not {value!r}"
    )


def must(holds: Callable[[Any], bool], phrase: str, *, show_value: bool = True) -> Check:
    """A check: `holds(value)`, or ConfigError "NAME must PHRASE, not VALUE"."""

    def check(name: str, value: Any) -> None:
        if not holds(value):
            raise ConfigError(f"{name} must {phrase}" + (f", not {value!r}" if show_value else ""))

    return check


def each(holds: Callable[[str], bool], phrase: str) -> Check:
    """A check of every item of a list: ConfigError "NAME has ITEM, which is not PHRASE"."""

    def check(name: str, values: tuple[str, ...]) -> None:
        for value in values:
            if value != "*" and not holds(value):
                raise ConfigError(f"{name} has {value!r}, which is not '*' or {phrase}")

    return check


def choice(values: Collection[str], phrase: str, *, upper: bool = False) -> Kind:
    """One word of `values` (case does not matter); a wrong one is "NAME must be PHRASE, not VALUE"."""
    label = " or ".join(f"`{v}`" for v in values).replace("` or `", "`, `", len(values) - 2)
    return Kind(label, _upper if upper else _lower, must(lambda v: v in values, f"be {phrase}"))


def starts_with(prefixes: tuple[str, ...], phrase: str) -> Check:
    """A check: the value starts with one of `prefixes`, or ConfigError "NAME must PHRASE"."""
    return must(lambda v: v.startswith(prefixes), phrase, show_value=False)


def _check_rate_limit(name: str, value: str) -> None:
    parse_rate_limit(value)


def _looks_like_host(host: str) -> bool:
    return bool(host) and not any(c in host for c in "/@ ") and "://" not in host


def _looks_like_origin(origin: str) -> bool:
    scheme, sep, rest = origin.partition("://")
    return bool(sep) and scheme in ("http", "https") and bool(rest) and "/" not in rest


def _is_header_name(header: str) -> bool:
    return bool(header) and all(c.isalnum() or c in "-_" for c in header)


# A letter, then letters, digits or underscores: a name part no database quotes or folds differently, short enough
# that the longest prefixed name (the version table's) stays within PostgreSQL's 63 characters.
TABLE_PREFIX_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,29}")


def is_table_prefix(prefix: str) -> bool:
    return not prefix or TABLE_PREFIX_PATTERN.fullmatch(prefix) is not None


def _provider(name: str, value: str) -> str:
    word = value.strip()
    return word.lower() if word.lower() in ("openai", "demo") else word


def _is_import_string(spec: str) -> bool:
    module, sep, attribute = spec.partition(":")
    dotted = (module, attribute)
    return bool(sep) and all(name and all(part.isidentifier() for part in name.split(".")) for name in dotted)


TEXT = Kind("text", _as_is)
URL = Kind("URL", _as_is)
PEM = Kind("text (PEM)", _pem)
INT = Kind("integer", _parse_int)
SECONDS = Kind("seconds", _parse_float)
DELAY = Kind("seconds", _parse_delay)
DAYS = Kind("days", _parse_days)
BOOL = Kind("boolean", _parse_bool)
RATE = Kind("`N/second`, `N/minute`, `N/hour` or `off`", _lower, _check_rate_limit)
HOSTS = Kind("comma-separated list", _hosts, each(_looks_like_host, "a host name like 'chat.example.com'"))
ORIGINS = Kind("comma-separated list", _origins, each(_looks_like_origin, "an origin like 'http://localhost:5173'"))
IMPORT_STRING = Kind("import string", _as_is, must(_is_import_string, "be an import string package.module:attribute"))
# `openai` or `demo` (any case), or an import string naming your own generator, its case kept.
PROVIDER = Kind(
    "`openai`, `demo` or import string",
    _provider,
    must(
        lambda v: v in ("openai", "demo") or _is_import_string(v),
        "be 'openai', 'demo' or an import string package.module:attribute naming a generator",
    ),
)
HEADER = Kind("HTTP header name", _as_is, must(_is_header_name, "be an HTTP header name"))
TABLE_PREFIX = Kind(
    "name prefix",
    _as_is,
    must(is_table_prefix, "be a letter followed by at most 29 letters, digits or underscores"),
)

DATABASE_URL = Kind(
    "URL",
    _as_is,
    starts_with(
        ("sqlite+aiosqlite://", "postgresql+asyncpg://"),
        "be an async SQLAlchemy URL starting with 'sqlite+aiosqlite://' or 'postgresql+asyncpg://'",
    ),
)
BROADCAST_URL = Kind(
    "URL",
    _as_is,
    starts_with(
        ("memory://", "redis://", "rediss://", "postgres://"),
        "start with 'memory://', 'redis://', 'rediss://' or 'postgres://'",
    ),
)

POSITIVE = must(lambda v: v > 0, "be greater than zero")


def check_jwt_keys(secret: str | None, public_key: str | None, jwks_url: str | None) -> None:
    """`PERSISTREAM_AUTH=jwt` takes its keys from exactly one source, each in a form it can use."""
    if sum(source is not None for source in (secret, public_key, jwks_url)) != 1:
        raise ConfigError(
            "PERSISTREAM_AUTH=jwt needs exactly one of PERSISTREAM_JWT_SECRET, PERSISTREAM_JWT_PUBLIC_KEY "
            "or PERSISTREAM_JWT_JWKS_URL"
        )
    if public_key is not None and "-----BEGIN" not in public_key:
        raise ConfigError("PERSISTREAM_JWT_PUBLIC_KEY must be a PEM public key (-----BEGIN PUBLIC KEY-----...)")
    if jwks_url is not None and not jwks_url.startswith(("http://", "https://")):
        raise ConfigError("PERSISTREAM_JWT_JWKS_URL must be an http:// or https:// URL")


def read_environment(environ: Mapping[str, str], env_file: str | Path | None) -> dict[str, str]:
    """`environ`, with the variables it leaves unset filled from `env_file` when there is such a file."""
    values = read_env_file(Path(env_file)) if env_file is not None and Path(env_file).is_file() else {}
    return {**values, **environ}


def read_env_file(path: Path) -> dict[str, str]:
    """A minimal `.env` reader: KEY=VALUE lines, `#` comments, optional quotes around the value."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values
