"""The block base: strict execution, output checks, schema shape."""

from __future__ import annotations

from typing import Any

import pytest

from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockExecutionError,
    BlockInputError,
    BlockOutput,
    BlockOutputError,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)


class _Sample(Block):
    """A block whose behaviour the test chooses through its input."""

    id = "00000000-0000-4000-8000-000000000001"
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        mode: str = SchemaField(description="what to do")
        count: int = SchemaField(1, description="how many")

    class Output(BlockSchemaOutput):
        number: int = SchemaField(description="a number")
        anything: Any = SchemaField(description="anything")

    async def run(self, input_data: Any, context: RunContext) -> BlockOutput:
        if input_data.mode == "ok":
            for i in range(input_data.count):
                yield "number", i
        elif input_data.mode == "wrong-type":
            yield "number", "not a number"
        elif input_data.mode == "unknown-pin":
            yield "nope", 1
        elif input_data.mode == "error-pin":
            yield "number", 1
            yield "error", "it broke"
        elif input_data.mode == "raise":
            raise ValueError("bad value")
        else:
            yield "anything", object()


async def _execute(data: dict[str, Any]) -> list[tuple[str, Any]]:
    return [item async for item in _Sample().execute(data)]


async def test_outputs_stream_in_order() -> None:
    assert await _execute({"mode": "ok", "count": 3}) == [("number", 0), ("number", 1), ("number", 2)]


async def test_a_value_of_the_wrong_type_is_an_output_error() -> None:
    with pytest.raises(BlockOutputError, match="Block produced an invalid output data: number"):
        await _execute({"mode": "wrong-type"})


async def test_an_undeclared_pin_is_an_output_error() -> None:
    with pytest.raises(BlockOutputError, match="unknown output pin 'nope'"):
        await _execute({"mode": "unknown-pin"})


async def test_any_pins_take_anything() -> None:
    ((pin, _),) = await _execute({"mode": "object"})
    assert pin == "anything"


async def test_a_yield_on_error_fails_the_run_with_that_message() -> None:
    with pytest.raises(BlockExecutionError, match=r"^it broke$"):
        await _execute({"mode": "error-pin"})


async def test_exceptions_become_execution_errors() -> None:
    with pytest.raises(BlockExecutionError, match="bad value") as info:
        await _execute({"mode": "raise"})
    assert info.value.block_name == "_Sample" and info.value.block_id == _Sample.id


async def test_invalid_input_names_every_problem_and_none_values_are_dropped() -> None:
    with pytest.raises(BlockInputError) as info:
        await _execute({"count": "many", "mode": None})
    assert "mode" in info.value.message and "count" in info.value.message


def test_schemas_are_inlined_and_mark_advanced_and_required() -> None:
    schema = _Sample.Input.jsonschema()
    assert schema["required"] == ["mode"]
    assert schema["properties"]["count"]["advanced"] is False
    assert "advanced" not in schema["properties"]["mode"]
    assert _Sample.Output.jsonschema()["properties"]["error"]["type"] == "string"
