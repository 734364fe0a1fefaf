"""A small AG-UI client: posts a RunAgentInput to persistream's /agui and prints each event as it arrives.

If the connection drops mid-answer, it rejoins the run from the last SSE id it received (GET /agui/runs/{runId},
a persistream extension) and goes on printing: the answer was never the connection's to lose.

    python examples/agui_client.py --url http://127.0.0.1:8000 "What is 2 + 3?"
    python examples/agui_client.py --thread my-notes "And what was my last question?"
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Iterator

import httpx

TERMINAL = {"RUN_FINISHED", "RUN_ERROR"}


def events(response: httpx.Response) -> Iterator[tuple[str | None, dict[str, object]]]:
    """(SSE id, event) for each event of an SSE response."""
    event_id, data = None, []
    for line in response.iter_lines():
        if line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and data:
            yield event_id, json.loads("\n".join(data))
            data = []


def show(event: dict[str, object]) -> str:
    kind = str(event["type"])
    detail = event.get("delta") or event.get("content") or event.get("toolCallName") or event.get("message") or ""
    return f"{kind} {json.dumps(detail, ensure_ascii=False)}" if detail else kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prompt")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the persistream server")
    parser.add_argument("--thread", default=None, help="the thread (any name; a new one by default)")
    args = parser.parse_args()
    run_input = {
        "threadId": args.thread or str(uuid.uuid4()),
        "runId": str(uuid.uuid4()),
        "messages": [{"id": str(uuid.uuid4()), "role": "user", "content": args.prompt}],
        "tools": [],
        "context": [],
        "state": {},
        "forwardedProps": {},
    }
    run_id, last_id = None, None
    with httpx.Client(timeout=httpx.Timeout(30, read=300)) as client:
        method, url, options = "POST", f"{args.url}/agui", {"json": run_input}
        while True:
            try:
                with client.stream(method, url, **options) as response:
                    if response.status_code != 200:
                        raise SystemExit(f"refused ({response.status_code}): {response.read().decode()}")
                    for event_id, event in events(response):
                        last_id = event_id
                        run_id = run_id or str(event.get("runId"))
                        print(show(event), flush=True)
                        if event["type"] in TERMINAL:
                            return
            except httpx.TransportError as error:
                if run_id is None:
                    raise SystemExit(f"could not reach {args.url}: {error}") from None
            # Cut before the end: rejoin from the last event received.
            params = {"threadId": run_input["threadId"], **({"cursor": last_id} if last_id else {})}
            method, url, options = "GET", f"{args.url}/agui/runs/{run_id}", {"params": params}


if __name__ == "__main__":
    main()
