"""Timings derived from the timeouts: how often the sweeper looks, and how often a heartbeat is written.

Both are a fraction of the timeout they serve, so a timeout is noticed within a quarter of itself, and both are
bounded, so a long timeout still gets a prompt check and a short one does not turn into a busy loop.
"""

from __future__ import annotations


def sweep_interval(pending_timeout: float, stream_timeout: float) -> float:
    """How often the sweeper looks for timed-out streams: a fraction of the shortest timeout."""
    return min(5.0, max(0.05, min(pending_timeout, stream_timeout) / 4))


def heartbeat_interval(stream_timeout: float) -> float:
    """How often a process refreshes the heartbeat of the streams it generates."""
    return min(5.0, max(0.05, stream_timeout / 4))
