"""What the model is sent is bounded: the conversation within `PERSISTREAM_MAX_CONTEXT_CHARS` (system prompt and
new prompt always, then the newest whole earlier turns that fit) and `max_tokens` from
`PERSISTREAM_MAX_ANSWER_TOKENS`, both checked in the requests the test model received."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI
from tests.support.streams import ask, sent_to_model

SYSTEM = "Be brief."
ANSWERS = [["Answer", " one", " is", " here."], ["Second", " answer."], ["Third", " one", "!"], ["Fourth", "."]]


def turn_chars(prompt: str, answer: list[str]) -> int:
    return len(prompt) + len("".join(answer))


async def test_only_the_newest_whole_turns_that_fit_are_sent(
    make_server: ServerFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    # Every prompt has the same length (the scripts' markers do too), so the limit can be set from them below.
    prompt_chars = len("Question 0 script(h-0123456789)")
    new_prompt = "Question 4"
    # Room for the system prompt, the new prompt and the three newest turns, minus one character: two fit.
    newest = [turn_chars("x" * prompt_chars, a) for a in ANSWERS[1:]]
    limit = len(SYSTEM) + prompt_chars + sum(newest[1:]) + newest[0] - 1
    server = make_server(
        tmp_path / "context.db",
        PERSISTREAM_SYSTEM_PROMPT=SYSTEM,
        PERSISTREAM_MAX_CONTEXT_CHARS=str(limit),
        PERSISTREAM_MAX_ANSWER_TOKENS="64",
    )
    thread = None
    prompts = []
    for i, answer in enumerate(ANSWERS):
        message, _ = await ask(server, fake_openai, answer, f"Question {i}", thread)
        thread = message["threadId"]
        prompts.append(message["prompt"])
    assert {len(p) for p in prompts} == {prompt_chars}, prompts
    last, name = await ask(server, fake_openai, ["Done", "."], new_prompt, thread)
    sent = sent_to_model(fake_openai, name)
    assert sent == [
        ("system", SYSTEM),
        ("user", prompts[2]),
        ("assistant", "".join(ANSWERS[2])),
        ("user", prompts[3]),
        ("assistant", "".join(ANSWERS[3])),
        ("user", last["prompt"]),
    ]
    assert sum(len(content) for _, content in sent) <= limit
    [request] = fake_openai.requests_for(name)
    assert request.max_tokens == 64

    # A new prompt that leaves no room for the newest earlier turn: the model gets no history, never half a turn.
    long_prompt = "L" * (limit - len(SYSTEM) - turn_chars("", ["Done", "."]) - prompt_chars + 1)
    _, name = await ask(server, fake_openai, ["Ok", "."], long_prompt, thread)
    [(role, text), (user, prompt)] = sent_to_model(fake_openai, name)
    assert (role, text, user) == ("system", SYSTEM, "user")
    assert prompt.startswith(long_prompt)


async def test_without_max_answer_tokens_none_is_sent(
    make_server: ServerFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    server = make_server(tmp_path / "tokens.db")
    _, name = await ask(server, fake_openai, ["Hi", "."], "Hello")
    [request] = fake_openai.requests_for(name)
    assert request.max_tokens is None
