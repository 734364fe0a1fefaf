"""A model's text made storable: the one rule for the characters no database or wire can carry as given.

PostgreSQL's `text` refuses NUL (U+0000), and a lone surrogate (U+D800..U+DFFF, which a JSON `\\ud800` escape from a
model produces) has no UTF-8 form, so SQLite, PostgreSQL, Redis and the WebSocket all refuse it. Each such code point
becomes U+FFFD REPLACEMENT CHARACTER, one for one, where a token enters the engine (`Generation`): the driver, every
observer and the stored text then hold the same characters, and offsets (code points) are those the model sent.
Bytes that are not UTF-8 never reach this far: the provider's SSE parser decodes them to U+FFFD as the SSE spec says.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with NUL and every lone surrogate replaced by U+FFFD; the same object when there is none."""
    # `isascii` is a flag check in CPython, and `in` a memchr: an ordinary ASCII token pays only these two.
    if text.isascii():
        return text.replace("\0", REPLACEMENT) if "\0" in text else text
    if _UNSTORABLE.search(text) is None:
        return text
    return _UNSTORABLE.sub(REPLACEMENT, text)
