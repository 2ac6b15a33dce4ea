"""AIConversationBlock: continues a multi-turn conversation."""

from __future__ import annotations

from typing import Any, ClassVar, cast

from adapters.blocks.llm.catalogue import LlmModel
from adapters.blocks.llm.inputs import LLMInput, llm_model_field
from adapters.blocks.llm.structured import AIStructuredResponseGeneratorBlock, DelegatingLLMBlock
from domain.blocks.base import BlockCategory, BlockOutput, BlockSchemaOutput, RunContext, SchemaField


class AIConversationBlock(DelegatingLLMBlock):
    """Continues a multi-turn conversation."""

    id = "32a87eab-381e-4dd4-bdb8-4c47151be35a"
    description = (
        "A block that facilitates multi-turn conversations with a Large Language Model (LLM), maintaining "
        "context across message exchanges."
    )
    categories = frozenset({BlockCategory.AI})

    class Input(LLMInput):
        pin_order: ClassVar[tuple[str, ...]] = (
            "prompt",
            "messages",
            "model",
            "credentials",
            "max_tokens",
            "ollama_host",
        )

        prompt: str = SchemaField(
            "",
            description="The prompt to send to the language model.",
            placeholder="Enter your prompt here...",
            advanced=False,
        )
        messages: list[Any] = SchemaField(description="List of messages in the conversation.")
        model: LlmModel = llm_model_field("The language model to use for the conversation.")

    class Output(BlockSchemaOutput):
        response: str = SchemaField(description="The model's response to the conversation.")
        prompt: list[Any] = SchemaField(description="The prompt sent to the language model.")

    async def run(self, input_data: Any, context: RunContext) -> BlockOutput:
        data = cast(AIConversationBlock.Input, input_data)
        has_messages = any(
            isinstance(m, dict) and isinstance(m.get("content"), str) and m["content"].strip()
            for m in data.messages or []
        )
        if not has_messages and not data.prompt.strip():
            raise ValueError(
                "Cannot call LLM with no messages and no prompt. Provide at least one message or a non-empty prompt."
            )
        response, sent = await self.generator.generate(
            AIStructuredResponseGeneratorBlock.Input(
                prompt=data.prompt,
                conversation_history=data.messages,
                expected_format={},
                **data.pins_of(LLMInput),
            ),
            context,
        )
        yield "response", response["response"]
        yield "prompt", sent
