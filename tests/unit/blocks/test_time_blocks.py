"""Clock blocks: AutoGPT's predicate vectors as real assertions, plus zones.

The block reads the clock between our ``before`` and ``after`` readings, so
an expected value is accepted if it matches either reading: a tick of the
clock during the test cannot make it fail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockInputError,
    BlockType,
    RunContext,
)
from domain.blocks.time import (
    GetCurrentDateAndTimeBlock,
    GetCurrentDateBlock,
    GetCurrentTimeBlock,
)
from tests.unit.blocks.outputs import collect_outputs

TIMEZONES = [
    "UTC",
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Caracas",
    "America/Sao_Paulo",
    "America/St_Johns",
    "Atlantic/South_Georgia",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Paris",
    "Europe/Athens",
    "Europe/Moscow",
    "Asia/Tehran",
    "Asia/Dubai",
    "Asia/Kabul",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Yangon",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Australia/Eucla",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Noumea",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Tongatapu",
    "Pacific/Kiritimati",
    "Etc/GMT-12",
    "Etc/GMT+12",
]


async def run_timed(
    block: Block, data: dict[str, Any], context: RunContext | None = None
) -> tuple[datetime, str, str, datetime]:
    """Run a one-output clock block; return (before, pin, value, after) in UTC."""
    before = datetime.now(UTC)
    outputs = await collect_outputs(block, data, context)
    after = datetime.now(UTC)
    assert len(outputs) == 1, outputs
    pin, value = outputs[0]
    return before, pin, value, after


def either(before: datetime, after: datetime, render: Any) -> set[str]:
    """What the block may have produced, rendered from either clock reading."""
    return {render(before), render(after)}


# ---------------------------------------------------------------- identity


@pytest.mark.parametrize(
    ("block_cls", "block_id", "inputs", "output"),
    [
        (GetCurrentTimeBlock, "a892b8d9-3e4e-4e9c-9c1e-75f8efcf1bfa", {"trigger", "format_type"}, "time"),
        (
            GetCurrentDateBlock,
            "b29c1b50-5d0e-4d9f-8f9d-1b0e6fcbf0b1",
            {"trigger", "offset", "format_type"},
            "date",
        ),
        (
            GetCurrentDateAndTimeBlock,
            "716a67b3-6760-42e7-86dc-18645c6e00fc",
            {"trigger", "format_type"},
            "date_time",
        ),
    ],
)
def test_block_identity_and_pins(block_cls: type[Block], block_id: str, inputs: set[str], output: str) -> None:
    assert block_cls.id == block_id
    assert block_cls.block_type is BlockType.STANDARD
    assert block_cls.static_output is False
    assert block_cls.categories == frozenset({BlockCategory.TEXT})
    assert block_cls.input_pins() == inputs
    assert block_cls.Input.required_fields() == {"trigger"}
    assert block_cls.output_pins() == {output, "error"}


@pytest.mark.parametrize(
    ("block_cls", "default_format", "iso_fields"),
    [
        (
            GetCurrentTimeBlock,
            "%H:%M:%S",
            {"discriminator", "timezone", "use_user_timezone", "include_microseconds"},
        ),
        (GetCurrentDateBlock, "%Y-%m-%d", {"discriminator", "timezone", "use_user_timezone"}),
        (
            GetCurrentDateAndTimeBlock,
            "%Y-%m-%d %H:%M:%S",
            {"discriminator", "timezone", "use_user_timezone", "include_microseconds"},
        ),
    ],
)
def test_format_type_schema(block_cls: type[Block], default_format: str, iso_fields: set[str]) -> None:
    prop = block_cls.Input.jsonschema()["properties"]["format_type"]
    assert prop["default"] == {
        "discriminator": "strftime",
        "format": default_format,
        "timezone": "UTC",
        "use_user_timezone": False,
    }
    assert prop["discriminator"]["propertyName"] == "discriminator"
    variants = {v["properties"]["discriminator"]["const"]: v for v in prop["oneOf"]}
    assert set(variants) == {"strftime", "iso8601"}
    strftime_props = variants["strftime"]["properties"]
    assert set(strftime_props) == {"discriminator", "format", "timezone", "use_user_timezone"}
    assert strftime_props["timezone"]["enum"] == TIMEZONES
    assert strftime_props["timezone"]["default"] == "UTC"
    assert strftime_props["use_user_timezone"]["default"] is False
    assert set(variants["iso8601"]["properties"]) == iso_fields


def test_offset_schema() -> None:
    prop = GetCurrentDateBlock.Input.jsonschema()["properties"]["offset"]
    assert prop["default"] == 0
    assert prop["title"] == "Days Offset"


async def test_unknown_timezone_is_rejected() -> None:
    with pytest.raises(BlockInputError):
        await collect_outputs(
            GetCurrentTimeBlock(),
            {"trigger": "go", "format_type": {"discriminator": "strftime", "timezone": "Mars/Olympus"}},
        )


async def test_unknown_discriminator_is_rejected() -> None:
    with pytest.raises(BlockInputError):
        await collect_outputs(GetCurrentDateBlock(), {"trigger": "go", "format_type": {"discriminator": "unix"}})


# ---------------------------------------------------------------- GetCurrentTimeBlock


async def test_time_default_equals_utc_clock_time() -> None:
    before, pin, value, after = await run_timed(GetCurrentTimeBlock(), {"trigger": "Hello"})
    assert pin == "time"
    assert value in either(before, after, lambda t: t.strftime("%H:%M:%S"))


async def test_time_custom_strftime_format() -> None:
    data = {"trigger": "Hello", "format_type": {"discriminator": "strftime", "format": "%H:%M"}}
    before, pin, value, after = await run_timed(GetCurrentTimeBlock(), data)
    assert pin == "time"
    assert value in either(before, after, lambda t: t.strftime("%H:%M"))


async def test_time_iso8601_is_the_time_part_with_its_offset() -> None:
    data = {
        "trigger": "Hello",
        "format_type": {"discriminator": "iso8601", "timezone": "UTC", "include_microseconds": False},
    }
    before, pin, value, after = await run_timed(GetCurrentTimeBlock(), data)
    assert pin == "time"
    # AutoGPT's predicate ...
    assert "T" in value and ("+" in value or "Z" in value)
    # ... and the exact shape: "T14:03:07+00:00".
    assert value in either(before, after, lambda t: t.strftime("T%H:%M:%S+00:00"))


async def test_time_iso8601_with_microseconds() -> None:
    data = {"trigger": "go", "format_type": {"discriminator": "iso8601", "include_microseconds": True}}
    _, _, value, _ = await run_timed(GetCurrentTimeBlock(), data)
    clock, _, offset = value[1:].partition("+")
    assert offset == "00:00"
    datetime.strptime(clock, "%H:%M:%S.%f")  # raises if the shape is wrong


async def test_time_in_a_named_zone() -> None:
    zone = ZoneInfo("Asia/Kathmandu")  # +05:45, no daylight saving
    data = {"trigger": "go", "format_type": {"discriminator": "iso8601", "timezone": "Asia/Kathmandu"}}
    before, _, value, after = await run_timed(GetCurrentTimeBlock(), data)
    assert value in either(before, after, lambda t: t.astimezone(zone).strftime("T%H:%M:%S+05:45"))


async def test_time_ignores_the_trigger_value() -> None:
    for trigger in ("", "anything at all"):
        before, _, value, after = await run_timed(GetCurrentTimeBlock(), {"trigger": trigger})
        assert value in either(before, after, lambda t: t.strftime("%H:%M:%S"))


# ---------------------------------------------------------------- user timezone


async def test_use_user_timezone_reads_the_run_context() -> None:
    data = {"trigger": "go", "format_type": {"discriminator": "iso8601", "use_user_timezone": True}}
    _, _, value, _ = await run_timed(GetCurrentTimeBlock(), data, RunContext(user_timezone="Etc/GMT+12"))
    assert value.endswith("-12:00")


async def test_user_timezone_may_be_outside_the_format_list() -> None:
    zone = ZoneInfo("Asia/Singapore")
    data = {
        "trigger": "go",
        "format_type": {"discriminator": "strftime", "format": "%H:%M %z", "use_user_timezone": True},
    }
    before, _, value, after = await run_timed(GetCurrentTimeBlock(), data, RunContext(user_timezone="Asia/Singapore"))
    assert value in either(before, after, lambda t: t.astimezone(zone).strftime("%H:%M %z"))


@pytest.mark.parametrize("user_timezone", [None, "", "not-set", "Nowhere/Atlantis"])
async def test_unknown_user_timezone_falls_back_to_the_format_timezone(user_timezone: str | None) -> None:
    data = {
        "trigger": "go",
        "format_type": {"discriminator": "iso8601", "timezone": "Asia/Kolkata", "use_user_timezone": True},
    }
    _, _, value, _ = await run_timed(GetCurrentTimeBlock(), data, RunContext(user_timezone=user_timezone))
    assert value.endswith("+05:30")


async def test_user_timezone_is_ignored_unless_asked_for() -> None:
    data = {"trigger": "go", "format_type": {"discriminator": "iso8601"}}
    _, _, value, _ = await run_timed(GetCurrentTimeBlock(), data, RunContext(user_timezone="Asia/Tokyo"))
    assert value.endswith("+00:00")


# ---------------------------------------------------------------- GetCurrentDateBlock


async def test_date_with_offset_7_is_a_week_ago() -> None:
    before, pin, value, after = await run_timed(GetCurrentDateBlock(), {"trigger": "Hello", "offset": "7"})
    assert pin == "date"
    # AutoGPT's predicate: within 8 days of today ...
    parsed = datetime.strptime(value, "%Y-%m-%d").date()
    assert abs((before.date() - parsed).days) <= 8
    # ... and exactly: today minus 7 days (a positive offset goes into the past).
    assert value in either(before, after, lambda t: (t - timedelta(days=7)).strftime("%Y-%m-%d"))


async def test_date_custom_strftime_with_offset() -> None:
    data = {
        "trigger": "Hello",
        "offset": "7",
        "format_type": {"discriminator": "strftime", "format": "%m/%d/%Y"},
    }
    before, _, value, after = await run_timed(GetCurrentDateBlock(), data)
    parsed = datetime.strptime(value, "%m/%d/%Y").date()
    assert abs((before.date() - parsed).days) <= 8
    assert value in either(before, after, lambda t: (t - timedelta(days=7)).strftime("%m/%d/%Y"))


async def test_date_iso8601() -> None:
    data = {"trigger": "Hello", "offset": "0", "format_type": {"discriminator": "iso8601", "timezone": "UTC"}}
    before, _, value, after = await run_timed(GetCurrentDateBlock(), data)
    assert len(value) == 10 and value[4] == "-" and value[7] == "-"
    assert value in either(before, after, lambda t: t.date().isoformat())


@pytest.mark.parametrize(("offset", "days_back"), [(0, 0), (3, 3), ("-1", -1), (-30, -30), ("2", 2)])
async def test_date_offset_counts_days_back(offset: int | str, days_back: int) -> None:
    before, _, value, after = await run_timed(GetCurrentDateBlock(), {"trigger": "go", "offset": offset})
    assert value in either(before, after, lambda t: (t - timedelta(days=days_back)).strftime("%Y-%m-%d"))


@pytest.mark.parametrize("offset", ["abc", "", "1.5", "seven"])
async def test_date_non_integer_offset_silently_means_today(offset: str) -> None:
    before, _, value, after = await run_timed(GetCurrentDateBlock(), {"trigger": "go", "offset": offset})
    assert value in either(before, after, lambda t: t.strftime("%Y-%m-%d"))


async def test_date_in_a_zone_far_from_utc() -> None:
    zone = ZoneInfo("Pacific/Kiritimati")  # UTC+14: often already tomorrow
    data = {"trigger": "go", "format_type": {"discriminator": "iso8601", "timezone": "Pacific/Kiritimati"}}
    before, _, value, after = await run_timed(GetCurrentDateBlock(), data)
    assert value in either(before, after, lambda t: t.astimezone(zone).date().isoformat())


async def test_date_accepts_the_legacy_top_level_format_pin() -> None:
    # Older exported agents carry "format" beside "offset"; it is ignored.
    data = {"trigger": "go", "offset": 0, "format": "%d.%m.%Y"}
    before, _, value, after = await run_timed(GetCurrentDateBlock(), data)
    assert value in either(before, after, lambda t: t.strftime("%Y-%m-%d"))


# ---------------------------------------------------------------- GetCurrentDateAndTimeBlock


async def test_date_and_time_default_is_within_10s_of_now() -> None:
    before, pin, value, _ = await run_timed(GetCurrentDateAndTimeBlock(), {"trigger": "Hello"})
    assert pin == "date_time"
    parsed = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert abs((parsed - before).total_seconds()) < 10


async def test_date_and_time_custom_format_is_a_date_within_a_day() -> None:
    data = {"trigger": "Hello", "format_type": {"discriminator": "strftime", "format": "%Y/%m/%d"}}
    before, _, value, after = await run_timed(GetCurrentDateAndTimeBlock(), data)
    parsed = datetime.strptime(value, "%Y/%m/%d").replace(tzinfo=UTC)
    assert abs((parsed.date() - before.date()).days) <= 1
    assert value in either(before, after, lambda t: t.strftime("%Y/%m/%d"))


async def test_date_and_time_iso8601_parses_to_now() -> None:
    data = {
        "trigger": "Hello",
        "format_type": {"discriminator": "iso8601", "timezone": "UTC", "include_microseconds": False},
    }
    before, _, value, after = await run_timed(GetCurrentDateAndTimeBlock(), data)
    parsed = datetime.fromisoformat(value)
    assert abs((parsed - before).total_seconds()) < 10
    # Seconds precision, with the offset: "2025-01-31T14:03:07+00:00".
    assert value in either(before, after, lambda t: t.strftime("%Y-%m-%dT%H:%M:%S+00:00"))


async def test_date_and_time_iso8601_with_microseconds() -> None:
    data = {"trigger": "go", "format_type": {"discriminator": "iso8601", "include_microseconds": True}}
    before, _, value, after = await run_timed(GetCurrentDateAndTimeBlock(), data)
    parsed = datetime.fromisoformat(value)
    assert before <= parsed <= after
    assert len(value) == len("2025-01-31T14:03:07.123456+00:00")


@pytest.mark.parametrize(
    ("zone_name", "offset"),
    [
        ("America/St_Johns", None),
        ("Australia/Eucla", "+08:45"),
        ("Pacific/Chatham", None),
        ("Etc/GMT-12", "+12:00"),
    ],
)
async def test_date_and_time_iso8601_carries_the_zone_offset(zone_name: str, offset: str | None) -> None:
    zone = ZoneInfo(zone_name)
    data = {"trigger": "go", "format_type": {"discriminator": "iso8601", "timezone": zone_name}}
    before, _, value, after = await run_timed(GetCurrentDateAndTimeBlock(), data)
    assert value in either(before, after, lambda t: t.astimezone(zone).isoformat(timespec="seconds"))
    if offset is not None:  # zones without daylight saving have a fixed offset
        assert value.endswith(offset)
