"""The page in `jwt` mode, for an app that brings its own login: the app leaves the bearer token in sessionStorage
(`persistream.token`), and the page sends it on every request and in the socket's connection_init."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest
from playwright.sync_api import expect

from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI, Script

from .chat import ChatPage, words
from .conftest import OfflineContext

pytestmark = pytest.mark.browser

SECRET = "a page test secret that is long enough for HS256"
THREADS = "{ threads { id } }"


def token(sub: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + 600}, SECRET, algorithm="HS256")


def test_the_page_sends_the_apps_bearer_token_over_http_and_websocket(
    offline: OfflineContext, other_offline: OfflineContext, make_server: ServerFactory, fake_openai: FakeOpenAI
) -> None:
    server = make_server(PERSISTREAM_AUTH="jwt", PERSISTREAM_JWT_SECRET=SECRET)
    marker = fake_openai.add("jwt-page", Script(words("Signed in through the app's own login."), delay=0.01))
    offline.context.add_init_script(f"sessionStorage.setItem('persistream.token', {json.dumps(token('alice'))});")
    chat = ChatPage(offline.context.new_page(), server.url).open()
    answer = chat.send(f"Hello as alice {marker}")
    chat.wait_status(answer, "DONE")  # driven over the socket: the token went in connection_init
    assert chat.text(answer) == "Signed in through the app's own login."
    thread = chat.thread_id
    expect(chat.thread_links).to_have_count(1)

    def threads_of(sub: str) -> list[str]:
        headers = {"authorization": f"Bearer {token(sub)}"}
        result = httpx.post(server.graphql_http, json={"query": THREADS}, headers=headers).json()
        return [t["id"] for t in result["data"]["threads"]]

    assert threads_of("alice") == [thread]
    assert threads_of("bob") == []

    # Without a token the server refuses, and the page says so instead of failing silently.
    anonymous = ChatPage(other_offline.context.new_page(), server.url).open()
    anonymous.input.fill("Hello without a token")
    anonymous.input.press("Enter")
    expect(anonymous.notice).to_contain_text("Not sent:")
    expect(anonymous.turns).to_have_count(0)
    assert threads_of("alice") == [thread]
