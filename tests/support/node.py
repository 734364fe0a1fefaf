"""Node for the JavaScript tests: the binary, and a folder's installed packages (tests/node: graphql-ws,
graphql-sse, Apollo Client; clients/js: the client's own tooling)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


def require_node(packages: Path = NODE_DIR) -> str:
    """The node binary, once `packages`/node_modules is installed; outside CI a machine without them skips, in CI
    that is a failure."""
    node = shutil.which("node")
    missing = [
        what
        for what, ok in (("node", node is not None), ("node_modules", (packages / "node_modules").is_dir()))
        if not ok
    ]
    if missing:
        reason = f"{' and '.join(missing)} missing: run `npm ci --prefix {packages.relative_to(packages.parents[1])}`"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    assert node is not None
    return node
