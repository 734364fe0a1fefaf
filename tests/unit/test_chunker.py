"""The chunker cuts where the contract says (sentence or line end, size cap, time cap via the caller's timer, the
end) and never loses, reorders or duplicates a character."""

from __future__ import annotations

import random

import pytest

from persistream.engine.chunker import Chunker


def test_cuts_at_sentence_and_line_ends() -> None:
    chunker = Chunker(max_chars=1000, max_delay=0.5)
    assert chunker.add("Hello", 0.0) == []
    assert chunker.add(" world", 0.0) == []
    assert chunker.add(".", 0.1) == ["Hello world."]
    assert len(chunker) == 0
    assert chunker.add(" Next line", 0.2) == []
    assert chunker.add("\n", 0.2) == [" Next line\n"]
    for end in ["!", "?", ";", ":", "。", "！", "？", "…"]:
        assert chunker.add(f"x{end}", 0.3) == [f"x{end}"], end


def test_trailing_blanks_after_a_terminator_still_cut() -> None:
    chunker = Chunker(max_chars=1000, max_delay=0.5)
    assert chunker.add("Done. ", 0.0) == ["Done. "]
    assert chunker.add("Tab.\t", 0.0) == ["Tab.\t"]


def test_a_terminator_inside_a_token_does_not_cut() -> None:
    chunker = Chunker(max_chars=1000, max_delay=0.5)
    assert chunker.add("3.14", 0.0) == []
    assert chunker.add(" e.g", 0.0) == []
    assert chunker.take() == "3.14 e.g"


def test_size_cap_counts_code_points_and_splits_huge_tokens() -> None:
    chunker = Chunker(max_chars=4, max_delay=10)
    assert chunker.add("ab", 0.0) == []
    assert chunker.add("🎉🎉", 0.0) == ["ab🎉🎉"]  # 4 code points (8 UTF-16 units, 12 bytes)
    assert chunker.add("0123456789", 0.0) == ["0123", "4567"]
    assert len(chunker) == 2
    assert chunker.take() == "89"


def test_due_at_follows_the_first_buffered_token() -> None:
    chunker = Chunker(max_chars=1000, max_delay=0.5)
    assert chunker.due_at() is None
    chunker.add("a", 10.0)
    chunker.add("b", 10.3)
    assert chunker.due_at() == pytest.approx(10.5)
    assert chunker.take() == "ab"
    assert chunker.due_at() is None
    assert chunker.take() == ""
    chunker.add("c", 11.0)
    assert chunker.due_at() == pytest.approx(11.5)
    chunker.add(".", 11.1)  # a cut resets the timer
    assert chunker.due_at() is None


def test_empty_tokens_are_ignored() -> None:
    chunker = Chunker(max_chars=3, max_delay=0.5)
    assert chunker.add("", 0.0) == []
    assert chunker.due_at() is None
    assert len(chunker) == 0


@pytest.mark.parametrize("seed", range(20))
def test_chunks_concatenate_to_exactly_the_tokens(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = ["a", "b", " ", ".", "\n", "é", "e\u0301", "🎉", "中", "\r\n", "!", "x"]
    max_chars = rng.randint(1, 30)
    chunker = Chunker(max_chars=max_chars, max_delay=0.05)
    tokens = ["".join(rng.choices(alphabet, k=rng.randint(0, 40))) for _ in range(200)]
    chunks: list[str] = []
    now = 0.0
    for token in tokens:
        now += rng.uniform(0, 0.02)
        due = chunker.due_at()
        if due is not None and now >= due:
            chunks.append(chunker.take())
        chunks.extend(chunker.add(token, now))
    chunks.append(chunker.take())
    assert "".join(chunks) == "".join(tokens)
    assert all(len(c) <= max_chars for c in chunks)
    assert all(chunks[:-1]), "no empty chunk before the end"
