"""A real, deterministic OpenAI-compatible chat-completions server for tests.

It listens on 127.0.0.1 on a free port, in a background thread, and answers
``POST /v1/chat/completions`` with a ``chat.completion`` object (with
``usage`` token counts), like OpenAI, Ollama's ``/v1``, vLLM or LiteLLM do.

Default answers, derived from the request:

- when a system message shows a JSON format to follow (a ``{`` / ``[`` block
  on lines of its own, as the LLM blocks' format instructions do), the answer
  is JSON of that shape with every string replaced by ``"<key> value"``
  (``"<key> value 1"``, ``"<key> value 2"`` inside arrays of objects), and a
  string description mentioning "array" becomes ``["<key> item 1", ...,
  "<key> item 3"]``; the JSON is wrapped in the requested
  ``<json_output id="...">`` tags, or bare when the request asks for
  ``response_format: json_object`` or shows no tag;
- otherwise ``"Echo: <first 200 characters of the last user message>"``.

``prompt_tokens`` / ``completion_tokens`` default to the number of
whitespace-separated words in the messages / in the answer.

A test can queue scripted replies (``script``), make requests fail with a
status (``fail``) and slow every answer down (``delay``). Every request is
recorded (``requests``).

Use the ``fake_openai`` fixture (``tests.fakes.openai_server.fake_openai``) or
the server as a context manager::

    with FakeOpenAIServer() as server:
        config = LLMConfig(base_url=server.base_url, api_key="sk-test")
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.fakes.threaded_server import FakeServerThread

_TAG_RE = re.compile(r'<json_output id="([^"]+)">')
# A JSON format shown in a prompt: an opening bracket alone on its line, up to
# the first closing bracket alone on its line (nested lines are indented).
_FORMAT_BLOCK_RE = re.compile(r"^[\[{]\s*$.*?^[\]}]\s*$", re.MULTILINE | re.DOTALL)
_ELLIPSIS_LINE_RE = re.compile(r"^\s*\.\.\.\s*,?\s*$", re.MULTILINE)
_TRAILING_COMMA_RE = re.compile(r",(\s*[\]}])")


@dataclass(frozen=True)
class ChatRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: dict[str, Any]

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []

    @property
    def system_text(self) -> str:
        """Every system message's text, joined by blank lines."""
        return "\n\n".join(_text(m) for m in self.messages if m.get("role") == "system")

    @property
    def last_user_message(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return _text(message)
        return ""

    @property
    def json_tag_id(self) -> str | None:
        """The id of the ``<json_output id="...">`` tag the prompt asks for, if any."""
        match = _TAG_RE.search(self.system_text)
        return match.group(1) if match else None

    @property
    def wants_pure_json(self) -> bool:
        response_format = self.body.get("response_format")
        return isinstance(response_format, dict) and response_format.get("type") == "json_object"

    @property
    def expected_format(self) -> Any:
        """The JSON shape a system message asks for (``...`` lines removed), or None."""
        for message in reversed(self.messages):
            if message.get("role") != "system":
                continue
            for block in _FORMAT_BLOCK_RE.findall(_text(message)):
                cleaned = _TRAILING_COMMA_RE.sub(r"\1", _ELLIPSIS_LINE_RE.sub("", block))
                try:
                    return json.loads(cleaned)
                except json.JSONDecodeError:
                    continue
        return None

    def wrap_json(self, value: Any) -> str:
        """``value`` as JSON, inside the requested tags unless bare JSON is wanted."""
        tag_id = self.json_tag_id
        if tag_id is None or self.wants_pure_json:
            return json.dumps(value)
        return f'Here is the answer.\n<json_output id="{tag_id}">\n{json.dumps(value, indent=2)}\n</json_output>'


@dataclass(frozen=True)
class Reply:
    """A scripted reply. ``content=None`` means the server's default answer."""

    content: str | None = None
    status: int = 200
    error: str | None = None
    """Error message put in the body of a non-2xx reply."""
    delay: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


ReplySpec = str | Reply | Callable[[ChatRequest], "str | Reply"]
"""What ``script`` takes: the answer text, a ``Reply``, or a function of the request."""


def json_reply(value: Any) -> Callable[[ChatRequest], str]:
    """A scripted reply answering ``value`` as JSON in the request's own tags."""
    return lambda request: request.wrap_json(value)


def default_answer(request: ChatRequest) -> str:
    """The deterministic answer the server gives when nothing is scripted."""
    template = request.expected_format
    if template is not None:
        return request.wrap_json(_fill(template, "value"))
    return f"Echo: {request.last_user_message[:200]}"


def _fill(node: Any, key: str, index: int | None = None) -> Any:
    suffix = f" {index}" if index is not None else ""
    if isinstance(node, dict):
        return {k: _fill(v, k, index) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(node[0], key, i) for i in (1, 2)] if node else []
    if isinstance(node, str):
        if "array" in node.lower():
            return [f"{key} item {i}" for i in (1, 2, 3)]
        return f"{key} value{suffix}"
    return node


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _word_count(text: str) -> int:
    return len(text.split())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAIServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(400, {"error": {"message": "request body is not JSON", "type": "invalid_request"}})
            return
        request = ChatRequest(
            method="POST",
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body if isinstance(body, dict) else {},
        )
        status, payload, delay = self.server.fake._answer(request)
        if delay > 0 and self.server.fake._stopping.wait(delay):
            return  # shutting down: drop the connection instead of answering
        self._send(status, payload)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout); nothing to do


@dataclass
class FakeOpenAIServer(FakeServerThread):
    """An OpenAI-compatible server on 127.0.0.1 (see the module docstring)."""

    host: str = "127.0.0.1"
    thread_name = "fake-openai"
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _requests: list[ChatRequest] = field(default_factory=list, init=False, repr=False)
    _queue: deque[ReplySpec] = field(default_factory=deque, init=False, repr=False)
    _delay: float = field(default=0.0, init=False, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _httpd: _Server | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _counter: int = field(default=0, init=False, repr=False)

    # --- what a test reads --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def requests(self) -> list[ChatRequest]:
        """Every chat-completions request received so far, in order (a copy)."""
        with self._lock:
            return list(self._requests)

    # --- what a test scripts ------------------------------------------------------------------

    def script(self, *replies: ReplySpec) -> None:
        """Queue replies; each request takes the next one, then defaults resume."""
        with self._lock:
            self._queue.extend(replies)

    def fail(self, status: int, message: str = "scripted failure", times: int = 1) -> None:
        """Queue ``times`` error replies with this HTTP status."""
        self.script(*[Reply(status=status, error=message)] * times)

    def delay(self, seconds: float) -> None:
        """Wait this long before every answer from now on."""
        with self._lock:
            self._delay = seconds

    def reset(self) -> None:
        """Forget requests, scripted replies and the delay."""
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self._delay = 0.0

    # --- answering ----------------------------------------------------------------------------

    def _answer(self, request: ChatRequest) -> tuple[int, dict[str, Any], float]:
        with self._lock:
            self._requests.append(request)
            spec: ReplySpec | None = self._queue.popleft() if self._queue else None
            delay = self._delay
            self._counter += 1
            number = self._counter
        reply = spec(request) if callable(spec) else spec
        if reply is None:
            reply = Reply()
        elif isinstance(reply, str):
            reply = Reply(content=reply)
        delay += reply.delay
        if not 200 <= reply.status < 300:
            error = {"message": reply.error or f"HTTP {reply.status}", "type": "fake_error", "code": None}
            return reply.status, {"error": error}, delay
        content = reply.content if reply.content is not None else default_answer(request)
        prompt_tokens = reply.prompt_tokens
        if prompt_tokens is None:
            prompt_tokens = sum(_word_count(_text(m)) for m in request.messages)
        completion_tokens = reply.completion_tokens
        if completion_tokens is None:
            completion_tokens = _word_count(content)
        payload = {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": 1_700_000_000 + number,
            "model": request.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return 200, payload, delay


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    """A fresh fake OpenAI-compatible server for one test."""
    with FakeOpenAIServer() as server:
        yield server


FakeOpenAIServer.handler = _Handler
FakeOpenAIServer.server_class = _Server
