"""One run from its plan to its record: send the message, start the subscribers and the faults at their moments,
wait for the stream to settle, then read the stored body again from every process once every fault has healed."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable

from bench.chaos.actors import RunContext, Subscriber, cancel_stream, read_body, send_message
from bench.chaos.branches import look_at_branch, make_sibling
from bench.chaos.cluster import Cluster
from bench.chaos.faults import Injector
from bench.chaos.history import History
from bench.chaos.plan import CANCEL_KINDS, CLUSTER_KINDS, SQLITE, ActionPlan, FaultKind, RunPlan
from bench.chaos.record import FINAL, RunRecord, StoredBody

# Seconds after the message was sent by which the stream must be final and every subscriber ended: well above
# the timeouts (5 s silence, 10 s pending), the sweeper's interval, a remote cancel's grace and a restart (which
# takes 30 s and more on a busy two-core machine: a SQLite process's stream is swept only once it is back).
SETTLE = 90.0
# Seconds between the final status and the second read of the body (nothing may be stored after it).
AFTER_FINAL = 0.5


async def execute(plan: RunPlan, cluster: Cluster, injector: Injector) -> tuple[RunRecord, History]:
    history = History()
    record = RunRecord(plan)
    history.add("plan", plan.describe())
    started = time.monotonic()
    name = f"chaos-{plan.seed}-{plan.index}-{uuid.uuid4().hex[:6]}"
    marker = cluster.fake.add(name, plan.model.script())
    driver_process = plan.subscribers[0].process if plan.driven else plan.processes[0]
    before = 0
    if plan.branch is None:
        prompt = f"Chaos run {plan.index}: {marker}"
        sent = await send_message(cluster, driver_process, prompt, history, started + SETTLE)
    else:
        made = await make_sibling(plan, cluster, name, driver_process, history, started + SETTLE)
        sent = None
        if made is not None:
            sent, record.branch, name, before = made
    if sent is None:
        record.harness_errors.append("the message was never made")
        return record, history
    stream_id = str(sent["responseStreamId"])
    record.stream_id = stream_id
    ctx = RunContext(plan, cluster, history, time.monotonic(), time.monotonic() + SETTLE, stream_id)

    subscribers = [Subscriber(p, ctx) for p in plan.subscribers]
    record.subscribers = [s.record for s in subscribers]
    # Watched from the start: a fault that waits its turn (one at a time) must not use up the time to see it final.
    final = asyncio.create_task(_wait_final(ctx))
    tasks: list[Awaitable[None]] = [s.run() for s in subscribers]
    tasks += [_act(action, ctx, injector, record, driver_process) for action in plan.actions]
    await asyncio.gather(*tasks)

    record.first_final = await final
    if record.first_final is not None:
        history.add(
            "store",
            f"final: {record.first_final.status} {len(record.first_final.text)} chars "
            f"{record.first_final.error or ''}".rstrip(),
        )
    await asyncio.sleep(AFTER_FINAL)
    async with injector.lock:  # no fault in progress: every process answers
        for process in plan.processes:
            later = await read_body(cluster, process, stream_id)
            if later is None:
                record.harness_errors.append(f"the body could not be read again on {process}")
            else:
                record.later[process] = later
        if record.branch is not None:
            await look_at_branch(ctx, record.branch, name, before)
    record.model_requests = len(cluster.fake.requests_for(name)) - before
    history.add("model", f"asked {record.model_requests} time(s)")
    for entry in injector.overlapping(started, time.monotonic()):
        if (entry.process == SQLITE) == plan.shared:
            continue  # a kill of S strikes only S's runs; every other fault only the shared processes' runs
        record.struck.add(entry.kind)
        if entry.kind is FaultKind.SIGKILL:
            record.killed.add(entry.process)
        history.add("fault", f"overlapped this run: {entry.describe()}", at=entry.started)
    return record, history


async def _act(action: ActionPlan, ctx: RunContext, injector: Injector, record: RunRecord, driver: str) -> None:
    await ctx.sleep_until(action.at)
    if action.kind in CANCEL_KINDS:
        record.cancel_sent |= await cancel_stream(ctx, action.process, str(action.kind))
    elif action.kind in CLUSTER_KINDS:
        process = ""
        if action.kind is FaultKind.SIGKILL:
            process = driver if action.process == "driver" else action.process
        await injector.strike(action.kind, process=process, duration=action.duration, history=ctx.history)


async def _wait_final(ctx: RunContext) -> StoredBody | None:
    """The stored body as soon as its status is final (read on the run's processes in turn), None past the
    deadline."""
    turn = 0
    while True:
        process = ctx.live(ctx.plan.processes[turn % len(ctx.plan.processes)])
        turn += 1
        body = await read_body(ctx.cluster, process, ctx.stream_id)
        if body is not None and body.status in FINAL:
            return body
        if ctx.expired():
            return None
        await asyncio.sleep(0.2)
