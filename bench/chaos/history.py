"""A run's timestamped log: what each actor did and saw, and every fault that struck while it went on. Printed
whole when the run breaks the contract, so the failure can be read without replaying it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class History:
    started: float = field(default_factory=time.monotonic)
    entries: list[tuple[float, str, str]] = field(default_factory=list)

    def add(self, who: str, what: str, at: float | None = None) -> None:
        self.entries.append(((time.monotonic() if at is None else at) - self.started, who, what))

    def lines(self) -> list[str]:
        return [f"  {t:8.3f}s  {who:<14} {what}" for t, who, what in sorted(self.entries, key=lambda e: e[0])]


def short(text: str, limit: int = 60) -> str:
    """A delta as it is printed: quoted, escapes visible, long ones cut in the middle."""
    if len(text) > limit:
        text = text[: limit // 2] + "…" + text[-limit // 2 :]
    return repr(text)
