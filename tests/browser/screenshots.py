"""Takes the screenshots the docs show: `python -m tests.browser.screenshots [OUT_DIR]` (default docs/).

The server runs in this process on a canned model (persistream's Python API takes any ChatModel), so the pictures
show real streaming through the real page without a key or a network, and are the same on every run.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from persistream.config import Settings
from persistream.llm.base import ChatMessage
from persistream.web.app import create_app
from tests.support.net import free_port
from tests.support.server import ROOT

from .chat import ChatPage
from .conftest import CHROMIUM_ARGS

_TOKEN = re.compile(r"\s*\S+|\s+")

QUESTION = "How can I read a 20 GB CSV file in Python without running out of memory?"
ANSWER = """Read it **in pieces** instead of all at once. A 20 GB file does not fit in memory as a data frame, but \
a few hundred thousand rows at a time do, and most questions about a big file can be answered one piece at a time.

With pandas, pass `chunksize` and you get an iterator of data frames:

```python
import pandas as pd

total = 0
for chunk in pd.read_csv("events.csv", chunksize=500_000, usecols=["country", "amount"]):
    total += chunk["amount"].sum()
print(total)
```

A few things make each piece cheaper:

- `usecols` loads only the columns you need.
- `dtype` (for example `{"country": "category"}`) shrinks repeated strings.
- Write intermediate results to Parquet, which is columnar and compressed, if you will read them again.

If you would rather not write the loop yourself, a query engine such as [DuckDB](https://duckdb.org/docs/) \
can run SQL over the CSV file directly and streams it for you."""

FOLLOW_UP = "And how do I count the rows per country?"
FOLLOW_UP_ANSWER = """Keep a running count and add each piece's counts to it:

```python
counts = None
for chunk in pd.read_csv("events.csv", chunksize=500_000, usecols=["country"]):
    part = chunk["country"].value_counts()
    counts = part if counts is None else counts.add(part, fill_value=0)
print(counts.sort_values(ascending=False).head(10))
```

Each piece is counted and then dropped, so memory stays flat however large the file is."""

OTHER_THREADS = {
    "Explain Raft leader election in two paragraphs": "Each server waits for a heartbeat from a leader...",
    "Ideas for a ten-minute lightning talk": "1. The history of the semicolon\n2. Why time zones are hard",
}


class CannedModel:
    """Answers the prompts above, word by word, like a model that takes its time."""

    name = "canned"

    def __init__(self) -> None:
        self.answers = {QUESTION: ANSWER, FOLLOW_UP: FOLLOW_UP_ANSWER, **OTHER_THREADS}
        self.token_delay = 0.0

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        prompt = next((m.content for m in reversed(messages) if m.role == "user"), "")
        for token in _TOKEN.findall(self.answers.get(prompt, "I have no canned answer for that.")):
            await asyncio.sleep(self.token_delay)
            yield token

    async def aclose(self) -> None:
        return None


def serve(model: CannedModel, database: Path) -> tuple[uvicorn.Server, int]:
    port = free_port()
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{database}", flush_ms=100), model=model)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    return server, port


def main(out: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Debian's chromium is needed (apt-get install chromium)")
    out.mkdir(parents=True, exist_ok=True)
    model = CannedModel()
    with tempfile.TemporaryDirectory() as tmp:
        server, port = serve(model, Path(tmp) / "screenshots.db")
        base = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
                page = browser.new_page(viewport={"width": 1280, "height": 820}, color_scheme="light")
                chat = ChatPage(page, base).open()
                for prompt in OTHER_THREADS:
                    chat.page.locator("#new-chat").click()
                    chat.wait_status(chat.send(prompt), "DONE")
                chat.page.locator("#new-chat").click()

                model.token_delay = 0.05
                answer = chat.send(QUESTION)
                chat.wait_text_at_least(answer, 420, timeout=60)
                page.screenshot(path=str(out / "chat-streaming.png"))
                chat.wait_status(answer, "DONE", timeout=60_000)

                model.token_delay = 0.0
                chat.wait_status(chat.send(FOLLOW_UP), "DONE")
                page.wait_for_timeout(200)
                page.screenshot(path=str(out / "chat-thread.png"))

                phone = browser.new_page(viewport={"width": 390, "height": 800}, color_scheme="light")
                ChatPage(phone, base).open(chat.thread_id)
                phone.locator('.answer[data-status="DONE"]').nth(1).wait_for()
                phone.wait_for_timeout(200)
                phone.screenshot(path=str(out / "chat-phone.png"))
                browser.close()
        finally:
            server.should_exit = True
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs")
