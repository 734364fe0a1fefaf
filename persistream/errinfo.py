"""One-line descriptions of unexpected exceptions for the logs.

Logs never carry a traceback (it can quote code, paths and data) or a secret: the exception's type, the place it
was raised and a redacted, bounded first line of its message are enough to find the fault.
"""

from __future__ import annotations

from persistream.redact import redact_line


def describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    message = redact_line(str(exc))
    return f"{type(exc).__name__} at {raised_at(exc)}" + (f": {message}" if message else "")


def raised_at(exc: BaseException) -> str:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "?"
    return f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
