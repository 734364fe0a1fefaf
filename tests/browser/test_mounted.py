"""The chat page and GraphiQL of a persistream mounted under /chat of a FastAPI app (examples/fastapi_mount.py):
they load their assets from /chat/static and talk to /chat/graphql, with the internet cut off, and every link they
make stays under /chat. (At the root the rest of the browser suite shows the same page working as before.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.conftest import server_env
from tests.support.fake_openai import FakeOpenAI
from tests.support.host_app import HostAppProcess, fastapi_example

from .conftest import OfflineContext
from .mounted import graphiql_runs_under_the_prefix, stream_on_the_page

pytestmark = pytest.mark.browser

ANSWER = "Mounted under a path of another app, the page streams this answer from its own GraphQL endpoint."


@pytest.fixture(scope="module")
def host(fake_openai: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostAppProcess]:
    directory = tmp_path_factory.mktemp("mounted-host")
    process = fastapi_example(server_env(fake_openai, directory / "persistream.db"), directory)
    yield process
    process.stop()


def test_the_page_under_the_prefix_sends_streams_and_shares(
    offline: OfflineContext, other_offline: OfflineContext, host: HostAppProcess, fake_openai: FakeOpenAI
) -> None:
    page, chat, stream_id = stream_on_the_page(offline.context, host, fake_openai, ANSWER)
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
    graphiql_runs_under_the_prefix(offline.context, host)
