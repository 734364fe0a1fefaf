"""Settings, read once from the environment (and an optional `.env`) and passed down.

Nothing else in the package reads `os.environ`: tests and embedding apps build `Settings(...)` directly.
A wrong value raises `ConfigError` naming the variable, so `persistream serve` can refuse to start with a
message the operator can act on.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer clearly and concisely; use Markdown where it helps."


class ConfigError(ValueError):
    """A setting has a value persistream cannot use. The message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///persistream.db"
    broadcast_url: str = "memory://"
    provider: str = "demo"
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    model: str = "gpt-4.1-mini"
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    max_prompt_chars: int = 16000
    flush_chars: int = 1000
    flush_ms: int = 500
    pending_timeout: float = 300.0
    stream_timeout: float = 60.0
    allowed_origins: tuple[str, ...] = ()
    # Seconds between two tokens of the offline demo model.
    demo_token_delay: float = 0.03
    # Seconds of pub/sub silence after which a live stream is checked in the database anyway: one read per observed
    # stream per process (its feed), whatever the number of observers.
    observer_poll_interval: float = 1.0
    # Request timeout and retries for the openai SDK (its defaults are 600 s and 2 retries).
    openai_timeout: float = 60.0
    openai_max_retries: int = 1
    # Who the caller is: none (one local user), anonymous (signed cookie), jwt (bearer token), proxy (a header).
    auth_mode: str = "none"
    # Whether PERSISTREAM_AUTH was set at all: protected mode refuses a public bind only when it was not.
    auth_explicit: bool = False
    jwt_secret: str | None = field(default=None, repr=False)
    jwt_public_key: str | None = field(default=None, repr=False)
    jwt_jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    auth_header: str = "X-Forwarded-User"
    # Signs the anonymous cookie; unset, a key generated once is kept in the database.
    secret_key: str | None = field(default=None, repr=False)
    # `N/second`, `N/minute`, `N/hour` or `off`; None takes the mode's default (see `send_rate_limit`).
    rate_limit: str | None = None
    # Answers one identity may have PENDING or STREAMING at once; 0 is no limit, None the mode's default.
    max_live_streams: int | None = None
    max_context_chars: int = 48000
    max_answer_tokens: int | None = None
    max_subscriptions: int = 100
    max_body_bytes: int = 1 << 20
    max_query_depth: int = 8
    max_aliases: int = 30
    max_query_tokens: int = 4000
    graphiql: bool = True
    introspection: bool = True
    # `Host` names accepted (matched without the port); None: the default for `bind_host` (see `hosts_allowed`).
    allowed_hosts: tuple[str, ...] | None = None
    # The address `serve --host` binds; only the default host allow-list depends on it.
    bind_host: str = "127.0.0.1"
    # Operations: `GET /metrics`, the log format and level, and how long a stopping server lets answers finish.
    metrics: bool = True
    # Where every worker keeps its figures (set by `serve --workers N`, or by whoever runs the workers).
    metrics_multiprocess_dir: str | None = None
    log_format: str = "text"
    log_level: str = "INFO"
    shutdown_grace: float = 30.0
    # Days after which a thread nobody wrote to, whose answers all ended, is deleted; None keeps threads forever.
    retention_days: float | None = None

    def __post_init__(self) -> None:
        _check_positive("PERSISTREAM_MAX_PROMPT_CHARS", self.max_prompt_chars)
        _check_positive("PERSISTREAM_FLUSH_CHARS", self.flush_chars)
        _check_positive("PERSISTREAM_FLUSH_MS", self.flush_ms)
        _check_positive("PERSISTREAM_PENDING_TIMEOUT", self.pending_timeout)
        _check_positive("PERSISTREAM_STREAM_TIMEOUT", self.stream_timeout)
        if self.provider not in ("openai", "demo"):
            raise ConfigError(f"PERSISTREAM_PROVIDER must be 'openai' or 'demo', not {self.provider!r}")
        if not self.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ConfigError(
                "PERSISTREAM_DATABASE_URL must be an async SQLAlchemy URL starting with "
                "'sqlite+aiosqlite://' or 'postgresql+asyncpg://'"
            )
        if not self.broadcast_url.startswith(("memory://", "redis://", "rediss://", "postgres://")):
            raise ConfigError(
                "PERSISTREAM_BROADCAST_URL must start with 'memory://', 'redis://', 'rediss://' or 'postgres://'"
            )
        if self.rate_limit is not None:
            parse_rate_limit(self.rate_limit)
        if self.max_live_streams is not None and self.max_live_streams < 0:
            raise ConfigError(
                f"PERSISTREAM_MAX_LIVE_STREAMS must be zero (no limit) or more, not {self.max_live_streams!r}"
            )
        _check_positive("PERSISTREAM_MAX_CONTEXT_CHARS", self.max_context_chars)
        if self.max_answer_tokens is not None:
            _check_positive("PERSISTREAM_MAX_ANSWER_TOKENS", self.max_answer_tokens)
        _check_positive("PERSISTREAM_MAX_SUBSCRIPTIONS", self.max_subscriptions)
        _check_positive("PERSISTREAM_MAX_BODY_BYTES", self.max_body_bytes)
        _check_positive("PERSISTREAM_MAX_QUERY_DEPTH", self.max_query_depth)
        _check_positive("PERSISTREAM_MAX_ALIASES", self.max_aliases)
        _check_positive("PERSISTREAM_MAX_QUERY_TOKENS", self.max_query_tokens)
        for host in self.allowed_hosts or ():
            if host != "*" and not _looks_like_host(host):
                raise ConfigError(
                    f"PERSISTREAM_ALLOWED_HOSTS has {host!r}, which is not '*' or a host name like 'chat.example.com'"
                )
        for origin in self.allowed_origins:
            if origin != "*" and not _looks_like_origin(origin):
                raise ConfigError(
                    f"PERSISTREAM_ALLOWED_ORIGINS has {origin!r}, which is not '*' or an origin "
                    "like 'http://localhost:5173'"
                )
        _check_auth(self)
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"PERSISTREAM_LOG_FORMAT must be 'text' or 'json', not {self.log_format!r}")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"PERSISTREAM_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}")
        if not self.shutdown_grace >= 0:
            raise ConfigError(f"PERSISTREAM_SHUTDOWN_GRACE must be zero or more seconds, not {self.shutdown_grace!r}")
        if self.retention_days is not None and not self.retention_days > 0:
            raise ConfigError(
                f"PERSISTREAM_RETENTION_DAYS must be a number of days greater than zero, not {self.retention_days!r}"
            )

    @property
    def sweep_interval(self) -> float:
        """How often the sweeper looks for timed-out streams: a fraction of the shortest timeout."""
        return min(5.0, max(0.05, min(self.pending_timeout, self.stream_timeout) / 4))

    @property
    def retention_seconds(self) -> float | None:
        """How old (newest message, last answer's end) a thread may get before it is deleted; None: forever."""
        return None if self.retention_days is None else self.retention_days * 86400

    @property
    def heartbeat_interval(self) -> float:
        """How often a process refreshes the heartbeat of the streams it generates."""
        return min(5.0, max(0.05, self.stream_timeout / 4))

    @property
    def send_rate_limit(self) -> tuple[int, int] | None:
        """(calls, window seconds) for `sendMessage` per identity, or None when unlimited."""
        return parse_rate_limit(self.rate_limit or ("off" if self.auth_mode == "none" else "20/minute"))

    @property
    def live_streams_limit(self) -> int:
        """Live answers per identity; 0 is no limit."""
        if self.max_live_streams is not None:
            return self.max_live_streams
        return 0 if self.auth_mode == "none" else 3

    @property
    def hosts_allowed(self) -> tuple[str, ...]:
        """The `Host` names accepted, lower case without port; `("*",)` for any."""
        if self.allowed_hosts is not None:
            return tuple(h.lower() for h in self.allowed_hosts)
        # A personal server on loopback answers only loopback names, so a rebound DNS name cannot reach it.
        if self.bind_host in ("127.0.0.1", "localhost", "::1", "[::1]") or self.bind_host.startswith("127."):
            return ("localhost", "127.0.0.1", "[::1]")
        return ("*",)

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env") -> Settings:
        """Read settings from `environ` (default `os.environ`), with `env_file` filling unset variables."""
        values: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            values.update(_read_env_file(Path(env_file)))
        values.update(os.environ if environ is None else environ)
        return cls._from_mapping(values)

    @classmethod
    def _from_mapping(cls, env: Mapping[str, str]) -> Settings:
        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else None

        kwargs: dict[str, object] = {}
        text_vars = {
            "PERSISTREAM_DATABASE_URL": "database_url",
            "PERSISTREAM_BROADCAST_URL": "broadcast_url",
            "OPENAI_API_KEY": "openai_api_key",
            "OPENAI_BASE_URL": "openai_base_url",
            "PERSISTREAM_MODEL": "model",
            "PERSISTREAM_SYSTEM_PROMPT": "system_prompt",
            "PERSISTREAM_JWT_SECRET": "jwt_secret",
            "PERSISTREAM_JWT_JWKS_URL": "jwt_jwks_url",
            "PERSISTREAM_JWT_AUDIENCE": "jwt_audience",
            "PERSISTREAM_JWT_ISSUER": "jwt_issuer",
            "PERSISTREAM_AUTH_HEADER": "auth_header",
            "PERSISTREAM_SECRET_KEY": "secret_key",
            # Set by `serve --workers N` for its worker processes (the address of `--host`).
            "PERSISTREAM_BIND_HOST": "bind_host",
            "PROMETHEUS_MULTIPROC_DIR": "metrics_multiprocess_dir",
        }
        for name, attr in text_vars.items():
            if (value := get(name)) is not None:
                kwargs[attr] = value
        int_vars = {
            "PERSISTREAM_MAX_PROMPT_CHARS": "max_prompt_chars",
            "PERSISTREAM_FLUSH_CHARS": "flush_chars",
            "PERSISTREAM_FLUSH_MS": "flush_ms",
            "PERSISTREAM_MAX_LIVE_STREAMS": "max_live_streams",
            "PERSISTREAM_MAX_CONTEXT_CHARS": "max_context_chars",
            "PERSISTREAM_MAX_ANSWER_TOKENS": "max_answer_tokens",
            "PERSISTREAM_MAX_SUBSCRIPTIONS": "max_subscriptions",
            "PERSISTREAM_MAX_BODY_BYTES": "max_body_bytes",
            "PERSISTREAM_MAX_QUERY_DEPTH": "max_query_depth",
            "PERSISTREAM_MAX_ALIASES": "max_aliases",
            "PERSISTREAM_MAX_QUERY_TOKENS": "max_query_tokens",
        }
        for name, attr in int_vars.items():
            if (value := get(name)) is not None:
                kwargs[attr] = _parse_int(name, value)
        float_vars = {
            "PERSISTREAM_PENDING_TIMEOUT": "pending_timeout",
            "PERSISTREAM_STREAM_TIMEOUT": "stream_timeout",
            "PERSISTREAM_DEMO_TOKEN_DELAY": "demo_token_delay",
            "PERSISTREAM_SHUTDOWN_GRACE": "shutdown_grace",
        }
        for name, attr in float_vars.items():
            if (value := get(name)) is not None:
                kwargs[attr] = _parse_float(name, value)
        if (days := get("PERSISTREAM_RETENTION_DAYS")) is not None:
            kwargs["retention_days"] = _parse_days("PERSISTREAM_RETENTION_DAYS", days)
        if (rate := get("PERSISTREAM_RATE_LIMIT")) is not None:
            kwargs["rate_limit"] = rate.strip().lower()
        bool_vars = {
            "PERSISTREAM_GRAPHIQL": "graphiql",
            "PERSISTREAM_INTROSPECTION": "introspection",
            "PERSISTREAM_METRICS": "metrics",
        }
        for name, attr in bool_vars.items():
            if (value := get(name)) is not None:
                kwargs[attr] = _parse_bool(name, value)
        if (log_format := get("PERSISTREAM_LOG_FORMAT")) is not None:
            kwargs["log_format"] = log_format.strip().lower()
        if (log_level := get("PERSISTREAM_LOG_LEVEL")) is not None:
            kwargs["log_level"] = log_level.strip().upper()
        if (hosts := get("PERSISTREAM_ALLOWED_HOSTS")) is not None:
            kwargs["allowed_hosts"] = tuple(h.strip() for h in hosts.split(",") if h.strip())
        provider = get("PERSISTREAM_PROVIDER")
        if provider is None:
            provider = "openai" if get("OPENAI_API_KEY") else "demo"
        kwargs["provider"] = provider.strip().lower()
        if (origins := get("PERSISTREAM_ALLOWED_ORIGINS")) is not None:
            kwargs["allowed_origins"] = tuple(o.strip().rstrip("/") for o in origins.split(",") if o.strip())
        if (auth := get("PERSISTREAM_AUTH")) is not None:
            kwargs["auth_mode"] = auth.strip().lower()
            kwargs["auth_explicit"] = True
        if (public_key := get("PERSISTREAM_JWT_PUBLIC_KEY")) is not None:
            # One-line environments often carry a PEM with literal "\n".
            kwargs["jwt_public_key"] = public_key.replace("\\n", "\n")
        if kwargs.get("demo_token_delay", 0.0) < 0:  # type: ignore[operator]
            raise ConfigError("PERSISTREAM_DEMO_TOKEN_DELAY must be zero or more seconds")
        return cls(**kwargs)  # type: ignore[arg-type]


AUTH_MODES = ("none", "anonymous", "jwt", "proxy")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _check_auth(settings: Settings) -> None:
    if settings.auth_mode not in AUTH_MODES:
        raise ConfigError(f"PERSISTREAM_AUTH must be one of none, anonymous, jwt, proxy, not {settings.auth_mode!r}")
    if settings.auth_mode == "jwt":
        sources = [settings.jwt_secret, settings.jwt_public_key, settings.jwt_jwks_url]
        if sum(source is not None for source in sources) != 1:
            raise ConfigError(
                "PERSISTREAM_AUTH=jwt needs exactly one of PERSISTREAM_JWT_SECRET, PERSISTREAM_JWT_PUBLIC_KEY "
                "or PERSISTREAM_JWT_JWKS_URL"
            )
        if settings.jwt_public_key is not None and "-----BEGIN" not in settings.jwt_public_key:
            raise ConfigError("PERSISTREAM_JWT_PUBLIC_KEY must be a PEM public key (-----BEGIN PUBLIC KEY-----...)")
        if settings.jwt_jwks_url is not None and not settings.jwt_jwks_url.startswith(("http://", "https://")):
            raise ConfigError("PERSISTREAM_JWT_JWKS_URL must be an http:// or https:// URL")
    header = settings.auth_header
    if not header or not all(c.isalnum() or c in "-_" for c in header):
        raise ConfigError(f"PERSISTREAM_AUTH_HEADER must be an HTTP header name, not {header!r}")
    if settings.secret_key is not None and len(settings.secret_key) < 16:
        raise ConfigError("PERSISTREAM_SECRET_KEY must be at least 16 characters")


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


def _parse_days(name: str, value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number of days (fractions allowed), not {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigError(f"{name} must be a finite number of days, not {value!r}")
    return number


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


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def _looks_like_host(host: str) -> bool:
    return bool(host) and not any(c in host for c in "/@ ") and "://" not in host


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{name} must be greater than zero, not {value!r}")


def _looks_like_origin(origin: str) -> bool:
    scheme, sep, rest = origin.partition("://")
    return bool(sep) and scheme in ("http", "https") and bool(rest) and "/" not in rest


def _read_env_file(path: Path) -> dict[str, str]:
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
