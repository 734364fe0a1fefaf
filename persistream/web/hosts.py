"""The `Host` allow-list, on every route and the WebSocket: a page on a rebound DNS name (DNS rebinding) reaches
the server under a name that is not on the list and is refused with 400 before anything runs."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from persistream.web.refusal import refuse

REFUSED = "This server does not answer to that host name."


def host_name(host: str) -> str:
    """The name of a `Host` header without its port, lower case; `[::1]` keeps its brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class HostGuard:
    def __init__(self, app: ASGIApp, allowed_hosts: tuple[str, ...]) -> None:
        self.app = app
        self.allow_all = "*" in allowed_hosts
        self.allowed = frozenset(h.lower() for h in allowed_hosts)

    def is_allowed(self, scope: Scope) -> bool:
        if self.allow_all:
            return True
        hosts = [v.decode("latin-1") for k, v in scope["headers"] if k == b"host"]
        return len(hosts) == 1 and host_name(hosts[0]) in self.allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.is_allowed(scope):
            await self.app(scope, receive, send)
            return
        await refuse(scope, receive, send, 400, REFUSED, "FORBIDDEN")
