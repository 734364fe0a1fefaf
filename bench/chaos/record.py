"""What a run leaves behind for the checker: every subscription's events, the model's requests, the stored body
read at the end and again later, and the faults that struck. Plain data, so the checker is pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.chaos.plan import FaultKind, RunPlan

Event = dict[str, Any]
FINAL = frozenset({"DONE", "ERROR", "TIMEOUT", "CANCELLED"})


@dataclass
class Segment:
    """One subscription of a logical subscriber: from its start until it completed, dropped or failed."""

    process: str
    transport: str
    operation: str  # streamChat or streamBody
    from_offset: int
    events: list[Event] = field(default_factory=list)
    # When each event arrived (monotonic seconds).
    arrived: list[float] = field(default_factory=list)
    # "completed", "left", "dropped: ..." (connection lost), "error: CODE ..." (GraphQL error), "gave up".
    ending: str = ""
    # The cursor it subscribed from (`fromCursor`), None for a subscription from an offset.
    from_cursor: str | None = None
    # When it subscribed (monotonic seconds), or None.
    opened: float | None = None


@dataclass
class SubscriberRecord:
    name: str
    driver: bool
    transport: str
    # The offset it started from (an observer's fromOffset; 0 for the driver); None if it never joined.
    start: int | None = None
    # "offset" or "cursor": how it resubscribes after a drop.
    resume: str = "offset"
    # An observer that started from a cursor: the parts of the body that cursor came with (it must receive the
    # rest of each); for every other subscriber None.
    start_parts: list[dict[str, Any]] | None = None
    left: bool = False
    # Seconds it stopped reading on purpose (a slow client).
    paused: float = 0.0
    segments: list[Segment] = field(default_factory=list)

    @property
    def final_at(self) -> float | None:
        """When its final event arrived, if it got one."""
        found = self.final_in()
        return None if found is None else found[0]

    def final_in(self) -> tuple[float, Segment] | None:
        """When its final event arrived, and the subscription it arrived on, if it got one."""
        for segment in self.segments:
            for event, at in zip(segment.events, segment.arrived, strict=True):
                if event["status"] in FINAL:
                    return at, segment
        return None


@dataclass(frozen=True)
class StoredBody:
    text: str
    status: str
    error: str | None
    # Every part, as GraphQL shows it (index, kind, text, toolName, toolCallId, isError).
    parts: tuple[dict[str, Any], ...] = ()
    cursor: str = ""


@dataclass
class BranchRecord:
    """A run whose answer is a sibling: the thread's first message, the second one it replaced, what the model
    must have received as context and what it must never have seen."""

    kind: str  # regenerate or edit
    thread_id: str = ""
    first_id: str = ""
    replaced_id: str = ""
    sibling_id: str = ""
    # The messages of the branch as (role, content), the sibling's prompt last: what every request of the answer
    # starts with (a tool loop's later requests go on after it).
    context: list[tuple[str, str]] = field(default_factory=list)
    # Whether `context` holds the first answer too (it ended DONE); else only the prompts are compared.
    whole: bool = True
    # Text only the other branch holds (the replaced message's answer; for an edit, its prompt too).
    foreign: list[str] = field(default_factory=list)
    # What `branch(threadId, leafId: sibling)` listed (message ids, oldest first), and the sibling's parentId.
    listed: list[str] = field(default_factory=list)
    parent_id: str | None = None
    sibling_ids: list[str] = field(default_factory=list)
    # Each request the model received for the answer: its messages as (role, content).
    requests: list[list[tuple[str, str]]] = field(default_factory=list)


@dataclass
class RunRecord:
    plan: RunPlan
    stream_id: str | None = None
    # Requests the model received for this run's script (the SDK retries an HTTP 500 once).
    model_requests: int = 0
    subscribers: list[SubscriberRecord] = field(default_factory=list)
    # The body read as soon as its status was final, and per process after every fault healed and a pause.
    first_final: StoredBody | None = None
    later: dict[str, StoredBody] = field(default_factory=dict)
    # Whether a cancelStream was answered (the stream may then be CANCELLED).
    cancel_sent: bool = False
    # Cluster faults that struck while this run went on (their kinds, and on which process for a kill).
    struck: set[FaultKind] = field(default_factory=set)
    killed: set[str] = field(default_factory=set)
    # The sibling of a branch run (None for a new thread's first answer).
    branch: BranchRecord | None = None
    # What kept the harness itself from doing the plan (the message could not be sent, ...).
    harness_errors: list[str] = field(default_factory=list)

    @property
    def kinds(self) -> set[FaultKind]:
        """Every fault kind this run met: its own, and the cluster's while it ran."""
        return set(self.plan.kinds) | self.struck
