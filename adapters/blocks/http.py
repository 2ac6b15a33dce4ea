"""AutoGPT's SendWebRequestBlock, with a guard on where requests may go.

The block sends one HTTP request and sorts the answer by status class
('response' for 2xx, 'client_error' for 4xx, 'server_error' otherwise), as
AutoGPT does. Where requests may go is the ``HttpPolicy`` the block is built
with: by default (``allow_private_networks=False``) a URL whose host resolves
to a loopback, private, link-local, shared, multicast or otherwise
non-public address is refused, every redirect hop is checked the same way,
and the connection goes to the address that was checked (the hostname is not
resolved a second time), so DNS rebinding cannot slip past the check. This
is AutoGPT's SSRF guard. Proxy settings from the environment are ignored for
the same reason.

Connections are kept alive between requests (opening a client and a
connection per request halved the block's rate): one pool per event loop
and user, so nothing a connection carries (keep-alive state, a server's
per-connection authentication) ever passes from one user to another. Every
request still gets a client of its own, so cookies and other client state
live for one request (and its redirects) only. A TLS hop to a checked
address (guard on) is named by that address, not its host name, so it is
never pooled: it gets a connection of its own, verified for its own SNI host
name, as before. A loop keeps at most ``_MAX_POOLS_PER_LOOP`` users' pools;
the least recently used is closed once its requests are done.

Authentication: the optional ``credentials`` input names stored
``host_scoped`` credentials (``{id, provider: "http", type: "host_scoped"}``);
the executor opens them for the run and their headers go with every hop to
their host (``*.example.com`` matches its subdomains), never to another.

File uploads: ``files`` accepts ``data:`` URIs (base64 or percent-encoded)
only; AutoGPT also takes URLs and workspace paths, which need a media store.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import ipaddress
import json
import mimetypes
import socket
import ssl
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Literal, cast
from urllib.parse import unquote_to_bytes

import httpx
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockOutput,
    BlockSchema,
    BlockSchemaInput,
    RunContext,
    SchemaField,
)
from domain.blocks.io import FormattedStringType
from domain.credentials import run_credentials

_MAX_JSON_BODY_CHARS = 10_000_000
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


_MAX_POOLS_PER_LOOP = 256
_POOL_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=16, keepalive_expiry=5.0)
"""No cap on connections (a slow server must not queue other requests); idle ones kept a few seconds."""


@cache
def _ssl_context() -> ssl.SSLContext:
    # Building the default context loads the CA bundle (~40 ms); share one.
    return httpx.create_ssl_context()


def _transport() -> httpx.AsyncHTTPTransport:
    return httpx.AsyncHTTPTransport(verify=_ssl_context(), trust_env=False, limits=_POOL_LIMITS)


_REQUESTS_PER_SHARD = 8
"""httpcore's pool checks every connection it holds (a socket call each) on every request and response:
a user's connections are spread over pools serving about this many requests at once (50 in one pool
made the block slower than a connection per request)."""


@dataclass(eq=False)
class _Shard:
    transport: httpx.AsyncHTTPTransport = field(default_factory=_transport)
    in_flight: int = 0


@dataclass(eq=False)
class _UserPool:
    """One user's kept-alive connections on one event loop."""

    shards: list[_Shard] = field(default_factory=list)
    evicted: bool = False

    def idle(self) -> bool:
        return all(shard.in_flight == 0 for shard in self.shards)

    def least_busy(self) -> _Shard:
        shard = min(self.shards, key=lambda s: s.in_flight, default=None)
        if shard is None or shard.in_flight >= _REQUESTS_PER_SHARD:
            shard = _Shard()
            self.shards.append(shard)
        return shard

    async def aclose(self) -> None:
        for shard in self.shards:
            await shard.transport.aclose()


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, OrderedDict[str, _UserPool]] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def _user_pool(user_id: str) -> AsyncIterator[httpx.AsyncHTTPTransport]:
    """A pool of ``user_id``'s on the running loop, held for one request (see the module docstring)."""
    pools = _pools.setdefault(asyncio.get_running_loop(), OrderedDict())
    pool = pools.pop(user_id, None) or _UserPool()
    pools[user_id] = pool  # the most recently used last
    evicted = []
    while len(pools) > _MAX_POOLS_PER_LOOP:
        _, oldest = pools.popitem(last=False)
        oldest.evicted = True
        evicted.append(oldest)
    for old in evicted:
        if old.idle():
            await old.aclose()
    shard = pool.least_busy()
    shard.in_flight += 1
    try:
        yield shard.transport
    finally:
        shard.in_flight -= 1
        if pool.evicted and pool.idle():
            await pool.aclose()


class _RequestTransport(httpx.AsyncBaseTransport):
    """One request's connections: the user's pool, or a connection of its own for TLS to a checked address."""

    def __init__(self, pool: httpx.AsyncHTTPTransport) -> None:
        self._pool = pool
        self._own: dict[str, httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sni = request.extensions.get("sni_hostname")
        if sni is None:
            return await self._pool.handle_async_request(request)
        if sni not in self._own:
            # pools match connections by URL origin, here an address: never reuse one made for another name
            self._own[sni] = _transport()
        return await self._own[sni].handle_async_request(request)

    async def aclose(self) -> None:
        """Close this request's own connections; the user's pool stays open."""
        for transport in self._own.values():
            await transport.aclose()


@dataclass(frozen=True)
class HttpPolicy:
    """Where SendWebRequest may send requests, and how long it waits.

    ``allow_private_networks=True`` lifts the SSRF guard (tests against a
    local server, trusted single-user installs).
    """

    allow_private_networks: bool = False
    timeout_seconds: float = 300.0
    max_redirects: int = 10


class RequestRefusedError(ValueError):
    """The policy forbids this request (scheme, host or address)."""


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for a globally routable unicast address, the only kind the guard lets through."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def resolve_checked(url: httpx.URL, policy: HttpPolicy) -> str | None:
    """Check ``url`` against the policy; return the address to connect to.

    None means "connect by name" (the guard is off). Raises
    ``RequestRefusedError`` for a refused URL and ``OSError`` when the host
    does not resolve.
    """
    if url.scheme not in ("http", "https"):
        raise RequestRefusedError(f"Only http and https URLs are allowed, not {url.scheme or 'no scheme'!r}.")
    if not url.raw_host:
        raise RequestRefusedError(f"The URL {url} has no host.")
    if policy.allow_private_networks:
        return None
    host = url.raw_host.decode("ascii")
    port = url.port or (443 if url.scheme == "https" else 80)
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise OSError(f"{host} did not resolve to any address")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not is_public_address(address):
            raise RequestRefusedError(
                f"Access to {host} is not allowed: it resolves to {address}, a private, loopback, "
                "link-local or otherwise non-public address."
            )
    return addresses[0]


class HttpMethod(enum.Enum):
    """The HTTP methods SendWebRequest offers."""

    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    DELETE = "DELETE"
    PATCH = "PATCH"
    OPTIONS = "OPTIONS"
    HEAD = "HEAD"


class MediaFileType(FormattedStringType):
    """A file reference (URL, path or data URI); JSON Schema ``format: file``."""

    string_format = "file"


# The body is ``dict | None`` in the schema, as in AutoGPT, but the block also
# takes text (JSON text is parsed, other text is sent as is), so any value passes.
_Body = Annotated[
    Any,
    WithJsonSchema({"anyOf": [{"type": "object", "additionalProperties": True}, {"type": "null"}]}),
]


class HostScopedCredentials(BaseModel):
    """A reference to stored ``host_scoped`` credentials: headers for one host (never the headers themselves)."""

    model_config = ConfigDict(
        title="HostScopedCredentials",
        json_schema_extra={"credentials_provider": ["http"], "credentials_types": ["host_scoped"]},
    )

    id: str
    title: str | None = None
    provider: Literal["http"]
    type: Literal["host_scoped"]


def _plain_credentials_schema(schema: dict[str, Any]) -> None:
    # optional at run time, but shown as the credentials object the UI and credentials_input_schema expect
    branches = schema.pop("anyOf", None)
    if isinstance(branches, list):
        schema.update(next(b for b in branches if b.get("type") != "null"))
    schema["advanced"] = True


def host_matches(url: httpx.URL, pattern: str) -> bool:
    """``url`` goes to ``pattern``'s host (and port, when it names one), or a subdomain of a ``*.`` pattern."""
    pattern = pattern.lower().rstrip(".")
    name, sep, port = pattern.rpartition(":")
    if sep and port.isdigit() and "]" not in port:
        default = 443 if url.scheme == "https" else 80
        if int(port) != (url.port or default):
            return False
        pattern = name
    host = url.host.lower().rstrip(".")
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern.strip("[]")


class SendWebRequestBlock(Block):
    """Sends one HTTP request and sorts the answer by status class."""

    id = "6595ae1f-b924-42cb-9a41-551a0611c4b4"
    pure = False  # a request reaches another system
    description = "Make an HTTP request (JSON / form / multipart)."
    categories = frozenset({BlockCategory.OUTPUT})

    class Input(BlockSchemaInput):
        url: str = SchemaField(
            description="The URL to send the request to",
            placeholder="https://api.example.com",
        )
        method: HttpMethod = SchemaField(
            HttpMethod.POST,
            description="The HTTP method to use for the request",
        )
        headers: dict[str, str] = SchemaField(
            default_factory=dict,
            description="The headers to include in the request",
        )
        json_format: bool = SchemaField(
            True,
            title="JSON format",
            description="If true, send the body as JSON (unless files are also present).",
        )
        body: _Body = SchemaField(
            None,
            description=("Form/JSON body payload. If files are supplied, this must be a mapping of form‑fields."),
        )
        files_name: str = SchemaField(
            "file",
            description="The name of the file field in the form data.",
        )
        files: list[MediaFileType] = SchemaField(
            default_factory=list,
            description="Mapping of *form field name* → Image url / path / base64 url.",
        )
        credentials: HostScopedCredentials | None = Field(
            None,
            description="Stored host-scoped credentials: their headers are sent to their host only.",
            json_schema_extra=_plain_credentials_schema,
        )

    class Output(BlockSchema):
        response: object = SchemaField(description="The response from the server")
        client_error: object = SchemaField(description="Errors on 4xx status codes")
        server_error: object = SchemaField(description="Errors on 5xx status codes")
        error: str = SchemaField(description="Errors for all other exceptions")

    def __init__(self, policy: HttpPolicy) -> None:
        self.policy = policy

    async def run(self, input_data: Any, context: RunContext) -> BlockOutput:
        data = cast(SendWebRequestBlock.Input, input_data)
        body = data.body
        json_format = data.json_format
        if isinstance(body, str):
            try:
                if len(body) > _MAX_JSON_BODY_CHARS:
                    raise ValueError("JSON body too large")
                body = json.loads(body)
            except ValueError:
                json_format = False  # not JSON: send the text as it is

        if data.files and json_format:
            raise ValueError(
                "json_format=True cannot be combined with file uploads; set json_format=False and put "
                "form fields in `body`."
            )
        content: dict[str, Any] = {}
        if data.files:
            if body is not None and not isinstance(body, dict):
                raise ValueError("With files, `body` must be a mapping of form fields.")
            content["files"] = [_file_part(data.files_name, f, i) for i, f in enumerate(data.files, 1)]
            if body:
                content["data"] = body
        elif body is None:
            pass
        elif json_format:
            content["json"] = body
        elif isinstance(body, dict):
            content["data"] = body
        elif isinstance(body, str):
            content["content"] = body
        else:
            content["content"] = json.dumps(body)

        try:
            stored = run_credentials(context)
            scoped = (stored.meta.host or "", stored.headers) if stored is not None and stored.meta.host else None
            response = await self._send(
                context.user_id, data.method.value, data.url, data.headers, content, scoped=scoped
            )
        except RequestRefusedError as exc:
            yield "error", str(exc)
            return
        except httpx.TimeoutException:
            yield "error", f"Request to {data.url} timed out after {self.policy.timeout_seconds:g} s."
            return
        except (httpx.HTTPError, OSError) as exc:
            yield "error", f"Request to {data.url} failed: {str(exc) or type(exc).__name__}"
            return

        if response.headers.get("content-type", "").startswith("application/json"):
            if response.status_code == 204:
                result: Any = None
            else:
                try:
                    result = response.json()
                except ValueError:  # says JSON, is not: hand over the text
                    result = response.text
        else:
            result = response.text

        if 200 <= response.status_code < 300:
            yield "response", result
        elif 400 <= response.status_code < 500:
            yield "client_error", result
        else:
            yield "server_error", result

    async def _send(
        self,
        user_id: str,
        method: str,
        raw_url: str,
        headers: dict[str, str],
        content: dict[str, Any],
        *,
        scoped: tuple[str, dict[str, str]] | None = None,
    ) -> httpx.Response:
        """Send the request, following redirects and checking every hop against the policy.

        ``scoped`` is ``(host, headers)`` of host-scoped credentials: added to each hop to that host only.
        """
        url = httpx.URL(raw_url)
        headers = dict(headers)
        async with (
            _user_pool(user_id) as pool,
            httpx.AsyncClient(
                transport=_RequestTransport(pool),
                timeout=httpx.Timeout(self.policy.timeout_seconds),
                follow_redirects=False,
                trust_env=False,
            ) as client,
        ):
            for _ in range(self.policy.max_redirects + 1):
                address = await resolve_checked(url, self.policy)
                target, extensions = url, {}
                send_headers = dict(headers)
                if scoped is not None and host_matches(url, scoped[0]):
                    send_headers.update(scoped[1])
                if address is not None:
                    # Connect to the address just checked; name the host for HTTP and TLS.
                    target = url.copy_with(host=address)
                    if not any(name.lower() == "host" for name in send_headers):
                        send_headers["Host"] = url.netloc.decode("ascii")
                    if url.scheme == "https":
                        extensions["sni_hostname"] = url.raw_host.decode("ascii")
                request = client.build_request(method, target, headers=send_headers, extensions=extensions, **content)
                response = await client.send(request)
                location = response.headers.get("location")
                if response.status_code not in _REDIRECT_STATUSES or not location:
                    return response
                next_url = url.join(location)
                becomes_get = (response.status_code == 303 and method != "HEAD") or (
                    response.status_code in (301, 302) and method == "POST"
                )
                if becomes_get:  # as browsers do; the body is dropped
                    method, content = "GET", {}
                    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
                if next_url.scheme != url.scheme or next_url.raw_host != url.raw_host or next_url.port != url.port:
                    # Never carry credentials to another origin.
                    headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
                url = next_url
        raise RequestRefusedError(f"Too many redirects (more than {self.policy.max_redirects}).")


def _file_part(field_name: str, reference: str, number: int) -> tuple[str, tuple[str, bytes, str]]:
    """One multipart file from a ``data:`` URI."""
    if not reference.startswith("data:"):
        raise ValueError(
            f"Only data: URIs can be uploaded (got {reference[:60]!r}); URLs and workspace paths are not supported yet."
        )
    header, sep, payload = reference[5:].partition(",")
    if not sep:
        raise ValueError("Malformed data: URI (no comma).")
    params = header.split(";")
    mime = params[0] or "text/plain"
    is_base64 = "base64" in params[1:]
    raw = base64.b64decode(payload, validate=False) if is_base64 else unquote_to_bytes(payload)
    extension = mimetypes.guess_extension(mime) or ""
    return field_name, (f"file{number}{extension}", raw, mime)


def http_blocks(policy: HttpPolicy) -> list[Block]:
    """The HTTP blocks, sending requests only where ``policy`` allows."""
    return [SendWebRequestBlock(policy)]
