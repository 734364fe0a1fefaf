"""The model's own output as hostile input, through a real server with the openai provider and the fake model, on
SQLite and on PostgreSQL (answers that never end and the Python client's read: on SQLite alone): NUL, lone
surrogates, bytes that are not UTF-8, enormous tokens, answers that never end.

What is promised (docs, "What happens when things go wrong"): a character no database or wire can carry (NUL, a
lone surrogate, an invalid UTF-8 sequence) is stored as U+FFFD; an enormous token is stored in chunks, without
stalling other answers, and read by the Python client; one event over 64 MiB (a line that never ends) ends the
answer in ERROR; an answer that never ends is cut at `PERSISTREAM_MAX_ANSWER_TOKENS` (ERROR), ends in TIMEOUT when
the model sends no text, or is cancelled. For every answer: the stored text, the driver's text and the text of
observers from offset 0 and from the middle agree character for character; the server goes on serving; its log
holds no traceback and never "the database is unavailable". A hypothesis property test sends answers drawn from
all of Unicode (surrogates and NUL included), or from raw bytes, cut at random byte boundaries;
PERSISTREAM_HOSTILE_EXAMPLES sets its case count (50; 100 with PERSISTREAM_LONG_TESTS=1).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persistream.client import PersistreamClient
from persistream.db import streams
from persistream.db.database import Database, is_transient
from persistream.db.streams import StoredChunk
from persistream.engine.ids import new_id
from persistream.engine.storable import storable
from persistream.engine.writer import DB_REFUSED
from tests.conftest import server_env
from tests.fuzz.conftest import FuzzCounts
from tests.scale.conftest import START_TIMEOUT, create_database, drop_database, pg_url
from tests.support.fake_openai import FakeOpenAI, Recorded, Script
from tests.support.gql import CANCEL, GraphQLWS, check_events, gql_data
from tests.support.rounds import rounds
from tests.support.server import ServerProcess
from tests.support.streams import Tap, assert_user_safe, query_body, start_stream, unique, wait_closed

ANSWER_TOKENS = 2000  # the servers' PERSISTREAM_MAX_ANSWER_TOKENS
STREAM_TIMEOUT = 3
FLUSH_CHARS = 1000
# Longest another answer may pause while a 16 MB token goes through. Linear work measured 0.9 to 2.4 s (the test
# process, which also plays the model, parses the 16 MB too); the parse and cut were quadratic and took over 10 s.
STALL_LIMIT = 4.0
EXAMPLES = int(os.environ.get("PERSISTREAM_HOSTILE_EXAMPLES", rounds(50, 100)))
# Log lines that must never appear: a traceback, or a character problem taken for a database outage.
FORBIDDEN_IN_LOG = ("Traceback", "database is unavailable", "giving up on the database", "unexpected error")


@dataclass
class Backend:
    server: ServerProcess
    sqlite_path: Path | None
    pg_database: str | None

    @property
    def database_url(self) -> str:
        return self.server.env["PERSISTREAM_DATABASE_URL"]

    async def execute(self, *statements: str) -> None:
        if self.pg_database is not None:
            conn = await asyncpg.connect(pg_url(self.pg_database, driver="postgresql"))
            try:
                for statement in statements:
                    await conn.execute(statement)
            finally:
                await conn.close()
            return
        assert self.sqlite_path is not None
        with contextlib.closing(sqlite3.connect(self.sqlite_path, timeout=10)) as conn:
            for statement in statements:
                conn.execute(statement)
            conn.commit()

    def refusing_trigger(self, marker: str) -> list[str]:
        """Statements that make the database refuse any chunk holding `marker`."""
        if self.pg_database is not None:
            return [
                "CREATE OR REPLACE FUNCTION refuse_chunk() RETURNS trigger AS $$ BEGIN IF NEW.text LIKE "
                f"'%{marker}%' THEN RAISE EXCEPTION 'refused' USING ERRCODE = '22000'; END IF; RETURN NEW; END $$ "
                "LANGUAGE plpgsql",
                "CREATE TRIGGER refuse_chunk BEFORE INSERT ON chunks FOR EACH ROW EXECUTE FUNCTION refuse_chunk()",
            ]
        return [
            f"CREATE TRIGGER refuse_chunk BEFORE INSERT ON chunks WHEN NEW.text LIKE '%{marker}%' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ]

    async def chunks_written(self, stream_id: str) -> int:
        """How many chunks the answer was stored in (`last_seq`: compaction keeps it)."""
        query = "SELECT last_seq FROM streams WHERE id = $1"
        if self.pg_database is not None:
            conn = await asyncpg.connect(pg_url(self.pg_database, driver="postgresql"))
            try:
                return int(await conn.fetchval(query, stream_id))
            finally:
                await conn.close()
        assert self.sqlite_path is not None
        with contextlib.closing(sqlite3.connect(self.sqlite_path)) as conn:
            return int(conn.execute(query.replace("$1", "?"), (stream_id,)).fetchone()[0])


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.scale)], ids=["sqlite", "postgres"]
)
def backend(request: pytest.FixtureRequest, fake_openai: FakeOpenAI, tmp_path_factory: Any) -> Iterator[Backend]:
    tmp: Path = tmp_path_factory.mktemp(f"hostile-{request.param}")
    env = {
        "PERSISTREAM_MAX_ANSWER_TOKENS": str(ANSWER_TOKENS),
        "PERSISTREAM_STREAM_TIMEOUT": str(STREAM_TIMEOUT),
        # A model silent from the start times out as fast as one that stops (not after the first-token limit).
        "PERSISTREAM_FIRST_TOKEN_TIMEOUT": str(STREAM_TIMEOUT),
        "PERSISTREAM_FLUSH_CHARS": str(FLUSH_CHARS),
    }
    database = create_database() if request.param == "postgres" else None
    if database is not None:
        env["PERSISTREAM_DATABASE_URL"] = pg_url(database)
    process = ServerProcess(server_env(fake_openai, tmp / "hostile.db", **env), log_path=tmp / "server.log")
    try:
        process.start(START_TIMEOUT)
        yield Backend(process, None if database else tmp / "hostile.db", database)
    finally:
        process.stop()
        if database is not None:
            drop_database(database)


# For the answers that never end and the clients' reading: what they prove happens above the store (the model's
# stream, the limits and timeouts, the socket), so SQLite alone; PostgreSQL's timeouts and cancels are the chaos
# runs' and tests/scale's. Where storing itself is the question, a test runs on both.
ABOVE_THE_STORE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def server(backend: Backend) -> ServerProcess:
    return backend.server


def raw(data: bytes) -> str:
    """A token that goes on the wire as these very bytes (with `Script(raw_bytes=True)`)."""
    return data.decode("utf-8", "surrogateescape")


@dataclass
class Answer:
    body: dict[str, Any]  # streamBody once final
    driver: list[dict[str, Any]]
    observer: list[dict[str, Any]]
    request: Recorded


async def answer(
    server: ServerProcess,
    fake: FakeOpenAI,
    script: Script,
    *,
    middle: int,
    cancel_after: int | None = None,
    timeout: float = 60.0,
) -> Answer:
    """Drive one answer with observers from offset 0 and from `middle` (subscribed before it starts, so both
    follow it live); check that all three and the stored text agree."""
    stream_id, name = await start_stream(server, fake, script, name="hostile")
    # An event can be as long as the answer: no client-side cap on message size.
    async with (
        GraphQLWS(server.graphql_ws, max_size=None) as observers_ws,
        GraphQLWS(server.graphql_ws, max_size=None) as driver_ws,
    ):
        observer = Tap.observer(observers_ws, stream_id)
        from_middle = Tap.observer(observers_ws, stream_id, middle)
        await observer.until_started()
        await from_middle.until_started()
        driver = Tap.driver(driver_ws, stream_id)
        if cancel_after is not None:
            await driver.until_text(cancel_after, timeout)
            await gql_data(server.graphql_http, CANCEL, {"id": stream_id})
        driver_events = await driver.result(timeout)
        observer_events = await observer.result(timeout)
        middle_events = await from_middle.result(timeout)
    body = await query_body(server, stream_id)
    text = body["text"]
    assert check_events(driver_events) == text
    assert check_events(observer_events) == text
    assert check_events(middle_events, start=middle) == text[middle:]
    for events in (driver_events, observer_events, middle_events):
        last = events[-1]
        assert (last["status"], last["error"], last["offset"]) == (body["status"], body["error"], len(text))
    (request,) = fake.requests_for(name)
    return Answer(body, driver_events, observer_events, request)


async def assert_still_serving(server: ServerProcess, fake: FakeOpenAI) -> None:
    """Another, ordinary answer works, and the log is clean."""
    after = await answer(server, fake, Script([" Still", " serving."]), middle=3)
    assert (after.body["status"], after.body["text"]) == ("DONE", " Still serving.")
    log = server.log()
    for forbidden in FORBIDDEN_IN_LOG:
        assert forbidden not in log, (forbidden, log[-3000:])


# --- characters that cannot be stored as given -------------------------------------------------------------------

BAD_BYTES = [
    raw(b"bad \xff\xfe bytes"),
    raw(b", cut \xe2\x82"),  # the first two bytes of a three-byte sequence
    raw(b" off, overlong \xc0\xaf and \xe0\x80\xaf"),
    raw(b", an encoded surrogate \xed\xa0\x80"),
    raw(b", past U+10FFFF \xf4\x90\x80\x80"),
    raw(b", lone continuations \x80\xbf"),
    raw(b", then fine \xe2\x82\xac."),
]
R = "\ufffd"
CHARACTER_CASES = {
    "nul": (
        Script(["NUL\x00 inside", "\x00", " and at the end\x00.", " Then plain."], delay=0.02),
        f"NUL{R} inside{R} and at the end{R}. Then plain.",
    ),
    "lone-surrogates": (
        Script(
            [
                "high \ud800",
                ", low \udfff",
                ", reversed \udc00\ud800",
                ", a pair \ud83e\udd80",
                ", half \ud83e",
                "\udd80.",
            ]
        ),
        # A pair inside one JSON string is one character (JSON's own rule); split across two frames it is two halves.
        f"high {R}, low {R}, reversed {R}{R}, a pair \U0001f980, half {R}{R}.",
    ),
    "invalid-utf8": (
        Script(BAD_BYTES, raw_bytes=True, delay=0.02),
        f"bad {R}{R} bytes, cut {R} off, overlong {R}{R} and {R}{R}{R}, an encoded surrogate {R}{R}{R}, past U+10FFFF "
        f"{R}{R}{R}{R}, lone continuations {R}{R}, then fine \u20ac.",
    ),
    "invalid-utf8-byte-by-byte": (
        Script(BAD_BYTES, raw_bytes=True, split_bytes=1),
        f"bad {R}{R} bytes, cut {R} off, overlong {R}{R} and {R}{R}{R}, an encoded surrogate {R}{R}{R}, past U+10FFFF "
        f"{R}{R}{R}{R}, lone continuations {R}{R}, then fine \u20ac.",
    ),
}


@pytest.mark.parametrize("case", sorted(CHARACTER_CASES))
async def test_unstorable_characters_are_stored_as_replacement_characters(
    server: ServerProcess, fake_openai: FakeOpenAI, case: str
) -> None:
    script, expected = CHARACTER_CASES[case]
    result = await answer(server, fake_openai, script, middle=len(expected) // 2)
    assert (result.body["status"], result.body["error"]) == ("DONE", None)
    assert result.body["text"] == expected
    await assert_still_serving(server, fake_openai)


async def test_an_enormous_token_is_stored_in_chunks(backend: Backend, fake_openai: FakeOpenAI) -> None:
    """One token of two million code points, 5 MB of UTF-8 (12 MB on the wire, as JSON escapes), with a NUL and a
    lone surrogate in it: stored whole, in chunks no longer than the flush cap."""
    enormous = "é" * 1_000_000 + "\x00" + "漢" * 999_998 + "\ud800"
    expected = "Before. " + "é" * 1_000_000 + R + "漢" * 999_998 + R + " After."
    script = Script(["Before. ", enormous, " After."])
    result = await answer(backend.server, fake_openai, script, middle=1_400_001)
    assert (result.body["status"], result.body["error"]) == ("DONE", None)
    assert result.body["text"] == expected
    assert await backend.chunks_written(result.body["streamId"]) >= len(expected) // FLUSH_CHARS
    await assert_still_serving(backend.server, fake_openai)


@pytest.mark.parametrize("character", ["\x00", "\ud800"], ids=["nul", "lone-surrogate"])
async def test_a_chunk_the_database_refuses_is_not_taken_for_an_outage(backend: Backend, character: str) -> None:
    """Beneath the rule above: should a chunk the database cannot hold still reach it (NUL on PostgreSQL, a lone
    surrogate anywhere), the refusal is final at once, not an outage retried for half a minute and then reported as
    "the database is unavailable"."""
    db = Database(backend.database_url)
    try:
        stream_id = new_id()
        await streams.create_stream(db, stream_id)
        assert await streams.claim_stream(db, stream_id, "generation")
        if character == "\x00" and backend.pg_database is None:  # SQLite's text holds NUL as it is
            assert await streams.append_chunks(db, stream_id, "generation", [StoredChunk(1, "a\x00b", 3)])
            return
        with pytest.raises(Exception) as refused:
            await streams.append_chunks(db, stream_id, "generation", [StoredChunk(1, f"a{character}b", 3)])
        assert not is_transient(refused.value), repr(refused.value)
    finally:
        await db.close()


async def test_a_chunk_the_database_refuses_ends_the_answer_saying_so(
    backend: Backend, fake_openai: FakeOpenAI
) -> None:
    """A database that refuses a chunk (here a trigger, raising a data error on PostgreSQL and a constraint error on
    SQLite) ends the answer at once, its text before kept, with an error that does not blame an outage."""
    marker = f"refuse-{new_id()[:8]}"
    await backend.execute(*backend.refusing_trigger(marker))
    try:
        script = Script([" Saved first.", f" Then {marker} here."], delay=0.2)
        started = asyncio.get_running_loop().time()
        result = await answer(backend.server, fake_openai, script, middle=3)
        assert asyncio.get_running_loop().time() - started < 10  # not the 30 s an outage is retried for
    finally:
        await backend.execute("DROP TRIGGER IF EXISTS refuse_chunk" + (" ON chunks" if backend.pg_database else ""))
    assert (result.body["status"], result.body["error"]) == ("ERROR", DB_REFUSED)
    assert result.body["text"] == " Saved first."
    await assert_still_serving(backend.server, fake_openai)


# --- answers that never end --------------------------------------------------------------------------------------

FOREVER = [" again", " and", " again."]


def first_tokens(count: int) -> str:
    return "".join(FOREVER[i % len(FOREVER)] for i in range(count))


async def assert_model_stream_closed(request: Recorded) -> None:
    """The server closed the model's stream: the fake model saw the connection go and stopped sending."""
    await wait_closed(request, timeout=5)
    sent = request.tokens_sent
    await asyncio.sleep(0.3)
    assert request.tokens_sent == sent


@ABOVE_THE_STORE
@pytest.mark.parametrize("pause", [None, (400, 0.5)], ids=["flat-out", "with-pauses"])
async def test_an_answer_that_never_ends_is_cut_at_the_answer_limit(
    server: ServerProcess, fake_openai: FakeOpenAI, pause: tuple[int, float] | None
) -> None:
    """Tokens for ever, never `[DONE]` (with pauses shorter than the stream timeout, or none): the server holds the
    model to `PERSISTREAM_MAX_ANSWER_TOKENS`, keeps the text up to it and ends the answer in ERROR saying so."""
    expected = first_tokens(ANSWER_TOKENS)
    script = Script(FOREVER, forever=True, pause=pause)
    result = await answer(server, fake_openai, script, middle=len(expected) // 2, timeout=20)
    assert result.request.max_tokens == ANSWER_TOKENS
    assert result.body["status"] == "ERROR"
    assert_user_safe(result.body["error"])
    assert f"limit of {ANSWER_TOKENS} tokens" in result.body["error"]
    assert result.body["text"] == expected
    await assert_model_stream_closed(result.request)
    await assert_still_serving(server, fake_openai)


@ABOVE_THE_STORE
async def test_an_answer_that_never_ends_but_falls_silent_times_out(
    server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    """A pause longer than PERSISTREAM_STREAM_TIMEOUT ends an endless answer in TIMEOUT, its text kept."""
    expected = first_tokens(30)
    script = Script(FOREVER, forever=True, pause=(30, 3600))
    result = await answer(server, fake_openai, script, middle=len(expected) // 2, timeout=STREAM_TIMEOUT + 30)
    assert (result.body["status"], result.body["text"]) == ("TIMEOUT", expected)
    assert result.body["error"] == f"The model sent nothing for {STREAM_TIMEOUT} seconds."
    await assert_model_stream_closed(result.request)
    await assert_still_serving(server, fake_openai)


@ABOVE_THE_STORE
async def test_an_answer_of_empty_deltas_for_ever_times_out(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    """Frames for ever, each with an empty `content`: no token is text, so the model counts as silent (TIMEOUT),
    however busy its connection."""
    script = Script([""], forever=True)
    result = await answer(server, fake_openai, script, middle=0, timeout=STREAM_TIMEOUT + 30)
    assert (result.body["status"], result.body["text"]) == ("TIMEOUT", "")
    assert result.request.tokens_sent > 100  # the model really did keep sending
    await assert_model_stream_closed(result.request)
    await assert_still_serving(server, fake_openai)


@ABOVE_THE_STORE
async def test_an_answer_that_never_ends_can_be_cancelled(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    script = Script(FOREVER, forever=True, delay=0.01)
    result = await answer(server, fake_openai, script, middle=40, cancel_after=60)
    assert (result.body["status"], result.body["error"]) == ("CANCELLED", None)
    assert result.body["text"].startswith(first_tokens(3)) and len(result.body["text"]) >= 60
    await assert_model_stream_closed(result.request)
    await assert_still_serving(server, fake_openai)


@ABOVE_THE_STORE
async def test_a_line_that_never_ends_is_cut_at_64_mib(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    """A model that opens a data line and never ends it (64 MB/s of `x`, no line ending) would fill the server's
    memory until the stream timeout; the server reads at most 64 MiB of one event, then ends the answer in ERROR."""
    script = Script([" Before", " the flood."], endless_line=True)
    result = await answer(server, fake_openai, script, middle=5, timeout=30)
    assert (result.body["status"], result.body["text"]) == ("ERROR", " Before the flood.")
    assert_user_safe(result.body["error"])
    assert "more than 64 MiB in one event" in result.body["error"]
    await wait_closed(result.request, timeout=5)
    await assert_still_serving(server, fake_openai)


# --- property: any answer at all ---------------------------------------------------------------------------------

# Every code point, surrogates and NUL included; those are also drawn on purpose, being rare among 1.1 million.
ANY_CHARACTER = (
    st.characters(exclude_categories=())
    | st.characters(categories=["Cs"])
    | st.sampled_from(["\x00", "\ud800", "\udbff", "\udc00", "\udfff"])
)
TEXT_TOKENS = st.lists(st.text(ANY_CHARACTER, max_size=8), max_size=10)
BYTE_TOKENS = st.lists(st.binary(max_size=8).map(raw), max_size=10)


def meaning(token: str, raw_bytes: bool) -> str:
    """What the token means once it has crossed the wire: a JSON string's own decoding (which joins an escaped
    surrogate pair into one character) or, for raw bytes, the spec's UTF-8 decode (U+FFFD for bytes that are not
    UTF-8)."""
    if raw_bytes:
        return token.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    decoded: str = json.loads(json.dumps(token))
    return decoded


@st.composite
def hostile_scripts(draw: st.DrawFn) -> tuple[Script, str, int]:
    """A script, the text it must be stored as, and an offset to observe from."""
    raw_bytes = draw(st.booleans())
    tokens = draw(BYTE_TOKENS if raw_bytes else TEXT_TOKENS)
    split = draw(st.none() | st.integers(1, 64))
    script = Script(tokens, raw_bytes=raw_bytes, split_bytes=split, crlf=draw(st.booleans()))
    expected = storable("".join(meaning(t, raw_bytes) for t in tokens))
    return script, expected, draw(st.integers(0, len(expected)))


@pytest.mark.fuzz
def test_any_answer_is_stored_as_the_driver_and_observers_saw_it(
    backend: Backend, server: ServerProcess, fake_openai: FakeOpenAI, fuzz_counts: FuzzCounts
) -> None:
    cases = replaced = 0
    with asyncio.Runner() as runner:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(case=hostile_scripts())
        def check(case: tuple[Script, str, int]) -> None:
            nonlocal cases, replaced
            script, expected, middle = case
            cases += 1
            replaced += R in expected
            result = runner.run(answer(server, fake_openai, script, middle=middle))
            assert (result.body["status"], result.body["error"]) == ("DONE", None)
            assert result.body["text"] == expected, (script.tokens, result.body["text"], expected)

        check()
        database = "PostgreSQL" if backend.pg_database else "SQLite"
        fuzz_counts.note(f"hostile model answers on {database}", cases, f"{replaced} with characters stored as U+FFFD")
        runner.run(assert_still_serving(server, fake_openai))
    assert cases >= min(EXAMPLES, 10)


@ABOVE_THE_STORE
async def test_the_python_client_reads_an_enormous_answer(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    """A 2 MB token reaches the driver as one event, and an observer from offset 0 gets the whole stored text in
    its first event: `PersistreamClient` (and so `persistream ask`) must take WebSocket messages of any size."""
    enormous = "é" * 1_000_000
    marker = fake_openai.add(unique("enormous-client"), Script(["Start. ", enormous, " End."]))
    async with PersistreamClient(server.graphql_http, give_up_after=5) as client:
        message = await client.send_message(f"Answer {marker}")
        driven, final = await client.text(message.stream_id, drive=True)
        observed, _ = await client.text(message.stream_id)
    assert final.status == "DONE"
    assert driven == observed == "Start. " + enormous + " End."


async def test_an_enormous_token_does_not_stall_other_answers(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    """While one answer's 16 MB token is parsed, cut and stored, another answer on the same server keeps streaming:
    the work is linear in the token's size (no re-scanning of the line at every read, no re-slicing of the token at
    every chunk), so the event loop is never held for long."""
    ticker_id, _ = await start_stream(server, fake_openai, Script([" tick"] * 200, delay=0.02), name="ticker")
    enormous = "é" * 8_000_000
    async with GraphQLWS(server.graphql_ws, max_size=None) as ws:
        ticker = Tap.driver(ws, ticker_id)
        await ticker.until_text(50)
        result = await answer(server, fake_openai, Script(["Start. ", enormous, " End."]), middle=4_000_000)
        await ticker.result(30)
    assert (result.body["status"], len(result.body["text"])) == ("DONE", len(enormous) + 12)
    gaps = [b - a for a, b in zip(ticker.arrived, ticker.arrived[1:], strict=False)]
    print(f"longest pause of another answer while a 16 MB token went through: {max(gaps):.2f} s")
    assert max(gaps) < STALL_LIMIT, gaps
