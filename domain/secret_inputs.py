"""Secret run inputs: the values given to ``secret`` INPUT nodes, sealed where recorded, masked where read.

A run's value for an AgentInputBlock node with ``secret: true`` is sealed
(``application.secret_inputs``) before the run's ``Requested`` event records
it: events hold a **sealed token** (``agc1:<data_key_id>:<base64url>``, the
ciphertext itself) in its place. The same token stands for the value
everywhere a run records data:

- **recorded** (events: node inputs, node outputs, graph outputs, errors):
  every occurrence of the exact clear value is replaced by its token
  (``redact``): a string secret wherever it appears as a substring of a
  string, any other value where a value equals it;
- **run** (what a block receives): tokens are replaced by the clear value
  (``reveal``), so the run's nodes see the value as given;
- **read** (read models, API answers, live frames, exports): tokens are
  replaced by ``MASK`` (``mask_sealed``).

The guarantee covers the value as given. A value *derived* from it (hashed,
re-cased, split, translated by an LLM) is not the exact value and is recorded
as the block produced it, as in AutoGPT.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from domain.blocks.base import BlockType
from domain.graph import GraphContent
from domain.graph_validation import BlockLookup

MASK = "********"
"""What reads show for a secret input's value (AutoGPT's mask)."""

SEALED_PREFIX = "agc1:"
SEALED_RE = re.compile(r"agc1:[0-9A-Za-z_-]+:[0-9A-Za-z_=-]+")
"""A sealed token as ``application.encryption`` writes it (``agc1:<data_key_id>:<base64url>``)."""


def secret_input_names(graph: GraphContent, lookup: BlockLookup) -> frozenset[str]:
    """The names of the graph's INPUT nodes marked ``secret``."""
    names: set[str] = set()
    for node in graph.nodes:
        block = lookup(node.block_id)
        if block is None or block.block_type != BlockType.INPUT or node.input_default.get("secret") is not True:
            continue
        name = node.input_default.get("name")
        if isinstance(name, str):
            names.add(name)
    return frozenset(names)


def is_sealed(value: Any) -> TypeGuard[str]:
    """True for a string that is exactly one sealed token."""
    return isinstance(value, str) and value.startswith(SEALED_PREFIX) and SEALED_RE.fullmatch(value) is not None


def mask_sealed(value: Any) -> Any:
    """``value`` with every sealed token (whole string or substring, at any depth) replaced by ``MASK``."""
    if isinstance(value, str):
        return SEALED_RE.sub(MASK, value) if SEALED_PREFIX in value else value
    if isinstance(value, dict):
        return {key: mask_sealed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_sealed(item) for item in value]
    return value


def maskable(value: Any) -> bool:
    """Whether a secret value can be matched in recorded data (not null, a bool or an empty string)."""
    return value is not None and not isinstance(value, bool) and value != ""


@dataclass
class OpenedSecrets:
    """A run's secret inputs in clear, by token: what ``redact`` hides and ``reveal`` restores.

    Held in memory by the executor for the run (and its sub-agent runs) only.
    """

    clear_by_token: dict[str, Any] = field(default_factory=dict)
    _strings: dict[str, str] = field(default_factory=dict)  # clear string -> token
    _others: list[tuple[Any, str]] = field(default_factory=list)  # non-string clear value, token

    def add(self, token: str, clear: Any) -> None:
        """Know ``token`` as ``clear``."""
        if token in self.clear_by_token:
            return
        self.clear_by_token[token] = clear
        if not maskable(clear):
            return
        if isinstance(clear, str):
            self._strings.setdefault(clear, token)  # a sub-agent's copy of a parent's secret: the parent's token
        else:
            self._others.append((clear, token))

    def redact(self, value: Any) -> Any:
        """``value`` with each exact secret replaced by its token (strings: as substrings, longest first)."""
        if not self.clear_by_token:
            return value
        if isinstance(value, str):
            for clear in sorted(self._strings, key=len, reverse=True):
                if clear in value:
                    value = value.replace(clear, self._strings[clear])
            return value
        for clear, token in self._others:
            if type(value) is type(clear) and value == clear:
                return token
        if isinstance(value, dict):
            return {key: self.redact(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.redact(item) for item in value]
        return value

    def reveal(self, value: Any) -> Any:
        """``value`` with each known token replaced by its clear value (inside a longer string: as text)."""
        if not self.clear_by_token:
            return value
        if isinstance(value, str):
            if SEALED_PREFIX not in value:
                return value
            if value in self.clear_by_token:
                return self.clear_by_token[value]
            for token, clear in self.clear_by_token.items():
                if token in value:
                    value = value.replace(token, clear if isinstance(clear, str) else _text(clear))
            return value
        if isinstance(value, dict):
            return {key: self.reveal(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.reveal(item) for item in value]
        return value


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
