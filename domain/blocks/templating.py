"""Sandboxed Jinja2 rendering for template-driven blocks.

Templates come from graph authors, so they run in Jinja2's sandbox: no
attribute access to internals, no file system, no imports. HTML escaping is
off unless the block asks for it (plain text is the common case).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2.sandbox import SandboxedEnvironment


@cache
def _environment(escape_html: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=escape_html)


def render_template(template: str, values: dict[str, Any], escape_html: bool = False) -> str:
    """Render ``template`` with ``values`` in the sandbox.

    Template syntax errors and sandbox violations propagate as exceptions;
    the calling block decides whether that fails the node.
    """
    return _environment(escape_html).from_string(template).render(**values)
