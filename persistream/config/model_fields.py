"""The fields of `Settings` (config/settings.py) about where answers come from and how they are kept: storage, the
model, its tools and the streams' timing. Each is one `setting(...)`; `Settings` inherits them, so their order here is
their order in the configuration reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from persistream.config.parsers import (
    BROADCAST_URL,
    DATABASE_URL,
    DELAY,
    IMPORT_STRING,
    INT,
    POSITIVE,
    PROVIDER,
    SECONDS,
    TABLE_PREFIX,
    TEXT,
    URL,
)
from persistream.config.variables import MODEL, STORAGE, STREAMS, TOOLS, setting

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer clearly and concisely; use Markdown where it helps."


@dataclass(frozen=True)
class ModelFields:
    database_url: str = setting(
        "PERSISTREAM_DATABASE_URL",
        "sqlite+aiosqlite:///persistream.db",
        DATABASE_URL,
        "SQLAlchemy async URL of the database; `postgresql+asyncpg://...` to scale out.",
        STORAGE,
    )
    table_prefix: str = setting(
        "PERSISTREAM_TABLE_PREFIX",
        "",
        TABLE_PREFIX,
        "Put before the name of every persistream table, index and its migration history table "
        "(`ps_` gives `ps_threads`, `ps_persistream_alembic_version`), for a database shared with an app's own "
        "tables or another persistream. Set it before the first `persistream migrate`.",
        STORAGE,
        shown="none",
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
        PROVIDER,
        "Where answers come from: an OpenAI-compatible server, the offline `demo` model, or your own generator, "
        "`package.module:attribute` (an object, a class, a factory taking the settings or an async generator "
        "function: see [Generators](generators.md)).",
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
