"""The contract's part rules, as pure functions of a run's record (called by `checker.check_run`):

1. what is stored: `text` is the TEXT parts' text; a DONE answer has exactly the script's parts (reasoning, the
   tool's call and result, the text); any other has a prefix of them (every part but the last whole, the last a
   prefix of the script's, with its kind, tool name and call id);
2. what every subscriber received: each event's `delta` is the TEXT of its part deltas; a part's kind, toolName
   and toolCallId are the stored part's in every delta; and for every part the deltas it received, from a
   subscription by offset 0, `streamChat` or a cursor and on through every resubscription by cursor, add up to
   the stored part's text after where it started: nothing twice, nothing lost (after a resubscription by an
   offset past 0, where it starts in a non-TEXT part is not defined: what it received must be a suffix);
3. a branch's answer: `branch` lists the first message and the sibling, the sibling's parent is the first
   message, and every request the model received for it starts with exactly that branch (prompts and the first
   answer, the sibling's prompt last) and holds nothing of the other branch.
"""

from __future__ import annotations

from typing import Any

from bench.chaos.record import FINAL, RunRecord, Segment, StoredBody, SubscriberRecord

IDENTITY = ("kind", "toolName", "toolCallId")


def check_stored_parts(record: RunRecord, stored: StoredBody) -> list[str]:
    parts = list(stored.parts)
    violations = []
    if [p["index"] for p in parts] != list(range(len(parts))):
        violations.append(f"stored part indexes {[p['index'] for p in parts]} are not 0, 1, ...")
    text = "".join(p["text"] for p in parts if p["kind"] == "TEXT")
    if text != stored.text:
        violations.append(f"the stored text ({len(stored.text)} chars) is not its TEXT parts' ({len(text)} chars)")
    model = record.plan.model
    if stored.status == "DONE":
        if parts != model.parts():
            violations.append(f"DONE with parts {summary(parts)}, the script's are {summary(model.parts())}")
        return violations
    expected = model.parts(model.reachable())
    for part, want in zip(parts, expected, strict=False):
        same = all(part[key] == want[key] for key in IDENTITY) and want["text"].startswith(part["text"])
        if not same or (part is not parts[-1] and part != want):
            violations.append(f"stored part {part['index']} {summary([part])} is not the script's {summary([want])}")
    if len(parts) > len(expected):
        violations.append(f"{len(parts)} parts stored, the model sent at most {len(expected)}")
    return violations


def summary(parts: list[dict[str, Any]]) -> str:
    return ", ".join(f"{p['kind']}({len(p['text'])}{' ' + str(p['toolName']) if p['toolName'] else ''})" for p in parts)


def check_subscriber_parts(subscriber: SubscriberRecord, stored: StoredBody, *, may_run_ahead: bool) -> list[str]:
    name = subscriber.name
    violations = []
    by_index = {p["index"]: p for p in stored.parts}
    for segment in subscriber.segments:
        for event in segment.events:
            deltas = event.get("parts") or []
            text = "".join(d["delta"] for d in deltas if d["kind"] == "TEXT")
            if text != (event["delta"] or ""):
                violations.append(f"{name}: an event's delta {event['delta']!r} is not its TEXT parts' {text!r}")
            for delta in deltas:
                part = by_index.get(delta["index"])
                if part is None:
                    if not may_run_ahead:
                        violations.append(f"{name}: a delta of part {delta['index']}, which is not stored")
                elif any(delta[key] != part[key] for key in IDENTITY):
                    violations.append(
                        f"{name}: part {delta['index']} came as {[delta[k] for k in IDENTITY]}, "
                        f"stored as {[part[k] for k in IDENTITY]}"
                    )
    for number, (start, segments) in enumerate(runs(subscriber)):
        received = assembled(segments)
        complete = any(e["status"] in FINAL for e in segments[-1].events)
        for index in sorted(set(by_index) | set(received)):
            got = received.get(index, "")
            whole = by_index[index]["text"] if index in by_index else ""
            problem = compare(got, whole, start, index, complete=complete, may_run_ahead=may_run_ahead)
            if problem:
                violations.append(f"{name}, subscription run {number}: part {index}: {problem}")
    return violations


def runs(subscriber: SubscriberRecord) -> list[tuple[dict[int, str] | None, list[Segment]]]:
    """Its subscriptions cut where one does not go on from the last by cursor, each with where it started in
    every part (None: not defined, a subscription by an offset past 0)."""
    found: list[tuple[dict[int, str] | None, list[Segment]]] = []
    segments = [s for s in subscriber.segments if s.operation != "none"]
    for number, segment in enumerate(segments):
        if found and segment.from_cursor is not None:
            found[-1][1].append(segment)
            continue
        start: dict[int, str] | None
        if number == 0 and subscriber.start_parts is not None:
            start = {p["index"]: p["text"] for p in subscriber.start_parts}
        elif segment.operation == "streamChat" or (segment.from_cursor is None and segment.from_offset == 0):
            start = {}
        else:
            start = None
        found.append((start, [segment]))
    return found


def assembled(segments: list[Segment]) -> dict[int, str]:
    received: dict[int, str] = {}
    for segment in segments:
        for event in segment.events:
            for delta in event.get("parts") or []:
                received[delta["index"]] = received.get(delta["index"], "") + delta["delta"]
    return received


def compare(
    got: str, whole: str, start: dict[int, str] | None, index: int, *, complete: bool, may_run_ahead: bool
) -> str | None:
    if start is None:  # where it began in this part is not defined: a piece of the stored text, at its end if done
        if complete and not whole.endswith(got) and not may_run_ahead:
            return f"received {len(got)} chars that do not end the stored {len(whole)}"
        if got not in whole and not may_run_ahead:
            return f"received {len(got)} chars that are not in the stored {len(whole)}"
        return None
    before = start.get(index, "")
    if not whole.startswith(before):
        return f"started after {len(before)} chars that the stored part does not begin with"
    expected = whole[len(before) :]
    if got == expected:
        return None
    if may_run_ahead and (got.startswith(expected) or expected.startswith(got)):
        return None
    if not complete and expected.startswith(got):
        return None
    at = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), min(len(got), len(expected)))
    return (
        f"received {len(got)} chars after {len(before)}, stored has {len(expected)} more; first difference at {at}: "
        f"got {got[at : at + 20]!r}, stored {expected[at : at + 20]!r}"
    )


def check_branch(record: RunRecord) -> list[str]:
    branch = record.branch
    if branch is None:
        return []
    violations = []
    if branch.listed != [branch.first_id, branch.sibling_id]:
        violations.append(
            f"branch(leafId: sibling) listed {branch.listed}, not the first message and the sibling "
            f"{[branch.first_id, branch.sibling_id]}"
        )
    if branch.parent_id != branch.first_id:
        violations.append(f"the sibling's parentId is {branch.parent_id}, not the first message {branch.first_id}")
    if branch.replaced_id not in branch.sibling_ids:
        violations.append(f"the sibling's siblingIds {branch.sibling_ids} miss the message it replaced")
    expected = branch.context if branch.whole else [m for m in branch.context if m[0] == "user"]
    for number, messages in enumerate(branch.requests):
        said = [m for m in messages if m[0] != "system" and (branch.whole or m[0] == "user")]
        if said[: len(expected)] != expected:
            violations.append(f"model request {number} began with {said[: len(expected)]}, the branch is {expected}")
        for foreign in branch.foreign:
            if any(foreign in content for _, content in messages):
                violations.append(f"model request {number} holds {foreign!r}, from the other branch")
    return violations
