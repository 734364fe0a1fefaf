"""The Node test clients (tests/node: graphql-ws, graphql-sse, Apollo Client) and the node binary that runs them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


def require_node() -> str:
    """The node binary; outside CI a machine without the Node test deps skips, in CI that is a failure."""
    node = shutil.which("node")
    missing = [
        what
        for what, ok in (("node", node is not None), ("node_modules", (NODE_DIR / "node_modules").is_dir()))
        if not ok
    ]
    if missing:
        reason = f"{' and '.join(missing)} missing: run `npm ci --prefix tests/node`"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    assert node is not None
    return node
