"""At most PERSISTREAM_MAX_SUBSCRIPTIONS operations run at once on one WebSocket: one more gets an `error` with
RATE_LIMITED for its id, and the socket and its other subscriptions go on; finished queries stop counting."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ServerFactory
from tests.support.gql import CANCEL, STREAM_BODY, GraphQLWS, SubscriptionError, gql_data, send
from tests.support.streams import Tap, assert_clean_log

LIMIT = 3


@pytest.mark.parametrize("legacy", [False, True])
async def test_one_subscription_past_the_limit_is_refused_and_the_others_go_on(
    make_server: ServerFactory, tmp_path: Path, legacy: bool
) -> None:
    server = make_server(tmp_path / "subs.db", PERSISTREAM_MAX_SUBSCRIPTIONS=str(LIMIT))
    # Nobody drives these answers: their observers stay open, PENDING.
    streams = [(await send(server.graphql_http, f"pending {i}"))["responseStreamId"] for i in range(LIMIT + 1)]
    async with GraphQLWS(server.graphql_ws, legacy=legacy) as client:
        taps = [Tap.observer(client, stream_id) for stream_id in streams[:LIMIT]]
        for tap in taps:
            await tap.until_started()
        with pytest.raises(SubscriptionError) as raised:
            async for data in client.subscribe(STREAM_BODY, {"id": streams[LIMIT]}, timeout=10):
                pytest.fail(f"an event past the limit: {data}")
        assert raised.value.code == "RATE_LIMITED", raised.value.errors
        assert raised.value.errors[0]["extensions"]["retryAfter"] >= 1
        # The others still follow their streams: one ends, and its observer sees the end.
        await gql_data(server.graphql_http, CANCEL, {"id": streams[0]})
        events = await taps[0].result()
        assert events[-1]["status"] == "CANCELLED"
        assert not any(tap.task.done() for tap in taps[1:])
        # Its place is free again.
        late = Tap.observer(client, streams[LIMIT])
        await late.until_started()
        assert late.events[0]["streamId"] == streams[LIMIT]
        await gql_data(server.graphql_http, CANCEL, {"id": streams[1]})
        assert (await taps[1].result())[-1]["status"] == "CANCELLED"
        for tap in [*taps[2:], late]:
            await tap.leave()
    assert_clean_log(server)


async def test_queries_over_the_socket_stop_counting_when_they_end(make_server: ServerFactory, tmp_path: Path) -> None:
    server = make_server(tmp_path / "queries.db", PERSISTREAM_MAX_SUBSCRIPTIONS=str(LIMIT))
    streams = [(await send(server.graphql_http, f"pending {i}"))["responseStreamId"] for i in range(LIMIT - 1)]
    async with GraphQLWS(server.graphql_ws) as client:
        taps = [Tap.observer(client, stream_id) for stream_id in streams]
        for tap in taps:
            await tap.until_started()
        # One place is left: many queries, one after another, all use it and give it back.
        for _ in range(LIMIT * 4):
            results = [data async for data in client.subscribe("query { threads(last: 5) { id } }")]
            assert len(results) == 1 and len(results[0]["threads"]) == LIMIT - 1
        for tap in taps:
            await tap.leave()
    assert_clean_log(server)
