"""The test model (tests/support/fake_openai.py) in a process of its own, so a benchmark's client and server never
share its interpreter, with two small routes a benchmark drives it by:

    python -m bench.model_server PORT

- `POST /bench/scripts` with `{"name": ..., "tokens": [...], "delay": s, "stamped": bool, "line": n}` registers a
  script;
- `GET /bench/arrivals` returns `[[monotonic time the request arrived, last user message], ...]` and forgets them.

`time.monotonic()` is the machine's CLOCK_MONOTONIC, so arrival times compare with a client's on the same machine.
"""

from __future__ import annotations

import sys
from typing import Any

import httpx
import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fake_openai import FakeOpenAI, Script


def build(fake: FakeOpenAI) -> Any:
    app = fake.app()

    async def scripts(request: Request) -> Response:
        body = await request.json()
        marker = fake.add(
            body["name"],
            Script(
                body["tokens"],
                delay=float(body.get("delay", 0)),
                stamped=bool(body.get("stamped", False)),
                line=int(body.get("line", 0)),
            ),
        )
        return JSONResponse({"marker": marker})

    async def arrivals(_request: Request) -> Response:
        taken, fake.requests[:] = list(fake.requests), []
        return JSONResponse([[r.started, str(r.messages[-1].get("content", ""))] for r in taken])

    app.router.routes += [
        Route("/bench/scripts", scripts, methods=["POST"]),
        Route("/bench/arrivals", arrivals, methods=["GET"]),
    ]
    return app


class ModelClient:
    """The benchmark's side of the model process."""

    def __init__(self, port: int, pid: int | None = None) -> None:
        self.pid = pid  # the model process's, when it runs in one of its own (bench/rig.py)
        self.root = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.root}/v1"

    def script(self, name: str, tokens: list[str], *, delay: float = 0.0, stamped: bool = False, line: int = 0) -> str:
        body = {"name": name, "tokens": tokens, "delay": delay, "stamped": stamped, "line": line}
        return str(httpx.post(f"{self.root}/bench/scripts", json=body, timeout=10).json()["marker"])

    def arrivals(self) -> list[tuple[float, str]]:
        return [(float(t), str(p)) for t, p in httpx.get(f"{self.root}/bench/arrivals", timeout=10).json()]


def main() -> None:
    fake = FakeOpenAI()
    fake.port = int(sys.argv[1])
    # The default h11 protocol parser; lifespan off like the fake in tests.
    uvicorn.run(build(fake), host="127.0.0.1", port=fake.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
