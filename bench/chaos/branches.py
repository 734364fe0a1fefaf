"""A branch run's set-up and its last look: a thread of two messages, each answered to its end, then the run's
answer made as a sibling of the second one (`regenerate`, or `editMessage` with a new prompt); once it is final,
what `branch` lists for the sibling and what the model received for it.

The test model picks a script by the marker in the last user message. An edit's prompt has a marker of its own; a
regenerated message repeats the prompt, so its marker too: the script registered under it is replaced, once the
replaced message's answer is final, by one whose next request gets the run's answer (`after`)."""

from __future__ import annotations

import contextlib
import time

import httpx

from bench.chaos.actors import RunContext, next_live, read_body, request, send_message
from bench.chaos.cluster import Cluster
from bench.chaos.history import History
from bench.chaos.plan import RunPlan
from bench.chaos.queries import BRANCH, EDIT, REGENERATE
from bench.chaos.record import FINAL, BranchRecord, StoredBody
from bench.chaos.transports import Dropped, subscription
from tests.support.fake_openai import Script
from tests.support.gql import SubscriptionError

# Words only the replaced message's answer holds, and a phrase only an edited message's old prompt holds: the
# model must never see them in the sibling's context.
ELSEWHERE = "elsewhere"
OLD_PROMPT = "the first version"


def after(requests: int, script: Script) -> Script:
    """A script whose request number `requests` (from 0) and later ones get `script`."""
    for _ in range(requests):
        script = Script([f" {ELSEWHERE} (already answered)"], then=script)
    return script


async def answer_to_end(cluster: Cluster, process: str, stream_id: str, deadline: float) -> StoredBody | None:
    """Drives a set-up message's answer to a final status (streamChat again after a drop: on a claimed stream it
    only follows), then reads the body."""
    while time.monotonic() < deadline:
        process = next_live(cluster, process)
        server = cluster.servers[process]
        events = subscription(server.graphql_http, server.graphql_ws, "ws", stream_id, drive=True)
        with contextlib.suppress(Dropped, SubscriptionError, AssertionError):
            async with contextlib.aclosing(events):
                async for event in events:
                    if event["status"] in FINAL:
                        return await read_body(cluster, next_live(cluster, process), stream_id)
        process = next_live(cluster, process, step=True)
    return None


async def warm_up(cluster: Cluster) -> None:
    """One short answer on every process before the runs: a process's first answer pays for imports and caches
    (seconds on a busy machine), which would otherwise eat the first runs' pending timeout."""
    history = History()
    for process in cluster.servers:
        message = await send_message(cluster, process, "Warming up.", history, time.monotonic() + 120)
        if message is not None:
            await answer_to_end(cluster, process, str(message["responseStreamId"]), time.monotonic() + 120)


async def make_sibling(
    plan: RunPlan, cluster: Cluster, name: str, process: str, history: History, deadline: float
) -> tuple[dict[str, object], BranchRecord, str, int] | None:
    """The sibling message (its id, responseStreamId, parentId, siblingIds ...), the branch's record, the script
    name the sibling's answer is asked under, and how many requests the model had under it before."""
    assert plan.branch is not None
    fake = cluster.fake
    first_marker = fake.add(f"{name}-first", Script([" first", " answer", " of", f" run {plan.index}."]))
    first_prompt = f"Chaos run {plan.index} begins: {first_marker}"
    first = await send_message(cluster, process, first_prompt, history, deadline)
    if first is None:
        return None
    first_body = await answer_to_end(cluster, process, str(first["responseStreamId"]), deadline)
    replaced_marker = fake.add(name, Script([f" {ELSEWHERE}", " on", " another", " branch."]))
    edit = plan.branch == "edit"
    replaced_prompt = f"Chaos run {plan.index}, {OLD_PROMPT if edit else 'asked again'}: {replaced_marker}"
    thread = str(first["threadId"])
    replaced = await send_message(cluster, process, replaced_prompt, history, deadline, thread=thread)
    if replaced is None:
        return None
    replaced_body = await answer_to_end(cluster, process, str(replaced["responseStreamId"]), deadline)
    history.add(
        "client",
        f"set-up answers: {first_body.status if first_body else '?'}, {replaced_body.status if replaced_body else '?'}",
    )
    before = 0
    if edit:
        prompt = f"Chaos run {plan.index}, the second version: {fake.add(f'{name}-edit', plan.model.script())}"
        operation = ("editMessage", EDIT, {"id": replaced["id"], "prompt": prompt})
        name = f"{name}-edit"
    else:
        prompt = replaced_prompt
        before = len(fake.requests_for(name))
        fake.scripts[name] = after(before, plan.model.script())
        operation = ("regenerate", REGENERATE, {"id": replaced["id"]})
    sibling = await send_message(cluster, process, prompt, history, deadline, operation=operation)
    if sibling is None:
        return None
    context = [("user", first_prompt)]
    if first_body is not None and first_body.status == "DONE":
        context.append(("assistant", first_body.text))
    record = BranchRecord(
        plan.branch,
        thread_id=thread,
        first_id=str(first["id"]),
        replaced_id=str(replaced["id"]),
        sibling_id=str(sibling["id"]),
        context=[*context, ("user", prompt)],
        whole=first_body is not None and first_body.status == "DONE",
        foreign=[ELSEWHERE, OLD_PROMPT] if edit else [ELSEWHERE],
        parent_id=str(sibling["parentId"]) if sibling.get("parentId") else None,
        sibling_ids=[str(i) for i in sibling.get("siblingIds") or []],
    )
    return sibling, record, name, before


async def look_at_branch(ctx: RunContext, record: BranchRecord, name: str, before: int) -> None:
    """What `branch` lists for the sibling (read on the run's processes, through a fault again), and every
    request the model received for the sibling's answer."""
    for process in ctx.plan.processes:
        try:
            result = await request(
                ctx.cluster.url(ctx.live(process)), BRANCH, {"thread": record.thread_id, "leaf": record.sibling_id}
            )
        except (httpx.HTTPError, ValueError) as exc:
            ctx.history.add("client", f"branch on {process} failed: {type(exc).__name__}")
            continue
        if not result.get("errors"):
            record.listed = [str(m["id"]) for m in result["data"]["branch"]]
            break
    requests = ctx.cluster.fake.requests_for(name)[before:]
    record.requests = [[(str(m.get("role")), str(m.get("content") or "")) for m in r.messages] for r in requests]
