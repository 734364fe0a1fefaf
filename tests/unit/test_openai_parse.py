"""The openai provider reads the model's stream itself (the SDK's per-chunk pydantic parse was its cost): on every
kind of script the test model plays, its text and its failure are exactly what the SDK's own parse gives, over
real HTTP to the fake OpenAI-compatible server."""

from __future__ import annotations

import random

import openai
import pytest

from persistream.llm.base import ChatMessage, ModelError
from persistream.llm.openai import OpenAIModel
from persistream.llm.sse import ServerSentEvent, SSEParser
from tests.support.fake_openai import SECRET_KEY, FakeOpenAI, Script
from tests.support.streams import wait_closed

UNICODE = ["Grüße", " 🦀🧪", " 漢字", " e\u0301", " \u2028line\u2029", ' "quoted" \\ back', " \t tab", " 𝔘𝔫𝔦"]
SCRIPTS = {
    "plain": Script([" The", " first", " sentence.", " Then", " more."]),
    "unicode": Script(UNICODE),
    "unicode-split": Script(UNICODE, split_bytes=3),
    "split-1": Script([" one", " byte", " at a time 🦀"], split_bytes=1),
    "crlf": Script([" carriage", " returns"], crlf=True),
    "crlf-split": Script([" carriage", " returns", " ✓"], crlf=True, split_bytes=1),
    "empty-deltas": Script(["", " a", "", "", " b", ""]),
    "no-tokens": Script([]),
    "newlines": Script(["line\n", "\n\n", "data: not a frame\n", "\r\n"]),
    "error-first": Script([" never"], error_after=0),
    "error-mid": Script([" kept", " text", " lost"], error_after=2),
    "error-mid-split": Script([" kept", " é", " lost"], error_after=2, split_bytes=2),
    "dropped-mid": Script([" kept", " text", " lost"], drop_after=2),
    "http-500": Script([" x"], fail_status=500),
    "http-401": Script([" x"], fail_status=401),
    "http-429": Script([" x"], fail_status=429),
    # The model's own output as hostile input: what the SDK's JSON parse makes of it, ours makes too.
    "nul": Script(["NUL\x00", "\x00", " in\x00side"]),
    "lone-surrogates": Script(["high \ud800", " low \udfff", " reversed \udc00\ud800", " half \ud83e", "\udd80"]),
    "lone-surrogates-split": Script(["\ud800 a", " \udfff", " é\udbff"], split_bytes=1),
    "enormous-token": Script(["Before. ", "é" * 1_000_000 + "漢" * 1_000_000, " after."]),
    "enormous-token-escaped": Script(["é" * 500_000 + "\ud800" + "\x00" * 500_000]),
}


async def sdk_parse(fake: FakeOpenAI, prompt: str) -> tuple[str, str | None]:
    """The text as the SDK's own stream parse reads it, and the SDK error it raised (its type), if any."""
    client = openai.AsyncOpenAI(api_key=SECRET_KEY, base_url=fake.base_url, max_retries=0)
    text: list[str] = []
    try:
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": prompt}], stream=True
        )
        async for chunk in stream:
            for choice in chunk.choices:
                if choice.delta is not None and choice.delta.content:
                    text.append(choice.delta.content)
    except openai.OpenAIError as exc:
        return "".join(text), type(exc).__name__
    finally:
        await client.close()
    return "".join(text), None


async def persistream_parse(fake: FakeOpenAI, prompt: str) -> tuple[str, str | None]:
    """The text as the provider reads it, and the user message of its ModelError, if any."""
    model = OpenAIModel(model="m", api_key=SECRET_KEY, base_url=fake.base_url, max_retries=0)
    text: list[str] = []
    try:
        async for token in model.stream([ChatMessage("user", prompt)]):
            text.append(token)
    except ModelError as exc:
        return "".join(text), exc.user_message
    finally:
        await model.aclose()
    return "".join(text), None


# The provider's message for each SDK error type, as `_model_error` words it.
EXPECTED_MESSAGE = {
    "APIError": "reported an error while answering",
    "APIConnectionError": "could not be reached while answering",
    "InternalServerError": "HTTP 500",
    "AuthenticationError": "credentials",
    "RateLimitError": "rate limited",
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
async def test_same_text_and_failure_as_the_sdks_own_parse(fake_openai: FakeOpenAI, name: str) -> None:
    marker = fake_openai.add(f"parse-{name}", SCRIPTS[name])
    sdk_text, sdk_error = await sdk_parse(fake_openai, marker)
    ours_text, ours_error = await persistream_parse(fake_openai, marker)
    assert ours_text == sdk_text
    assert ours_text.encode("utf-8", "surrogatepass") == sdk_text.encode("utf-8", "surrogatepass")
    if sdk_error is None:
        assert ours_error is None
        script = SCRIPTS[name]
        assert ours_text == "".join(script.tokens)  # and that is the whole answer the model sent
    else:
        assert ours_error is not None and EXPECTED_MESSAGE[sdk_error] in ours_error, (sdk_error, ours_error)
    assert SECRET_KEY not in (ours_error or "")


async def test_a_model_gone_silent_mid_stream_is_the_sdks_timeout(fake_openai: FakeOpenAI) -> None:
    """A model that stops sending mid-answer: the text before is kept and the read timeout is the SDK's
    APITimeoutError, as its own parse raises (not an unexpected error)."""
    marker = fake_openai.add("parse-hang", Script([" before", " the", " hang"], hang_after=2))
    model = OpenAIModel(model="m", api_key=SECRET_KEY, base_url=fake_openai.base_url, timeout=0.5, max_retries=0)
    text: list[str] = []
    with pytest.raises(ModelError) as failure:
        async for token in model.stream([ChatMessage("user", marker)]):
            text.append(token)
    await model.aclose()
    assert "".join(text) == " before the"
    assert "timed out while answering" in failure.value.user_message


BAD_UTF8 = [
    b" good",
    b" bad \xff\xfe",
    b" cut \xe2\x82",
    b" overlong \xc0\xaf",
    b" \xed\xa0\x80 \xf4\x90\x80\x80 \x80.",
]


@pytest.mark.parametrize("split_bytes", [None, 1, 5])
async def test_bytes_that_are_not_utf8_are_read_as_replacement_characters(
    fake_openai: FakeOpenAI, split_bytes: int | None
) -> None:
    """Where the SDK's own parse fails (a bare UnicodeDecodeError, not even an OpenAIError, after the text before
    the bad line), ours reads U+FFFD for each maximal invalid sequence, as the SSE spec's UTF-8 decode does."""
    tokens = [t.decode("utf-8", "surrogateescape") for t in BAD_UTF8]
    marker = fake_openai.add(f"parse-bad-utf8-{split_bytes}", Script(tokens, raw_bytes=True, split_bytes=split_bytes))
    with pytest.raises(UnicodeDecodeError):
        await sdk_parse(fake_openai, marker)
    ours_text, ours_error = await persistream_parse(fake_openai, marker)
    assert ours_error is None
    r = "\ufffd"
    assert ours_text == f" good bad {r}{r} cut {r} overlong {r}{r} {r}{r}{r} {r}{r}{r}{r} {r}."
    assert ours_text == "".join(t.decode("utf-8", "replace") for t in BAD_UTF8)


async def test_a_model_that_goes_on_past_max_tokens_is_cut_there(fake_openai: FakeOpenAI) -> None:
    """A model that never ends its answer (tokens for ever, never `[DONE]`) is held to `max_tokens`: exactly that
    many deltas are read, then the answer fails with a message that says so, and the model's stream is closed."""
    name = "parse-forever"
    marker = fake_openai.add(name, Script([" one", " two", " three"], forever=True))
    model = OpenAIModel(model="m", api_key=SECRET_KEY, base_url=fake_openai.base_url, max_retries=0, max_tokens=7)
    text: list[str] = []
    with pytest.raises(ModelError) as failure:
        async for token in model.stream([ChatMessage("user", marker)]):
            text.append(token)
            assert len(text) <= 7, "read past max_tokens"  # without the limit this would never end
    await model.aclose()
    assert "".join(text) == " one two three one two three one"
    assert "limit of 7 tokens" in failure.value.user_message
    (request,) = fake_openai.requests_for(name)
    assert request.max_tokens == 7
    await wait_closed(request)


async def test_a_line_that_never_ends_is_cut_at_the_event_limit(fake_openai: FakeOpenAI) -> None:
    """A data line that never ends (no line ending, ever) is read up to `max_event_bytes`, not into all memory:
    the text before it is kept, the answer fails saying why, and the model's stream is closed."""
    name = "parse-endless-line"
    marker = fake_openai.add(name, Script([" kept", " text"], endless_line=True))
    model = OpenAIModel(
        model="m", api_key=SECRET_KEY, base_url=fake_openai.base_url, max_retries=0, max_event_bytes=1 << 20
    )
    text: list[str] = []
    with pytest.raises(ModelError) as failure:
        async for token in model.stream([ChatMessage("user", marker)]):
            text.append(token)
    await model.aclose()
    assert "".join(text) == " kept text"
    assert "more than 1 MiB in one event" in failure.value.user_message
    (request,) = fake_openai.requests_for(name)
    await wait_closed(request)


async def test_a_model_that_keeps_to_max_tokens_is_not_cut(fake_openai: FakeOpenAI) -> None:
    marker = fake_openai.add("parse-exact", Script([" one", " two", " three"]))
    model = OpenAIModel(model="m", api_key=SECRET_KEY, base_url=fake_openai.base_url, max_retries=0, max_tokens=3)
    text = [token async for token in model.stream([ChatMessage("user", marker)])]
    await model.aclose()
    assert "".join(text) == " one two three"


def body_of(events: list[tuple[str | None, str]], *, crlf: bool) -> bytes:
    end = "\r\n" if crlf else "\n"
    parts = []
    for event, data in events:
        lines = ([f"event: {event}"] if event else []) + [f"data: {line}" for line in data.split("\n")]
        parts.append(end.join([": a comment", *lines, "retry: x", "unknown: y"]) + end + end)
    return "".join(parts).encode("utf-8")


def test_parser_gives_the_same_events_however_the_body_is_cut() -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    events = [(None, '{"a": "🦀 é"}'), ("message", "two\nlines"), (None, ""), (None, "[DONE]")]
    expected = [ServerSentEvent(e, d) for e, d in events]
    for crlf in (False, True):
        body = body_of(events, crlf=crlf)
        for _ in range(200):
            cuts = sorted(rng.sample(range(1, len(body)), rng.randint(1, 12)))
            parser = SSEParser()
            got = []
            for start, end in zip([0, *cuts], [*cuts, len(body)], strict=True):
                got += parser.feed(body[start:end])
            got += parser.finish()
            assert got == expected, f"seed {seed}, cuts {cuts}, crlf {crlf}"


def test_parser_drops_an_event_the_body_ends_before_its_blank_line() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: whole\n\ndata: cut") == [ServerSentEvent(None, "whole")]
    assert parser.finish() == []
