"""Per-process admission against a real server: past `PERSISTREAM_MAX_GENERATIONS` a new answer waits in line
(the model is not asked) and starts the moment a slot frees; past `PERSISTREAM_ADMISSION_QUEUE` too, `streamChat`
is RATE_LIMITED with a whole `retryAfter`, its stream stays PENDING and a later `streamChat` generates it. An answer
whose driver leaves while it waits is still the server's: it starts when its turn comes."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import CANCEL, GraphQLWS, SubscriptionError, gql_data
from tests.support.server import ServerProcess
from tests.support.streams import Tap, assert_clean_log, query_body, start_stream, wait_final, wait_until


def waiting_gauge(server: ServerProcess) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    found = re.search(r"^persistream_admission_waiting (\S+)$", text, re.MULTILINE)
    assert found, "the admission gauge is missing from /metrics"
    return float(found.group(1))


async def test_a_full_process_queues_then_refuses_and_admits_in_order(
    make_server: ServerFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    server = make_server(tmp_path / "admission.db", PERSISTREAM_MAX_GENERATIONS="2", PERSISTREAM_ADMISSION_QUEUE="1")
    hanging = Script(["first words. ", "never more"], hang_after=1)
    running = [await start_stream(server, fake_openai, hanging, name="running") for _ in range(2)]
    queued_id, queued_name = await start_stream(server, fake_openai, Script(["queued ", "answer."]), name="queued")
    refused_id, refused_name = await start_stream(server, fake_openai, Script(["late ", "answer."]), name="refused")
    async with GraphQLWS(server.graphql_ws) as ws:
        drivers = [Tap.driver(ws, stream_id) for stream_id, _ in running]
        for driver in drivers:
            await driver.until_text(1)
        queued = Tap.driver(ws, queued_id)
        await wait_until(lambda: waiting_gauge(server) == 1.0)
        # Past the line as well: refused at once, with a hint of when to come back; nothing started for it.
        with pytest.raises(SubscriptionError) as refused:
            await Tap.driver(ws, refused_id).result()
        error = refused.value.errors[0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["retryAfter"] >= 1
        assert (await query_body(server, refused_id))["status"] == "PENDING"
        # The queued answer has not reached the model while both slots are taken.
        await asyncio.sleep(0.3)
        assert not queued.events
        assert not fake_openai.requests_for(queued_name) and not fake_openai.requests_for(refused_name)

        # One running answer ends: its slot goes to the one in line, which then runs to the end.
        await gql_data(server.graphql_http, CANCEL, {"id": running[0][0]})
        events = await queued.result()
        assert events[-1]["status"] == "DONE"
        assert "".join(e["delta"] for e in events) == "queued answer."
        assert waiting_gauge(server) == 0.0
        # The refused answer was left PENDING: asked again with room, it is generated.
        retried = await Tap.driver(ws, refused_id).result()
        assert retried[-1]["status"] == "DONE"
        await gql_data(server.graphql_http, CANCEL, {"id": running[1][0]})
    assert_clean_log(server)


async def test_an_answer_whose_driver_leaves_while_waiting_starts_in_its_turn(
    make_server: ServerFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    server = make_server(tmp_path / "leave.db", PERSISTREAM_MAX_GENERATIONS="1", PERSISTREAM_ADMISSION_QUEUE="4")
    running_id, _ = await start_stream(server, fake_openai, Script(["busy. ", "more"], hang_after=1), name="busy")
    waiting_id, _ = await start_stream(server, fake_openai, Script(["its ", "turn."]), name="waiting")
    async with GraphQLWS(server.graphql_ws) as ws:
        running = Tap.driver(ws, running_id)
        await running.until_text(1)
        leaving = Tap.driver(ws, waiting_id)
        await wait_until(lambda: waiting_gauge(server) == 1.0)
        await leaving.leave()
    # Nobody follows the waiting answer now; freeing the slot still starts it, and it is stored whole.
    await gql_data(server.graphql_http, CANCEL, {"id": running_id})
    body = await wait_final(server, waiting_id)
    assert (body["status"], body["text"]) == ("DONE", "its turn.")
    assert_clean_log(server)
