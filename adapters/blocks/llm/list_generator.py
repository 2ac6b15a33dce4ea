"""AIListGeneratorBlock: generates a list of strings from a focus and optional source data."""

from __future__ import annotations

from typing import Any, ClassVar, cast

from pydantic import Field

from adapters.blocks.llm.catalogue import LlmModel
from adapters.blocks.llm.inputs import LLMInput, force_json_output_field, llm_model_field
from adapters.blocks.llm.structured import AIStructuredResponseGeneratorBlock, DelegatingLLMBlock
from domain.blocks.base import BlockCategory, BlockOutput, BlockSchemaOutput, RunContext, SchemaField


class AIListGeneratorBlock(DelegatingLLMBlock):
    """Generates a list of strings from a focus and optional source data."""

    id = "9c0b0450-d199-458b-a731-072189dd6593"
    description = (
        "A block that creates lists of items based on prompts using a Large Language Model (LLM), with "
        "optional source data for context."
    )
    categories = frozenset({BlockCategory.AI, BlockCategory.TEXT})

    SYSTEM_PROMPT: ClassVar[str] = (
        "You are a JSON array generator. Your task is to generate a JSON array of string values based on "
        "the user's prompt.\n\n"
        "The 'list' field should contain a JSON array with the generated string values.\n"
        "The array can contain ONLY strings.\n\n"
        "Valid JSON array formats include:\n"
        '• ["string1", "string2", "string3"]\n\n'
        "Ensure you provide a proper JSON array with only string values in the 'list' field."
    )

    class Input(LLMInput):
        pin_order: ClassVar[tuple[str, ...]] = (
            "focus",
            "source_data",
            "model",
            "credentials",
            "max_retries",
            "force_json_output",
            "max_tokens",
            "ollama_host",
        )

        focus: str | None = SchemaField(
            None,
            description="The focus of the list to generate.",
            placeholder="The top 5 most interesting news stories in the data.",
            advanced=False,
        )
        source_data: str | None = SchemaField(
            None,
            description="The data to generate the list from.",
            placeholder=(
                "News Today: Humans land on Mars: Today humans landed on mars. -- AI wins Nobel Prize: "
                "AI wins Nobel Prize for solving world hunger. -- New AI Model: A new AI model has been "
                "released."
            ),
            advanced=False,
        )
        model: LlmModel = llm_model_field("The language model to use for generating the list.", advanced=True)
        max_retries: int = Field(
            3,
            ge=1,
            le=5,
            description="Maximum number of retries for generating a valid list.",
            json_schema_extra={"advanced": False},
        )
        force_json_output: bool = force_json_output_field()

    class Output(BlockSchemaOutput):
        generated_list: list[str] = SchemaField(description="The generated list.")
        list_item: str = SchemaField(description="Each individual item in the list.")
        prompt: list[Any] = SchemaField(description="The prompt sent to the language model.")

    async def run(self, input_data: Any, context: RunContext) -> BlockOutput:
        data = cast(AIListGeneratorBlock.Input, input_data)
        expected_format = {"list": "A JSON array containing the generated string values"}
        if data.force_json_output:
            expected_format = {"reasoning": "... (optional)", **expected_format}

        if data.focus:
            prompt = f"Generate a list with the following focus:\n<focus>\n\n{data.focus}</focus>"
        elif data.source_data:
            prompt = (
                "Extract the main focus of the source data to a list.\n"
                "i.e if the source data is a news website, the focus would be the news stories rather than "
                "the social links in the footer."
            )
        else:
            prompt = "Generate a random list."
        if data.source_data:
            prompt += (
                "\n\nUse the following source data to generate the list from:\n\n"
                f"<source_data>\n\n{data.source_data}</source_data>\n\n"
                "Do not invent fictional data that is not present in the source data."
            )
        else:
            prompt += "\n\nInvent the data to generate the list from."

        response, sent = await self.generator.generate(
            AIStructuredResponseGeneratorBlock.Input(
                sys_prompt=self.SYSTEM_PROMPT,
                prompt=prompt,
                expected_format=expected_format,
                force_json_output=data.force_json_output,
                retry=data.max_retries,
                **data.pins_of(LLMInput),
            ),
            context,
        )
        items = response["list"] if isinstance(response, dict) and "list" in response else response
        if not isinstance(items, list):
            raise ValueError(f"Expected a list, but got {type(items).__name__}: {items}")
        yield "generated_list", items
        yield "prompt", sent
        for item in items:
            yield "list_item", item
