"""Library queries: AutoGPT's ``LibraryAgent`` and ``LibraryAgentPreset`` shapes.

A library row (``read.library_agents``) is joined with the graphs read model
(the graph as it is now: its name, active version and nodes; a deleted graph
leaves every library) and with the runs read model for ``status`` and
``new_output``, computed as AutoGPT does from the user's top-level runs of
the version the entry points at: any FAILED -> ERROR, else any QUEUED ->
WAITING, else any RUNNING -> HEALTHY, else COMPLETED (also with no runs);
``new_output``: a COMPLETED run created in the last 7 days (the only value
that depends on the clock, so it is computed here, never projected).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from domain.graph import GraphContent
from domain.graph_schema import graph_credentials_input_schema, graph_input_schema, graph_traits
from domain.graph_validation import BlockLookup
from domain.library_agent import LibraryAgentNotFoundError
from domain.preset import PresetNotFoundError
from projections.store import ReadModelTx, ReadSource, iso, json_value

PROJECTION = "library"
"""The projection these queries read (``projections.library.projection``)."""

NEW_OUTPUT_DAYS = 7
"""A COMPLETED run younger than this makes ``new_output`` true."""


class LibraryAgentStatus(enum.StrEnum):
    """AutoGPT's ``LibraryAgentStatus``."""

    COMPLETED = "COMPLETED"
    HEALTHY = "HEALTHY"
    WAITING = "WAITING"
    ERROR = "ERROR"


class LibraryAgentSort(enum.StrEnum):
    """AutoGPT's ``LibraryAgentSort`` (query ``sort_by``)."""

    CREATED_AT = "createdAt"
    UPDATED_AT = "updatedAt"


class LibraryAgent(BaseModel):
    """AutoGPT's ``LibraryAgent`` (with the later ``is_favorite`` and ``recommended_schedule_cron``)."""

    id: str
    graph_id: str
    graph_version: int
    image_url: str | None = None
    creator_name: str = "Unknown"
    creator_image_url: str = ""
    status: LibraryAgentStatus
    updated_at: str
    name: str
    description: str
    input_schema: dict[str, Any]
    credentials_input_schema: dict[str, Any] | None = None
    has_external_trigger: bool = False
    trigger_setup_info: dict[str, Any] | None = None
    new_output: bool
    can_access_graph: bool
    is_latest_version: bool = True
    is_favorite: bool = False
    recommended_schedule_cron: str | None = None


class Pagination(BaseModel):
    """AutoGPT's ``Pagination``."""

    total_items: int
    total_pages: int
    current_page: int
    page_size: int


class LibraryAgentResponse(BaseModel):
    """AutoGPT's ``LibraryAgentResponse``."""

    agents: list[LibraryAgent]
    pagination: Pagination


class LibraryAgentPreset(BaseModel):
    """AutoGPT's ``LibraryAgentPreset`` (secret inputs masked, credentials as references)."""

    id: str
    user_id: str
    updated_at: str
    graph_id: str
    graph_version: int
    inputs: dict[str, Any]
    credentials: dict[str, Any]
    name: str
    description: str
    is_active: bool = True
    webhook_id: str | None = None


class LibraryAgentPresetResponse(BaseModel):
    """AutoGPT's ``LibraryAgentPresetResponse``."""

    presets: list[LibraryAgentPreset]
    pagination: Pagination


def preset_model(
    *,
    preset_id: str,
    user_id: str,
    updated_at: Any,
    graph_id: str,
    graph_version: int,
    inputs: dict[str, Any],
    credentials: dict[str, Any],
    name: str,
    description: str,
    is_active: bool,
) -> LibraryAgentPreset:
    """The one builder of ``LibraryAgentPreset``: queries use it on rows, command routes on what a command wrote."""
    return LibraryAgentPreset(
        id=preset_id,
        user_id=user_id,
        updated_at=iso(updated_at) or "",
        graph_id=graph_id,
        graph_version=graph_version,
        inputs=inputs,
        credentials=credentials,
        name=name,
        description=description,
        is_active=is_active,
    )


_VERSION = (
    "CASE WHEN COALESCE(la.auto_update_version, la.created_by_user) THEN g.active_version ELSE la.graph_version END"
)
_UPDATED = (
    "CASE WHEN la.updated_at IS NOT NULL AND la.updated_at > g.updated_at THEN la.updated_at ELSE g.updated_at END"
)
_CREATED = "COALESCE(la.graph_created_at, la.added_at)"
_FROM = (
    "FROM {agents} la JOIN {graphs} g ON g.graph_id = la.graph_id "
    f"JOIN {{versions}} v ON v.graph_id = la.graph_id AND v.version = {_VERSION} "
    "WHERE la.user_id = :user_id AND NOT COALESCE(la.is_deleted, FALSE) AND NOT g.is_deleted"
)
_COLUMNS = (
    f"la.*, g.user_id AS owner_id, {_VERSION} AS version, {_UPDATED} AS shown_updated_at, "
    f"{_CREATED} AS shown_created_at, v.name, v.description, v.recommended_schedule_cron, v.nodes, v.links"
)


def _like(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class LibraryQueries:
    """A user's library as the API shows it; another user's entries are not found."""

    def __init__(self, store: ReadSource, lookup: BlockLookup) -> None:
        self._store = store
        self._lookup = lookup

    def list_agents(
        self,
        user_id: str,
        *,
        search_term: str | None,
        sort_by: LibraryAgentSort,
        page: int,
        page_size: int,
        favorites_only: bool = False,
    ) -> LibraryAgentResponse:
        """The user's entries, neither deleted nor archived, matching ``search_term`` (name or description)."""
        where = " AND NOT COALESCE(la.is_archived, FALSE)"
        params: dict[str, Any] = {"user_id": user_id}
        if favorites_only:
            where += " AND COALESCE(la.is_favorite, FALSE)"
        if search_term:
            where += " AND (LOWER(v.name) LIKE :term ESCAPE '\\' OR LOWER(v.description) LIKE :term ESCAPE '\\')"
            params["term"] = _like(search_term)
        order = (
            "shown_created_at ASC, la.library_agent_id"
            if sort_by == LibraryAgentSort.CREATED_AT
            else "shown_updated_at DESC, la.library_agent_id"
        )
        with self._store.transaction() as tx:
            from_ = self._from(tx) + where
            total_row = tx.fetchone(f"SELECT COUNT(*) AS n {from_}", params)
            rows = tx.fetchall(
                f"SELECT {_COLUMNS} {from_} ORDER BY {order} LIMIT :limit OFFSET :offset",
                {**params, "limit": page_size, "offset": (page - 1) * page_size},
            )
            runs = self._runs(tx, user_id, rows)
        total = int(total_row["n"]) if total_row else 0
        return LibraryAgentResponse(
            agents=[self._agent(row, user_id, runs) for row in rows],
            pagination=Pagination(
                total_items=total,
                total_pages=max(1, -(-total // page_size)),
                current_page=page,
                page_size=page_size,
            ),
        )

    def get_agent(self, user_id: str, library_agent_id: str) -> LibraryAgent:
        """One entry (archived ones too); 404 when deleted, unknown or someone else's."""
        return self._one(user_id, "la.library_agent_id = :key", library_agent_id)

    def by_graph(self, user_id: str, graph_id: str) -> LibraryAgent:
        """The user's entry for ``graph_id``."""
        return self._one(user_id, "la.graph_id = :key", graph_id)

    def in_library(self, user_id: str, graph_id: str) -> bool:
        """True when ``graph_id`` is in the user's library (not deleted; archived counts)."""
        with self._store.transaction() as tx:
            row = tx.fetchone(
                f"SELECT la.library_agent_id {self._from(tx)} AND la.graph_id = :key",
                {"user_id": user_id, "key": graph_id},
            )
        return row is not None

    def graph_of(self, user_id: str, library_agent_id: str) -> tuple[str, int]:
        """The graph id and version of one of the user's entries (for the commands); 404 otherwise."""
        agent = self.get_agent(user_id, library_agent_id)
        return agent.graph_id, agent.graph_version

    def _one(self, user_id: str, condition: str, key: str) -> LibraryAgent:
        with self._store.transaction() as tx:
            rows = tx.fetchall(f"SELECT {_COLUMNS} {self._from(tx)} AND {condition}", {"user_id": user_id, "key": key})
            runs = self._runs(tx, user_id, rows)
        if not rows:
            raise LibraryAgentNotFoundError(f"Library agent #{key} not found")
        return self._agent(rows[0], user_id, runs)

    @staticmethod
    def _from(tx: ReadModelTx) -> str:
        return _FROM.format(agents=tx.t("library_agents"), graphs=tx.t("graphs"), versions=tx.t("graph_versions"))

    @staticmethod
    def _runs(tx: ReadModelTx, user_id: str, rows: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
        """(graph, version) -> {status: (count, latest created_at)} of the user's top-level runs."""
        graph_ids = sorted({str(row["graph_id"]) for row in rows})
        found: dict[tuple[str, int], dict[str, Any]] = {}
        if not graph_ids:
            return found
        names = ", ".join(f":g{i}" for i in range(len(graph_ids)))
        params: dict[str, Any] = {"user_id": user_id, **{f"g{i}": g for i, g in enumerate(graph_ids)}}
        for run in tx.fetchall(
            f"SELECT graph_id, graph_version, status, COUNT(*) AS n, MAX(created_at) AS latest "
            f"FROM {tx.t('executions')} WHERE user_id = :user_id AND parent_execution_id IS NULL "
            f"AND graph_id IN ({names}) GROUP BY graph_id, graph_version, status",
            params,
        ):
            key = (str(run["graph_id"]), int(run["graph_version"]))
            found.setdefault(key, {})[str(run["status"])] = (int(run["n"]), iso(run["latest"]))
        return found

    def _agent(self, row: dict[str, Any], user_id: str, runs: dict[tuple[str, int], dict[str, Any]]) -> LibraryAgent:
        version = int(row["version"])
        content = GraphContent.model_validate(
            {"name": row["name"] or "", "nodes": json_value(row["nodes"]), "links": json_value(row["links"])}
        )
        by_status = runs.get((str(row["graph_id"]), version), {})
        completed = by_status.get("COMPLETED")
        since = datetime.now(UTC) - timedelta(days=NEW_OUTPUT_DAYS)
        new_output = bool(completed and completed[1] and datetime.fromisoformat(completed[1]) >= since)
        traits = graph_traits(content, self._lookup)
        return LibraryAgent(
            id=str(row["library_agent_id"]),
            graph_id=str(row["graph_id"]),
            graph_version=version,
            image_url=row["image_url"],
            creator_name=row["creator_name"] or "Unknown",
            creator_image_url=row["creator_image_url"] or "",
            status=_status(by_status),
            updated_at=iso(row["shown_updated_at"]) or "",
            name=row["name"] or "",
            description=row["description"] or "",
            input_schema=graph_input_schema(content, self._lookup),
            credentials_input_schema=graph_credentials_input_schema(content, self._lookup),
            has_external_trigger=traits["has_external_trigger"],
            trigger_setup_info=traits["trigger_setup_info"],
            new_output=new_output,
            can_access_graph=str(row["owner_id"]) == user_id,
            is_favorite=bool(row["is_favorite"]),
            recommended_schedule_cron=row["recommended_schedule_cron"],
        )

    # -- presets -----------------------------------------------------------

    def list_presets(
        self, user_id: str, *, graph_id: str | None, page: int, page_size: int
    ) -> LibraryAgentPresetResponse:
        """The user's presets (not deleted), newest change first, optionally of one graph."""
        where = "user_id = :user_id AND NOT is_deleted"
        params: dict[str, Any] = {"user_id": user_id}
        if graph_id is not None:
            where += " AND graph_id = :graph_id"
            params["graph_id"] = graph_id
        with self._store.transaction() as tx:
            total_row = tx.fetchone(f"SELECT COUNT(*) AS n FROM {tx.t('library_presets')} WHERE {where}", params)
            rows = tx.fetchall(
                f"SELECT * FROM {tx.t('library_presets')} WHERE {where} "
                "ORDER BY updated_at DESC, preset_id LIMIT :limit OFFSET :offset",
                {**params, "limit": page_size, "offset": (page - 1) * page_size},
            )
        total = int(total_row["n"]) if total_row else 0
        return LibraryAgentPresetResponse(
            presets=[_preset(row) for row in rows],
            pagination=Pagination(
                total_items=total, total_pages=max(1, -(-total // page_size)), current_page=page, page_size=page_size
            ),
        )

    def get_preset(self, user_id: str, preset_id: str) -> LibraryAgentPreset:
        """One of the user's presets; 404 otherwise."""
        with self._store.transaction() as tx:
            row = tx.fetchone(
                f"SELECT * FROM {tx.t('library_presets')} WHERE preset_id = :id AND user_id = :user_id "
                "AND NOT is_deleted",
                {"id": preset_id, "user_id": user_id},
            )
        if row is None:
            raise PresetNotFoundError(f"Preset #{preset_id} not found")
        return _preset(row)


def _status(by_status: dict[str, Any]) -> LibraryAgentStatus:
    if "FAILED" in by_status:
        return LibraryAgentStatus.ERROR
    if "QUEUED" in by_status:
        return LibraryAgentStatus.WAITING
    if "RUNNING" in by_status:
        return LibraryAgentStatus.HEALTHY
    return LibraryAgentStatus.COMPLETED


def _preset(row: dict[str, Any]) -> LibraryAgentPreset:
    return preset_model(
        preset_id=str(row["preset_id"]),
        user_id=str(row["user_id"]),
        updated_at=row["updated_at"],
        graph_id=str(row["graph_id"]),
        graph_version=int(row["graph_version"]),
        inputs=json_value(row["inputs"]) or {},
        credentials=json_value(row["credentials"]) or {},
        name=str(row["name"]),
        description=str(row["description"] or ""),
        is_active=bool(row["is_active"]),
    )
