"""The library aggregates as short stories: an entry's id, store grants, changes, deletion; a preset's changes."""

from __future__ import annotations

from domain.library_agent import LibraryAgent, library_agent_id
from domain.preset import AgentPreset


def test_an_entry_is_found_from_its_user_and_graph() -> None:
    assert library_agent_id("u", "g") == library_agent_id("u", "g") != library_agent_id("v", "g")
    assert LibraryAgent.for_own_graph("u", "g", 3).id == library_agent_id("u", "g")


def test_a_store_entry_lets_its_user_run_the_granted_versions_until_deleted() -> None:
    entry = LibraryAgent.from_store("u", "g", 2, image_url=None, creator_name="c", creator_image_url=None)
    assert entry.may_run(2) and not entry.may_run(1)
    entry.add_store_version(3)
    assert entry.graph_version == 3 and entry.may_run(2) and entry.may_run(3)
    entry.delete()
    assert not entry.may_run(3)
    entry.add_store_version(3)  # added again: back
    assert entry.may_run(3) and not entry.is_deleted


def test_an_update_records_only_what_changes_and_a_deletion_names_user_and_graph() -> None:
    entry = LibraryAgent.for_own_graph("u", "g", 1)
    entry.update(is_favorite=False)
    assert [type(e).__name__ for e in entry.collect_events()] == ["Created"]
    entry.update(is_favorite=True, is_archived=False)
    entry.delete()
    entry.delete()
    updated, deleted = entry.collect_events()
    assert isinstance(updated, LibraryAgent.Updated) and updated.is_favorite is True and updated.is_archived is None
    assert isinstance(deleted, LibraryAgent.Deleted) and (deleted.user_id, deleted.graph_id) == ("u", "g")


def test_a_preset_changes_and_is_deleted_once() -> None:
    preset = AgentPreset.create(
        preset_id=library_agent_id("u", "p"),
        user_id="u",
        graph_id="g",
        graph_version=1,
        name="n",
        description="",
        is_active=True,
        inputs={"a": 1},
        credentials={},
    )
    preset.update({"name": "n", "is_active": False, "unknown": 1})
    preset.delete()
    preset.delete()
    events = preset.collect_events()
    assert [type(e).__name__ for e in events] == ["Created", "Updated", "Deleted"]
    assert events[1].changes == {"is_active": False}  # type: ignore[attr-defined]
