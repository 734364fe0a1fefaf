"""The chat layer: threads of prompts whose answers are the engine's streams, and who may read or change them
(identities, access, limits, sharing, retention)."""

from persistream.chat.service import ChatService
from persistream.chat.views import MessageView, ShareView, ThreadView

__all__ = ["ChatService", "MessageView", "ShareView", "ThreadView"]
