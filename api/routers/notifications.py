"""``/api/notifications`` and ``/api/auth/user/preferences``: a user's notifications and their preferences.

Preferences are AutoGPT's routes and shapes (``NotificationPreference``, body ``NotificationPreferenceDTO``,
every field required). The notification list is ours (AutoGPT has no inbox route): ``GET /api/notifications``
answers a page, unread first then newest first, and ``POST /api/notifications/{id}/read`` marks one read.
Another user's notification id answers 404, like an unknown one. A type the user turned off is not listed
(nor pushed, nor e-mailed) while it is off; turning it on again shows it again.

A user who never saved preferences has AutoGPT's defaults and no e-mail address (the platform keeps no
verified address of its own): nothing is e-mailed to them until they save one, and then only what comes after.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.auth import CurrentUser
from api.composition import ContainerDep
from api.consistency import answer_with_token, consistent, token_for
from api.errors import responses
from domain.notification_preferences import MAX_DAILY_LIMIT, MAX_EMAIL_LENGTH, NotificationType
from projections.notifications.queries import (
    MAX_PAGE,
    MAX_PAGE_SIZE,
    PROJECTION,
    NotificationPage,
    NotificationPreference,
)

NotificationsConsistent = Depends(consistent(PROJECTION, frozenset({"accounts", "executions", "graphs"})))
"""A read after the caller's own write (preferences, read marks, a run) waits for the read model."""

commands = APIRouter(tags=["notifications"], responses=responses(400, 401, 404, 413, 422, 503))
queries = APIRouter(
    tags=["notifications"], responses=responses(400, 401, 422, 503), dependencies=[NotificationsConsistent]
)

NotificationId = Annotated[str, Path(max_length=64, description="Notification id (UUID)")]


class NotificationPreferenceDTO(BaseModel):
    """Body of ``POST /api/auth/user/preferences`` (AutoGPT's ``NotificationPreferenceDTO``: all required)."""

    model_config = ConfigDict(extra="ignore")

    email: str = Field(max_length=MAX_EMAIL_LENGTH, description="Where e-mails go ('' for none)")
    preferences: dict[str, bool] = Field(max_length=len(NotificationType), description="{TYPE: bool}")
    daily_limit: int = Field(ge=0, le=MAX_DAILY_LIMIT, description="At most this many e-mails per UTC day")

    @field_validator("preferences")
    @classmethod
    def known_types(cls, value: dict[str, bool]) -> dict[str, bool]:
        """Every key is a ``NotificationType``."""
        unknown = sorted(set(value) - {str(t) for t in NotificationType})
        if unknown:
            raise ValueError(f"unknown notification type(s): {', '.join(unknown)[:200]}")
        return value

    @field_validator("email")
    @classmethod
    def looks_like_email(cls, value: str) -> str:
        """Empty, or one ``local@domain`` address."""
        if value and (value.count("@") != 1 or value.startswith("@") or value.endswith("@") or " " in value):
            raise ValueError("not an e-mail address")
        return value


class MarkedRead(BaseModel):
    """The answer of ``POST /api/notifications/{id}/read``."""

    id: str
    read: bool


@queries.get("/api/auth/user/preferences", summary="The caller's notification preferences")
def get_preferences(user: CurrentUser, container: ContainerDep) -> NotificationPreference:
    """AutoGPT's ``NotificationPreference`` (defaults for a user who never saved any)."""
    return container.notification_queries.preferences(user.user_id)


@commands.post("/api/auth/user/preferences", summary="Save the caller's notification preferences")
async def set_preferences(
    body: NotificationPreferenceDTO, user: CurrentUser, container: ContainerDep, response: Response
) -> NotificationPreference:
    """Types not named keep their value; answers the preferences as saved."""
    written = await asyncio.to_thread(
        container.notification_commands.set_preferences, user.user_id, body.email, body.preferences, body.daily_limit
    )
    answer_with_token(response, token_for(container, "accounts", written))
    saved = await asyncio.to_thread(container.notification_queries.preferences, user.user_id)
    merged = {**saved.preferences, **body.preferences}
    return saved.model_copy(update={"email": body.email, "preferences": merged, "daily_limit": body.daily_limit})


@queries.get("/api/notifications", summary="The caller's notifications: unread first, then newest first")
def list_notifications(
    user: CurrentUser,
    container: ContainerDep,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1 for the first page")] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Notifications per page")] = 20,
) -> NotificationPage:
    """A page of the caller's notifications of the types they want."""
    return container.notification_queries.page(user.user_id, page, page_size)


@commands.post("/api/notifications/{notification_id}/read", summary="Mark one of the caller's notifications read")
async def mark_read(
    notification_id: NotificationId, user: CurrentUser, container: ContainerDep, response: Response
) -> MarkedRead:
    """404 for an unknown id, another user's, or one of a type the caller turned off."""
    found = await asyncio.to_thread(container.notification_queries.get, user.user_id, notification_id)
    if found is None:
        raise HTTPException(status_code=404, detail="Notification not found")
    written = await asyncio.to_thread(container.notification_commands.mark_read, user.user_id, notification_id)
    answer_with_token(response, token_for(container, "accounts", written))
    return MarkedRead(id=notification_id, read=True)
