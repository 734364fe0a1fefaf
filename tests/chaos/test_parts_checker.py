"""The chaos checker's part, cursor and branch rules on hand-made runs: an answer with reasoning, a tool call, its
result and text, followed by a driver and by an observer that resumes by cursor, passes; each way of breaking the
rules (a part delta twice, a changed tool call id, reasoning in `delta`, a lost part, a foreign branch in the
model's context) is caught."""

from __future__ import annotations

import copy
from typing import Any

from bench.chaos.checker import check_run
from bench.chaos.model import ModelPlan, ToolPlan
from bench.chaos.plan import FaultKind, RunPlan, SubscriberPlan
from bench.chaos.record import BranchRecord, Event, RunRecord, Segment, StoredBody, SubscriberRecord

MODEL = ModelPlan((" Grüß", " 😀 dich."), 0.01, reasoning=("denk ", "nach 中文"), tool=ToolPlan("call_1", 0.5, "café"))
PARTS = MODEL.parts()
TEXT = MODEL.text


def delta(index: int, piece: str) -> dict[str, Any]:
    part = PARTS[index]
    return {k: part[k] for k in ("index", "kind", "toolName", "toolCallId", "isError")} | {"delta": piece}


def event(offset: int, *deltas: dict[str, Any], status: str = "STREAMING", cursor: str = "") -> Event:
    text = "".join(d["delta"] for d in deltas if d["kind"] == "TEXT")
    return {"delta": text, "offset": offset, "status": status, "error": None, "parts": list(deltas), "cursor": cursor}


def whole_answer() -> list[Event]:
    """Every part in two pieces, cursors c1, c2, ... after each event."""
    events = [event(0, cursor="c0")]
    offset = 0
    for index, part in enumerate(PARTS):
        half = len(part["text"]) // 2
        for piece in (part["text"][:half], part["text"][half:]):
            offset += len(piece) if part["kind"] == "TEXT" else 0
            events.append(event(offset, delta(index, piece), cursor=f"c{len(events)}"))
    events.append(event(offset, status="DONE", cursor="end"))
    return events


def segment(events: list[Event], operation: str = "streamBody", cursor: str | None = None, ending: str = "") -> Segment:
    return Segment("A", "ws", operation, 0, events, [1.0] * len(events), ending or "completed", from_cursor=cursor)


def tool_run() -> RunRecord:
    plan = RunPlan(
        seed=1,
        index=0,
        primary=FaultKind.CUT_DURING_TOOL,
        kinds=frozenset({FaultKind.CUT_DURING_TOOL}),
        group=("A", "B", "C", "D"),
        model=MODEL,
        driven=True,
        subscribers=(
            SubscriberPlan("driver", True, "A", "ws", 0.0),
            SubscriberPlan("observer-1", False, "C", "sse", 0.1, resume="cursor", cut_at=0.4),
        ),
    )
    stored = StoredBody(TEXT, "DONE", None, tuple(PARTS), "end")
    events = whole_answer()
    cut = 4  # the observer's connection is cut after the tool call's first piece; it resumes from that cursor
    observer = SubscriberRecord("observer-1", False, "sse", start=0, resume="cursor", start_parts=[])
    observer.segments = [
        segment(events[:cut], ending="cut: its connection was cut on purpose"),
        segment([event(0, cursor=events[cut - 1]["cursor"]), *events[cut:]], cursor=events[cut - 1]["cursor"]),
    ]
    driving = [segment(whole_answer(), "streamChat")]
    driver = SubscriberRecord("driver", True, "ws", start=0, start_parts=[], segments=driving)
    return RunRecord(
        plan,
        stream_id="s",
        model_requests=2,
        subscribers=[driver, observer],
        first_final=stored,
        later={"A": stored, "C": stored},
    )


def test_a_tool_answer_followed_and_resumed_by_cursor_passes() -> None:
    assert check_run(tool_run()) == []


def test_a_part_delta_received_twice_after_a_cursor_resume_is_caught() -> None:
    run = tool_run()
    resumed = run.subscribers[1].segments[1]
    resumed.events.insert(1, copy.deepcopy(run.subscribers[1].segments[0].events[-1]))  # the piece before the cut
    resumed.arrived.append(1.0)
    violations = check_run(run)
    assert any("observer-1, subscription run 0: part 1: received" in v for v in violations), violations


def test_a_part_whose_tool_call_id_changes_is_caught() -> None:
    run = tool_run()
    run.subscribers[0].segments[0].events[4]["parts"][0]["toolCallId"] = "call_2"
    violations = check_run(run)
    assert violations == [
        "driver: part 1 came as ['TOOL_CALL', 'pause', 'call_2'], stored as ['TOOL_CALL', 'pause', 'call_1']"
    ], violations


def test_reasoning_carried_in_delta_is_caught() -> None:
    run = tool_run()
    run.subscribers[0].segments[0].events[1]["delta"] = "denk"
    violations = check_run(run)
    assert any("driver: an event's delta 'denk' is not its TEXT parts' ''" in v for v in violations), violations


def test_a_done_answer_without_its_tool_result_is_caught() -> None:
    run = tool_run()
    parts = [p for p in PARTS if p["kind"] != "TOOL_RESULT"]
    stored = StoredBody(TEXT, "DONE", None, tuple(parts), "end")
    run.first_final, run.later = stored, {"A": stored}
    run.subscribers = []
    violations = check_run(run)
    assert violations[0].startswith("stored part indexes [0, 1, 3]"), violations
    assert any(v.startswith("DONE with parts REASONING") for v in violations), violations


def test_a_cancelled_tool_keeps_a_prefix_of_the_parts() -> None:
    run = tool_run()
    run.cancel_sent = True
    stored = StoredBody("", "CANCELLED", None, tuple(PARTS[:2]), "c")
    run.first_final, run.later, run.model_requests = stored, {"A": stored}, 1
    run.subscribers = []
    assert check_run(run) == []
    wrong = dict(PARTS[1], text=PARTS[1]["text"] + "}")
    stored = StoredBody("", "CANCELLED", None, (PARTS[0], wrong), "c")
    run.first_final, run.later = stored, {"A": stored}
    assert any("stored part 1 TOOL_CALL" in v for v in check_run(run))


def test_a_branch_that_leaks_the_other_branch_is_caught() -> None:
    run = tool_run()
    context = [("user", "first"), ("assistant", "first answer"), ("user", "again")]
    run.branch = BranchRecord(
        "regenerate",
        first_id="m0",
        replaced_id="m1",
        sibling_id="m2",
        context=context,
        foreign=["elsewhere"],
        listed=["m0", "m2"],
        parent_id="m0",
        sibling_ids=["m1", "m2"],
        requests=[[("system", "be brief"), *context]],
    )
    assert check_run(run) == []
    run.branch.requests.append([("system", "be brief"), *context[:2], ("user", "elsewhere"), context[2]])
    run.branch.listed = ["m0", "m1"]
    violations = check_run(run)
    assert any(v.startswith("branch(leafId: sibling) listed ['m0', 'm1']") for v in violations), violations
    assert any(v.startswith("model request 1 began with") for v in violations), violations
    assert any(v == "model request 1 holds 'elsewhere', from the other branch" for v in violations), violations
