"""The ``credentials`` pin of the LLM blocks: a reference to stored credentials.

Secrets never travel through node inputs; the pin only names stored
credentials (``{id, provider, type, title}``).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from adapters.blocks.llm.catalogue import LlmModel

LLMProviderName = Literal["aiml_api", "anthropic", "groq", "ollama", "openai", "open_router", "llama_api", "v0"]
LLM_PROVIDERS: tuple[str, ...] = get_args(LLMProviderName)


class AICredentials(BaseModel):
    """A reference to stored LLM credentials: it names them, it never holds the secret."""

    model_config = ConfigDict(
        title="AICredentials",
        json_schema_extra={"credentials_provider": list(LLM_PROVIDERS), "credentials_types": ["api_key"]},
    )

    id: str
    title: str | None = None
    provider: LLMProviderName
    type: Literal["api_key"]


def _credentials_schema(schema: dict[str, Any]) -> None:
    # The pin is nullable at run time (no credentials: use the configured
    # endpoint), but its schema stays the plain credentials object AutoGPT's UI
    # and the graph's credentials_input_schema expect.
    branches = schema.pop("anyOf", None)
    if isinstance(branches, list):
        schema.update(next(b for b in branches if b.get("type") != "null"))
    schema["discriminator"] = "model"
    schema["discriminator_mapping"] = {model.value: model.provider for model in LlmModel}


def AICredentialsField() -> Any:  # noqa: N802 - reads like AutoGPT's field factory
    """The ``credentials`` pin of an LLM block (optional here: default None)."""
    return Field(
        None,
        description="API key for the LLM provider.",
        json_schema_extra=_credentials_schema,
    )
