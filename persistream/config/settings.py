"""`Settings`: every setting of a server, declared once, read once from the environment and passed down.

Each field read from a variable is made by `setting(...)` (config/variables.py): its variable, kind (how the text
is parsed), default, check and description sit together. `from_env` parses, `__post_init__` checks and the
configuration reference (config/reference.py) documents exactly those fields, so no variable is read unchecked or
undocumented. Fields without a variable are for code that builds `Settings` itself. Checks run on every `Settings`,
however it was built (`from_env`, keyword arguments, `replace`); the JWT key sources are then checked together.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from persistream.config.parsers import (
    BOOL,
    BROADCAST_URL,
    DATABASE_URL,
    DAYS,
    DELAY,
    HEADER,
    HOSTS,
    IMPORT_STRING,
    INT,
    ORIGINS,
    PEM,
    POSITIVE,
    RATE,
    SECONDS,
    TEXT,
    URL,
    check_jwt_keys,
    choice,
    must,
    parse_rate_limit,
    read_environment,
)
from persistream.config.timing import heartbeat_interval, sweep_interval
from persistream.config.variables import (
    AUTH,
    LIMITS,
    MODEL,
    OPERATIONS,
    STORAGE,
    STREAMS,
    TOOLS,
    WEB,
    check_declared,
    parse_declared,
    setting,
)

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer clearly and concisely; use Markdown where it helps."
AUTH_MODES = ("none", "anonymous", "jwt", "proxy")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Settings:
    """One server's settings: built with keyword arguments, `from_env`, or `replace` on another."""

    database_url: str = setting(
        "PERSISTREAM_DATABASE_URL",
        "sqlite+aiosqlite:///persistream.db",
        DATABASE_URL,
        "SQLAlchemy async URL of the database; `postgresql+asyncpg://...` to scale out.",
        STORAGE,
    )
    broadcast_url: str = setting(
        "PERSISTREAM_BROADCAST_URL",
        "memory://",
        BROADCAST_URL,
        "broadcaster URL; `redis://...` (or `postgres://...`) to reach every process when scaling out.",
        STORAGE,
    )
    provider: str = setting(
        "PERSISTREAM_PROVIDER",
        "demo",
        choice(("openai", "demo"), "'openai' or 'demo'"),
        "Where answers come from: an OpenAI-compatible server, or the offline `demo` model.",
        MODEL,
        shown="`openai` when `OPENAI_API_KEY` is set, else `demo`",
    )
    openai_api_key: str | None = setting(
        "OPENAI_API_KEY", None, TEXT, "The openai SDK's own variable: the provider's API key.", MODEL, secret=True
    )
    openai_base_url: str | None = setting(
        "OPENAI_BASE_URL", None, URL, "The openai SDK's own variable: any OpenAI-compatible server's URL.", MODEL
    )
    model: str = setting("PERSISTREAM_MODEL", "gpt-4.1-mini", TEXT, "Model name sent to the provider.", MODEL)
    system_prompt: str = setting(
        "PERSISTREAM_SYSTEM_PROMPT", DEFAULT_SYSTEM_PROMPT, TEXT, "System message sent before every thread.", MODEL
    )
    demo_token_delay: float = setting(
        "PERSISTREAM_DEMO_TOKEN_DELAY",
        0.03,
        DELAY,
        "Seconds between two tokens of the offline demo model.",
        MODEL,
    )
    # Request timeout and retries for the openai SDK (its defaults are 600 s and 2 retries); no variable.
    openai_timeout: float = 60.0
    openai_max_retries: int = 1
    tools: str | None = setting(
        "PERSISTREAM_TOOLS",
        None,
        IMPORT_STRING,
        "Tools the model may call: `package.module:attribute` naming a list of Python functions (async or not).",
        TOOLS,
        shown="unset: no tools",
    )
    tool_timeout: float = setting(
        "PERSISTREAM_TOOL_TIMEOUT",
        30.0,
        SECONDS,
        "Seconds one tool call may run; past it the model reads that the tool did not finish.",
        TOOLS,
        POSITIVE,
    )
    max_steps: int = setting(
        "PERSISTREAM_MAX_STEPS",
        8,
        INT,
        "Model calls one answer may make with tools; an answer that needs more ends in `ERROR`.",
        TOOLS,
        POSITIVE,
    )
    flush_chars: int = setting(
        "PERSISTREAM_FLUSH_CHARS",
        1000,
        INT,
        "A chunk is stored at a sentence or line end, or at this many characters.",
        STREAMS,
        POSITIVE,
    )
    flush_ms: int = setting(
        "PERSISTREAM_FLUSH_MS",
        500,
        INT,
        "A chunk is also stored this many milliseconds after its first token.",
        STREAMS,
        POSITIVE,
    )
    pending_timeout: float = setting(
        "PERSISTREAM_PENDING_TIMEOUT",
        300.0,
        SECONDS,
        "An answer nobody starts generating within this many seconds ends in `TIMEOUT`.",
        STREAMS,
        POSITIVE,
    )
    stream_timeout: float = setting(
        "PERSISTREAM_STREAM_TIMEOUT",
        60.0,
        SECONDS,
        "An answer whose model goes silent this long after a delta (or whose process does) ends in `TIMEOUT`.",
        STREAMS,
        POSITIVE,
    )
    first_token_timeout: float = setting(
        "PERSISTREAM_FIRST_TOKEN_TIMEOUT",
        600.0,
        SECONDS,
        "Silence allowed before the model's first delta (reasoning models may think first); then `TIMEOUT`.",
        STREAMS,
        POSITIVE,
    )
    # Seconds of pub/sub silence after which a live stream is checked in the database anyway: one read per observed
    # stream per process (its feed), whatever the number of observers. No variable.
    observer_poll_interval: float = 1.0
    auth_mode: str = setting(
        "PERSISTREAM_AUTH",
        "none",
        choice(AUTH_MODES, "one of none, anonymous, jwt, proxy"),
        "Who the caller is: one local user, a signed cookie, a bearer token, or a header set by a proxy.",
        AUTH,
    )
    # Whether PERSISTREAM_AUTH was set at all: protected mode refuses a public bind only when it was not.
    auth_explicit: bool = False
    secret_key: str | None = setting(
        "PERSISTREAM_SECRET_KEY",
        None,
        TEXT,
        "Signs the `anonymous` cookie (16 characters or more).",
        AUTH,
        must(lambda v: len(v) >= 16, "be at least 16 characters", show_value=False),
        shown="unset: generated once and kept in the database",
        secret=True,
    )
    jwt_secret: str | None = setting(
        "PERSISTREAM_JWT_SECRET",
        None,
        TEXT,
        "`jwt`: an HS256 secret; `jwt` needs exactly one of the secret, the public key or the JWKS URL.",
        AUTH,
        secret=True,
    )
    jwt_public_key: str | None = setting(
        "PERSISTREAM_JWT_PUBLIC_KEY",
        None,
        PEM,
        "`jwt`: a PEM public key (RS256, ES256, ...); a literal `\\n` stands for a line break.",
        AUTH,
        secret=True,
    )
    jwt_jwks_url: str | None = setting(
        "PERSISTREAM_JWT_JWKS_URL", None, URL, "`jwt`: an `http(s)://` URL of the issuer's JWKS.", AUTH
    )
    jwt_audience: str | None = setting(
        "PERSISTREAM_JWT_AUDIENCE", None, TEXT, "`jwt`: the `aud` a token must carry; unchecked when unset.", AUTH
    )
    jwt_issuer: str | None = setting(
        "PERSISTREAM_JWT_ISSUER", None, TEXT, "`jwt`: the `iss` a token must carry; unchecked when unset.", AUTH
    )
    auth_header: str = setting(
        "PERSISTREAM_AUTH_HEADER", "X-Forwarded-User", HEADER, "`proxy`: the header that names the user.", AUTH
    )
    rate_limit: str | None = setting(
        "PERSISTREAM_RATE_LIMIT",
        None,
        RATE,
        "`sendMessage` calls one identity may make per second, minute or hour.",
        LIMITS,
        shown="`off` when `PERSISTREAM_AUTH` is `none`, else `20/minute`",
    )
    max_live_streams: int | None = setting(
        "PERSISTREAM_MAX_LIVE_STREAMS",
        None,
        INT,
        "Answers one identity may have `PENDING` or `STREAMING` at once; `0` is no limit.",
        LIMITS,
        must(lambda v: v >= 0, "be zero (no limit) or more"),
        shown="`0` when `PERSISTREAM_AUTH` is `none`, else `3`",
    )
    max_prompt_chars: int = setting(
        "PERSISTREAM_MAX_PROMPT_CHARS", 16000, INT, "Longest prompt accepted, in characters.", LIMITS, POSITIVE
    )
    max_context_chars: int = setting(
        "PERSISTREAM_MAX_CONTEXT_CHARS",
        48000,
        INT,
        "Characters sent to the model: system prompt, new prompt, then the newest earlier turns that fit.",
        LIMITS,
        POSITIVE,
    )
    max_answer_tokens: int | None = setting(
        "PERSISTREAM_MAX_ANSWER_TOKENS",
        None,
        INT,
        "Sent to the model as `max_tokens` and held: a longer answer is cut in `ERROR`; unset, no limit.",
        LIMITS,
        POSITIVE,
    )
    max_subscriptions: int = setting(
        "PERSISTREAM_MAX_SUBSCRIPTIONS", 100, INT, "Operations running at once on one WebSocket.", LIMITS, POSITIVE
    )
    max_body_bytes: int = setting(
        "PERSISTREAM_MAX_BODY_BYTES",
        1 << 20,
        INT,
        "Largest HTTP request body (`413` past it) or WebSocket message (closed with `1009`).",
        LIMITS,
        POSITIVE,
    )
    max_query_depth: int = setting(
        "PERSISTREAM_MAX_QUERY_DEPTH", 8, INT, "Deepest GraphQL document accepted.", LIMITS, POSITIVE
    )
    max_aliases: int = setting(
        "PERSISTREAM_MAX_ALIASES", 30, INT, "Most aliases in one GraphQL document.", LIMITS, POSITIVE
    )
    max_query_tokens: int = setting(
        "PERSISTREAM_MAX_QUERY_TOKENS", 4000, INT, "Most tokens in one GraphQL document.", LIMITS, POSITIVE
    )
    allowed_origins: tuple[str, ...] = setting(
        "PERSISTREAM_ALLOWED_ORIGINS",
        (),
        ORIGINS,
        "Browser origins (or `*`) allowed to call `/graphql` from another page, over HTTP (CORS) and WebSocket.",
        WEB,
        shown="empty: same origin only",
    )
    allowed_hosts: tuple[str, ...] | None = setting(
        "PERSISTREAM_ALLOWED_HOSTS",
        None,
        HOSTS,
        "`Host` names accepted on every route (any port; `*` for any); a set list replaces the default.",
        WEB,
        shown="`localhost`, `127.0.0.1`, `[::1]` when bound to a loopback address, else any",
    )
    bind_host: str = setting(
        "PERSISTREAM_BIND_HOST",
        "127.0.0.1",
        TEXT,
        "Set by `serve --workers N` for its workers to its `--host`; only decides the default allowed hosts.",
        WEB,
    )
    graphiql: bool = setting(
        "PERSISTREAM_GRAPHIQL", True, BOOL, "`false` hides GraphiQL (a browser GET of `/graphql` is 404).", WEB
    )
    introspection: bool = setting(
        "PERSISTREAM_INTROSPECTION", True, BOOL, "`false` refuses `__schema` and `__type` (`__typename` stays).", WEB
    )
    metrics: bool = setting("PERSISTREAM_METRICS", True, BOOL, "`false` removes `GET /metrics` (404).", OPERATIONS)
    metrics_multiprocess_dir: str | None = setting(
        "PROMETHEUS_MULTIPROC_DIR",
        None,
        TEXT,
        "Where workers keep their metrics; set only to choose the directory (prometheus_client reads it at import).",
        OPERATIONS,
        shown="unset: `serve --workers N` makes a temporary one",
    )
    log_format: str = setting(
        "PERSISTREAM_LOG_FORMAT",
        "text",
        choice(LOG_FORMATS, "'text' or 'json'"),
        "`json`: one JSON object per line, uvicorn's lines included.",
        OPERATIONS,
    )
    log_level: str = setting(
        "PERSISTREAM_LOG_LEVEL",
        "INFO",
        choice(LOG_LEVELS, f"one of {', '.join(LOG_LEVELS)}", upper=True),
        "Lowest level logged; `serve --log-level` overrides it.",
        OPERATIONS,
    )
    shutdown_grace: float = setting(
        "PERSISTREAM_SHUTDOWN_GRACE",
        30.0,
        SECONDS,
        "Seconds a stopping server lets answers being generated finish before it ends them in `ERROR`.",
        OPERATIONS,
        must(lambda v: v >= 0, "be zero or more seconds"),
    )
    retention_days: float | None = setting(
        "PERSISTREAM_RETENTION_DAYS",
        None,
        DAYS,
        "Days (fractions allowed) after which a thread whose newest message and answers' ends are older is deleted.",
        OPERATIONS,
        must(lambda v: v > 0, "be a number of days greater than zero"),
        shown="unset: threads are kept forever",
    )

    def __post_init__(self) -> None:
        check_declared(self)
        if self.auth_mode == "jwt":
            check_jwt_keys(self.jwt_secret, self.jwt_public_key, self.jwt_jwks_url)

    @property
    def sweep_interval(self) -> float:
        return sweep_interval(self.pending_timeout, self.stream_timeout)

    @property
    def heartbeat_interval(self) -> float:
        return heartbeat_interval(self.stream_timeout)

    @property
    def retention_seconds(self) -> float | None:
        """How old (newest message, last answer's end) a thread may get before it is deleted; None: forever."""
        return None if self.retention_days is None else self.retention_days * 86400

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
        env = read_environment(os.environ if environ is None else environ, env_file)
        kwargs = parse_declared(cls, env)
        if "provider" not in kwargs:  # a key alone means the model behind it
            kwargs["provider"] = "openai" if env.get("OPENAI_API_KEY") else "demo"
        kwargs["auth_explicit"] = "auth_mode" in kwargs
        return cls(**kwargs)
