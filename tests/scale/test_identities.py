"""Anonymous identities hold across processes that share PostgreSQL: the cookie's signing key is generated once in
the database, whichever process needs it first (both race for it here), and every other process signs with it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.scale.conftest import ScaleServerFactory, create_database, drop_database, pg_url
from tests.support.gql import SEND
from tests.support.identities import Caller, anonymous

pytestmark = pytest.mark.scale


@pytest.fixture
def fresh_database() -> Iterator[str]:
    name = create_database()
    yield pg_url(name)
    drop_database(name)


async def test_an_anonymous_identity_holds_across_two_processes(
    make_scale_servers: ScaleServerFactory, fresh_database: str
) -> None:
    a, b = make_scale_servers(2, fresh_database, PERSISTREAM_AUTH="anonymous")
    # Both processes need the key at the same moment: one stores it, the other must end up using the same one.
    on_a, on_b = await asyncio.gather(anonymous(a), anonymous(b))
    thread_a = (await on_a.gql(SEND, {"prompt": "From A", "thread": None}))["data"]["sendMessage"]["threadId"]
    thread_b = (await on_b.gql(SEND, {"prompt": "From B", "thread": None}))["data"]["sendMessage"]["threadId"]
    # Each browser's cookie, taken to the other process, is the same identity there, and only that one.
    assert (await Caller(b, headers=on_a.headers).gql("query { threads { id } }"))["data"]["threads"] == [
        {"id": thread_a}
    ]
    assert (await Caller(a, headers=on_b.headers).gql("query { threads { id } }"))["data"]["threads"] == [
        {"id": thread_b}
    ]
    viewer = "query { viewer { id } }"
    assert (await Caller(b, headers=on_a.headers).gql(viewer)) == (await on_a.gql(viewer))
