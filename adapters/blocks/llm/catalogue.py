"""The LLM models AutoGPT's blocks offer, and the facts recorded about each.

The enum values are the ids graphs store; the table below holds each
model's provider, limits, display name, creator and price tier (no prices).
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from pydantic import GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


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
