"""The endpoint configuration of the LLM blocks."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LLMConfig:
    """Where the LLM blocks send their calls.

    ``base_url`` is an OpenAI-style base (``https://api.openai.com/v1``,
    ``http://localhost:11434/v1``...). ``provider_base_urls`` /
    ``provider_api_keys`` override the endpoint for the models of one
    provider (keys: ``openai``, ``anthropic``, ``ollama``, ``open_router``...).
    ``model_override``, when set, is the model name sent for every call (run
    AutoGPT agents against one local model); otherwise the node's model id is
    sent as is.
    """

    base_url: str
    api_key: str | None
    timeout_seconds: float = 120.0
    provider_base_urls: dict[str, str] = field(default_factory=dict)
    provider_api_keys: dict[str, str] = field(default_factory=dict)
    model_override: str | None = None

    def endpoint_for(self, provider: str) -> tuple[str, str | None]:
        """The ``(base_url, api_key)`` for a model of this provider."""
        base_url = self.provider_base_urls.get(provider, self.base_url)
        api_key = self.provider_api_keys.get(provider, self.api_key)
        return base_url, api_key
