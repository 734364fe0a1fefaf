"""`Settings`: every setting of a server, declared once, read once from the environment and passed down.

Each field read from a variable is made by `setting(...)` (config/variables.py): its variable, kind (how the text
is parsed), default, check and description sit together, in config/model_fields.py (storage, model, tools, streams)
and config/web_fields.py (identity, limits, web, operations). `from_env` parses, `__post_init__` checks and the
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

from persistream.config.model_fields import DEFAULT_SYSTEM_PROMPT, ModelFields
from persistream.config.parsers import check_jwt_keys, parse_rate_limit, read_environment
from persistream.config.timing import heartbeat_interval, sweep_interval
from persistream.config.variables import check_declared, parse_declared
from persistream.config.web_fields import AUTH_MODES, LOG_FORMATS, LOG_LEVELS, WebFields

__all__ = ["AUTH_MODES", "DEFAULT_SYSTEM_PROMPT", "LOG_FORMATS", "LOG_LEVELS", "Settings"]


@dataclass(frozen=True)
class Settings(WebFields, ModelFields):
    """One server's settings: built with keyword arguments, `from_env`, or `replace` on another."""

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
