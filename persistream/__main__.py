"""The `persistream` command: `serve` runs the server, `migrate` brings the database schema to this version,
`export-schema` prints the GraphQL schema, `ask` sends a prompt to a running server and prints the answer."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import ipaddress
import logging
import logging.config
import os
import signal
import sys
import tempfile
from collections.abc import Coroutine, Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from persistream.config import ConfigError, Settings
from persistream.redact import redact_line

if TYPE_CHECKING:
    from persistream.llm import ChatModel


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default in its help, unless it has none to show or its help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if (
            action.default is None
            or action.default is False
            or action.default == []
            or "default" in (action.help or "")
        ):
            return action.help
        return super()._get_help_string(action)


def _reads(*variables: str) -> str:
    return "Environment variables read: " + ", ".join(dict.fromkeys(variables)) + "."


def _server_variables() -> list[str]:
    from persistream.config.variables import declared_fields

    return [variable.name for _field, variable in declared_fields(Settings)] + ["PROMETHEUS_MULTIPROC_DIR"]


def _version() -> str:
    try:
        return importlib.metadata.version("persistream")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _header(text: str) -> tuple[str, str]:
    """`NAME:VALUE` (as curl takes it) -> (NAME, VALUE)."""
    name, colon, value = text.partition(":")
    if not colon or not name.strip() or any(c.isspace() for c in name.strip()):
        # Not repeated: what was given may hold a secret.
        raise argparse.ArgumentTypeError("a header is NAME:VALUE: a name, a colon, then the value")
    return name.strip(), value.strip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="persistream", description="GraphQL server for AI chat with persistent text streaming."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    settings_file = "A .env file in the working directory fills variables that are not set."
    serve = commands.add_parser(
        "serve",
        help="run the server (configured by PERSISTREAM_* variables)",
        description="Run the server: the chat page, GraphQL over HTTP and WebSocket, /healthz and /metrics. "
        "Configured by environment variables (the configuration reference describes each). " + settings_file,
        epilog=_reads(*_server_variables()),
        formatter_class=_HelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes (needs a shared database and broadcast URL)"
    )
    serve.add_argument(
        "--log-level",
        default=None,
        choices=["debug", "info", "warning", "error"],
        help="overrides PERSISTREAM_LOG_LEVEL (default info)",
    )
    migrate = commands.add_parser(
        "migrate",
        help="apply the database schema migrations (PERSISTREAM_DATABASE_URL) up to this version's",
        description="Bring the database at PERSISTREAM_DATABASE_URL to this version's schema. " + settings_file,
        epilog=_reads("PERSISTREAM_DATABASE_URL (every other PERSISTREAM_* setting of serve is checked too)"),
        formatter_class=_HelpFormatter,
    )
    migrate.add_argument("--revision", default="head", help="stop at this revision instead of the newest")
    migrate.add_argument(
        "--check", action="store_true", help="only say whether the schema is up to date (exit status 1 if not)"
    )
    commands.add_parser(
        "export-schema",
        help="print the GraphQL schema (SDL)",
        description="Print the GraphQL schema (SDL) on standard output. Reads no environment variable.",
        formatter_class=_HelpFormatter,
    )
    ask = commands.add_parser(
        "ask",
        help="send a prompt to a running server; the answer's text on stdout, the thread id on stderr",
        description="Send a prompt to a running persistream server and print its answer as it streams: exactly the "
        "answer's text on standard output, everything else (the thread id, a status other than DONE) on standard "
        "error. Exit status 0 when the answer ends DONE, 1 otherwise (141 when standard output is closed early, "
        "as by `| head`). The server's own PERSISTREAM_* settings do not apply.",
        epilog=_reads("PERSISTREAM_TOKEN (a bearer token, when --token is not given)"),
        formatter_class=_HelpFormatter,
    )
    ask.add_argument("prompt", help="the prompt; - reads it from standard input")
    ask.add_argument("--url", default="http://127.0.0.1:8000/graphql", help="the server's GraphQL endpoint")
    ask.add_argument("--thread", default=None, help="continue this thread instead of starting a new one")
    ask.add_argument("--token", default=None, help="a bearer token (or set PERSISTREAM_TOKEN, which ps cannot see)")
    ask.add_argument(
        "--header",
        "-H",
        dest="headers",
        type=_header,
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="a header for every request and the WebSocket upgrade (an API key, say); repeatable",
    )
    ask.add_argument(
        "--reasoning",
        action="store_true",
        help="also print the model's reasoning as it streams, and each tool call and result on a line, to stderr "
        "(stdout stays the answer alone)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    if args.command == "ask":
        # A client of another server: this machine's PERSISTREAM_* server settings do not apply.
        from persistream.ask import run

        return run(args.prompt, args.url, args.thread, args.token, args.reasoning, headers=dict(args.headers))

    if args.command == "export-schema":
        from persistream.schema import schema

        print(schema.as_str())
        return 0
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"persistream: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        # The default Host allow-list depends on where the server listens.
        settings = settings.replace(bind_host=args.host)
    if args.command == "migrate":
        return _run_database_task(_migrate(settings.database_url, args.revision, args.check, settings.table_prefix))
    if os.getcwd() not in sys.path:
        # Import strings (PERSISTREAM_PROVIDER, PERSISTREAM_TOOLS) find modules in the current directory, as
        # uvicorn finds an app; the installed script, unlike `python -m`, does not put it on the path.
        sys.path.insert(0, os.getcwd())
    if settings.tools is not None:
        # Loaded once here, before any worker starts: a wrong PERSISTREAM_TOOLS stops `serve` with one line
        # naming it, instead of a traceback in every worker.
        from persistream.chat.answers import configured_tools

        try:
            configured_tools(settings.tools)
        except ConfigError as exc:
            print(f"persistream: configuration error: {exc}", file=sys.stderr)
            return 2
    model = None
    if settings.provider not in ("openai", "demo"):
        # Your own generator (an import string), made here before any worker starts: one that does not import, or
        # is no generator, stops `serve` with one line naming PERSISTREAM_PROVIDER instead of a traceback.
        from persistream.llm import create_model

        try:
            model = create_model(settings)
        except ConfigError as exc:
            print(f"persistream: configuration error: {exc}", file=sys.stderr)
            return 2
    if not settings.auth_explicit and not _is_loopback(args.host):
        print(
            f"persistream: refusing to serve on {args.host} with no authentication: set PERSISTREAM_AUTH "
            "(anonymous, jwt or proxy; or none for a server behind its own gate)",
            file=sys.stderr,
        )
        return 2
    if args.workers < 1:
        print("persistream: --workers must be 1 or more", file=sys.stderr)
        return 2
    if args.workers > 1 and settings.broadcast_url.startswith("memory://"):
        print(
            "persistream: --workers > 1 needs a broadcast shared by the processes: set PERSISTREAM_BROADCAST_URL "
            "to redis://... or postgres://... (memory:// only reaches one process)",
            file=sys.stderr,
        )
        return 2
    if args.workers > 1 and settings.database_url.startswith("sqlite") and ":memory:" in settings.database_url:
        print("persistream: --workers > 1 cannot share an in-memory SQLite database", file=sys.stderr)
        return 2
    return _serve(settings, args.host, args.port, args.workers, args.log_level, model)


def _is_loopback(host: str) -> bool:
    """Protected mode: with PERSISTREAM_AUTH unset, only an address nobody else can reach is served."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _run_database_task(task: Coroutine[Any, Any, int]) -> int:
    """Run a command's database work; an unreachable database is a one-line message, not a traceback."""
    try:
        return asyncio.run(task)
    except (OSError, TimeoutError, SQLAlchemyError) as exc:
        print(f"persistream: cannot use the database: {_describe(exc)}", file=sys.stderr)
        return 2


async def _migrate(database_url: str, revision: str, check: bool, table_prefix: str) -> int:
    from persistream.db.database import Database
    from persistream.db.migrations import SchemaNotReady
    from persistream.db.migrations.history import LEGACY_VERSION_TABLE

    db = Database(database_url, table_prefix=table_prefix, statement_timeout=None)
    try:
        state = await db.schema_state()
        if check:
            problem = state.problem()
            print(f"persistream: schema at revision {state.describe_current()}, newest is {state.head}")
            if problem:
                print(f"persistream: {problem}", file=sys.stderr)
            return 1 if problem else 0
        if state.legacy is not None:
            print(
                f"persistream: moving the schema history (revision {state.legacy}) from "
                f"{LEGACY_VERSION_TABLE} to {state.version_table}"
            )
        before, after = await db.upgrade(revision)
    except SchemaNotReady as exc:
        print(f"persistream: {exc}", file=sys.stderr)
        return 2
    finally:
        await db.close()
    if before == after:
        print(f"persistream: database schema already at revision {after}")
    else:
        print(f"persistream: database schema upgraded from revision {before or 'none'} to {after}")
    return 0


async def _prepare_database(database_url: str, table_prefix: str) -> int:
    """Before serving: migrate the embedded SQLite database; refuse a shared one that is not at this version."""
    from persistream.db.database import Database
    from persistream.db.migrations import SchemaNotReady

    db = Database(database_url, table_prefix=table_prefix, statement_timeout=None)
    try:
        await db.prepare_schema()
    except SchemaNotReady as exc:
        print(f"persistream: cannot start: {exc}", file=sys.stderr)
        return 2
    finally:
        await db.close()
    return 0


def _describe(exc: BaseException) -> str:
    """The error's kind and first line, without a traceback (the URL's password never appears in either)."""
    cause = exc.__cause__ or exc
    first = redact_line(str(cause).strip())
    name = type(cause).__name__
    if name in ("Error", "DBAPIError") and first:  # the driver's generic wrapper: the message says it all
        return first
    return f"{name}: {first}" if first else name


# Seconds past PERSISTREAM_SHUTDOWN_GRACE that uvicorn waits for connections before cancelling what is left.
SHUTDOWN_MARGIN = 10.0


def _stopped(_signal: int, _frame: FrameType | None) -> None:
    """What SIGTERM does once uvicorn has shut down gracefully: nothing (the workers' supervisor has its own)."""


def uvicorn_ws_options() -> dict[str, Any]:
    """uvicorn's WebSocket protocol: the sans-I/O `websockets` one (the legacy one runs three tasks and a message
    queue per socket, so an idle observer costs more memory), whose close at shutdown waits for the streams the
    socket follows from this process (web/shutdown.py)."""
    return {"ws": "persistream.web.shutdown:DrainingWebSockets"}


def _serve(
    settings: Settings, host: str, port: int, workers: int, log_level: str | None, model: ChatModel | None = None
) -> int:
    """`model`: the generator already made from PERSISTREAM_PROVIDER, for one process (each worker of several
    makes its own, from the environment)."""
    import uvicorn

    from persistream.logs import log_config

    level = (log_level or settings.log_level).lower()
    config = log_config(settings.log_format, level)
    logging.config.dictConfig(config)
    # Checked once here, before any worker starts: several workers must not race to migrate one SQLite file.
    if status := _run_database_task(_prepare_database(settings.database_url, settings.table_prefix)):
        return status
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": level,
        "log_config": config,
        # A bigger WebSocket message closes its socket with 1009 (message too big).
        "ws_max_size": settings.max_body_bytes,
        # Graceful shutdown (web/shutdown.py): a WebSocket is closed only once the streams it follows from this
        # process have ended, and uvicorn waits for that; the margin covers storing and sending the last events.
        **uvicorn_ws_options(),
        "timeout_graceful_shutdown": settings.shutdown_grace + SHUTDOWN_MARGIN,
    }
    # uvicorn re-raises the signal it stopped on once it is done, and SIGTERM's default action would then kill
    # the process (exit status 143): a stop that went well exits 0.
    signal.signal(signal.SIGTERM, _stopped)
    if workers > 1:
        with _metrics_directory(settings):
            # Worker processes read the environment afresh: tell them the address too.
            os.environ["PERSISTREAM_BIND_HOST"] = host
            # Each worker process reads the same environment and builds its own app.
            uvicorn.run("persistream.web.asgi:create_app_from_env", factory=True, workers=workers, **options)
        return 0
    from persistream.web.app import create_app

    uvicorn.run(create_app(settings, model=model), **options)
    return 0


@contextlib.contextmanager
def _metrics_directory(settings: Settings) -> Iterator[None]:
    """Workers keep their metrics in files of one directory, so a scrape of any worker covers them all. Unless
    the operator chose one (PROMETHEUS_MULTIPROC_DIR), it is a fresh temporary one, removed when serving ends."""
    if not settings.metrics or settings.metrics_multiprocess_dir is not None:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="persistream-metrics-") as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        try:
            yield
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


if __name__ == "__main__":
    sys.exit(main())
