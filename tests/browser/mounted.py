"""The chat page and GraphiQL of a persistream mounted under a prefix of another app, driven in Chromium: what they
request stays under the prefix, the page sends and streams an answer, GraphiQL renders its editor and runs a query
against the mounted endpoint."""

from __future__ import annotations

import json
from urllib.parse import urlencode, urlsplit

from playwright.sync_api import BrowserContext, Page, expect

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.host_app import HostAppProcess

from .chat import ChatPage, assert_never_wrong, words


def requested_paths(page: Page) -> list[str]:
    paths: list[str] = []
    page.on("request", lambda request: paths.append(urlsplit(request.url).path))
    return paths


def stream_on_the_page(
    context: BrowserContext, host: HostAppProcess, fake: FakeOpenAI, answer: str
) -> tuple[Page, ChatPage, str]:
    """Open the page under the prefix and send a prompt whose answer streams there in full; (page, chat, stream id)."""
    marker = fake.add("mounted-page", Script(words(answer), delay=0.03))
    page = context.new_page()
    paths = requested_paths(page)
    websockets: list[str] = []
    page.on("websocket", lambda socket: websockets.append(urlsplit(socket.url).path))
    chat = ChatPage(page, host.chat_url).open()

    sent = chat.send(f"Stream under a prefix {marker}")
    stream_id = chat.stream_id(sent)
    chat.wait_text_at_least(sent, 20)
    chat.wait_status(sent, "DONE")
    assert chat.text(sent) == answer
    assert_never_wrong(chat.shown(stream_id), answer)
    # Everything the page asked for was persistream's, under the prefix: nothing at the host's root.
    assert paths and all(path.startswith(f"{host.prefix}/") for path in paths), paths
    assert f"{host.prefix}/graphql" in paths and websockets == [f"{host.prefix}/graphql"]
    return page, chat, stream_id


def graphiql_runs_under_the_prefix(context: BrowserContext, host: HostAppProcess) -> None:
    """GraphiQL's editor renders from the mounted assets, and its run button queries the mounted endpoint."""
    ide = context.new_page()
    paths = requested_paths(ide)
    ide.goto(f"{host.graphql_http}?{urlencode({'q': 'query { viewer { authMode } }'})}")
    run = ide.locator(".graphiql-execute-button")
    run.wait_for()
    expect(ide.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()
    assert f"{host.prefix}/static/vendor/graphiql/graphiql.min.js" in paths
    assert all(path.startswith(f"{host.prefix}/") for path in paths), paths
    run.click()

    def shown() -> str:
        value: str = ide.evaluate("document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()")
        return value

    expect(ide.locator(".graphiql-response")).to_contain_text("authMode")
    assert json.loads(shown()) == {"data": {"viewer": {"authMode": "none"}}}
