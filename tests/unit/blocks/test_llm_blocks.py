"""The LLM blocks against a real local OpenAI-compatible server (tests.fakes.openai_server)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from adapters.blocks.llm import (
    DEFAULT_LLM_MODEL,
    AIConversationBlock,
    AIListGeneratorBlock,
    AIStructuredResponseGeneratorBlock,
    AITextGeneratorBlock,
    AITextSummarizerBlock,
    LLMConfig,
    LlmModel,
    llm_blocks,
)
from adapters.blocks.llm.inputs import LLMInput
from adapters.blocks.llm.json_output import json_from_response
from adapters.blocks.llm.messages import compress_messages
from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockExecutionError,
    BlockType,
    RunContext,
    SchemaField,
)
from tests.fakes.openai_server import (
    ChatRequest,
    FakeOpenAIServer,
    Reply,
    json_reply,
)
from tests.unit.blocks.outputs import collect_outputs

TEST_CREDENTIALS_INPUT = {
    "provider": "openai",
    "id": "769f6af7-820b-4d5d-9b7a-ab82bbc165f",
    "type": "api_key",
    "title": "Mock OpenAI API key",
}

PLANETS_SOURCE = (
    "Zylora Prime is a glowing jungle world with bioluminescent plants, while Kharon-9 is a harsh desert "
    "planet with underground cities. Vortexia's constant storms power floating cities, and Oceara is a "
    "water-covered world home to intelligent marine life. On icy Draknos, ancient ruins lie buried beneath "
    "its frozen landscape, drawing explorers to uncover its mysteries. Each planet showcases the limitless "
    "possibilities of fictional worlds."
)
PLANETS = ["Zylora Prime", "Kharon-9", "Vortexia", "Oceara", "Draknos"]
WORLD_SERIES_MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Who won the world series in 2020?"},
    {"role": "assistant", "content": "The Los Angeles Dodgers won the World Series in 2020."},
    {"role": "user", "content": "Where was it played?"},
]


class FixedTagStructuredBlock(AIStructuredResponseGeneratorBlock):
    """AutoGPT's test mocks the tag id to 'test123456'; so does this subclass."""

    def output_tag_id(self) -> str:
        return "test123456"


def config_for(server: FakeOpenAIServer, **overrides: Any) -> LLMConfig:
    return LLMConfig(base_url=server.base_url, api_key="sk-test", **overrides)


def assert_outputs(actual: list[tuple[str, Any]], expected: list[tuple[str, Any]]) -> None:
    """Pins in order; an expected value of ``list`` means "any list" (AutoGPT's type predicate)."""
    assert [pin for pin, _ in actual] == [pin for pin, _ in expected]
    for (pin, value), (_, wanted) in zip(actual, expected, strict=True):
        if wanted is list:
            assert isinstance(value, list), pin
        else:
            assert value == wanted, pin


def summary_reply(request: ChatRequest) -> str:
    """AutoGPT's summarizer mock: a final summary when asked for one, else a chunk summary."""
    if "final_summary" in (request.expected_format or {}):
        return request.wrap_json({"final_summary": "Final summary of a long text"})
    return request.wrap_json({"summary": "Summary of a chunk of text"})


# --- identity and pins ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block_cls", "block_id", "categories", "inputs", "required", "outputs"),
    [
        (
            AITextGeneratorBlock,
            "1f292d4a-41a4-4977-9684-7c8d560b9f91",
            {BlockCategory.AI},
            [
                "prompt",
                "model",
                "credentials",
                "sys_prompt",
                "retry",
                "prompt_values",
                "ollama_host",
                "max_tokens",
            ],
            {"prompt"},
            {"response", "prompt", "error"},
        ),
        (
            AIStructuredResponseGeneratorBlock,
            "ed55ac19-356e-4243-a6cb-bc599e9b716f",
            {BlockCategory.AI},
            [
                "prompt",
                "expected_format",
                "list_result",
                "model",
                "force_json_output",
                "credentials",
                "sys_prompt",
                "conversation_history",
                "retry",
                "prompt_values",
                "max_tokens",
                "compress_prompt_to_fit",
                "ollama_host",
            ],
            {"prompt", "expected_format"},
            {"response", "prompt", "error"},
        ),
        (
            AITextSummarizerBlock,
            "a0a69be1-4528-491c-a85a-a4ab6873e3f0",
            {BlockCategory.AI, BlockCategory.TEXT},
            ["text", "model", "focus", "style", "credentials", "max_tokens", "chunk_overlap", "ollama_host"],
            {"text"},
            {"summary", "prompt", "error"},
        ),
        (
            AIListGeneratorBlock,
            "9c0b0450-d199-458b-a731-072189dd6593",
            {BlockCategory.AI, BlockCategory.TEXT},
            [
                "focus",
                "source_data",
                "model",
                "credentials",
                "max_retries",
                "force_json_output",
                "max_tokens",
                "ollama_host",
            ],
            set(),
            {"generated_list", "list_item", "prompt", "error"},
        ),
        (
            AIConversationBlock,
            "32a87eab-381e-4dd4-bdb8-4c47151be35a",
            {BlockCategory.AI},
            ["prompt", "messages", "model", "credentials", "max_tokens", "ollama_host"],
            {"messages"},
            {"response", "prompt", "error"},
        ),
    ],
)
def test_identity_and_pins(
    block_cls: type[Block],
    block_id: str,
    categories: set[BlockCategory],
    inputs: list[str],
    required: set[str],
    outputs: set[str],
) -> None:
    assert block_cls.id == block_id
    assert block_cls.block_type == BlockType.STANDARD
    assert block_cls.static_output is False
    assert block_cls.categories == categories
    assert block_cls.input_pins() == set(inputs)
    # AutoGPT's builder shows the pins in schema order; this is AutoGPT's order
    assert list(block_cls.Input.jsonschema()["properties"]) == inputs
    # credentials is required in AutoGPT; here it is optional (the configured endpoint is used without it)
    assert block_cls.Input.required_fields() == required
    assert block_cls.output_pins() == outputs


def test_an_llm_input_that_leaves_a_pin_out_of_its_order_fails_when_defined() -> None:
    with pytest.raises(TypeError, match="pin_order"):

        class Input(LLMInput):
            pin_order: ClassVar[tuple[str, ...]] = ("text", "model", "credentials", "max_tokens")
            text: str = SchemaField(description="Some text.")


def test_llm_blocks_builds_the_five_blocks_with_the_config() -> None:
    config = LLMConfig(base_url="http://127.0.0.1:1/v1", api_key=None)
    blocks = llm_blocks(config)
    assert sorted(b.name() for b in blocks) == [
        "AIConversationBlock",
        "AIListGeneratorBlock",
        "AIStructuredResponseGeneratorBlock",
        "AITextGeneratorBlock",
        "AITextSummarizerBlock",
    ]
    assert len({b.id for b in blocks}) == 5
    assert all(getattr(b, "config", None) is config for b in blocks)


def test_model_enum_and_its_schema() -> None:
    assert len(LlmModel) == 108
    assert DEFAULT_LLM_MODEL.value == "gpt-5.2-2025-12-11"
    assert LlmModel("anthropic/claude-sonnet-4-6") is LlmModel.CLAUDE_4_6_SONNET  # provider prefix stripped
    with pytest.raises(ValueError):
        LlmModel("no-such-model")
    assert LlmModel.OLLAMA_LLAMA3_2.provider == "ollama"
    assert LlmModel.GEMINI_2_5_PRO.provider == "open_router"

    schema = AITextGeneratorBlock.Input.jsonschema()["properties"]["model"]
    assert schema["default"] == "gpt-5.2-2025-12-11"
    assert schema["title"] == "LLM Model"
    assert schema["llm_model"] is True
    assert schema["llm_model_metadata"]["gpt-4o"] == {
        "creator": "OpenAI",
        "creator_name": "OpenAI",
        "title": "GPT-4o",
        "provider": "openai",
        "provider_name": "OpenAI",
        "name": "gpt-4o",
        "price_tier": 2,
    }
    assert len(schema["enum"]) == 108


def test_credentials_pin_schema_is_autogpt_credentials_object() -> None:
    schema = AIStructuredResponseGeneratorBlock.Input.jsonschema()["properties"]["credentials"]
    assert schema["type"] == "object"
    assert schema["description"] == "API key for the LLM provider."
    assert schema["credentials_types"] == ["api_key"]
    assert set(schema["credentials_provider"]) == {
        "aiml_api",
        "anthropic",
        "groq",
        "ollama",
        "openai",
        "open_router",
        "llama_api",
        "v0",
    }
    assert set(schema["properties"]) == {"id", "title", "provider", "type"}
    assert schema["required"] == ["id", "provider", "type"]
    assert schema["discriminator"] == "model"
    assert schema["discriminator_mapping"]["gpt-5.2-2025-12-11"] == "openai"
    assert schema["discriminator_mapping"]["claude-sonnet-4-5-20250929"] == "anthropic"
    assert len(schema["discriminator_mapping"]) == 108


# --- AutoGPT's test vectors (their mocks become scripted answers) --------------------------------


async def test_text_generator_vector(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script("Response text")
    outputs = await collect_outputs(
        AITextGeneratorBlock(config_for(fake_openai)),
        {"prompt": "User prompt", "credentials": TEST_CREDENTIALS_INPUT},
    )
    assert_outputs(outputs, [("response", "Response text"), ("prompt", list)])
    assert outputs[1][1] == [{"role": "user", "content": "User prompt"}]
    assert fake_openai.requests[0].model == "gpt-5.2-2025-12-11"


async def test_structured_generator_vector(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script('<json_output id="test123456">{\n  "key1": "key1Value",\n  "key2": "key2Value"\n}</json_output>')
    outputs = await collect_outputs(
        FixedTagStructuredBlock(config_for(fake_openai)),
        {
            "model": DEFAULT_LLM_MODEL,
            "credentials": TEST_CREDENTIALS_INPUT,
            "expected_format": {"key1": "value1", "key2": "value2"},
            "prompt": "User prompt",
        },
    )
    assert_outputs(outputs, [("response", {"key1": "key1Value", "key2": "key2Value"}), ("prompt", list)])


async def test_summarizer_vector(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(summary_reply, summary_reply)
    outputs = await collect_outputs(
        AITextSummarizerBlock(config_for(fake_openai)),
        {"text": "Lorem ipsum..." * 100, "credentials": TEST_CREDENTIALS_INPUT},
    )
    assert_outputs(outputs, [("summary", "Final summary of a long text"), ("prompt", list)])
    # one chunk (101 words < 4096), then the combining call
    assert len(fake_openai.requests) == 2


async def test_list_generator_vector(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(json_reply({"list": PLANETS}))
    outputs = await collect_outputs(
        AIListGeneratorBlock(config_for(fake_openai)),
        {
            "focus": "planets",
            "source_data": PLANETS_SOURCE,
            "model": DEFAULT_LLM_MODEL,
            "credentials": TEST_CREDENTIALS_INPUT,
            "max_retries": 3,
            "force_json_output": False,
        },
    )
    assert_outputs(
        outputs,
        [("generated_list", PLANETS), ("prompt", list)] + [("list_item", planet) for planet in PLANETS],
    )


async def test_conversation_vector(fake_openai: FakeOpenAIServer) -> None:
    answer = "The 2020 World Series was played at Globe Life Field in Arlington, Texas."
    fake_openai.script(answer)
    outputs = await collect_outputs(
        AIConversationBlock(config_for(fake_openai)),
        {
            "messages": WORLD_SERIES_MESSAGES,
            "model": DEFAULT_LLM_MODEL,
            "credentials": TEST_CREDENTIALS_INPUT,
        },
    )
    assert_outputs(outputs, [("response", answer), ("prompt", list)])
    # the messages go out as they are: no system prompt and no empty user turn added
    assert fake_openai.requests[0].messages == WORLD_SERIES_MESSAGES


# --- default answers of the fake server ---------------------------------------------------------


async def test_text_generator_without_credentials_uses_the_configured_endpoint(
    fake_openai: FakeOpenAIServer,
) -> None:
    outputs = await collect_outputs(AITextGeneratorBlock(config_for(fake_openai)), {"prompt": "Hello there"})
    assert outputs[0] == ("response", "Echo: Hello there")
    assert fake_openai.requests[0].headers["authorization"] == "Bearer sk-test"


async def test_no_api_key_sends_no_authorization_header(fake_openai: FakeOpenAIServer) -> None:
    config = LLMConfig(base_url=fake_openai.base_url, api_key=None)
    await collect_outputs(AITextGeneratorBlock(config), {"prompt": "Hi"})
    assert "authorization" not in fake_openai.requests[0].headers


async def test_structured_generator_parses_the_tagged_json(fake_openai: FakeOpenAIServer) -> None:
    outputs = await collect_outputs(
        AIStructuredResponseGeneratorBlock(config_for(fake_openai)),
        {"prompt": "Describe a cat", "expected_format": {"name": "The name", "colour": "The colour"}},
    )
    assert outputs[0] == ("response", {"name": "name value", "colour": "colour value"})
    request = fake_openai.requests[0]
    assert request.json_tag_id is not None and len(request.json_tag_id) == 16
    assert "response_format" not in request.body


async def test_structured_generator_with_empty_format_returns_raw_text(fake_openai: FakeOpenAIServer) -> None:
    outputs = await collect_outputs(
        AIStructuredResponseGeneratorBlock(config_for(fake_openai)),
        {"prompt": "Just talk", "expected_format": {}},
    )
    assert outputs[0] == ("response", {"response": "Echo: Just talk"})
    assert [m["role"] for m in fake_openai.requests[0].messages] == ["user"]


async def test_structured_generator_list_result(fake_openai: FakeOpenAIServer) -> None:
    outputs = await collect_outputs(
        AIStructuredResponseGeneratorBlock(config_for(fake_openai)),
        {"prompt": "Two cats", "expected_format": {"name": "The name"}, "list_result": True},
    )
    assert outputs[0] == ("response", [{"name": "name value 1"}, {"name": "name value 2"}])


async def test_structured_generator_force_json_output(fake_openai: FakeOpenAIServer) -> None:
    outputs = await collect_outputs(
        AIStructuredResponseGeneratorBlock(config_for(fake_openai)),
        {"prompt": "A cat", "expected_format": {"name": "The name"}, "force_json_output": True},
    )
    assert outputs[0] == ("response", {"name": "name value"})
    request = fake_openai.requests[0]
    assert request.body["response_format"] == {"type": "json_object"}
    assert request.json_tag_id is None  # pure JSON mode asks for no tags


async def test_force_json_output_with_list_result_unwraps_results(fake_openai: FakeOpenAIServer) -> None:
    outputs = await collect_outputs(
        AIStructuredResponseGeneratorBlock(config_for(fake_openai)),
        {
            "prompt": "Two cats",
            "expected_format": {"name": "The name"},
            "list_result": True,
            "force_json_output": True,
        },
    )
    assert outputs[0] == ("response", [{"name": "name value 1"}, {"name": "name value 2"}])


async def test_list_result_object_without_results_is_retried(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(json_reply({"name": "just one"}))
    outputs = await collect_outputs(
        AIStructuredResponseGeneratorBlock(config_for(fake_openai)),
        {"prompt": "Two cats", "expected_format": {"name": "The name"}, "list_result": True},
    )
    assert outputs[0] == ("response", [{"name": "name value 1"}, {"name": "name value 2"}])
    feedback = fake_openai.requests[1].messages[-1]
    assert feedback["role"] == "user"
    assert feedback["content"].startswith("Expected an array of objects in the 'results' key, but got:")


async def test_list_generator_default_answer(fake_openai: FakeOpenAIServer) -> None:
    outputs = await collect_outputs(AIListGeneratorBlock(config_for(fake_openai)), {"focus": "colours"})
    items = ["list item 1", "list item 2", "list item 3"]
    assert_outputs(outputs, [("generated_list", items), ("prompt", list)] + [("list_item", i) for i in items])


async def test_summarizer_default_answer(fake_openai: FakeOpenAIServer) -> None:
    outputs = await collect_outputs(AITextSummarizerBlock(config_for(fake_openai)), {"text": "a b c"})
    assert outputs[0] == ("summary", "final_summary value")


# --- prompt building ----------------------------------------------------------------------------


async def test_prompt_values_are_rendered_into_prompt_and_system_prompt(
    fake_openai: FakeOpenAIServer,
) -> None:
    await collect_outputs(
        AITextGeneratorBlock(config_for(fake_openai)),
        {
            "prompt": "Write to {{ name | safe }} about {{topic}}.",
            "sys_prompt": "You write for {{name}}.",
            "prompt_values": {"name": "Ada & Bob", "topic": "engines"},
        },
    )
    assert fake_openai.requests[0].messages == [
        {"role": "system", "content": "You write for Ada & Bob."},
        {"role": "user", "content": "Write to Ada & Bob about engines."},
    ]


async def test_prompt_is_not_rendered_without_prompt_values(fake_openai: FakeOpenAIServer) -> None:
    # AutoGPT only renders when prompt_values is non-empty
    await collect_outputs(AITextGeneratorBlock(config_for(fake_openai)), {"prompt": "Keep {{this}}"})
    assert fake_openai.requests[0].last_user_message == "Keep {{this}}"


async def test_non_text_prompt_values_become_text(fake_openai: FakeOpenAIServer) -> None:
    await collect_outputs(
        AITextGeneratorBlock(config_for(fake_openai)),
        {"prompt": "{{n}} {{items}}", "prompt_values": {"n": 3, "items": ["a", "b"]}},
    )
    assert fake_openai.requests[0].last_user_message == '3 ["a", "b"]'


async def test_structured_message_order(fake_openai: FakeOpenAIServer) -> None:
    history = [{"role": "user", "content": "earlier"}, {}, {"role": "assistant", "content": "reply"}]
    await collect_outputs(
        AIStructuredResponseGeneratorBlock(config_for(fake_openai)),
        {
            "prompt": "now",
            "sys_prompt": "be brief",
            "expected_format": {"a": "A"},
            "conversation_history": history,
        },
    )
    messages = fake_openai.requests[0].messages
    assert [m["role"] for m in messages] == ["user", "assistant", "system", "system", "user"]
    assert messages[2]["content"] == "be brief"
    assert '"a": "A"' in messages[3]["content"]
    assert messages[4]["content"] == "now"


async def test_list_generator_prompts(fake_openai: FakeOpenAIServer) -> None:
    block = AIListGeneratorBlock(config_for(fake_openai))
    await collect_outputs(block, {})
    await collect_outputs(block, {"source_data": "red, green"})
    await collect_outputs(block, {"focus": "fruit", "force_json_output": True})
    random_list, from_source, focused = (r.last_user_message for r in fake_openai.requests)
    assert random_list.startswith("Generate a random list.")
    assert "Invent the data" in random_list
    assert from_source.startswith("Extract the main focus of the source data to a list.")
    assert "<source_data>\n\nred, green</source_data>" in from_source
    assert focused.startswith("Generate a list with the following focus:\n<focus>\n\nfruit</focus>")
    json_request = fake_openai.requests[2]
    assert json_request.body["response_format"] == {"type": "json_object"}
    assert set(json_request.expected_format) == {"reasoning", "list"}


# --- retries and failures -----------------------------------------------------------------------


async def test_unparseable_answer_is_retried_with_feedback(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script("I will not answer in JSON.")
    outputs = await collect_outputs(
        AIStructuredResponseGeneratorBlock(config_for(fake_openai)),
        {"prompt": "A cat", "expected_format": {"name": "The name"}},
    )
    assert outputs[0] == ("response", {"name": "name value"})
    second = fake_openai.requests[1].messages
    assert second[-2] == {"role": "assistant", "content": "I will not answer in JSON."}
    assert second[-1]["role"] == "user"
    assert second[-1]["content"].startswith("Your previous response did not contain a parseable JSON object.")
    # the prompt output is the conversation of the successful call
    assert outputs[1][1] == second


async def test_missing_keys_are_retried(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(json_reply({"key1": "only one"}))
    outputs = await collect_outputs(
        AIStructuredResponseGeneratorBlock(config_for(fake_openai)),
        {"prompt": "p", "expected_format": {"key1": "one", "key2": "two"}},
    )
    assert outputs[0] == ("response", {"key1": "key1 value", "key2": "key2 value"})
    feedback = fake_openai.requests[1].messages[-1]["content"]
    assert feedback.startswith("Your previous response did not match the expected object format.")
    assert "Missing keys: {'key2'}" in feedback


async def test_all_retries_failing_fails_the_block(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script("nope", "still nope")
    block = AIStructuredResponseGeneratorBlock(config_for(fake_openai))
    with pytest.raises(BlockExecutionError, match="did not contain a parseable JSON object"):
        async for _ in block.execute({"prompt": "p", "expected_format": {"a": "A"}, "retry": 2}):
            pass
    assert len(fake_openai.requests) == 2


async def test_retry_zero_makes_no_call(fake_openai: FakeOpenAIServer) -> None:
    block = AITextGeneratorBlock(config_for(fake_openai))
    with pytest.raises(BlockExecutionError, match="The LLM was not called"):
        async for _ in block.execute({"prompt": "p", "retry": 0}):
            pass
    assert fake_openai.requests == []


@pytest.mark.parametrize("status", [401, 403, 429])
async def test_user_errors_stop_retrying(fake_openai: FakeOpenAIServer, status: int) -> None:
    fake_openai.fail(status, "Rate limit reached" if status == 429 else "Bad key")
    block = AITextGeneratorBlock(config_for(fake_openai))
    with pytest.raises(BlockExecutionError, match=f"Error calling LLM: LLM endpoint returned HTTP {status}"):
        async for _ in block.execute({"prompt": "p", "retry": 3}):
            pass
    assert len(fake_openai.requests) == 1


async def test_server_errors_are_retried(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.fail(500, "upstream broke")
    context = RunContext()
    outputs = await collect_outputs(AITextGeneratorBlock(config_for(fake_openai)), {"prompt": "p"}, context)
    assert outputs[0] == ("response", "Echo: p")
    assert len(fake_openai.requests) == 2
    assert context.stats["llm_call_count"] == 1  # only completed calls count
    assert context.stats["llm_retry_count"] == 1


async def test_server_errors_on_every_attempt_fail_with_the_last_error(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.fail(503, "overloaded", times=3)
    block = AITextGeneratorBlock(config_for(fake_openai))
    with pytest.raises(BlockExecutionError, match="HTTP 503: overloaded"):
        async for _ in block.execute({"prompt": "p"}):
            pass
    assert len(fake_openai.requests) == 3


async def test_unknown_model_stops_with_guidance(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(Reply(status=404, error="The model `gpt-5.2-2025-12-11` does not exist"))
    block = AITextGeneratorBlock(config_for(fake_openai))
    with pytest.raises(BlockExecutionError, match="appears to be unavailable or deprecated"):
        async for _ in block.execute({"prompt": "p"}):
            pass
    assert len(fake_openai.requests) == 1


async def test_context_length_error_shrinks_max_tokens(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(Reply(status=400, error="This model's maximum context length is 8192 tokens."))
    outputs = await collect_outputs(AITextGeneratorBlock(config_for(fake_openai)), {"prompt": "p"})
    assert outputs[0] == ("response", "Echo: p")
    first, second = fake_openai.requests
    assert "max_completion_tokens" not in first.body
    # no max_tokens given: the model's max output (128000) shrunk by 15%
    assert second.body["max_completion_tokens"] == 108_800


@pytest.mark.parametrize(
    ("model", "field"),
    [
        ("gpt-4o", "max_completion_tokens"),
        ("llama3.2", "max_tokens"),
        ("google/gemini-2.5-pro", "max_tokens"),
    ],
)
async def test_max_tokens_is_sent_when_set(fake_openai: FakeOpenAIServer, model: str, field: str) -> None:
    await collect_outputs(
        AITextGeneratorBlock(config_for(fake_openai)), {"prompt": "p", "model": model, "max_tokens": 100}
    )
    assert fake_openai.requests[0].body[field] == 100


async def test_timeout_fails_the_block(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.delay(2.0)
    block = AITextGeneratorBlock(config_for(fake_openai, timeout_seconds=0.3))
    with pytest.raises(BlockExecutionError, match=r"did not answer within 0\.3 s"):
        async for _ in block.execute({"prompt": "p", "retry": 1}):
            pass


async def test_unreachable_endpoint_fails_the_block() -> None:
    with FakeOpenAIServer() as server:
        base_url = server.base_url
    block = AITextGeneratorBlock(LLMConfig(base_url=base_url, api_key=None))
    with pytest.raises(BlockExecutionError, match="Could not reach LLM endpoint"):
        async for _ in block.execute({"prompt": "p", "retry": 1}):
            pass


# --- stats and routing --------------------------------------------------------------------------


async def test_token_stats_are_recorded(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(Reply(content="hi", prompt_tokens=12, completion_tokens=30))
    context = RunContext()
    await collect_outputs(AITextGeneratorBlock(config_for(fake_openai)), {"prompt": "p"}, context)
    assert context.stats == {"llm_call_count": 1, "input_token_count": 12, "output_token_count": 30}


async def test_stats_add_up_over_calls(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(
        Reply(content="not json", prompt_tokens=5, completion_tokens=2),
        Reply(content=None, prompt_tokens=7, completion_tokens=3),
    )
    context = RunContext()
    await collect_outputs(
        AIStructuredResponseGeneratorBlock(config_for(fake_openai)),
        {"prompt": "p", "expected_format": {"a": "A"}},
        context,
    )
    assert context.stats == {
        "llm_call_count": 2,
        "input_token_count": 12,
        "output_token_count": 5,
        "llm_retry_count": 1,
    }


async def test_default_usage_counts_words(fake_openai: FakeOpenAIServer) -> None:
    context = RunContext()
    await collect_outputs(AITextGeneratorBlock(config_for(fake_openai)), {"prompt": "one two three"}, context)
    assert context.stats["input_token_count"] == 3
    assert context.stats["output_token_count"] == 4  # "Echo: one two three"


async def test_provider_endpoint_and_key_overrides(fake_openai: FakeOpenAIServer) -> None:
    config = LLMConfig(
        base_url="http://127.0.0.1:9/v1",  # nothing listens there
        api_key="sk-default",
        provider_base_urls={"ollama": fake_openai.base_url},
        provider_api_keys={"ollama": "ollama-key"},
    )
    outputs = await collect_outputs(AITextGeneratorBlock(config), {"prompt": "p", "model": "llama3.2"})
    assert outputs[0] == ("response", "Echo: p")
    request = fake_openai.requests[0]
    assert request.model == "llama3.2"
    assert request.headers["authorization"] == "Bearer ollama-key"


async def test_model_override(fake_openai: FakeOpenAIServer) -> None:
    config = config_for(fake_openai, model_override="qwen2.5:0.5b")
    await collect_outputs(AITextGeneratorBlock(config), {"prompt": "p", "model": "claude-sonnet-4-6"})
    assert fake_openai.requests[0].model == "qwen2.5:0.5b"


# --- compression --------------------------------------------------------------------------------


def test_compress_messages_truncates_the_longest_text() -> None:
    messages = [{"role": "system", "content": "short"}, {"role": "user", "content": "x" * 40_000}]
    compressed = compress_messages(messages, target_tokens=1_000)
    assert compressed[0] == messages[0]
    assert len(compressed[1]["content"]) < 5_000
    assert "[... truncated ...]" in compressed[1]["content"]
    assert messages[1]["content"] == "x" * 40_000  # the input is left alone
    assert compress_messages(messages, target_tokens=20_000) == messages


async def test_compress_prompt_to_fit(fake_openai: FakeOpenAIServer) -> None:
    long_prompt = "word " * 20_000  # about 25k tokens; llama3.2's window is 8192 (target 4096)
    block = AITextGeneratorBlock(config_for(fake_openai))
    outputs = await collect_outputs(block, {"prompt": long_prompt, "model": "llama3.2"})
    sent = fake_openai.requests[0].last_user_message
    assert len(sent) < 20_000
    assert outputs[1][1][0]["content"] == long_prompt  # the prompt output shows what the block built

    structured = AIStructuredResponseGeneratorBlock(config_for(fake_openai))
    await collect_outputs(
        structured,
        {"prompt": long_prompt, "model": "llama3.2", "expected_format": {}, "compress_prompt_to_fit": False},
    )
    assert fake_openai.requests[1].last_user_message == long_prompt


def test_json_from_response_in_pure_json_mode_tolerates_fences() -> None:
    text = 'Sure!\n```json\n{"a": 1}\n```'
    assert json_from_response(text, pure_json_mode=True, output_tag_start="") == {"a": 1}
    with pytest.raises(ValueError):
        json_from_response("no json", pure_json_mode=True, output_tag_start="")
    with pytest.raises(ValueError, match="does not contain the expected"):
        json_from_response('{"a": 1}', pure_json_mode=False, output_tag_start='<json_output id="x">')


# --- summarizer ---------------------------------------------------------------------------------


async def test_summarizer_chunks_with_overlap(fake_openai: FakeOpenAIServer) -> None:
    words = [f"w{i}" for i in range(30)]
    fake_openai.script(*[json_reply({"summary": f"S{i}"}) for i in range(4)])
    outputs = await collect_outputs(
        AITextSummarizerBlock(config_for(fake_openai)),
        {"text": " ".join(words), "max_tokens": 10, "chunk_overlap": 2, "style": "bullet points"},
    )
    assert outputs[0] == ("summary", "final_summary value")
    requests = fake_openai.requests
    assert len(requests) == 5  # chunks start at words 0, 8, 16, 24; then the final call
    chunk_prompts = [r.last_user_message for r in requests[:4]]
    assert "```" + " ".join(words[0:10]) + "```" in chunk_prompts[0]
    assert "```" + " ".join(words[8:18]) + "```" in chunk_prompts[1]
    assert "```" + " ".join(words[24:30]) + "```" in chunk_prompts[3]
    assert "in a bullet points form" in chunk_prompts[0]
    assert "S0\n\nS1\n\nS2\n\nS3" in requests[4].last_user_message
    assert outputs[1][1] == requests[4].messages


def test_split_text_limits() -> None:
    assert AITextSummarizerBlock.split_text("", 10, 2) == []
    assert len(AITextSummarizerBlock.split_text("w " * 10_000, 10, 0)) == 100  # at most 100 chunks
    # an overlap as large as the window still moves forward one word at a time
    assert AITextSummarizerBlock.split_text("a b c", 2, 5) == ["a b", "b c", "c"]


async def test_summarizer_recurses_with_default_focus_and_style(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(*[json_reply({"summary": "alpha beta gamma delta"}) for _ in range(5)])
    outputs = await collect_outputs(
        AITextSummarizerBlock(config_for(fake_openai)),
        {
            "text": " ".join(f"w{i}" for i in range(30)),
            "max_tokens": 10,
            "chunk_overlap": 0,
            "focus": "planets",
            "style": "detailed",
        },
    )
    assert outputs[0] == ("summary", "final_summary value")
    prompts = [r.last_user_message for r in fake_openai.requests]
    assert len(prompts) == 6  # 3 chunks -> 12 words > 10 -> 2 chunks -> 8 words -> final
    assert all("`planets`" in p and "detailed form" in p for p in prompts[:3])
    # AutoGPT's recursive round forgets focus and style
    assert all("`general information`" in p and "concise form" in p for p in prompts[3:])


async def test_summarizer_stops_when_summaries_never_shrink(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(*[json_reply({"summary": "one two three four five six"}) for _ in range(40)])
    block = AITextSummarizerBlock(config_for(fake_openai))
    with pytest.raises(BlockExecutionError, match="raise max_tokens"):
        async for _ in block.execute({"text": " ".join(["w"] * 30), "max_tokens": 10, "chunk_overlap": 0}):
            pass


async def test_summarizer_rejects_a_non_string_summary(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(json_reply({"summary": ["a", "b"]}))
    block = AITextSummarizerBlock(config_for(fake_openai))
    with pytest.raises(BlockExecutionError, match="Expected a string summary, but received list"):
        async for _ in block.execute({"text": "some text"}):
            pass


# --- list generator and conversation edge cases -------------------------------------------------


async def test_list_generator_rejects_a_non_list(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script(json_reply({"list": "red, green"}))
    block = AIListGeneratorBlock(config_for(fake_openai))
    with pytest.raises(BlockExecutionError, match="Expected a list, but got str: red, green"):
        async for _ in block.execute({"focus": "colours"}):
            pass


async def test_list_generator_retries_up_to_max_retries(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script("no", "no")
    block = AIListGeneratorBlock(config_for(fake_openai))
    with pytest.raises(BlockExecutionError):
        async for _ in block.execute({"focus": "colours", "max_retries": 2}):
            pass
    assert len(fake_openai.requests) == 2


@pytest.mark.parametrize("messages", [[], [{"role": "user", "content": "   "}], ["not a dict"]])
async def test_conversation_needs_a_message_or_a_prompt(fake_openai: FakeOpenAIServer, messages: list[Any]) -> None:
    block = AIConversationBlock(config_for(fake_openai))
    with pytest.raises(BlockExecutionError, match="Cannot call LLM with no messages and no prompt"):
        async for _ in block.execute({"messages": messages, "prompt": " "}):
            pass
    assert fake_openai.requests == []


async def test_conversation_with_prompt_only(fake_openai: FakeOpenAIServer) -> None:
    outputs = await collect_outputs(AIConversationBlock(config_for(fake_openai)), {"messages": [], "prompt": "Hello"})
    assert outputs[0] == ("response", "Echo: Hello")
    assert outputs[1][1] == [{"role": "user", "content": "Hello"}]
