"""Sending to a thread named by the caller (an AG-UI `threadId`): the first send under a name the caller has not
used starts a thread of the caller's with that id, storing the earlier turns it brings; later sends continue the
thread's newest branch. A name another identity holds answers exactly as a missing thread does (NOT_FOUND), and
nothing is stored then.
"""

from __future__ import annotations

from collections.abc import Sequence

from persistream.chat import access
from persistream.chat.identity import Identity
from persistream.chat.service import ChatService, check_prompt, is_encodable, make_title
from persistream.chat.views import MessageView, message_view
from persistream.db import threads
from persistream.db.history import Turn
from persistream.engine.events import StreamBody, StreamStatus
from persistream.engine.ids import new_id
from persistream.errors import BadInput, NotFound

# How many times a send races another send that starts the same thread before it gives up.
CREATE_TRIES = 3


async def send_to_named_thread(
    chat: ChatService,
    caller: Identity | None,
    thread_id: str,
    prompt: str,
    history: Sequence[tuple[str, str]] = (),
) -> MessageView:
    """The prompt with its PENDING answer in the thread `thread_id` (a canonical id). `history`, (prompt, answer)
    pairs, is stored before the prompt only when this send starts the thread; otherwise it is not looked at."""
    identity = access.require(caller)
    check_prompt(prompt, chat.max_prompt_chars)
    for earlier, answer in history:
        check_prompt(earlier, chat.max_prompt_chars)
        if not is_encodable(answer):
            raise BadInput("An earlier answer contains characters that cannot be stored (NUL or a lone surrogate).")
    db = chat.engine.db
    for _ in range(CREATE_TRIES):
        thread = await threads.get_thread(db, thread_id)
        if thread is not None:
            if thread.owner != identity.id:
                raise NotFound(access.NO_THREAD)
            return await chat.send_message(identity, prompt, thread_id)
        await chat.limits.check(identity.id)
        turns = [Turn(new_id(), new_id(), earlier, answer) for earlier, answer in history]
        try:
            stored = await threads.add_message(
                db,
                thread=None,
                thread_id=thread_id,
                message_id=new_id(),
                stream_id=new_id(),
                prompt=prompt,
                title=make_title(turns[0].prompt if turns else prompt),
                owner=identity.id,
                max_live=chat.limits.max_live,
                history=turns,
            )
        except threads.LiveAnswersFull:
            raise chat.limits.live_answers_full() from None
        if stored is not None:
            message = stored[1]
            return message_view(message, StreamBody(message.response_stream_id, "", StreamStatus.PENDING))
        # Another send started a thread with this id in the meantime: look again whose it is.
    raise NotFound(access.NO_THREAD)
