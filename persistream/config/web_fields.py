"""The fields of `Settings` (config/settings.py) about who may do what and how the server runs: identity, limits,
the web edge and operations. Each is one `setting(...)`; `Settings` inherits them after `ModelFields`.
"""

from __future__ import annotations

from dataclasses import dataclass

from persistream.config.parsers import (
    BOOL,
    DAYS,
    HEADER,
    HOSTS,
    INT,
    ORIGINS,
    PEM,
    POSITIVE,
    RATE,
    SECONDS,
    TEXT,
    URL,
    choice,
    must,
)
from persistream.config.variables import AUTH, LIMITS, OPERATIONS, WEB, setting

AUTH_MODES = ("none", "anonymous", "jwt", "proxy")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class WebFields:
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
    max_generations: int = setting(
        "PERSISTREAM_MAX_GENERATIONS",
        200,
        INT,
        "Answers one process generates at once; past it new answers wait in line (`0`: no limit).",
        LIMITS,
        must(lambda v: v >= 0, "be zero (no limit) or more"),
    )
    admission_queue: int = setting(
        "PERSISTREAM_ADMISSION_QUEUE",
        200,
        INT,
        "Answers that may wait for one of a full process's slots; one more is `RATE_LIMITED`.",
        LIMITS,
        must(lambda v: v >= 0, "be zero (refuse at once) or more"),
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
