"""How often a randomized test repeats itself: few rounds in CI, where the whole suite must stay within its time,
and the original, longer count with PERSISTREAM_LONG_TESTS=1 (before a release, or after changing what such a test
races). Each round is the same check, so the short count proves the same behaviour, just on fewer random draws."""

from __future__ import annotations

import os

LONG = os.environ.get("PERSISTREAM_LONG_TESTS", "") not in ("", "0")


def rounds(ci: int, long: int) -> int:
    """`ci` rounds normally, `long` with PERSISTREAM_LONG_TESTS=1."""
    return long if LONG else ci
