"""What running a block costs: AutoGPT's block cost table and its filter matching.

A block's costs are a list of ``BlockCost`` entries. Before a node runs, the
**first** entry whose ``cost_filter`` matches the node's input decides the
price (``block_usage_cost``); a block with no entry, or no matching entry,
is free. A filter matches when every one of its keys matches the input's
value under that key, recursively (a dict filter is a subset of the input
dict); a missing, null or empty input value matches a falsy filter value.

Most filters name the platform's own credentials (``PLATFORM_CREDENTIALS``):
a block is charged only when it runs on the platform's key ("Use Credits
for OpenAI"); with the user's own key it is free.

Only ``run`` costs are charged before a node runs (the executor knows no
size or time yet, AutoGPT passes 0 for both), so ``byte`` and ``second``
entries cost nothing pre-run, as in AutoGPT's server era.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class BlockCostType(enum.StrEnum):
    """How a cost entry is priced (AutoGPT's ``BlockCostType``)."""

    RUN = "run"
    BYTE = "byte"
    SECOND = "second"


@dataclass(frozen=True)
class BlockCost:
    """One entry of a block's cost list (AutoGPT's ``BlockCost``)."""

    cost_amount: int
    cost_filter: dict[str, Any] = field(default_factory=dict)
    cost_type: BlockCostType = BlockCostType.RUN

    def as_dict(self) -> dict[str, Any]:
        """As ``GET /api/blocks`` lists it."""
        return {"cost_type": str(self.cost_type), "cost_filter": self.cost_filter, "cost_amount": self.cost_amount}


@dataclass(frozen=True)
class PlatformCredentials:
    """Credentials the platform provides (its own key) for one provider."""

    id: str
    provider: str
    title: str

    def filter(self, *, id_only: bool = False) -> dict[str, Any]:
        """The ``credentials`` filter of a cost entry that charges runs on these credentials."""
        if id_only:
            return {"id": self.id}
        return {"id": self.id, "provider": self.provider, "type": "api_key"}


def _platform(provider: str, credentials_id: str, title: str) -> PlatformCredentials:
    return PlatformCredentials(credentials_id, provider, f"Use Credits for {title}")


PLATFORM_CREDENTIALS: dict[str, PlatformCredentials] = {
    c.provider: c
    for c in (
        _platform("openai", "53c25cb8-e3ee-465c-a4d1-e75a4c899c2a", "OpenAI"),
        _platform("anthropic", "24e5d942-d9e3-4798-8151-90143ee55629", "Anthropic"),
        _platform("groq", "4ec22295-8f97-4dd1-b42b-2c6957a02545", "Groq"),
        _platform("open_router", "b5a0e27d-0c98-4df3-a4b9-10193e1f3c40", "Open Router"),
        _platform("aiml_api", "aad82a89-9794-4ebb-977f-d736aa5260a3", "AI/ML API"),
        _platform("llama_api", "d44045af-1c33-4833-9e19-752313214de2", "Llama API"),
        _platform("ollama", "744fdc56-071a-4761-b5a5-0af0ce10a2b5", "Ollama"),
        _platform("jina", "7f26de70-ba0d-494e-ba76-238e65e7b45f", "Jina"),
        _platform("replicate", "6b9fc200-4726-4973-86c9-cd526f5ce5db", "Replicate"),
        _platform("ideogram", "760f84fc-b270-42de-91f6-08efe1b512d0", "Ideogram"),
        _platform("revid", "fdb7f412-f519-48d1-9b5f-d2f73d0e01fe", "Revid"),
        _platform("d_id", "7f7b0654-c36b-4565-8fa7-9a52575dfae2", "D-ID"),
        _platform("unreal", "66f20754-1b81-48e4-91d0-f4f0dd82145f", "Unreal"),
        _platform("e2b", "78d19fd7-4d59-4a16-8277-3ce310acf2b7", "E2B"),
        _platform("exa", "96153e04-9c6c-4486-895f-5bb683b1ecec", "Exa search"),
        _platform("google_maps", "9aa1bde0-4947-4a70-a20c-84daa3850d52", "Google Maps"),
        _platform("apollo", "544c62b5-1d0f-4156-8fb4-9525f11656eb", "Apollo"),
    )
}
"""The platform's own credentials by provider (AutoGPT's ids: graphs name them)."""

PLATFORM_CREDENTIALS_IDS: frozenset[str] = frozenset(c.id for c in PLATFORM_CREDENTIALS.values())


def is_platform_credentials(reference: Any) -> bool:
    """True when a node's credentials reference names the platform's own credentials."""
    return isinstance(reference, Mapping) and reference.get("id") in PLATFORM_CREDENTIALS_IDS


# -- the LLM blocks: one RUN entry per model, priced per call -------------------------------

MODEL_COST: dict[str, tuple[str, int]] = {
    # model id: (provider, credits per call)
    "gpt-5-2025-08-07": ("openai", 2),
    "gpt-5-mini-2025-08-07": ("openai", 1),
    "gpt-5-nano-2025-08-07": ("openai", 1),
    "gpt-4.1-2025-04-14": ("openai", 2),
    "gpt-4o": ("openai", 3),
    "gpt-4o-mini": ("openai", 1),
    "o1": ("openai", 16),
    "o3-mini": ("openai", 2),
    "o3-2025-04-16": ("openai", 4),
    "claude-sonnet-4-20250514": ("anthropic", 5),
    "claude-sonnet-4-5-20250929": ("anthropic", 9),
    "claude-opus-4-1-20250805": ("anthropic", 21),
    "claude-opus-4-20250514": ("anthropic", 21),
    "claude-3-5-haiku-latest": ("anthropic", 1),
    "claude-3-haiku-20240307": ("anthropic", 1),
    "perplexity/sonar": ("open_router", 1),
    "perplexity/sonar-pro": ("open_router", 5),
    "perplexity/sonar-deep-research": ("open_router", 10),
    "google/gemini-2.5-pro": ("open_router", 4),
    "x-ai/grok-4": ("open_router", 9),
    "qwen/qwen3-coder": ("open_router", 9),
}
"""Credits per LLM call of the models AutoGPT's agents use (models not listed here are free)."""

LLM_BLOCK_IDS: dict[str, str] = {
    "1f292d4a-41a4-4977-9684-7c8d560b9f91": "AITextGeneratorBlock",
    "ed55ac19-356e-4243-a6cb-bc599e9b716f": "AIStructuredResponseGeneratorBlock",
    "a0a69be1-4528-491c-a85a-a4ab6873e3f0": "AITextSummarizerBlock",
    "9c0b0450-d199-458b-a731-072189dd6593": "AIListGeneratorBlock",
    "32a87eab-381e-4dd4-bdb8-4c47151be35a": "AIConversationBlock",
    "3b191d9f-356f-482d-8238-ba04b6d18381": "SmartDecisionMakerBlock",
}
"""The blocks that share ``LLM_COST`` (SmartDecisionMaker's id is AutoGPT's; this build has no such block yet)."""


def _llm_cost() -> list[BlockCost]:
    costs = []
    for model, (provider, amount) in MODEL_COST.items():
        credentials = PLATFORM_CREDENTIALS[provider].filter(id_only=provider == "groq")
        costs.append(BlockCost(amount, {"model": model, "credentials": credentials}))
    return costs


LLM_COST: list[BlockCost] = _llm_cost()


def _on_platform(provider: str, amount: int, **extra: Any) -> BlockCost:
    return BlockCost(amount, {**extra, "credentials": PLATFORM_CREDENTIALS[provider].filter()})


BLOCK_COSTS: dict[str, list[BlockCost]] = {
    **dict.fromkeys(LLM_BLOCK_IDS, LLM_COST),
    # the other entries of AutoGPT's table whose block ids are recorded (this build has none of these blocks yet)
    "87840993-2053-44b7-8da4-187ad4ee518c": [_on_platform("jina", 1)],  # SearchTheWebBlock
    "436c3984-57fd-4b85-8e9a-459b356883bd": [_on_platform("jina", 1, raw_content=False)],  # ExtractWebsiteContent
    "6ab085e2-20b3-4055-bc3e-08036e01eca6": [  # IdeogramModelBlock: the 16 entry is first and matches first
        _on_platform("ideogram", 16),
        _on_platform("ideogram", 18, ideogram_model_name="V_3"),
    ],
    "361697fb-0c4f-4feb-aed3-8320c88c771b": [_on_platform("revid", 50)],  # AIShortformVideoCreatorBlock
    "90f8c45e-e983-4644-aa0b-b4ebe2f531bc": [_on_platform("replicate", 10)],  # ReplicateFluxAdvancedModelBlock
}
"""Cost entries by block id; a block not listed is free."""


def costs_of(block_id: str) -> list[BlockCost]:
    """The cost entries of a block (empty: free)."""
    return BLOCK_COSTS.get(block_id, [])


def filter_matches(cost_filter: Any, data: Any) -> bool:
    """AutoGPT's ``_is_cost_filter_match``: does ``data`` satisfy ``cost_filter``?

    A dict filter matches a dict whose values match each of its keys (extra
    keys of the input do not matter); a missing, null or empty value matches
    any falsy filter value; anything else must be equal.
    """
    if not isinstance(cost_filter, dict) or not isinstance(data, dict):
        return bool(cost_filter == data)
    return all(
        (not data.get(key) and not value) or (bool(data.get(key)) and filter_matches(value, data[key]))
        for key, value in cost_filter.items()
    )


def block_usage_cost(block_id: str, input_data: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """What one run of the block on ``input_data`` costs before it runs, and the filter that priced it.

    The first matching entry wins; ``(0, {})`` when none matches. A ``run``
    entry costs its amount; ``byte`` and ``second`` entries cost 0 before the
    run (no size, no time yet).
    """
    data = dict(input_data)
    for cost in costs_of(block_id):
        if filter_matches(cost.cost_filter, data):
            amount = cost.cost_amount if cost.cost_type == BlockCostType.RUN else 0
            return amount, cost.cost_filter
    return 0, {}


EXECUTION_COST_THRESHOLD = 100
"""Every this many node executions of a user cost ``EXECUTION_COST_PER_THRESHOLD`` (AutoGPT's settings)."""

EXECUTION_COST_PER_THRESHOLD = 1
