"""Chat on top of the engine: threads of prompts whose answers are persistent streams.

Validation of user input lives here (the contract's BAD_USER_INPUT and NOT_FOUND cases), so every entry point,
GraphQL or Python, refuses the same things before anything is stored. Who may do what is `core.access`'s to
decide; every method here asks it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Sequence

from persistream.chat import access, conversation, retention
from persistream.chat.answers import AnswerSource
from persistream.chat.identity import Identity
from persistream.chat.limits import SendLimits
from persistream.chat.views import MessageView, ShareView, ThreadView, body_from, message_view, thread_view
from persistream.db import branches, sharing, streams, threads
from persistream.db.database import is_transient
from persistream.db.models import MessageRow, ThreadRow
from persistream.engine import cursor
from persistream.engine.events import StreamBody, StreamEvent, StreamStatus
from persistream.engine.ids import new_id
from persistream.engine.stream_engine import StreamEngine
from persistream.errors import BadInput, NotFound
from persistream.llm.base import ChatMessage, ChatModel
from persistream.llm.tools import Tool
from persistream.logs import bind_stream
from persistream.parts import PartEvent
from persistream.retry import Backoff, Retrying

log = logging.getLogger("persistream.chat")

MAX_LAST = 1000
# Longest wait between two tries of the conversation read after a claim, while the database is away.
CONVERSATION_RETRY_MAX = 1.0
TITLE_CHARS = 60


class ChatService:
    """Every method takes the caller (an Identity, or None without a credential) and checks it through
    `core.access` before it reads or changes anything."""

    def __init__(
        self,
        engine: StreamEngine,
        model: ChatModel,
        *,
        system_prompt: str,
        max_prompt_chars: int,
        max_context_chars: int = 48000,
        limits: SendLimits | None = None,
        retention_seconds: float | None = None,
        tools: Sequence[Tool] = (),
        tool_timeout: float = 30.0,
        max_steps: int = 8,
    ) -> None:
        self.engine = engine
        self.model = model
        # What each answer's parts come from: the model, and the tool loop when there are tools.
        self.source = AnswerSource(model, tuple(tools), tool_timeout, max_steps)
        self.system_prompt = system_prompt
        self.max_prompt_chars = max_prompt_chars
        self.max_context_chars = max_context_chars
        self.limits = limits or SendLimits(engine.db, rate=None, max_live=0)
        # Threads older than this (newest message and every answer's end) are deleted; None keeps them forever.
        self.retention_seconds = retention_seconds
        self._retention: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """After the engine has started: warm the claim path, and run retention when it is on."""
        await self.warm()
        if self.retention_seconds is not None:
            self._retention = asyncio.create_task(
                retention.expire_forever(self.engine.db, self.retention_seconds), name="persistream-retention"
            )

    async def stop(self) -> None:
        """Before the engine stops: end retention's loop."""
        if self._retention is not None:
            self._retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention
            self._retention = None

    async def send_message(
        self, caller: Identity | None, prompt: str, thread_id: str | None = None, parent_id: str | None = None
    ) -> MessageView:
        """A new prompt with its PENDING answer: in a new thread without `thread_id`; in the thread, continuing the
        branch that ends at `parent_id` (a message of that thread), or by default at its newest message."""
        identity = access.require(caller)
        check_prompt(prompt, self.max_prompt_chars)
        thread: ThreadRow | None = None
        if thread_id is not None:
            thread = await access.own_thread(self.engine.db, identity, thread_id)
            if parent_id is not None:
                await self._message_in(thread_id, parent_id, "parentId")
        elif parent_id is not None:
            raise BadInput("parentId needs the threadId of its thread.")
        return await self._store(identity, thread, prompt, parent_id, after_newest=parent_id is None)

    async def regenerate(self, caller: Identity | None, message_id: str) -> MessageView:
        """A new answer to the message's prompt: a sibling of the message (same parent), with a PENDING stream."""
        identity = access.require(caller)
        message, thread = await access.own_message(self.engine.db, identity, message_id)
        return await self._store(identity, thread, message.prompt, message.parent_id)

    async def edit_message(self, caller: Identity | None, message_id: str, prompt: str) -> MessageView:
        """`prompt` in place of the message's: a sibling of the message, with a PENDING stream. The message and
        the branch after it stay as they are."""
        identity = access.require(caller)
        check_prompt(prompt, self.max_prompt_chars)
        message, thread = await access.own_message(self.engine.db, identity, message_id)
        return await self._store(identity, thread, prompt, message.parent_id)

    async def _store(
        self,
        identity: Identity,
        thread: ThreadRow | None,
        prompt: str,
        parent_id: str | None,
        *,
        after_newest: bool = False,
    ) -> MessageView:
        """Store the prompt and its PENDING stream after the limits allow it (the last check before anything is
        stored: a refusal stores nothing)."""
        await self.limits.check(identity.id)
        try:
            stored = await threads.add_message(
                self.engine.db,
                thread=thread,
                thread_id=new_id(),
                message_id=new_id(),
                stream_id=new_id(),
                prompt=prompt,
                title=make_title(prompt),
                owner=identity.id,
                max_live=self.limits.max_live,
                parent_id=parent_id,
                after_newest=after_newest,
            )
        except threads.LiveAnswersFull:
            raise self.limits.live_answers_full() from None
        if stored is None:
            raise NotFound(access.NO_THREAD)
        _, message = stored
        return message_view(message, StreamBody(message.response_stream_id, "", StreamStatus.PENDING))

    async def _message_in(self, thread_id: str, message_id: str, argument: str) -> MessageRow:
        """The message, which must be one of the thread's (the thread is already checked); BadInput otherwise."""
        message = await threads.get_message(self.engine.db, message_id)
        if message is None or message.thread_id != thread_id:
            raise BadInput(f"{argument} is not a message of this thread.")
        return message

    async def stream_chat(self, caller: Identity | None, stream_id: str) -> AsyncIterator[StreamEvent]:
        found = await access.drivable_stream(self.engine.db, caller, stream_id)
        bind_stream(stream_id, found.thread.id if found.thread else None)  # the claim and generation inherit it
        # The access check already read the message: the history read starts from it instead of reading it again.
        speaker = self.source.speaker
        return self.engine.drive(stream_id, lambda: self._answer(stream_id, found.message), speaker=speaker)

    async def warm(self) -> None:
        """Run the claim path once on nothing at start-up, so the first answer costs what the tenth does: the
        statements are compiled and cached, pooled connections open, and the model's client is built and has
        connected (a model without `warm` is left as it is)."""
        probe = new_id()
        await threads.stream_thread(self.engine.db, probe)
        await streams.claim_stream(self.engine.db, probe, probe)  # matches no row: changes nothing
        await self.conversation_for(probe, MessageRow(id=probe, thread_id=probe, prompt="", response_stream_id=probe))
        warm = getattr(self.model, "warm", None)
        if warm is not None:
            try:
                await warm()
            except Exception as exc:  # a cold first answer is better than a server that does not start
                log.warning("the model's warm-up failed: %s", type(exc).__name__)

    async def stream_body(self, caller: Identity | None, stream_id: str, share_token: str | None = None) -> StreamBody:
        await access.readable_stream(self.engine.db, caller, stream_id, share_token)
        return await self.engine.body(stream_id)

    async def observe(
        self, caller: Identity | None, stream_id: str, from_offset: int = 0, share_token: str | None = None
    ) -> AsyncIterator[StreamEvent]:
        await self._follow_readable(caller, stream_id, share_token)
        return self.engine.observe(stream_id, from_offset)

    async def observe_from_cursor(
        self, caller: Identity | None, stream_id: str, from_cursor: str, share_token: str | None = None
    ) -> AsyncIterator[StreamEvent]:
        """Everything after `from_cursor`, in every part; a cursor this server did not give for this stream is
        BadInput (checked first: it needs no read)."""
        place = cursor.decode(stream_id, from_cursor)
        await self._follow_readable(caller, stream_id, share_token)
        return self.engine.observe(stream_id, from_position=place.position, from_text=place.text)

    async def _follow_readable(self, caller: Identity | None, stream_id: str, share_token: str | None) -> None:
        found = await access.readable_stream(self.engine.db, caller, stream_id, share_token)
        bind_stream(stream_id, found.thread.id if found.thread else None)

    async def cancel_stream(self, caller: Identity | None, stream_id: str) -> StreamBody:
        found = await access.own_stream(self.engine.db, caller, stream_id)
        bind_stream(stream_id, found.thread.id if found.thread else None)
        return await self.engine.cancel(stream_id)

    async def _answer(self, stream_id: str, message: MessageRow | None) -> AsyncIterator[PartEvent]:
        return self.source.events(await self._conversation_after_claim(stream_id, message))

    async def _conversation_after_claim(self, stream_id: str, message: MessageRow | None) -> list[ChatMessage]:
        """The conversation, read once the stream is claimed. Through a database outage the read is tried again,
        as the answer's chunk writes are, rather than ending a claimed answer in ERROR before the model is even
        asked; the generation's silence timeout (PERSISTREAM_STREAM_TIMEOUT) bounds the wait."""
        retrying = Retrying(
            Backoff(0.05, CONVERSATION_RETRY_MAX),
            on_failing=lambda exc: log.warning(
                "stream %s: reading the conversation failed (%s); retrying", stream_id, type(exc).__name__
            ),
            on_recovered=lambda failures, seconds: log.info(
                "stream %s: conversation read after %d failed tries", stream_id, failures
            ),
        )
        return await retrying.call(lambda: self.conversation_for(stream_id, message), retry_if=is_transient)

    async def conversation_for(self, stream_id: str, message: MessageRow | None = None) -> list[ChatMessage]:
        """What the model is sent to answer this stream (chat/conversation.py): the system prompt, the branch
        that leads to the prompt it answers (`message`, when the caller has already read it), then that prompt."""
        if message is None:
            message = await threads.message_by_stream(self.engine.db, stream_id)
        if message is None:  # a bare stream (Python API): nothing to answer
            return [ChatMessage("system", self.system_prompt)]
        return await conversation.build(
            self.engine.db, message, system_prompt=self.system_prompt, max_chars=self.max_context_chars
        )

    async def messages(
        self,
        caller: Identity | None,
        thread_id: str,
        last: int = 50,
        before: str | None = None,
        share_token: str | None = None,
    ) -> list[MessageView]:
        check_last(last)
        await access.readable_thread(self.engine.db, caller, thread_id, share_token)
        anchor = None if before is None else await self._message_in(thread_id, before, "before")
        return await self._views(await threads.list_messages(self.engine.db, [thread_id], last, anchor))

    async def branch(
        self,
        caller: Identity | None,
        thread_id: str,
        leaf_id: str | None = None,
        last: int = 50,
        share_token: str | None = None,
    ) -> list[MessageView]:
        """The branch that ends at `leaf_id` (a message of the thread), or at the thread's newest message, oldest
        first; `last` keeps only its newest messages."""
        check_last(last)
        await access.readable_thread(self.engine.db, caller, thread_id, share_token)
        if leaf_id is None:
            leaf_id = await branches.newest_message_id(self.engine.db, thread_id)
            if leaf_id is None:
                return []
        else:
            await self._message_in(thread_id, leaf_id, "leafId")
        return await self._views(await branches.walk_up(self.engine.db, leaf_id, last))

    async def sibling_ids(self, keys: Sequence[branches.SiblingKey]) -> dict[branches.SiblingKey, list[str]]:
        """For each (thread, parent) of messages already read through a checked call, the ids of the variants
        with that parent, oldest first: one query for any number of messages."""
        return await branches.sibling_ids(self.engine.db, keys)

    async def threads(self, caller: Identity | None, last: int = 50, before: str | None = None) -> list[ThreadView]:
        check_last(last)
        identity = access.require(caller)
        anchor = None
        if before is not None:
            anchor = await threads.get_thread(self.engine.db, before)
            if anchor is None or anchor.owner != identity.id:
                raise BadInput("before is not one of your threads.")
        rows = await threads.list_threads(self.engine.db, last, identity.id, anchor)
        return [thread_view(r) for r in rows]

    async def shared_thread(self, token: str) -> ThreadView:
        return thread_view(await access.shared_thread(self.engine.db, token))

    async def thread_messages(self, thread_ids: list[str]) -> dict[str, list[MessageView]]:
        """Messages of several threads in a constant number of queries (for `threads { messages }`). The threads
        come from a call that already checked them (`threads`, `sharedThread`)."""
        views = await self._views(await threads.list_messages(self.engine.db, thread_ids))
        grouped: dict[str, list[MessageView]] = {tid: [] for tid in thread_ids}
        for view in views:
            grouped[view.thread_id].append(view)
        return grouped

    async def delete_thread(self, caller: Identity | None, thread_id: str) -> bool:
        await access.own_thread(self.engine.db, caller, thread_id)
        messages = await threads.list_messages(self.engine.db, [thread_id])
        for message in messages:  # a live answer is cancelled first, so its observers end cleanly
            await self.engine.cancel(message.response_stream_id)
        if not await threads.delete_thread(self.engine.db, thread_id):
            raise NotFound(access.NO_THREAD)
        return True

    async def share_thread(self, caller: Identity | None, thread_id: str) -> ShareView:
        await access.own_thread(self.engine.db, caller, thread_id)
        # 24 random bytes: 192 bits, URL-safe; the same token comes back until it is revoked.
        token = await sharing.share_thread(self.engine.db, thread_id, secrets.token_urlsafe(24))
        if token is None:
            raise NotFound(access.NO_THREAD)
        return ShareView(thread_id, token)

    async def unshare_thread(self, caller: Identity | None, thread_id: str) -> bool:
        await access.own_thread(self.engine.db, caller, thread_id)
        return await sharing.unshare_thread(self.engine.db, thread_id)

    async def _views(self, messages: list[MessageRow]) -> list[MessageView]:
        bodies = await streams.read_texts(self.engine.db, [m.response_stream_id for m in messages])
        return [message_view(m, body_from(m.response_stream_id, bodies.get(m.response_stream_id))) for m in messages]


def check_last(last: int) -> None:
    if not 1 <= last <= MAX_LAST:
        raise BadInput(f"last must be between 1 and {MAX_LAST}.")


def check_prompt(prompt: str, max_chars: int) -> None:
    if not prompt.strip():
        raise BadInput("The prompt is empty.")
    if len(prompt) > max_chars:
        raise BadInput(f"The prompt is longer than {max_chars} characters.")
    if not is_encodable(prompt):
        raise BadInput("The prompt contains characters that cannot be stored (NUL or a lone surrogate).")


def is_encodable(text: str) -> bool:
    """False for text not every database can store: a lone surrogate (JSON allows `"\\ud800"`) has no UTF-8, and
    PostgreSQL text cannot hold NUL."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def make_title(prompt: str) -> str:
    words = " ".join(prompt.split())
    return words if len(words) <= TITLE_CHARS else words[: TITLE_CHARS - 1].rstrip() + "…"
