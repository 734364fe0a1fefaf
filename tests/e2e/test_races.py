"""Drivers racing on one PENDING stream: the claim is atomic, so the model is asked once and every driver sees
the one answer, without a repeated or missing character."""

from __future__ import annotations

import asyncio
import random

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import GraphQLWS, check_events
from tests.support.server import ServerProcess
from tests.support.streams import Tap, query_body, start_stream


async def test_racing_drivers_start_one_generation(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    rng = random.Random()
    async with (
        GraphQLWS(server.graphql_ws) as a,
        GraphQLWS(server.graphql_ws) as b,
        GraphQLWS(server.graphql_ws) as c,
        GraphQLWS(server.graphql_ws, legacy=True) as d,
    ):
        connections = [a, b, c, d]
        for round_no in range(20):
            # Every token is unique to its round, so text produced twice would show as a repeat.
            tokens = [f" r{round_no}w{i}" + ("." if i % 4 == 3 else "") for i in range(rng.randint(3, 12))]
            expected = "".join(tokens)
            stream_id, name = await start_stream(server, fake_openai, Script(tokens, delay=rng.uniform(0, 0.004)))

            async def race(client: GraphQLWS, stream_id: str = stream_id) -> list[dict[str, object]]:
                await asyncio.sleep(rng.uniform(0, 0.01))  # random start order, on purpose
                return await Tap.driver(client, stream_id).result()

            # Two to five drivers, sometimes two on one connection.
            drivers = rng.sample(connections, rng.randint(2, 4)) + ([a] if rng.random() < 0.3 else [])
            results = await asyncio.gather(*(race(client) for client in drivers))
            for events in results:
                assert check_events(events) == expected, events
                assert events[-1]["status"] == "DONE"
            assert len(fake_openai.requests_for(name)) == 1, f"round {round_no}: the model was asked more than once"
            body = await query_body(server, stream_id)
            assert (body["text"], body["status"]) == (expected, "DONE")
