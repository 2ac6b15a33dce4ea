"""Clock blocks: the current time, date, or date and time, in a chosen zone.

Each block takes a ``format_type``: a union discriminated by its
``discriminator`` field, either ``strftime`` (a custom format) or
``iso8601``. The zone is the format's ``timezone``, or the user's profile
zone when ``use_user_timezone`` is set and that zone is known.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field

from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockOutput,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)

TimezoneName = Literal[
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
"""The zones a format can name (AutoGPT's TimezoneLiteral, in its order)."""

USER_TIMEZONE_NOT_SET = "not-set"
"""What AutoGPT stores as a user's timezone before the user picks one."""


class TimeStrftimeFormat(BaseModel):
    """Time formatted with a custom strftime format."""

    discriminator: Literal["strftime"]
    format: str = "%H:%M:%S"
    timezone: TimezoneName = "UTC"
    use_user_timezone: bool = False


class TimeISO8601Format(BaseModel):
    """Time as the time part of an ISO 8601 timestamp, e.g. T14:03:07+00:00."""

    discriminator: Literal["iso8601"]
    timezone: TimezoneName = "UTC"
    use_user_timezone: bool = False
    include_microseconds: bool = False


class DateStrftimeFormat(BaseModel):
    """Date formatted with a custom strftime format."""

    discriminator: Literal["strftime"]
    format: str = "%Y-%m-%d"
    timezone: TimezoneName = "UTC"
    use_user_timezone: bool = False


class DateISO8601Format(BaseModel):
    """Date as ISO 8601 YYYY-MM-DD."""

    discriminator: Literal["iso8601"]
    timezone: TimezoneName = "UTC"
    use_user_timezone: bool = False


class StrftimeFormat(BaseModel):
    """Date and time formatted with a custom strftime format."""

    discriminator: Literal["strftime"]
    format: str = "%Y-%m-%d %H:%M:%S"
    timezone: TimezoneName = "UTC"
    use_user_timezone: bool = False


class ISO8601Format(BaseModel):
    """Date and time as a full ISO 8601 / RFC 3339 timestamp with its offset."""

    discriminator: Literal["iso8601"]
    timezone: TimezoneName = "UTC"
    use_user_timezone: bool = False
    include_microseconds: bool = False


AnyFormat = (
    TimeStrftimeFormat | TimeISO8601Format | DateStrftimeFormat | DateISO8601Format | StrftimeFormat | ISO8601Format
)


def resolve_timezone(format_type: AnyFormat, user_timezone: str | None) -> tzinfo:
    """The zone to read the clock in.

    The user's zone wins when the format asks for it and the user has a
    usable one; an unset or unrecognised user zone falls back to the
    format's own ``timezone`` rather than failing the node.
    """
    if format_type.use_user_timezone and user_timezone and user_timezone != USER_TIMEZONE_NOT_SET:
        try:
            return ZoneInfo(user_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(format_type.timezone)


def now_in(zone: tzinfo) -> datetime:
    """The current instant in ``zone`` (one place to read the clock)."""
    return datetime.now(tz=zone)


def _iso_timestamp(moment: datetime, include_microseconds: bool) -> str:
    return moment.isoformat(timespec="microseconds" if include_microseconds else "seconds")


class GetCurrentTimeBlock(Block):
    """Outputs the current time."""

    id = "a892b8d9-3e4e-4e9c-9c1e-75f8efcf1bfa"
    pure = True
    description = "This block outputs the current time."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        trigger: str = SchemaField(description="Trigger any data to output the current time")
        format_type: Annotated[TimeStrftimeFormat | TimeISO8601Format, Field(discriminator="discriminator")] = (
            SchemaField(
                TimeStrftimeFormat(discriminator="strftime"),
                description="Format type for time output (strftime with custom format or ISO 8601)",
            )
        )

    class Output(BlockSchemaOutput):
        time: str = SchemaField(description="Current time in the specified format (default: %H:%M:%S)")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        fmt = input_data.format_type
        current = now_in(resolve_timezone(fmt, context.user_timezone))
        if isinstance(fmt, TimeISO8601Format):
            # The time part of the ISO timestamp, keeping its "T": "T14:03:07+00:00".
            yield "time", "T" + _iso_timestamp(current, fmt.include_microseconds).split("T", 1)[1]
        else:
            yield "time", current.strftime(fmt.format)


class GetCurrentDateBlock(Block):
    """Outputs the current date, moved back by ``offset`` days."""

    id = "b29c1b50-5d0e-4d9f-8f9d-1b0e6fcbf0b1"
    pure = True
    description = "This block outputs the current date with an optional offset."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        trigger: str = SchemaField(description="Trigger any data to output the current date")
        offset: int | str = SchemaField(0, title="Days Offset", description="Offset in days from the current date")
        format_type: Annotated[DateStrftimeFormat | DateISO8601Format, Field(discriminator="discriminator")] = (
            SchemaField(
                DateStrftimeFormat(discriminator="strftime"),
                description="Format type for date output (strftime with custom format or ISO 8601)",
            )
        )

    class Output(BlockSchemaOutput):
        date: str = SchemaField(description="Current date in the specified format (default: YYYY-MM-DD)")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        # As in AutoGPT: an offset that is not an integer silently counts as 0.
        try:
            offset = int(input_data.offset)
        except ValueError:
            offset = 0
        fmt = input_data.format_type
        # As in AutoGPT: the offset is subtracted, so a positive offset is in the past.
        day = now_in(resolve_timezone(fmt, context.user_timezone)) - timedelta(days=offset)
        if isinstance(fmt, DateISO8601Format):
            yield "date", day.date().isoformat()
        else:
            yield "date", day.strftime(fmt.format)


class GetCurrentDateAndTimeBlock(Block):
    """Outputs the current date and time."""

    id = "716a67b3-6760-42e7-86dc-18645c6e00fc"
    pure = True
    description = "This block outputs the current date and time."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        trigger: str = SchemaField(description="Trigger any data to output the current date and time")
        format_type: Annotated[StrftimeFormat | ISO8601Format, Field(discriminator="discriminator")] = SchemaField(
            StrftimeFormat(discriminator="strftime"),
            description=("Format type for date and time output (strftime with custom format or ISO 8601/RFC 3339)"),
        )

    class Output(BlockSchemaOutput):
        date_time: str = SchemaField(
            description="Current date and time in the specified format (default: YYYY-MM-DD HH:MM:SS)"
        )

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        fmt = input_data.format_type
        current = now_in(resolve_timezone(fmt, context.user_timezone))
        if isinstance(fmt, ISO8601Format):
            yield "date_time", _iso_timestamp(current, fmt.include_microseconds)
        else:
            yield "date_time", current.strftime(fmt.format)
