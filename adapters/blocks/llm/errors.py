"""Why a chat-completions call failed, and which failures a retry cannot fix."""

from __future__ import annotations

import re


class LLMError(Exception):
    """A chat-completions call failed."""


class LLMEndpointError(LLMError):
    """The endpoint answered with a non-2xx status."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"LLM endpoint returned HTTP {status_code}: {detail}")
        self.status_code = status_code


class LLMConnectionError(LLMError):
    """The endpoint could not be reached or did not answer in time."""


class LLMResponseError(LLMError):
    """The endpoint answered 2xx with something that is not a chat completion."""


# Errors that no retry can fix (AutoGPT: bad key, forbidden, rate limited).
USER_ERROR_STATUS_CODES = (401, 403, 429)
_MODEL_UNAVAILABLE_STATUS_CODES = (400, 404)
_MODEL_UNAVAILABLE_PATTERNS = (
    "model not found",
    "model.*not.*available",
    "model.*not.*supported",
    "model.*deprecated",
    "model.*retired",
    "no.*such.*model",
    "invalid.*model",
    "model.*does not exist",
    "is not a valid model",
)


def is_context_length_error(message: str) -> bool:
    """Whether a (lower-cased) error message says the prompt and answer exceed the context window."""
    return "maximum context length" in message or "token limit" in message or "context length" in message


def model_error_guidance(error: Exception) -> str | None:
    """A hint when the error says the model id is unknown or retired, else None."""
    message = str(error).lower()
    if is_context_length_error(message):
        return None  # the retry loop shrinks max_tokens for these
    if not any(re.search(pattern, message) for pattern in _MODEL_UNAVAILABLE_PATTERNS):
        return None
    if isinstance(error, LLMEndpointError) and error.status_code not in _MODEL_UNAVAILABLE_STATUS_CODES:
        return None
    return (
        "The configured model ID appears to be unavailable or deprecated. Check the provider's "
        "current model list and choose a supported model."
    )
