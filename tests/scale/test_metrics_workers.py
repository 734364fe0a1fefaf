"""`serve --workers 2` on PostgreSQL and Redis: one scrape of `/metrics`, whichever worker answers it, counts the
answers served by both workers."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict

from tests.scale.conftest import ScaleServerFactory, pg_url
from tests.scale.flows import Sub, new_stream, sentence_tokens, wait_until
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import check_events
from tests.support.metrics import scrape, value
from tests.support.server import children

pytestmark = pytest.mark.scale


def metrics_dir(pid: int) -> Path:
    """The directory `serve` made for its workers' figures, read off a worker's environment."""
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    for entry in environ.split(b"\0"):
        if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
            return Path(entry.split(b"=", 1)[1].decode())
    raise AssertionError("the worker has no PROMETHEUS_MULTIPROC_DIR")


def done_by_worker(directory: Path, pid: int) -> float:
    """DONE answers counted by one worker, read from its own file (what a scrape adds up)."""
    path = directory / f"counter_{pid}.db"
    if not path.exists():
        return 0.0
    total = 0.0
    for key, count, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):  # type: ignore[no-untyped-call]
        _metric, sample, labels, _help = json.loads(key)
        if sample == "persistream_streams_finished_total" and labels.get("status") == "DONE":
            total += count
    return total


async def test_one_scrape_counts_both_workers(
    make_scale_servers: ScaleServerFactory, fake_openai: FakeOpenAI, pg_database: str
) -> None:
    (server,) = make_scale_servers(1, pg_url(pg_database), workers=2)
    assert server.process is not None
    supervisor = server.process.pid
    await wait_until(lambda: len(children(supervisor)) >= 2, what="two workers")
    workers = children(supervisor)
    directory = metrics_dir(workers[0])
    before = await scrape(server)
    tokens = sentence_tokens(10)
    served = 0
    # Each driver on its own connection lands on either worker; a few rounds make both all but certain.
    for _round in range(6):
        streams = [(await new_stream(server, fake_openai, Script(tokens, delay=0.01)))[0] for _ in range(6)]
        drivers = [Sub(server, stream_id, driver=True) for stream_id in streams]
        for sub in await asyncio.gather(*(d.wait() for d in drivers)):
            assert sub.error is None, sub.error
            assert check_events(sub.events) == "".join(tokens)
            assert sub.events[-1]["status"] == "DONE"
        served += len(streams)
        per_worker = await asyncio.to_thread(lambda: [done_by_worker(directory, pid) for pid in workers])
        if sum(1 for n in per_worker if n > 0) >= 2:
            break
    assert sum(1 for n in per_worker if n > 0) >= 2, f"one worker served everything: {per_worker}"
    # Several scrapes, each answered by whichever worker accepts it: every one sees both workers' answers.
    for _ in range(6):
        after = await scrape(server)
        done = value(after, "persistream_streams_finished_total", status="DONE")
        assert done - value(before, "persistream_streams_finished_total", status="DONE") == served
        assert value(after, "persistream_tokens_total") - value(before, "persistream_tokens_total") == served * 10
        assert value(after, "persistream_streams_live") == 0
        assert value(after, "persistream_broadcast_up") == 1
    # SIGTERM reaches every worker through the supervisor; all drain and the whole server exits 0.
    server.process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(server.process.wait, 30) == 0
    server.check_log_for_secrets()
    assert not await asyncio.to_thread(directory.exists), "serve leaves its metrics directory behind"
