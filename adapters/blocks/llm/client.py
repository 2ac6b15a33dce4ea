"""The HTTP client of an OpenAI-compatible chat-completions endpoint."""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx

from adapters.blocks.llm.errors import LLMConnectionError, LLMEndpointError, LLMResponseError
from adapters.blocks.llm.messages import content_text


@dataclass(frozen=True)
class ChatCompletion:
    """The parts of a chat completion the blocks use."""

    text: str
    prompt_tokens: int
    completion_tokens: int


@cache
def _ssl_context() -> ssl.SSLContext:
    # Building the default context loads the CA bundle (~40 ms); share one.
    return httpx.create_ssl_context()


class ChatCompletionsClient:
    """Calls ``POST {base_url}/chat/completions`` on one OpenAI-compatible endpoint.

    A fresh ``httpx.AsyncClient`` per call keeps the client free of any event
    loop (blocks outlive loops in tests and workers); an LLM call is long
    enough that the extra connection does not matter.
    """

    def __init__(self, base_url: str, api_key: str | None, timeout_seconds: float) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self._api_key = api_key
        self._timeout = timeout_seconds

    async def complete(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        max_tokens_field: str = "max_tokens",
        json_mode: bool = False,
    ) -> ChatCompletion:
        """Send one request; raise an ``LLMError`` unless it gives a completion."""
        payload: dict[str, Any] = {"model": model, "messages": messages}
        if max_tokens is not None:
            payload[max_tokens_field] = max_tokens
        if json_mode:
            payload["response_format"] = {"type": "json_object"}
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            timeout = httpx.Timeout(self._timeout)
            async with httpx.AsyncClient(timeout=timeout, verify=_ssl_context()) as client:
                response = await client.post(self.url, json=payload, headers=headers)
        except httpx.TimeoutException as exc:
            raise LLMConnectionError(f"LLM endpoint {self.url} did not answer within {self._timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise LLMConnectionError(
                f"Could not reach LLM endpoint {self.url}: {str(exc) or type(exc).__name__}"
            ) from exc
        if not response.is_success:
            raise LLMEndpointError(response.status_code, _error_detail(response))
        try:
            data = response.json()
        except ValueError as exc:
            raise LLMResponseError(f"LLM endpoint {self.url} answered with a body that is not JSON") from exc
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
            raise LLMResponseError(f"LLM endpoint {self.url} returned no choices")
        message = choices[0].get("message") or {}
        usage = data.get("usage") or {}
        return ChatCompletion(
            text=content_text(message.get("content")),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )


def _error_detail(response: httpx.Response) -> str:
    """The error message of a failed response: OpenAI's ``error.message`` when present."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str) and error:
            return error
        if data.get("detail"):
            return str(data["detail"])
    return json.dumps(data)[:500]
