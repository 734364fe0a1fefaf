"""The `persistream` command: `serve` runs the server, `export-schema` prints the GraphQL schema."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from persistream.config import ConfigError, Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="persistream", description="GraphQL server for AI chat with persistent text streaming."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server (configured by PERSISTREAM_* variables)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes (needs a shared database and broadcast URL)"
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    args = parser.parse_args(argv)

    if args.command == "export-schema":
        from persistream.schema import schema

        print(schema.as_str())
        return 0
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"persistream: configuration error: {exc}", file=sys.stderr)
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
    return _serve(settings, args.host, args.port, args.workers, args.log_level)


def _serve(settings: Settings, host: str, port: int, workers: int, log_level: str) -> int:
    import uvicorn

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if workers > 1:
        # Each worker process reads the same environment and builds its own app.
        uvicorn.run(
            "persistream.web.asgi:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            ws_max_size=1 << 20,
        )
        return 0
    from persistream.web.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, ws_max_size=1 << 20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
