"""Randomized fault runs against real server processes, every one held to the contract by one checker.

    python -m bench.chaos --runs N --seed S [--concurrency C] [--processes 4|2]
    python -m bench.chaos --seed S --run K      (replays run K of seed S alone)

Each run drives one answer (text, and in some runs reasoning and a tool call; in some a sibling made by regenerate
or editMessage) through a random mix of faults (see `plan.FaultKind`) on server processes A, B, C and D (or A and
B) on PostgreSQL through a proxy and a private Redis, or S on SQLite; `checker.check_run` then compares what every
subscriber saw with what is stored. It prints the counts by fault kind, final status, transport, part kind and
resume mode, and for every failing run its seed, index, the command that replays it and its whole history. Exit
status 1 on any violation.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.chaos.branches import warm_up
from bench.chaos.checker import check_run
from bench.chaos.cluster import Cluster
from bench.chaos.faults import Injector
from bench.chaos.history import History
from bench.chaos.plan import KINDS, draw_plan
from bench.chaos.record import RunRecord
from bench.chaos.runner import execute


@dataclass
class Tally:
    runs: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    by_transport: Counter[str] = field(default_factory=Counter)
    by_target: Counter[str] = field(default_factory=Counter)
    by_part: Counter[str] = field(default_factory=Counter)
    by_resume: Counter[str] = field(default_factory=Counter)
    by_branch: Counter[str] = field(default_factory=Counter)
    subscriptions: int = 0
    resubscriptions: int = 0
    by_cursor: int = 0
    violations: int = 0
    failed: list[tuple[RunRecord, History, list[str]]] = field(default_factory=list)

    def add(self, record: RunRecord, history: History, violations: list[str]) -> None:
        self.runs += 1
        self.by_kind.update(str(kind) for kind in record.kinds)
        self.by_status[record.first_final.status if record.first_final else "left live"] += 1
        self.by_target["PostgreSQL" if record.plan.shared else "SQLite"] += 1
        self.by_branch[record.plan.branch or "none"] += 1
        if record.first_final is not None:
            self.by_part.update({str(p["kind"]) for p in record.first_final.parts})
        for subscriber in record.subscribers:
            self.by_transport[subscriber.transport] += 1
            self.by_resume[subscriber.resume] += 1
            joined = [s for s in subscriber.segments if s.operation != "none"]
            self.subscriptions += len(joined)
            self.resubscriptions += max(0, len(joined) - 1)
            self.by_cursor += sum(1 for s in joined[1:] if s.from_cursor is not None)
        if violations:
            self.violations += len(violations)
            self.failed.append((record, history, violations))


def counts(counter: Counter[str], order: tuple[str, ...] = ()) -> str:
    keys = list(order) + sorted(k for k in counter if k not in order)
    return " ".join(f"{key}={counter[key]}" for key in keys)


async def run_all(
    indices: list[int], seed: int, concurrency: int, cluster: Cluster, verbose: bool, processes: int
) -> Tally:
    await warm_up(cluster)
    injector = Injector(cluster)
    tally = Tally()
    slots = asyncio.Semaphore(concurrency)
    started = time.monotonic()

    async def one(index: int) -> None:
        async with slots:
            record, history = await execute(draw_plan(seed, index, processes), cluster, injector)
        violations = check_run(record)
        tally.add(record, history, violations)
        if verbose:
            print(f"run {index}: {'; '.join(violations) or 'kept the contract'}\n" + "\n".join(history.lines()))
        if violations:
            print(f"chaos: run {index} broke the contract: {violations[0]}", file=sys.stderr, flush=True)
        if tally.runs % 25 == 0 or tally.runs == len(indices):
            print(
                f"chaos: {tally.runs}/{len(indices)} runs, {tally.violations} violations, "
                f"{time.monotonic() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    await asyncio.gather(*(one(index) for index in indices))
    return tally


def report(tally: Tally, seed: int, concurrency: int, elapsed: float, command: str, replay: str) -> None:
    for record, history, violations in sorted(tally.failed, key=lambda f: f[0].plan.index):
        plan = record.plan
        print(f"\nFAILED run {plan.index} of seed {seed} (stream {record.stream_id}):")
        for violation in violations:
            print(f"  - {violation}")
        print(f"  replay: {replay} --run {plan.index}")
        print("  history:")
        print("\n".join(history.lines()))
    print(f"\n`{command}`")
    print(f"chaos: seed {seed}, {tally.runs} runs, concurrency {concurrency}, {elapsed:.1f} s")
    print(f"violations: {tally.violations} (in {len(tally.failed)} runs)")
    print(f"by fault kind: {counts(tally.by_kind, tuple(str(k) for k in KINDS))}")
    print(f"by final status: {counts(tally.by_status, ('DONE', 'ERROR', 'TIMEOUT', 'CANCELLED'))}")
    print(f"by transport: {counts(tally.by_transport, ('ws', 'ws-legacy', 'sse', 'multipart'))}")
    print(f"by target: {counts(tally.by_target)}")
    print(f"answers with a part of kind: {counts(tally.by_part, ('TEXT', 'REASONING', 'TOOL_CALL', 'TOOL_RESULT'))}")
    print(f"by branch: {counts(tally.by_branch, ('none', 'regenerate', 'edit'))}")
    print(f"subscribers by resume: {counts(tally.by_resume, ('offset', 'cursor'))}")
    print(
        f"subscriptions: {tally.subscriptions} (resubscriptions after a drop or a cut: {tally.resubscriptions}, "
        f"{tally.by_cursor} of them by cursor)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=36, help="how many runs (default 36)")
    parser.add_argument("--seed", type=int, default=None, help="the seed every run's plan derives from")
    parser.add_argument("--run", type=int, default=None, help="replay only this run of the seed, alone")
    parser.add_argument("--concurrency", type=int, default=8, help="runs at once (default 8)")
    parser.add_argument(
        "--processes", type=int, choices=(2, 4), default=4, help="server processes on PostgreSQL and Redis (default 4)"
    )
    parser.add_argument("--verbose", action="store_true", help="print every run's history, not only a failing one's")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server logs even when all runs pass")
    options = parser.parse_args()
    seed = options.seed if options.seed is not None else random.randrange(10**8)
    replay = f"python -m bench.chaos --seed {seed}"
    if options.processes != 4:
        replay += f" --processes {options.processes}"
    if options.run is not None:
        indices, concurrency = [options.run], 1
        command = f"{replay} --run {options.run}"
    else:
        indices, concurrency = list(range(options.runs)), max(1, options.concurrency)
        command = f"{replay} --runs {options.runs} --concurrency {concurrency}"
    print(f"chaos: seed {seed}; starting the servers", file=sys.stderr, flush=True)
    cluster = Cluster(options.processes).start()
    started = time.monotonic()
    tally = Tally()
    try:
        tally = asyncio.run(run_all(indices, seed, concurrency, cluster, options.verbose, options.processes))
    finally:
        elapsed = time.monotonic() - started
        problems = cluster.stop(keep_logs=options.keep_logs or bool(tally.failed))
    tally.violations += len(problems)
    for problem in problems:
        print(f"cluster: {problem}")
    report(tally, seed, concurrency, elapsed, command, replay)
    if tally.failed or problems:
        print(f"server logs kept in {cluster.workdir}")
    sys.exit(1 if tally.violations else 0)


if __name__ == "__main__":
    main()
