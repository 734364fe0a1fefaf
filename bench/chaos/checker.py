"""The contract, as pure functions of what a run left behind (`RunRecord`): a list of violations, empty when the
run kept every promise. One checker for every run, whatever its faults:

1. the model is asked at most once per stream (twice for an HTTP 500: the SDK's own retry of that one request),
   and at least once if the stream was claimed;
2. every logical subscriber (its resubscriptions after a drop included) saw offsets that never decrease and never
   skip, and the text after its starting offset equals the stored text character for character, with a last
   event that carries the stored final status and error; one that left on purpose saw a prefix of it;
3. no stream is left live;
4. nothing is stored after a final status: the body read when the status was first final is the body read later
   from every process; the text is the script's for DONE and a prefix of what the model sent otherwise;
and the final status is one this run's faults can explain (a plain answer ends DONE unless cancelled or cut off);
and the part rules and a branch's context (`parts_check`).
"""

from __future__ import annotations

from bench.chaos.model import ModelPlan
from bench.chaos.parts_check import check_branch, check_stored_parts, check_subscriber_parts
from bench.chaos.plan import FaultKind
from bench.chaos.record import FINAL, Event, RunRecord, StoredBody, SubscriberRecord
from tests.support.fake_openai import SECRET_KEY

# persistream's openai client retries a refused request once (its `openai_max_retries`).
SDK_RETRIES = 1
# Seconds a subscriber may trail another one's final event ("within a few seconds of it being stored").
LATE = 4.0


def check_run(record: RunRecord) -> list[str]:
    violations = [f"harness: {error}" for error in record.harness_errors]
    stored = record.first_final
    if stored is None:
        violations.append("the stream was left live: no final status stored before the deadline")
        return violations
    violations += check_model_requests(record, stored)
    violations += check_stored(record, stored)
    violations += check_stored_parts(record, stored)
    violations += check_status(record, stored)
    violations += check_branch(record)
    # The driver is sent what the model says before it is stored: a process killed, or a generation taken for
    # dead (its heartbeat late), leaves it having seen more than is stored.
    may_run_ahead = FaultKind.SIGKILL in record.struck or (stored.error or "").startswith(PROCESS_GONE)
    for subscriber in record.subscribers:
        struck = bool(record.struck)
        violations += check_subscriber(subscriber, stored, may_run_ahead=may_run_ahead, faults_struck=struck)
        if subscriber.start is not None:
            violations += check_subscriber_parts(subscriber, stored, may_run_ahead=may_run_ahead)
    if not record.struck:
        violations += check_promptness(record)
    return violations


def check_promptness(record: RunRecord) -> list[str]:
    """Every subscriber reaches the final status within a few seconds of it being stored. The store's own moment
    is not seen from outside, but every subscriber's final event comes after it, so a subscriber much later than
    the first one to end was late (a necessary condition; only for runs no cluster fault delayed)."""
    ends = {s.name: (found, s.paused) for s in record.subscribers if (found := s.final_in()) is not None}
    if not ends:
        return []
    first = min(at for (at, _), _ in ends.values())
    late = []
    for name, ((at, segment), paused) in sorted(ends.items()):
        # One that subscribed after the others ended is measured from its own subscription.
        since = max(first, segment.opened if segment.opened is not None else first)
        if at - since > LATE + paused:
            late.append(
                f"{name}: its final event came {at - since:.1f} s after another subscriber's (at most {LATE:g} s)"
            )
    return late


def reachable_text(model: ModelPlan) -> str:
    """The most text the model sends: everything before the token where its script fails, hangs or drops."""
    return model.reachable()


def check_model_requests(record: RunRecord, stored: StoredBody) -> list[str]:
    model = record.plan.model
    asked = record.model_requests
    limit = 1 + SDK_RETRIES if model.fail_status is not None else model.steps
    violations = []
    if asked > limit:
        violations.append(f"the model was asked {asked} times for one stream (at most {limit})")
    if stored.status == "DONE" and asked < model.steps:
        violations.append(f"the answer ended DONE after {asked} model requests, its script takes {model.steps}")
    claimed = bool(stored.text) or stored.status in ("DONE", "ERROR")
    if claimed and asked == 0:
        violations.append(
            f"the stream ended {stored.status} with {len(stored.text)} chars but the model was never asked"
        )
    if asked and not record.plan.driven:
        violations.append("nobody drove the stream, yet the model was asked")
    if asked and stored.status == "TIMEOUT" and (stored.error or "").startswith("Nobody started"):
        violations.append("the stream timed out as never started, yet the model was asked")
    return violations


def check_stored(record: RunRecord, stored: StoredBody) -> list[str]:
    violations = []
    if stored.status not in FINAL:
        violations.append(f"the stored status {stored.status} is not final")
    for process, later in sorted(record.later.items()):
        if later != stored:
            violations.append(
                f"stored body changed after its final status (read on {process}): "
                f"{stored.status} {len(stored.text)} chars -> {later.status} {len(later.text)} chars"
            )
    reachable = reachable_text(record.plan.model)
    if stored.status == "DONE" and stored.text != reachable:
        violations.append(f"DONE with {len(stored.text)} chars, not the script's {len(reachable)}")
    elif not reachable.startswith(stored.text):
        violations.append(f"the stored text ({len(stored.text)} chars) is not a prefix of what the model sent")
    if stored.status in ("DONE", "CANCELLED") and stored.error is not None:
        violations.append(f"{stored.status} carries an error: {stored.error!r}")
    if stored.status in ("ERROR", "TIMEOUT") and not stored.error:
        violations.append(f"{stored.status} without an error message")
    if stored.error and SECRET_KEY in stored.error:
        violations.append("the stored error quotes the model service's API key")
    return violations


# How each cause words its final error (the start of it), as persistream stores it.
MODEL_HTTP_500 = "The model service returned an error (HTTP 500)"
MODEL_ERROR_FRAME = "The model service reported an error"
MODEL_DROPPED = "The model service could not be reached"
MODEL_SILENT = "The model sent nothing for"
PROCESS_GONE = "The answer stopped making progress for"
NOT_DRIVEN = "Nobody started this answer within"


def allowed_outcomes(record: RunRecord) -> dict[str, set[str | None]]:
    """The final statuses this run's faults can explain, each with the errors it may carry (their beginnings;
    None: no error)."""
    model = record.plan.model
    allowed: dict[str, set[str | None]] = {}

    def allow(status: str, error: str | None = None) -> None:
        allowed.setdefault(status, set()).add(error)

    if not record.plan.driven:
        allow("TIMEOUT", NOT_DRIVEN)
    elif model.fail_status is not None:
        allow("ERROR", MODEL_HTTP_500)
    elif model.error_after is not None:
        allow("ERROR", MODEL_ERROR_FRAME)
    elif model.drop_after is not None:
        allow("ERROR", MODEL_DROPPED)
    elif model.hang_after is not None:
        allow("TIMEOUT", MODEL_SILENT)
    else:
        allow("DONE")
    driver = next((s for s in record.subscribers if s.driver), None)
    if driver is not None and driver.left and not any(seg.events for seg in driver.segments):
        # It left before its first event: its claim may never have reached the server, and nobody else drives.
        allow("TIMEOUT", NOT_DRIVEN)
    # A killed process's stream times out; through a database cut no heartbeat can be stored, and a sweeper may
    # then take a live generation for a dead one.
    if FaultKind.PG_CUT in record.struck or record.killed & claim_processes(record):
        allow("TIMEOUT", PROCESS_GONE)
    if driver is not None and record.killed & claim_processes(record) and not live_events(driver):
        # Killed before it claimed, and down (C alone, restarting) longer than the pending timeout: nobody could.
        allow("TIMEOUT", NOT_DRIVEN)
    if record.cancel_sent:
        allow("CANCELLED")
    return allowed


def live_events(subscriber: SubscriberRecord) -> list[Event]:
    """The events it received before the final one: none if it only ever saw the stream already ended."""
    return [event for segment in subscriber.segments for event in segment.events if event["status"] not in FINAL]


def claim_processes(record: RunRecord) -> set[str]:
    """The processes the driver asked `streamChat` on: the answer was generated on one of them."""
    return {
        segment.process
        for subscriber in record.subscribers
        if subscriber.driver
        for segment in subscriber.segments
        if segment.operation == "streamChat"
    }


def check_status(record: RunRecord, stored: StoredBody) -> list[str]:
    allowed = allowed_outcomes(record)
    errors = allowed.get(stored.status, set())
    if any(stored.error == e if e is None else (stored.error or "").startswith(e) for e in errors):
        return []
    explained = "; ".join(f"{status} {sorted(map(str, errs))}" for status, errs in sorted(allowed.items()))
    return [f"final status {stored.status} ({stored.error!r}) is not one this run explains ({explained})"]


def check_subscriber(
    subscriber: SubscriberRecord, stored: StoredBody, *, may_run_ahead: bool, faults_struck: bool
) -> list[str]:
    """One logical subscriber against the stored body. `may_run_ahead`: a killed process may have shown it text
    it never stored (a driver's tokens come before their chunk is written); `faults_struck`: a cluster fault
    struck during the run, so a dropped or failed subscription is expected (and resubscribed)."""
    name = subscriber.name
    if subscriber.start is None:
        return [] if subscriber.left else [f"{name}: never subscribed"]
    violations = []
    for segment in subscriber.segments:
        if segment.ending.startswith(("dropped", "error")) and not faults_struck:
            violations.append(f"{name}: a subscription on {segment.process} ended '{segment.ending}' with no fault")
        if segment.ending.startswith("error") and "INTERNAL_SERVER_ERROR" not in segment.ending:
            violations.append(f"{name}: a subscription on {segment.process} failed: {segment.ending}")
    events = [event for segment in subscriber.segments for event in segment.events]
    text, final, problems = fold(events, subscriber.start)
    violations += [f"{name}: {problem}" for problem in problems]
    expected = stored.text[subscriber.start :]
    if subscriber.left and final is None:
        if not (expected.startswith(text) or (may_run_ahead and text.startswith(expected))):
            violations.append(f"{name} (left): its {len(text)} chars are not a prefix of the stored text")
        return violations
    if final is None:
        violations.append(f"{name}: no final event (last seen: {events[-1] if events else 'nothing'})")
        return violations
    if text != expected:
        at = next(
            (i for i, (a, b) in enumerate(zip(text, expected, strict=False)) if a != b), min(len(text), len(expected))
        )
        violations.append(
            f"{name}: assembled {len(text)} chars after offset {subscriber.start}, stored has {len(expected)}; "
            f"first difference at {at}: got {text[at : at + 20]!r}, stored {expected[at : at + 20]!r}"
        )
    if (final["status"], final["error"]) != (stored.status, stored.error):
        violations.append(
            f"{name}: last event {final['status']} {final['error']!r}, stored {stored.status} {stored.error!r}"
        )
    if final["offset"] != len(stored.text):
        violations.append(f"{name}: final offset {final['offset']}, stored length {len(stored.text)}")
    return violations


def fold(events: list[Event], start: int) -> tuple[str, Event | None, list[str]]:
    """A subscriber's copy, built as a client builds it: (its text after `start`, its final event, problems).

    Each event's offset must be where the subscriber stood plus the delta (contiguous, never decreasing), except
    a final event of a stream that ended shorter than where it stood: no delta, and the copy is cut to it."""
    text = ""
    held = start
    status = "PENDING"
    final: Event | None = None
    problems: list[str] = []
    for index, event in enumerate(events):
        delta, offset = event["delta"] or "", event["offset"]
        if final is not None:
            problems.append(f"event {index} after the final one: {event}")
            break
        if event["status"] in FINAL:
            final = event
            if offset < held + len(delta):
                if delta:
                    problems.append(f"final event {index} goes back to {offset} from {held} but carries a delta")
                text = text[: max(0, offset - start)]
            elif offset != held + len(delta):
                problems.append(f"final event {index} skips from {held} + {len(delta)} to {offset}")
                text += delta
            else:
                text += delta
            held = offset
            continue
        if offset != held + len(delta):
            problems.append(f"event {index}: offset {offset} after {held} with a delta of {len(delta)}")
        if status == "STREAMING" and event["status"] == "PENDING":
            problems.append(f"event {index}: status went back from STREAMING to PENDING")
        status = event["status"]
        text += delta
        held = offset
    if final is not None and final["offset"] < start and text:
        problems.append("a stream that ended before the starting offset sent text")
    return text, final, problems
