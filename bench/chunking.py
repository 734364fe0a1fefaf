"""How many chunks (database writes and broadcasts) a typical answer takes, with the default flush settings.

    .venv/bin/python -m bench.chunking [--tokens-per-second 50]

Drives the offline demo model's answer and a longer Markdown answer (paragraphs, a list, a code block) through the
engine at a steady model speed, and prints tokens, characters and chunks for each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sqlite3
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from persistream.core import StreamEngine
from persistream.llm.base import ChatMessage
from persistream.llm.demo import DemoModel

LONG_ANSWER = (
    "Persistent text streaming keeps two promises at once. The person who asked sees every token the moment it "
    "arrives, and everyone else sees the same answer from storage.\n\n"
    "Here is how the pieces fit together:\n\n"
    "1. The driver claims the answer and starts the model.\n"
    "2. Tokens go straight to the driver, while a chunker cuts them at sentence ends.\n"
    "3. Each chunk is stored, then published to observers.\n\n"
    "A client resumes with the last offset it received:\n\n"
    "```js\nconst next = await resume(streamId, offset);\n```\n\n"
    "Because the database is the source of truth, a lost message costs an observer one read, not a gap in the "
    "text. Slow clients receive merged events, so they never hold the model back. When the model fails, the text "
    "so far is kept and the status says why. That is the whole idea, and it scales from one process on SQLite to "
    "many processes on PostgreSQL and Redis without changing a line of client code."
)
TOKENS = re.compile(r"\s*\S+|\s+")


async def paced(text: str, per_second: float) -> AsyncIterator[str]:
    for token in TOKENS.findall(text):
        await asyncio.sleep(1 / per_second)
        yield token


async def measure(text: str, per_second: float, db_path: Path) -> dict[str, int]:
    async with StreamEngine.from_urls(f"sqlite+aiosqlite:///{db_path}") as engine:
        stream_id = await engine.create_stream()
        async for _ in engine.drive(stream_id, lambda: paced(text, per_second)):
            pass
        assert (await engine.body(stream_id)).text == text
    with sqlite3.connect(db_path) as conn:
        # The chunks it was written in (its rows are compacted into one once it ends).
        chunks = conn.execute("SELECT last_seq FROM streams WHERE id = ?", (stream_id,)).fetchone()[0]
    return {"tokens": len(TOKENS.findall(text)), "characters": len(text), "chunks": int(chunks)}


async def main_async(per_second: float) -> dict[str, dict[str, int]]:
    demo = DemoModel().answer_for([ChatMessage("user", "What is persistent text streaming?")])
    with tempfile.TemporaryDirectory() as tmp:
        return {
            "demo_answer": await measure(demo, per_second, Path(tmp) / "a.db"),
            "markdown_answer": await measure(LONG_ANSWER, per_second, Path(tmp) / "b.db"),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens-per-second", type=float, default=50.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args.tokens_per_second)), indent=2))


if __name__ == "__main__":
    main()
