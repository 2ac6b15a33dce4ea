"""Graph validation: every problem reported at once, AutoGPT's wording."""

from __future__ import annotations

import pytest

from domain.blocks.registry import BlockRegistry, all_blocks
from domain.graph import GraphContent, Link, Node
from domain.graph_validation import GraphValidationError, sanitize_pin_name, validate_graph

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
CALCULATOR = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
STORE_VALUE = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
FILL_TEMPLATE = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"
NOTE = "cc10ff7b-7753-4ff2-9af6-9399b1a7eddc"
FIND_IN_DICT = "0e50422c-6dee-4145-83d6-3a5a392f65de"

get_block = BlockRegistry(all_blocks()).get


def calculator_graph() -> GraphContent:
    return GraphContent(
        name="calc",
        nodes=[
            Node(id="in", block_id=INPUT, input_default={"name": "Input"}),
            Node(id="calc", block_id=CALCULATOR, input_default={"b": 34, "operation": "Add"}),
            Node(id="out", block_id=OUTPUT, input_default={"name": "Output"}),
        ],
        links=[
            Link(id="l1", source_id="in", sink_id="calc", source_name="result", sink_name="a"),
            Link(id="l2", source_id="calc", sink_id="out", source_name="result", sink_name="value"),
        ],
    )


def problems(content: GraphContent) -> GraphValidationError:
    with pytest.raises(GraphValidationError) as info:
        validate_graph(content, get_block)
    return info.value


def test_a_valid_graph_passes_and_links_out_of_static_blocks_become_static() -> None:
    result = validate_graph(calculator_graph(), get_block)
    static = {link.id: link.is_static for link in result.links}
    assert static == {"l1": True, "l2": False}  # the input block has static output


@pytest.mark.parametrize(
    ("pin", "base"),
    [
        ("values_#_name", "values"),
        ("items_$_0", "items"),
        ("obj_@_attr", "obj"),
        ("values_#_a_$_1", "values"),
        ("tools_^_search_~_q", "tools"),
        ("plain", "plain"),
    ],
)
def test_dynamic_pin_names_resolve_to_their_base_field(pin: str, base: str) -> None:
    assert sanitize_pin_name(pin) == base


def test_dynamic_pins_are_accepted_on_both_sides_of_a_link() -> None:
    content = GraphContent(
        name="dyn",
        nodes=[
            Node(id="in", block_id=INPUT, input_default={"name": "person"}),
            Node(id="find", block_id=FIND_IN_DICT, input_default={"key": "x"}),
            Node(id="fill", block_id=FILL_TEMPLATE, input_default={"format": "{{name}}"}),
        ],
        links=[
            Link(source_id="in", sink_id="find", source_name="result", sink_name="input"),
            Link(source_id="find", sink_id="fill", source_name="output_#_name", sink_name="values_#_name"),
        ],
    )
    validate_graph(content, get_block)


def test_every_problem_is_reported_in_one_answer() -> None:
    content = GraphContent(
        name="broken",
        nodes=[
            Node(id="in", block_id=INPUT, input_default={}),  # no name
            Node(id="calc", block_id=CALCULATOR, input_default={"operation": "Add"}),  # no a, no b
            Node(id="ghost", block_id="00000000-0000-0000-0000-000000000000"),
            Node(id="dup", block_id=NOTE, input_default={"text": "x"}),
            Node(id="dup", block_id=NOTE, input_default={"text": "y"}),
        ],
        links=[
            Link(source_id="in", sink_id="calc", source_name="nope", sink_name="a"),
            Link(source_id="calc", sink_id="missing-node", source_name="result", sink_name="value"),
            Link(source_id="in", sink_id="calc", source_name="result", sink_name="zz_#_k"),
        ],
    )
    error = problems(content)
    assert error.node_errors["in"]["name"] == "This field is required"
    assert error.node_errors["calc"]["b"] == "This field is required"
    assert "a" not in error.node_errors["calc"]  # linked, so provided
    assert error.node_errors["ghost"]["block_id"] == (
        "Invalid block 00000000-0000-0000-0000-000000000000 for node #ghost"
    )
    assert error.node_errors["in"]["nope"].startswith("Link ('in', 'nope') <-> ('calc', 'a'), `nope` invalid")
    assert "Allowed fields: ['result']" in error.node_errors["in"]["nope"]
    assert "`zz_#_k` invalid" in error.node_errors["calc"]["zz_#_k"]
    assert any("Duplicate node id 'dup'" in m for m in error.graph_errors)
    assert any(
        m.startswith("Link ('calc', 'result') <-> ('missing-node', 'value'), missing-node is invalid node id")
        for m in error.graph_errors
    )
    body = error.as_dict()
    assert set(body) == {"node_errors", "graph_errors"}


def test_note_blocks_need_no_inputs_and_credentials_names_are_reserved() -> None:
    content = GraphContent(
        name="notes",
        nodes=[
            Node(id="note", block_id=NOTE, input_default={}),
            Node(id="in", block_id=INPUT, input_default={"name": "openai_credentials"}),
        ],
    )
    error = problems(content)
    assert "note" not in error.node_errors
    assert error.node_errors["in"]["name"] == (
        "'openai_credentials' is a reserved input name: 'credentials' and `*_credentials` are reserved"
    )


def test_a_preset_none_is_not_a_value() -> None:
    content = calculator_graph()
    nodes = [
        n if n.id != "calc" else n.model_copy(update={"input_default": {"b": None, "operation": "Add"}})
        for n in content.nodes
    ]
    error = problems(content.model_copy(update={"nodes": nodes}))
    assert error.node_errors == {"calc": {"b": "This field is required"}}


def test_store_value_links_are_forced_static() -> None:
    content = GraphContent(
        name="store",
        nodes=[
            Node(id="in", block_id=INPUT, input_default={"name": "x"}),
            Node(id="store", block_id=STORE_VALUE, input_default={"data": 5}),
            Node(id="out", block_id=OUTPUT, input_default={"name": "y"}),
        ],
        links=[
            Link(id="a", source_id="in", sink_id="store", source_name="result", sink_name="input"),
            Link(id="b", source_id="store", sink_id="out", source_name="output", sink_name="value"),
        ],
    )
    assert all(link.is_static for link in validate_graph(content, get_block).links)
