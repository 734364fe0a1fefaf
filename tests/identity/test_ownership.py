"""One identity's threads and streams answer NOT_FOUND to another, for every operation the schema exports, in
every mode, and the attempts change nothing stored.

The cases (tests/support/ownership.py) are keyed by field name and checked against the exported schema: an operation
added later without an ownership case makes `test_every_operation_has_an_ownership_case` fail."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from graphql import build_schema

from persistream.schema import schema
from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI
from tests.support.gql import SEND
from tests.support.identities import (
    HS_SECRET,
    JWT_ENV,
    Caller,
    JwksServer,
    RsaKeys,
    anonymous,
    bearer,
    hs_token,
)
from tests.support.ownership import CASES, a_owns_a_thread, b_finds_nothing, not_found
from tests.support.streams import assert_clean_log


def exported_operations() -> dict[str, set[str]]:
    exported = build_schema(schema.as_str())
    roots = {
        "Query": exported.query_type,
        "Mutation": exported.mutation_type,
        "Subscription": exported.subscription_type,
    }
    return {name: set(root.fields) for name, root in roots.items() if root is not None}


def test_every_operation_has_an_ownership_case() -> None:
    operations = exported_operations()
    assert operations == {root: set(cases) for root, cases in CASES.items()}, (
        "every Query, Mutation and Subscription field needs an ownership case in CASES"
    )


# --- the modes -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_keys() -> RsaKeys:
    return RsaKeys()


@pytest.fixture
def jwks(rsa_keys: RsaKeys) -> Iterator[JwksServer]:
    with JwksServer(rsa_keys.jwks()) as served:
        yield served


@pytest.mark.parametrize("mode", ["anonymous", "jwt-hs256", "jwt-rs256-pem", "jwt-jwks", "proxy"])
async def test_another_identity_finds_nothing(
    mode: str,
    make_server: ServerFactory,
    fake_openai: FakeOpenAI,
    tmp_path: Path,
    rsa_keys: RsaKeys,
    jwks: JwksServer,
) -> None:
    db_path = tmp_path / "persistream.db"
    if mode == "anonymous":
        server = make_server(db_path, PERSISTREAM_AUTH="anonymous")
        a, b = await anonymous(server), await anonymous(server)
    elif mode == "jwt-hs256":
        server = make_server(db_path, PERSISTREAM_JWT_SECRET=HS_SECRET, **JWT_ENV)
        a, b = bearer(server, hs_token("alice")), bearer(server, hs_token("bob"))
    elif mode == "jwt-rs256-pem":
        server = make_server(db_path, PERSISTREAM_JWT_PUBLIC_KEY=rsa_keys.public_pem, **JWT_ENV)
        a, b = bearer(server, rsa_keys.token("alice")), bearer(server, rsa_keys.token("bob"), on_upgrade=True)
    elif mode == "jwt-jwks":
        server = make_server(db_path, PERSISTREAM_JWT_JWKS_URL=jwks.url, **JWT_ENV)
        a, b = bearer(server, rsa_keys.token("alice")), bearer(server, rsa_keys.token("bob"))
    else:
        server = make_server(db_path, PERSISTREAM_AUTH="proxy")
        a = Caller(server, headers={"X-Forwarded-User": "alice@example.com"})
        b = Caller(server, headers={"X-Forwarded-User": "bob@example.com"})

    owned, name, auth_mode = await a_owns_a_thread(a, fake_openai)
    assert auth_mode == mode.split("-")[0]
    await b_finds_nothing(a, b, owned, name, db_path, fake_openai, mode)
    assert_clean_log(server)


async def test_ids_that_do_not_exist_answer_the_same(make_server: ServerFactory) -> None:
    """NOT_FOUND for another identity's thread is word for word the answer for a thread that never existed."""
    server = make_server(PERSISTREAM_AUTH="proxy")
    a = Caller(server, headers={"X-Forwarded-User": "alice"})
    b = Caller(server, headers={"X-Forwarded-User": "bob"})
    thread = (await a.gql(SEND, {"prompt": "Hi", "thread": None}))["data"]["sendMessage"]["threadId"]
    query = "query($t: ID!) { messages(threadId: $t) { id } }"
    theirs = await b.gql(query, {"t": thread})
    missing = await b.gql(query, {"t": str(uuid.uuid4())})
    for result in (theirs, missing):
        for error in result["errors"]:
            error.pop("locations", None)
    assert theirs == missing, (theirs, missing)


async def test_messages_that_do_not_exist_answer_the_same(make_server: ServerFactory) -> None:
    """regenerate and editMessage on another identity's message answer word for word as on a message that never
    existed, and store nothing."""
    server = make_server(PERSISTREAM_AUTH="proxy")
    a = Caller(server, headers={"X-Forwarded-User": "alice"})
    b = Caller(server, headers={"X-Forwarded-User": "bob"})
    message = (await a.gql(SEND, {"prompt": "Hi", "thread": None}))["data"]["sendMessage"]["id"]
    queries = [
        "mutation($m: ID!) { regenerate(messageId: $m) { id } }",
        'mutation($m: ID!) { editMessage(messageId: $m, prompt: "Mine now") { id } }',
    ]
    for query in queries:
        theirs = await b.gql(query, {"m": message})
        missing = await b.gql(query, {"m": str(uuid.uuid4())})
        for result in (theirs, missing):
            for error in result["errors"]:
                error.pop("locations", None)
        assert theirs == missing, (theirs, missing)
        not_found(theirs)
    assert (await b.gql("query { threads { id } }"))["data"]["threads"] == []
    listed = await a.gql("query { threads { messages { id } } }")
    assert listed["data"]["threads"] == [{"messages": [{"id": message}]}], listed
