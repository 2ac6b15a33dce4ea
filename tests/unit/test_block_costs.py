"""The cost table and AutoGPT's filter matching, as short stories."""

from __future__ import annotations

from domain.block_costs import (
    PLATFORM_CREDENTIALS,
    BlockCost,
    block_usage_cost,
    costs_of,
    filter_matches,
    is_platform_credentials,
)

TEXT_GENERATOR = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
IDEOGRAM = "6ab085e2-20b3-4055-bc3e-08036e01eca6"
EXTRACT_WEBSITE = "436c3984-57fd-4b85-8e9a-459b356883bd"
OPENAI = PLATFORM_CREDENTIALS["openai"]
PLATFORM_OPENAI = {"id": OPENAI.id, "provider": "openai", "type": "api_key", "title": OPENAI.title}


def test_an_llm_call_on_the_platforms_openai_key_costs_its_models_price() -> None:
    cost, matched = block_usage_cost(TEXT_GENERATOR, {"model": "gpt-4o-mini", "credentials": PLATFORM_OPENAI})
    assert cost == 1
    assert matched == {
        "model": "gpt-4o-mini",
        "credentials": {"id": OPENAI.id, "provider": "openai", "type": "api_key"},
    }
    assert block_usage_cost(TEXT_GENERATOR, {"model": "gpt-4o", "credentials": PLATFORM_OPENAI})[0] == 3


def test_the_users_own_key_or_no_key_is_free() -> None:
    own = {"id": "c6f6a2f0-0000-4000-8000-000000000000", "provider": "openai", "type": "api_key"}
    assert block_usage_cost(TEXT_GENERATOR, {"model": "gpt-4o-mini", "credentials": own}) == (0, {})
    assert block_usage_cost(TEXT_GENERATOR, {"model": "gpt-4o-mini"}) == (0, {})


def test_a_block_not_in_the_table_is_free() -> None:
    assert costs_of("b1ab9b19-67a6-406d-abf5-2dba76d00c79") == []
    assert block_usage_cost("b1ab9b19-67a6-406d-abf5-2dba76d00c79", {"a": 1}) == (0, {})


def test_the_first_matching_entry_wins() -> None:
    ideogram = {**PLATFORM_OPENAI, "id": PLATFORM_CREDENTIALS["ideogram"].id, "provider": "ideogram"}
    assert block_usage_cost(IDEOGRAM, {"ideogram_model_name": "V_3", "credentials": ideogram})[0] == 16


def test_a_missing_null_or_empty_value_matches_a_falsy_filter_value() -> None:
    assert filter_matches({"raw_content": False}, {})
    assert filter_matches({"raw_content": False}, {"raw_content": None})
    assert filter_matches({"raw_content": False}, {"raw_content": ""})
    assert not filter_matches({"raw_content": False}, {"raw_content": True})
    jina = {**PLATFORM_OPENAI, "id": PLATFORM_CREDENTIALS["jina"].id, "provider": "jina"}
    assert block_usage_cost(EXTRACT_WEBSITE, {"credentials": jina})[0] == 1
    assert block_usage_cost(EXTRACT_WEBSITE, {"credentials": jina, "raw_content": True})[0] == 0


def test_filters_match_nested_dicts_as_subsets() -> None:
    assert filter_matches({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}, "d": 3})
    assert not filter_matches({"a": {"b": 1}}, {"a": {"b": 2}})
    assert not filter_matches({"a": 1}, {"a": "1"})


def test_costs_are_listed_as_autogpt_lists_them() -> None:
    listed = costs_of(TEXT_GENERATOR)[0].as_dict()
    assert set(listed) == {"cost_type", "cost_filter", "cost_amount"} and listed["cost_type"] == "run"
    assert BlockCost(5).as_dict() == {"cost_type": "run", "cost_filter": {}, "cost_amount": 5}


def test_platform_credentials_are_recognised_by_id() -> None:
    assert is_platform_credentials(PLATFORM_OPENAI)
    assert not is_platform_credentials({"id": "someone-elses"}) and not is_platform_credentials(None)
