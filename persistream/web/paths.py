"""Where persistream is served from: at the root, under a path of a host app (a Starlette or FastAPI `Mount`), or
behind a reverse proxy that strips a prefix and tells the server (uvicorn's `--root-path`). In every case the ASGI
`root_path` is the prefix, and the scope's `path` starts with it: the pages, cookies and links are built from it so
they point at this app, not at the host's root."""

from __future__ import annotations

import html
import re
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.types import Scope

# A root-relative URL in an attribute of one of the shipped pages (`/static/...`, `/graphql`, `/`).
_ROOT_RELATIVE = re.compile(r'(\s(?:href|src)=")/(?!/)')


def base_path(scope: Scope) -> str:
    """The prefix persistream is served under, without a trailing slash: "" at the root, "/chat" under a mount."""
    return str(scope.get("root_path") or "").rstrip("/")


def route_path(scope: Scope) -> str:
    """The request's path inside this app (the one its routes match): "/graphql" whatever the prefix."""
    path = str(scope["path"])
    base = base_path(scope)
    if base and path.startswith(base) and path[len(base) : len(base) + 1] in ("", "/"):
        return path[len(base) :]
    return path


def page_response(page: Path, scope: Scope, headers: dict[str, str] | None = None) -> HTMLResponse:
    """A shipped HTML page with its root-relative URLs moved under this app's prefix."""
    text = page.read_text(encoding="utf-8")
    base = html.escape(base_path(scope), quote=True)
    if base:
        text = _ROOT_RELATIVE.sub(lambda match: f"{match.group(1)}{base}/", text)
    return HTMLResponse(text, headers=headers)
