"""The one rule for a model's characters that cannot be stored as given (NUL, lone surrogates), and the SSE
parser's reading of bytes that are not UTF-8: every character U+FFFD, one for one, so offsets stay the model's."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from persistream.engine.storable import storable
from persistream.llm.sse import EventTooLarge, ServerSentEvent, SSEParser

R = "\ufffd"
# Every code point, surrogates included (hypothesis leaves them out unless told), and those this is about.
ANY_TEXT = st.text(
    st.characters(exclude_categories=()) | st.characters(categories=["Cs"]) | st.sampled_from(["\x00", "\ufffd"])
)


def test_nul_and_lone_surrogates_become_replacement_characters() -> None:
    assert storable("a\x00b") == f"a{R}b"
    assert storable("\x00\x00") == R * 2
    assert storable("high \ud800 low \udfff") == f"high {R} low {R}"
    # Two halves of a pair side by side in a Python str are still two lone code points: both replaced.
    assert storable("\ud83e\udd80") == R * 2
    assert storable("é\x00漢\udc00🦀") == f"é{R}漢{R}🦀"


def test_text_that_can_be_stored_is_the_same_object() -> None:
    for text in ["", "plain ascii.", "Grüße 漢字 🦀 e\u0301", "\ufffd already", "\x01\x7f\x85\u2028\uffff\U0010ffff"]:
        assert storable(text) is text


@given(ANY_TEXT)
def test_any_text_becomes_storable_keeping_every_other_character(text: str) -> None:
    stored = storable(text)
    assert len(stored) == len(text)  # offsets are code points: unchanged
    stored.encode("utf-8")  # no lone surrogate left
    assert "\x00" not in stored
    for before, after in zip(text, stored, strict=True):
        unstorable = before == "\x00" or "\ud800" <= before <= "\udfff"
        assert after == (R if unstorable else before)
    assert storable(stored) is stored


@given(ANY_TEXT, ANY_TEXT)
def test_storable_text_of_a_concatenation_is_the_concatenation_of_storable_texts(a: str, b: str) -> None:
    """So it can run token by token: where the model cuts its tokens does not change the stored text."""
    assert storable(a + b) == storable(a) + storable(b)


def test_the_sse_parser_reads_bytes_that_are_not_utf8_as_replacement_characters() -> None:
    body = b'data: {"t": "bad \xff\xfe, cut \xe2\x82, overlong \xc0\xaf, surrogate \xed\xa0\x80, \xe2\x82\xac"}\n\n'
    expected = [ServerSentEvent(None, f'{{"t": "bad {R}{R}, cut {R}, overlong {R}{R}, surrogate {R}{R}{R}, €"}}')]
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    for _ in range(200):
        # However the body is cut into reads (a valid sequence split across two reads stays one character).
        cuts = sorted(rng.sample(range(1, len(body)), rng.randint(0, 10)))
        parser = SSEParser()
        got = []
        for start, end in zip([0, *cuts], [*cuts, len(body)], strict=True):
            got += parser.feed(body[start:end])
        assert got + parser.finish() == expected, f"seed {seed}, cuts {cuts}"


def test_the_sse_parser_refuses_an_event_past_its_limit_however_the_body_is_cut() -> None:
    """A line (or an event of many lines) that never ends cannot fill the memory: past `max_event_bytes` the parser
    raises, whether the bytes come in one read or many; events within the limit pass, as many as come."""
    fits = b"data: " + b"x" * 80 + b"\n\n"  # 88 bytes
    assert SSEParser(max_event_bytes=88).feed(fits * 50) == [ServerSentEvent(None, "x" * 80)] * 50
    too_long_line = b"data: " + b"x" * 200
    too_many_lines = b"data: xxxx\n" * 20
    for body in (too_long_line, too_many_lines, fits + too_long_line):
        for piece in (1, 7, len(body)):
            parser = SSEParser(max_event_bytes=88)
            with pytest.raises(EventTooLarge):
                for start in range(0, len(body), piece):
                    parser.feed(body[start : start + piece])
