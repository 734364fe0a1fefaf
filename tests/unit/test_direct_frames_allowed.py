"""Which schemas may write subscription events straight to the socket (persistream/resolvers/direct.py): not one
whose extensions add results or read every streamed result, since a direct frame would skip them."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.extensions.tracing import ApolloTracingExtension

from persistream.resolvers.direct import direct_frames_allowed
from persistream.schema import build_schema


class Results(SchemaExtension):
    def get_results(self) -> dict[str, Any]:
        return {"cost": 1}


class EveryResult(SchemaExtension):
    def on_stream_result(self, result: Any) -> Iterator[None]:  # type: ignore[override]
        yield None


class OnExecute(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        yield None


def test_default_schema_writes_directly() -> None:
    assert build_schema().direct_frames is True
    assert build_schema(extensions=[OnExecute]).direct_frames is True


def test_extensions_that_read_results_keep_strawberrys_path() -> None:
    for extension in (Results, EveryResult, ApolloTracingExtension, partial(Results)):
        assert direct_frames_allowed([extension]) is False, extension
        assert build_schema(extensions=[extension]).direct_frames is False
    assert direct_frames_allowed([Results()]) is False
    # A factory that is not a class (a lambda) cannot be looked into: Strawberry's path, to be safe.
    assert direct_frames_allowed([lambda: OnExecute()]) is False
    # Masking reads every result, but only for its errors: a direct frame has none.
    assert direct_frames_allowed([MaskErrors, partial(MaskErrors, should_mask_error=lambda e: True)]) is True
    assert direct_frames_allowed([object]) is False
