"""`package.module:attribute` import strings, resolved the way uvicorn resolves an app: the module is imported, then
each dotted name of the attribute is looked up in turn. Used for `PERSISTREAM_TOOLS` and `PERSISTREAM_PROVIDER`;
whatever goes wrong is a `ValueError` whose message quotes the string and says what failed (never a traceback), for
the caller to turn into a `ConfigError` naming its variable.
"""

from __future__ import annotations

import importlib
from typing import Any

from persistream.redact import redact_line


def import_attribute(spec: str, what: str) -> Any:
    """The object `spec` names; `what` ("tools", "provider") opens each error message."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{what} {spec!r}: expected an import string of the form package.module:attribute")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # a module whose own code fails is as unusable as a missing one
        reason = redact_line(str(exc) if isinstance(exc, ImportError) else f"{type(exc).__name__}: {exc}")
        raise ValueError(f"{what} {spec!r}: the module {module_name!r} does not import ({reason})") from exc
    try:
        for name in attribute.split("."):
            target = getattr(target, name)
    except AttributeError:
        raise ValueError(f"{what} {spec!r}: {module_name!r} has no attribute {attribute!r}") from None
    return target
