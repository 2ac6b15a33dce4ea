"""The OpenAPI document's auth: every protected operation names its scheme and its 401 and 403.

Driven by the dependencies each route really uses, not a list: an operation
whose dependency tree holds a security scheme (``HTTPBearer`` of
``api.auth``, ``APIKeyHeader`` of ``api.api_key_auth``) gets that scheme in
its ``security`` and ``components.securitySchemes``, and the 401 and 403
responses with the structured error body (``api.errors.ErrorBody``). A new
router is covered by using the dependencies; public routes (``/health``,
``/ready``, ``/metrics``, the documents) use none and declare none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security.base import SecurityBase
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute

from api.errors import ERROR_RESPONSES, ErrorBody

AUTH_STATUSES = (401, 403)


def security_schemes(dependant: Dependant) -> Iterator[SecurityBase]:
    """The security schemes anywhere in ``dependant``'s tree, each once."""
    seen: set[str] = set()
    pending = list(dependant.dependencies)
    while pending:
        current = pending.pop()
        if isinstance(current.call, SecurityBase) and current.call.scheme_name not in seen:
            seen.add(current.call.scheme_name)
            yield current.call
        pending.extend(current.dependencies)


def declare_auth(schema: dict[str, Any], routes: Iterable[BaseRoute]) -> None:
    """Add the schemes and the 401/403 responses to every protected operation of ``schema`` (in place)."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    if ErrorBody.__name__ not in schemas:
        _, defs = models_json_schema([(ErrorBody, "serialization")], ref_template="#/components/schemas/{model}")
        schemas.update(defs.get("$defs", {}))
    for route in iter_route_contexts(list(routes)):  # included routers' routes too, with their prefixes
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        schemes = list(security_schemes(route.dependant))
        if not schemes:
            continue
        for scheme in schemes:
            components.setdefault("securitySchemes", {}).setdefault(
                scheme.scheme_name, jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
            )
        operations = schema.get("paths", {}).get(route.path_format, {})
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            security = operation.setdefault("security", [])
            for scheme in schemes:
                if not any(scheme.scheme_name in requirement for requirement in security):
                    security.append({scheme.scheme_name: []})
            responses = operation.setdefault("responses", {})
            for status in AUTH_STATUSES:
                responses.setdefault(
                    str(status),
                    {
                        "description": ERROR_RESPONSES[status]["description"],
                        "content": {
                            "application/json": {"schema": {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}}
                        },
                    },
                )
