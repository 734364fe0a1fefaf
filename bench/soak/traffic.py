"""The soak's connections: one graphql-transport-ws socket each, all in this process's event loop.

A driver sends a message (over its socket), drives the answer with `streamChat` to its final status, checks the
text against the script the model played and against the stored `streamBody`, waits a little and sends the next
one (five turns to a thread, then a new thread). An observer follows a random recent answer with the `streamBody`
subscription from a random offset to its final status, checks what it got against the script (and, for a sample,
against the stored text too), waits a little and follows another. Every failure is counted by kind, and the first
few are kept word for word; a connection that breaks is opened again, so the count of sockets stays C.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import websockets

from bench.model_server import ModelClient
from tests.support.gql import BODY, SEND, STREAM_BODY, STREAM_CHAT, GraphQLWS, SubscriptionError, check_events

TURNS_PER_THREAD = 5
# A subscription that hears nothing for this long is counted as an error (answers last a few seconds).
SILENCE = 60.0
OPENING_AT_ONCE = 50
WORDS = [
    *("stream", "persisted", "chunk", "offset", "observer", "driver", "answer", "token", "line", "final"),
    *("café", "naïve", "über", "東京", "数据", "🙂", "résumé", "ça-va", "Ωmega"),
]


@dataclass(frozen=True)
class Answer:
    """A script registered with the model: the prompt marker that selects it, and the text it produces."""

    marker: str
    text: str


def register_answers(model: ModelClient, count: int, tokens: int, interval: float, seed: int) -> list[Answer]:
    """`count` different paced answers of `tokens` tokens, a sentence every 6 to 12 tokens (a chunk each), with
    non-ASCII words in them, since offsets count code points."""
    rng = random.Random(seed)
    answers = []
    for index in range(count):
        parts: list[str] = []
        sentence = 0
        for position in range(tokens):
            word = rng.choice(WORDS)
            sentence += 1
            end = position == tokens - 1 or (sentence >= 6 and rng.random() < 0.25) or sentence >= 12
            parts.append((" " if position else "") + word + ("." if end else ""))
            sentence = 0 if end else sentence
        marker = model.script(f"soak-{seed}-{index}", parts, delay=interval)
        answers.append(Answer(marker, "".join(parts)))
    return answers


@dataclass
class Tally:
    answers_driven: int = 0
    answers_observed: int = 0
    events: int = 0
    stored_checks: int = 0
    reconnects: int = 0
    answer_seconds: list[float] = field(default_factory=list)  # drivers': from sending to the final status
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    first_errors: list[str] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def error(self, role: str, problem: BaseException) -> None:
        kind = problem.code if isinstance(problem, SubscriptionError) else type(problem).__name__
        self.errors[f"{role}: {kind}"] += 1
        if len(self.first_errors) < 10:
            self.first_errors.append(f"{role}: {type(problem).__name__}: {str(problem)[:300]}")


class Mismatch(AssertionError):
    """What a connection received differs from what was stored or scripted."""


async def one_result(client: GraphQLWS, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """A query or mutation sent over the socket (graphql-transport-ws carries them like a subscription)."""
    async for data in client.subscribe(query, variables, timeout=SILENCE):
        return data
    raise Mismatch(f"no result for {query.split('(')[0]}")


async def stored(client: GraphQLWS, stream_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (await one_result(client, BODY, {"id": stream_id}))["streamBody"]
    return body


class Traffic:
    """C connections, `drivers` of them (a fraction) driving and the rest observing, until `stop`."""

    def __init__(
        self,
        url: str,
        answers: list[Answer],
        *,
        connections: int,
        drivers: float,
        pause: float,
        stored_check: float,
        compression: str | None,
        seed: int,
    ) -> None:
        self.url = url
        self.answers = answers
        self.connections = connections
        self.driver_count = max(1, round(connections * drivers))
        self.pause = pause
        self.stored_check = stored_check
        self.compression = compression
        self.rng = random.Random(seed)
        self.tally = Tally()
        # Answers sent lately, for observers to pick from: about two per driver, so most are still being written.
        self.recent: collections.deque[tuple[str, Answer]] = collections.deque(maxlen=2 * self.driver_count)
        self.open_sockets = 0
        self._opening = asyncio.Semaphore(OPENING_AT_ONCE)
        self._all_open = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._messages = 0

    @property
    def observer_count(self) -> int:
        return self.connections - self.driver_count

    async def start(self, timeout: float = 120.0) -> None:
        """Open every connection (a few dozen at a time) and start its loop; returns once all are open."""
        for index in range(self.connections):
            role = self._drive if index < self.driver_count else self._observe
            name = "driver" if index < self.driver_count else "observer"
            self._tasks.append(asyncio.create_task(self._connection(name, role), name=f"soak-{name}-{index}"))
        await asyncio.wait_for(self._all_open.wait(), timeout)

    async def stop(self, grace: float = 30.0) -> None:
        """Let every connection finish the answer it is on, then close them all (those still busy after `grace`
        are cancelled: their answers go on in the server, which is what a closed browser tab does too)."""
        self._stopping.set()
        _, busy = await asyncio.wait(self._tasks, timeout=grace)
        for task in busy:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _connection(self, role: str, loop: Callable[[GraphQLWS], Awaitable[None]]) -> None:
        first = True
        while not self._stopping.is_set():
            try:
                async with self._opening:
                    client = await GraphQLWS(
                        self.url, compression=self.compression, open_timeout=30, proxy=None
                    ).__aenter__()
            except (OSError, TimeoutError, websockets.WebSocketException, AssertionError) as problem:
                self.tally.error(f"{role} connect", problem)
                await self._rest(1.0)
                continue
            self.open_sockets += 1
            if first:
                first = False
                if self.open_sockets == self.connections:
                    self._all_open.set()
            else:
                self.tally.reconnects += 1
            try:
                await loop(client)
            except (Mismatch, SubscriptionError, ConnectionError, TimeoutError, websockets.WebSocketException) as e:
                self.tally.error(role, e)
            finally:
                self.open_sockets -= 1
                with contextlib.suppress(Exception):
                    await client.__aexit__(None, None, None)

    async def _rest(self, seconds: float) -> None:
        """Wait `seconds`, or less if the run is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _pause(self) -> float:
        return self.rng.uniform(0, 2 * self.pause)

    async def _drive(self, client: GraphQLWS) -> None:
        thread: str | None = None
        turn = 0
        await self._rest(self._pause())  # drivers start spread out too, not all in the first second
        while not self._stopping.is_set():
            answer = self.rng.choice(self.answers)
            self._messages += 1
            prompt = f"{answer.marker} message {self._messages}"
            sent_at = time.monotonic()
            sent = (await one_result(client, SEND, {"prompt": prompt, "thread": thread}))["sendMessage"]
            stream_id, thread = sent["responseStreamId"], sent["threadId"]
            self.recent.append((stream_id, answer))
            events = [e["streamChat"] async for e in client.subscribe(STREAM_CHAT, {"id": stream_id}, timeout=SILENCE)]
            self.tally.answer_seconds.append(time.monotonic() - sent_at)
            self.tally.events += len(events)
            text = self._checked(events, 0, answer, stream_id)
            body = await stored(client, stream_id)
            self.tally.stored_checks += 1
            if body["text"] != text or body["status"] != "DONE":
                raise Mismatch(f"{stream_id}: driver got {len(text)} chars, stored {body['status']} {body['text']!r}")
            self.tally.answers_driven += 1
            turn += 1
            if turn % TURNS_PER_THREAD == 0:
                thread = None
            await self._rest(self._pause())

    async def _observe(self, client: GraphQLWS) -> None:
        await self._rest(self._pause())  # observers start spread out, not all at the first answer
        while not self._stopping.is_set():
            if not self.recent:
                await self._rest(0.2)
                continue
            stream_id, answer = self.rng.choice(self.recent)
            start = self.rng.randint(0, len(answer.text))
            variables = {"id": stream_id, "from": start}
            events = [e["streamBody"] async for e in client.subscribe(STREAM_BODY, variables, timeout=SILENCE)]
            self.tally.events += len(events)
            self._checked(events, start, answer, stream_id)
            if self.rng.random() < self.stored_check:
                body = await stored(client, stream_id)
                self.tally.stored_checks += 1
                if body["text"] != answer.text:
                    raise Mismatch(f"{stream_id}: stored {body['status']} {body['text']!r}, scripted {answer.text!r}")
            self.tally.answers_observed += 1
            await self._rest(self._pause())

    @staticmethod
    def _checked(events: list[dict[str, Any]], start: int, answer: Answer, stream_id: str) -> str:
        """The text received from `start`, after the contract's event checks; it must be the script's."""
        try:
            text = check_events(events, start)
        except AssertionError as problem:
            raise Mismatch(f"{stream_id}: events break the contract: {problem}") from None
        if events[-1]["status"] != "DONE" or text != answer.text[start:]:
            raise Mismatch(f"{stream_id} from {start}: {events[-1]['status']} {text!r}, scripted {answer.text!r}")
        return text
