"""The chaos checker on hand-made runs: a run that kept the contract passes, and each way of breaking it is caught,
so a chaos run that reports no violation means something."""

from __future__ import annotations

import copy
import dataclasses

from bench.chaos.checker import check_run
from bench.chaos.plan import FaultKind, ModelPlan, RunPlan, SubscriberPlan
from bench.chaos.record import Event, RunRecord, Segment, StoredBody, SubscriberRecord

TOKENS = ("Grüß", " dich", " 😀.", "\nzwei", " 中文")
TEXT = "".join(TOKENS)


PLAIN = {"toolName": None, "toolCallId": None, "isError": False}


def event(delta: str, offset: int, status: str = "STREAMING", error: str | None = None) -> Event:
    parts = [{"index": 0, "kind": "TEXT", "delta": delta, **PLAIN}] if delta else []
    return {"streamId": "s", "delta": delta, "offset": offset, "status": status, "error": error, "parts": parts}


def body(text: str, status: str, error: str | None = None) -> StoredBody:
    """A stored body of one TEXT part (none when empty)."""
    parts = ({"index": 0, "kind": "TEXT", "text": text, **PLAIN},) if text else ()
    return StoredBody(text, status, error, parts, "c")


def driver_events() -> list[Event]:
    events, offset = [event("", 0)], 0
    for token in TOKENS:
        offset += len(token)
        events.append(event(token, offset))
    events.append(event("", offset, "DONE"))
    return events


def subscriber(name: str, events: list[Event], *, start: int = 0, driver: bool = False) -> SubscriberRecord:
    operation = "streamChat" if driver else "streamBody"
    segment = Segment("A", "ws", operation, start, events=events, arrived=[1.0] * len(events), ending="completed")
    return SubscriberRecord(name, driver, "ws", start=start, segments=[segment])


def good_run(kinds: frozenset[FaultKind] = frozenset({FaultKind.OBSERVERS})) -> RunRecord:
    plan = RunPlan(
        seed=1,
        index=0,
        primary=FaultKind.OBSERVERS,
        kinds=kinds,
        group=("A", "B"),
        model=ModelPlan(TOKENS, 0.01),
        driven=True,
        subscribers=(
            SubscriberPlan("driver", True, "A", "ws", 0.0),
            SubscriberPlan("observer-1", False, "B", "sse", 0.1, start=("at", 7)),
        ),
    )
    stored = body(TEXT, "DONE")
    observer = [event(TEXT[7:12], 12), event(TEXT[12:], len(TEXT)), event("", len(TEXT), "DONE")]
    return RunRecord(
        plan,
        stream_id="s",
        model_requests=1,
        subscribers=[subscriber("driver", driver_events(), driver=True), subscriber("observer-1", observer, start=7)],
        first_final=stored,
        later={"A": stored, "B": stored},
    )


def test_a_run_that_kept_the_contract_passes() -> None:
    assert check_run(good_run()) == []


def test_a_resubscription_from_the_held_offset_is_one_subscriber() -> None:
    run = good_run(frozenset({FaultKind.OBSERVERS, FaultKind.SIGKILL}))
    run.struck.add(FaultKind.SIGKILL)
    events = driver_events()
    first = Segment("A", "ws", "streamChat", 0, events=events[:3], arrived=[1.0] * 3, ending="dropped: killed")
    again = [event("", events[2]["offset"]), *events[3:]]
    second = Segment("B", "ws", "streamBody", events[2]["offset"], again, [2.0] * len(again), "completed")
    run.subscribers[0].segments = [first, second]
    assert check_run(run) == []


def test_a_stream_that_ended_shorter_than_the_driver_saw_is_cut_to_the_stored_text() -> None:
    run = good_run()
    run.struck.add(FaultKind.SIGKILL)
    run.killed.add("A")
    stored = body(TEXT[:9], "TIMEOUT", "The answer stopped making progress for 2.5 seconds.")
    run.first_final = stored
    run.later = {"A": stored, "B": stored}
    shown = driver_events()[:4]  # the driver saw 14 characters; only 9 were stored before the kill
    final = event("", 9, "TIMEOUT", stored.error)
    run.subscribers = [subscriber("driver", [*shown, final], driver=True)]
    assert check_run(run) == []


def test_a_duplicated_delta_is_caught() -> None:
    run = good_run()
    events = driver_events()
    events.insert(3, copy.deepcopy(events[2]))
    run.subscribers[0].segments[0].events = events
    run.subscribers[0].segments[0].arrived = [1.0] * len(events)
    violations = check_run(run)
    assert any("driver: event 3: offset" in v for v in violations), violations
    assert any("driver: assembled" in v for v in violations), violations


def test_a_lost_tail_is_caught() -> None:
    run = good_run()
    events = driver_events()
    del events[-2]  # the last token never reached the driver, though its final event says the whole length
    run.subscribers[0].segments[0].events = events
    run.subscribers[0].segments[0].arrived = [1.0] * len(events)
    violations = check_run(run)
    assert any("driver: final event" in v and "skips" in v for v in violations), violations
    assert any("first difference" in v for v in violations), violations


def test_a_wrong_final_status_is_caught() -> None:
    run = good_run()
    run.subscribers[1].segments[0].events[-1] = event("", len(TEXT), "CANCELLED")
    violations = check_run(run)
    assert violations == ["observer-1: last event CANCELLED None, stored DONE None"], violations


def test_a_second_model_request_is_caught() -> None:
    run = good_run()
    run.model_requests = 2
    assert check_run(run) == ["the model was asked 2 times for one stream (at most 1)"]


def test_a_stream_left_live_is_caught() -> None:
    run = good_run()
    run.first_final = None
    assert check_run(run) == ["the stream was left live: no final status stored before the deadline"]


def test_text_appended_after_the_final_status_is_caught() -> None:
    run = good_run()
    run.later["B"] = body(TEXT + " more", "DONE", None)
    violations = check_run(run)
    n = len(TEXT)
    assert violations == [
        f"stored body changed after its final status (read on B): DONE {n} chars -> DONE {n + 5} chars"
    ]


def test_a_subscriber_that_never_ends_is_caught() -> None:
    run = good_run()
    segment = run.subscribers[1].segments[0]
    segment.events, segment.arrived, segment.ending = segment.events[:-1], segment.arrived[:-1], "gave up"
    violations = check_run(run)
    assert any(v.startswith("observer-1: no final event") for v in violations), violations


def test_a_status_the_faults_cannot_explain_is_caught() -> None:
    run = good_run()  # a plain answer, nobody cancelled it, nothing killed
    stored = body(TEXT[:9], "TIMEOUT", "The answer stopped making progress for 2.5 seconds.")
    run.first_final, run.later = stored, {"A": stored, "B": stored}
    run.subscribers = []
    violations = check_run(run)
    assert any("final status TIMEOUT" in v for v in violations), violations


def test_a_drop_with_no_fault_and_a_late_subscriber_are_caught() -> None:
    run = good_run()
    run.subscribers[1].segments[0].ending = "dropped: ConnectionClosedError"
    run.subscribers[1].segments[0].arrived[-1] = 9.0
    violations = check_run(run)
    assert any("ended 'dropped: ConnectionClosedError' with no fault" in v for v in violations), violations
    assert any("its final event came 8.0 s after" in v for v in violations), violations


def test_a_subscriber_that_joined_after_the_end_is_timed_from_its_own_start() -> None:
    run = good_run()
    late_joiner = run.subscribers[1].segments[0]
    late_joiner.opened, late_joiner.arrived = 8.9, [9.0] * len(late_joiner.arrived)
    assert check_run(run) == []
    late_joiner.opened = 2.0  # joined early, yet its final came 7 s after the driver's: late
    assert any("its final event came 7.0 s after" in v for v in check_run(run))


def test_an_error_the_fault_does_not_explain_is_caught() -> None:
    """The shape of what the checker found (seed 4, run 46): a PostgreSQL cut right after the claim ended a plain
    answer in ERROR with the model never asked."""
    run = good_run(frozenset({FaultKind.OBSERVERS, FaultKind.PG_CUT}))
    run.struck.add(FaultKind.PG_CUT)
    stored = body("", "ERROR", "The answer failed because of an unexpected error.")
    run.first_final, run.later, run.model_requests = stored, {"A": stored, "B": stored}, 0
    run.subscribers = [subscriber("driver", [event("", 0, "ERROR", stored.error)], driver=True)]
    violations = check_run(run)
    assert violations[0] == "the stream ended ERROR with 0 chars but the model was never asked"
    assert violations[1].startswith("final status ERROR ('The answer failed because of an unexpected error.')")
    assert len(violations) == 2, violations


def test_a_model_error_must_end_with_the_models_error() -> None:
    run = good_run()
    run.plan = dataclasses.replace(run.plan, model=ModelPlan(TOKENS, 0.01, error_after=2))
    for message, expected in [
        ("The model service reported an error while answering.", []),
        ("The model sent nothing for 2.5 seconds.", ["final status ERROR"]),
    ]:
        stored = body(TEXT[:9], "ERROR", message)
        run.first_final, run.later = stored, {"A": stored, "B": stored}
        run.subscribers = [subscriber("driver", [*driver_events()[:3], event("", 9, "ERROR", message)], driver=True)]
        assert [v[: len("final status ERROR")] for v in check_run(run)] == expected, message


def test_a_pending_timeout_of_a_driven_stream_needs_its_only_process_killed() -> None:
    """Driven streams are claimed: a TIMEOUT for never being started is a violation, unless the one process the
    driver could claim on was killed before it did and stayed down past the pending timeout (C alone)."""
    run = good_run()
    stored = body("", "TIMEOUT", "Nobody started this answer within 6 seconds.")
    run.first_final, run.later, run.model_requests = stored, {"A": stored, "B": stored}, 0
    dropped = Segment("A", "ws", "streamChat", 0, ending="dropped: killed")
    final = event("", 0, "TIMEOUT", stored.error)
    again = Segment("A", "ws", "streamChat", 0, events=[final], arrived=[8.0], ending="completed")
    run.subscribers = [SubscriberRecord("driver", True, "ws", start=0, segments=[dropped, again])]
    assert "final status TIMEOUT ('Nobody started" in check_run(run)[0]
    run.struck.add(FaultKind.SIGKILL)
    run.killed.add("A")
    assert check_run(run) == []
