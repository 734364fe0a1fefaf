"""What the engine accepts as a source, and how it words what a source did wrong.

A source is a factory: a callable that returns an async iterator of text and parts (an async generator function is
one), or an awaitable of one. The engine calls it once, when it claims the stream. What can be seen before that is
checked at the call (`check_source`): a non-callable (an iterator passed instead of its factory) or a synchronous
generator function is a programming error, a `TypeError` for the caller, never an answer that ends in ERROR later.
What can only be seen once the source runs ends the answer in ERROR with a `SourceError`, whose message names what
went wrong (it holds no user data: a type's name, never a value).
"""

from __future__ import annotations

import inspect

from persistream.llm.base import ModelError

# The silence message names what was silent: "The model sent nothing ..." only for a model.
SILENCE = "The {speaker} sent nothing for {seconds} seconds."
# The message users see when a source raised anything but a ModelError (what it raised goes to the log only).
UNEXPECTED = "The answer failed because of an unexpected error."


class SourceError(ModelError):
    """A source broke the protocol: it yielded something that is neither text nor a part, or its factory
    returned something that is not an async iterator. The message says what, and is shown to users."""

    def __init__(self, what: str) -> None:
        super().__init__(f"The answer failed: {what}.", detail=what)


def check_source(source: object) -> None:
    """TypeError unless `source` may be a factory of an async iterator."""
    if not callable(source):
        raise TypeError(
            f"a source must be a callable returning an async iterator (an async generator function, say), "
            f"not {type(source).__name__}: pass the function, not what calling it returns"
        )
    if inspect.isgeneratorfunction(source):
        name = getattr(source, "__name__", type(source).__name__)
        raise TypeError(f"a source must be asynchronous: {name} is a synchronous generator function (write async def)")


def yielded(event: object) -> SourceError:
    """The error for a source that yielded `event`, which is neither text nor a part."""
    return SourceError(f"the generator yielded {type(event).__name__}, not text or a part")
