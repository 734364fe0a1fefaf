from __future__ import annotations

import asyncio

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import (
    BODY,
    STREAM_BODY,
    STREAM_CHAT,
    GraphQLWS,
    check_events,
    collect,
    done_body,
    gql_data,
    send,
)
from tests.support.server import ServerProcess


async def test_driver_and_observer_see_the_model_text(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = ["Hello", " world", ".", " Second", " sentence", "!", " 🎉"]
    marker = fake_openai.add("smoke", Script(tokens, delay=0.02))
    message = await send(server.graphql_http, f"Say hi {marker}")
    stream_id = message["responseStreamId"]
    async with GraphQLWS(server.graphql_ws) as driver, GraphQLWS(server.graphql_ws) as observer:
        driven = asyncio.create_task(collect(driver.subscribe(STREAM_CHAT, {"id": stream_id}), "streamChat"))
        await asyncio.sleep(0.05)
        observed = await collect(observer.subscribe(STREAM_BODY, {"id": stream_id}), "streamBody")
        driven_events = await driven
    expected = "".join(tokens)
    assert check_events(driven_events) == expected
    assert check_events(observed) == expected
    body = (await gql_data(server.graphql_http, BODY, {"id": stream_id}))["streamBody"]
    assert body == done_body(stream_id, expected)
