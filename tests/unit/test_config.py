"""Settings from the environment: the contract's defaults, every variable read, and a wrong value refused with a
message that names the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from persistream.config import DEFAULT_SYSTEM_PROMPT, ConfigError, Settings


def from_env(env: dict[str, str], env_file: Path | None = None) -> Settings:
    return Settings.from_env(env, env_file=env_file)


def test_defaults_are_the_contracts() -> None:
    settings = from_env({})
    assert settings.database_url == "sqlite+aiosqlite:///persistream.db"
    assert settings.broadcast_url == "memory://"
    assert settings.provider == "demo"
    assert settings.openai_api_key is None
    assert settings.openai_base_url is None
    assert settings.model == "gpt-4.1-mini"
    assert settings.system_prompt == DEFAULT_SYSTEM_PROMPT
    assert settings.max_prompt_chars == 16000
    assert (settings.flush_chars, settings.flush_ms) == (1000, 500)
    assert (settings.pending_timeout, settings.stream_timeout) == (300, 60)
    assert settings.allowed_origins == ()


def test_every_variable_is_read() -> None:
    settings = from_env(
        {
            "PERSISTREAM_DATABASE_URL": "postgresql+asyncpg://u:p@db/app",
            "PERSISTREAM_BROADCAST_URL": "redis://cache:6379",
            "PERSISTREAM_PROVIDER": " OpenAI ",
            "OPENAI_API_KEY": "sk-abc",
            "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1",
            "PERSISTREAM_MODEL": "llama3",
            "PERSISTREAM_SYSTEM_PROMPT": "Be terse.",
            "PERSISTREAM_MAX_PROMPT_CHARS": "20",
            "PERSISTREAM_FLUSH_CHARS": " 64 ",
            "PERSISTREAM_FLUSH_MS": "250",
            "PERSISTREAM_PENDING_TIMEOUT": "1.5",
            "PERSISTREAM_STREAM_TIMEOUT": "2",
            "PERSISTREAM_ALLOWED_ORIGINS": "http://localhost:5173/, https://app.example.com ,,",
        }
    )
    assert settings.database_url == "postgresql+asyncpg://u:p@db/app"
    assert settings.broadcast_url == "redis://cache:6379"
    assert settings.provider == "openai"
    assert settings.openai_api_key == "sk-abc"
    assert settings.openai_base_url == "http://127.0.0.1:11434/v1"
    assert settings.model == "llama3"
    assert settings.system_prompt == "Be terse."
    assert settings.max_prompt_chars == 20
    assert (settings.flush_chars, settings.flush_ms) == (64, 250)
    assert (settings.pending_timeout, settings.stream_timeout) == (1.5, 2.0)
    assert settings.allowed_origins == ("http://localhost:5173", "https://app.example.com")


def test_provider_defaults_to_openai_when_a_key_is_set() -> None:
    assert from_env({"OPENAI_API_KEY": "sk-x"}).provider == "openai"
    assert from_env({"OPENAI_API_KEY": ""}).provider == "demo"
    assert from_env({"OPENAI_API_KEY": "sk-x", "PERSISTREAM_PROVIDER": "demo"}).provider == "demo"


def test_empty_values_mean_unset() -> None:
    assert from_env({"PERSISTREAM_FLUSH_MS": "", "PERSISTREAM_MODEL": ""}) == from_env({})


def test_the_key_never_shows_in_repr() -> None:
    assert "sk-secret" not in repr(from_env({"OPENAI_API_KEY": "sk-secret"}))


def test_limits_defaults_are_the_contracts() -> None:
    settings = from_env({})
    # A personal server (no authentication) is not rate limited; any other mode is.
    assert settings.send_rate_limit is None
    assert settings.live_streams_limit == 0
    authed = settings.replace(auth_mode="jwt", jwt_secret="s" * 32)
    assert authed.send_rate_limit == (20, 60)
    assert authed.live_streams_limit == 3
    assert settings.max_context_chars == 48000
    assert settings.max_answer_tokens is None
    assert settings.max_subscriptions == 100
    assert settings.max_body_bytes == 1048576
    assert (settings.max_query_depth, settings.max_aliases, settings.max_query_tokens) == (8, 30, 4000)
    assert (settings.graphiql, settings.introspection) == (True, True)
    assert settings.hosts_allowed == ("localhost", "127.0.0.1", "[::1]")
    assert settings.replace(bind_host="0.0.0.0").hosts_allowed == ("*",)
    assert settings.replace(bind_host="::1").hosts_allowed == ("localhost", "127.0.0.1", "[::1]")


def test_limits_variables_are_read() -> None:
    settings = from_env(
        {
            "PERSISTREAM_RATE_LIMIT": " 5/Second ",
            "PERSISTREAM_MAX_LIVE_STREAMS": "0",
            "PERSISTREAM_MAX_CONTEXT_CHARS": "100",
            "PERSISTREAM_MAX_ANSWER_TOKENS": "256",
            "PERSISTREAM_MAX_SUBSCRIPTIONS": "7",
            "PERSISTREAM_MAX_BODY_BYTES": "2048",
            "PERSISTREAM_MAX_QUERY_DEPTH": "4",
            "PERSISTREAM_MAX_ALIASES": "2",
            "PERSISTREAM_MAX_QUERY_TOKENS": "50",
            "PERSISTREAM_GRAPHIQL": "false",
            "PERSISTREAM_INTROSPECTION": "0",
            "PERSISTREAM_ALLOWED_HOSTS": "Chat.Example, localhost",
            "PERSISTREAM_BIND_HOST": "0.0.0.0",
        }
    ).replace(auth_mode="anonymous")
    assert settings.send_rate_limit == (5, 1)
    assert settings.live_streams_limit == 0  # set explicitly: no limit even though the mode has one
    assert (settings.max_context_chars, settings.max_answer_tokens) == (100, 256)
    assert (settings.max_subscriptions, settings.max_body_bytes) == (7, 2048)
    assert (settings.max_query_depth, settings.max_aliases, settings.max_query_tokens) == (4, 2, 50)
    assert (settings.graphiql, settings.introspection) == (False, False)
    assert settings.hosts_allowed == ("chat.example", "localhost")
    assert (
        from_env({"PERSISTREAM_RATE_LIMIT": "off"}).replace(auth_mode="jwt", jwt_secret="s" * 32).send_rate_limit
        is None
    )
    assert from_env({"PERSISTREAM_BIND_HOST": "0.0.0.0"}).hosts_allowed == ("*",)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PERSISTREAM_FLUSH_MS", "abc"),
        ("PERSISTREAM_FLUSH_MS", "0"),
        ("PERSISTREAM_FLUSH_MS", "1.5"),
        ("PERSISTREAM_FLUSH_CHARS", "-1"),
        ("PERSISTREAM_MAX_PROMPT_CHARS", "lots"),
        ("PERSISTREAM_MAX_PROMPT_CHARS", "0"),
        ("PERSISTREAM_PENDING_TIMEOUT", "soon"),
        ("PERSISTREAM_PENDING_TIMEOUT", "0"),
        ("PERSISTREAM_STREAM_TIMEOUT", "nan"),
        ("PERSISTREAM_STREAM_TIMEOUT", "inf"),
        ("PERSISTREAM_STREAM_TIMEOUT", "-5"),
        ("PERSISTREAM_DEMO_TOKEN_DELAY", "-0.1"),
        ("PERSISTREAM_PROVIDER", "anthropic"),
        ("PERSISTREAM_DATABASE_URL", "sqlite:///sync-driver.db"),
        ("PERSISTREAM_DATABASE_URL", "mysql://db/app"),
        ("PERSISTREAM_BROADCAST_URL", "kafka://broker"),
        ("PERSISTREAM_ALLOWED_ORIGINS", "localhost:5173"),
        ("PERSISTREAM_ALLOWED_ORIGINS", "http://ok.example, ftp://files.example"),
        ("PERSISTREAM_ALLOWED_ORIGINS", "http://app.example/path"),
        ("PERSISTREAM_RATE_LIMIT", "20"),
        ("PERSISTREAM_RATE_LIMIT", "20/day"),
        ("PERSISTREAM_RATE_LIMIT", "0/minute"),
        ("PERSISTREAM_RATE_LIMIT", "-1/minute"),
        ("PERSISTREAM_MAX_LIVE_STREAMS", "-1"),
        ("PERSISTREAM_MAX_LIVE_STREAMS", "many"),
        ("PERSISTREAM_MAX_CONTEXT_CHARS", "0"),
        ("PERSISTREAM_MAX_ANSWER_TOKENS", "0"),
        ("PERSISTREAM_MAX_SUBSCRIPTIONS", "0"),
        ("PERSISTREAM_MAX_BODY_BYTES", "1MB"),
        ("PERSISTREAM_MAX_QUERY_DEPTH", "0"),
        ("PERSISTREAM_MAX_ALIASES", "-3"),
        ("PERSISTREAM_MAX_QUERY_TOKENS", "x"),
        ("PERSISTREAM_GRAPHIQL", "maybe"),
        ("PERSISTREAM_INTROSPECTION", "2"),
        ("PERSISTREAM_ALLOWED_HOSTS", "http://chat.example"),
        ("PERSISTREAM_ALLOWED_HOSTS", "a.example, user@b.example"),
    ],
)
def test_a_wrong_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_env({variable: value})
    assert variable in str(raised.value)


def test_env_file_fills_unset_variables_only(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\n"
        "\n"
        "PERSISTREAM_MODEL='from-file'\n"
        'export PERSISTREAM_SYSTEM_PROMPT="Hello = world"\n'
        "PERSISTREAM_FLUSH_MS=300\n"
        "not a setting\n",
        encoding="utf-8",
    )
    settings = from_env({"PERSISTREAM_FLUSH_MS": "700"}, env_file)
    assert settings.model == "from-file"
    assert settings.system_prompt == "Hello = world"
    assert settings.flush_ms == 700  # the environment wins over the file
    assert from_env({}, tmp_path / "missing.env") == from_env({})


def test_a_wrong_value_in_the_env_file_names_its_variable(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PERSISTREAM_FLUSH_CHARS=many\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="PERSISTREAM_FLUSH_CHARS"):
        from_env({}, env_file)


def test_derived_intervals_follow_the_shortest_timeout() -> None:
    settings = from_env({"PERSISTREAM_PENDING_TIMEOUT": "1", "PERSISTREAM_STREAM_TIMEOUT": "2"})
    assert settings.sweep_interval == pytest.approx(0.25)
    assert settings.heartbeat_interval == pytest.approx(0.5)
    assert from_env({}).sweep_interval == 5.0


def test_auth_defaults_to_none_and_not_explicit() -> None:
    settings = from_env({})
    assert (settings.auth_mode, settings.auth_explicit) == ("none", False)
    assert settings.auth_header == "X-Forwarded-User"
    assert settings.secret_key is None


def test_auth_variables_are_read() -> None:
    settings = from_env(
        {
            "PERSISTREAM_AUTH": " JWT ",
            "PERSISTREAM_JWT_SECRET": "s3cret-s3cret-s3cret",
            "PERSISTREAM_JWT_AUDIENCE": "chat",
            "PERSISTREAM_JWT_ISSUER": "https://issuer.example",
            "PERSISTREAM_AUTH_HEADER": "X-Auth-Request-User",
            "PERSISTREAM_SECRET_KEY": "0123456789abcdef0123",
        }
    )
    assert (settings.auth_mode, settings.auth_explicit) == ("jwt", True)
    assert settings.jwt_secret == "s3cret-s3cret-s3cret"
    assert (settings.jwt_audience, settings.jwt_issuer) == ("chat", "https://issuer.example")
    assert settings.auth_header == "X-Auth-Request-User"
    assert settings.secret_key == "0123456789abcdef0123"
    assert "s3cret" not in repr(settings) and "0123456789abcdef" not in repr(settings)
    assert from_env({"PERSISTREAM_AUTH": "none"}).auth_explicit is True


def test_a_public_key_with_escaped_newlines_is_a_pem() -> None:
    pem = "-----BEGIN PUBLIC KEY-----\\nabc\\n-----END PUBLIC KEY-----"
    settings = from_env({"PERSISTREAM_AUTH": "jwt", "PERSISTREAM_JWT_PUBLIC_KEY": pem})
    assert settings.jwt_public_key == pem.replace("\\n", "\n")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"PERSISTREAM_AUTH": "oauth"}, "PERSISTREAM_AUTH"),
        ({"PERSISTREAM_AUTH": "jwt"}, "PERSISTREAM_JWT_SECRET"),
        (
            {"PERSISTREAM_AUTH": "jwt", "PERSISTREAM_JWT_SECRET": "x" * 20, "PERSISTREAM_JWT_JWKS_URL": "http://a/"},
            "PERSISTREAM_JWT_JWKS_URL",
        ),
        ({"PERSISTREAM_AUTH": "jwt", "PERSISTREAM_JWT_PUBLIC_KEY": "not a pem"}, "PERSISTREAM_JWT_PUBLIC_KEY"),
        ({"PERSISTREAM_AUTH": "jwt", "PERSISTREAM_JWT_JWKS_URL": "ftp://keys"}, "PERSISTREAM_JWT_JWKS_URL"),
        ({"PERSISTREAM_AUTH_HEADER": "X User"}, "PERSISTREAM_AUTH_HEADER"),
        ({"PERSISTREAM_SECRET_KEY": "short"}, "PERSISTREAM_SECRET_KEY"),
    ],
)
def test_a_wrong_auth_setting_names_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        from_env(env)


def test_operations_settings() -> None:
    defaults = from_env({})
    assert (defaults.metrics, defaults.log_format, defaults.log_level, defaults.shutdown_grace) == (
        True,
        "text",
        "INFO",
        30.0,
    )
    assert defaults.metrics_multiprocess_dir is None
    settings = from_env(
        {
            "PERSISTREAM_METRICS": "false",
            "PERSISTREAM_LOG_FORMAT": " JSON ",
            "PERSISTREAM_LOG_LEVEL": "debug",
            "PERSISTREAM_SHUTDOWN_GRACE": "2.5",
            "PROMETHEUS_MULTIPROC_DIR": "/var/run/persistream-metrics",
        }
    )
    assert (settings.metrics, settings.log_format, settings.log_level, settings.shutdown_grace) == (
        False,
        "json",
        "DEBUG",
        2.5,
    )
    assert settings.metrics_multiprocess_dir == "/var/run/persistream-metrics"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PERSISTREAM_METRICS", "maybe"),
        ("PERSISTREAM_LOG_FORMAT", "xml"),
        ("PERSISTREAM_LOG_LEVEL", "chatty"),
        ("PERSISTREAM_SHUTDOWN_GRACE", "-1"),
        ("PERSISTREAM_SHUTDOWN_GRACE", "soon"),
    ],
)
def test_operations_settings_refuse_bad_values(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        from_env({variable: value})


def test_retention_is_off_by_default_and_takes_fractions_of_a_day() -> None:
    assert from_env({}).retention_days is None
    assert from_env({}).retention_seconds is None
    settings = from_env({"PERSISTREAM_RETENTION_DAYS": " 0.5 "})
    assert (settings.retention_days, settings.retention_seconds) == (0.5, 43200.0)
    assert from_env({"PERSISTREAM_RETENTION_DAYS": "30"}).retention_seconds == 30 * 86400


@pytest.mark.parametrize("value", ["0", "-1", "-0.5", "soon", "30d", "nan", "inf"])
def test_a_wrong_retention_is_refused_with_its_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="PERSISTREAM_RETENTION_DAYS"):
        from_env({"PERSISTREAM_RETENTION_DAYS": value})
