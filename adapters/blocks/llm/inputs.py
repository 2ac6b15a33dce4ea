"""The input pins the LLM blocks share, declared once.

Every LLM block's ``Input`` derives from ``LLMInput`` (model, credentials,
max_tokens, ollama_host); the blocks that fill a prompt template derive from
``PromptedLLMInput``, which adds the system prompt, the prompt values and the
retry count. A block redeclares a shared pin only where AutoGPT words or types
it differently.

Pydantic lists inherited fields first, but AutoGPT's builder shows pins in
schema order, so each block's ``Input`` names the order of its pins in
``pin_order`` and its JSON Schema follows it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, ConfigDict

from adapters.blocks.llm.catalogue import DEFAULT_LLM_MODEL, LlmModel
from adapters.blocks.llm.credentials import AICredentials, AICredentialsField
from domain.blocks.base import BlockSchemaInput, SchemaField


def _stringify_values(value: Any) -> Any:
    # prompt_values is dict[str, str]; values linked from other blocks may be
    # numbers, lists or dicts: turn them into text instead of failing the node.
    if isinstance(value, dict):
        return {
            str(k): v if isinstance(v, str) else json.dumps(v) if isinstance(v, list | dict) else str(v)
            for k, v in value.items()
        }
    return value


PromptValues = Annotated[dict[str, str], BeforeValidator(_stringify_values)]
"""``dict[str, str]`` that turns non-text values into text instead of failing."""


def llm_model_field(description: str, *, advanced: bool = False) -> Any:
    """The ``model`` pin: which model answers, AutoGPT's default preselected."""
    return SchemaField(DEFAULT_LLM_MODEL, title="LLM Model", description=description, advanced=advanced)


def force_json_output_field() -> Any:
    """The ``force_json_output`` pin of the blocks that ask for JSON."""
    return SchemaField(
        False,
        title="Restrict LLM to pure JSON output",
        description="Whether to force the LLM to produce a JSON-only response. This can increase the "
        "block's reliability, but may also reduce the quality of the response because it prohibits the "
        "LLM from reasoning before providing its JSON response.",
    )


def _schema_in_pin_order(schema: dict[str, Any], model: type[Any]) -> None:
    order: tuple[str, ...] = model.pin_order
    if not order:
        return
    properties = schema["properties"]
    schema["properties"] = {name: properties[name] for name in order}
    if "required" in schema:
        required = set(schema["required"])
        schema["required"] = [name for name in order if name in required]


class LLMInput(BlockSchemaInput):
    """The pins of every LLM block: the model, its credentials, the answer's length, the Ollama host."""

    model_config = ConfigDict(json_schema_extra=_schema_in_pin_order)

    pin_order: ClassVar[tuple[str, ...]] = ()
    """The pins in the order the builder shows them; empty: declaration order (inherited pins first)."""

    model: LlmModel = llm_model_field("The language model to use for answering the prompt.")
    credentials: AICredentials | None = AICredentialsField()
    max_tokens: int | None = SchemaField(
        None,
        advanced=True,
        description="The maximum number of tokens to generate in the chat completion.",
    )
    ollama_host: str = SchemaField(
        "localhost:11434",
        advanced=True,
        description="Ollama host for local  models",
    )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # A pin added without a place in pin_order would vanish from the schema: fail at import instead.
        if cls.pin_order and sorted(cls.pin_order) != sorted(cls.model_fields):
            raise TypeError(
                f"{cls.__qualname__}.pin_order {cls.pin_order} does not name its pins {tuple(cls.model_fields)}"
            )

    def pins_of(self, schema: type[LLMInput]) -> dict[str, Any]:
        """This input's values of the pins ``schema`` declares, to hand them on to another block."""
        return {name: getattr(self, name) for name in schema.model_fields}


class PromptedLLMInput(LLMInput):
    """The pins of the blocks that fill a prompt template: system prompt, prompt values, retries."""

    sys_prompt: str = SchemaField(
        "",
        title="System Prompt",
        description="The system prompt to provide additional context to the model.",
    )
    retry: int = SchemaField(
        3,
        title="Retry Count",
        description="Number of times to retry the LLM call if the response does not match the expected format.",
    )
    prompt_values: PromptValues = SchemaField(
        default_factory=dict,
        advanced=False,
        description="Values used to fill in the prompt. The values can be used in the prompt by putting "
        "them in a double curly braces, e.g. {{variable_name}}.",
    )
