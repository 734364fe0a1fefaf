"""A process whose database connections all stayed taken for the pool's timeout answers RATE_LIMITED (retry
shortly), as its other capacity limits do, with a message that names no internals, and counts it; anything else
unexpected is still masked as INTERNAL_SERVER_ERROR."""

from __future__ import annotations

import logging

import pytest
from graphql import GraphQLError
from prometheus_client import REGISTRY
from sqlalchemy.exc import TimeoutError as PoolTimeout

from persistream.schema.errors import BUSY_MESSAGE, INTERNAL_MESSAGE, ErrorCodes

POOL = "QueuePool limit of size 5 overflow 15 reached, connection timed out, timeout 10.00"


def hits() -> float:
    value = REGISTRY.get_sample_value("persistream_limits_hit_total", {"limit": "database_connections"})
    return value or 0.0


def test_pool_timeout_is_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    before = hits()
    raised = GraphQLError(POOL, path=["streamBody"], original_error=PoolTimeout(POOL))
    other = GraphQLError("boom", path=["sendMessage"], original_error=RuntimeError("boom"))
    with caplog.at_level(logging.WARNING, logger="persistream.graphql"):
        busy, masked = ErrorCodes()._process_errors([raised, other])
    assert busy.message == BUSY_MESSAGE and busy.path == ["streamBody"]
    assert busy.extensions == {"code": "RATE_LIMITED", "retryAfter": 1}
    assert "QueuePool" not in busy.message
    assert masked.message == INTERNAL_MESSAGE and masked.extensions == {"code": "INTERNAL_SERVER_ERROR"}
    assert hits() == before + 1
    assert "database connections exhausted in streamBody" in caplog.text
    assert "Traceback" not in caplog.text
