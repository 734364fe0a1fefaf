"""Hypothesis-generated WebSocket conversations against a running server, each on a fresh connection as alice,
bob, nobody or a bad credential (on the upgrade or in `connection_init`), while alice and bob both own data
(tests/fuzz/world.py).

A case picks a subprotocol (graphql-transport-ws, the legacy graphql-ws, none, or one the server does not speak)
and sends a generated sequence of frames: protocol messages with generated payloads (connection_init with any
payload, subscribe/start with generated documents and variables, duplicate and unknown ids, complete/stop, ping,
pong, messages before init), and frames that are no protocol message at all (malformed JSON, JSON that is no
object, binary, huge, random text). Each case: the server answers per protocol or closes with a protocol close
code, never 1011 or an internal error; nothing internal and nothing of another identity in any frame; stored
data as tests/fuzz/world.py checks it. At the end the server still answers each identity and its log is clean.

PERSISTREAM_FUZZ_WS_EXAMPLES (default 300) sets the case count; a failure prints the falsifying case and the
`--hypothesis-seed` that replays the run.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets import ConnectionClosed, Subprotocol
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import ServerFactory
from tests.fuzz.conftest import FuzzCounts
from tests.fuzz.documents import ANY_JSON, any_text, shorten
from tests.fuzz.world import NAMES, SENDERS, World, authorization, server_settings

EXAMPLES = int(os.environ.get("PERSISTREAM_FUZZ_WS_EXAMPLES", os.environ.get("PERSISTREAM_FUZZ_EXAMPLES", "300")))
MAX_MESSAGE = 1 << 20
SENDER_CHOICES = [*NAMES * 12, *SENDERS]
PROTOCOLS = ["graphql-transport-ws"] * 4 + ["graphql-ws"] * 3 + [None, "mqtt"]
# Close codes the protocols (and the contract) give: normal, invalid UTF-8, too big, protocol error (legacy binary), bad
# message, unauthorized, forbidden (bad credential), subprotocol not acceptable, init timeout, duplicate id, too
# many inits. 1011 (a server failure) is never one.
CLOSE_CODES = {1000, 1002, 1007, 1009, 4400, 4401, 4403, 4406, 4408, 4409, 4429}
# How long a case waits for answers after its last frame: until its probe is answered and every operation
# ended, or this long (an operation following the sender's own PENDING stream never ends by itself).
PATIENCE = 2.0


class Frames(list[str | bytes]):
    def __repr__(self) -> str:
        return "[" + ", ".join(shorten(frame, 500) for frame in self) + "]"


@dataclass
class Conversation:
    protocol: str | None
    sender: str
    credential_on_upgrade: bool
    frames: list[str | bytes]
    request: str = ""  # every frame's text, for the share-token rule of the leak check
    received: list[str] = field(default_factory=list)
    close_code: int | None = None
    acknowledged: bool = False
    operations_sent_after_ack: bool = False


def op_ids() -> st.SearchStrategy[Any]:
    return st.sampled_from(["1", "1", "2", "3"]) | any_text(8) | ANY_JSON


@st.composite
def frames(draw: st.DrawFn, world: World, protocol: str | None, sender: str, on_upgrade: bool) -> Frames:
    legacy = protocol == "graphql-ws"
    credential = authorization(sender)
    good_init: dict[str, Any] = {"type": "connection_init", "payload": {}}
    if credential is not None and not on_upgrade:
        good_init["payload"] = {"Authorization": credential}
    subscribe_type = "start" if legacy else "subscribe"
    complete_type = "stop" if legacy else "complete"

    @st.composite
    def subscribe(draw2: st.DrawFn) -> dict[str, Any]:
        op = draw2(world.pools.aimed(sender).operations)
        payload: dict[str, Any] = {"query": op.document, "variables": op.variables}
        if op.operation_name is not None:
            payload["operationName"] = op.operation_name
        kind = draw2(st.sampled_from([subscribe_type] * 5 + ["start", "subscribe"]))
        return {"id": draw2(op_ids()), "type": kind, "payload": payload}

    message = st.one_of(
        subscribe(),
        subscribe(),
        subscribe(),
        st.builds(lambda i, t: {"id": i, "type": t}, op_ids(), st.sampled_from([complete_type, "complete", "stop"])),
        st.builds(lambda p: {"type": "connection_init", "payload": p}, ANY_JSON),
        st.just(good_init),
        st.builds(lambda t, p: {"type": t, "payload": p}, st.sampled_from(["ping", "pong"]), ANY_JSON | st.none()),
        st.sampled_from([{"type": "ping"}, {"type": "pong"}, {"type": "connection_terminate"}, {"type": "ka"}]),
        st.builds(lambda t: {"type": t}, any_text(12)),
        st.dictionaries(any_text(6), ANY_JSON, max_size=4),
        st.builds(
            lambda i, t, p: {"id": i, "type": t, "payload": p},
            op_ids(),
            st.sampled_from(["subscribe", "start"]),
            ANY_JSON,
        ),
    )
    garbage: st.SearchStrategy[str | bytes] = st.one_of(
        any_text(60),
        ANY_JSON.map(json.dumps),
        st.binary(max_size=64),
        st.sampled_from(["{", "[", '{"type": "subscribe"', "\x00", ""]),
        st.sampled_from([MAX_MESSAGE + 1, 2 * MAX_MESSAGE]).map(lambda n: "x" * n),
    )
    sequence: list[str | bytes] = draw(
        st.lists(st.one_of(message.map(json.dumps), message.map(json.dumps), garbage), max_size=5)
    )
    if draw(st.sampled_from([True, True, True, False])):
        sequence.insert(0, json.dumps(good_init))
    return Frames(sequence)


PROBE = json.dumps({"type": "ping"})
# The legacy protocol has no ping: a query whose answer ends with `complete` (or, before init, a close: 4401).
PROBE_LEGACY = json.dumps({"type": "start", "id": "probe", "payload": {"query": "{ __typename }"}})


def expected_answers(sent: list[str | bytes], legacy: bool) -> tuple[int, set[str]]:
    """How many pongs the frames and the probe are owed (graphql-transport-ws), and the ids of operations whose
    end (`complete` or `error`) is awaited; a close ends the wait for all of them."""
    pongs = 0 if legacy else 1
    ids = {"probe"} if legacy else set()
    for frame in sent:
        try:
            message = json.loads(frame)
        except ValueError:
            continue
        if not isinstance(message, dict):
            continue
        if message.get("type") == "ping" and not legacy:
            pongs += 1
        elif message.get("type") in ("subscribe", "start") and isinstance(message.get("id"), str):
            ids.add(message["id"])
        elif message.get("type") in ("complete", "stop") and isinstance(message.get("id"), str):
            ids.discard(message["id"])
    return pongs, ids


def run(world: World, conversation: Conversation) -> None:
    """Send the frames, then a probe, and read until the probe and every operation are answered, or the socket
    closes, or PATIENCE runs out."""
    headers = {}
    credential = authorization(conversation.sender)
    if credential is not None and conversation.credential_on_upgrade:
        headers["authorization"] = credential
    protocols = None if conversation.protocol is None else [Subprotocol(conversation.protocol)]
    try:
        ws = connect(
            world.server.graphql_ws,
            subprotocols=protocols,
            additional_headers=headers,
            max_size=None,
            open_timeout=10,
            close_timeout=2,
        )
    except InvalidStatus as refused:
        raise AssertionError(("the upgrade was refused", refused.response.status_code, conversation)) from None
    legacy = conversation.protocol == "graphql-ws"
    with ws:
        try:
            for frame in conversation.frames:
                if isinstance(frame, str):
                    # A lone surrogate cannot be UTF-8: sent as the bytes of a text frame, invalid UTF-8.
                    ws.send(frame.encode("utf-8", "surrogatepass"), text=True)
                else:
                    ws.send(frame)
            ws.send(PROBE_LEGACY if legacy else PROBE)
            pongs_due, open_ids = expected_answers(conversation.frames, legacy)
            deadline = time.monotonic() + PATIENCE
            while time.monotonic() < deadline and (pongs_due > 0 or open_ids):
                try:
                    raw = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
                except TimeoutError:
                    break
                text = raw if isinstance(raw, str) else raw.decode(errors="replace")
                conversation.received.append(text)
                message = json.loads(text)
                assert isinstance(message, dict), (message, conversation)
                kind = message.get("type")
                if kind == "connection_ack":
                    conversation.acknowledged = True
                elif kind == "ping":
                    ws.send(json.dumps({"type": "pong"}))
                elif kind == "pong":
                    pongs_due -= 1
                elif kind in ("complete", "error"):
                    open_ids.discard(message.get("id"))
        except ConnectionClosed:
            pass
        received = ws.protocol.close_rcvd
        conversation.close_code = received.code if received is not None else ws.close_code
    conversation.operations_sent_after_ack = conversation.acknowledged


def answered_operations(conversation: Conversation) -> list[str]:
    """The text of each operation that got data; an id sent twice counts only if every frame with it is alike."""
    by_id: dict[str, list[str]] = {}
    for frame in conversation.frames:
        try:
            message = json.loads(frame)
        except ValueError:
            continue
        if isinstance(message, dict) and isinstance(message.get("id"), str):
            by_id.setdefault(message["id"], []).append(json.dumps(message.get("payload")))
    answered: list[str] = []
    for text in conversation.received:
        message = json.loads(text)
        payload = message.get("payload")
        if message.get("type") in ("next", "data") and isinstance(payload, dict) and payload.get("data"):
            sent = by_id.get(message.get("id"), [])
            if len(set(sent)) == 1:
                answered.append(sent[0])
    return answered


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check(world: World, conversation: Conversation) -> None:
    code = conversation.close_code
    if code == 1006 and any(len(frame) > MAX_MESSAGE for frame in conversation.frames):
        code = 1009  # refused the oversized frame and dropped the socket while the client still wrote it
    if code == 1006 and any(isinstance(frame, str) and not _utf8(frame) for frame in conversation.frames):
        # Failed the connection on invalid UTF-8 (1007) and closed it while the client still wrote frames after it:
        # the server's kernel then resets the connection, and the reset discards the close frame the client had
        # not read yet (seen on a loaded machine).
        code = 1007
    assert code is None or code in CLOSE_CODES, ("close code", code, conversation.protocol, conversation.frames[:3])
    everything = "\n".join(conversation.received)
    data = []
    for text in conversation.received:
        message = json.loads(text)
        payload = message.get("payload")
        assert message.get("type") in {
            "connection_ack",
            "connection_error",
            "ping",
            "pong",
            "ka",
            "next",
            "data",
            "error",
            "complete",
        }, (message, conversation.frames[:3])
        if message.get("type") in ("next", "data") and isinstance(payload, dict):
            data.append(payload.get("data"))
            if payload.get("errors"):
                world.check_errors(payload["errors"], (message, conversation.frames[:3]))
        elif message.get("type") == "error" and conversation.protocol == "graphql-transport-ws":
            world.check_errors(payload, (message, conversation.frames[:3]))
    context = (
        conversation.sender,
        conversation.protocol,
        conversation.credential_on_upgrade,
        [f[:300] for f in conversation.frames],
        everything[:1500],
    )
    world.check_answer(conversation.sender, conversation.request, everything, data, context)
    world.check_not_answered(conversation.sender, answered_operations(conversation), context)
    # An operation could run only on an acknowledged socket; otherwise nothing the sender owns may change.
    world.check_storage(conversation.sender, not conversation.operations_sent_after_ack, context)


@pytest.mark.fuzz
def test_generated_websocket_frames_never_fail_or_leak(
    make_server: ServerFactory, tmp_path: Path, fuzz_counts: FuzzCounts
) -> None:
    db_path = tmp_path / "fuzz.db"
    server = make_server(db_path, **server_settings())
    world = World(server, db_path)
    world.start()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        protocol=st.sampled_from(PROTOCOLS),
        sender=st.sampled_from(SENDER_CHOICES),
        on_upgrade=st.booleans(),
        data=st.data(),
    )
    def case(protocol: str | None, sender: str, on_upgrade: bool, data: st.DataObject) -> None:
        sequence = data.draw(frames(world, protocol, sender, on_upgrade), label="frames")
        request = "\n".join(f if isinstance(f, str) else f.decode(errors="replace") for f in sequence)
        conversation = Conversation(protocol, sender, on_upgrade, sequence, request)
        run(world, conversation)
        check(world, conversation)

    case()
    world.finish()
    fuzz_counts.record("WebSocket", world)
