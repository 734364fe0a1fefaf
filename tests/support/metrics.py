"""Reading a server's `GET /metrics` with prometheus_client's own parser."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import ServerProcess

# The contract's metrics and their types (a counter's family is named without `_total`).
CONTRACT_METRICS = {
    "persistream_streams_live": "gauge",
    "persistream_streams_finished": "counter",
    "persistream_tokens": "counter",
    "persistream_time_to_first_token_seconds": "histogram",
    "persistream_chunk_write_seconds": "histogram",
    "persistream_observers": "gauge",
    "persistream_broadcast_up": "gauge",
}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(server: ServerProcess) -> Samples:
    """Every sample of one scrape: (sample name, sorted labels) -> value, after checking the contract's families."""
    async with httpx.AsyncClient(timeout=10) as http:  # a new connection: with workers, any of them may answer
        response = await http.get(f"{server.url}/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    for name, kind in CONTRACT_METRICS.items():
        assert name in families, f"{name} missing from /metrics"
        assert families[name].type == kind, (name, families[name].type)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
