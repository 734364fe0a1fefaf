"""A run's random plan, drawn only from its own seed: what the model answers, who subscribes where and when, and
which faults strike at which moments. Nothing here touches a server; replaying a seed redraws the same plan."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from enum import StrEnum

from bench.chaos.model import ModelPlan, draw_model


class FaultKind(StrEnum):
    DRIVER_LEAVES = "driver_leaves"
    OBSERVERS = "observers"
    CANCEL_SAME_PROCESS = "cancel_same_process"
    CANCEL_OTHER_PROCESS = "cancel_other_process"
    MODEL_ERROR = "model_error"
    MODEL_FAIL = "model_fail"
    MODEL_DROP = "model_drop"
    MODEL_HANG = "model_hang"
    SLOW_CLIENT = "slow_client"
    REDIS_RESTART = "redis_restart"
    PG_CUT = "pg_cut"
    SIGKILL = "sigkill"
    # The model reasons and calls the slow tool; a subscriber's connection is cut while the call streams or the
    # tool runs, and it resumes (by cursor or by offset).
    CUT_DURING_TOOL = "cut_during_tool"
    # The model calls the slow tool and a cancel (from any process) arrives while the tool runs.
    CANCEL_DURING_TOOL = "cancel_during_tool"
    # The run's answer is a sibling: `regenerate` or `editMessage` on the second message of a thread.
    BRANCH = "branch"


KINDS = tuple(FaultKind)
# Faults of the whole cluster: they strike every run going on at the time on the servers they hit (a Redis
# restart or a PostgreSQL cut: every run on the shared database; a SIGKILL: every run on the killed process's
# database).
CLUSTER_KINDS = frozenset({FaultKind.REDIS_RESTART, FaultKind.PG_CUT, FaultKind.SIGKILL})
# Faults that need several processes sharing a database (the SQLite server is alone). A SIGKILL is not one of
# them: killing the SQLite process, the stream is ended by its own sweeper once it is started again.
SHARED_KINDS = frozenset({FaultKind.REDIS_RESTART, FaultKind.PG_CUT, FaultKind.CANCEL_OTHER_PROCESS})
# What the model does wrong: one script per run, so at most one of these.
MODEL_KINDS = frozenset({FaultKind.MODEL_ERROR, FaultKind.MODEL_FAIL, FaultKind.MODEL_DROP, FaultKind.MODEL_HANG})
CANCEL_KINDS = frozenset({FaultKind.CANCEL_SAME_PROCESS, FaultKind.CANCEL_OTHER_PROCESS, FaultKind.CANCEL_DURING_TOOL})
TOOL_KINDS = frozenset({FaultKind.CUT_DURING_TOOL, FaultKind.CANCEL_DURING_TOOL})

TRANSPORTS = ("ws", "ws-legacy", "sse", "multipart")
# The processes on PostgreSQL and Redis, by how many of them the cluster runs; and the one on SQLite.
SHARED = {2: ("A", "B"), 4: ("A", "B", "C", "D")}
SQLITE = "S"


@dataclass(frozen=True)
class SubscriberPlan:
    name: str
    driver: bool
    process: str
    transport: str
    # Seconds after the message was sent.
    join_at: float
    # Observers: where they start. ("zero", 0), ("at", k) a fixed offset, ("beyond", k) k past the stored length
    # when it joins (what a driver resuming past text never stored sends), ("cursor", 0) the cursor of the body
    # read when it joins.
    start: tuple[str, int] = ("zero", 0)
    # How it resubscribes after a drop: "offset" (`fromOffset`: the TEXT it holds) or "cursor" (`fromCursor`: the
    # last event's cursor, covering every part).
    resume: str = "offset"
    # Leaves on purpose this many seconds after the message was sent (None: follows to the end).
    leave_at: float | None = None
    # A slow client: stops reading at `pause_at` for `pause_for` seconds, then reads on.
    pause_at: float | None = None
    pause_for: float = 0.0
    # Its connection is cut at this moment (once), then it resubscribes.
    cut_at: float | None = None


@dataclass(frozen=True)
class ActionPlan:
    kind: FaultKind
    at: float
    # cancel: the process it is sent to; sigkill: "driver" (the process generating the answer) or a name.
    process: str = ""
    # How long an outage lasts (redis_restart, pg_cut).
    duration: float = 0.0


@dataclass(frozen=True)
class RunPlan:
    seed: int
    index: int
    primary: FaultKind
    kinds: frozenset[FaultKind]
    # The processes the run uses: the shared ones (PostgreSQL, Redis) or the SQLite one alone.
    group: tuple[str, ...]
    model: ModelPlan
    # Whether anyone drives the stream; not driven, it must end TIMEOUT after the pending timeout.
    driven: bool
    subscribers: tuple[SubscriberPlan, ...]
    actions: tuple[ActionPlan, ...] = field(default=())
    # "regenerate" or "edit": the answer is a sibling of a thread's second message (None: a new thread's first).
    branch: str | None = None

    @property
    def shared(self) -> bool:
        return self.group != (SQLITE,)

    @property
    def processes(self) -> tuple[str, ...]:
        return self.group

    def describe(self) -> str:
        where = f"{'+'.join(self.group)} (PostgreSQL, Redis)" if self.shared else f"{SQLITE} (SQLite)"
        branch = f"; a {self.branch} sibling" if self.branch else ""
        return (
            f"run {self.index} (seed {self.seed}) on {where}: faults {', '.join(sorted(self.kinds))}; "
            f"{self.model.describe()}; driven={self.driven}{branch}"
        )


def run_seed(seed: int, index: int) -> str:
    """The seed a run's plan is drawn from: (command seed, run index) alone, whatever ran before or beside it."""
    return f"{seed}:{index}"


def draw_plan(seed: int, index: int, processes: int = 4) -> RunPlan:
    rng = random.Random(run_seed(seed, index))
    primary = KINDS[index % len(KINDS)]  # round-robin: a short run covers every kind
    kinds = {primary}
    for kind in KINDS:
        chance = 0.04 if kind in CLUSTER_KINDS else 0.12
        if kind not in kinds and rng.random() < chance:
            if kind in MODEL_KINDS and kinds & MODEL_KINDS:
                continue
            kinds.add(kind)
    shared = bool(kinds & SHARED_KINDS) or rng.random() < 0.75
    if not shared:
        kinds -= SHARED_KINDS
    group = SHARED[processes] if shared else (SQLITE,)

    fail = next((str(kind) for kind in KINDS if kind in MODEL_KINDS and kind in kinds), None)
    tool = bool(kinds & TOOL_KINDS) or rng.random() < 0.3
    model = draw_model(rng, fail=fail, parts=tool or rng.random() < 0.4, tool=tool)
    duration = model.duration
    driver_process = rng.choice(group)
    driven = not (FaultKind.DRIVER_LEAVES in kinds and rng.random() < 0.2)
    if not driven:
        kinds -= TOOL_KINDS  # nothing is generated: no tool runs

    subscribers: list[SubscriberPlan] = []
    if driven:
        join_at = rng.uniform(0, 0.2)
        leave_at = join_at + rng.uniform(0.0, duration * 1.1) if FaultKind.DRIVER_LEAVES in kinds else None
        subscribers.append(
            SubscriberPlan(
                "driver", True, driver_process, rng.choice(TRANSPORTS), join_at, resume=_resume(rng), leave_at=leave_at
            )
        )
    observer_count = rng.randint(2, 5) if FaultKind.OBSERVERS in kinds else rng.randint(0 if driven else 1, 2)
    for number in range(1, observer_count + 1):
        subscribers.append(_observer(rng, number, group, model, duration, FaultKind.OBSERVERS in kinds))
    if FaultKind.SLOW_CLIENT in kinds and subscribers:
        slow = rng.randrange(len(subscribers))
        pause_at = subscribers[slow].join_at + rng.uniform(0, duration * 0.8)
        subscribers[slow] = replace(subscribers[slow], pause_at=pause_at, pause_for=rng.uniform(1.0, 4.0))
    begin, end = model.tool_window
    if FaultKind.CUT_DURING_TOOL in kinds and subscribers:
        cut = rng.randrange(len(subscribers))
        subscribers[cut] = replace(subscribers[cut], leave_at=None, cut_at=rng.uniform(begin, end) + 0.1)

    actions: list[ActionPlan] = []
    others = [p for p in group if p != driver_process] or [driver_process]
    if FaultKind.CANCEL_SAME_PROCESS in kinds:
        actions.append(ActionPlan(FaultKind.CANCEL_SAME_PROCESS, rng.uniform(0, duration * 1.1), driver_process))
    if FaultKind.CANCEL_OTHER_PROCESS in kinds:
        target = rng.choice(others)
        actions.append(ActionPlan(FaultKind.CANCEL_OTHER_PROCESS, rng.uniform(0, duration * 1.1), target))
    if FaultKind.CANCEL_DURING_TOOL in kinds and model.tool is not None:
        # From any process, while the tool runs (after its call streamed), plus the time the answer takes to start.
        at = rng.uniform(end - model.tool.seconds, end) + 0.1
        actions.append(ActionPlan(FaultKind.CANCEL_DURING_TOOL, at, rng.choice(group)))
    if FaultKind.REDIS_RESTART in kinds:
        actions.append(ActionPlan(FaultKind.REDIS_RESTART, rng.uniform(0, duration), duration=rng.uniform(0.3, 2.0)))
    if FaultKind.PG_CUT in kinds:
        actions.append(ActionPlan(FaultKind.PG_CUT, rng.uniform(0, duration), duration=rng.uniform(0.2, 1.5)))
    if FaultKind.SIGKILL in kinds:
        target = "driver" if rng.random() < 0.8 else rng.choice(group)
        actions.append(ActionPlan(FaultKind.SIGKILL, rng.uniform(0.05, duration * 0.9), target))
    branch = rng.choice(("regenerate", "edit")) if FaultKind.BRANCH in kinds else None
    return RunPlan(
        seed, index, primary, frozenset(kinds), group, model, driven, tuple(subscribers), tuple(actions), branch
    )


def _resume(rng: random.Random) -> str:
    return "cursor" if rng.random() < 0.5 else "offset"


def _observer(
    rng: random.Random, number: int, group: tuple[str, ...], model: ModelPlan, duration: float, leaves: bool
) -> SubscriberPlan:
    roll = rng.random()
    start: tuple[str, int]
    if roll < 0.25:
        start = ("zero", 0)
    elif roll < 0.5:
        start = ("cursor", 0)
    elif roll < 0.8:
        start = ("at", rng.randint(0, len(model.text)))
    else:
        start = ("beyond", rng.randint(1, 30))
    join_at = rng.uniform(0, duration * 1.3 + 0.3)
    leave_at = join_at + rng.uniform(0, duration) if leaves and rng.random() < 0.15 else None
    return SubscriberPlan(
        f"observer-{number}",
        False,
        rng.choice(group),
        rng.choice(TRANSPORTS),
        join_at,
        start=start,
        resume="cursor" if start[0] == "cursor" else _resume(rng),
        leave_at=leave_at,
    )
