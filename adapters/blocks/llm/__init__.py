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
secrets never travel through node inputs. The executor opens the referenced
credentials for the node's run (``domain.credentials.run_credentials``) and
their API key is the bearer key of the call; a node with no credentials uses
the configured key (``AGENTGRAPH_LLM_API_KEY``, the embedded demo's).

The modules: ``catalogue`` (the models and their facts), ``credentials`` (the
credentials pin), ``config`` and ``client`` (the endpoint), ``errors`` (what a
failed call means), ``messages`` and ``json_output`` (what is sent and read
back), ``inputs`` (the pins the blocks share), ``structured`` (the generator
the other blocks work through) and one module per other block.
"""

from __future__ import annotations

from adapters.blocks.llm.catalogue import DEFAULT_LLM_MODEL, LlmModel
from adapters.blocks.llm.config import LLMConfig
from adapters.blocks.llm.conversation import AIConversationBlock
from adapters.blocks.llm.list_generator import AIListGeneratorBlock
from adapters.blocks.llm.structured import AIStructuredResponseGeneratorBlock
from adapters.blocks.llm.summarizer import AITextSummarizerBlock
from adapters.blocks.llm.text import AITextGeneratorBlock
from domain.blocks.base import Block

__all__ = [
    "DEFAULT_LLM_MODEL",
    "AIConversationBlock",
    "AIListGeneratorBlock",
    "AIStructuredResponseGeneratorBlock",
    "AITextGeneratorBlock",
    "AITextSummarizerBlock",
    "LLMConfig",
    "LlmModel",
    "llm_blocks",
]


def llm_blocks(config: LLMConfig) -> list[Block]:
    """The LLM blocks, all sending their calls where ``config`` says."""
    return [
        AITextGeneratorBlock(config),
        AIStructuredResponseGeneratorBlock(config),
        AITextSummarizerBlock(config),
        AIListGeneratorBlock(config),
        AIConversationBlock(config),
    ]
