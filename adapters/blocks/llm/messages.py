"""The chat messages the blocks send: their text, their size, and shrinking them to fit."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

_CHARS_PER_TOKEN = 4  # rough estimate; the endpoint's usage gives the real counts


def content_text(content: Any) -> str:
    """The text of a message's ``content``: a string, or the text of its content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """A rough token count of a message list (about four characters a token)."""
    return sum(len(content_text(m.get("content"))) // _CHARS_PER_TOKEN + 4 for m in messages)


def compress_messages(messages: list[dict[str, Any]], target_tokens: int) -> list[dict[str, Any]]:
    """Shorten the longest texts (keeping their start and end) until the estimate fits.

    Truncation only, like AutoGPT's ``compress_prompt_to_fit``; messages are
    copied, the caller's list is left alone.
    """
    out = [dict(m) for m in messages]
    marker = "\n[... truncated ...]\n"
    excess = estimate_tokens(out) - target_tokens
    while excess > 0:
        index = max(range(len(out)), key=lambda i: len(content_text(out[i].get("content"))), default=None)
        if index is None:
            break
        content = out[index].get("content")
        if not isinstance(content, str) or len(content) <= 400:
            break
        keep = max(400, len(content) - excess * _CHARS_PER_TOKEN - len(marker))
        head = keep // 2
        out[index]["content"] = content[:head] + marker + content[len(content) - (keep - head) :]
        new_excess = estimate_tokens(out) - target_tokens
        if new_excess >= excess:
            break
        excess = new_excess
    return out


def sanitize(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with unpaired surrogates replaced: they cannot be encoded as UTF-8 JSON."""
    out: list[dict[str, Any]] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            try:
                content.encode("utf-8")
            except UnicodeEncodeError:
                message = {
                    **message,
                    "content": content.encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
                }
        out.append(message)
    return out


def history_messages(history: list[Any] | None) -> list[dict[str, Any]]:
    """Conversation history as chat messages (falsy entries skipped, as AutoGPT does)."""
    messages: list[dict[str, Any]] = []
    for item in history or []:
        if not item:
            continue
        if isinstance(item, BaseModel):
            messages.append(item.model_dump(mode="json"))
        elif isinstance(item, dict):
            messages.append(dict(item))
        else:  # a bare value: treat it as something the user said
            messages.append({"role": "user", "content": item if isinstance(item, str) else json.dumps(item)})
    return messages
