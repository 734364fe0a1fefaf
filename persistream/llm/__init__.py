"""Where answers come from: persistream's providers, chosen by name (`demo`, `openai`), or your own generator, named
by an import string (`PERSISTREAM_PROVIDER=package.module:attribute`, llm/generators.py).

Every provider streams text (`ChatModel.stream`) and parts (`PartsModel.stream_parts`, the events of
persistream/parts.py); the tool loop (`llm/tool_loop.py`) and tools from plain functions (`llm/tools.py`) are
imported from their own modules, so a server without tools does not load them."""

from __future__ import annotations

from persistream.config import ConfigError, Settings
from persistream.llm.base import BuiltInModel, ChatMessage, ChatModel, ModelError, PartsModel, ToolCall
from persistream.llm.demo import DemoModel

BUILT_IN_PROVIDERS = ("openai", "demo")


def create_model(settings: Settings) -> ChatModel:
    """The generator PERSISTREAM_PROVIDER names; ConfigError, naming the variable, when an import string names
    something that cannot be loaded or is not a generator."""
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
    if settings.provider == "demo":
        return DemoModel(token_delay=settings.demo_token_delay)
    from persistream.llm.generators import load_generator

    try:
        return load_generator(settings.provider, settings)
    except ValueError as exc:
        raise ConfigError(f"PERSISTREAM_PROVIDER={settings.provider} cannot be used: {exc}") from None


__all__ = [
    "BUILT_IN_PROVIDERS",
    "BuiltInModel",
    "ChatMessage",
    "ChatModel",
    "DemoModel",
    "ModelError",
    "PartsModel",
    "ToolCall",
    "create_model",
]
