"""Render a stream event once per distinct selection, however many subscribers wait for it.

A feed (engine/feed.py) gives every caught-up observer of a stream the very same StreamEvent object. graphql-core
would still execute each subscriber's selection set on it, and the transport would encode each result, once per
subscriber per event. Here:
- `SharedEventExecutor` (Strawberry's `execution_context_class`) memoises the per-event result of a subscription
  whose event is a StreamEvent, keyed by the event object and the subscriber's selection: (document text,
  operation name, variables). StreamEvent's fields read the event alone (its attributes, and `parts`, `cursor`
  and `usage` made from it: no resolver depends on who asks), so two subscribers with the same key and the same
  event object get equal results; anything else (another document, other variables, an event made for one
  observer) executes as before. Results with errors are never shared.
- `shared_payload_json` gives the JSON text of a transport payload `{"data": <a shared result's data>}`, encoded
  once; the view splices it into each subscriber's frame, so only the operation id differs between them.
Both caches are small and bounded: a shared event is wanted by its subscribers within moments of its making.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Awaitable
from contextvars import ContextVar
from typing import Any

from graphql import ExecutionResult, OperationType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from persistream.engine.events import StreamEvent

# Distinct (event, selection) results kept (each holds its event): a few per live stream are all that is ever reused.
CACHE_SIZE = 1024

SelectionKey = tuple[str, str | None, str]


class _Results:
    """(id of event, selection) -> (event, result); holding the event keeps its id from being reused."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[tuple[int, SelectionKey], tuple[StreamEvent, ExecutionResult]] = OrderedDict()
        self._size = size
        # id of a shared result's data -> (data, its JSON text once encoded)
        self._payloads: OrderedDict[int, tuple[Any, str | None]] = OrderedDict()

    def get(self, event: StreamEvent, key: SelectionKey) -> ExecutionResult | None:
        found = self._items.get((id(event), key))
        if found is None or found[0] is not event:
            return None
        return found[1]

    def put(self, event: StreamEvent, key: SelectionKey, result: ExecutionResult) -> None:
        self._items[(id(event), key)] = (event, result)
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        if result.data is not None:
            self._payloads[id(result.data)] = (result.data, None)
            if len(self._payloads) > self._size:
                self._payloads.popitem(last=False)

    def payload_json(self, payload: object) -> str | None:
        if type(payload) is not dict or len(payload) != 1 or "data" not in payload:
            return None
        data = payload["data"]
        found = self._payloads.get(id(data))
        if found is None or found[0] is not data:
            return None
        if found[1] is None:
            encoded = json.dumps(payload, separators=(",", ":"))
            self._payloads[id(data)] = (data, encoded)
            return encoded
        return found[1]


_results = _Results(CACHE_SIZE)
renders = {"executed": 0, "shared": 0}  # counts for tests and benchmarks: how often each path ran


def shared_payload_json(payload: object) -> str | None:
    """The JSON text of a `next`/`data` payload holding a shared result, encoded once; None for any other."""
    return _results.payload_json(payload)


def payload_json_of(result: ExecutionResult) -> str:
    """The JSON text of the payload `{"data": ...}` of an error-free result: encoded once when it is shared."""
    payload = {"data": result.data}
    return _results.payload_json(payload) or json.dumps(payload, separators=(",", ":"))


# The executor built for the subscription running in this task (direct.py renders its events with it).
current_executor: ContextVar[SharedEventExecutor | None] = ContextVar("persistream_executor", default=None)


class SharedEventExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, reusing one per-event result among subscribers of the same selection."""

    _selection: SelectionKey | None
    _selection_known = False

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        built = super().build(*args, **kwargs)
        # graphql-core builds a subscription's executor in the operation's task, then calls its resolver there:
        # the resolver finds the executor here (direct.py). Other operations are not named.
        if isinstance(built, SharedEventExecutor) and built.operation.operation == OperationType.SUBSCRIPTION:
            current_executor.set(built)
        return built

    def build_per_event_executor(self, payload: Any) -> Any:
        if not self._selection_known:  # once per subscription, on the executor its per-event copies share
            self._selection = _selection_of(self)
            self._selection_known = True
        if self._selection is not None and type(payload) is StreamEvent:
            cached = _results.get(payload, self._selection)
            if cached is not None:  # no per-event copy of the executor at all: the result is known
                renders["shared"] += 1
                return _Known(cached)
        return super().build_per_event_executor(payload)

    def execute_operation(self, serially: bool | None = None) -> Any:
        event = self.root_value
        key = getattr(self, "_selection", None)
        if key is None or type(event) is not StreamEvent or self.operation.operation != OperationType.SUBSCRIPTION:
            return super().execute_operation(serially)
        cached = _results.get(event, key)
        if cached is not None:
            renders["shared"] += 1
            return cached
        renders["executed"] += 1
        result = super().execute_operation(serially)
        if self.is_awaitable(result):
            return self._keep_later(event, key, result)
        self._keep(event, key, result)
        return result

    async def _keep_later(self, event: StreamEvent, key: SelectionKey, result: Awaitable[Any]) -> Any:
        done = await result
        self._keep(event, key, done)
        return done

    @staticmethod
    def _keep(event: StreamEvent, key: SelectionKey, result: Any) -> None:
        if isinstance(result, ExecutionResult) and not result.errors:
            _results.put(event, key, result)


class _Known:
    """Stands in for a per-event executor whose result another subscriber's execution already made."""

    __slots__ = ("result",)

    def __init__(self, result: ExecutionResult) -> None:
        self.result = result

    def execute_operation(self, serially: bool | None = None) -> ExecutionResult:
        return self.result


def _selection_of(executor: StrawberryGraphQLCoreExecutionContext) -> SelectionKey | None:
    """What decides a subscriber's result besides the event: its document, operation and variables."""
    operation = executor.operation
    if operation.loc is None:
        return None  # no document text to compare: never share
    variables = getattr(executor.variable_values, "coerced", executor.variable_values)
    try:
        encoded = json.dumps(variables, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    name = operation.name.value if operation.name is not None else None
    return operation.loc.source.body, name, encoded
