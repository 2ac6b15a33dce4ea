"""SendWebRequestBlock against a real local HTTP server (tests.fakes.http_server)."""

from __future__ import annotations

import base64
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import adapters.blocks.http as http_module
from adapters.blocks.http import HttpPolicy, SendWebRequestBlock, http_blocks, is_public_address
from domain.blocks.base import BlockCategory, BlockExecutionError, BlockType, RunContext
from tests.fakes.http_server import FakeHTTPServer
from tests.unit.blocks.outputs import collect_outputs

OPEN = HttpPolicy(allow_private_networks=True)


async def send(inputs: dict[str, Any], policy: HttpPolicy = OPEN) -> list[tuple[str, Any]]:
    return await collect_outputs(SendWebRequestBlock(policy), inputs)


def only_loopback_v4_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the guard treat 127.0.0.1 as public, to drive the guarded path against the local server."""
    real = is_public_address
    monkeypatch.setattr(
        http_module,
        "is_public_address",
        lambda address: str(address) == "127.0.0.1" or real(address),
    )


# --- identity and pins ---------------------------------------------------------------------------


def test_identity_and_pins() -> None:
    assert SendWebRequestBlock.id == "6595ae1f-b924-42cb-9a41-551a0611c4b4"
    assert SendWebRequestBlock.block_type == BlockType.STANDARD
    assert SendWebRequestBlock.static_output is False
    assert SendWebRequestBlock.categories == {BlockCategory.OUTPUT}
    assert SendWebRequestBlock.description == "Make an HTTP request (JSON / form / multipart)."
    assert SendWebRequestBlock.input_pins() == {
        "url",
        "method",
        "headers",
        "json_format",
        "body",
        "files_name",
        "files",
        "credentials",  # optional host-scoped credentials (ours; AutoGPT's block has no such pin)
    }
    assert SendWebRequestBlock.Input.required_fields() == {"url"}
    assert SendWebRequestBlock.output_pins() == {"response", "client_error", "server_error", "error"}


def test_input_schema_defaults() -> None:
    properties = SendWebRequestBlock.Input.jsonschema()["properties"]
    assert properties["method"]["default"] == "POST"
    assert properties["method"]["enum"] == ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]
    assert properties["json_format"]["default"] is True
    assert properties["json_format"]["title"] == "JSON format"
    assert properties["body"]["default"] is None
    assert properties["body"]["anyOf"] == [{"type": "object", "additionalProperties": True}, {"type": "null"}]
    assert properties["files_name"]["default"] == "file"
    assert properties["files"]["items"] == {"type": "string", "format": "file"}


def test_http_blocks_builds_the_block_with_the_policy() -> None:
    policy = HttpPolicy()
    (block,) = http_blocks(policy)
    assert isinstance(block, SendWebRequestBlock)
    assert block.policy is policy


# --- requests ------------------------------------------------------------------------------------


async def test_get_echo(fake_http: FakeHTTPServer) -> None:
    outputs = await send({"url": fake_http.url("/echo?x=1"), "method": "GET", "headers": {"X-Test": "yes"}})
    assert len(outputs) == 1
    pin, echo = outputs[0]
    assert pin == "response"
    assert echo["method"] == "GET"
    assert echo["path"] == "/echo"
    assert echo["query"] == "x=1"
    assert echo["headers"]["x-test"] == "yes"
    assert echo["body"] == ""
    assert fake_http.hits("/echo") == 1


async def test_default_is_a_json_post(fake_http: FakeHTTPServer) -> None:
    outputs = await send({"url": fake_http.url("/items"), "body": {"name": "cat", "n": 2}})
    echo = outputs[0][1]
    assert echo["method"] == "POST"
    assert echo["headers"]["content-type"] == "application/json"
    assert echo["json"] == {"name": "cat", "n": 2}


async def test_form_body_when_json_format_is_off(fake_http: FakeHTTPServer) -> None:
    outputs = await send({"url": fake_http.url("/form"), "body": {"a": "1", "b": "x y"}, "json_format": False})
    echo = outputs[0][1]
    assert echo["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert echo["body"] == "a=1&b=x+y"


async def test_json_text_body_is_parsed_and_sent_as_json(fake_http: FakeHTTPServer) -> None:
    outputs = await send({"url": fake_http.url("/t"), "body": '{"k": [1, 2]}'})
    echo = outputs[0][1]
    assert echo["headers"]["content-type"] == "application/json"
    assert echo["json"] == {"k": [1, 2]}


async def test_other_text_body_is_sent_as_is(fake_http: FakeHTTPServer) -> None:
    outputs = await send({"url": fake_http.url("/t"), "method": "PUT", "body": "plain words"})
    echo = outputs[0][1]
    assert echo["method"] == "PUT"
    assert echo["body"] == "plain words"
    assert echo["headers"].get("content-type") != "application/json"


async def test_no_body(fake_http: FakeHTTPServer) -> None:
    outputs = await send({"url": fake_http.url("/t"), "method": "DELETE"})
    assert outputs[0][1]["body"] == ""
    assert outputs[0][1]["method"] == "DELETE"


@pytest.mark.parametrize(
    ("status", "pin"),
    [
        (200, "response"),
        (201, "response"),
        (299, "response"),
        (400, "client_error"),
        (404, "client_error"),
        (429, "client_error"),
        (499, "client_error"),
        (500, "server_error"),
        (503, "server_error"),
    ],
)
async def test_status_classes(fake_http: FakeHTTPServer, status: int, pin: str) -> None:
    fake_http.status("/s", status)
    outputs = await send({"url": fake_http.url("/s"), "method": "GET"})
    assert [p for p, _ in outputs] == [pin]
    assert outputs[0][1]["path"] == "/s"  # the JSON body is parsed in every class


async def test_204_json_response_is_none(fake_http: FakeHTTPServer) -> None:
    fake_http.status("/empty", 204)
    assert await send({"url": fake_http.url("/empty")}) == [("response", None)]


async def test_text_responses_stay_text(fake_http: FakeHTTPServer) -> None:
    fake_http.respond("/text", body="hello", content_type="text/plain")
    fake_http.respond("/bad-json", status=500, body="{oops", content_type="application/json")
    fake_http.respond("/teapot", status=418, body="<p>short and stout</p>", content_type="text/html")
    assert await send({"url": fake_http.url("/text"), "method": "GET"}) == [("response", "hello")]
    assert await send({"url": fake_http.url("/bad-json"), "method": "GET"}) == [("server_error", "{oops")]
    assert await send({"url": fake_http.url("/teapot"), "method": "GET"}) == [
        ("client_error", "<p>short and stout</p>")
    ]


async def test_json_list_response(fake_http: FakeHTTPServer) -> None:
    fake_http.respond("/list", body=[1, "two", {"three": 3}])
    assert await send({"url": fake_http.url("/list"), "method": "GET"}) == [("response", [1, "two", {"three": 3}])]


async def test_head_request(fake_http: FakeHTTPServer) -> None:
    fake_http.respond("/h", body="ignored", content_type="text/plain")
    assert await send({"url": fake_http.url("/h"), "method": "HEAD"}) == [("response", "")]
    assert fake_http.requests[0].method == "HEAD"


# --- redirects -----------------------------------------------------------------------------------


async def test_redirect_is_followed_and_post_becomes_get(fake_http: FakeHTTPServer) -> None:
    fake_http.redirect("/old", "/new")
    outputs = await send({"url": fake_http.url("/old"), "body": {"a": 1}})
    echo = outputs[0][1]
    assert echo["path"] == "/new"
    assert echo["method"] == "GET"
    assert echo["body"] == ""
    assert (fake_http.hits("/old"), fake_http.hits("/new")) == (1, 1)


async def test_307_keeps_method_and_body(fake_http: FakeHTTPServer) -> None:
    fake_http.redirect("/old", fake_http.url("/new"), status=307)
    outputs = await send({"url": fake_http.url("/old"), "body": {"a": 1}})
    echo = outputs[0][1]
    assert (echo["path"], echo["method"], echo["json"]) == ("/new", "POST", {"a": 1})


async def test_redirect_loop_fails(fake_http: FakeHTTPServer) -> None:
    fake_http.redirect("/loop", "/loop")
    outputs = await send({"url": fake_http.url("/loop"), "method": "GET"}, HttpPolicy(True, max_redirects=3))
    assert outputs == [("error", "Too many redirects (more than 3).")]
    assert fake_http.hits("/loop") == 4


# --- failures ------------------------------------------------------------------------------------


async def test_connection_refused_is_an_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outputs = await send({"url": f"http://127.0.0.1:{port}/", "method": "GET"})
    assert [p for p, _ in outputs] == ["error"]
    assert outputs[0][1].startswith(f"Request to http://127.0.0.1:{port}/ failed:")


async def test_timeout_is_an_error(fake_http: FakeHTTPServer) -> None:
    fake_http.delay("/slow", 5.0)
    started = time.monotonic()
    outputs = await send({"url": fake_http.url("/slow"), "method": "GET"}, HttpPolicy(True, timeout_seconds=0.3))
    assert outputs == [("error", f"Request to {fake_http.url('/slow')} timed out after 0.3 s.")]
    assert time.monotonic() - started < 3
    assert fake_http.hits("/slow") == 1


async def test_an_error_fails_the_node_through_execute(fake_http: FakeHTTPServer) -> None:
    with pytest.raises(BlockExecutionError, match="not allowed"):
        async for _ in SendWebRequestBlock(HttpPolicy()).execute({"url": fake_http.url("/x")}):
            pass


# --- where requests may go ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/",
        "http://127.0.0.1:8080/admin",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://100.64.0.1/",  # shared address space
        "http://0.0.0.0/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[::ffff:127.0.0.1]/",
        "https://224.0.0.1/",
    ],
)
async def test_private_addresses_are_refused(url: str) -> None:
    outputs = await send({"url": url, "method": "GET"}, HttpPolicy())
    assert [p for p, _ in outputs] == ["error"]
    assert "is not allowed" in outputs[0][1]


async def test_refused_request_never_reaches_the_server(fake_http: FakeHTTPServer) -> None:
    outputs = await send({"url": fake_http.url("/secret"), "method": "GET"}, HttpPolicy())
    assert outputs == [
        (
            "error",
            "Access to 127.0.0.1 is not allowed: it resolves to 127.0.0.1, a private, loopback, "
            "link-local or otherwise non-public address.",
        )
    ]
    assert fake_http.hits("/secret") == 0


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/"])
async def test_other_schemes_are_refused(url: str) -> None:
    outputs = await send({"url": url, "method": "GET"})
    assert [p for p, _ in outputs] == ["error"]
    assert outputs[0][1].startswith("Only http and https URLs are allowed")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("93.184.216.34", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("169.254.1.1", False),
        ("100.64.0.1", False),
        ("192.0.2.1", False),  # documentation range
        ("224.0.0.1", False),
        ("::1", False),
        ("::ffff:10.0.0.1", False),
        ("fe80::1", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


async def test_guarded_request_connects_to_the_checked_address(
    fake_http: FakeHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_loopback_v4_is_public(monkeypatch)
    outputs = await send({"url": fake_http.url("/pinned"), "method": "GET"}, HttpPolicy())
    assert outputs[0][0] == "response"
    assert outputs[0][1]["headers"]["host"] == f"127.0.0.1:{fake_http.port}"


async def test_guarded_request_keeps_the_host_name(fake_http: FakeHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    real_getaddrinfo = socket.getaddrinfo

    def ipv4_localhost(host: Any, *args: Any, **kwargs: Any) -> Any:
        # whatever this machine's hosts file says (it may add ::1), localhost is 127.0.0.1 here
        if host == "localhost":
            return [info for info in real_getaddrinfo(host, *args, **kwargs) if info[4][0] == "127.0.0.1"] or [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", args[0] if args else 0))
            ]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", ipv4_localhost)
    only_loopback_v4_is_public(monkeypatch)
    url = f"http://localhost:{fake_http.port}/named"
    outputs = await send({"url": url, "method": "GET"}, HttpPolicy())
    assert outputs[0][1]["headers"]["host"] == f"localhost:{fake_http.port}"


async def test_redirect_to_a_private_address_is_refused(
    fake_http: FakeHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_loopback_v4_is_public(monkeypatch)
    fake_http.redirect("/go", "http://10.0.0.1/internal")
    outputs = await send({"url": fake_http.url("/go"), "method": "GET"}, HttpPolicy())
    assert [p for p, _ in outputs] == ["error"]
    assert "Access to 10.0.0.1 is not allowed" in outputs[0][1]
    assert fake_http.hits("/go") == 1


async def test_credentials_are_not_carried_to_another_origin(fake_http: FakeHTTPServer) -> None:
    with FakeHTTPServer() as other:
        fake_http.redirect("/go", other.url("/landed"))
        outputs = await send(
            {
                "url": fake_http.url("/go"),
                "method": "GET",
                "headers": {"Authorization": "Bearer x", "X-Keep": "1"},
            }
        )
        echo = outputs[0][1]
        assert echo["path"] == "/landed"
        assert "authorization" not in echo["headers"]
        assert echo["headers"]["x-keep"] == "1"


# --- kept-alive connections, per user --------------------------------------------------------------


@pytest.fixture
def keep_alive_http() -> Iterator[FakeHTTPServer]:
    """A fake server that keeps connections open (HTTP/1.1), so connection reuse is visible."""
    with FakeHTTPServer(keep_alive=True) as server:
        yield server


async def send_as(user: str, inputs: dict[str, Any], policy: HttpPolicy = OPEN) -> list[tuple[str, Any]]:
    return await collect_outputs(SendWebRequestBlock(policy), inputs, RunContext(user_id=user))


async def test_a_users_consecutive_requests_reuse_one_connection(keep_alive_http: FakeHTTPServer) -> None:
    for index in range(3):
        outputs = await send_as("alice", {"url": keep_alive_http.url(f"/call/{index}"), "body": {"n": index}})
        assert outputs[0][0] == "response"
    ports = {request.client_port for request in keep_alive_http.requests}
    assert len(ports) == 1, "each request opened a connection of its own"


async def test_users_never_share_a_connection(keep_alive_http: FakeHTTPServer) -> None:
    await send_as("alice", {"url": keep_alive_http.url("/a"), "method": "GET"})
    await send_as("bob", {"url": keep_alive_http.url("/b"), "method": "GET"})
    await send_as("alice", {"url": keep_alive_http.url("/a"), "method": "GET"})
    first, second, third = (request.client_port for request in keep_alive_http.requests)
    assert first == third, "alice's connection was not kept"
    assert second != first, "bob was sent over alice's connection"


async def test_a_cookie_set_for_one_request_is_never_sent_again(keep_alive_http: FakeHTTPServer) -> None:
    keep_alive_http.respond("/login", body={"ok": True}, headers={"Set-Cookie": "session=alice-secret; Path=/"})
    assert (await send_as("alice", {"url": keep_alive_http.url("/login"), "method": "GET"}))[0][0] == "response"
    for user in ("bob", "alice"):
        echo = (await send_as(user, {"url": keep_alive_http.url("/whoami"), "method": "GET"}))[0][1]
        assert "cookie" not in echo["headers"], f"{user} was sent the cookie of an earlier request"


async def test_a_cookie_set_on_a_redirect_is_kept_for_that_request(keep_alive_http: FakeHTTPServer) -> None:
    keep_alive_http.respond("/start", status=302, headers={"Location": "/landed", "Set-Cookie": "step=1; Path=/"})
    echo = (await send_as("alice", {"url": keep_alive_http.url("/start"), "method": "GET"}))[0][1]
    assert echo["path"] == "/landed"
    assert echo["headers"]["cookie"] == "step=1"


# --- files ---------------------------------------------------------------------------------------


async def test_data_uri_files_are_uploaded_as_multipart(fake_http: FakeHTTPServer) -> None:
    payload = base64.b64encode(b"hello file").decode()
    outputs = await send(
        {
            "url": fake_http.url("/upload"),
            "json_format": False,
            "body": {"title": "greeting"},
            "files_name": "attachment",
            "files": [f"data:text/plain;base64,{payload}"],
        }
    )
    assert outputs[0][0] == "response"
    received = fake_http.requests[0]
    assert received.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert 'name="attachment"; filename="file1.txt"' in received.text
    assert "hello file" in received.text
    assert 'name="title"' in received.text and "greeting" in received.text


async def test_files_with_json_format_fail() -> None:
    block = SendWebRequestBlock(OPEN)
    with pytest.raises(BlockExecutionError, match="json_format=True cannot be combined with file uploads"):
        async for _ in block.execute({"url": "http://127.0.0.1:9/", "files": ["data:text/plain,hi"]}):
            pass


async def test_files_other_than_data_uris_fail() -> None:
    block = SendWebRequestBlock(OPEN)
    with pytest.raises(BlockExecutionError, match="Only data: URIs can be uploaded"):
        async for _ in block.execute(
            {"url": "http://127.0.0.1:9/", "json_format": False, "files": ["https://example.com/a.png"]}
        ):
            pass


# --- the fake server itself ---------------------------------------------------------------------


def test_fake_server_stops_promptly_with_a_delayed_request_in_flight() -> None:
    server = FakeHTTPServer().start()
    server.delay("/slow", 30.0)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            httpx.get(server.url("/slow"), timeout=10)
        except BaseException as exc:  # the dropped connection
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 5
    while server.hits("/slow") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.hits("/slow") == 1
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert errors and isinstance(errors[0], httpx.HTTPError)


async def test_host_scoped_credentials_add_their_headers_to_their_host_only(fake_http: FakeHTTPServer) -> None:
    from domain.credentials import RUN_CREDENTIALS, CredentialsMeta, CredentialsType, ResolvedCredentials

    def opened(host: str) -> RunContext:
        meta = CredentialsMeta("alice", "http", CredentialsType.HOST_SCOPED, host=host)
        resolved = ResolvedCredentials("c1", meta, {"headers": {"X-Api-Token": "hdr-secret"}})
        return RunContext(user_id="alice", extra={RUN_CREDENTIALS: {"credentials": resolved}})

    reference = {"id": "c1", "provider": "http", "type": "host_scoped"}
    inputs = {"url": fake_http.url("/echo"), "method": "GET", "credentials": reference}
    block = SendWebRequestBlock(OPEN)
    here = httpx.URL(fake_http.url("/")).netloc.decode()
    echo = (await collect_outputs(block, inputs, opened(here)))[0][1]
    assert echo["headers"]["x-api-token"] == "hdr-secret"
    echo = (await collect_outputs(block, inputs, opened("api.example.com")))[0][1]
    assert "x-api-token" not in echo["headers"]
    with FakeHTTPServer() as other:  # a redirect to another host does not carry them
        fake_http.redirect("/away", other.url("/landed"))
        landed = (await collect_outputs(block, {**inputs, "url": fake_http.url("/away")}, opened(here)))[0][1]
        assert landed["path"] == "/landed" and "x-api-token" not in landed["headers"]
