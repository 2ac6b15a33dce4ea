"""AutoGPT's LLM blocks, calling an OpenAI-compatible chat-completions endpoint.

The five blocks keep AutoGPT's ids, pins, defaults and behaviour
(AITextGenerator, AIStructuredResponseGenerator, AITextSummarizer,
AIListGenerator, AIConversation). Where AutoGPT talks to each provider's own
SDK, these send every call to ``POST {base_url}/chat/completions`` with a
bearer key, which OpenAI, Ollama (``/v1``), vLLM, LiteLLM and OpenRouter all
serve.

Where the endpoint and the key come from: the ``LLMConfig`` the blocks are
built with (``llm_blocks(config)``), per provider of the node's model when
``provider_base_urls`` / ``provider_api_keys`` name it. The ``credentials``
input only *names* stored credentials (``{id, provider, type, title}``);
secrets never travel through node inputs. Until a credentials store resolves
those references, the configured key is used for every call, and a node with
no credentials at all runs against the configured endpoint.

Every completed call adds ``llm_call_count=1``, ``input_token_count`` and
``output_token_count`` (the endpoint's ``usage``) to ``RunContext.stats``;
retries also add ``llm_retry_count``.
"""

from __future__ import annotations

import enum
import json
import re
import secrets
import ssl
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, ClassVar, Literal, NamedTuple, cast

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockOutput,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)
from domain.blocks.templating import render_template

# --- models --------------------------------------------------------------------------------------


class ModelMetadata(NamedTuple):
    """What AutoGPT records about a model (limits in tokens)."""

    provider: str
    context_window: int
    max_output_tokens: int | None
    display_name: str
    provider_name: str
    creator_name: str
    price_tier: int


class LlmModel(enum.StrEnum):
    """AutoGPT's LLM model ids (the enum values are what graphs store)."""

    # OpenAI
    O3_MINI = "o3-mini"
    O3 = "o3-2025-04-16"
    O1 = "o1"
    O1_MINI = "o1-mini"
    GPT5_2 = "gpt-5.2-2025-12-11"
    GPT5_1 = "gpt-5.1-2025-11-13"
    GPT5 = "gpt-5-2025-08-07"
    GPT5_MINI = "gpt-5-mini-2025-08-07"
    GPT5_NANO = "gpt-5-nano-2025-08-07"
    GPT5_CHAT = "gpt-5-chat-latest"
    GPT41 = "gpt-4.1-2025-04-14"
    GPT41_MINI = "gpt-4.1-mini-2025-04-14"
    GPT4O_MINI = "gpt-4o-mini"
    GPT4O = "gpt-4o"
    GPT4_TURBO = "gpt-4-turbo"
    # Anthropic
    CLAUDE_4_1_OPUS = "claude-opus-4-1-20250805"
    CLAUDE_4_OPUS = "claude-opus-4-20250514"
    CLAUDE_4_SONNET = "claude-sonnet-4-20250514"
    CLAUDE_4_5_OPUS = "claude-opus-4-5-20251101"
    CLAUDE_4_5_SONNET = "claude-sonnet-4-5-20250929"
    CLAUDE_4_5_HAIKU = "claude-haiku-4-5-20251001"
    CLAUDE_4_6_OPUS = "claude-opus-4-6"
    CLAUDE_4_7_OPUS = "claude-opus-4-7"
    CLAUDE_4_6_SONNET = "claude-sonnet-4-6"
    CLAUDE_3_HAIKU = "claude-3-haiku-20240307"
    # AI/ML API
    AIML_API_QWEN2_5_72B = "Qwen/Qwen2.5-72B-Instruct-Turbo"
    AIML_API_LLAMA3_1_70B = "nvidia/llama-3.1-nemotron-70b-instruct"
    AIML_API_LLAMA3_3_70B = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    AIML_API_META_LLAMA_3_1_70B = "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo"
    AIML_API_LLAMA_3_2_3B = "meta-llama/Llama-3.2-3B-Instruct-Turbo"
    # Groq
    LLAMA3_3_70B = "llama-3.3-70b-versatile"
    LLAMA3_1_8B = "llama-3.1-8b-instant"
    # Ollama
    OLLAMA_LLAMA3_3 = "llama3.3"
    OLLAMA_LLAMA3_2 = "llama3.2"
    OLLAMA_LLAMA3_8B = "llama3"
    OLLAMA_LLAMA3_405B = "llama3.1:405b"
    OLLAMA_DOLPHIN = "dolphin-mistral:latest"
    # OpenRouter
    OPENAI_GPT_OSS_120B = "openai/gpt-oss-120b"
    OPENAI_GPT_OSS_20B = "openai/gpt-oss-20b"
    GEMINI_2_5_PRO_PREVIEW = "google/gemini-2.5-pro-preview-03-25"
    GEMINI_2_5_PRO = "google/gemini-2.5-pro"
    GEMINI_3_1_PRO_PREVIEW = "google/gemini-3.1-pro-preview"
    GEMINI_3_FLASH_PREVIEW = "google/gemini-3-flash-preview"
    GEMINI_2_5_FLASH = "google/gemini-2.5-flash"
    GEMINI_2_0_FLASH = "google/gemini-2.0-flash-001"
    GEMINI_3_1_FLASH_LITE_PREVIEW = "google/gemini-3.1-flash-lite-preview"
    GEMINI_2_5_FLASH_LITE_PREVIEW = "google/gemini-2.5-flash-lite-preview-06-17"
    GEMINI_2_0_FLASH_LITE = "google/gemini-2.0-flash-lite-001"
    MISTRAL_NEMO = "mistralai/mistral-nemo"
    MISTRAL_LARGE_3 = "mistralai/mistral-large-2512"
    MISTRAL_MEDIUM_3_1 = "mistralai/mistral-medium-3.1"
    MISTRAL_SMALL_3_2 = "mistralai/mistral-small-3.2-24b-instruct"
    CODESTRAL = "mistralai/codestral-2508"
    COHERE_COMMAND_R_08_2024 = "cohere/command-r-08-2024"
    COHERE_COMMAND_R_PLUS_08_2024 = "cohere/command-r-plus-08-2024"
    COHERE_COMMAND_A_03_2025 = "cohere/command-a-03-2025"
    COHERE_COMMAND_A_TRANSLATE_08_2025 = "cohere/command-a-translate-08-2025"
    COHERE_COMMAND_A_REASONING_08_2025 = "cohere/command-a-reasoning-08-2025"
    COHERE_COMMAND_A_VISION_07_2025 = "cohere/command-a-vision-07-2025"
    DEEPSEEK_CHAT = "deepseek/deepseek-chat"
    DEEPSEEK_R1_0528 = "deepseek/deepseek-r1-0528"
    PERPLEXITY_SONAR = "perplexity/sonar"
    PERPLEXITY_SONAR_PRO = "perplexity/sonar-pro"
    PERPLEXITY_SONAR_REASONING_PRO = "perplexity/sonar-reasoning-pro"
    PERPLEXITY_SONAR_DEEP_RESEARCH = "perplexity/sonar-deep-research"
    NOUSRESEARCH_HERMES_3_LLAMA_3_1_405B = "nousresearch/hermes-3-llama-3.1-405b"
    NOUSRESEARCH_HERMES_3_LLAMA_3_1_70B = "nousresearch/hermes-3-llama-3.1-70b"
    AMAZON_NOVA_LITE_V1 = "amazon/nova-lite-v1"
    AMAZON_NOVA_MICRO_V1 = "amazon/nova-micro-v1"
    AMAZON_NOVA_PRO_V1 = "amazon/nova-pro-v1"
    MICROSOFT_WIZARDLM_2_8X22B = "microsoft/wizardlm-2-8x22b"
    MICROSOFT_PHI_4 = "microsoft/phi-4"
    GRYPHE_MYTHOMAX_L2_13B = "gryphe/mythomax-l2-13b"
    META_LLAMA_4_SCOUT = "meta-llama/llama-4-scout"
    META_LLAMA_4_MAVERICK = "meta-llama/llama-4-maverick"
    GROK_3 = "x-ai/grok-3"
    GROK_4 = "x-ai/grok-4"
    GROK_4_FAST = "x-ai/grok-4-fast"
    GROK_4_1_FAST = "x-ai/grok-4.1-fast"
    GROK_4_20 = "x-ai/grok-4.20"
    GROK_4_20_MULTI_AGENT = "x-ai/grok-4.20-multi-agent"
    GROK_CODE_FAST_1 = "x-ai/grok-code-fast-1"
    KIMI_K2 = "moonshotai/kimi-k2"
    KIMI_K2_0905 = "moonshotai/kimi-k2-0905"
    KIMI_K2_5 = "moonshotai/kimi-k2.5"
    KIMI_K2_6 = "moonshotai/kimi-k2.6"
    KIMI_K2_THINKING = "moonshotai/kimi-k2-thinking"
    QWEN3_235B_A22B_THINKING = "qwen/qwen3-235b-a22b-thinking-2507"
    QWEN3_CODER = "qwen/qwen3-coder"
    ZAI_GLM_4_32B = "z-ai/glm-4-32b"
    ZAI_GLM_4_5 = "z-ai/glm-4.5"
    ZAI_GLM_4_5_AIR = "z-ai/glm-4.5-air"
    ZAI_GLM_4_5_AIR_FREE = "z-ai/glm-4.5-air:free"
    ZAI_GLM_4_5V = "z-ai/glm-4.5v"
    ZAI_GLM_4_6 = "z-ai/glm-4.6"
    ZAI_GLM_4_6V = "z-ai/glm-4.6v"
    ZAI_GLM_4_7 = "z-ai/glm-4.7"
    ZAI_GLM_4_7_FLASH = "z-ai/glm-4.7-flash"
    ZAI_GLM_5 = "z-ai/glm-5"
    ZAI_GLM_5_TURBO = "z-ai/glm-5-turbo"
    ZAI_GLM_5V_TURBO = "z-ai/glm-5v-turbo"
    # Llama API
    LLAMA_API_LLAMA_4_SCOUT = "Llama-4-Scout-17B-16E-Instruct-FP8"
    LLAMA_API_LLAMA4_MAVERICK = "Llama-4-Maverick-17B-128E-Instruct-FP8"
    LLAMA_API_LLAMA3_3_8B = "Llama-3.3-8B-Instruct"
    LLAMA_API_LLAMA3_3_70B = "Llama-3.3-70B-Instruct"
    # v0 by Vercel
    V0_1_5_MD = "v0-1.5-md"
    V0_1_5_LG = "v0-1.5-lg"
    V0_1_0_MD = "v0-1.0-md"

    @classmethod
    def _missing_(cls, value: object) -> LlmModel | None:
        # Provider-prefixed ids such as "anthropic/claude-sonnet-4-6" name the bare model.
        if isinstance(value, str) and "/" in value:
            try:
                return cls(value.split("/", 1)[1])
            except ValueError:
                return None
        return None

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        # AutoGPT's model picker reads these two keys.
        json_schema = handler(core_schema)
        json_schema["llm_model"] = True
        json_schema["llm_model_metadata"] = {
            model.value: {
                "creator": model.metadata.creator_name,
                "creator_name": model.metadata.creator_name,
                "title": model.metadata.display_name,
                "provider": model.metadata.provider,
                "provider_name": model.metadata.provider_name,
                "name": model.value,
                "price_tier": model.metadata.price_tier,
            }
            for model in cls
        }
        return json_schema

    @property
    def metadata(self) -> ModelMetadata:
        return MODEL_METADATA[self.value]

    @property
    def provider(self) -> str:
        return self.metadata.provider

    @property
    def context_window(self) -> int:
        return self.metadata.context_window

    @property
    def max_output_tokens(self) -> int | None:
        return self.metadata.max_output_tokens


_PROVIDER_NAMES = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "aiml_api": "AI/ML",
    "groq": "Groq",
    "ollama": "Ollama",
    "open_router": "OpenRouter",
    "llama_api": "Llama API",
    "v0": "V0",
}

# One "[provider]" line, then its models:
# model | context window | max output tokens ("-": no limit known) | title | creator | price tier
_MODEL_TABLE = """
[openai]
o3-mini | 200000 | 100000 | O3 Mini | OpenAI | 1
o3-2025-04-16 | 200000 | 100000 | O3 | OpenAI | 2
o1 | 200000 | 100000 | O1 | OpenAI | 3
o1-mini | 128000 | 65536 | O1 Mini | OpenAI | 2
gpt-5.2-2025-12-11 | 400000 | 128000 | GPT-5.2 | OpenAI | 3
gpt-5.1-2025-11-13 | 400000 | 128000 | GPT-5.1 | OpenAI | 2
gpt-5-2025-08-07 | 400000 | 128000 | GPT-5 | OpenAI | 1
gpt-5-mini-2025-08-07 | 400000 | 128000 | GPT-5 Mini | OpenAI | 1
gpt-5-nano-2025-08-07 | 400000 | 128000 | GPT-5 Nano | OpenAI | 1
gpt-5-chat-latest | 400000 | 16384 | GPT-5 Chat Latest | OpenAI | 2
gpt-4.1-2025-04-14 | 1047576 | 32768 | GPT-4.1 | OpenAI | 1
gpt-4.1-mini-2025-04-14 | 1047576 | 32768 | GPT-4.1 Mini | OpenAI | 1
gpt-4o-mini | 128000 | 16384 | GPT-4o Mini | OpenAI | 1
gpt-4o | 128000 | 16384 | GPT-4o | OpenAI | 2
gpt-4-turbo | 128000 | 4096 | GPT-4 Turbo | OpenAI | 3
[anthropic]
claude-opus-4-1-20250805 | 200000 | 32000 | Claude Opus 4.1 | Anthropic | 3
claude-opus-4-20250514 | 200000 | 32000 | Claude Opus 4 | Anthropic | 3
claude-sonnet-4-20250514 | 200000 | 64000 | Claude Sonnet 4 | Anthropic | 2
claude-opus-4-5-20251101 | 200000 | 64000 | Claude Opus 4.5 | Anthropic | 3
claude-sonnet-4-5-20250929 | 200000 | 64000 | Claude Sonnet 4.5 | Anthropic | 3
claude-haiku-4-5-20251001 | 200000 | 64000 | Claude Haiku 4.5 | Anthropic | 2
claude-opus-4-6 | 200000 | 128000 | Claude Opus 4.6 | Anthropic | 3
claude-opus-4-7 | 200000 | 128000 | Claude Opus 4.7 | Anthropic | 3
claude-sonnet-4-6 | 200000 | 64000 | Claude Sonnet 4.6 | Anthropic | 3
claude-3-haiku-20240307 | 200000 | 4096 | Claude 3 Haiku | Anthropic | 1
[aiml_api]
Qwen/Qwen2.5-72B-Instruct-Turbo | 32000 | 8000 | Qwen 2.5 72B Instruct Turbo | Qwen | 1
nvidia/llama-3.1-nemotron-70b-instruct | 128000 | 40000 | Llama 3.1 Nemotron 70B Instruct | Nvidia | 1
meta-llama/Llama-3.3-70B-Instruct-Turbo | 128000 | - | Llama 3.3 70B Instruct Turbo | Meta | 1
meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo | 131000 | 2000 | Llama 3.1 70B Instruct Turbo | Meta | 1
meta-llama/Llama-3.2-3B-Instruct-Turbo | 128000 | - | Llama 3.2 3B Instruct Turbo | Meta | 1
[groq]
llama-3.3-70b-versatile | 128000 | 32768 | Llama 3.3 70B Versatile | Meta | 1
llama-3.1-8b-instant | 128000 | 8192 | Llama 3.1 8B Instant | Meta | 1
[ollama]
llama3.3 | 8192 | - | Llama 3.3 | Meta | 1
llama3.2 | 8192 | - | Llama 3.2 | Meta | 1
llama3 | 8192 | - | Llama 3 | Meta | 1
llama3.1:405b | 8192 | - | Llama 3.1 405B | Meta | 1
dolphin-mistral:latest | 32768 | - | Dolphin Mistral Latest | Mistral AI | 1
[open_router]
openai/gpt-oss-120b | 131072 | 131072 | GPT-OSS 120B | OpenAI | 1
openai/gpt-oss-20b | 131072 | 32768 | GPT-OSS 20B | OpenAI | 1
google/gemini-2.5-pro-preview-03-25 | 1048576 | 65536 | Gemini 2.5 Pro Preview 03.25 | Google | 2
google/gemini-2.5-pro | 1048576 | 65536 | Gemini 2.5 Pro | Google | 2
google/gemini-3.1-pro-preview | 1048576 | 65536 | Gemini 3.1 Pro Preview | Google | 2
google/gemini-3-flash-preview | 1048576 | 65536 | Gemini 3 Flash Preview | Google | 1
google/gemini-2.5-flash | 1048576 | 65535 | Gemini 2.5 Flash | Google | 1
google/gemini-2.0-flash-001 | 1048576 | 8192 | Gemini 2.0 Flash 001 | Google | 1
google/gemini-3.1-flash-lite-preview | 1048576 | 65536 | Gemini 3.1 Flash Lite Preview | Google | 1
google/gemini-2.5-flash-lite-preview-06-17 | 1048576 | 65535 | Gemini 2.5 Flash Lite Preview 06.17 | Google |1
google/gemini-2.0-flash-lite-001 | 1048576 | 8192 | Gemini 2.0 Flash Lite 001 | Google | 1
mistralai/mistral-nemo | 128000 | 4096 | Mistral Nemo | Mistral AI | 1
mistralai/mistral-large-2512 | 262144 | - | Mistral Large 3 2512 | Mistral AI | 2
mistralai/mistral-medium-3.1 | 131072 | - | Mistral Medium 3.1 | Mistral AI | 2
mistralai/mistral-small-3.2-24b-instruct | 131072 | 131072 | Mistral Small 3.2 24B | Mistral AI | 1
mistralai/codestral-2508 | 256000 | - | Codestral 2508 | Mistral AI | 1
cohere/command-r-08-2024 | 128000 | 4096 | Command R 08.2024 | Cohere | 1
cohere/command-r-plus-08-2024 | 128000 | 4096 | Command R Plus 08.2024 | Cohere | 2
cohere/command-a-03-2025 | 256000 | 8192 | Command A 03.2025 | Cohere | 2
cohere/command-a-translate-08-2025 | 128000 | 8192 | Command A Translate 08.2025 | Cohere | 2
cohere/command-a-reasoning-08-2025 | 256000 | 32768 | Command A Reasoning 08.2025 | Cohere | 3
cohere/command-a-vision-07-2025 | 128000 | 8192 | Command A Vision 07.2025 | Cohere | 2
deepseek/deepseek-chat | 64000 | 2048 | DeepSeek Chat | DeepSeek | 1
deepseek/deepseek-r1-0528 | 163840 | 163840 | DeepSeek R1 0528 | DeepSeek | 1
perplexity/sonar | 127000 | 8000 | Sonar | Perplexity | 1
perplexity/sonar-pro | 200000 | 8000 | Sonar Pro | Perplexity | 2
perplexity/sonar-reasoning-pro | 128000 | 8000 | Sonar Reasoning Pro | Perplexity | 2
perplexity/sonar-deep-research | 128000 | 16000 | Sonar Deep Research | Perplexity | 3
nousresearch/hermes-3-llama-3.1-405b | 131000 | 4096 | Hermes 3 Llama 3.1 405B | Nous Research | 1
nousresearch/hermes-3-llama-3.1-70b | 12288 | 12288 | Hermes 3 Llama 3.1 70B | Nous Research | 1
amazon/nova-lite-v1 | 300000 | 5120 | Nova Lite V1 | Amazon | 1
amazon/nova-micro-v1 | 128000 | 5120 | Nova Micro V1 | Amazon | 1
amazon/nova-pro-v1 | 300000 | 5120 | Nova Pro V1 | Amazon | 1
microsoft/wizardlm-2-8x22b | 65536 | 4096 | WizardLM 2 8x22B | Microsoft | 1
microsoft/phi-4 | 16384 | 16384 | Phi-4 | Microsoft | 1
gryphe/mythomax-l2-13b | 4096 | 4096 | MythoMax L2 13B | Gryphe | 1
meta-llama/llama-4-scout | 131072 | 131072 | Llama 4 Scout | Meta | 1
meta-llama/llama-4-maverick | 1048576 | 1000000 | Llama 4 Maverick | Meta | 1
x-ai/grok-3 | 131072 | 131072 | Grok 3 | xAI | 2
x-ai/grok-4 | 256000 | 256000 | Grok 4 | xAI | 3
x-ai/grok-4-fast | 2000000 | 30000 | Grok 4 Fast | xAI | 1
x-ai/grok-4.1-fast | 2000000 | 30000 | Grok 4.1 Fast | xAI | 1
x-ai/grok-4.20 | 2000000 | 100000 | Grok 4.20 | xAI | 3
x-ai/grok-4.20-multi-agent | 2000000 | 100000 | Grok 4.20 Multi-Agent | xAI | 3
x-ai/grok-code-fast-1 | 256000 | 10000 | Grok Code Fast 1 | xAI | 1
moonshotai/kimi-k2 | 131000 | 131000 | Kimi K2 | Moonshot AI | 1
moonshotai/kimi-k2-0905 | 262144 | 262144 | Kimi K2 0905 | Moonshot AI | 1
moonshotai/kimi-k2.5 | 262144 | 262144 | Kimi K2.5 | Moonshot AI | 1
moonshotai/kimi-k2.6 | 262144 | 262144 | Kimi K2.6 | Moonshot AI | 2
moonshotai/kimi-k2-thinking | 262144 | 262144 | Kimi K2 Thinking | Moonshot AI | 2
qwen/qwen3-235b-a22b-thinking-2507 | 262144 | 262144 | Qwen 3 235B A22B Thinking 2507 | Qwen | 1
qwen/qwen3-coder | 262144 | 262144 | Qwen 3 Coder | Qwen | 3
z-ai/glm-4-32b | 128000 | 128000 | GLM 4 32B | Z.ai | 1
z-ai/glm-4.5 | 131072 | 98304 | GLM 4.5 | Z.ai | 2
z-ai/glm-4.5-air | 131072 | 98304 | GLM 4.5 Air | Z.ai | 1
z-ai/glm-4.5-air:free | 131072 | 96000 | GLM 4.5 Air (Free) | Z.ai | 1
z-ai/glm-4.5v | 65536 | 16384 | GLM 4.5V | Z.ai | 2
z-ai/glm-4.6 | 204800 | 204800 | GLM 4.6 | Z.ai | 1
z-ai/glm-4.6v | 131072 | 131072 | GLM 4.6V | Z.ai | 1
z-ai/glm-4.7 | 202752 | 65535 | GLM 4.7 | Z.ai | 1
z-ai/glm-4.7-flash | 202752 | 202752 | GLM 4.7 Flash | Z.ai | 1
z-ai/glm-5 | 80000 | 80000 | GLM 5 | Z.ai | 2
z-ai/glm-5-turbo | 202752 | 131072 | GLM 5 Turbo | Z.ai | 3
z-ai/glm-5v-turbo | 202752 | 131072 | GLM 5V Turbo | Z.ai | 3
[llama_api]
Llama-4-Scout-17B-16E-Instruct-FP8 | 128000 | 4028 | Llama 4 Scout 17B 16E Instruct FP8 | Meta | 1
Llama-4-Maverick-17B-128E-Instruct-FP8 | 128000 | 4028 | Llama 4 Maverick 17B 128E Instruct FP8 | Meta | 1
Llama-3.3-8B-Instruct | 128000 | 4028 | Llama 3.3 8B Instruct | Meta | 1
Llama-3.3-70B-Instruct | 128000 | 4028 | Llama 3.3 70B Instruct | Meta | 1
[v0]
v0-1.5-md | 128000 | 64000 | v0 1.5 MD | V0 | 1
v0-1.5-lg | 512000 | 64000 | v0 1.5 LG | V0 | 1
v0-1.0-md | 128000 | 64000 | v0 1.0 MD | V0 | 1
"""


def _parse_model_table(table: str) -> dict[str, ModelMetadata]:
    metadata: dict[str, ModelMetadata] = {}
    provider = ""
    for line in table.strip().splitlines():
        if line.startswith("["):
            provider = line.strip("[]")
            continue
        model, window, max_out, title, creator, tier = (cell.strip() for cell in line.split("|"))
        metadata[model] = ModelMetadata(
            provider,
            int(window),
            None if max_out == "-" else int(max_out),
            title,
            _PROVIDER_NAMES[provider],
            creator,
            int(tier),
        )
    return metadata


MODEL_METADATA: dict[str, ModelMetadata] = _parse_model_table(_MODEL_TABLE)

_missing_metadata = [m.value for m in LlmModel if m.value not in MODEL_METADATA]
if _missing_metadata:  # pragma: no cover - a table/enum mismatch is a programming error
    raise RuntimeError(f"models without metadata: {_missing_metadata}")

DEFAULT_LLM_MODEL = LlmModel.GPT5_2


# --- credentials reference -----------------------------------------------------------------------

LLMProviderName = Literal["aiml_api", "anthropic", "groq", "ollama", "openai", "open_router", "llama_api", "v0"]
LLM_PROVIDERS: tuple[str, ...] = (
    "aiml_api",
    "anthropic",
    "groq",
    "ollama",
    "openai",
    "open_router",
    "llama_api",
    "v0",
)


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


# --- configuration and the endpoint client -------------------------------------------------------


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


class LLMError(Exception):
    """A chat-completions call failed."""


class LLMEndpointError(LLMError):
    """The endpoint answered with a non-2xx status."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"LLM endpoint returned HTTP {status_code}: {detail}")
        self.status_code = status_code


class LLMConnectionError(LLMError):
    """The endpoint could not be reached or did not answer in time."""


class LLMResponseError(LLMError):
    """The endpoint answered 2xx with something that is not a chat completion."""


@dataclass(frozen=True)
class ChatCompletion:
    """The parts of a chat completion the blocks use."""

    text: str
    prompt_tokens: int
    completion_tokens: int


@cache
def _ssl_context() -> ssl.SSLContext:
    # Building the default context loads the CA bundle (~40 ms); share one.
    return httpx.create_ssl_context()


class ChatCompletionsClient:
    """Calls ``POST {base_url}/chat/completions`` on one OpenAI-compatible endpoint.

    A fresh ``httpx.AsyncClient`` per call keeps the client free of any event
    loop (blocks outlive loops in tests and workers); an LLM call is long
    enough that the extra connection does not matter.
    """

    def __init__(self, base_url: str, api_key: str | None, timeout_seconds: float) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self._api_key = api_key
        self._timeout = timeout_seconds

    async def complete(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        max_tokens_field: str = "max_tokens",
        json_mode: bool = False,
    ) -> ChatCompletion:
        """Send one request; raise an ``LLMError`` unless it gives a completion."""
        payload: dict[str, Any] = {"model": model, "messages": messages}
        if max_tokens is not None:
            payload[max_tokens_field] = max_tokens
        if json_mode:
            payload["response_format"] = {"type": "json_object"}
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            timeout = httpx.Timeout(self._timeout)
            async with httpx.AsyncClient(timeout=timeout, verify=_ssl_context()) as client:
                response = await client.post(self.url, json=payload, headers=headers)
        except httpx.TimeoutException as exc:
            raise LLMConnectionError(f"LLM endpoint {self.url} did not answer within {self._timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise LLMConnectionError(
                f"Could not reach LLM endpoint {self.url}: {str(exc) or type(exc).__name__}"
            ) from exc
        if not response.is_success:
            raise LLMEndpointError(response.status_code, _error_detail(response))
        try:
            data = response.json()
        except ValueError as exc:
            raise LLMResponseError(f"LLM endpoint {self.url} answered with a body that is not JSON") from exc
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
            raise LLMResponseError(f"LLM endpoint {self.url} returned no choices")
        message = choices[0].get("message") or {}
        usage = data.get("usage") or {}
        return ChatCompletion(
            text=_content_text(message.get("content")),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )


def _error_detail(response: httpx.Response) -> str:
    """The error message of a failed response: OpenAI's ``error.message`` when present."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str) and error:
            return error
        if data.get("detail"):
            return str(data["detail"])
    return json.dumps(data)[:500]


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


# --- prompt helpers ------------------------------------------------------------------------------

# Errors that no retry can fix (AutoGPT: bad key, forbidden, rate limited).
USER_ERROR_STATUS_CODES = (401, 403, 429)
_MODEL_UNAVAILABLE_STATUS_CODES = (400, 404)
_MODEL_UNAVAILABLE_PATTERNS = (
    "model not found",
    "model.*not.*available",
    "model.*not.*supported",
    "model.*deprecated",
    "model.*retired",
    "no.*such.*model",
    "invalid.*model",
    "model.*does not exist",
    "is not a valid model",
)
_CHARS_PER_TOKEN = 4  # rough estimate; the endpoint's usage gives the real counts


def _is_context_length_error(message: str) -> bool:
    return "maximum context length" in message or "token limit" in message or "context length" in message


def model_error_guidance(error: Exception) -> str | None:
    """A hint when the error says the model id is unknown or retired, else None."""
    message = str(error).lower()
    if _is_context_length_error(message):
        return None  # the retry loop shrinks max_tokens for these
    if not any(re.search(pattern, message) for pattern in _MODEL_UNAVAILABLE_PATTERNS):
        return None
    if isinstance(error, LLMEndpointError) and error.status_code not in _MODEL_UNAVAILABLE_STATUS_CODES:
        return None
    return (
        "The configured model ID appears to be unavailable or deprecated. Check the provider's "
        "current model list and choose a supported model."
    )


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """A rough token count of a message list (about four characters a token)."""
    return sum(len(_content_text(m.get("content"))) // _CHARS_PER_TOKEN + 4 for m in messages)


def compress_messages(messages: list[dict[str, Any]], target_tokens: int) -> list[dict[str, Any]]:
    """Shorten the longest texts (keeping their start and end) until the estimate fits.

    Truncation only, like AutoGPT's ``compress_prompt_to_fit``; messages are
    copied, the caller's list is left alone.
    """
    out = [dict(m) for m in messages]
    marker = "\n[... truncated ...]\n"
    excess = estimate_tokens(out) - target_tokens
    while excess > 0:
        index = max(range(len(out)), key=lambda i: len(_content_text(out[i].get("content"))), default=None)
        if index is None:
            break
        content = out[index].get("content")
        if not isinstance(content, str) or len(content) <= 400:
            break
        keep = max(400, len(content) - excess * _CHARS_PER_TOKEN - len(marker))
        head = keep // 2
        out[index]["content"] = content[:head] + marker + content[len(content) - (keep - head) :]
        new_excess = estimate_tokens(out) - target_tokens
        if new_excess >= excess:
            break
        excess = new_excess
    return out


def _sanitize(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Unpaired surrogates cannot be encoded as UTF-8 JSON; replace them.
    out: list[dict[str, Any]] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            try:
                content.encode("utf-8")
            except UnicodeEncodeError:
                message = {
                    **message,
                    "content": content.encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
                }
        out.append(message)
    return out


def _history_messages(history: list[Any] | None) -> list[dict[str, Any]]:
    """Conversation history as chat messages (falsy entries skipped, as AutoGPT does)."""
    messages: list[dict[str, Any]] = []
    for item in history or []:
        if not item:
            continue
        if isinstance(item, BaseModel):
            messages.append(item.model_dump(mode="json"))
        elif isinstance(item, dict):
            messages.append(dict(item))
        else:  # a bare value: treat it as something the user said
            messages.append({"role": "user", "content": item if isinstance(item, str) else json.dumps(item)})
    return messages


def format_instructions(
    expected_format: dict[str, str], *, list_mode: bool, pure_json_mode: bool, output_tag_start: str
) -> str:
    """The system message asking for JSON of the expected shape."""
    shape = json.dumps(expected_format, indent=2)
    outer_type = "object" if pure_json_mode or not list_mode else "array"
    if list_mode:
        shape = "[\n  " + shape.replace("\n", "\n  ") + ",\n  ...\n]"
        if pure_json_mode:
            # JSON mode can only return an object, so the list goes under "results".
            shape = '{\n  "reasoning": "... (optional)",\n  "results": ' + shape.replace("\n", "\n  ") + "\n}"
    if not pure_json_mode:
        shape = f"{output_tag_start}\n{shape}\n</json_output>"
    lines = [
        f"In your response you MUST include a valid JSON {outer_type} strictly following this format:",
        shape,
        "",
        "If you cannot provide all the keys, you MUST provide an empty string for the values you cannot answer.",
    ]
    if not pure_json_mode:
        lines += [
            "",
            f"You MUST enclose your final JSON answer in {output_tag_start}...</json_output> tags, "
            "even if the user specifies a different tag.",
            f"There MUST be exactly ONE {output_tag_start}...</json_output> block in your response, "
            f"which MUST ONLY contain the JSON {outer_type} and nothing else. "
            "Other text outside this block is allowed.",
        ]
    return "\n".join(lines)


def invalid_response_feedback(
    error: object, *, was_parseable: bool, list_mode: bool, pure_json_mode: bool, output_tag_start: str
) -> str:
    """The user message sent after an answer that could not be used."""
    outer_type = "object" if not list_mode or pure_json_mode else "array"
    if was_parseable:
        complaint = f"Your previous response did not match the expected {outer_type} format."
    else:
        complaint = f"Your previous response did not contain a parseable JSON {outer_type}."
    if pure_json_mode:
        instruction = f"Please provide a valid JSON {outer_type} that matches the expected format."
    else:
        instruction = (
            f"Please provide a {output_tag_start}...</json_output> block containing a valid JSON "
            f"{outer_type} that matches the expected format."
        )
    return f"{complaint}\n\n{error}\n\n{instruction}"


def json_from_response(text: str, *, pure_json_mode: bool, output_tag_start: str) -> Any:
    """The JSON in an answer: the whole text (JSON mode) or the tagged block.

    Raises ``ValueError`` (``json.JSONDecodeError`` included) when there is none.
    """
    if pure_json_mode:
        try:
            return json.loads(text)
        except json.JSONDecodeError as first_error:
            # Tolerate code fences or chatter around the object.
            start, end = text.find("{"), text.rfind("}")
            try:
                return json.loads(text[start : end + 1])
            except json.JSONDecodeError:
                raise first_error from None
    if output_tag_start not in text:
        raise ValueError(f"Response does not contain the expected {output_tag_start}...</json_output> block.")
    inner = text.split(output_tag_start, 1)[1].rsplit("</json_output>", 1)[0].strip()
    return json.loads(inner)


def _response_problem(item: object, expected_keys: set[str]) -> str | None:
    if not isinstance(item, dict):
        return f"Expected a dictionary, but got {type(item)}"
    missing = expected_keys - set(item)
    if missing:
        return f"Missing keys: {missing}"
    return None


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


# --- the blocks ----------------------------------------------------------------------------------


class SummaryStyle(enum.Enum):
    """AutoGPT's summary styles."""

    CONCISE = "concise"
    DETAILED = "detailed"
    BULLET_POINTS = "bullet points"
    NUMBERED_LIST = "numbered list"


class _LLMBlock(Block):
    """Base of the LLM blocks: holds the endpoint configuration."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = config


class AIStructuredResponseGeneratorBlock(_LLMBlock):
    """Asks the LLM for JSON of an expected shape, retrying until it fits."""

    id = "ed55ac19-356e-4243-a6cb-bc599e9b716f"
    description = (
        "A block that generates structured JSON responses using a Large Language Model (LLM), "
        "with schema validation and format enforcement."
    )
    categories = frozenset({BlockCategory.AI})

    class Input(BlockSchemaInput):
        prompt: str = SchemaField(
            description="The prompt to send to the language model.",
            placeholder="Enter your prompt here...",
        )
        expected_format: dict[str, str] = SchemaField(
            description="Expected format of the response. If provided, the response will be validated "
            "against this format. The keys should be the expected fields in the response, and the values "
            "should be the description of the field.",
        )
        list_result: bool = SchemaField(
            False,
            title="List Result",
            description="Whether the response should be a list of objects in the expected format.",
        )
        model: LlmModel = SchemaField(
            DEFAULT_LLM_MODEL,
            title="LLM Model",
            description="The language model to use for answering the prompt.",
            advanced=False,
        )
        force_json_output: bool = SchemaField(
            False,
            title="Restrict LLM to pure JSON output",
            description="Whether to force the LLM to produce a JSON-only response. This can increase the "
            "block's reliability, but may also reduce the quality of the response because it prohibits the "
            "LLM from reasoning before providing its JSON response.",
        )
        credentials: AICredentials | None = AICredentialsField()
        sys_prompt: str = SchemaField(
            "",
            title="System Prompt",
            description="The system prompt to provide additional context to the model.",
        )
        conversation_history: list[dict[str, Any]] | None = SchemaField(
            default_factory=list,
            description="The conversation history to provide context for the prompt.",
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
        max_tokens: int | None = SchemaField(
            None,
            advanced=True,
            description="The maximum number of tokens to generate in the chat completion.",
        )
        compress_prompt_to_fit: bool = SchemaField(
            True,
            advanced=True,
            description="Whether to compress the prompt to fit within the model's context window.",
        )
        ollama_host: str = SchemaField(
            "localhost:11434",
            advanced=True,
            description="Ollama host for local  models",
        )

    class Output(BlockSchemaOutput):
        response: dict[str, Any] | list[dict[str, Any]] = SchemaField(
            description="The response object generated by the language model."
        )
        prompt: list[Any] = SchemaField(description="The prompt sent to the language model.")

    def output_tag_id(self) -> str:
        """A fresh id for the ``<json_output>`` tag, so user text cannot collide with it."""
        return secrets.token_hex(8)

    async def run(self, input_data: Any, context: RunContext) -> BlockOutput:
        data = cast(AIStructuredResponseGeneratorBlock.Input, input_data)
        response, prompt = await self.generate(data, context)
        yield "response", response
        yield "prompt", prompt

    async def generate(self, data: Input, context: RunContext) -> tuple[Any, list[dict[str, Any]]]:
        """Run the prompt/parse/retry loop; return the response and the messages of the last call.

        Raises ``RuntimeError`` with the last problem when no attempt succeeds.
        """
        messages = _history_messages(data.conversation_history)
        prompt, sys_prompt = data.prompt, data.sys_prompt
        if data.prompt_values:  # AutoGPT renders only when there are values
            prompt = render_template(prompt, data.prompt_values)
            sys_prompt = render_template(sys_prompt, data.prompt_values)
        if sys_prompt:
            messages.append({"role": "system", "content": sys_prompt})
        tag_start = f'<json_output id="{self.output_tag_id()}">'
        if data.expected_format:
            messages.append(
                {
                    "role": "system",
                    "content": format_instructions(
                        data.expected_format,
                        list_mode=data.list_result,
                        pure_json_mode=data.force_json_output,
                        output_tag_start=tag_start,
                    ),
                }
            )
        if prompt:
            messages.append({"role": "user", "content": prompt})

        expected_keys = set(data.expected_format)
        max_tokens = data.max_tokens
        last_problem = f"The LLM was not called: retry is {data.retry}."
        for attempt in range(data.retry):
            sent = list(messages)
            try:
                completion = await self.call_llm(
                    data.model,
                    sent,
                    context,
                    max_tokens=max_tokens,
                    json_mode=data.force_json_output and bool(data.expected_format),
                    compress=data.compress_prompt_to_fit,
                    retry=attempt > 0,
                )
            except Exception as exc:
                last_problem = f"Error calling LLM: {exc}"
                if _is_context_length_error(str(exc).lower()):
                    max_tokens = max(1, int((max_tokens or data.model.max_output_tokens or 4096) * 0.85))
                    continue
                guidance = model_error_guidance(exc)
                if guidance:
                    last_problem += f"\n\n{guidance}"
                    break
                if isinstance(exc, LLMEndpointError) and exc.status_code in USER_ERROR_STATUS_CODES:
                    break
                continue

            text = completion.text
            if not data.expected_format:
                return {"response": text}, sent
            try:
                response = json_from_response(text, pure_json_mode=data.force_json_output, output_tag_start=tag_start)
            except ValueError as exc:
                last_problem = invalid_response_feedback(
                    exc,
                    was_parseable=False,
                    list_mode=data.list_result,
                    pure_json_mode=data.force_json_output,
                    output_tag_start=tag_start,
                )
                messages += [
                    {"role": "assistant", "content": text},
                    {"role": "user", "content": last_problem},
                ]
                continue

            if data.list_result and isinstance(response, dict):
                # JSON mode wraps the list in an object under "results".
                if isinstance(response.get("results"), list):
                    response = response["results"]
                else:
                    last_problem = f"Expected an array of objects in the 'results' key, but got: {response}"
                    messages += [
                        {"role": "assistant", "content": text},
                        {"role": "user", "content": last_problem},
                    ]
                    continue

            # As in AutoGPT, a list answer is accepted (and yielded as a list) even
            # without list_result, as long as every item has the expected keys.
            items = response if isinstance(response, list) else [response]
            problems = "\n".join(p for item in items if (p := _response_problem(item, expected_keys)))
            if not problems:
                return response, sent
            last_problem = invalid_response_feedback(
                problems,
                was_parseable=True,
                list_mode=data.list_result,
                pure_json_mode=data.force_json_output,
                output_tag_start=tag_start,
            )
            messages += [{"role": "assistant", "content": text}, {"role": "user", "content": last_problem}]
        raise RuntimeError(last_problem)

    async def call_llm(
        self,
        model: LlmModel,
        messages: list[dict[str, Any]],
        context: RunContext,
        *,
        max_tokens: int | None,
        json_mode: bool,
        compress: bool,
        retry: bool = False,
    ) -> ChatCompletion:
        """One chat-completions call for ``model``, recorded in the run's stats."""
        prompt = compress_messages(messages, model.context_window // 2) if compress else list(messages)
        prompt = _sanitize(prompt)
        limit: int | None = None
        if max_tokens is not None:
            available = max(model.context_window - estimate_tokens(prompt), 0)
            limit = max(min(available, model.max_output_tokens or 2**15, max_tokens), 1)
        base_url, api_key = self.config.endpoint_for(model.provider)
        client = ChatCompletionsClient(base_url, api_key, self.config.timeout_seconds)
        completion = await client.complete(
            self.config.model_override or model.value,
            prompt,
            max_tokens=limit,
            # OpenAI's current models only take max_completion_tokens.
            max_tokens_field="max_completion_tokens" if model.provider == "openai" else "max_tokens",
            json_mode=json_mode,
        )
        context.add_stats(
            llm_call_count=1,
            input_token_count=completion.prompt_tokens,
            output_token_count=completion.completion_tokens,
        )
        if retry:
            context.add_stats(llm_retry_count=1)
        return completion


class _DelegatingLLMBlock(_LLMBlock):
    """An LLM block that works through the structured response generator."""

    def __init__(self, config: LLMConfig) -> None:
        super().__init__(config)
        self.generator = AIStructuredResponseGeneratorBlock(config)


class AITextGeneratorBlock(_DelegatingLLMBlock):
    """Answers a prompt with free text."""

    id = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
    description = (
        "A block that produces text responses using a Large Language Model (LLM) based on customizable "
        "prompts and system instructions."
    )
    categories = frozenset({BlockCategory.AI})

    class Input(BlockSchemaInput):
        prompt: str = SchemaField(
            description="The prompt to send to the language model. You can use any of the {keys} from Prompt "
            "Values to fill in the prompt with values from the prompt values dictionary by putting them in "
            "curly braces.",
            placeholder="Enter your prompt here...",
        )
        model: LlmModel = SchemaField(
            DEFAULT_LLM_MODEL,
            title="LLM Model",
            description="The language model to use for answering the prompt.",
            advanced=False,
        )
        credentials: AICredentials | None = AICredentialsField()
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
        ollama_host: str = SchemaField(
            "localhost:11434",
            advanced=True,
            description="Ollama host for local  models",
        )
        max_tokens: int | None = SchemaField(
            None,
            advanced=True,
            description="The maximum number of tokens to generate in the chat completion.",
        )

    class Output(BlockSchemaOutput):
        response: str = SchemaField(description="The response generated by the language model.")
        prompt: list[Any] = SchemaField(description="The prompt sent to the language model.")

    async def run(self, input_data: Any, context: RunContext) -> BlockOutput:
        data = cast(AITextGeneratorBlock.Input, input_data)
        structured = AIStructuredResponseGeneratorBlock.Input(
            prompt=data.prompt,
            model=data.model,
            credentials=data.credentials,
            sys_prompt=data.sys_prompt,
            retry=data.retry,
            prompt_values=data.prompt_values,
            ollama_host=data.ollama_host,
            max_tokens=data.max_tokens,
            expected_format={},
        )
        response, prompt = await self.generator.generate(structured, context)
        yield "response", response["response"]
        yield "prompt", prompt


class AITextSummarizerBlock(_DelegatingLLMBlock):
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

    class Input(BlockSchemaInput):
        text: str = SchemaField(
            description="The text to summarize.",
            placeholder="Enter the text to summarize here...",
        )
        model: LlmModel = SchemaField(
            DEFAULT_LLM_MODEL,
            title="LLM Model",
            description="The language model to use for summarizing the text.",
        )
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
        credentials: AICredentials | None = AICredentialsField()
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
        ollama_host: str = SchemaField(
            "localhost:11434",
            advanced=True,
            description="Ollama host for local  models",
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


class AIListGeneratorBlock(_DelegatingLLMBlock):
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

    class Input(BlockSchemaInput):
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
        model: LlmModel = SchemaField(
            DEFAULT_LLM_MODEL,
            title="LLM Model",
            description="The language model to use for generating the list.",
            advanced=True,
        )
        credentials: AICredentials | None = AICredentialsField()
        max_retries: int = Field(
            3,
            ge=1,
            le=5,
            description="Maximum number of retries for generating a valid list.",
            json_schema_extra={"advanced": False},
        )
        force_json_output: bool = SchemaField(
            False,
            title="Restrict LLM to pure JSON output",
            description="Whether to force the LLM to produce a JSON-only response. This can increase the "
            "block's reliability, but may also reduce the quality of the response because it prohibits the "
            "LLM from reasoning before providing its JSON response.",
        )
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
                credentials=data.credentials,
                model=data.model,
                expected_format=expected_format,
                force_json_output=data.force_json_output,
                retry=data.max_retries,
                max_tokens=data.max_tokens,
                ollama_host=data.ollama_host,
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


class AIConversationBlock(_DelegatingLLMBlock):
    """Continues a multi-turn conversation."""

    id = "32a87eab-381e-4dd4-bdb8-4c47151be35a"
    description = (
        "A block that facilitates multi-turn conversations with a Large Language Model (LLM), maintaining "
        "context across message exchanges."
    )
    categories = frozenset({BlockCategory.AI})

    class Input(BlockSchemaInput):
        prompt: str = SchemaField(
            "",
            description="The prompt to send to the language model.",
            placeholder="Enter your prompt here...",
            advanced=False,
        )
        messages: list[Any] = SchemaField(description="List of messages in the conversation.")
        model: LlmModel = SchemaField(
            DEFAULT_LLM_MODEL,
            title="LLM Model",
            description="The language model to use for the conversation.",
        )
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
                credentials=data.credentials,
                model=data.model,
                conversation_history=data.messages,
                max_tokens=data.max_tokens,
                expected_format={},
                ollama_host=data.ollama_host,
            ),
            context,
        )
        yield "response", response["response"]
        yield "prompt", sent


def llm_blocks(config: LLMConfig) -> list[Block]:
    """The LLM blocks, all sending their calls where ``config`` says."""
    return [
        AITextGeneratorBlock(config),
        AIStructuredResponseGeneratorBlock(config),
        AITextSummarizerBlock(config),
        AIListGeneratorBlock(config),
        AIConversationBlock(config),
    ]
