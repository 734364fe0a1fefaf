"""Logging for `persistream serve`: text lines (the default) or one JSON object per line, uvicorn's own included.

A JSON line is `{"ts", "level", "logger", "message", ...}` with `ts` in ISO 8601 (UTC), plus `stream_id` and
`thread_id` when the line concerns one. Those two travel in context variables (structlog's), bound with
`bind_stream` where a stream's work starts (the claim, the generation task, a driver or observer subscription): a
task started from there inherits them, so no call has to pass them along, and every stdlib `logging` call made in
that task is tagged, whichever module makes it.

Nothing secret or long goes out: uvicorn's access lines lose share tokens (`logfilters.AccessLogRedaction`), every
JSON message is redacted again (`redact.redact`), and an exception attached to a record becomes one line naming its
type and place (`errinfo.describe`), never a traceback.
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime
from typing import Any

import structlog
from structlog.contextvars import bind_contextvars, merge_contextvars
from structlog.typing import EventDict, WrappedLogger

from persistream.errinfo import describe
from persistream.redact import redact

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Context keys copied onto a JSON line, in this order, after the four every line has.
CONTEXT_KEYS = ("stream_id", "thread_id")


def bind_stream(stream_id: str, thread_id: str | None = None) -> None:
    """Tag every later log line of the current task, and of the tasks it starts, with this stream (and thread)."""
    if thread_id is None:
        bind_contextvars(stream_id=stream_id)
    else:
        bind_contextvars(stream_id=stream_id, thread_id=thread_id)


def _contract_shape(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    """The line as the contract describes it, built from the stdlib record the event came from."""
    record: logging.LogRecord = event["_record"]
    line: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname,
        "logger": record.name,
        "message": redact(str(event.get("event", ""))),
    }
    for key in CONTEXT_KEYS:
        if event.get(key) is not None:
            line[key] = event[key]
    exc_info = event.get("exc_info")
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and exc_info[1] is not None:
        line["error"] = describe(exc_info[1])
    return line


class JsonFormatter(structlog.stdlib.ProcessorFormatter):
    """For logging's dictConfig (`{"()": "persistream.logs.JsonFormatter"}`): every record as one JSON object."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(
            foreign_pre_chain=[merge_contextvars],
            processors=[_contract_shape, structlog.processors.JSONRenderer(ensure_ascii=False)],
        )


def log_config(log_format: str, log_level: str) -> dict[str, Any]:
    """uvicorn's logging config, plus persistream's own loggers, for `uvicorn.run(log_config=...)` (each worker
    process applies it afresh)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["persistream"] = {"format": TEXT_FORMAT}
    config["handlers"]["persistream"] = {
        "formatter": "persistream",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["root"] = {"handlers": ["persistream"], "level": log_level.upper()}
    # The access log's request lines carry share links' tokens in their query strings.
    config.setdefault("filters", {})["access_redaction"] = {"()": "persistream.logfilters.AccessLogRedaction"}
    config["handlers"]["access"]["filters"] = ["access_redaction"]
    config["filters"]["client_faults"] = {"()": "persistream.logfilters.ClientFaultsInOneLine"}
    config["loggers"]["uvicorn.error"]["filters"] = ["client_faults"]
    # Alembic narrates every schema check at INFO; persistream logs the upgrades it makes itself.
    config["loggers"]["alembic"] = {"level": "WARNING"}
    if log_format == "json":
        config["formatters"] = {"json": {"()": "persistream.logs.JsonFormatter"}}
        for handler in config["handlers"].values():
            handler["formatter"] = "json"
    return config
