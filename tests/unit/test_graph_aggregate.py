"""The Graph aggregate: versions, active version, soft delete, replay."""

from __future__ import annotations

import pytest
from eventsourcing.application import Application

from domain.graph import Graph, GraphContent, GraphDeletedError, Link, Node, UnknownVersionError


def _content(name: str, nodes: int = 1) -> GraphContent:
    made = [Node(id=f"n{i}", block_id="b1ab9b19-67a6-406d-abf5-2dba76d00c79") for i in range(nodes)]
    links = [Link(source_id="n0", sink_id="n1", source_name="result", sink_name="a")] if nodes > 1 else []
    return GraphContent(name=name, description=f"{name} desc", nodes=made, links=links)


def test_a_new_graph_starts_at_version_one_and_active() -> None:
    graph = Graph.create("alice", _content("first"))
    assert (graph.active_version, graph.content().name, graph.user_id) == (1, "first", "alice")
    assert graph.version_created_at[1]


def test_each_change_is_a_new_immutable_version() -> None:
    graph = Graph.create("alice", _content("v1"))
    assert graph.add_version(_content("v2", nodes=2)) == 2
    assert graph.add_version(_content("v3")) == 3
    assert graph.content(1).name == "v1"
    assert len(graph.content(2).nodes) == 2
    assert graph.active_version == 3  # the newest becomes active by default


def test_choosing_an_older_active_version() -> None:
    graph = Graph.create("alice", _content("v1"))
    graph.add_version(_content("v2"))
    graph.set_active_version(1)
    assert graph.content().name == "v1"
    assert graph.active_version != 2
    with pytest.raises(UnknownVersionError):
        graph.set_active_version(7)


def test_a_deleted_graph_keeps_its_history_but_takes_no_changes() -> None:
    graph = Graph.create("alice", _content("v1"))
    graph.delete()
    assert graph.is_deleted
    assert graph.content(1).name == "v1"
    with pytest.raises(GraphDeletedError):
        graph.add_version(_content("v2"))
    with pytest.raises(GraphDeletedError):
        graph.delete()


def test_replaying_the_events_gives_back_every_version() -> None:
    app: Application = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    graph = Graph.create("alice", _content("v1"))
    for i in range(2, 6):
        graph.add_version(_content(f"v{i}", nodes=2))
    graph.set_active_version(3)
    app.save(graph)
    copy = app.repository.get(graph.id)
    assert isinstance(copy, Graph)
    assert [copy.content(v).name for v in range(1, 6)] == ["v1", "v2", "v3", "v4", "v5"]
    assert copy.active_version == 3
    assert copy.content(4).links == graph.content(4).links


def test_events_are_named_as_past_tense_facts() -> None:
    graph = Graph.create("alice", _content("v1"))
    graph.add_version(_content("v2"))
    graph.set_active_version(1)
    graph.delete()
    names = [type(e).__qualname__ for e in graph.collect_events()]
    assert names == ["Graph.Created", "Graph.VersionCreated", "Graph.ActiveVersionChanged", "Graph.Deleted"]
