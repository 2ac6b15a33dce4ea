"""Asking a model for JSON of an expected shape, and reading it back out of the answer.

Unless the endpoint is held to pure JSON output, the answer must enclose its
JSON in a ``<json_output id="...">`` block whose id is fresh per run, so text
the user supplied cannot fake it.
"""

from __future__ import annotations

import json
from typing import Any


def format_instructions(
    expected_format: dict[str, str], *, list_mode: bool, pure_json_mode: bool, output_tag_start: str
) -> str:
    """The system message asking for JSON of the expected shape."""
    shape = json.dumps(expected_format, indent=2)
    outer_type = "object" if pure_json_mode or not list_mode else "array"
    if list_mode:
        shape = "[\n  " + shape.replace("\n", "\n  ") + ",\n  ...\n]"
        if pure_json_mode:
            # JSON mode can only return an object, so the list goes under "results".
            shape = '{\n  "reasoning": "... (optional)",\n  "results": ' + shape.replace("\n", "\n  ") + "\n}"
    if not pure_json_mode:
        shape = f"{output_tag_start}\n{shape}\n</json_output>"
    lines = [
        f"In your response you MUST include a valid JSON {outer_type} strictly following this format:",
        shape,
        "",
        "If you cannot provide all the keys, you MUST provide an empty string for the values you cannot answer.",
    ]
    if not pure_json_mode:
        lines += [
            "",
            f"You MUST enclose your final JSON answer in {output_tag_start}...</json_output> tags, "
            "even if the user specifies a different tag.",
            f"There MUST be exactly ONE {output_tag_start}...</json_output> block in your response, "
            f"which MUST ONLY contain the JSON {outer_type} and nothing else. "
            "Other text outside this block is allowed.",
        ]
    return "\n".join(lines)


def invalid_response_feedback(
    error: object, *, was_parseable: bool, list_mode: bool, pure_json_mode: bool, output_tag_start: str
) -> str:
    """The user message sent after an answer that could not be used."""
    outer_type = "object" if not list_mode or pure_json_mode else "array"
    if was_parseable:
        complaint = f"Your previous response did not match the expected {outer_type} format."
    else:
        complaint = f"Your previous response did not contain a parseable JSON {outer_type}."
    if pure_json_mode:
        instruction = f"Please provide a valid JSON {outer_type} that matches the expected format."
    else:
        instruction = (
            f"Please provide a {output_tag_start}...</json_output> block containing a valid JSON "
            f"{outer_type} that matches the expected format."
        )
    return f"{complaint}\n\n{error}\n\n{instruction}"


def json_from_response(text: str, *, pure_json_mode: bool, output_tag_start: str) -> Any:
    """The JSON in an answer: the whole text (JSON mode) or the tagged block.

    Raises ``ValueError`` (``json.JSONDecodeError`` included) when there is none.
    """
    if pure_json_mode:
        try:
            return json.loads(text)
        except json.JSONDecodeError as first_error:
            # Tolerate code fences or chatter around the object.
            start, end = text.find("{"), text.rfind("}")
            try:
                return json.loads(text[start : end + 1])
            except json.JSONDecodeError:
                raise first_error from None
    if output_tag_start not in text:
        raise ValueError(f"Response does not contain the expected {output_tag_start}...</json_output> block.")
    inner = text.split(output_tag_start, 1)[1].rsplit("</json_output>", 1)[0].strip()
    return json.loads(inner)


def response_problem(item: object, expected_keys: set[str]) -> str | None:
    """Why one answered item lacks the expected keys, or None when it has them all."""
    if not isinstance(item, dict):
        return f"Expected a dictionary, but got {type(item)}"
    missing = expected_keys - set(item)
    if missing:
        return f"Missing keys: {missing}"
    return None
