"""Hypothesis-generated GraphQL requests over HTTP against a running server, each sent as alice, bob, nobody or a
bad credential, while alice and bob both own data (tests/fuzz/world.py).

Queries, mutations and subscriptions of the exported schema (tests/fuzz/documents.py), often with declared
variables of every shape, go as a JSON POST, a GET, or a subscription over Server-Sent Events or multipart. Each
answer: a status the contract documents, only the contract's error codes, nothing internal, nothing of another
identity; stored data: every other identity's unchanged by every case, the sender's unchanged by every refused
case. At the end the server still answers each identity and its log holds no traceback.

PERSISTREAM_FUZZ_GRAPHQL_EXAMPLES (default 100; 300 with PERSISTREAM_LONG_TESTS=1) sets the case count; a failure
prints the falsifying case and the `--hypothesis-seed` that replays the run.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ServerFactory
from tests.fuzz.conftest import FuzzCounts
from tests.fuzz.documents import Operation, body_text
from tests.fuzz.world import NAMES, SENDERS, World, headers_of, server_settings
from tests.support.http_stream import MULTIPART_ACCEPT, SSE_ACCEPT, parse_multipart, parse_sse
from tests.support.rounds import rounds

EXAMPLES = int(
    os.environ.get("PERSISTREAM_FUZZ_GRAPHQL_EXAMPLES", os.environ.get("PERSISTREAM_FUZZ_EXAMPLES", rounds(100, 300)))
)
MAX_BODY = 1 << 20
LIVE = {"PENDING", "STREAMING"}
# alice and bob most of the time; nobody and each bad credential now and then.
SENDER_CHOICES = [*NAMES * 12, *SENDERS]
TRANSPORTS = ["json"] * 4 + ["sse", "multipart", "get"]
# A subscription that follows a live stream (the sender's own PENDING one) never ends by itself: it is read for
# this long after its last frame, then left.
LIVE_READ_SECONDS = 1.0


def root_keys(document: str) -> set[str] | None:
    """The response keys of the operation's root fields, or None if it has none to find (no parse, fragments)."""
    try:
        parsed = graphql.parse(document)
    except graphql.GraphQLError:
        return None
    operations_ = [d for d in parsed.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    if len(operations_) != 1:
        return None
    keys: set[str] = set()
    for selection in operations_[0].selection_set.selections:
        if not isinstance(selection, graphql.FieldNode):
            return None
        keys.add((selection.alias or selection.name).value)
    return keys


def answered(payloads: list[dict[str, Any]]) -> bool:
    """Whether any answer holds data (root fields are all non-null, so data is null if any field failed)."""
    return any(isinstance(p.get("data"), dict) and any(v is not None for v in p["data"].values()) for p in payloads)


def refused(payloads: list[dict[str, Any]], document: str) -> bool:
    """Whether nothing of the request ran: every answer has errors and no data, and each error is a document
    error (no path) or the errors cover every root field. A mutation whose later field failed has run its
    earlier ones (its `data` is null all the same): that is not a refusal."""
    for payload in payloads:
        data = payload.get("data")
        if isinstance(data, dict) and any(v is not None for v in data.values()):
            return False
        errors = payload.get("errors") or []
        if not errors:
            return False
        if any(not error.get("path") for error in errors):
            continue
        keys = root_keys(document)
        if keys is None or not keys <= {error["path"][0] for error in errors}:
            return False
    return True


def json_payloads(response: httpx.Response, context: object) -> list[dict[str, Any]]:
    body = response.json()
    assert isinstance(body, dict), (context, response.text[:500])
    return [body]


def stream_payloads(response: httpx.Response, multipart: bool, context: object) -> tuple[str, list[dict[str, Any]]]:
    """Every frame of a streamed subscription (until it ends, or it follows a live stream and goes quiet)."""
    raw = ""
    pending = ""
    frames: list[tuple[str, Any]] = []
    try:
        for chunk in response.iter_text():
            raw += chunk
            pending += chunk
            if multipart:
                got, pending, _ = parse_multipart(pending)
            else:
                got, pending = parse_sse(pending)
            frames += got
    except httpx.ReadTimeout:
        events = [f[1] for f in frames if f[0] == "next"]
        last = events[-1]["data"] if events and events[-1].get("data") else None
        assert last is not None, ("a subscription went quiet without an event", context, raw[:500])
        [event] = last.values()
        assert event["status"] in LIVE, ("a subscription went quiet on a final status", context, raw[:500])
    payloads = [payload for kind, payload in frames if kind == "next"]
    for payload in payloads:
        assert isinstance(payload, dict) and ("data" in payload or "errors" in payload), (context, payload)
    return raw, payloads


def send(client: httpx.Client, url: str, sender: str, transport: str, op: Operation, body: str) -> Any:
    """(context, status, raw text, payloads) of one request."""
    context = (sender, transport, op.kind, op.document[:2000], json.dumps(op.variables)[:2000], body[:500])
    headers = {"content-type": "application/json", **headers_of(sender)}
    if transport == "get":
        # Percent-encoded by hand: a lone surrogate in the document goes as the bytes it would have in UTF-8.
        query = urllib.parse.quote(op.document.encode("utf-8", "surrogatepass"), safe="")
        variables = urllib.parse.quote(json.dumps(op.variables), safe="")
        response = client.get(f"{url}?query={query}&variables={variables}", headers=headers_of(sender))
        return context, response.status_code, response.text, _maybe_json(response, context)
    if transport == "json":
        response = client.post(url, content=body, headers=headers)
        return context, response.status_code, response.text, _maybe_json(response, context)
    accept = SSE_ACCEPT if transport == "sse" else MULTIPART_ACCEPT
    timeout = httpx.Timeout(30, read=LIVE_READ_SECONDS)
    with client.stream("POST", url, content=body, headers={**headers, "accept": accept}, timeout=timeout) as response:
        if response.status_code != 200 or not response.headers.get("content-type", "").startswith(
            ("text/event-stream", "multipart/mixed")
        ):
            response.read()
            return context, response.status_code, response.text, _maybe_json(response, context)
        raw, payloads = stream_payloads(response, transport == "multipart", context)
        return context, response.status_code, raw, payloads


def _maybe_json(response: httpx.Response, context: object) -> list[dict[str, Any]]:
    if response.status_code in (200, 400) and response.headers.get("content-type", "").startswith("application/json"):
        return json_payloads(response, context)
    return []


@pytest.mark.fuzz
def test_generated_requests_never_fail_or_leak(
    make_server: ServerFactory, tmp_path: Path, fuzz_counts: FuzzCounts
) -> None:
    db_path = tmp_path / "fuzz.db"
    server = make_server(db_path, **server_settings())
    world = World(server, db_path)
    world.start()
    url = server.graphql_http

    with httpx.Client(timeout=30) as client:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(sender=st.sampled_from(SENDER_CHOICES), transport=st.sampled_from(TRANSPORTS), data=st.data())
        def case(sender: str, transport: str, data: st.DataObject) -> None:
            op = data.draw(world.pools.aimed(sender).operations, label="operation")
            body = body_text(op, data.draw)
            if transport == "get" and len(op.document) + len(json.dumps(op.variables)) > 2000:
                transport = "json"  # a URL that long is refused by the HTTP layer before the server sees it
            context, status, text, payloads = send(client, url, sender, transport, op, body)
            allowed = {200, 400} | ({413} if len(body.encode()) > MAX_BODY else set())
            if transport == "get":
                allowed.add(405)  # a mutation by GET
            assert status in allowed, ("status", status, context, text[:500])
            if status == 200 and transport in ("json", "get"):
                assert payloads, ("no JSON answer", context, text[:500])
            # A body that is no GraphQL request (no query, variables not an object...) is a plain-text 400.
            sent = op.document + json.dumps(op.variables) if transport == "get" else body
            world.check_answer(sender, sent, text, [p.get("data") for p in payloads], context)
            for payload in payloads:
                if payload.get("errors") is not None:
                    world.check_errors(payload["errors"], context)
            world.check_not_answered(sender, [sent] if answered(payloads) else [], context)
            world.check_storage(sender, status != 200 or refused(payloads, op.document), context)

        case()
    world.finish()
    fuzz_counts.record("GraphQL over HTTP", world)
