"""The block base: what every block of the library is made of.

A block is a unit of work a graph node runs. It has a constant UUID (the same
as AutoGPT's, so exported agents import unchanged), pydantic ``Input`` and
``Output`` models exposed as JSON Schema, and an async-generator ``run`` that
yields ``(pin_name, value)`` pairs: one pin may yield many times.

Blocks are pure domain code: no I/O beyond what the block itself is about
(the pure blocks here do none at all).
"""

from __future__ import annotations

import copy
import enum
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from domain.block_costs import costs_of

BlockOutput = AsyncIterator[tuple[str, Any]]
"""What ``Block.run`` returns: an async iterator of ``(pin_name, value)``."""


class BlockType(enum.StrEnum):
    """AutoGPT's block types; the value is what ``uiType`` shows."""

    STANDARD = "Standard"
    INPUT = "Input"
    OUTPUT = "Output"
    NOTE = "Note"
    WEBHOOK = "Webhook"
    WEBHOOK_MANUAL = "Webhook (manual)"
    AGENT = "Agent"
    AI = "AI"
    AYRSHARE = "Ayrshare"
    HUMAN_IN_THE_LOOP = "Human In The Loop"
    MCP_TOOL = "MCP Tool"


class BlockCategory(enum.Enum):
    """AutoGPT's block categories; the value is the human description."""

    AI = "Block that leverages AI to perform a task."
    SOCIAL = "Block that interacts with social media platforms."
    TEXT = "Block that processes text data."
    SEARCH = "Block that searches or extracts information from the internet."
    BASIC = "Block that performs basic operations."
    INPUT = "Block that interacts with input of the graph."
    OUTPUT = "Block that interacts with output of the graph."
    LOGIC = "Programming logic to control the flow of your agent"
    COMMUNICATION = "Block that interacts with communication platforms."
    DEVELOPER_TOOLS = "Developer tools such as GitHub blocks."
    DATA = "Block that interacts with structured data."
    HARDWARE = "Block that interacts with hardware."
    AGENT = "Block that interacts with other agents."
    CRM = "Block that interacts with CRM services."
    SAFETY = "Block that provides AI safety mechanisms such as detecting harmful content"
    PRODUCTIVITY = "Block that helps with productivity"
    ISSUE_TRACKING = "Block that helps with issue tracking"
    MULTIMEDIA = "Block that interacts with multimedia content"
    MARKETING = "Block that helps with marketing"

    def as_dict(self) -> dict[str, str]:
        """The ``{category, description}`` shape ``GET /api/blocks`` shows."""
        return {"category": self.name, "description": self.value}


def SchemaField(  # noqa: N802 - reads like pydantic's Field, on purpose
    default: Any = ...,
    *,
    description: str | None = None,
    title: str | None = None,
    advanced: bool | None = None,
    secret: bool = False,
    placeholder: Any = None,
    hidden: bool = False,
    default_factory: Any = None,
    **extra: Any,
) -> Any:
    """A pydantic ``Field`` carrying AutoGPT's UI hints into the JSON Schema.

    ``advanced`` defaults to False for fields with a default and is omitted for
    required ones, as AutoGPT's schema fields do.
    """
    json_extra: dict[str, Any] = dict(extra)
    if advanced is not None:
        json_extra["advanced"] = advanced
    elif default is not ... or default_factory is not None:
        json_extra["advanced"] = False
    if secret:
        json_extra["secret"] = True
    if placeholder is not None:
        json_extra["placeholder"] = placeholder
    if hidden:
        json_extra["hidden"] = True
    kwargs: dict[str, Any] = {
        "description": description,
        "title": title,
        "json_schema_extra": json_extra or None,
    }
    if default_factory is not None:
        return Field(default_factory=default_factory, **kwargs)
    return Field(default, **kwargs)


_SCHEMA_CACHE: dict[type[BaseModel], dict[str, Any]] = {}
_SECRETS_CACHE: dict[type[BaseModel], frozenset[str]] = {}


class BlockSchema(BaseModel):
    """Base of every block's Input and Output models."""

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    @classmethod
    def jsonschema(cls) -> dict[str, Any]:
        """The model's JSON Schema with ``$ref``s inlined, AutoGPT style.

        References are resolved in place, single-item ``allOf``/``anyOf``/
        ``oneOf`` are merged into their parent and ``$``-keys are dropped, so a
        client can read any property without resolving references.
        """
        cached = _SCHEMA_CACHE.get(cls)
        if cached is None:
            raw = cls.model_json_schema()
            cached = _inline(raw, raw.get("$defs", {}))
            cached.setdefault("required", [])
            _SCHEMA_CACHE[cls] = cached
        return copy.deepcopy(cached)

    @classmethod
    def secret_field_names(cls) -> frozenset[str]:
        """Pins whose JSON Schema says ``secret`` (cached: no copy of the schema per call)."""
        found = _SECRETS_CACHE.get(cls)
        if found is None:
            cls.jsonschema()  # fills the schema cache
            properties = _SCHEMA_CACHE[cls].get("properties", {})
            found = frozenset(name for name, prop in properties.items() if prop.get("secret"))
            _SECRETS_CACHE[cls] = found
        return found

    @classmethod
    def field_names(cls) -> set[str]:
        """Names of every pin this schema declares."""
        return set(cls.model_fields)

    @classmethod
    def required_fields(cls) -> set[str]:
        """Pins that have no default and must be given a value."""
        return {name for name, f in cls.model_fields.items() if f.is_required()}


class BlockSchemaInput(BlockSchema):
    """Base for block inputs."""


class BlockSchemaOutput(BlockSchema):
    """Base for block outputs; adds the automatic ``error`` pin."""

    error: str = SchemaField(description="Error message if the operation failed", default="")


class EmptySchema(BlockSchema):
    """A schema with no pins."""


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].split("/")[-1]]
        merged = {**_inline(target, defs), **{k: v for k, v in node.items() if k != "$ref"}}
        return _inline(merged, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("$"):
            continue
        if key == "discriminator" and isinstance(value, dict) and "mapping" in value:
            # the mapping points into $defs, which no longer exist once inlined
            out[key] = {k: v for k, v in value.items() if k != "mapping"}
            continue
        out[key] = _inline(value, defs)
    for combinator in ("allOf", "anyOf", "oneOf"):
        items = out.get(combinator)
        if isinstance(items, list) and len(items) == 1 and isinstance(items[0], dict):
            single = out.pop(combinator)[0]
            out = {**single, **out}
    return out


@dataclass(frozen=True)
class RunContext:
    """What the platform tells a running block about where it runs.

    Pure blocks mostly ignore it; the time blocks read ``user_timezone``.
    """

    user_id: str = ""
    graph_id: str = ""
    node_id: str = ""
    node_exec_id: str = ""
    user_timezone: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)

    def add_stats(self, **counts: float) -> None:
        """Add to this run's node stats (e.g. ``llm_call_count=1``, ``input_token_count=12``)."""
        for name, amount in counts.items():
            self.stats[name] = self.stats.get(name, 0) + amount


class BlockError(Exception):
    """Base for errors raised while running a block."""

    def __init__(self, message: str, block_name: str = "", block_id: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.block_name = block_name
        self.block_id = block_id

    def __str__(self) -> str:
        return self.message


class BlockInputError(BlockError):
    """The input did not validate against the block's input schema."""


class BlockExecutionError(BlockError):
    """The block failed: it raised, or yielded on its ``error`` pin."""


class BlockOutputError(BlockError):
    """A STANDARD block yielded a value its output schema rejects."""


class Block(ABC):
    """A unit of work a node runs. Subclasses set the class attributes.

    Subclasses define ``Input`` and ``Output`` (pydantic models derived from
    ``BlockSchemaInput`` and ``BlockSchemaOutput``/``BlockSchema``) and
    ``run``, an async generator of ``(pin, value)``.
    """

    id: ClassVar[str]
    description: ClassVar[str] = ""
    categories: ClassVar[frozenset[BlockCategory]] = frozenset()
    block_type: ClassVar[BlockType] = BlockType.STANDARD
    static_output: ClassVar[bool] = False
    disabled: ClassVar[bool] = False
    cpu_bound: ClassVar[bool] = False
    """True for a block that runs a program the graph author wrote (a template, a regex).

    Such a block's CPU time and memory have no bound the platform can compute
    from its input, so it runs in a worker process, where a timeout really
    stops it (the worker is killed and replaced) and memory is capped. Every
    other block is cheap (its work is linear in an input the API already
    caps, or it is a builder with a size cap, ``domain.blocks.sizes``) or is
    I/O that awaits, and runs in the caller's event loop: a process hop per
    node would cost far more than the block itself.
    """
    pure: ClassVar[bool] = False
    """True when running the block has no effect outside the run: it may run ahead of the commit and,
    after a crash, run again. A block that is not pure (the default, the safe side: HTTP, LLM,
    sub-agents) starts only once its inputs and its start are durable, so a crash never repeats a
    completed side effect. The time blocks count as pure: a re-run reads the clock again, but the
    first reading never left the executor (nothing that is not pure saw it before it was durable)."""
    Input: ClassVar[type[BlockSchema]] = EmptySchema
    Output: ClassVar[type[BlockSchema]] = EmptySchema

    @classmethod
    def name(cls) -> str:
        """The block's name, as AutoGPT shows it: its class name."""
        return cls.__name__

    @classmethod
    def input_pins(cls) -> set[str]:
        """Names of the input pins a link may target."""
        return cls.Input.field_names()

    @classmethod
    def output_pins(cls) -> set[str]:
        """Names of the output pins a link may start from."""
        return cls.Output.field_names()

    @abstractmethod
    def run(self, input_data: Any, context: RunContext) -> BlockOutput:
        """Yield ``(pin, value)`` pairs for one run on validated input."""

    @classmethod
    def validate_input(cls, data: dict[str, Any]) -> BlockSchema:
        """Build the Input model from raw data, None values dropped.

        Raises ``BlockInputError`` with every problem in one message.
        """
        cleaned = {k: v for k, v in data.items() if v is not None}
        try:
            return cls.Input.model_validate(cleaned)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '<input>'}: {err['msg']}" for err in exc.errors()
            )
            raise BlockInputError(
                f"Unable to execute block with invalid input data: {problems}",
                cls.name(),
                cls.id,
            ) from None

    async def execute(self, data: dict[str, Any], context: RunContext | None = None) -> BlockOutput:
        """Validate ``data``, run the block and yield its outputs.

        A yield on ``error`` raises ``BlockExecutionError`` with that message
        (after nothing else), and any other exception is wrapped in one, so a
        caller sees exactly one error type for a failed run.
        """
        validated = self.validate_input(data)
        ctx = context or RunContext()
        output_fields = self.Output.model_fields
        try:
            async for pin, value in self.run(validated, ctx):
                if pin == "error":
                    raise BlockExecutionError(str(value), self.name(), self.id)
                if self.block_type == BlockType.STANDARD:
                    if pin not in output_fields:
                        raise BlockOutputError(
                            f"Block produced an invalid output data: unknown output pin {pin!r}",
                            self.name(),
                            self.id,
                        )
                    problem = _output_problem(self.Output, pin, value)
                    if problem:
                        raise BlockOutputError(
                            f"Block produced an invalid output data: {pin}: {problem}", self.name(), self.id
                        )
                yield pin, value
        except BlockError:
            raise
        except Exception as exc:
            raise BlockExecutionError(str(exc) or type(exc).__name__, self.name(), self.id) from exc

    @classmethod
    def info(cls) -> dict[str, Any]:
        """The block as ``GET /api/blocks`` lists it (AutoGPT's BlockInfo)."""
        return {
            "id": cls.id,
            "name": cls.name(),
            "description": cls.description,
            "categories": [c.as_dict() for c in sorted(cls.categories, key=lambda c: c.name)],
            "inputSchema": cls.Input.jsonschema(),
            "outputSchema": cls.Output.jsonschema(),
            "staticOutput": cls.static_output,
            "uiType": cls.block_type.value,
            "blockType": cls.block_type.name,
            "contributors": [],
            "costs": [cost.as_dict() for cost in costs_of(cls.id)],
            "pure": cls.pure,  # ours, beside AutoGPT's fields: see ``Block.pure``
        }


@cache
def _output_adapter(schema: type[BlockSchema], pin: str) -> TypeAdapter[Any] | None:
    annotation = schema.model_fields[pin].annotation
    return None if annotation is None or annotation is Any else TypeAdapter(annotation)


def _output_problem(schema: type[BlockSchema], pin: str, value: Any) -> str | None:
    """Why ``value`` does not fit the output pin's type, or None when it fits.

    The value is checked, never converted: what the block yielded is what
    travels on.
    """
    adapter = _output_adapter(schema, pin)
    if adapter is None:
        return None
    try:
        adapter.validate_python(value)
    except ValidationError as exc:
        return "; ".join(err["msg"] for err in exc.errors())
    return None


def iter_subclasses(cls: type[Block]) -> Iterator[type[Block]]:
    """Every concrete subclass of ``cls`` that has an ``id``."""
    for sub in cls.__subclasses__():
        if "id" in sub.__dict__:
            yield sub
        yield from iter_subclasses(sub)
