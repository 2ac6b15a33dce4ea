"""AITextSummarizerBlock: summarizes long text chunk by chunk, then the summaries."""

from __future__ import annotations

import enum
import json
from typing import Any, ClassVar, cast

from pydantic import Field

from adapters.blocks.llm.catalogue import LlmModel
from adapters.blocks.llm.inputs import LLMInput, llm_model_field
from adapters.blocks.llm.structured import AIStructuredResponseGeneratorBlock, DelegatingLLMBlock
from domain.blocks.base import BlockCategory, BlockOutput, BlockSchemaOutput, RunContext, SchemaField


class SummaryStyle(enum.Enum):
    """AutoGPT's summary styles."""

    CONCISE = "concise"
    DETAILED = "detailed"
    BULLET_POINTS = "bullet points"
    NUMBERED_LIST = "numbered list"


class AITextSummarizerBlock(DelegatingLLMBlock):
    """Summarizes long text chunk by chunk, then combines the summaries."""

    id = "a0a69be1-4528-491c-a85a-a4ab6873e3f0"
    description = (
        "A block that summarizes long texts using a Large Language Model (LLM), with configurable focus "
        "topics and summary styles."
    )
    categories = frozenset({BlockCategory.AI, BlockCategory.TEXT})

    MAX_TEXT_LENGTH: ClassVar[int] = 1_000_000
    MAX_CHUNKS: ClassVar[int] = 100
    MAX_DEPTH: ClassVar[int] = 8

    class Input(LLMInput):
        pin_order: ClassVar[tuple[str, ...]] = (
            "text",
            "model",
            "focus",
            "style",
            "credentials",
            "max_tokens",
            "chunk_overlap",
            "ollama_host",
        )

        text: str = SchemaField(
            description="The text to summarize.",
            placeholder="Enter the text to summarize here...",
        )
        model: LlmModel = llm_model_field("The language model to use for summarizing the text.")
        focus: str = SchemaField(
            "general information",
            title="Focus",
            description="The topic to focus on in the summary",
        )
        style: SummaryStyle = SchemaField(
            SummaryStyle.CONCISE,
            title="Summary Style",
            description="The style of the summary to generate.",
        )
        # Not an answer limit here: the words of a chunk, and the most words the combined summaries may have.
        max_tokens: int = Field(
            4096,
            ge=1,
            title="Max Tokens",
            description="The maximum number of tokens to generate in the chat completion.",
            json_schema_extra={"advanced": False},
        )
        chunk_overlap: int = Field(
            100,
            ge=0,
            title="Chunk Overlap",
            description="The number of overlapping tokens between chunks to maintain context.",
            json_schema_extra={"advanced": False},
        )

    class Output(BlockSchemaOutput):
        summary: str = SchemaField(description="The final summary of the text.")
        prompt: list[Any] = SchemaField(description="The prompt sent to the language model.")

    async def run(self, input_data: Any, context: RunContext) -> BlockOutput:
        data = cast(AITextSummarizerBlock.Input, input_data)
        summary, prompt = await self._summarize(data.text, data, context, depth=0)
        yield "summary", summary
        yield "prompt", prompt

    @classmethod
    def split_text(cls, text: str, max_tokens: int, overlap: int) -> list[str]:
        """Word windows of ``max_tokens`` words, ``max_tokens - overlap`` apart.

        The text is capped at 1,000,000 characters and the result at 100
        chunks, as in AutoGPT.
        """
        text = text[: cls.MAX_TEXT_LENGTH]
        if overlap >= max_tokens:
            overlap = max(0, max_tokens - 1)
        step = max(1, max_tokens - overlap)
        words = text.split()
        return [" ".join(words[i : i + max_tokens]) for i in range(0, len(words), step)][: cls.MAX_CHUNKS]

    async def _summarize(
        self, text: str, data: Input, context: RunContext, depth: int
    ) -> tuple[str, list[dict[str, Any]]]:
        style = data.style.value
        summaries: list[str] = []
        for chunk in self.split_text(text, data.max_tokens, data.chunk_overlap):
            answer, _ = await self._ask(
                data,
                context,
                f"Summarize the following text in a {style} form. Focus your summary on the topic of "
                f"`{data.focus}` if present, otherwise just provide a general summary:\n\n```{chunk}```",
                "summary",
                "The summary of the given text.",
            )
            summaries.append(answer)

        combined = "\n\n".join(summaries)
        if len(combined.split()) <= data.max_tokens:
            return await self._ask(
                data,
                context,
                f"Provide a final summary of the following section summaries in a {style} form, focus your "
                f"summary on the topic of `{data.focus}` if present:\n\n ```{combined}```\n\n Just respond "
                "with the final_summary in the format specified.",
                "final_summary",
                "The final summary of all provided summaries.",
            )
        if depth >= self.MAX_DEPTH:
            # AutoGPT recurses without a bound; summaries that never get shorter would loop forever.
            raise ValueError(
                f"The chunk summaries are still longer than {data.max_tokens} words after {depth} rounds "
                "of summarizing; raise max_tokens."
            )
        # Odd but AutoGPT's: the recursive round uses the default focus and style.
        recursive = data.model_copy(
            update={
                "focus": type(data).model_fields["focus"].default,
                "style": type(data).model_fields["style"].default,
            }
        )
        return await self._summarize(combined, recursive, context, depth + 1)

    async def _ask(
        self, data: Input, context: RunContext, prompt: str, key: str, key_description: str
    ) -> tuple[str, list[dict[str, Any]]]:
        response, sent = await self.generator.generate(
            AIStructuredResponseGeneratorBlock.Input(
                prompt=prompt,
                credentials=data.credentials,
                model=data.model,
                expected_format={key: key_description},
            ),
            context,
        )
        value = response[key]
        if not isinstance(value, str):
            label = "summary" if key == "summary" else "final summary"
            raise ValueError(
                f"LLM generation failed: Expected a string {label}, but received {type(value).__name__}. "
                "The language model incorrectly formatted its response. "
                f"Received value: {json.dumps(value, default=str)[:500]}"
            )
        return value, sent
