"""`GET /metrics` (Prometheus text format) and the sampling of the figures read off live objects.

The route answers like any other of this server: the Host allow-list and the security headers apply; it carries
counts only (no ids, no text, no identity), so it needs no credential. With several workers one scrape covers all
of them (see `persistream.metrics`); the gauges a worker samples (`StreamEngine.metrics_sampler`) are at most
`SAMPLE_INTERVAL` old.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response

from persistream import metrics

SAMPLE_INTERVAL = 1.0


class MetricsEndpoint:
    def __init__(self, sampler: metrics.Sampler, multiprocess_dir: str | None) -> None:
        self.sampler = sampler
        self.multiprocess_dir = multiprocess_dir

    async def respond(self, request: Request) -> Response:
        self.sampler.refresh()  # this worker's gauges exact at the moment of the scrape
        body, content_type = await asyncio.to_thread(metrics.exposition, self.multiprocess_dir)
        return Response(body, media_type=content_type, headers={"cache-control": "no-store"})


@contextlib.asynccontextmanager
async def sampling(sampler: metrics.Sampler) -> AsyncIterator[None]:
    """Refresh the sampled gauges every `SAMPLE_INTERVAL` while the app runs (for scrapes of other workers)."""

    async def loop() -> None:
        while True:
            sampler.refresh()
            await asyncio.sleep(SAMPLE_INTERVAL)

    task = asyncio.create_task(loop(), name="persistream-metrics")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
