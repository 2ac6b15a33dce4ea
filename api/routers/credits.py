"""``/api/credits``: a user's credits (AutoGPT's routes and shapes), commands and queries on separate routers.

- ``GET /api/credits`` -> ``{"credits": n}`` (1 credit = 1 US cent).
- ``POST /api/credits {credit_amount}``: there is no payment provider, so a
  top-up credits at once. The amount is AutoGPT's: at least 500 and a
  multiple of 100, else 400. An ``Idempotency-Key`` header makes it safe to
  retry: the key becomes the transaction key, and the same key again (with
  the same amount) records nothing and answers 200 with the first answer,
  ``already_recorded: true`` (what a retried payment webhook needs); the same
  key with another amount is 409 ``transaction_key_conflict`` with AutoGPT's
  message. The answer keeps AutoGPT's ``checkout_url`` (empty: there is no
  checkout to visit) beside the transaction it recorded.
- ``GET /api/credits/transactions``: the history, newest first, a run's
  usage summed up in one line (AutoGPT's ``UserTransaction`` page).
- ``POST /api/credits/{transaction_key}/refund {reason}`` -> credits refunded
  now (0 while the request waits for review); one request per ISO week.
- ``GET /api/credits/refunds``: the user's refund requests.
- ``POST /api/credits/admin/add_credits {user_id, amount, comments}`` (admins):
  a GRANT to any user, the admin and comments in its metadata.

Someone else's transaction key reads as unknown (404), as graphs and runs do.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import AdminUser, CurrentUser
from api.composition import Container, ContainerDep
from api.consistency import answer_with_token, consistent, token_for
from api.errors import responses
from application.credits import TransactionWritten
from domain.credit_ledger import (
    InsufficientBalanceError,
    RefundAlreadyRequestedError,
    TransactionKeyConflictError,
    TransactionNotFoundError,
    TransactionType,
)
from projections.credits.queries import (
    MAX_TRANSACTIONS,
    TransactionHistory,
)
from projections.credits.queries import PROJECTION as CREDITS_PROJECTION
from projections.credits.queries import RefundRequest as RefundRequestModel

commands = APIRouter(prefix="/api/credits", tags=["credits"], responses=responses(400, 401, 404, 409, 413, 422, 503))
queries = APIRouter(
    prefix="/api/credits",
    tags=["credits"],
    responses=responses(400, 401, 422, 503),
    dependencies=[Depends(consistent(CREDITS_PROJECTION, frozenset({"accounts"})))],
)

MIN_TOP_UP = 500
"""AutoGPT's smallest top-up (credits); a top-up is also a multiple of 100."""

MAX_AMOUNT = 100_000_000
"""The largest amount one transaction may move (a million dollars): larger is refused by the schema (422)."""

TransactionKey = Annotated[str, Path(min_length=1, max_length=200, description="A top-up's transaction key")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Retries with the same key record the top-up once and answer the same",
    ),
]


class InsufficientBalanceToRunError(HTTPException):
    """402: credits are enabled and the caller's balance is 0 or less (AutoGPT's message)."""

    code = "insufficient_balance"

    def __init__(self) -> None:
        super().__init__(
            status_code=402, detail="Insufficient balance to execute the agent. Please top up your account."
        )


class _Refused(HTTPException):
    def __init__(self, status_code: int, detail: str, code: str) -> None:
        super().__init__(status_code=status_code, detail=detail)
        self.code = code


def require_credits_to_run(container: Container, user_id: str) -> None:
    """Raise the 402 when credits are enabled and the user's balance (the ledger's) is 0 or less."""
    if container.settings.credits_enabled and not container.credits.may_run(user_id):
        raise InsufficientBalanceToRunError()


class Credits(BaseModel):
    """``GET /api/credits``."""

    credits: int


class TopUpRequest(BaseModel):
    """Body of ``POST /api/credits``."""

    model_config = ConfigDict(extra="ignore")

    credit_amount: int = Field(le=MAX_AMOUNT, description="Credits to add: at least 500, a multiple of 100")


class TopUpResponse(BaseModel):
    """The top-up, recorded (AutoGPT answers ``{checkout_url}``: there is no checkout here, so it is empty)."""

    checkout_url: str = Field(default="", description="Always empty: the top-up is credited at once")
    transaction_key: str
    amount: int
    running_balance: int = Field(description="The balance right after this top-up")
    already_recorded: bool = Field(description="True when the Idempotency-Key named a top-up recorded before")
    consistency_token: str | None = None


class RefundBody(BaseModel):
    """Body of ``POST /api/credits/{transaction_key}/refund``."""

    model_config = ConfigDict(extra="ignore")

    reason: str = Field(max_length=2000)


class AddCreditsRequest(BaseModel):
    """Body of ``POST /api/credits/admin/add_credits``."""

    model_config = ConfigDict(extra="ignore")

    user_id: str = Field(min_length=1, max_length=200)
    amount: int = Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, description="Credits to grant (negative takes some away)")
    comments: str = Field(max_length=2000)


class AddCreditsResponse(BaseModel):
    """The admin's grant (AutoGPT's ``AddUserCreditsResponse``)."""

    new_balance: int
    transaction_key: str


def _token(container: Container, written: TransactionWritten, response: Response) -> str | None:
    return answer_with_token(response, token_for(container, "accounts", written))


@commands.post("", summary="Top up credits (credited at once: there is no payment provider)")
async def top_up(
    body: TopUpRequest,
    user: CurrentUser,
    container: ContainerDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> TopUpResponse:
    """400 with AutoGPT's message unless the amount is at least 500 and a multiple of 100.

    With an ``Idempotency-Key``, a retry answers what the first call did
    (``already_recorded: true``); the key with another amount is 409.
    """
    amount = body.credit_amount
    if amount < MIN_TOP_UP or amount % 100 != 0:
        raise _Refused(
            400,
            f"Top up amount must be at least {MIN_TOP_UP} credits and multiple of 100 but is {amount}",
            "top_up_amount_invalid",
        )
    try:
        written = await asyncio.to_thread(container.credits.top_up, user.user_id, amount, idempotency_key)
    except TransactionKeyConflictError as error:
        raise _Refused(409, str(error), "transaction_key_conflict") from None
    return TopUpResponse(
        transaction_key=written.transaction_key,
        amount=written.amount,
        running_balance=written.running_balance,
        already_recorded=written.already_recorded,
        consistency_token=_token(container, written, response),
    )


@commands.post("/{transaction_key}/refund", summary="Ask for a top-up's refund")
async def refund_top_up(
    transaction_key: TransactionKey, body: RefundBody, user: CurrentUser, container: ContainerDep, response: Response
) -> int:
    """The credits refunded now, or 0 while the request waits for review.

    Refunded at once when the top-up is at most 500 credits more than the
    balance (which may then go below zero by as much); otherwise PENDING. One
    request per ISO week of the top-up (400 with AutoGPT's message); 404 for
    a key that is not one of the caller's top-ups.
    """
    try:
        written = await asyncio.to_thread(container.credits.request_refund, user.user_id, transaction_key, body.reason)
    except TransactionNotFoundError as error:
        raise _Refused(404, str(error), "transaction_not_found") from None
    except RefundAlreadyRequestedError as error:
        raise _Refused(400, str(error), "refund_already_requested") from None
    answer_with_token(response, token_for(container, "accounts", written))
    return written.refunded


@commands.post(
    "/admin/add_credits",
    summary="Grant credits to a user (admins only)",
    responses=responses(403),
)
async def add_credits(
    body: AddCreditsRequest, admin: AdminUser, container: ContainerDep, response: Response
) -> AddCreditsResponse:
    """A GRANT of ``amount`` to ``user_id`` (its metadata: ``admin_id``, ``reason`` = the comments).

    A negative amount takes credits away, never below zero (400 with AutoGPT's insufficient-balance message);
    0 is 400. 403 for non-admins.
    """
    metadata = {"admin_id": admin.user_id, "reason": body.comments}
    try:
        written = await asyncio.to_thread(container.credits.grant, body.user_id, body.amount, None, metadata)
    except InsufficientBalanceError as error:
        raise _Refused(400, str(error), "insufficient_balance") from None
    except ValueError as error:
        raise _Refused(400, str(error), "bad_request") from None
    _token(container, written, response)
    return AddCreditsResponse(new_balance=written.running_balance, transaction_key=written.transaction_key)


@queries.get("", summary="The caller's credits")
def get_credits(user: CurrentUser, container: ContainerDep) -> Credits:
    """``{"credits": n}``; with credits enabled, a new user's starting grant counts before it is recorded."""
    return Credits(credits=container.credit_queries.balance(user.user_id))


@queries.get("/transactions", summary="The caller's transaction history (newest first)")
def get_transactions(
    user: CurrentUser,
    container: ContainerDep,
    transaction_time: Annotated[
        datetime | None, Query(description="Only transactions before this time (the previous page's cursor)")
    ] = None,
    transaction_type: Annotated[TransactionType | None, Query(description="Only transactions of this type")] = None,
    transaction_count_limit: Annotated[int, Query(description="Transactions read: 1 to 1000")] = 100,
) -> TransactionHistory:
    """AutoGPT's page: a run's USAGE rows are one line (``usage_node_count`` rows, their amounts summed).

    ``next_transaction_time`` is set when the page read ``transaction_count_limit`` rows: pass it as
    ``transaction_time`` for the next page. A limit outside 1..1000 is 400 with AutoGPT's message.
    """
    if not 1 <= transaction_count_limit <= MAX_TRANSACTIONS:
        raise _Refused(400, f"Transaction count limit must be between 1 and {MAX_TRANSACTIONS}", "bad_request")
    return container.credit_queries.transactions(
        user.user_id, transaction_time, transaction_type, transaction_count_limit
    )


@queries.get("/refunds", summary="The caller's refund requests (newest first)")
def get_refund_requests(user: CurrentUser, container: ContainerDep) -> list[RefundRequestModel]:
    """AutoGPT's ``[RefundRequest]``."""
    return container.credit_queries.refund_requests(user.user_id)
