"""Two identities, alice and bob, each owning data on one running server (`PERSISTREAM_AUTH=jwt`), and the
checks every fuzz case ends with.

Each owns a private thread (a finished answer, then a PENDING one) and a shared thread (a finished answer and a
share token). Their ids and tokens go into the generators' pools, so generated requests aim at both identities'
data. After each case:

- the answer holds nothing of another identity (its seeded prompts anywhere, its ids in `data`), except what the
  request's own share token opens;
- the stored rows of every identity the case was not sent as are exactly as before, and so are the sender's when
  the case was refused (nothing ran: a document error, or an error on every root field);
- accepted cases may change the sender's own data; what they used up (a deleted thread, a claimed PENDING
  stream, a revoked share) is seeded again so that later cases still have it to aim at.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.fuzz.documents import Pools
from tests.support.dump import Dump, dump_owners
from tests.support.fake_openai import SECRET_KEY
from tests.support.gql import SEND, STREAM_CHAT, check_events
from tests.support.http_stream import run_http
from tests.support.identities import AUDIENCE, HS_SECRET, ISSUER, hs_token
from tests.support.secrets import remember
from tests.support.server import ServerProcess

NAMES = ("alice", "bob")
# Credentials that name nobody: every operation, share reads included, is UNAUTHENTICATED.
BAD_CREDENTIALS = {
    "expired": hs_token("alice", exp=1_000_000),
    "bad signature": hs_token("alice", secret="another-secret-that-is-long-enough-for-hs256"),
    "no sub": hs_token(None),
    "wrong audience": hs_token("bob", aud="someone-else"),
    "garbage": "not.a.token",
}
remember(*BAD_CREDENTIALS.values())
SENDERS = (*NAMES, "anonymous", *(f"bad:{kind}" for kind in BAD_CREDENTIALS))
SHARE = "mutation($t: ID!) { shareThread(threadId: $t) { token } }"
# What a refused answer may say; INTERNAL_SERVER_ERROR is a bug.
CODES = {
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "RATE_LIMITED",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
}
INTERNALS = ("Traceback", 'File "', "site-packages", "sqlalchemy", "Internal server error", SECRET_KEY)


def server_settings() -> dict[str, str]:
    return {
        "PERSISTREAM_AUTH": "jwt",
        "PERSISTREAM_JWT_SECRET": HS_SECRET,
        "PERSISTREAM_JWT_AUDIENCE": AUDIENCE,
        "PERSISTREAM_JWT_ISSUER": ISSUER,
        "PERSISTREAM_RATE_LIMIT": "off",
        "PERSISTREAM_MAX_LIVE_STREAMS": "0",
        # The seeded PENDING streams must stay PENDING for the whole run, however long it is.
        "PERSISTREAM_PENDING_TIMEOUT": "86400",
    }


def authorization(sender: str) -> str | None:
    """The Authorization header value of a sender (None for anonymous)."""
    if sender in NAMES:
        return f"Bearer {TOKENS[sender]}"
    if sender.startswith("bad:"):
        return f"Bearer {BAD_CREDENTIALS[sender[4:]]}"
    return None


TOKENS = {name: hs_token(name) for name in NAMES}
remember(*TOKENS.values())


def headers_of(sender: str) -> dict[str, str]:
    value = authorization(sender)
    return {} if value is None else {"authorization": value}


@dataclass
class Seeds:
    """What one identity owns for the fuzz to aim at."""

    private_thread: str = ""
    pending_stream: str = ""
    shared_thread: str = ""
    share_token: str = ""


@dataclass
class Holding:
    """One identity's threads as stored: share token by thread, status by stream, and every id they hold."""

    share_tokens: dict[str, str | None] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    ids_by_thread: dict[str, set[str]] = field(default_factory=dict)


def holdings(db_path: Path) -> dict[str, Holding]:
    """Every owner's holding, read with column names (a dump's tuples follow the migrations' column order)."""
    found: dict[str, Holding] = {}
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        for owner, thread, token in conn.execute("SELECT owner, id, share_token FROM threads"):
            holding = found.setdefault(owner, Holding())
            holding.share_tokens[thread] = token
            holding.ids_by_thread[thread] = {thread}
        rows = conn.execute(
            """SELECT t.owner, t.id, m.id, s.id, s.status FROM messages m JOIN threads t ON t.id = m.thread_id
            JOIN streams s ON s.id = m.response_stream_id"""
        )
        for owner, thread, message, stream, status in rows:
            found[owner].statuses[stream] = status
            found[owner].ids_by_thread[thread] |= {message, stream}
    return found


@dataclass
class World:
    server: ServerProcess
    db_path: Path
    pools: Pools = field(default_factory=Pools)
    seeds: dict[str, Seeds] = field(default_factory=lambda: {name: Seeds() for name in NAMES})
    # Seeded prompt markers by thread id: text only that thread's owner (or its share token) may see.
    markers: dict[str, str] = field(default_factory=dict)
    baseline: dict[str | None, Dump] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SENDERS, 0))
    accepted: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    held: dict[str, Holding] = field(default_factory=dict)

    # --- seeding ----------------------------------------------------------------------------------------------

    def post(self, sender: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            self.server.graphql_http,
            json={"query": query, "variables": variables},
            headers=headers_of(sender),
            timeout=30,
        )
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), body
        return body["data"]  # type: ignore[no-any-return]

    def send(self, sender: str, prompt: str, thread: str | None = None) -> dict[str, Any]:
        message: dict[str, Any] = self.post(sender, SEND, {"prompt": prompt, "thread": thread})["sendMessage"]
        self.pools.add(sender, message["id"], message["threadId"], message["responseStreamId"])
        return message

    def answer(self, sender: str, prompt: str, thread: str | None = None) -> dict[str, Any]:
        """A message whose answer is driven to DONE (over SSE)."""
        message = self.send(sender, prompt, thread)
        result = asyncio.run(
            run_http(
                self.server.graphql_http, STREAM_CHAT, {"id": message["responseStreamId"]}, headers=headers_of(sender)
            )
        )
        assert check_events(result.events("streamChat")).startswith("You said:"), result.raw
        return message

    def seed(self, name: str) -> None:
        """Give `name` back whatever accepted cases used up."""
        seeds = self.seeds[name]
        held = holdings(self.db_path).get(name, Holding())
        if seeds.private_thread not in held.share_tokens:
            marker = f"{name}-private-{uuid.uuid4().hex}"
            message = self.answer(name, f"{marker} what is in my diary?")
            seeds.private_thread = message["threadId"]
            self.markers[seeds.private_thread] = marker
            seeds.pending_stream = ""
        if held.statuses.get(seeds.pending_stream) != "PENDING":
            pending = self.send(name, f"{self.markers[seeds.private_thread]} and then?", seeds.private_thread)
            seeds.pending_stream = pending["responseStreamId"]
        if seeds.shared_thread not in held.share_tokens:
            marker = f"{name}-shared-{uuid.uuid4().hex}"
            seeds.shared_thread = self.answer(name, f"{marker} a recipe to share")["threadId"]
            self.markers[seeds.shared_thread] = marker
            seeds.share_token = ""
        token = held.share_tokens.get(seeds.shared_thread)
        if token is None:
            token = self.post(name, SHARE, {"t": seeds.shared_thread})["shareThread"]["token"]
        seeds.share_token = token
        remember(token)
        self.pools.add(name, token, token=True)

    def start(self) -> None:
        for name in NAMES:
            self.seed(name)
        self.baseline = self.snapshot()
        self.held = holdings(self.db_path)

    # --- per-case checks -------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str | None, Dump]:
        owners: list[str | None] = [*NAMES, None]
        return dump_owners(self.db_path, owners)  # type: ignore[arg-type]

    def forbidden(self, sender: str, request: str) -> tuple[set[str], set[str]]:
        """(markers, ids) of every identity but the sender, except threads the request's share token opens."""
        markers: set[str] = set()
        ids: set[str] = set()
        for owner, held in self.held.items():
            if owner == sender:
                continue
            for thread, token in held.share_tokens.items():
                if token is not None and token in request and not sender.startswith("bad:"):
                    continue  # a share token opens its thread to anyone with a valid credential or none
                ids |= held.ids_by_thread[thread]
                if thread in self.markers:
                    markers.add(self.markers[thread])
        return markers, ids

    def check_answer(self, sender: str, request: str, text: str, data: Any, context: object) -> None:
        """`text` is everything the server sent back, `data` every `data` it held."""
        for word in INTERNALS:
            assert word not in text, ("internals in the answer", word, context, text[:1000])
        markers, ids = self.forbidden(sender, request)
        for marker in markers:
            assert marker not in text, ("another identity's prompt in the answer", context, text[:1000])
        data_text = json.dumps(data)
        for other in ids:
            assert other not in data_text, ("another identity's id in data", other, context, data_text[:1000])

    def check_not_answered(self, sender: str, answered: list[str], context: object) -> None:
        """No request that names another identity's id (outside what its share token opens) got data: an answer,
        even one that selects nothing telling (`{ streamBody(streamId: ...) { offset } }`), confirms the id."""
        for request in answered:
            _, ids = self.forbidden(sender, request)
            for other in ids:
                assert other not in request, ("answered for another identity's id", other, context)

    def check_errors(self, errors: Any, context: object) -> None:
        assert isinstance(errors, list) and errors, (errors, context)
        for error in errors:
            assert isinstance(error.get("message"), str), (error, context)
            code = error.get("extensions", {}).get("code")
            assert code in CODES, (error, context)
            self.codes[code] += 1

    def check_storage(self, sender: str, refused: bool, context: object) -> None:
        after = self.snapshot()
        for owner, before in self.baseline.items():
            if owner == sender and not refused:
                continue
            if after[owner] != before:
                why = (
                    "refused input changed the sender's data" if owner == sender else "another identity's data changed"
                )
                raise AssertionError((why, owner, context, _diff(before, after[owner])))
        self.cases[sender] += 1
        if sender in NAMES and not refused:
            self.accepted += 1
            self.seed(sender)
            self.baseline = self.snapshot()
        else:
            self.baseline = after
        self.held = holdings(self.db_path)

    # --- the end ---------------------------------------------------------------------------------------------

    def finish(self) -> None:
        """Each identity still gets a whole answer, and the log holds no traceback and no unexpected error."""
        for name in NAMES:
            self.answer(name, f"{name} is still served")
        assert httpx.get(f"{self.server.url}/healthz", timeout=10).status_code == 200
        log = self.server.log()
        at = log.find("Traceback")
        assert at < 0, log[max(0, at - 300) : at + 4000]
        assert "unexpected error" not in log, [line for line in log.splitlines() if "unexpected error" in line][:5]

    def summary(self) -> str:
        per = ", ".join(f"{name} {self.cases[name]}" for name in NAMES)
        others = sum(n for s, n in self.cases.items() if s not in NAMES)
        codes = ", ".join(f"{code} {n}" for code, n in self.codes.most_common())
        return f"{per}, anonymous or bad credential {others}; {self.accepted} accepted; errors: {codes}"


def _diff(before: Dump, after: Dump) -> dict[str, Any]:
    return {
        table: {
            "gone": [r for r in before[table] if r not in after[table]],
            "new": [r for r in after[table] if r not in before[table]],
        }
        for table in before
        if before[table] != after[table]
    }
