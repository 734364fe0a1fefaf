"""The first answer after start-up costs what the tenth does: the server warms its model client while starting (one
`GET /models` with the server's key, before it reports healthy), and a model service that cannot be reached at
start-up does not keep the server from starting."""

from __future__ import annotations

from tests.conftest import ServerFactory
from tests.support.fake_openai import SECRET_KEY, FakeOpenAI
from tests.support.net import free_port


async def test_model_client_is_warmed_before_the_server_is_ready(
    make_server: ServerFactory, fake_openai: FakeOpenAI
) -> None:
    before = len(fake_openai.model_list_requests)
    make_server()  # returns once /healthz answers: start-up is over
    assert fake_openai.model_list_requests[before:] == [f"Bearer {SECRET_KEY}"]


async def test_unreachable_model_at_start_up_still_serves(make_server: ServerFactory) -> None:
    server = make_server(OPENAI_BASE_URL=f"http://127.0.0.1:{free_port()}/v1")
    assert "Traceback" not in server.log()
