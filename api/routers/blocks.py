"""``/api/blocks``: the block library (``queries``), and running one block on its own (``commands``)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException
from fastapi.encoders import jsonable_encoder
from pydantic import AfterValidator, BaseModel, Field

from api.auth import CurrentUser
from api.composition import ContainerDep
from api.errors import responses
from api.json_response import SafeJSONResponse, finite_json
from domain.blocks.base import BlockExecutionError, RunContext
from domain.json_codec import check_json_limits

commands = APIRouter(prefix="/api/blocks", tags=["blocks"], responses=responses(400, 401, 404, 413, 422))
queries = APIRouter(prefix="/api/blocks", tags=["blocks"], responses=responses(400, 401, 404, 413, 422))


class BlockCategoryInfo(BaseModel):
    """A block category."""

    category: str
    description: str


class BlockInfo(BaseModel):
    """A block as AutoGPT's ``GET /blocks`` lists it."""

    id: str
    name: str
    description: str
    categories: list[BlockCategoryInfo]
    inputSchema: dict[str, Any] = Field(description="JSON Schema of the input pins")  # noqa: N815 - AutoGPT's key
    outputSchema: dict[str, Any] = Field(description="JSON Schema of the output pins")  # noqa: N815
    staticOutput: bool  # noqa: N815
    uiType: str  # noqa: N815
    blockType: str  # noqa: N815
    contributors: list[Any]
    costs: list[Any]
    pure: bool = Field(
        description="Ours, not AutoGPT's: True when the block has no effect outside the run, so it may run "
        "ahead of the commit and recompute after a crash; a block that is not pure starts only once its "
        "inputs and its start are durable"
    )


@queries.get("", summary="List every block with its JSON Schemas")
def list_blocks(_: CurrentUser, container: ContainerDep) -> list[BlockInfo]:
    """Every block (AutoGPT's BlockInfo)."""
    return [BlockInfo.model_validate(block.info()) for block in container.blocks.all() if not block.disabled]


@commands.post(
    "/{block_id}/execute",
    summary="Run one block on an input dict",
    response_model=dict[str, list[Any]],
)
async def execute_block(
    block_id: str,
    user: CurrentUser,
    container: ContainerDep,
    data: Annotated[
        dict[str, Any], AfterValidator(check_json_limits), Body(examples=[{"a": 8, "b": 34, "operation": "Add"}])
    ],
) -> SafeJSONResponse:
    """Run the block once on ``data`` and return ``{pin: [values]}``.

    An unknown block is 404; invalid input or a failing block is 400 with the
    block's message. The block runs as a graph node would (the same runner,
    so a CPU-bound block runs in a worker process, with the same size caps
    and template budget), within ``AGENTGRAPH_BLOCK_EXECUTE_TIMEOUT_SECONDS``:
    past it the work is stopped and the answer is a 400 ``block_failed``.
    """
    block = container.blocks.get(block_id)
    if block is None or block.disabled:
        raise HTTPException(status_code=404, detail=f"Block {block_id} not found")
    outputs: dict[str, list[Any]] = {}
    timeout = container.settings.block_execute_timeout_seconds
    try:
        async with asyncio.timeout(timeout):
            async for pin, value in container.block_runner.execute(block, data, RunContext(user_id=user.user_id)):
                outputs.setdefault(pin, []).append(value)
    except TimeoutError:
        raise BlockExecutionError(
            f"Block execution timed out after {timeout:g} seconds", block.name(), block.id
        ) from None
    # returned as a response so non-finite numbers keep their names (see json_response)
    return SafeJSONResponse(jsonable_encoder(finite_json(outputs)))
