"""When the connection drops, the page reconnects by itself and resumes every answer from the last offset it
received: the driver's (which may be ahead of the stored text) and an observer's. Nothing repeats, nothing is
lost, and the server's generation never notices."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.support.cuttable_proxy import CuttableProxy
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.server import ServerProcess

from .chat import ChatPage, assert_never_wrong, words
from .conftest import OfflineContext
from .test_streaming import stored_body

pytestmark = pytest.mark.browser

ANSWER = " ".join(
    f"Sentence {i} keeps the stream going while the network between the browser and the server fails."
    for i in range(1, 7)
)


@pytest.fixture
def proxy(chat_server: ServerProcess) -> Iterator[CuttableProxy]:
    proxy = CuttableProxy(chat_server.port).start()
    yield proxy
    proxy.stop()


def test_page_reconnects_after_the_socket_drops_and_resumes_from_its_offset(
    offline: OfflineContext, chat_server: ServerProcess, fake_openai: FakeOpenAI, proxy: CuttableProxy
) -> None:
    marker = fake_openai.add("reconnect", Script(words(ANSWER), delay=0.03))
    driver = ChatPage(offline.context.new_page(), proxy.url).open()
    answer_d = driver.send(f"Keep going {marker}")
    stream_id = driver.stream_id(answer_d)
    observer = ChatPage(offline.context.new_page(), proxy.url).open(driver.thread_id)
    answer_o = observer.answer_for(stream_id)
    driver.wait_text_at_least(answer_d, 20)
    observer.wait_text_at_least(answer_o, 1)

    # A long outage: both pages say they lost the connection, then recover by themselves.
    assert proxy.cut(refuse_for=1.5) >= 2
    for page in (driver, observer):
        expect(page.page.locator("#connection")).to_be_visible()
        expect(page.page.locator("#connection")).to_have_text("Connection lost, reconnecting…")
    connections = proxy.connections
    driver.wait_text_at_least(answer_d, len(ANSWER) // 2)

    # A second, short drop later in the answer.
    proxy.cut()
    for page, answer in ((driver, answer_d), (observer, answer_o)):
        page.wait_status(answer, "DONE")
        assert page.text(answer) == ANSWER
        assert_never_wrong(page.shown(stream_id), ANSWER)
        expect(page.page.locator("#connection")).to_be_hidden()
    assert proxy.connections > connections
    assert stored_body(chat_server, stream_id)["text"] == ANSWER
    # The generation ran once, undisturbed by its driver's drops.
    requests = fake_openai.requests_for("reconnect")
    assert len(requests) == 1 and requests[0].finished
