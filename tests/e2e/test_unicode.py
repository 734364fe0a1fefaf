"""Text that breaks naive code: astral-plane emoji (with ZWJ sequences, modifiers, flags), CJK, combining marks,
"\\r\\n". It must come back byte for byte through the driver, observers (resuming in the middle of a grapheme)
and the database, with offsets counted in code points, as Python's `len` counts them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import server_env
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import GraphQLWS, check_events, gql_data, send
from tests.support.server import ServerProcess
from tests.support.streams import Tap, query_body, unique, wait_until

# Token boundaries fall inside graphemes on purpose: between a ZWJ and the next emoji, between a base letter and
# its combining marks, between "\r" and "\n", between the two regional indicators of a flag.
TOKENS = [
    "Family: 👩\u200d",
    "👩\u200d👧",
    "\u200d👦, flag 🏳\ufe0f\u200d",
    "🌈 and 🇯",
    "🇵, thumbs 👍",
    "🏽.\r",
    "\n中文：你好，世界。",
    "日本語のテキスト、",
    "한국어 \u1100\u1161\u11a8 𠜎𠜱.",
    "\r\nCafe\u0301 na",
    "\u0308\u0323ive Z\u0324\u0354\u0367",
    "\u0311 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u05e9\u05dc\u05d5\u05dd\r\n",
    "tab\there 🧑🏿\u200d🚀",
    " end\u2026 line\u2028and paragraph\u2029separators\x85too",
]
TEXT = "".join(TOKENS)
PROMPT = "Réponds 🙂 en 中文, s'il te plaît\r\n👩\u200d💻"


@pytest.fixture(scope="module")
def db_path(module_tmp: Path) -> Path:
    return module_tmp / "unicode.db"


@pytest.fixture(scope="module")
def server(fake_openai: FakeOpenAI, module_tmp: Path, db_path: Path) -> Iterator[ServerProcess]:
    """Tiny chunks, so chunk boundaries also fall inside graphemes and between a surrogate pair's code points."""
    env = server_env(fake_openai, db_path, PERSISTREAM_FLUSH_CHARS="3")
    process = ServerProcess(env, log_path=module_tmp / "unicode-server.log").start()
    yield process
    process.stop()


def interesting_offsets() -> list[int]:
    """Offsets just inside a ZWJ sequence, after an astral code point, between a letter and its marks, and
    between "\\r" and "\\n"."""
    picks = [TEXT.index("\u200d") + 1, TEXT.index("👩") + 1, TEXT.index("🇯") + 1, TEXT.index("🏽")]
    picks += [TEXT.index("e\u0301") + 1, TEXT.index("\u0308"), TEXT.index("\r\n") + 1, TEXT.index("𠜎") + 1]
    picks += [len(TEXT) - 1, len(TEXT)]
    return sorted(set(picks))


def test_the_text_is_hard() -> None:
    # Code points, UTF-16 units and UTF-8 bytes all differ, so a wrong unit of offset shows.
    assert len(TEXT) < len(TEXT.encode("utf-16-le")) // 2 < len(TEXT.encode("utf-8"))


async def test_round_trip_through_driver_observers_and_database(
    server: ServerProcess, fake_openai: FakeOpenAI, db_path: Path
) -> None:
    name = unique("unicode")
    prompt = f"{PROMPT} {fake_openai.add(name, Script(TOKENS, delay=0.02))}"
    message = await send(server.graphql_http, prompt)
    stream_id = message["responseStreamId"]
    offsets = interesting_offsets()
    async with GraphQLWS(server.graphql_ws) as driver_ws, GraphQLWS(server.graphql_ws) as observer_ws:
        # Observers waiting past the (empty) persisted text, at awkward offsets, before anything is generated.
        live = {k: Tap.observer(observer_ws, stream_id, k) for k in offsets}
        observer = Tap.observer(observer_ws, stream_id)
        await wait_until(lambda: bool(observer.events) and all(t.events for t in live.values()))
        driver = Tap.driver(driver_ws, stream_id)
        driven = await driver.result()
        assert check_events(driven).encode() == TEXT.encode()
        assert driven[-1]["offset"] == len(TEXT)
        # Each event's offset is the code point count of everything received so far.
        total = ""
        for event in driven:
            total += event["delta"]
            assert event["offset"] == len(total)

        observed = await observer.result()
        assert check_events(observed).encode() == TEXT.encode()
        for k, tap in live.items():
            events = await tap.result()
            assert events[0]["offset"] == k
            assert check_events(events, start=k).encode() == TEXT[k:].encode(), k
            assert events[-1]["status"] == "DONE"

        # Resuming on the finished stream, from the same awkward offsets.
        for k in offsets:
            [event] = await Tap.observer(observer_ws, stream_id, k).result()
            assert (event["delta"].encode(), event["offset"], event["status"]) == (TEXT[k:].encode(), len(TEXT), "DONE")

    body = await query_body(server, stream_id)
    assert (body["text"].encode(), body["offset"], body["status"]) == (TEXT.encode(), len(TEXT), "DONE")

    # The prompt reached the model unchanged, and the history query gives back prompt and answer unchanged.
    [request] = fake_openai.requests_for(name)
    assert request.messages[-1]["content"].encode() == prompt.encode()
    history = "query($t: ID!) { messages(threadId: $t) { prompt response { text offset } } }"
    [stored] = (await gql_data(server.graphql_http, history, {"t": message["threadId"]}))["messages"]
    assert stored["prompt"].encode() == prompt.encode()
    assert stored["response"] == {"text": TEXT, "offset": len(TEXT)}

    # And in the database itself: UTF-8 text, chunk ends counted in code points (many chunks, or the one chunk
    # they were compacted into once the answer ended: its end is the whole length either way).
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT text, end_offset FROM chunks WHERE stream_id = ? ORDER BY seq", (stream_id,)
        ).fetchall()
        [(last_seq,)] = db.execute("SELECT last_seq FROM streams WHERE id = ?", (stream_id,)).fetchall()
    assert last_seq > 10, "the tiny flush size should have cut many chunks"
    assert len(rows) in (1, last_seq)
    assert "".join(text for text, _ in rows).encode() == TEXT.encode()
    end = 0
    for text, end_offset in rows:
        end += len(text)
        assert end_offset == end
