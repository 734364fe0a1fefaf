"""The per-identity limits on `sendMessage` against a real server: past `PERSISTREAM_RATE_LIMIT` or
`PERSISTREAM_MAX_LIVE_STREAMS` the call is RATE_LIMITED with a whole `retryAfter`, and nothing is stored for it."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import ServerFactory
from tests.support.dump import stored_state
from tests.support.gql import CANCEL, gql_data, refused_send, send
from tests.support.streams import assert_clean_log, wait_final

RATE = 3


async def test_past_the_rate_limit_send_message_is_refused_and_stores_nothing(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    db_path = tmp_path / "rate.db"
    server = make_server(db_path, PERSISTREAM_RATE_LIMIT=f"{RATE}/hour")
    while True:
        window = int(time.time() // 3600)
        first = await send(server.graphql_http, "one")
        for n in range(RATE - 1):
            await send(server.graphql_http, f"more {n}", first["threadId"])
        before = await stored_state(server, db_path)
        error = await refused_send(server.graphql_http, "over", first["threadId"])
        new_thread_error = await refused_send(server.graphql_http, "over, in a new thread")
        if int(time.time() // 3600) == window:  # else the hour turned mid-test: the counts began afresh
            break
    assert 1 <= error["extensions"]["retryAfter"] <= 3600
    assert new_thread_error["extensions"]["retryAfter"] <= error["extensions"]["retryAfter"]
    assert "Too many messages" in error["message"]
    assert await stored_state(server, db_path) == before
    assert_clean_log(server)


async def test_past_the_live_streams_limit_send_message_is_refused_until_one_ends(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    db_path = tmp_path / "live.db"
    server = make_server(db_path, PERSISTREAM_MAX_LIVE_STREAMS="2")
    # Nobody drives these answers, so they stay PENDING: two live answers.
    first = await send(server.graphql_http, "first")
    await send(server.graphql_http, "second", first["threadId"])
    before = await stored_state(server, db_path)
    error = await refused_send(server.graphql_http, "third", first["threadId"])
    await refused_send(server.graphql_http, "third, in a new thread")
    assert "in progress" in error["message"]
    assert await stored_state(server, db_path) == before
    # An answer that ends frees its place.
    await gql_data(server.graphql_http, CANCEL, {"id": first["responseStreamId"]})
    assert (await wait_final(server, first["responseStreamId"]))["status"] == "CANCELLED"
    third = await send(server.graphql_http, "third, now allowed", first["threadId"])
    assert third["response"]["status"] == "PENDING"
    assert_clean_log(server)


async def test_without_authentication_nothing_is_limited_by_default(make_server: ServerFactory, tmp_path: Path) -> None:
    server = make_server(tmp_path / "open.db")
    first = await send(server.graphql_http, "first")
    # More than both defaults of the other modes (20 per minute, 3 live), none driven: all accepted.
    for n in range(24):
        message = await send(server.graphql_http, f"more {n}", first["threadId"])
        assert message["response"]["status"] == "PENDING"
