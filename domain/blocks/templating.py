"""Sandboxed, budgeted Jinja2 rendering for template-driven blocks.

Templates come from graph authors, so they run in Jinja2's sandbox: no
attribute access to internals, no file system, no imports. HTML escaping is
off unless the block asks for it (plain text is the common case).

A template is a program, so each render also has a budget, checked as it
runs (a hostile template fails with ``TemplateBudgetError``, a clear message,
before it can freeze a process or fill its memory):

- ``MAX_TEMPLATE_STEPS`` loop iterations and calls in all (nested
  ``{% for %}`` loops multiply: 1,000 x 1,000 is over budget);
- ``MAX_TEXT_CHARS`` (``domain.blocks.sizes``) characters for the output and for any one value the
  template builds (``'a' * 10**9``, ``x ~ x`` doubling in a loop, ``+``);
- numbers built with ``**`` stay under ``MAX_POWER_BITS`` bits.

What the budget cannot see (a filter such as ``center(10**8)``) is stopped
where templates run: ``FillTextTemplateBlock`` is CPU-bound and runs in the
block worker pool, which has a time limit and a memory limit per worker.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Sized
from contextvars import ContextVar
from functools import cache
from typing import Any, cast

from jinja2 import nodes
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

from domain.blocks.sizes import MAX_TEXT_CHARS

MAX_TEMPLATE_STEPS = 100_000
"""Loop iterations plus calls one render may make."""

MAX_POWER_BITS = 4_096
"""Size of a number ``**`` may build."""

_BUDGET_FILTER = "agentgraph_budget"
"""The filter every loop's iterable and every ``~`` goes through (the parser wraps them in it)."""


class TemplateBudgetError(ValueError):
    """A template went over its render budget."""


class _Budget:
    def __init__(self) -> None:
        self.steps = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_TEMPLATE_STEPS:
            raise TemplateBudgetError(
                f"Template exceeded its budget of {MAX_TEMPLATE_STEPS:,} loop iterations and calls"
            )


_budget: ContextVar[_Budget] = ContextVar("template_budget")


def _check_length(length: int) -> None:
    if length > MAX_TEXT_CHARS:
        raise TemplateBudgetError(f"Template built a value longer than {MAX_TEXT_CHARS:,} characters or items")


def _check_size(value: Any) -> Any:
    if isinstance(value, str | list | tuple):
        _check_length(len(value))
    return value


def _counted(value: Any) -> Any:
    """Loop iterables are counted per item; any other value (a ``~`` result) is size-checked."""
    if isinstance(value, str):
        return _check_size(value)
    if isinstance(value, Iterable) and not isinstance(value, dict):
        return _count_items(value)
    return value


def _count_items(items: Iterable[Any]) -> Iterator[Any]:
    budget = _budget.get()
    for item in items:
        budget.step()
        yield item


def _through_budget(node: nodes.Node) -> nodes.Filter:
    return nodes.Filter(cast(nodes.Expr, node), _BUDGET_FILTER, [], [], None, None, lineno=node.lineno)


class _ChargeToBudget(NodeTransformer):
    """Sends every loop's iterable and every ``~`` result through the budget filter."""

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802 - jinja2's visitor naming
        self.generic_visit(node)
        node.iter = _through_budget(node.iter)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        return _through_budget(node)


class _BudgetedEnvironment(SandboxedEnvironment):
    """The sandbox, with every loop, call, ``*``, ``**``, ``+`` and ``~`` charged to the render's budget."""

    intercepted_binops = frozenset({"*", "**", "+"})

    def __init__(self, escape_html: bool) -> None:
        super().__init__(autoescape=escape_html)
        self.filters[_BUDGET_FILTER] = _counted

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = _ChargeToBudget().visit(super()._parse(source, name, filename))
        assert isinstance(tree, nodes.Template)
        return tree

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        # jinja2's own signature: a template may pass ``self=`` as a keyword argument
        _budget.get().step()
        return _check_size(SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs))

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "*":
            sequence, count = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(sequence, Sized) and isinstance(count, int):
                _check_length(len(sequence) * count)
        elif operator_name == "**" and isinstance(left, int) and isinstance(right, int):
            if right > 0 and max(abs(left).bit_length(), 1) * right > MAX_POWER_BITS:
                raise TemplateBudgetError(f"Template built a number larger than {MAX_POWER_BITS:,} bits")
        elif operator_name == "+" and isinstance(left, Sized) and isinstance(right, Sized):
            _check_length(len(left) + len(right))
        return _check_size(_BINOPS[operator_name](left, right))


_BINOPS = {"*": operator.mul, "**": operator.pow, "+": operator.add}


@cache
def _environment(escape_html: bool) -> _BudgetedEnvironment:
    return _BudgetedEnvironment(escape_html)


def render_template(template: str, values: dict[str, Any], escape_html: bool = False) -> str:
    """Render ``template`` with ``values`` in the sandbox, within the render budget.

    Template syntax errors, sandbox violations and ``TemplateBudgetError``
    propagate as exceptions; the calling block decides whether that fails the node.
    """
    token = _budget.set(_Budget())
    try:
        parts: list[str] = []
        length = 0
        for part in _environment(escape_html).from_string(template).generate(**values):
            length += len(part)
            if length > MAX_TEXT_CHARS:
                raise TemplateBudgetError(f"Template output is longer than {MAX_TEXT_CHARS:,} characters")
            parts.append(part)
        return "".join(parts)
    finally:
        _budget.reset(token)
