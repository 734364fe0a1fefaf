"""Settings, read once from the environment (and an optional `.env`) and passed down.

Nothing else in the package reads the server's settings from `os.environ`: tests and embedding apps build
`Settings(...)` directly. A wrong value raises `ConfigError` naming the variable, so `persistream serve` can refuse
to start with a message the operator can act on.

- config/settings.py: `Settings`, each field with its variable, kind, default, check and description;
- config/variables.py: how a setting is declared (`setting`, `Variable`), and the variables read elsewhere;
- config/timing.py: the sweep and heartbeat intervals derived from the timeouts;
- config/parsers.py: how a variable's text is parsed and a value checked, and the `.env` reader;
- config/reference.py: docs/configuration.md, generated from the declarations
  (`python -m persistream.config.reference` rewrites it).
"""

from persistream.config.parsers import RATE_UNITS, ConfigError, parse_rate_limit
from persistream.config.settings import (
    AUTH_MODES,
    DEFAULT_SYSTEM_PROMPT,
    LOG_FORMATS,
    LOG_LEVELS,
    Settings,
)
from persistream.config.timing import heartbeat_interval, sweep_interval
from persistream.config.variables import OUTSIDE_SETTINGS, Variable

__all__ = [
    "AUTH_MODES",
    "DEFAULT_SYSTEM_PROMPT",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "OUTSIDE_SETTINGS",
    "RATE_UNITS",
    "ConfigError",
    "Settings",
    "Variable",
    "heartbeat_interval",
    "parse_rate_limit",
    "sweep_interval",
]
