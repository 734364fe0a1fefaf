"""Chat model providers, chosen by name (`demo`, `openai`)."""

from __future__ import annotations

from persistream.config import Settings
from persistream.llm.base import ChatMessage, ChatModel, ModelError
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


__all__ = ["ChatMessage", "ChatModel", "DemoModel", "ModelError", "create_model"]
