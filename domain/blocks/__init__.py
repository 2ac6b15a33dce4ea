"""The block library: AutoGPT-compatible blocks and the registry to find them."""

from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockError,
    BlockExecutionError,
    BlockInputError,
    BlockOutput,
    BlockSchema,
    BlockSchemaInput,
    BlockSchemaOutput,
    BlockType,
    RunContext,
    SchemaField,
)

__all__ = [
    "Block",
    "BlockCategory",
    "BlockError",
    "BlockExecutionError",
    "BlockInputError",
    "BlockOutput",
    "BlockSchema",
    "BlockSchemaInput",
    "BlockSchemaOutput",
    "BlockType",
    "RunContext",
    "SchemaField",
]
