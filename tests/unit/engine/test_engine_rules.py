"""AutoGPT's execution semantics, run end to end on the embedded platform."""

from __future__ import annotations

from tests.unit.engine.harness import (
    CALCULATOR,
    CONDITION,
    CREATE_DICT,
    FILL_TEMPLATE,
    FIND_IN_DICT,
    GET_LIST_ITEM,
    INPUT,
    OUTPUT,
    STEP_THROUGH,
    STORE_VALUE,
    Platform,
    link,
    node,
    outputs_of,
)


async def test_the_calculator_agent_gives_42_for_8(platform: Platform) -> None:
    graph = platform.add_graph(
        [
            node("in", INPUT, name="Input"),
            node("calc", CALCULATOR, operation="Add", b=34),
            node("out", OUTPUT, name="Output"),
        ],
        [link("in", "result", "calc", "a"), link("calc", "result", "out", "value")],
    )
    execution = await platform.run(graph, {"Input": 8})
    assert execution.status == "COMPLETED"
    assert dict(execution.outputs) == {"Output": [42.0]}
    assert [n.status for n in execution.node_executions.values()] == ["COMPLETED"] * 3
    assert execution.stats["node_exec_count"] == 3 and execution.stats["node_error_count"] == 0


async def test_a_static_link_feeds_every_later_run_of_its_sink(platform: Platform) -> None:
    # the constant 10 arrives once over a static link; three items each trigger one addition
    graph = platform.add_graph(
        [
            node("items", STEP_THROUGH, items=[1, 2, 3]),
            node("const", STORE_VALUE, data=10, input="go"),
            node("add", CALCULATOR, operation="Add"),
            node("out", OUTPUT, name="sums"),
        ],
        [
            link("const", "output", "add", "b"),  # forced static: StoreValue has static output
            link("items", "item", "add", "a"),
            link("add", "result", "out", "value"),
        ],
    )
    execution = await platform.run(graph)
    assert sorted(execution.outputs["sums"]) == [11.0, 12.0, 13.0]
    assert len(outputs_of(execution, "add")) == 3


async def test_a_non_static_link_delivers_its_value_once(platform: Platform) -> None:
    # b arrives once over a plain link: only the first item finds a partner, the rest wait forever
    graph = platform.add_graph(
        [
            node("items", STEP_THROUGH, items=[1, 2, 3]),
            node("once", CALCULATOR, operation="Add", a=0, b=10),
            node("add", CALCULATOR, operation="Add"),
            node("out", OUTPUT, name="sums"),
        ],
        [
            link("once", "result", "add", "b"),
            link("items", "item", "add", "a"),
            link("add", "result", "out", "value"),
        ],
    )
    execution = await platform.run(graph)
    assert execution.status == "COMPLETED"
    assert len(execution.outputs["sums"]) == 1
    waiting = [n for n in execution.node_executions.values() if n.node_id == "add" and n.status == "INCOMPLETE"]
    assert len(waiting) == 2  # still missing b: never run


async def test_step_through_items_fans_out_one_run_per_item(platform: Platform) -> None:
    graph = platform.add_graph(
        [
            node("in", INPUT, name="words"),
            node("each", STEP_THROUGH),
            node("fmt", FILL_TEMPLATE, format="<{{w}}>"),
            node("out", OUTPUT, name="wrapped"),
        ],
        [
            link("in", "result", "each", "items"),
            link("each", "item", "fmt", "values_#_w"),
            link("fmt", "output", "out", "value"),
        ],
    )
    execution = await platform.run(graph, {"words": ["a", "b", "c", "d"]})
    # the templates render in parallel worker processes: they finish in any order (as AutoGPT's node threads do)
    assert sorted(execution.outputs["wrapped"]) == ["<a>", "<b>", "<c>", "<d>"]
    assert len(outputs_of(execution, "fmt")) == 4


async def test_dynamic_pins_on_both_sides_of_links(platform: Platform) -> None:
    graph = platform.add_graph(
        [
            node("person", CREATE_DICT, values={"name": "Ada", "langs": ["en", "fr"]}),
            node("fmt", FILL_TEMPLATE, format="{{who}} speaks {{first}}"),
            node("out", OUTPUT, name="sentence"),
        ],
        [
            link("person", "dictionary_#_name", "fmt", "values_#_who"),
            link("person", "dictionary_#_langs_$_0", "fmt", "values_#_first"),
            link("fmt", "output", "out", "value"),
        ],
    )
    execution = await platform.run(graph)
    assert execution.outputs["sentence"] == ["Ada speaks en"]


async def test_the_missing_pin_flows_downstream(platform: Platform) -> None:
    graph = platform.add_graph(
        [
            node("in", INPUT, name="data"),
            node("find", FIND_IN_DICT, key="absent"),
            node("found", OUTPUT, name="found"),
            node("missing", OUTPUT, name="missing"),
        ],
        [
            link("in", "result", "find", "input"),
            link("find", "output", "found", "value"),
            link("find", "missing", "missing", "value"),
        ],
    )
    execution = await platform.run(graph, {"data": {"present": 1}})
    assert dict(execution.outputs) == {"missing": [{"present": 1}]}


async def test_a_failing_node_fails_alone_and_its_error_flows_on(platform: Platform) -> None:
    graph = platform.add_graph(
        [
            node("in", INPUT, name="items"),
            node("bad", GET_LIST_ITEM, index=5),  # out of range: the block yields an error
            node("err", OUTPUT, name="problem"),
        ],
        [link("in", "result", "bad", "list"), link("bad", "error", "err", "value")],
    )
    execution = await platform.run(graph, {"items": [1, 2]})
    assert execution.status == "COMPLETED"  # a node failure does not fail the run
    bad = outputs_of(execution, "bad")[0]
    assert "error" in bad
    [failed] = [n for n in execution.node_executions.values() if n.node_id == "bad"]
    assert failed.status == "FAILED"
    assert execution.outputs["problem"] == bad["error"] == ["Index out of range"]
    assert failed.error == "Index out of range"
    assert execution.stats["node_error_count"] == 1


async def test_branches_not_taken_never_run(platform: Platform) -> None:
    graph = platform.add_graph(
        [
            node("in", INPUT, name="n"),
            node("cond", CONDITION, operator=">", value2=5, yes_value="big", no_value="small"),
            node("yes", OUTPUT, name="yes"),
            node("no", OUTPUT, name="no"),
        ],
        [
            link("in", "result", "cond", "value1"),
            link("cond", "yes_output", "yes", "value"),
            link("cond", "no_output", "no", "value"),
        ],
    )
    execution = await platform.run(graph, {"n": 9})
    assert dict(execution.outputs) == {"yes": ["big"]}


async def test_a_run_stays_on_the_version_it_started_with(platform: Platform) -> None:
    nodes = [
        node("in", INPUT, name="x"),
        node("calc", CALCULATOR, operation="Add", b=1),
        node("out", OUTPUT, name="y"),
    ]
    links = [link("in", "result", "calc", "a"), link("calc", "result", "out", "value")]
    graph = platform.add_graph(nodes, links)
    v2 = [
        node("in", INPUT, name="x"),
        node("calc", CALCULATOR, operation="Add", b=100),
        node("out", OUTPUT, name="y"),
    ]
    assert platform.add_version(graph, v2, links) == 2
    v1_run = await platform.wait(platform.request(graph, {"x": 1}, version=1))
    v2_run = await platform.run(graph, {"x": 1})
    assert (v1_run.graph_version, v1_run.outputs["y"]) == (1, [2.0])
    assert (v2_run.graph_version, v2_run.outputs["y"]) == (2, [101.0])
