"""A run's random plan, drawn only from its own seed: what the model answers, who subscribes where and when, and
which faults strike at which moments. Nothing here touches a server; replaying a seed redraws the same plan."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

from tests.support.fake_openai import Script


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


KINDS = tuple(FaultKind)
# Faults of the whole cluster: they strike every run going on at the time on the servers they hit (a Redis
# restart or a PostgreSQL cut: every run on A and B; a SIGKILL: every run on the killed process's database).
CLUSTER_KINDS = frozenset({FaultKind.REDIS_RESTART, FaultKind.PG_CUT, FaultKind.SIGKILL})
# Faults that need two processes sharing a database (the SQLite server is alone). A SIGKILL is not one of them:
# killing C, the stream is ended by C's own sweeper once C is started again.
PAIR_KINDS = frozenset({FaultKind.REDIS_RESTART, FaultKind.PG_CUT, FaultKind.CANCEL_OTHER_PROCESS})
# What the model does wrong: one script per run, so at most one of these.
MODEL_KINDS = frozenset({FaultKind.MODEL_ERROR, FaultKind.MODEL_FAIL, FaultKind.MODEL_DROP, FaultKind.MODEL_HANG})
CANCEL_KINDS = frozenset({FaultKind.CANCEL_SAME_PROCESS, FaultKind.CANCEL_OTHER_PROCESS})

TRANSPORTS = ("ws", "ws-legacy", "sse", "multipart")
PAIR = ("A", "B")
SQLITE = "C"

# Words of the scripted answers: several scripts, multi-code-point characters, sentence and line ends (which cut
# chunks), so an offset counted in bytes or UTF-16 units, a lost or doubled chunk, shows in the text.
WORDS = (
    "alpha",
    "beta",
    "größe",
    "naïve",
    "café",
    "中文",
    "日本語",
    "😀",
    "🚀x",
    "Ω",
    "—",
    "tab\tbed",
    "line\n",
    "end.",
)


@dataclass(frozen=True)
class ModelPlan:
    tokens: tuple[str, ...]
    delay: float
    fail_status: int | None = None
    error_after: int | None = None
    drop_after: int | None = None
    hang_after: int | None = None

    @property
    def text(self) -> str:
        """The whole answer, as a model that never fails would send it."""
        return "".join(self.tokens)

    @property
    def duration(self) -> float:
        """About how long the answer takes to stream, in seconds (for placing faults along it)."""
        return max(0.2, len(self.tokens) * self.delay)

    @property
    def fails(self) -> bool:
        return any(v is not None for v in (self.fail_status, self.error_after, self.drop_after))

    def script(self) -> Script:
        return Script(
            list(self.tokens),
            delay=self.delay,
            fail_status=self.fail_status,
            error_after=self.error_after,
            hang_after=self.hang_after,
            drop_after=self.drop_after,
        )


@dataclass(frozen=True)
class SubscriberPlan:
    name: str
    driver: bool
    process: str
    transport: str
    # Seconds after the message was sent.
    join_at: float
    # Observers: where they start. ("zero", 0), ("at", k) a fixed offset, ("beyond", k) k past the stored length
    # when it joins (what a driver resuming past text never stored sends).
    start: tuple[str, int] = ("zero", 0)
    # Leaves on purpose this many seconds after the message was sent (None: follows to the end).
    leave_at: float | None = None
    # A slow client: stops reading at `pause_at` for `pause_for` seconds, then reads on.
    pause_at: float | None = None
    pause_for: float = 0.0


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
    pair: bool
    model: ModelPlan
    # Whether anyone drives the stream; not driven, it must end TIMEOUT after the pending timeout.
    driven: bool
    subscribers: tuple[SubscriberPlan, ...]
    actions: tuple[ActionPlan, ...] = field(default=())

    @property
    def processes(self) -> tuple[str, ...]:
        return PAIR if self.pair else (SQLITE,)

    def describe(self) -> str:
        model = self.model
        faults = ", ".join(sorted(self.kinds))
        extra = [
            f"{name}={value}"
            for name, value in (
                ("fail_status", model.fail_status),
                ("error_after", model.error_after),
                ("drop_after", model.drop_after),
                ("hang_after", model.hang_after),
            )
            if value is not None
        ]
        return (
            f"run {self.index} (seed {self.seed}) on {'A+B (PostgreSQL, Redis)' if self.pair else 'C (SQLite)'}: "
            f"faults {faults}; model {len(model.tokens)} tokens every {model.delay * 1000:.0f} ms "
            f"{' '.join(extra)}; driven={self.driven}"
        )


def run_seed(seed: int, index: int) -> str:
    """The seed a run's plan is drawn from: (command seed, run index) alone, whatever ran before or beside it."""
    return f"{seed}:{index}"


def draw_plan(seed: int, index: int) -> RunPlan:
    rng = random.Random(run_seed(seed, index))
    primary = KINDS[index % len(KINDS)]  # round-robin: a short run covers every kind
    kinds = {primary}
    for kind in KINDS:
        chance = 0.04 if kind in CLUSTER_KINDS else 0.12
        if kind not in kinds and rng.random() < chance:
            if kind in MODEL_KINDS and kinds & MODEL_KINDS:
                continue
            kinds.add(kind)
    pair = bool(kinds & PAIR_KINDS) or rng.random() < 0.65
    if not pair:
        kinds -= PAIR_KINDS

    model = _draw_model(rng, kinds)
    duration = model.duration
    processes = PAIR if pair else (SQLITE,)
    driver_process = rng.choice(processes)
    driven = not (FaultKind.DRIVER_LEAVES in kinds and rng.random() < 0.2)

    subscribers: list[SubscriberPlan] = []
    if driven:
        join_at = rng.uniform(0, 0.2)
        leave_at = join_at + rng.uniform(0.0, duration * 1.1) if FaultKind.DRIVER_LEAVES in kinds else None
        subscribers.append(
            SubscriberPlan("driver", True, driver_process, rng.choice(TRANSPORTS), join_at, leave_at=leave_at)
        )
    observer_count = rng.randint(2, 5) if FaultKind.OBSERVERS in kinds else rng.randint(0 if driven else 1, 2)
    for number in range(1, observer_count + 1):
        roll = rng.random()
        start: tuple[str, int]
        if roll < 0.3:
            start = ("zero", 0)
        elif roll < 0.75:
            start = ("at", rng.randint(0, len(model.text)))
        else:
            start = ("beyond", rng.randint(1, 30))
        leave_at = None
        join_at = rng.uniform(0, duration * 1.3 + 0.3)
        if FaultKind.OBSERVERS in kinds and rng.random() < 0.15:
            leave_at = join_at + rng.uniform(0, duration)
        subscribers.append(
            SubscriberPlan(
                f"observer-{number}",
                False,
                rng.choice(processes),
                rng.choice(TRANSPORTS),
                join_at,
                start=start,
                leave_at=leave_at,
            )
        )
    if FaultKind.SLOW_CLIENT in kinds and subscribers:
        slow = rng.randrange(len(subscribers))
        chosen = subscribers[slow]
        subscribers[slow] = SubscriberPlan(
            chosen.name,
            chosen.driver,
            chosen.process,
            chosen.transport,
            chosen.join_at,
            start=chosen.start,
            leave_at=chosen.leave_at,
            pause_at=chosen.join_at + rng.uniform(0, duration * 0.8),
            pause_for=rng.uniform(1.0, 4.0),
        )

    actions: list[ActionPlan] = []
    other = {"A": "B", "B": "A"}
    if FaultKind.CANCEL_SAME_PROCESS in kinds:
        actions.append(ActionPlan(FaultKind.CANCEL_SAME_PROCESS, rng.uniform(0, duration * 1.1), driver_process))
    if FaultKind.CANCEL_OTHER_PROCESS in kinds:
        target = other.get(driver_process, driver_process)
        actions.append(ActionPlan(FaultKind.CANCEL_OTHER_PROCESS, rng.uniform(0, duration * 1.1), target))
    if FaultKind.REDIS_RESTART in kinds:
        actions.append(ActionPlan(FaultKind.REDIS_RESTART, rng.uniform(0, duration), duration=rng.uniform(0.3, 2.0)))
    if FaultKind.PG_CUT in kinds:
        actions.append(ActionPlan(FaultKind.PG_CUT, rng.uniform(0, duration), duration=rng.uniform(0.2, 1.5)))
    if FaultKind.SIGKILL in kinds:
        target = "driver" if rng.random() < 0.8 else rng.choice(processes)
        actions.append(ActionPlan(FaultKind.SIGKILL, rng.uniform(0.05, duration * 0.9), target))
    return RunPlan(seed, index, primary, frozenset(kinds), pair, model, driven, tuple(subscribers), tuple(actions))


def _draw_model(rng: random.Random, kinds: set[FaultKind]) -> ModelPlan:
    count = rng.randint(8, 80)
    tokens = []
    for i in range(count):
        word = rng.choice(WORDS)
        tokens.append(f" {word}{i}" if not word.endswith(("\n", ".")) else f" {i}{word}")
    delay = rng.uniform(0.01, 0.05)
    if FaultKind.MODEL_FAIL in kinds:
        return ModelPlan(tuple(tokens), delay, fail_status=500)
    if FaultKind.MODEL_ERROR in kinds:
        return ModelPlan(tuple(tokens), delay, error_after=rng.randint(0, count - 1))
    if FaultKind.MODEL_DROP in kinds:
        return ModelPlan(tuple(tokens), delay, drop_after=rng.randint(1, count - 1))
    if FaultKind.MODEL_HANG in kinds:
        return ModelPlan(tuple(tokens), delay, hang_after=rng.randint(0, count - 1))
    return ModelPlan(tuple(tokens), delay)
