"""Hypothesis-generated GraphQL documents against a running server, sent as one identity while another owns data.

Every query and mutation of the exported schema is generated (hypothesis-graphql), with ids drawn from both
identities' real ids, random UUIDs and garbage. For each answer: no server error, only the contract's codes, and
nothing of the other identity (its prompt, its ids in `data`). At the end: the other identity's stored data is
unchanged, the server still serves, and its log holds no traceback. PERSISTREAM_FUZZ_EXAMPLES sets the case count.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema, nodes

from persistream.schema import schema
from tests.conftest import ServerFactory
from tests.support.fake_openai import SECRET_KEY

EXAMPLES = int(os.environ.get("PERSISTREAM_FUZZ_EXAMPLES", "300"))
CODES = {
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "RATE_LIMITED",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
}
OWNER_DUMP = """{ threads(last: 1000) { id title createdAt messages { id threadId prompt responseStreamId createdAt
  response { streamId text status error offset } } } }"""


def as_user(name: str) -> dict[str, str]:
    return {"x-forwarded-user": name}


def post(client: httpx.Client, url: str, user: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = client.post(url, json={"query": query, "variables": variables or {}}, headers=as_user(user))
    return response


def seed_thread(client: httpx.Client, url: str, user: str, prompt: str) -> dict[str, Any]:
    sent = post(
        client,
        url,
        user,
        "mutation($p: String!) { sendMessage(prompt: $p) { id threadId responseStreamId } }",
        {"p": prompt},
    ).json()
    assert not sent.get("errors"), sent
    message: dict[str, Any] = sent["data"]["sendMessage"]
    return message


@pytest.mark.fuzz
def test_generated_documents_never_fail_or_leak(make_server: ServerFactory, tmp_path: Path) -> None:
    server = make_server(PERSISTREAM_AUTH="proxy", PERSISTREAM_RATE_LIMIT="off", PERSISTREAM_MAX_LIVE_STREAMS="0")
    url = server.graphql_http
    marker = f"alice-private-{uuid.uuid4().hex}"
    with httpx.Client(timeout=30) as client:
        alice = seed_thread(client, url, "alice", f"{marker} what is in my diary?")
        bob = seed_thread(client, url, "bob", "bob's own question")
        before = post(client, url, "alice", OWNER_DUMP).json()
        assert not before.get("errors"), before
        alice_ids = {alice["id"], alice["threadId"], alice["responseStreamId"]}
        ids = st.sampled_from(
            [*alice_ids, bob["id"], bob["threadId"], bob["responseStreamId"], str(uuid.uuid4()), "not-an-id", ""]
        ) | st.uuids().map(str)
        documents = from_schema(schema.as_str(), custom_scalars={"ID": ids.map(nodes.String)})
        cases = 0

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
            database=None,
        )
        @given(document=documents)
        def check(document: str) -> None:
            nonlocal cases
            cases += 1
            response = post(client, url, "bob", document)
            assert response.status_code in (200, 400), (document, response.status_code, response.text[:500])
            body = response.json()
            assert "Traceback" not in response.text and SECRET_KEY not in response.text, document
            assert marker not in response.text, ("alice's prompt leaked", document, response.text[:500])
            data = json.dumps(body.get("data"))
            for alice_id in alice_ids:
                assert alice_id not in data, ("alice's id leaked", document, response.text[:500])
            for error in body.get("errors") or []:
                assert error.get("extensions", {}).get("code") in CODES, (document, error)

        check()
        print(f"fuzz: {cases} generated GraphQL documents sent as a second identity")
        after = post(client, url, "alice", OWNER_DUMP).json()
        assert after == before, "alice's stored data changed"
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
    assert "Traceback" not in server.log()
