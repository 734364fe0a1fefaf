"""`persistream ask PROMPT`: send one prompt to a running server and print its answer as it streams.

Standard output carries exactly the answer's text and nothing else, so it can be piped or captured; everything
else (the thread id, a final status other than DONE, a lost connection) goes to standard error. It drives the
answer and, after a dropped connection, resumes from the offset it holds (PersistreamClient.follow).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from typing import BinaryIO, TextIO

import httpx

from persistream.client import DEFAULT_URL, ConnectionLost, PersistreamClient, PersistreamError

TOKEN_VARIABLE = "PERSISTREAM_TOKEN"


async def ask(
    prompt: str,
    *,
    url: str = DEFAULT_URL,
    thread_id: str | None = None,
    token: str | None = None,
    out: BinaryIO | None = None,
    err: TextIO | None = None,
) -> int:
    """0 when the answer ends DONE, 1 otherwise (the reason on `err`)."""
    out = out or sys.stdout.buffer
    err = err or sys.stderr
    async with PersistreamClient(url, token=token) as client:
        try:
            message = await client.send_message(prompt, thread_id)
            print(f"thread: {message.thread_id}", file=err, flush=True)
            written = 0
            async with contextlib.aclosing(client.follow(message.stream_id, drive=True)) as events:
                async for event in events:
                    if event.delta:
                        # UTF-8 whatever the locale says, written at once so a reader sees each token as it comes.
                        out.write(event.delta.encode("utf-8"))
                        out.flush()
                        written += len(event.delta)
                    if event.final:
                        if event.offset < written:
                            # The server lost a tail it had shown (its process died); what was printed cannot be taken
                            # back, so say where the stored answer ends.
                            print(f"\npersistream: the stored answer ends at character {event.offset}", file=err)
                        return _finish(event.status, event.error, err)
        except PersistreamError as error:
            code = f" ({error.code})" if error.code else ""
            print(f"persistream: {error}{code}", file=err)
        except ConnectionLost as error:
            print(f"persistream: {error}", file=err)
        except httpx.HTTPError as error:
            print(f"persistream: cannot reach {url}: {type(error).__name__}", file=err)
    return 1


def _finish(status: str, error: str | None, err: TextIO) -> int:
    if err.isatty():
        print(file=err)  # end the answer's last line on the terminal without adding to standard output
    if status == "DONE":
        return 0
    print(f"persistream: the answer ended {status}" + (f": {error}" if error else ""), file=err)
    return 1


def run(prompt: str, url: str, thread_id: str | None, token: str | None) -> int:
    try:
        return asyncio.run(ask(prompt, url=url, thread_id=thread_id, token=token or os.environ.get(TOKEN_VARIABLE)))
    except KeyboardInterrupt:
        # Leaving never cancels: the server finishes the answer and keeps it in the thread.
        print("\npersistream: stopped following; the answer goes on on the server", file=sys.stderr)
        return 130
