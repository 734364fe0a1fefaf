"""Chat model providers, chosen by name (`demo`, `openai`).

Every provider streams text (`ChatModel.stream`) and parts (`PartsModel.stream_parts`, the events of
persistream/parts.py); the tool loop (`llm/tool_loop.py`) and tools from plain functions (`llm/tools.py`) are
imported from their own modules, so a server without tools does not load them."""

from __future__ import annotations

from persistream.config import Settings
from persistream.llm.base import ChatMessage, ChatModel, ModelError, PartsModel, ToolCall
from persistream.llm.demo import DemoModel


def create_model(settings: Settings) -> ChatModel:
    if settings.provider == "openai":
        from persistream.llm.openai import OpenAIModel

        return OpenAIModel(
            model=settings.model,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout,
            max_retries=settings.openai_max_retries,
            max_tokens=settings.max_answer_tokens,
        )
    return DemoModel(token_delay=settings.demo_token_delay)


__all__ = ["ChatMessage", "ChatModel", "DemoModel", "ModelError", "PartsModel", "ToolCall", "create_model"]
