"""The shape of the product code, read from its source.

- layers import one way: api -> adapters -> projections -> application -> domain;
- no import circle between modules, ``TYPE_CHECKING`` imports included;
- nothing in product code is reachable only from tests;
- an event type's name is written once, beside its class: no other module matches events by string.
"""

from __future__ import annotations

import ast
import enum
import importlib
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import vulture
from eventsourcing.domain import BaseAggregate, DomainEvent
from pydantic import BaseModel
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "application", "projections", "adapters", "api")
"""Lowest first: a module imports its own layer and the layers before it, never one after."""


# -- reading the product code -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Module:
    """One product module, parsed."""

    name: str
    path: Path
    tree: ast.Module

    @property
    def package(self) -> str:
        """The package a relative import in this module starts from."""
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]

    @property
    def relative_path(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


@cache
def product_modules() -> dict[str, Module]:
    """Every module of the product packages by dotted name."""
    found: dict[str, Module] = {}
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = Module(name, path, ast.parse(path.read_text(), str(path)))
    return found


def imported_modules(module: Module, known: set[str] | dict[str, Module]) -> set[str]:
    """The product modules ``module`` imports anywhere in its body (``TYPE_CHECKING`` blocks included).

    ``from pkg import name`` imports ``pkg.name`` when that is a module, else ``pkg``.
    """
    found: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                # ``import a.b.c``: the longest product module it names
                prefixes = (".".join(parts[:n]) for n in range(len(parts), 0, -1))
                found.add(next((prefix for prefix in prefixes if prefix in known), alias.name))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in known else base)
    return {name for name in found if name in known and name != module.name}


@cache
def import_graph() -> dict[str, frozenset[str]]:
    modules = product_modules()
    return {name: frozenset(imported_modules(module, modules)) for name, module in modules.items()}


def strongly_connected(graph: dict[str, frozenset[str]]) -> list[frozenset[str]]:
    """The import circles: groups of modules that all reach each other (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(frozenset(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def a_cycle_through(group: frozenset[str], graph: dict[str, frozenset[str]]) -> list[str]:
    """The shortest import path from the group's first module back to itself."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & group):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    raise AssertionError(f"{sorted(group)} is not a circle")


# -- layers and circles -------------------------------------------------------------------------------------


def test_the_import_scan_resolves_relative_from_and_type_checking_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import store\n"
        "from .envelope import EventEnvelope\n"
        "from domain import execution, json_values as jv\n"
        "import adapters.read_store\n"
        "if TYPE_CHECKING:\n"
        "    from ..application.graphs import GraphsApplication\n"
    )
    module = Module("projections.base", ROOT / "projections" / "base.py", ast.parse(source))
    known = {
        "projections",
        "projections.store",
        "projections.envelope",
        "domain",
        "domain.execution",
        "domain.json_values",
        "adapters",
        "adapters.read_store",
        "application.graphs",
    }
    assert imported_modules(module, known) == {
        "projections.store",
        "projections.envelope",
        "domain.execution",
        "domain.json_values",
        "adapters.read_store",
        "application.graphs",
    }


def test_layers_import_only_the_layers_below_them() -> None:
    graph = import_graph()
    assert "domain.execution" in graph["application.executions"]  # the scan sees imports at all
    upward = [
        f"{importer} imports {imported}"
        for importer, targets in sorted(graph.items())
        for imported in sorted(targets)
        if LAYERS.index(imported.split(".")[0]) > LAYERS.index(importer.split(".")[0])
    ]
    assert not upward, "imports against the layering:\n" + "\n".join(upward)


def test_no_import_circle_between_modules() -> None:
    graph = import_graph()
    circles = strongly_connected(graph)
    found = [" -> ".join(a_cycle_through(c, graph)) for c in circles]
    assert not found, "import circles (TYPE_CHECKING imports count):\n" + "\n".join(found)


# -- code only tests reach ----------------------------------------------------------------------------------

FRAMEWORK_DECORATORS = [
    "@*.get",  # FastAPI routes (routers named queries, commands, router)
    "@*.post",
    "@*.put",
    "@*.patch",
    "@*.delete",
    "@*.websocket",  # FastAPI WebSocket routes
    "@app.exception_handler",  # FastAPI error handlers
    "@*.command",  # typer commands
    "@*.callback",  # typer's top-level options (--version)
    "@event",  # eventsourcing: the decorated command method triggers its event
    "@field_validator",  # pydantic validators and serializers
    "@model_validator",
    "@field_serializer",
    "@model_serializer",
    "@computed_field",
]
"""Decorators that hand a function to a framework, which calls it."""

FRAMEWORK_NAMES = [
    "model_config",  # pydantic model settings
    "_missing_",  # Enum lookup hook
    "source_type",  # a parameter of pydantic's __get_pydantic_core_schema__ hook
    "on_partitions_assigned",  # kafka-python ConsumerRebalanceListener callbacks
    "on_partitions_revoked",
    "_insert_events",  # eventsourcing recorder hooks we override
    "_insert_stored_events",
    "register",  # eventsourcing Transcoder interface
    "row_factory",  # psycopg connection setting
    "previous_executor_id",  # a parameter of an @event method names a field of the event it records
    "render",  # Starlette's Response hook
    "visit_For",  # jinja2 NodeTransformer visitors and sandbox hooks (domain.blocks.templating)
    "visit_Concat",
    "intercepted_binops",
    "call_binop",
    "_num_writers",  # eventsourcing's pool bookkeeping, mended in adapters.sqlite_recorder
    "__class__",  # the mended pool class, set on the pool eventsourcing built
    "disconnected",  # uvicorn's request cycle flag, set when the read deadline closes a connection
    # the /ws endpoint's hooks into the websocket_connections gauge (issue 9 point 8 drives them; drop this then)
    "websocket_connected",
    "websocket_disconnected",
    "snapshotting_intervals",  # eventsourcing's Application reads it (snapshots of credit ledgers)
]
"""Names that a library reads or calls, though no product code does."""

FRAMEWORK_BASES = re.compile(r"(Enum|BaseModel|Schema\w*|Block|Event|Created)$")
"""Classes whose members a library reads: enum members, pydantic fields (serialised), blocks (found by walking
``Block`` subclasses; their schema fields are read by the executor and the block API), eventsourcing events
(their fields are the stored payload). Not settings: a setting that no code reads is dead."""


FRAMEWORK_CLASSES = (BaseModel, enum.Enum, DomainEvent)
"""The same, found by what a class is at run time (so ``class GraphModel(GraphMeta)`` counts)."""


def _framework_members(module: Module) -> set[tuple[int, str]]:
    """(line, name) of the classes and fields that a library finds without a reference in our code.

    Methods are not among them: a method a library calls overrides one of the library's, and vulture counts
    the library's name as used (or it is in ``FRAMEWORK_NAMES``).
    """
    found: set[tuple[int, str]] = set()

    loaded = importlib.import_module(module.name)

    def walk(node: ast.AST, framework_owned: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                runtime = getattr(loaded, child.name, None) if node is module.tree else None
                owned = (
                    framework_owned
                    or any(FRAMEWORK_BASES.search(ast.unparse(base)) for base in child.bases)
                    # a subclass of one of our models is a model too (its fields are serialised)
                    or (
                        isinstance(runtime, type)
                        and issubclass(runtime, FRAMEWORK_CLASSES)
                        and not issubclass(runtime, BaseSettings)  # a setting no code reads is dead
                    )
                )
                if owned:
                    found.add((child.lineno, child.name))
                walk(child, owned)
            elif framework_owned and isinstance(child, ast.AnnAssign | ast.Assign):
                for target in child.targets if isinstance(child, ast.Assign) else [child.target]:
                    if isinstance(target, ast.Name):
                        found.add((child.lineno, target.id))

    walk(module.tree, framework_owned=False)
    return found


def unused_outside_tests() -> list[tuple[str, int, str, str]]:
    """(file, line, name, what) of product code that no product code uses, by vulture, less framework entries."""
    scan = vulture.Vulture(ignore_names=FRAMEWORK_NAMES, ignore_decorators=FRAMEWORK_DECORATORS)
    scan.scavenge([str(ROOT / layer) for layer in LAYERS])
    by_path = {module.path: module for module in product_modules().values()}
    framework = {path: _framework_members(module) for path, module in by_path.items()}
    found = []
    for item in scan.get_unused_code(min_confidence=60):
        path = Path(item.filename).resolve()
        if (item.first_lineno, item.name) in framework[path]:
            continue
        found.append((by_path[path].relative_path, item.first_lineno, item.name, item.typ))
    return sorted(found)


def test_nothing_in_product_code_is_reachable_only_from_tests() -> None:
    found = [f"{path}:{line}: {what} {name!r}" for path, line, name, what in unused_outside_tests()]
    assert not found, "product code that no product code uses (delete it, or whitelist a framework entry):\n" + (
        "\n".join(found)
    )


# -- event types named once -----------------------------------------------------------------------------------


@cache
def aggregates() -> dict[str, str]:
    """Every aggregate class the domain declares (qualified name) and the module that declares it."""
    found: dict[str, str] = {}
    for name in product_modules():
        if name.split(".")[0] != "domain":
            continue
        for value in vars(importlib.import_module(name)).values():
            if isinstance(value, type) and issubclass(value, BaseAggregate) and value.__module__ == name:
                found[value.__qualname__] = name
                # event classes live on their aggregate: both styles (nested classes, @event) put them there
                assert any(isinstance(v, type) and issubclass(v, DomainEvent) for v in vars(value).values())
    return found


def event_type_pattern() -> re.Pattern[str]:
    """An event type's name (``GraphExecution.Queued``, also inside a topic) or a prefix of one (``Graph.``)."""
    names = "|".join(re.escape(name) for name in sorted(aggregates(), key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{names})\.[A-Z]\w*")


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring constants (prose, not code)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    # an attribute docstring: a string statement right after an assignment
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            for before, after in itertools.pairwise(body):
                if (
                    isinstance(before, ast.Assign | ast.AnnAssign)
                    and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant)
                ):
                    found.add(id(after.value))
    return found


def _strings(module: Module) -> Iterator[str]:
    prose = _docstrings(module.tree)
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            yield node.value


def event_type_literals() -> set[tuple[str, str]]:
    """(module, literal) of every event type name written outside the module that declares its aggregate."""
    pattern = event_type_pattern()
    declared_in = aggregates()
    found: set[tuple[str, str]] = set()
    for name, module in product_modules().items():
        for text in _strings(module):
            for match in pattern.finditer(text):
                aggregate = match.group(0).rpartition(".")[0]
                if declared_in[aggregate] != name:
                    found.add((name, match.group(0)))
    return found


def test_the_event_scan_knows_every_aggregate_and_matches_topics() -> None:
    assert {"Graph", "GraphExecution", "ExecutionStopRequest"} <= set(aggregates())
    pattern = event_type_pattern()
    assert pattern.findall("domain.execution:GraphExecution.Queued") == ["GraphExecution.Queued"]
    assert pattern.findall("GraphExecution.Node") == ["GraphExecution.Node"]
    assert pattern.findall("SubGraph.Created, Graph created") == []


def test_no_event_type_is_named_by_a_string_outside_its_module() -> None:
    found = sorted(event_type_literals())
    assert not found, "event types named by string (use the domain's event classes or topic constants):\n" + "\n".join(
        f"{module}: {literal!r}" for module, literal in found
    )
