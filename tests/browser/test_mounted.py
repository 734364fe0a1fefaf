"""The chat page and GraphiQL of a persistream mounted under /chat of a FastAPI app (examples/fastapi_mount.py):
they load their assets from /chat/static and talk to /chat/graphql, with the internet cut off, and every link they
make stays under /chat. (At the root the rest of the browser suite shows the same page working as before.)"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import server_env
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.host_app import HostAppProcess, fastapi_example

from .chat import ChatPage, assert_never_wrong, words
from .conftest import OfflineContext

pytestmark = pytest.mark.browser

ANSWER = "Mounted under a path of another app, the page streams this answer from its own GraphQL endpoint."


@pytest.fixture(scope="module")
def host(fake_openai: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostAppProcess]:
    directory = tmp_path_factory.mktemp("mounted-host")
    process = fastapi_example(server_env(fake_openai, directory / "persistream.db"), directory)
    yield process
    process.stop()


def requested_paths(page: Page) -> list[str]:
    paths: list[str] = []
    page.on("request", lambda request: paths.append(urlsplit(request.url).path))
    return paths


def test_the_page_under_the_prefix_sends_streams_and_shares(
    offline: OfflineContext, other_offline: OfflineContext, host: HostAppProcess, fake_openai: FakeOpenAI
) -> None:
    marker = fake_openai.add("mounted-page", Script(words(ANSWER), delay=0.03))
    page = offline.context.new_page()
    paths = requested_paths(page)
    websockets: list[str] = []
    page.on("websocket", lambda socket: websockets.append(urlsplit(socket.url).path))
    chat = ChatPage(page, host.chat_url).open()

    answer = chat.send(f"Stream under a prefix {marker}")
    stream_id = chat.stream_id(answer)
    chat.wait_text_at_least(answer, 20)
    chat.wait_status(answer, "DONE")
    assert chat.text(answer) == ANSWER
    assert_never_wrong(chat.shown(stream_id), ANSWER)
    # Everything the page asked for was persistream's, under /chat: nothing at the host's root.
    assert paths and all(path.startswith("/chat/") for path in paths), paths
    assert "/chat/graphql" in paths and websockets == ["/chat/graphql"]
    # The thread's address, its link in the list and the link to GraphiQL stay under /chat.
    assert urlsplit(page.url).path == "/chat/" and chat.thread_id is not None
    expect(chat.thread_links.first).to_have_attribute("href", f"/chat/?thread={chat.thread_id}")
    expect(page.locator(".sidebar-foot a")).to_have_attribute("href", "/chat/graphql")

    # A reload reads the stored answer back from the mounted server.
    page.reload()
    chat.wait_ready()
    expect(chat.answer_for(stream_id).locator(".answer-body")).to_have_text(ANSWER)

    # The share link opens the mounted page, read-only, for another identity.
    page.locator("#share").click()
    expect(page.locator("#share-link")).to_have_value(re.compile("^" + re.escape(f"{host.chat_url}/?share=") + "."))
    link = page.locator("#share-link").input_value()
    reader = other_offline.context.new_page()
    reader.goto(link)
    expect(reader.locator("#shared-badge")).to_be_visible()
    expect(reader.locator(f'.answer[data-stream-id="{stream_id}"] .answer-body')).to_have_text(ANSWER)
    expect(reader.locator("#own-chats")).to_have_attribute("href", "/chat/")


def test_graphiql_under_the_prefix_renders_and_queries_the_mounted_endpoint(
    offline: OfflineContext, host: HostAppProcess
) -> None:
    ide = offline.context.new_page()
    paths = requested_paths(ide)
    ide.goto(f"{host.graphql_http}?{urlencode({'q': 'query { viewer { authMode } }'})}")
    run = ide.locator(".graphiql-execute-button")
    run.wait_for()
    expect(ide.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()
    assert "/chat/static/vendor/graphiql/graphiql.min.js" in paths
    assert all(path.startswith("/chat/") for path in paths), paths
    run.click()

    def shown() -> str:
        value: str = ide.evaluate("document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()")
        return value

    expect(ide.locator(".graphiql-response")).to_contain_text("authMode")
    assert json.loads(shown()) == {"data": {"viewer": {"authMode": "none"}}}
