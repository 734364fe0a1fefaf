"""`persistream ask PROMPT`: send one prompt to a running server and print its answer as it streams.

Standard output carries exactly the answer's text and nothing else, so it can be piped or captured; everything
else (the thread id, a final status other than DONE, a lost connection) goes to standard error. It drives the
answer and, after a dropped connection, resumes from the cursor it holds (PersistreamClient.follow).

With `--reasoning`, the other parts go to standard error too (standard output is the same either way): reasoning
streams as it comes, after a `reasoning: ` label, its part ended by a line end; each tool call and each tool result
is one line, written once its part is complete, its line ends and control characters escaped (a tool's result is
untrusted text, and must not move the terminal's cursor). A kind this client does not know streams like reasoning.

The prompt `-` is read from standard input. When standard output is closed before the answer ends (`| head`), it
stops following quietly, with exit status 141 as a process killed by SIGPIPE has; the server finishes the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Iterable, Mapping
from typing import BinaryIO, TextIO

import httpx

from persistream.client import (
    DEFAULT_URL,
    ConnectionLost,
    PartDelta,
    PersistreamClient,
    PersistreamError,
)

TOKEN_VARIABLE = "PERSISTREAM_TOKEN"
# What a shell reports for a process that SIGPIPE ended: what `ask` returns when its standard output closes early.
BROKEN_PIPE_STATUS = 141


async def ask(
    prompt: str,
    *,
    url: str = DEFAULT_URL,
    thread_id: str | None = None,
    token: str | None = None,
    out: BinaryIO | None = None,
    err: TextIO | None = None,
    reasoning: bool = False,
    headers: Mapping[str, str] | None = None,
) -> int:
    """0 when the answer ends DONE, 1 otherwise (the reason on `err`). `reasoning`: the parts other than the
    answer's text go to `err` as they stream. `headers` go on every request and the WebSocket upgrade."""
    out = out or sys.stdout.buffer
    err = err or sys.stderr
    narrator = _Narrator(err) if reasoning else None
    async with PersistreamClient(url, token=token, headers=headers) as client:
        try:
            message = await client.send_message(prompt, thread_id)
            print(f"thread: {message.thread_id}", file=err, flush=True)
            written = 0
            async with contextlib.aclosing(client.follow(message.stream_id, drive=True)) as events:
                async for event in events:
                    if narrator is not None:
                        narrator.add(event.parts)
                    if event.delta:
                        # UTF-8 whatever the locale says, written at once so a reader sees each token as it comes.
                        out.write(event.delta.encode("utf-8"))
                        out.flush()
                        written += len(event.delta)
                    if event.final:
                        if narrator is not None:
                            narrator.close()
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


class _Narrator:
    """Writes every part but the answer's text to standard error (see the module's docstring). Parts come in order
    and only the last one grows, so holding the current one is enough: a delta for another index ends it."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self.current: PartDelta | None = None
        self.pieces: list[str] = []
        # On a terminal the answer's text and these lines share the screen: a part after text starts a new line.
        self.after_text = False

    def add(self, deltas: Iterable[PartDelta]) -> None:
        for delta in deltas:
            if self.current is None or delta.index != self.current.index:
                self.close()
                self.current, self.pieces = delta, []
                if delta.kind != "TEXT" and self.after_text and self.err.isatty():
                    self.err.write("\n")
                self.after_text = delta.kind == "TEXT"
                if _streams(delta.kind):
                    self.err.write(f"{delta.kind.lower().replace('_', ' ')}: ")
            if _streams(delta.kind):
                self.err.write(delta.delta)
                self.err.flush()
            elif delta.kind != "TEXT":
                self.pieces.append(delta.delta)

    def close(self) -> None:
        """Ends the current part: a line end after streamed text, the line of a tool call or result."""
        part, self.current = self.current, None
        if part is None or part.kind == "TEXT":
            return
        if _streams(part.kind):
            line = ""
        elif part.kind == "TOOL_CALL":
            line = f"tool call {_one_line(part.tool_name or '?')}: {_one_line(''.join(self.pieces))}"
        else:
            outcome = "error" if part.is_error else "result"
            line = f"tool {outcome} {_one_line(part.tool_name or '?')}: {_one_line(''.join(self.pieces))}"
        print(line, file=self.err, flush=True)


def _streams(kind: str) -> bool:
    """Reasoning, and any kind this client does not know, stream as text; TEXT and tools do not."""
    return kind not in ("TEXT", "TOOL_CALL", "TOOL_RESULT")


def _one_line(text: str) -> str:
    """The text on one line, with nothing a terminal would act on: what is not printable is shown escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def run(
    prompt: str,
    url: str,
    thread_id: str | None,
    token: str | None,
    reasoning: bool = False,
    *,
    headers: Mapping[str, str] | None = None,
) -> int:
    token = token or os.environ.get(TOKEN_VARIABLE)
    if prompt == "-":
        # The whole of standard input, as UTF-8 whatever the locale; the line end a pipe adds is not the prompt's.
        prompt = sys.stdin.buffer.read().decode("utf-8", errors="replace").rstrip("\r\n")
    try:
        return asyncio.run(ask(prompt, url=url, thread_id=thread_id, token=token, reasoning=reasoning, headers=headers))
    except BrokenPipeError:
        _detach_closed_output()
        return BROKEN_PIPE_STATUS
    except KeyboardInterrupt:
        # Leaving never cancels: the server finishes the answer and keeps it in the thread.
        print("\npersistream: stopped following; the answer goes on on the server", file=sys.stderr)
        return 130


def _detach_closed_output() -> None:
    """Point the standard streams at /dev/null (one of them is a closed pipe, and the process is ending): the
    interpreter flushes them at exit, and a flush into a closed pipe would print a BrokenPipeError of its own."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, stream.fileno())
    os.close(devnull)
