"""A soak run's figures (each gauge at the start after the warm-up, at the end, its maximum and growth), the
checks that decide whether it passed, and its report: the bench table, human lines, and one `SOAK-RESULT` JSON
line that a test reads."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass

from bench.report import Row, emit
from bench.rig import percentile
from bench.soak.probe import Sample
from bench.soak.traffic import Tally

RESULT_MARKER = "SOAK-RESULT "


@dataclass(frozen=True)
class Thresholds:
    memory_growth: float  # % from the start to the end
    flat: float  # % of its start value that tasks and open files may differ by at the end
    after_tasks: int  # tasks above the idle server's once every connection is closed
    after_files: int  # open files above the idle server's then
    after_sockets: int  # of which sockets


@dataclass(frozen=True)
class Series:
    start: float
    end: float
    max: float

    @property
    def growth(self) -> float:
        return (self.end - self.start) / self.start * 100 if self.start else 0.0


@dataclass
class Run:
    minutes: float
    connections: int
    drivers: int
    observers: int
    database: str
    broadcast: str
    warmup: float  # seconds of traffic before the start sample
    idle: Sample  # the server before any connection opened
    samples: list[Sample]  # during the traffic
    after: Sample  # once every connection had closed and settled
    tally: Tally
    thresholds: Thresholds
    scripted: float  # seconds the model takes to write one answer
    window: int  # samples in the start's and the end's median
    files_by_kind: tuple[dict[str, int], dict[str, int]]  # the idle server's open files, and those after closing

    @property
    def measured(self) -> list[Sample]:
        """The samples from the first one after the warm-up to the last one of the traffic."""
        steady = [s for s in self.samples if s.at >= self.warmup]
        return steady or self.samples[-1:]

    def series(self, read: Callable[[Sample], float]) -> Series:
        """Start and end are medians of `window` samples (the first after the warm-up, the last of the traffic):
        tasks and files move with the answers live at the moment, and one sample would catch a peak or a dip."""
        measured = self.measured
        width = min(self.window, len(measured))
        start = statistics.median(read(s) for s in measured[:width])
        end = statistics.median(read(s) for s in measured[-width:])
        return Series(start, end, max(read(s) for s in measured))

    def mean_cpu(self, read: Callable[[Sample], float]) -> float:
        # Every sample's CPU covers the interval before it: the first measured one covers the warm-up's end.
        return statistics.mean(read(s) for s in self.measured[1:] or self.measured)

    def failures(self) -> list[str]:
        t = self.thresholds
        problems = []
        memory = self.series(lambda s: s.rss_kb)
        if memory.growth >= t.memory_growth:
            problems.append(f"memory grew {memory.growth:.1f} % (limit {t.memory_growth:g} %)")
        for name, series in (("tasks", self.series(lambda s: s.tasks)), ("open files", self.series(open_files))):
            if abs(series.end - series.start) > series.start * t.flat / 100:
                problems.append(f"{name} went from {series.start:.0f} to {series.end:.0f} (limit ±{t.flat:g} %)")
        if self.after.tasks > self.idle.tasks + t.after_tasks:
            problems.append(f"{self.after.tasks} tasks after closing, idle server had {self.idle.tasks}")
        if self.after.open_files > self.idle.open_files + t.after_files:
            problems.append(f"{self.after.open_files} open files after closing, idle server had {self.idle.open_files}")
        idle_sockets, after_sockets = (kinds.get("socket", 0) for kinds in self.files_by_kind)
        if self.database == "postgresql":  # the pool's connections are sockets: it may keep more than it had idle
            idle_sockets += self.after.db_connections - self.idle.db_connections
        if after_sockets > idle_sockets + t.after_sockets:
            problems.append(f"{after_sockets} sockets open after closing, idle server had {idle_sockets}")
        if self.after.db_in_use:
            problems.append(f"{self.after.db_in_use} database connections still checked out after closing")
        if self.tally.error_count:
            problems.append(f"{self.tally.error_count} errors: {dict(self.tally.errors)}")
        if not self.tally.answers_driven or not self.tally.answers_observed:
            problems.append("no answer was completed by a driver or by an observer")
        return problems


def open_files(sample: Sample) -> float:
    return sample.open_files


def mb(kb: float) -> str:
    return f"{kb / 1024:,.1f} MB"


def count(value: float) -> str:
    return f"{value:,.0f}"


def describe(series: Series, show: Callable[[float], str]) -> str:
    return f"{show(series.start)} -> {show(series.end)} ({series.growth:+.1f} %), max {show(series.max)}"


def timeline_line(sample: Sample) -> str:
    return (
        f"  {sample.at:6.0f} s  rss {mb(sample.rss_kb):>10}  files {sample.open_files:5}  tasks {sample.tasks:5}  "
        f"db {sample.db_in_use}+{sample.db_idle}  cpu server {sample.server_cpu:3.0f} %  model "
        f"{sample.model_cpu:3.0f} %  client {sample.client_cpu:3.0f} %  sockets {sample.sockets}"
    )


def report(run: Run, timeline_every: int) -> None:
    """Everything a person and a test need, on standard output."""
    tally = run.tally
    print(
        f"soak: {run.minutes:g} min, {run.connections} connections ({run.drivers} drivers, {run.observers} "
        f"observers), database {run.database}, broadcast {run.broadcast}; warm-up {run.warmup:.0f} s"
    )
    print("soak: timeline (s since the traffic started)")
    print(timeline_line(run.idle).replace(f"{run.idle.at:6.0f} s", "  idle  "))
    for index, sample in enumerate(run.samples):
        if index % timeline_every == 0 or sample is run.samples[-1]:
            print(timeline_line(sample))
    print(timeline_line(run.after).replace(f"{run.after.at:6.0f} s", " after  "))
    memory = run.series(lambda s: s.rss_kb)
    files = run.series(open_files)
    tasks = run.series(lambda s: s.tasks)
    db = run.series(lambda s: s.db_connections)
    print(f"soak: start and end are medians of {run.window} samples; max is the highest single sample")
    print(f"soak: open files of the idle server: {run.files_by_kind[0]}")
    print(f"soak: open files after closing:     {run.files_by_kind[1]}")
    durations = tally.answer_seconds
    if durations:
        print(
            f"soak: a driver's answer, sent to final status: p50 {percentile(durations, 0.5):.2f} s, p99 "
            f"{percentile(durations, 0.99):.2f} s, max {max(durations):.2f} s (the model alone: {run.scripted:.2f} s)"
        )
    peak_cpu = max(s.server_cpu for s in run.measured)
    label = f"{run.connections} connections, {run.minutes:g} min ({run.database}, {run.broadcast})"
    t = run.thresholds
    rows = [
        Row(
            f"{label}: server memory (RSS), after warm-up -> end",
            describe(memory, mb),
            f"idle server {mb(run.idle.rss_kb)}; after closing {mb(run.after.rss_kb)}",
            f"< +{t.memory_growth:g} %",
        ),
        Row(
            "open files",
            describe(files, count),
            f"idle {run.idle.open_files}; after closing {run.after.open_files}",
            f"±{t.flat:g} %; after <= idle + {t.after_files}, sockets + {t.after_sockets}",
        ),
        Row(
            "asyncio tasks",
            describe(tasks, count),
            f"idle {run.idle.tasks}; after closing {run.after.tasks}",
            f"±{t.flat:g} %; after <= idle + {t.after_tasks}",
        ),
        Row(
            "database connections (in use + idle in the pool)",
            describe(db, count),
            f"idle {run.idle.db_connections}; after closing {run.after.db_in_use} in use, {run.after.db_idle} idle",
            "0 in use after",
        ),
        Row(
            "CPU (% of one core, mean over the measured window)",
            f"server {run.mean_cpu(lambda s: s.server_cpu):.0f} % (max {peak_cpu:.0f} %)",
            f"model {run.mean_cpu(lambda s: s.model_cpu):.0f} %, client {run.mean_cpu(lambda s: s.client_cpu):.0f} %",
        ),
        Row(
            "answers completed and checked",
            f"{tally.answers_driven:,} driven, {tally.answers_observed:,} observed; "
            f"{tally.events:,} events; {tally.stored_checks:,} checked against the stored text",
        ),
        Row("errors", f"{tally.error_count} ({tally.reconnects} reconnects)", "-", "0"),
    ]
    emit(rows)
    for line in tally.first_errors:
        print(f"soak: error: {line}")
    failures = run.failures()
    for problem in failures:
        print(f"soak: FAIL: {problem}")
    print("soak: passed" if not failures else f"soak: failed ({len(failures)} checks)")
    result = {
        "connections": run.connections,
        "minutes": run.minutes,
        "memory": asdict(memory) | {"growth": memory.growth},
        "open_files": asdict(files) | {"growth": files.growth},
        "tasks": asdict(tasks) | {"growth": tasks.growth},
        "db_connections": asdict(db) | {"growth": db.growth},
        "idle": asdict(run.idle),
        "after": asdict(run.after),
        "answers_driven": tally.answers_driven,
        "answers_observed": tally.answers_observed,
        "events": tally.events,
        "stored_checks": tally.stored_checks,
        "errors": tally.error_count,
        "answer_seconds_p99": percentile(tally.answer_seconds, 0.99) if tally.answer_seconds else None,
        "failures": failures,
    }
    print(RESULT_MARKER + json.dumps(result), flush=True)
