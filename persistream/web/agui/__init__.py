"""The AG-UI protocol over persistream: `POST /agui` runs an answer, `GET /agui/runs/{run_id}` rejoins one."""

from __future__ import annotations

from starlette.routing import Route

from persistream.chat.service import ChatService
from persistream.web.agui.routes import AguiEndpoints
from persistream.web.auth import Authenticator


def agui_routes(chat: ChatService, authenticator: Authenticator) -> list[Route]:
    endpoints = AguiEndpoints(chat, authenticator)
    return [
        Route("/agui", endpoints.run, methods=["POST"]),
        Route("/agui/runs/{run_id}", endpoints.rejoin, methods=["GET"]),
    ]


__all__ = ["agui_routes"]
