"""Mock LLM providers that speak each provider's *native* HTTP API.

The integration tests put these servers behind the real gateway (Envoy + the
Switchyard wasm filter) and check that the gateway translates correctly. A mock
is only useful if it is as picky as the real service, so every mock

* serves exactly the provider's paths and methods, and answers anything else
  with that provider's own "not found" error;
* checks authentication the provider's way (``Authorization: Bearer`` for
  OpenAI, ``api-key`` + ``api-version`` for Azure, ``x-api-key`` +
  ``anthropic-version`` for Anthropic) and rejects the other styles;
* validates the request body shape (required fields, types, unknown fields,
  message/tool structure) and answers with the provider's native error body and
  status, mimicking the real error messages where they are known;
* answers deterministically ("Hello from <provider> mock: <last user text>"),
  so a test can assert what reached the provider and what came back;
* streams in the provider's native SSE format over HTTP/1.1 chunked transfer
  encoding, one SSE event per chunk, flushed, with a small pause between events
  so incremental delivery through the gateway is observable;
* records every request (method, path, query, headers, raw and parsed body);
* has fault switches: fail the next N requests with a status and a native error
  body, delay, reset the connection (before answering or mid-stream), stall a
  stream, inject a native mid-stream error event, slow streaming, and split SSE
  events across TCP writes;
* optionally (``directives=True``, off by default) take faults from the request
  itself: a last user message starting with ``#fault:500``, ``#fault:429``,
  ``#fault:reset`` or ``#fault:reset-mid-stream`` gets that fault, so a client
  sending many concurrent requests knows which of them fail (see
  :meth:`MockProvider.directive_plan`).

Servers bind 127.0.0.1 on an ephemeral port (``port`` tells which), run a
``ThreadingHTTPServer`` and speak HTTP/1.1 with keep-alive, as Envoy does
upstream. They accept request bodies with ``Content-Length`` or chunked
transfer encoding (Envoy re-chunks a body whose length a filter changed).

Only the Python standard library is used.

Example::

    with OpenAIMock(api_key="sk-test") as openai:
        openai.fail_next(1, 429)
        ...  # point the gateway at openai.base_url
        assert openai.requests[-1].json["model"] == "gpt-4o-mini"
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import ssl
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable

__all__ = [
    "AnthropicMock",
    "AzureMock",
    "CLOUD_PROFILES",
    "MockProvider",
    "OllamaMock",
    "OpenAIMock",
    "RecordedRequest",
]

#: Upper bound for any sleep a fault switch asks for (delay, stall).
MAX_FAULT_SECONDS = 120.0
#: Upper bound for a request body the mocks will read.
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Default arguments the mocks put in a tool call.
DEFAULT_TOOL_ARGS: dict[str, Any] = {"location": "Paris", "unit": "celsius"}
#: How a directive starts (see :meth:`MockProvider.directive_plan`).
DIRECTIVE_PREFIX = "#fault:"
#: SSE events a ``#fault:reset-mid-stream`` directive sends before the reset.
DIRECTIVE_RESET_AFTER_EVENTS = 3


# --------------------------------------------------------------------------------------
# Recorded requests
# --------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request as the mock received it.

    ``headers`` has lower-cased names (repeated headers joined with ", ");
    ``query`` maps each query parameter to its first value (``query_list`` keeps
    them all); ``json`` is the parsed body, or ``None`` when the body was empty
    or not JSON. ``status`` is the status the mock answered (``None`` for a
    connection reset before any answer).
    """

    method: str
    path: str
    query: dict[str, str]
    query_list: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any
    chunked: bool
    received_at: float
    status: int | None = None
    #: The path exactly as on the request line (percent-encoding kept), for
    #: mocks that verify signatures over it (Bedrock's SigV4).
    raw_path: str = ""
    #: The server name (SNI) the client sent in its TLS handshake; ``None`` for a
    #: plain-TCP connection or a TLS client that sent none (see :meth:`MockProvider.serve_tls`).
    tls_server_name: str | None = None
    #: The request came over TLS.
    tls: bool = False

    def header(self, name: str, default: str | None = None) -> str | None:
        """The value of header ``name`` (case-insensitive)."""
        return self.headers.get(name.lower(), default)

    @property
    def target(self) -> str:
        """Path plus query string, as on the request line."""
        if not self.query_list:
            return self.path
        return self.path + "?" + urllib.parse.urlencode(self.query_list, doseq=True)


# --------------------------------------------------------------------------------------
# Responses produced by the provider logic, written by the common writer
# --------------------------------------------------------------------------------------


@dataclass
class JsonResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body, separators=(",", ":")).encode()


@dataclass
class StreamResponse:
    """A streamed answer: ``events`` are complete SSE events (ending in a blank line)."""

    events: list[bytes]
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


@dataclass
class _Plan:
    """What the fault switches decided for one request."""

    fail: tuple[int, Any, dict[str, str]] | None = None
    delay: float = 0.0
    reset_immediately: bool = False
    reset_after: int | None = None
    stall: tuple[float, int] | None = None
    stream_error: tuple[int, Any] | None = None


@dataclass
class _Fault:
    kind: str
    remaining: int | None  # None: every request until clear_faults()
    params: dict[str, Any]


class _MockHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, mock: "MockProvider"):
        self.mock = mock
        super().__init__(("127.0.0.1", 0), _Handler)
        if mock._tls_context is not None:
            # The handshake runs in each connection's own thread (see _Handler.setup).
            self.socket = mock._tls_context.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request, client_address):  # noqa: D401 - quiet by design
        # A client that went away mid-answer is normal in fault tests.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SwitchyardMock/1.0"
    sys_version = ""
    # Idle keep-alive connections are dropped after this many seconds (stop() drops
    # them at once).
    timeout = 300

    server: _MockHTTPServer

    # -- connection bookkeeping -------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.server.mock._track_connection(self.connection, True)
        #: The SNI of this connection's TLS handshake (None: plain TCP or no SNI).
        self.tls_server_name: str | None = None
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()
            self.tls_server_name = getattr(self.connection, "switchyard_sni", None)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.mock._track_connection(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    # -- dispatch -----------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        try:
            self._serve()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout):
            self.close_connection = True
        except OSError:
            self.close_connection = True

    def _read_body(self) -> tuple[bytes, bool]:
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            body = bytearray()
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionResetError("eof in chunked body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers
                        trailer = self.rfile.readline(65537)
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    return bytes(body), True
                if len(body) + size > MAX_BODY_BYTES:
                    raise ConnectionResetError("body too large")
                body += self.rfile.read(size)
                self.rfile.readline(3)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ConnectionResetError("body too large")
        return (self.rfile.read(length) if length else b""), False

    def _serve(self) -> None:
        mock = self.server.mock
        body, chunked = self._read_body()
        parsed = urllib.parse.urlsplit(self.path)
        query_list = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        try:
            parsed_json = json.loads(body) if body else None
        except ValueError:
            parsed_json = None
        req = RecordedRequest(
            method=self.command,
            path=urllib.parse.unquote(parsed.path),
            query={k: v[0] for k, v in query_list.items()},
            query_list=query_list,
            headers=headers,
            body=body,
            json=parsed_json,
            chunked=chunked,
            received_at=time.time(),
            raw_path=parsed.path,
            tls_server_name=self.tls_server_name,
            tls=isinstance(self.connection, ssl.SSLSocket),
        )
        mock._record(req)
        plan = mock._plan()
        if mock.directives:
            mock._apply_directive(req, plan)

        if plan.reset_immediately:
            self._reset()
            return
        if plan.delay > 0 and mock._sleep(plan.delay):
            self.close_connection = True
            return
        if plan.fail is not None:
            status, fbody, fheaders = plan.fail
            response: JsonResponse | StreamResponse = JsonResponse(
                status, mock.error_body(status) if fbody is None else fbody, dict(fheaders)
            )
        else:
            try:
                response = mock.handle(req)
            except Exception as exc:  # a bug in the mock must not look like a gateway bug
                response = JsonResponse(
                    500, {"mock_internal_error": f"{type(exc).__name__}: {exc}"}
                )
        req.status = response.status
        if isinstance(response, StreamResponse):
            self._write_stream(mock, response, plan)
        else:
            self._write_json(mock, response, plan)

    # -- writers ----------------------------------------------------------------------
    def _send_head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _write_json(self, mock: "MockProvider", resp: JsonResponse, plan: _Plan) -> None:
        data = resp.encoded() if self.command != "HEAD" else b""
        headers = {"Content-Type": "application/json", **mock.response_headers(), **resp.headers}
        headers["Content-Length"] = str(len(resp.encoded()))
        self._send_head(resp.status, headers)
        half = len(data) // 2
        if plan.reset_after is not None or plan.stall is not None:
            self.wfile.write(data[:half])
            if plan.reset_after is not None:
                self._reset()
                return
            assert plan.stall is not None
            if mock._sleep(plan.stall[0]):
                self.close_connection = True
                return
            data = data[half:]
        self.wfile.write(data)

    def _write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))

    def _write_stream(self, mock: "MockProvider", resp: StreamResponse, plan: _Plan) -> None:
        headers = {
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            **mock.response_headers(),
            **resp.headers,
            "Transfer-Encoding": "chunked",
        }
        self._send_head(resp.status, headers)
        for index, event in enumerate(resp.events):
            if plan.reset_after is not None and index == plan.reset_after:
                self._reset()
                return
            if plan.stall is not None and index == plan.stall[1]:
                if mock._sleep(plan.stall[0]):
                    self.close_connection = True
                    return
            if plan.stream_error is not None and index == plan.stream_error[0]:
                self._write_chunk(mock.stream_error_event(plan.stream_error[1]))
                break
            if mock.split_events and len(event) > 1:
                cut = len(event) // 2
                self._write_chunk(event[:cut])
                if mock._sleep(mock.stream_interval):
                    return
                self._write_chunk(event[cut:])
            else:
                self._write_chunk(event)
            if index + 1 < len(resp.events) and mock._sleep(mock.stream_interval):
                self.close_connection = True
                return
        if plan.stall is not None and plan.stall[1] >= len(resp.events):
            # Every event went out; the end of the body comes late.
            self.wfile.flush()
            if mock._sleep(plan.stall[0]):
                self.close_connection = True
                return
        self.wfile.write(b"0\r\n\r\n")

    def _reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0, then close)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            self.connection.close()
        except OSError:
            pass


# --------------------------------------------------------------------------------------
# Base class: lifecycle, recording, fault switches
# --------------------------------------------------------------------------------------


class MockProvider:
    """Common machinery of the provider mocks.

    Subclasses implement :meth:`handle` (route + validate + answer),
    :meth:`error_body` (native error body for a status) and
    :meth:`stream_error_event` (native mid-stream error event).

    ``directives=True`` (every subclass takes it as a keyword) makes the mock obey
    ``#fault:…`` directives at the start of a request's last user message (see
    :meth:`directive_plan`): a load generator then decides per request which ones
    fail. Off by default: without it a ``#fault:`` text is answered like any text.
    """

    #: Short provider name used in answers: "Hello from <name> mock: ...".
    name = "mock"

    def __init__(self, directives: bool = False) -> None:
        #: Take faults from ``#fault:…`` directives in requests (off by default).
        self.directives = directives
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._connections: set[socket.socket] = set()
        self._stop_event = threading.Event()
        self._server: _MockHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0
        #: Seconds between two SSE events of a stream (see :meth:`slow_stream`).
        self.stream_interval = 0.02
        #: Write each SSE event as two chunks, with a pause between them.
        self.split_events = False
        #: Fixed answer text instead of "Hello from <name> mock: <last user text>".
        self.reply_text: str | None = None
        #: Arguments the mock puts in tool calls.
        self.tool_args: dict[str, Any] = dict(DEFAULT_TOOL_ARGS)
        #: Set by :meth:`serve_tls`: the server's TLS context and its host name.
        self._tls_context: ssl.SSLContext | None = None
        self._tls_host = "127.0.0.1"

    def serve_tls(self, certfile: str, keyfile: str, host: str = "localhost") -> "MockProvider":
        """Serve HTTPS instead of HTTP (call before :meth:`start`): the certificate
        ``certfile`` must name ``host``, which :attr:`root_url` then uses (it must
        resolve to 127.0.0.1). Each recorded request notes whether it came over TLS
        and the server name (SNI) the client sent. ALPN offers only ``http/1.1``."""
        if self._server is not None:
            raise RuntimeError("serve_tls() must be called before start()")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        ctx.set_alpn_protocols(["http/1.1"])

        def remember_sni(sock: ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
            sock.switchyard_sni = name  # type: ignore[attr-defined]

        ctx.sni_callback = remember_sni
        self._tls_context = ctx
        self._tls_host = host
        return self

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> "MockProvider":
        """Bind 127.0.0.1 on an ephemeral port and serve in a background thread."""
        if self._server is not None:
            return self
        self._stop_event.clear()
        self._server = _MockHTTPServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"{type(self).__name__}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop every open connection (bounded: about a second)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stop_event.set()
        server.shutdown()
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._server.server_address[1]

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path); ``https://HOST:PORT`` with :meth:`serve_tls`."""
        if self._tls_context is not None:
            return f"https://{self._tls_host}:{self.port}"
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL to configure as the provider's ``api_base``."""
        return self.root_url

    # -- recorded requests ------------------------------------------------------------
    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(req)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            if not self._requests:
                raise AssertionError(f"{type(self).__name__} received no request")
            return self._requests[-1]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Wait until at least ``count`` requests arrived; raise AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            reqs = self.requests
            if len(reqs) >= count:
                return reqs
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{type(self).__name__}: expected {count} requests within {timeout}s, "
                    f"got {len(reqs)}"
                )
            time.sleep(0.02)

    # -- fault switches -----------------------------------------------------------------
    def _add_fault(self, kind: str, n: int | None, **params: Any) -> None:
        if n is not None and n < 1:
            raise ValueError("n must be >= 1 (or None for every request)")
        with self._lock:
            self._faults.append(_Fault(kind, n, params))

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``n`` requests with ``status`` and an error body.

        ``body`` defaults to the provider's native error body for that status;
        a dict is sent as JSON, str/bytes as-is. ``n=None`` means every request
        until :meth:`clear_faults`. Faults apply before routing and validation.
        """
        self._add_fault("fail", n, status=status, body=body, headers=dict(headers or {}))

    def delay_next(self, seconds: float, n: int | None = 1) -> None:
        """Wait ``seconds`` before answering the next ``n`` requests."""
        self._add_fault("delay", n, seconds=min(float(seconds), MAX_FAULT_SECONDS))

    def reset_next(self, n: int = 1, after_events: int | None = None) -> None:
        """Reset the TCP connection (RST) on the next ``n`` requests.

        ``after_events=None`` resets right after reading the request, before
        any response byte. ``after_events=k`` sends the response head and, for a
        stream, ``k`` SSE events (for a JSON answer: half the body) first.
        """
        self._add_fault("reset", n, after_events=after_events)

    def stall_next(self, seconds: float, n: int = 1, after_events: int = 1) -> None:
        """Pause ``seconds`` in the middle of the next ``n`` answers, then finish them.

        For a stream the pause comes after ``after_events`` events (as many as the
        stream has, or more: before the end of the body); for a JSON answer after
        the head and half of the body.
        """
        self._add_fault(
            "stall", n, seconds=min(float(seconds), MAX_FAULT_SECONDS), after_events=after_events
        )

    def stream_error_next(self, n: int = 1, after_events: int = 1, body: Any = None) -> None:
        """In the next ``n`` streams, send the provider's native error event
        after ``after_events`` events and end the stream there (HTTP status
        stays 200, as with the real providers)."""
        self._add_fault("stream_error", n, after_events=after_events, body=body)

    def slow_stream(self, interval: float) -> None:
        """Pause ``interval`` seconds between SSE events from now on."""
        self.stream_interval = min(float(interval), MAX_FAULT_SECONDS)

    def clear_faults(self) -> None:
        """Remove every pending fault; restore the default stream pacing."""
        with self._lock:
            self._faults.clear()
        self.stream_interval = 0.02
        self.split_events = False

    def _take(self, kind: str) -> dict[str, Any] | None:
        for fault in self._faults:
            if fault.kind != kind:
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
            return fault.params
        return None

    def _plan(self) -> _Plan:
        plan = _Plan()
        with self._lock:
            fail = self._take("fail")
            delay = self._take("delay")
            reset = self._take("reset")
            stall = self._take("stall")
            serr = self._take("stream_error")
        if fail is not None:
            plan.fail = (fail["status"], fail["body"], fail["headers"])
        if delay is not None:
            plan.delay = delay["seconds"]
        if reset is not None:
            if reset["after_events"] is None:
                plan.reset_immediately = True
            else:
                plan.reset_after = int(reset["after_events"])
        if stall is not None:
            plan.stall = (stall["seconds"], int(stall["after_events"]))
        if serr is not None:
            plan.stream_error = (int(serr["after_events"]), serr["body"])
        return plan

    # -- directives (opt-in) ------------------------------------------------------------
    @staticmethod
    def directive_of(body: Any) -> str | None:
        """The directive word of a request body: the first word of its last user
        message when that starts with ``#fault:`` (else None). Works for OpenAI chat
        (string or text parts), Anthropic messages (string or text blocks) and a
        completions ``prompt`` string."""
        if not isinstance(body, dict):
            return None
        text = ""
        messages = body.get("messages")
        if isinstance(messages, list):
            for msg in reversed(messages):
                if isinstance(msg, dict) and msg.get("role") == "user":
                    content = msg.get("content")
                    if isinstance(content, str):
                        text = content
                    elif isinstance(content, list):
                        text = " ".join(p.get("text", "") for p in content
                                        if isinstance(p, dict) and p.get("type") == "text"
                                        and isinstance(p.get("text"), str))
                    break
        elif isinstance(body.get("prompt"), str):
            text = body["prompt"]
        text = text.lstrip()
        if not text.startswith(DIRECTIVE_PREFIX):
            return None
        return text.split(None, 1)[0]

    def directive_plan(self, directive: str, plan: _Plan) -> None:
        """Apply one directive to ``plan`` (only when the mock has ``directives=True``).

        ============================== ====================================================
        ``#fault:NNN`` (e.g. 500, 429)  answer status NNN with the provider's native error
                                        body (as :meth:`fail_next`), before validation
        ``#fault:reset``                reset the connection (TCP RST) right after reading
                                        the request, before any answer byte
        ``#fault:reset-mid-stream``     send the head and 3 SSE events (a JSON answer:
                                        half of its body), then reset;
                                        ``#fault:reset-mid-stream:K`` after K events
        ============================== ====================================================

        Anything else after ``#fault:`` is answered with a 400
        ``{"mock_directive_error": …}`` so a typo cannot pass for a working request.
        A directive wins over the fault switches for what it sets.
        """
        kind = directive[len(DIRECTIVE_PREFIX):]
        if re.fullmatch(r"[1-5]\d\d", kind):
            plan.fail = (int(kind), None, {})
            return
        if kind == "reset":
            plan.reset_immediately = True
            return
        match = re.fullmatch(r"reset-mid-stream(?::(\d{1,4}))?", kind)
        if match:
            plan.reset_after = int(match.group(1) or DIRECTIVE_RESET_AFTER_EVENTS)
            return
        plan.fail = (400, {"mock_directive_error": f"unknown directive {directive!r}"}, {})

    def _apply_directive(self, req: RecordedRequest, plan: _Plan) -> None:
        directive = self.directive_of(req.json)
        if directive is not None:
            self.directive_plan(directive, plan)

    # -- helpers for subclasses -------------------------------------------------------
    def _sleep(self, seconds: float) -> bool:
        """Sleep, waking early when the mock stops. True means: stopping."""
        if seconds <= 0:
            return self._stop_event.is_set()
        return self._stop_event.wait(seconds)

    def _track_connection(self, conn: socket.socket, opened: bool) -> None:
        with self._lock:
            if opened:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _next_id(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def answer_text(self, last_user_text: str) -> str:
        if self.reply_text is not None:
            return self.reply_text
        return f"Hello from {self.name} mock: {last_user_text}"

    # -- to implement -------------------------------------------------------------------
    def handle(self, req: RecordedRequest) -> JsonResponse | StreamResponse:
        raise NotImplementedError

    def error_body(self, status: int) -> Any:
        raise NotImplementedError

    def stream_error_event(self, body: Any) -> bytes:
        raise NotImplementedError

    def response_headers(self) -> dict[str, str]:
        """Headers added to every answer."""
        return {}


# --------------------------------------------------------------------------------------
# Small shared helpers
# --------------------------------------------------------------------------------------


def _compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _words(text: str) -> int:
    return len(text.split())


def _pieces(text: str, per_piece: int = 2) -> list[str]:
    """Split ``text`` into small pieces (a few words each) that join back to it."""
    tokens = re.findall(r"\s*\S+\s*", text) or [text]
    return ["".join(tokens[i : i + per_piece]) for i in range(0, len(tokens), per_piece)]


def _split_string(text: str, parts: int) -> list[str]:
    """Split ``text`` into ``parts`` roughly equal slices (for tool-argument deltas)."""
    if not text:
        return [""]
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _truncate(text: str, max_words: int | None) -> tuple[str, bool]:
    """Cut ``text`` to ``max_words`` words; True when it was cut."""
    if max_words is None:
        return text, False
    tokens = re.findall(r"\s*\S+", text)
    if len(tokens) <= max_words:
        return text, False
    return "".join(tokens[:max_words]).lstrip(), True


def _apply_stop(text: str, stops: Iterable[str]) -> tuple[str, str | None]:
    """Cut ``text`` at the earliest stop sequence; return (text, matched sequence)."""
    best: tuple[int, str] | None = None
    for seq in stops:
        if not seq:
            continue
        pos = text.find(seq)
        if pos >= 0 and (best is None or pos < best[0]):
            best = (pos, seq)
    if best is None:
        return text, None
    return text[: best[0]], best[1]


def _embedding(text: str, dims: int) -> list[float]:
    """A deterministic unit-length-ish vector derived from ``text``."""
    out: list[float] = []
    counter = 0
    while len(out) < dims:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        for i in range(0, len(digest), 4):
            if len(out) == dims:
                break
            (num,) = struct.unpack("<I", digest[i : i + 4])
            out.append(round(num / 0xFFFFFFFF * 2 - 1, 6))
        counter += 1
    return out


class _Invalid(Exception):
    """A request validation failure: message, param and code in OpenAI terms."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None,
                 status: int = 400, type_: str = "invalid_request_error"):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status
        self.type = type_


# --------------------------------------------------------------------------------------
# OpenAI (and the OpenAI-shaped logic Azure shares)
# --------------------------------------------------------------------------------------

_CHAT_PARAMS = {
    "model", "messages", "audio", "frequency_penalty", "function_call", "functions",
    "logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata",
    "modalities", "n", "parallel_tool_calls", "prediction", "presence_penalty",
    "prompt_cache_key", "prompt_cache_retention", "reasoning_effort", "response_format",
    "safety_identifier", "seed", "service_tier", "stop", "store", "stream",
    "stream_options", "temperature", "tool_choice", "tools", "top_logprobs", "top_p",
    "user", "verbosity", "web_search_options",
}
_COMPLETION_PARAMS = {
    "model", "prompt", "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs",
    "max_tokens", "n", "presence_penalty", "seed", "stop", "stream", "stream_options",
    "suffix", "temperature", "top_p", "user",
}
_EMBEDDING_PARAMS = {"model", "input", "dimensions", "encoding_format", "user"}
_MESSAGE_KEYS = {
    "system": {"role", "content", "name"},
    "developer": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "name", "tool_calls", "function_call", "refusal", "audio"},
    "tool": {"role", "content", "tool_call_id"},
    "function": {"role", "content", "name"},
}
_PART_KEYS = {
    "text": {"type", "text"},
    "image_url": {"type", "image_url"},
    "input_audio": {"type", "input_audio"},
    "file": {"type", "file"},
    "refusal": {"type", "refusal"},
}
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _openai_error(message: str, type_: str = "invalid_request_error",
                  param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _missing(param: str) -> _Invalid:
    return _Invalid(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def _bad_type(param: str, expected: str, value: Any) -> _Invalid:
    return _Invalid(
        f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.",
        param,
        "invalid_type",
    )


def _extra_keys(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in obj:
        if key not in allowed:
            raise _Invalid(
                f"Additional properties are not allowed ('{key}' was unexpected) - '{where}'",
                where,
            )


class _OpenAIShaped(MockProvider):
    """Chat completions, completions and embeddings in the OpenAI wire format."""

    #: Vector size for embeddings when the request has no ``dimensions``.
    embedding_dims = 8

    def __init__(self, api_key: str, models: Iterable[str] | None = None, *,
                 directives: bool = False):
        super().__init__(directives=directives)
        self.api_key = api_key
        self.models = set(models) if models is not None else None
        #: Usage override for answers: keys prompt_tokens, completion_tokens, cached_tokens.
        self.usage: dict[str, int] = {}
        #: The chat parameters accepted (anything else: "Unrecognized request argument").
        #: OpenAI-compatible clouds accept fewer (see :class:`OpenAIMock`'s ``profile``).
        self.chat_params: set[str] = set(_CHAT_PARAMS)
        #: The string values ``tool_choice`` may take.
        self.tool_choice_values: tuple[str, ...] = ("none", "auto", "required")
        #: Message fields refused for every role but ``tool`` (Mistral refuses ``name``).
        self.forbidden_message_keys: set[str] = set()
        #: ``response_format`` types accepted (Groq: no ``json_schema`` on most models).
        self.response_format_types: tuple[str, ...] = ("text", "json_object", "json_schema")
        #: JSON mode cannot stream (Groq: "response_format does not support streaming").
        self.json_mode_streams = True
        #: Streams always end with usage (on the finish chunk), unasked, as Mistral's,
        #: Perplexity's, Cerebras' and Fireworks' do; such providers take no
        #: ``stream_options`` (leave it out of ``chat_params``).
        self.stream_usage_always = False
        #: Magistral models think in `thinking` content chunks when the system prompt
        #: is Mistral's reasoning prompt (Mistral).
        self.mistral_thinking = False
        #: Where a reasoning model's reasoning goes (OpenRouter: `reasoning`).
        self.reasoning_key = "reasoning_content"
        #: `usage: {"include": true}` adds the price to usage as `cost` (OpenRouter).
        self.usage_cost = False

    # -- validation -------------------------------------------------------------------
    def _require_object(self, req: RecordedRequest) -> dict[str, Any]:
        if req.json is None and req.body:
            raise _Invalid(
                "We could not parse the JSON body of your request. (HINT: This likely means "
                "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                "payload, but what was sent was not valid JSON. If you have trouble figuring "
                "out how to fix this, please contact us through our help center at "
                "help.openai.com.)"
            )
        if not isinstance(req.json, dict):
            raise _Invalid(
                "You must provide a JSON object body with the request parameters.", None
            )
        return req.json

    def _check_unknown(self, body: dict[str, Any], allowed: set[str]) -> None:
        for key in body:
            if key not in allowed:
                raise _Invalid(f"Unrecognized request argument supplied: {key}")

    def _check_model(self, body: dict[str, Any], required: bool = True) -> str | None:
        model = body.get("model")
        if model is None:
            if required:
                raise _Invalid("you must provide a model parameter")
            return None
        if not isinstance(model, str):
            raise _bad_type("model", "a string", model)
        if self.models is not None and model not in self.models:
            raise _Invalid(
                f"The model `{model}` does not exist or you do not have access to it.",
                None,
                "model_not_found",
                status=404,
            )
        return model

    def _check_common(self, body: dict[str, Any]) -> None:
        if "stream" in body and not isinstance(body["stream"], bool) and body["stream"] is not None:
            raise _bad_type("stream", "a boolean", body["stream"])
        so = body.get("stream_options")
        if so is not None:
            if not body.get("stream"):
                raise _Invalid(
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                    "stream_options",
                )
            if not isinstance(so, dict):
                raise _bad_type("stream_options", "an object", so)
            _extra_keys(so, {"include_usage", "include_obfuscation"}, "stream_options")
        for name, lo, hi in (("temperature", 0, 2), ("top_p", 0, 1),
                             ("presence_penalty", -2, 2), ("frequency_penalty", -2, 2)):
            value = body.get(name)
            if value is None:
                continue
            if not _is_number(value):
                raise _bad_type(name, "a decimal", value)
            if value > hi:
                raise _Invalid(
                    f"Invalid '{name}': decimal above maximum value. Expected a value <= {hi}, "
                    f"but got {value} instead.", name, "decimal_above_max_value")
            if value < lo:
                raise _Invalid(
                    f"Invalid '{name}': decimal below minimum value. Expected a value >= {lo}, "
                    f"but got {value} instead.", name, "decimal_below_min_value")
        for name in ("max_tokens", "max_completion_tokens", "n", "seed"):
            value = body.get(name)
            if value is not None and not _is_int(value):
                raise _bad_type(name, "an integer", value)
        if body.get("n") is not None and body["n"] < 1:
            raise _Invalid(
                f"Invalid 'n': integer below minimum value. Expected a value >= 1, "
                f"but got {body['n']} instead.", "n", "integer_below_min_value")
        stop = body.get("stop")
        if stop is not None and not isinstance(stop, str) and not (
            isinstance(stop, list) and all(isinstance(s, str) for s in stop)
        ):
            raise _bad_type("stop", "one of a string or array of strings", stop)

    def _check_content(self, content: Any, where: str, role: str) -> None:
        if isinstance(content, str):
            return
        if not isinstance(content, list):
            raise _bad_type(where, "one of a string or array of objects", content)
        for j, part in enumerate(content):
            pwhere = f"{where}[{j}]"
            if not isinstance(part, dict):
                raise _bad_type(pwhere, "an object", part)
            ptype = part.get("type")
            if ptype is None:
                raise _missing(f"{pwhere}.type")
            if ptype not in _PART_KEYS:
                raise _Invalid(
                    f"Invalid value: '{ptype}'. Supported values are: 'text', 'image_url', "
                    f"'input_audio', 'refusal', 'audio', and 'file'.",
                    f"{pwhere}.type", "invalid_value")
            _extra_keys(part, _PART_KEYS[ptype], pwhere.replace("[", ".").replace("]", ""))
            if ptype == "text" and not isinstance(part.get("text"), str):
                if "text" not in part:
                    raise _missing(f"{pwhere}.text")
                raise _bad_type(f"{pwhere}.text", "a string", part["text"])
            if ptype == "image_url":
                image = part.get("image_url")
                if not isinstance(image, dict) or not isinstance(image.get("url"), str):
                    raise _missing(f"{pwhere}.image_url.url")
            if ptype in ("image_url", "input_audio", "file") and role != "user":
                raise _Invalid(
                    f"Invalid value: '{ptype}'. Supported values are: 'text' and 'refusal'.",
                    f"{pwhere}.type", "invalid_value")

    def _check_messages(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        if "messages" not in body:
            raise _missing("messages")
        messages = body["messages"]
        if not isinstance(messages, list):
            raise _bad_type("messages", "an array", messages)
        if not messages:
            raise _Invalid(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                "but got an empty array instead.", "messages", "empty_array")
        pending: list[str] = []  # tool_call ids still waiting for their tool message
        pending_at = 0
        for i, msg in enumerate(messages):
            where = f"messages[{i}]"
            if not isinstance(msg, dict):
                raise _bad_type(where, "an object", msg)
            role = msg.get("role")
            if role is None:
                raise _missing(f"{where}.role")
            if role not in _MESSAGE_KEYS:
                raise _Invalid(
                    f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', "
                    f"'user', 'function', 'tool', and 'developer'.", f"{where}.role",
                    "invalid_value")
            _extra_keys(msg, _MESSAGE_KEYS[role], f"messages.{i}")
            if role != "tool":
                for key in self.forbidden_message_keys & set(msg):
                    raise _Invalid(f"Extra inputs are not permitted: messages.{i}.{key}",
                                   f"messages.{i}.{key}", "extra_forbidden", status=422)
            if role == "tool":
                if "tool_call_id" not in msg:
                    raise _missing(f"{where}.tool_call_id")
                if msg["tool_call_id"] not in pending:
                    raise _Invalid(
                        "Invalid parameter: messages with role 'tool' must be a response to a "
                        "preceeding message with 'tool_calls'.", f"messages.[{i}].role")
                pending.remove(msg["tool_call_id"])
            elif pending:
                raise _Invalid(
                    "An assistant message with 'tool_calls' must be followed by tool messages "
                    "responding to each 'tool_call_id'. The following tool_call_ids did not "
                    f"have response messages: {', '.join(pending)}", f"messages.[{pending_at}].role")
            content = msg.get("content")
            if role == "assistant":
                if content is None and not msg.get("tool_calls") and not msg.get("function_call"):
                    raise _missing(f"{where}.content")
                calls = msg.get("tool_calls")
                if calls is not None:
                    if not isinstance(calls, list):
                        raise _bad_type(f"{where}.tool_calls", "an array", calls)
                    for k, call in enumerate(calls):
                        cwhere = f"{where}.tool_calls[{k}]"
                        if not isinstance(call, dict):
                            raise _bad_type(cwhere, "an object", call)
                        _extra_keys(call, {"id", "type", "function"}, f"messages.{i}.tool_calls.{k}")
                        for key in ("id", "type", "function"):
                            if key not in call:
                                raise _missing(f"{cwhere}.{key}")
                        fn = call["function"]
                        if not isinstance(fn, dict):
                            raise _bad_type(f"{cwhere}.function", "an object", fn)
                        for key in ("name", "arguments"):
                            if not isinstance(fn.get(key), str):
                                raise _missing(f"{cwhere}.function.{key}")
                        pending.append(call["id"])
                    pending_at = i
            elif content is None:
                raise _missing(f"{where}.content")
            if content is not None:
                self._check_content(content, f"{where}.content", role)
        if pending:
            raise _Invalid(
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(pending)}", f"messages.[{pending_at}].role")
        return messages

    def _check_tools(self, body: dict[str, Any]) -> None:
        tools = body.get("tools")
        if tools is not None:
            if not isinstance(tools, list):
                raise _bad_type("tools", "an array", tools)
            for i, tool in enumerate(tools):
                where = f"tools[{i}]"
                if not isinstance(tool, dict):
                    raise _bad_type(where, "an object", tool)
                _extra_keys(tool, {"type", "function"}, f"tools.{i}")
                if tool.get("type") != "function":
                    if "type" not in tool:
                        raise _missing(f"{where}.type")
                    raise _Invalid(
                        f"Invalid value: '{tool.get('type')}'. Supported values are: 'function' "
                        "and 'custom'.", f"{where}.type", "invalid_value")
                fn = tool.get("function")
                if not isinstance(fn, dict):
                    raise _missing(f"{where}.function")
                _extra_keys(fn, {"name", "description", "parameters", "strict"},
                            f"tools.{i}.function")
                name = fn.get("name")
                if name is None:
                    raise _missing(f"{where}.function.name")
                if not isinstance(name, str) or not _TOOL_NAME.match(name):
                    raise _Invalid(
                        f"Invalid '{where}.function.name': string does not match pattern. "
                        "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                        f"{where}.function.name", "invalid_value")
                params = fn.get("parameters")
                if params is not None and not isinstance(params, dict):
                    raise _bad_type(f"{where}.function.parameters", "an object", params)
        choice = body.get("tool_choice")
        if choice is not None:
            if not tools:
                raise _Invalid(
                    "Invalid value for 'tool_choice': 'tool_choice' is only allowed when "
                    "'tools' are specified.", "tool_choice")
            if isinstance(choice, str):
                if choice not in self.tool_choice_values:
                    raise _Invalid(
                        f"Invalid value: '{choice}'. Supported values are: "
                        + ", ".join(f"'{v}'" for v in self.tool_choice_values) + ".",
                        "tool_choice", "invalid_value")
            elif isinstance(choice, dict):
                fn = choice.get("function")
                if choice.get("type") != "function" or not isinstance(fn, dict) or not isinstance(
                    fn.get("name"), str
                ):
                    raise _missing("tool_choice.function.name")
                names = [t["function"]["name"] for t in tools]
                if fn["name"] not in names:
                    raise _Invalid(
                        f"Invalid value for 'tool_choice': tool '{fn['name']}' is not in 'tools'.",
                        "tool_choice")
            else:
                raise _bad_type("tool_choice", "one of a string or object", choice)

    # -- answers ------------------------------------------------------------------------
    @staticmethod
    def _text_of(content: Any) -> str:
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(p.get("text", "") for p in content
                            if isinstance(p, dict) and p.get("type") == "text")
        return ""

    def _prompt_words(self, messages: list[dict[str, Any]]) -> int:
        return max(1, sum(_words(self._text_of(m.get("content"))) for m in messages))

    def _usage(self, prompt: int, completion: int) -> dict[str, Any]:
        prompt = self.usage.get("prompt_tokens", prompt)
        completion = self.usage.get("completion_tokens", completion)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {
                "cached_tokens": self.usage.get("cached_tokens", 0),
                "audio_tokens": 0,
            },
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def _chat_plan(self, body: dict[str, Any], messages: list[dict[str, Any]]):
        """Decide the answer: ("tool", name) or ("text", text, finish_reason)."""
        tools = body.get("tools") or []
        choice = body.get("tool_choice")
        trailing_tools: list[str] = []
        for msg in reversed(messages):
            if msg.get("role") != "tool":
                break
            trailing_tools.insert(0, self._text_of(msg.get("content")))
        if trailing_tools:
            text = self.reply_text or f"{self.name} mock received tool result: " + "; ".join(
                trailing_tools)
        elif tools and choice != "none":
            name = tools[0]["function"]["name"]
            if isinstance(choice, dict):
                name = choice["function"]["name"]
            return ("tool", name)
        else:
            last_user = ""
            for msg in reversed(messages):
                if msg.get("role") == "user":
                    last_user = self._text_of(msg.get("content"))
                    break
            text = self.answer_text(last_user)
        stops = body.get("stop") or []
        if isinstance(stops, str):
            stops = [stops]
        text, matched = _apply_stop(text, stops)
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        text, cut = _truncate(text, limit)
        return ("text", text, "length" if cut else "stop")

    def _chat_id(self) -> str:
        return f"chatcmpl-mock{self._next_id():06d}"

    def _chat_extra(self) -> dict[str, Any]:
        """Provider-specific top-level fields of a chat answer."""
        return {"service_tier": "default"}

    def _choice_extra(self) -> dict[str, Any]:
        return {}

    def chat_completion(self, req: RecordedRequest, model_override: str | None = None):
        body = self._require_object(req)
        self._check_unknown(body, self.chat_params)
        model = self._check_model(body, required=model_override is None) or ""
        self._check_common(body)
        messages = self._check_messages(body)
        self._check_tools(body)
        rf = body.get("response_format")
        if isinstance(rf, dict):
            if rf.get("type") not in self.response_format_types:
                raise _Invalid(f"response_format type '{rf.get('type')}' is not supported by "
                               "this model", "response_format")
            if body.get("stream") and not self.json_mode_streams:
                raise _Invalid("response_format does not support streaming", "response_format")
        model = model_override or model
        plan = self._chat_plan(body, messages)
        prompt = self._prompt_words(messages)
        cid, created = self._chat_id(), int(time.time())
        # Reasoning models (DeepSeek, Groq, xAI, vLLM, … in OpenAI's format) answer
        # with `reasoning_content` beside the content.
        reasoning = (f"{self.name} mock reasoned ({body['reasoning_effort']})"
                     if isinstance(body.get("reasoning_effort"), str) else None)
        thinking = self._mistral_thought(model, messages)
        usage_obj = body.get("usage")
        if usage_obj is not None and not (isinstance(usage_obj, dict)
                                          and set(usage_obj) <= {"include"}):
            raise _Invalid("usage must be an object like {\"include\": true}", "usage")
        with_cost = self.usage_cost and bool((usage_obj or {}).get("include"))
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            stream = self._chat_stream(cid, created, model, plan, prompt, include_usage)
            for i, event in enumerate(stream.events):
                if reasoning is None and thinking is None:
                    break
                first = json.loads(event[len(b"data: "):])
                if first.get("choices"):
                    if thinking is not None:
                        delta = {"role": "assistant", "content": [
                            {"type": "thinking", "thinking": [{"type": "text", "text": thinking}]}]}
                    else:
                        delta = {"role": "assistant", "content": None,
                                 self.reasoning_key: reasoning}
                    first["choices"][0]["delta"] = delta
                    stream.events.insert(i, b"data: " + _compact(first).encode() + b"\n\n")
                    break
            if with_cost:
                stream.events = [self._with_cost(e) for e in stream.events]
            return stream
        rf = body.get("response_format")
        if isinstance(rf, dict) and rf.get("type") in ("json_object", "json_schema") \
                and plan[0] == "text":
            # JSON mode: the answer is a JSON object holding the text.
            plan = ("text", _compact({"answer": plan[1]}), plan[2])
        n = body.get("n") or 1
        if plan[0] == "tool":
            args = _compact(self.tool_args)
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [{
                    "id": f"call_mock{self._next_id():06d}",
                    "type": "function",
                    "function": {"name": plan[1], "arguments": args},
                }],
                "refusal": None,
                "annotations": [],
            }
            finish, completion = "tool_calls", max(1, len(args) // 4)
        else:
            message = {"role": "assistant", "content": plan[1], "refusal": None,
                       "annotations": []}
            if reasoning is not None:
                message[self.reasoning_key] = reasoning
            if thinking is not None:
                message["content"] = [
                    {"type": "thinking", "thinking": [{"type": "text", "text": thinking}]},
                    {"type": "text", "text": plan[1]},
                ]
            finish, completion = plan[2], _words(plan[1])
        answer = {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {"index": i, "message": message, "logprobs": None, "finish_reason": finish,
                 **self._choice_extra()}
                for i in range(n)
            ],
            "usage": self._usage(prompt, completion * n),
            "system_fingerprint": "fp_mock",
            **self._chat_extra(),
        }
        if with_cost:
            answer["usage"]["cost"] = self._cost(answer["usage"])
        return JsonResponse(200, answer)

    #: Marks Mistral's reasoning system prompt (LiteLLM's, after the Magistral card).
    MISTRAL_REASONING_MARK = "[SYSTEM_PROMPT]system_prompt"

    def _mistral_thought(self, model: str, messages: list[dict[str, Any]]) -> str | None:
        """What a Magistral model thinks, when its system prompt asks it to."""
        if not (self.mistral_thinking and "magistral" in model):
            return None
        system = next((m for m in messages if m.get("role") == "system"), None)
        if system is None or self.MISTRAL_REASONING_MARK not in self._text_of(
                system.get("content")):
            return None
        return f"{self.name} mock thought it through"

    @staticmethod
    def _cost(usage: dict[str, Any]) -> float:
        """The mock's price: $1 per million prompt tokens, $2 per million completion."""
        return usage["prompt_tokens"] * 1e-6 + usage["completion_tokens"] * 2e-6

    def _with_cost(self, event: bytes) -> bytes:
        """A stream event whose usage object gets the price."""
        if not event.startswith(b"data: {"):
            return event
        obj = json.loads(event[len(b"data: "):])
        if not isinstance(obj.get("usage"), dict):
            return event
        obj["usage"]["cost"] = self._cost(obj["usage"])
        return b"data: " + _compact(obj).encode() + b"\n\n"

    def _first_stream_events(self, created: int) -> list[bytes]:
        """Events sent before the first chunk (Azure sends its prompt filter results)."""
        return []

    def _chat_stream(self, cid, created, model, plan, prompt, include_usage) -> StreamResponse:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            obj: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_mock",
                "choices": [{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": finish, **self._choice_extra()}],
            }
            if include_usage:
                obj["usage"] = None
            return b"data: " + _compact(obj).encode() + b"\n\n"

        events = self._first_stream_events(created)
        if plan[0] == "tool":
            args = _compact(self.tool_args)
            events.append(chunk({
                "role": "assistant",
                "content": None,
                "tool_calls": [{
                    "index": 0,
                    "id": f"call_mock{self._next_id():06d}",
                    "type": "function",
                    "function": {"name": plan[1], "arguments": ""},
                }],
                "refusal": None,
            }))
            for piece in _split_string(args, 3):
                events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
            completion = max(1, len(args) // 4)
            events.append(self._finish_chunk(chunk({}, "tool_calls"), prompt, completion))
        else:
            events.append(chunk({"role": "assistant", "content": "", "refusal": None}))
            for piece in _pieces(plan[1]):
                events.append(chunk({"content": piece}))
            completion = _words(plan[1])
            events.append(self._finish_chunk(chunk({}, plan[2]), prompt, completion))
        if include_usage:
            events.append(b"data: " + _compact({
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_mock",
                "choices": [],
                "usage": self._usage(prompt, completion),
            }).encode() + b"\n\n")
        events.append(b"data: [DONE]\n\n")
        return StreamResponse(events)

    def _finish_chunk(self, event: bytes, prompt: int, completion: int) -> bytes:
        """The finish chunk, carrying usage when the provider always sends it."""
        if not self.stream_usage_always:
            return event
        obj = json.loads(event[len(b"data: "):])
        obj["usage"] = self._usage(prompt, completion)
        return b"data: " + _compact(obj).encode() + b"\n\n"

    def completion(self, req: RecordedRequest, model_override: str | None = None):
        body = self._require_object(req)
        self._check_unknown(body, _COMPLETION_PARAMS)
        model = self._check_model(body, required=model_override is None) or ""
        model = model_override or model
        self._check_common(body)
        if "prompt" not in body:
            raise _missing("prompt")
        prompt = body["prompt"]
        if isinstance(prompt, list) and all(isinstance(p, str) for p in prompt):
            prompt_text = " ".join(prompt)
        elif isinstance(prompt, str):
            prompt_text = prompt
        elif isinstance(prompt, list) and all(_is_int(p) for p in prompt):
            prompt_text = " ".join(str(p) for p in prompt)
        else:
            raise _bad_type("prompt", "one of a string or array of strings", prompt)
        text = self.answer_text(prompt_text)
        stops = body.get("stop") or []
        text, _ = _apply_stop(text, [stops] if isinstance(stops, str) else stops)
        text, cut = _truncate(text, body.get("max_tokens", 16))
        finish = "length" if cut else "stop"
        cid, created = f"cmpl-mock{self._next_id():06d}", int(time.time())
        prompt_tokens = max(1, _words(prompt_text))
        usage = {"prompt_tokens": self.usage.get("prompt_tokens", prompt_tokens),
                 "completion_tokens": self.usage.get("completion_tokens", _words(text))}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = []
            pieces = _pieces(text)
            for k, piece in enumerate(pieces):
                last = k == len(pieces) - 1
                obj: dict[str, Any] = {
                    "id": cid, "object": "text_completion", "created": created, "model": model,
                    "choices": [{"text": piece, "index": 0, "logprobs": None,
                                 "finish_reason": finish if last else None}],
                    "system_fingerprint": "fp_mock",
                }
                if include_usage:
                    obj["usage"] = None
                events.append(b"data: " + _compact(obj).encode() + b"\n\n")
            if include_usage:
                events.append(b"data: " + _compact({
                    "id": cid, "object": "text_completion", "created": created, "model": model,
                    "choices": [], "usage": usage, "system_fingerprint": "fp_mock",
                }).encode() + b"\n\n")
            events.append(b"data: [DONE]\n\n")
            return StreamResponse(events)
        return JsonResponse(200, {
            "id": cid,
            "object": "text_completion",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}],
            "usage": usage,
        })

    def embeddings(self, req: RecordedRequest, model_override: str | None = None):
        body = self._require_object(req)
        self._check_unknown(body, _EMBEDDING_PARAMS)
        model = self._check_model(body, required=model_override is None) or ""
        model = model_override or model
        if "input" not in body:
            raise _missing("input")
        raw = body["input"]
        if isinstance(raw, str):
            inputs = [raw]
        elif isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
            inputs = raw
        elif isinstance(raw, list) and raw and all(_is_int(x) for x in raw):
            inputs = [" ".join(map(str, raw))]
        elif isinstance(raw, list) and raw and all(
            isinstance(x, list) and x and all(_is_int(t) for t in x) for x in raw
        ):
            inputs = [" ".join(map(str, x)) for x in raw]
        else:
            raise _Invalid("'$.input' is invalid. Please check the API reference: "
                           "https://platform.openai.com/docs/api-reference.", "input")
        if any(s == "" for s in inputs):
            raise _Invalid("'$.input' is invalid. Please check the API reference: "
                           "https://platform.openai.com/docs/api-reference.", "input")
        fmt = body.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            raise _Invalid(f"Invalid value: '{fmt}'. Supported values are: 'float' and 'base64'.",
                           "encoding_format", "invalid_value")
        dims = body.get("dimensions", self.embedding_dims)
        if not _is_int(dims) or dims < 1:
            raise _Invalid("Invalid 'dimensions': integer below minimum value. Expected a value "
                           ">= 1.", "dimensions", "integer_below_min_value")
        data = []
        for i, text in enumerate(inputs):
            vec = _embedding(text, dims)
            emb: Any = vec
            if fmt == "base64":
                emb = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        tokens = self.usage.get("prompt_tokens", sum(max(1, _words(t)) for t in inputs))
        return JsonResponse(200, {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })


#: How the OpenAI-compatible clouds whose chat APIs differ from OpenAI's are picky,
#: from their API references: Mistral (docs.mistral.ai, chat completions: no
#: ``seed`` but ``random_seed``, ``tool_choice`` also ``any``, no ``stream_options``:
#: usage ends every stream; unknown fields are refused, "extra_forbidden"),
#: Perplexity (docs.perplexity.ai: no tools), Cerebras and Fireworks (usage ends
#: every stream; Fireworks' ``tool_choice`` takes ``any``), Groq (JSON mode neither
#: ``json_schema`` nor streamed).
CLOUD_PROFILES: dict[str, dict[str, Any]] = {
    "mistral": {
        "chat_params": {"model", "messages", "temperature", "top_p", "max_tokens", "stream",
                        "stop", "random_seed", "response_format", "tools", "tool_choice",
                        "presence_penalty", "frequency_penalty", "n", "safe_prompt",
                        "parallel_tool_calls", "prediction", "prompt_mode"},
        "tool_choice": ("none", "auto", "any", "required"),
        "stream_usage_always": True,
        "forbidden_message_keys": {"name"},
        # Magistral answers with `thinking` content chunks (docs.mistral.ai,
        # "Reasoning"); the mock thinks when its system prompt asks it to.
        "mistral_thinking": True,
    },
    "openrouter": {
        # openrouter.ai/docs/api-reference/parameters: OpenAI's set plus routing
        # fields; `usage: {include: true}` puts the cost in `usage.cost`
        # (openrouter.ai/docs/use-cases/usage-accounting); reasoning comes back as
        # `reasoning` (openrouter.ai/docs/use-cases/reasoning-tokens).
        "chat_params": _CHAT_PARAMS | {"usage", "reasoning", "transforms", "models",
                                       "route", "provider"},
        "reasoning_key": "reasoning",
        "usage_cost": True,
    },
    "groq": {
        # Groq's JSON mode: json_object only (json_schema on a few models), never
        # streamed (console.groq.com/docs/text-chat#json-mode).
        "response_format_types": ("text", "json_object"),
        "json_mode_streams": False,
    },
    "perplexity": {
        "chat_params": {"model", "messages", "frequency_penalty", "max_tokens",
                        "presence_penalty", "response_format", "stream", "temperature",
                        "top_p", "top_k", "reasoning_effort", "search_mode",
                        "web_search_options", "search_domain_filter",
                        "search_recency_filter", "return_images", "return_related_questions"},
        "stream_usage_always": True,
    },
    "cerebras": {
        "chat_params": {"model", "messages", "max_tokens", "max_completion_tokens",
                        "response_format", "seed", "stop", "stream", "temperature", "top_p",
                        "tool_choice", "tools", "user", "reasoning_effort",
                        "parallel_tool_calls", "logprobs", "top_logprobs", "n"},
        "stream_usage_always": True,
    },
    "fireworks_ai": {
        "chat_params": _CHAT_PARAMS - {"stream_options"} | {"top_k", "prompt_truncate_length",
                                                            "context_length_exceeded_behavior"},
        "tool_choice": ("none", "auto", "any", "required"),
        "stream_usage_always": True,
    },
}


class OpenAIMock(_OpenAIShaped):
    """The OpenAI API: ``POST {prefix}/chat/completions``, ``/completions``, ``/embeddings``
    (and ``GET {prefix}/models``), with ``Authorization: Bearer <api_key>``.

    ``models``: when given, any other model gets OpenAI's 404 ``model_not_found``.
    ``base_url`` is ``http://127.0.0.1:PORT{path_prefix}``, the usual ``api_base``.
    """

    name = "openai"

    def __init__(self, api_key: str, path_prefix: str = "/v1",
                 models: Iterable[str] | None = None, *, directives: bool = False,
                 name: str | None = None, profile: str | None = None):
        super().__init__(api_key, models, directives=directives)
        self.path_prefix = "/" + path_prefix.strip("/") if path_prefix.strip("/") else ""
        if name is not None:
            self.name = name
        if profile is not None:
            self.use_profile(profile)

    def use_profile(self, profile: str) -> None:
        """Be as picky as an OpenAI-compatible cloud whose API differs from OpenAI's
        (see :data:`CLOUD_PROFILES`): its chat parameters, its ``tool_choice``
        values, usage always at the end of its streams."""
        spec = CLOUD_PROFILES[profile]
        if "chat_params" in spec:
            self.chat_params = set(spec["chat_params"])
        self.tool_choice_values = tuple(spec.get("tool_choice", self.tool_choice_values))
        self.stream_usage_always = bool(spec.get("stream_usage_always"))
        self.forbidden_message_keys = set(spec.get("forbidden_message_keys", ()))
        self.response_format_types = tuple(spec.get("response_format_types",
                                                    self.response_format_types))
        self.json_mode_streams = bool(spec.get("json_mode_streams", True))
        self.mistral_thinking = bool(spec.get("mistral_thinking"))
        self.reasoning_key = spec.get("reasoning_key", self.reasoning_key)
        self.usage_cost = bool(spec.get("usage_cost"))

    @property
    def base_url(self) -> str:
        return self.root_url + self.path_prefix

    def response_headers(self) -> dict[str, str]:
        return {
            "x-request-id": f"req_mock{self.request_count:06d}",
            "openai-processing-ms": "1",
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": "9999",
            "x-ratelimit-limit-tokens": "1000000",
            "x-ratelimit-remaining-tokens": "999000",
        }

    def error_body(self, status: int) -> Any:
        if status == 400:
            return _openai_error("Bad request (mock fault).")
        if status == 401:
            return _openai_error("Incorrect API key provided: sk-****. You can find your API key "
                                 "at https://platform.openai.com/account/api-keys.",
                                 code="invalid_api_key")
        if status == 403:
            return _openai_error("You are not allowed to sample from this model",
                                 code="unsupported_country_region_territory")
        if status == 404:
            return _openai_error("The model does not exist or you do not have access to it.",
                                 code="model_not_found")
        if status == 429:
            return _openai_error("Rate limit reached for requests (mock fault). Please try again "
                                 "in 1s.", type_="requests", code="rate_limit_exceeded")
        if status == 503:
            return _openai_error("The engine is currently overloaded, please try again later.",
                                 type_="server_error")
        if status >= 500:
            return _openai_error("The server had an error while processing your request. Sorry "
                                 "about that!", type_="server_error")
        return _openai_error(f"Mock fault with status {status}.")

    def stream_error_event(self, body: Any) -> bytes:
        if body is None:
            body = _openai_error("The server had an error while processing your request. Sorry "
                                 "about that!", type_="server_error")
        return b"data: " + (body if isinstance(body, bytes) else _compact(body).encode()) + b"\n\n"

    def _auth_error(self, req: RecordedRequest) -> JsonResponse | None:
        auth = req.header("authorization")
        if not auth:
            return JsonResponse(401, _openai_error(
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
                "or as the password field (with blank username) if you're accessing the API "
                "from your browser and are prompted for a username and password. You can "
                "obtain an API key from https://platform.openai.com/account/api-keys."))
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.api_key:
            shown = token.strip() or auth
            masked = shown[:3] + "*" * max(0, len(shown) - 7) + shown[-4:] if len(shown) > 7 else "****"
            return JsonResponse(401, _openai_error(
                f"Incorrect API key provided: {masked}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.", code="invalid_api_key"))
        return None

    def handle(self, req: RecordedRequest) -> JsonResponse | StreamResponse:
        routes: dict[tuple[str, str], Callable[[RecordedRequest], Any]] = {
            ("POST", f"{self.path_prefix}/chat/completions"): self.chat_completion,
            ("POST", f"{self.path_prefix}/completions"): self.completion,
            ("POST", f"{self.path_prefix}/embeddings"): self.embeddings,
            ("GET", f"{self.path_prefix}/models"): self._models,
        }
        route = routes.get((req.method, req.path.rstrip("/") or "/"))
        if route is None:
            return JsonResponse(404, _openai_error(
                f"Invalid URL ({req.method} {req.path})"))
        denied = self._auth_error(req)
        if denied is not None:
            return denied
        try:
            return route(req)
        except _Invalid as err:
            return JsonResponse(err.status, _openai_error(err.message, err.type, err.param,
                                                          err.code))

    def _models(self, req: RecordedRequest) -> JsonResponse:
        names = sorted(self.models) if self.models is not None else ["gpt-4o-mini"]
        return JsonResponse(200, {"object": "list", "data": [
            {"id": n, "object": "model", "created": 1700000000, "owned_by": "openai"}
            for n in names]})


# --------------------------------------------------------------------------------------
# Azure OpenAI
# --------------------------------------------------------------------------------------

_AZURE_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
_AZURE_FILTER_RESULTS = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}


def _azure_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class AzureMock(_OpenAIShaped):
    """Azure OpenAI: ``POST /openai/deployments/{deployment}/chat/completions|completions|
    embeddings?api-version=V`` with the ``api-key`` header.

    ``deployments`` maps deployment name → underlying model name (reported as
    ``model`` in answers). Unknown deployments get Azure's 404
    ``DeploymentNotFound``; a missing ``api-version`` gets Azure's 404
    "Resource not found"; a malformed one (or one outside ``api_versions`` when
    given) gets 400 "API version not supported". ``Authorization: Bearer`` is
    not accepted in place of ``api-key``. Body validation errors use the OpenAI
    error shape, as Azure does; routing/auth errors use Azure's ``{code, message}``.
    Answers carry Azure's content-filter annotations, and a stream starts with
    Azure's choices-less ``prompt_filter_results`` chunk.

    Streams follow Azure's "Content streaming" guide, per :attr:`filter_mode`:

    * ``"default"`` (Azure's default): the prompt annotation
      ``{"id":"","object":"","created":0,"model":"","prompt_filter_results":[…],"choices":[]}``
      first, then proper chunks whose choices carry ``content_filter_results``
      (``{}`` on the role chunk and the finish chunk, the four categories on content);
    * ``"asynchronous"`` (the Asynchronous Filter): the prompt annotation, proper
      chunks without filter results, and annotation events with no ``delta``
      (``"choices":[{"index":0,"finish_reason":null,"content_filter_results":{…},
      "content_filter_offsets":{…}}]``, empty id/object/model) after every
      :attr:`annotation_every` content chunks and once more after the finish chunk.
      With :attr:`filter_block_after` = K the filter stops the answer after K content
      chunks: an annotation with ``"finish_reason":"content_filter"`` (protected
      material) ends it, with no finish chunk. Whether Azure then still sends the
      usage chunk is not documented; the mock sends it when asked (Azure bills the
      tokens generated before the block).
    """

    name = "azure"

    def __init__(self, api_key: str, deployments: dict[str, str],
                 api_versions: Iterable[str] | None = None, *, directives: bool = False):
        super().__init__(api_key, None, directives=directives)
        self.deployments = dict(deployments)
        self.api_versions = set(api_versions) if api_versions is not None else None
        #: ``"default"`` or ``"asynchronous"``: how streams carry filter results.
        self.filter_mode = "default"
        #: Asynchronous mode: an annotation event after this many content chunks.
        self.annotation_every = 2
        #: Asynchronous mode: the filter stops the answer after this many content chunks.
        self.filter_block_after: int | None = None

    def response_headers(self) -> dict[str, str]:
        return {"apim-request-id": f"mock-{self.request_count:06d}",
                "x-ms-region": "Mock Region"}

    def error_body(self, status: int) -> Any:
        if status == 401:
            return _azure_error("401", "Access denied due to invalid subscription key or wrong "
                                "API endpoint. Make sure to provide a valid key for an active "
                                "subscription and use a correct regional API endpoint for your "
                                "resource.")
        if status == 404:
            return _azure_error("404", "Resource not found")
        if status == 429:
            return _azure_error("429", "Requests to the ChatCompletions_Create Operation under "
                                "Azure OpenAI API version 2024-10-21 have exceeded token rate "
                                "limit of your current OpenAI S0 pricing tier. Please retry "
                                "after 1 second.")
        if status >= 500:
            return _azure_error("InternalServerError", "The server had an error processing "
                                "your request (mock fault).")
        return _azure_error(str(status), f"Mock fault with status {status}.")

    def stream_error_event(self, body: Any) -> bytes:
        if body is None:
            body = _openai_error("The server had an error while processing your request.",
                                 type_="server_error")
        return b"data: " + (body if isinstance(body, bytes) else _compact(body).encode()) + b"\n\n"

    def _chat_extra(self) -> dict[str, Any]:
        return {"prompt_filter_results": [
            {"prompt_index": 0, "content_filter_results": _AZURE_FILTER_RESULTS}]}

    def _choice_extra(self) -> dict[str, Any]:
        return {"content_filter_results": _AZURE_FILTER_RESULTS}

    def _first_stream_events(self, created: int) -> list[bytes]:
        return [b"data: " + _compact({
            "choices": [], "created": 0, "id": "", "model": "", "object": "",
            "prompt_filter_results": [
                {"prompt_index": 0, "content_filter_results": _AZURE_FILTER_RESULTS}],
        }).encode() + b"\n\n"]

    @staticmethod
    def _annotation(offset: int, finish: str | None = None,
                    results: dict[str, Any] | None = None) -> bytes:
        """An Asynchronous Filter annotation event (no delta, empty id/object/model)."""
        return b"data: " + _compact({
            "id": "", "object": "", "created": 0, "model": "",
            "choices": [{
                "index": 0, "finish_reason": finish,
                "content_filter_results": results or _AZURE_FILTER_RESULTS,
                "content_filter_offsets": {"check_offset": offset, "start_offset": 0,
                                           "end_offset": offset},
            }],
            "usage": None,
        }).encode() + b"\n\n"

    def _chat_stream(self, cid, created, model, plan, prompt, include_usage) -> StreamResponse:
        stream = super()._chat_stream(cid, created, model, plan, prompt, include_usage)
        out: list[bytes] = []
        contents = 0
        blocked = False
        for event in stream.events:
            body = event[len(b"data: "):].strip()
            if body == b"[DONE]" or not body.startswith(b"{"):
                out.append(event)
                continue
            obj = json.loads(body)
            choices = obj.get("choices") or []
            if obj.get("object") != "chat.completion.chunk" or not choices:
                out.append(event)  # the prompt annotation, the usage chunk
                continue
            choice = choices[0]
            delta = choice.get("delta") or {}
            is_content = bool(delta.get("content") or delta.get("tool_calls"))
            finish = choice.get("finish_reason")
            if self.filter_mode == "asynchronous":
                if blocked and (is_content or finish):
                    continue
                choice.pop("content_filter_results", None)
                out.append(b"data: " + _compact(obj).encode() + b"\n\n")
                if is_content:
                    contents += 1
                    if self.filter_block_after is not None and contents >= self.filter_block_after:
                        out.append(self._annotation(
                            contents * 8, "content_filter",
                            {"protected_material_text": {"detected": True, "filtered": True}}))
                        blocked = True
                    elif contents % self.annotation_every == 0:
                        out.append(self._annotation(contents * 8))
                elif finish:
                    out.append(self._annotation(contents * 8 + 8))
                continue
            if not is_content:
                choice["content_filter_results"] = {}
            out.append(b"data: " + _compact(obj).encode() + b"\n\n")
        stream.events = out
        return stream

    _PATH = re.compile(r"^/openai/deployments/([^/]+)/(chat/completions|completions|embeddings)$")

    def handle(self, req: RecordedRequest) -> JsonResponse | StreamResponse:
        match = self._PATH.match(req.path.rstrip("/"))
        if match is None or req.method != "POST":
            return JsonResponse(404, _azure_error("404", "Resource not found"))
        key = req.header("api-key")
        if key != self.api_key:
            return JsonResponse(401, self.error_body(401))
        version = req.query.get("api-version")
        if not version:
            return JsonResponse(404, _azure_error("404", "Resource not found"))
        if not _AZURE_API_VERSION.match(version) or (
            self.api_versions is not None and version not in self.api_versions
        ):
            return JsonResponse(400, _azure_error("BadRequest", "API version not supported"))
        deployment, operation = match.group(1), match.group(2)
        if deployment not in self.deployments:
            return JsonResponse(404, _azure_error(
                "DeploymentNotFound", "The API deployment for this resource does not exist. If "
                "you created the deployment within the last 5 minutes, please wait a moment and "
                "try again."))
        model = self.deployments[deployment]
        handler = {"chat/completions": self.chat_completion, "completions": self.completion,
                   "embeddings": self.embeddings}[operation]
        try:
            return handler(req, model_override=model)
        except _Invalid as err:
            return JsonResponse(err.status, _openai_error(err.message, err.type, err.param,
                                                          err.code))


# --------------------------------------------------------------------------------------
# Anthropic Messages API
# --------------------------------------------------------------------------------------

ANTHROPIC_VERSION = "2023-06-01"
_ANTHROPIC_PARAMS = {
    "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
    "temperature", "top_k", "top_p", "tools", "tool_choice", "thinking", "service_tier",
    "container", "mcp_servers", "context_management", "output_config", "cache_control",
    "inference_geo",
}
#: Fields of a ``/v1/messages/count_tokens`` request (Anthropic's "Count tokens in a
#: Message" reference).
_ANTHROPIC_COUNT_PARAMS = {
    "model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers",
    "context_management", "output_config",
}
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_ANTHROPIC_ERROR_MESSAGES = {
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit "
                        "(mock fault).",
    "overloaded_error": "Overloaded",
    "api_error": "Internal server error",
    "authentication_error": "invalid x-api-key",
    "timeout_error": "Request timed out",
}
_CACHE_CONTROL = {"type", "ttl"}
_BLOCK_KEYS = {
    "text": {"type", "text", "cache_control", "citations"},
    "image": {"type", "source", "cache_control"},
    "document": {"type", "source", "cache_control", "citations", "context", "title"},
    "tool_use": {"type", "id", "name", "input", "cache_control"},
    "tool_result": {"type", "tool_use_id", "content", "is_error", "cache_control"},
    "thinking": {"type", "thinking", "signature"},
    "redacted_thinking": {"type", "data"},
}
_IMAGE_MEDIA = {"image/jpeg", "image/png", "image/gif", "image/webp"}
_ANTHROPIC_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_SERVER_TOOL_TYPE = re.compile(r"_\d{8}$")


def _anthropic_error(type_: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "error": {"type": type_, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body


class _AnthropicInvalid(Exception):
    pass


class AnthropicMock(MockProvider):
    """The Anthropic Messages API: ``POST /v1/messages`` (and ``/v1/messages/count_tokens``) with ``x-api-key`` and
    ``anthropic-version: 2023-06-01``.

    The request is validated the way the real API does it (unknown fields
    anywhere are "Extra inputs are not permitted"; ``system`` only top-level;
    ``max_tokens`` a required integer; content blocks with their required
    fields; ``tool_result`` must answer a ``tool_use`` of the previous assistant
    turn, every ``tool_use`` must be answered in the next user turn, and
    tool_result blocks come first in their user turn). Consecutive turns of the
    same role are accepted and combined, as the API documents.

    The answer is text, or a ``tool_use`` block when tools are given (unless
    ``tool_choice`` is ``none``) and the last user turn carries no tool_result;
    after a tool_result it is text quoting the result. ``tool_use_preamble``
    (default None) adds a text block before the tool_use block, as Claude often
    does. ``usage`` overrides token counts (keys ``input_tokens``,
    ``output_tokens``, ``cache_read_input_tokens``,
    ``cache_creation_input_tokens``).
    """

    name = "anthropic"

    def __init__(self, api_key: str, models: Iterable[str] | None = None, *,
                 directives: bool = False):
        super().__init__(directives=directives)
        self.api_key = api_key
        self.models = set(models) if models is not None else None
        self.usage: dict[str, int] = {}
        self.tool_use_preamble: str | None = None

    def response_headers(self) -> dict[str, str]:
        return {"request-id": f"req_mock{self.request_count:06d}",
                "anthropic-ratelimit-requests-limit": "4000",
                "anthropic-ratelimit-requests-remaining": "3999"}

    def _request_id(self) -> str:
        return f"req_mock{self.request_count:06d}"

    def error_body(self, status: int) -> Any:
        type_ = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        message = _ANTHROPIC_ERROR_MESSAGES.get(type_, f"Mock fault with status {status}.")
        return _anthropic_error(type_, message, self._request_id())

    def stream_error_event(self, body: Any) -> bytes:
        if body is None:
            body = _anthropic_error("overloaded_error", "Overloaded", self._request_id())
        data = body if isinstance(body, bytes) else _compact(body).encode()
        return b"event: error\ndata: " + data + b"\n\n"

    # -- routing + auth ---------------------------------------------------------------
    def handle(self, req: RecordedRequest) -> JsonResponse | StreamResponse:
        rid = self._request_id()
        path = req.path.rstrip("/")
        if path not in ("/v1/messages", "/v1/messages/count_tokens") or req.method != "POST":
            return JsonResponse(404, _anthropic_error("not_found_error", "Not Found", rid))
        key = req.header("x-api-key")
        if not key:
            return JsonResponse(401, _anthropic_error(
                "authentication_error", "x-api-key header is required", rid))
        if key != self.api_key:
            return JsonResponse(401, _anthropic_error(
                "authentication_error", "invalid x-api-key", rid))
        version = req.header("anthropic-version")
        if not version:
            return JsonResponse(400, _anthropic_error(
                "invalid_request_error", "anthropic-version: header is required", rid))
        if version != ANTHROPIC_VERSION:
            return JsonResponse(400, _anthropic_error(
                "invalid_request_error", f'anthropic-version: "{version}" is not a valid version',
                rid))
        if req.json is None:
            return JsonResponse(400, _anthropic_error(
                "invalid_request_error",
                "There was an issue with your request body: the body is not valid JSON", rid))
        if path.endswith("/count_tokens"):
            return self._count_tokens(req.json, rid)
        try:
            turns = self.validate(req.json)
        except _AnthropicInvalid as err:
            return JsonResponse(400, _anthropic_error("invalid_request_error", str(err), rid))
        model = req.json["model"]
        if self.models is not None and model not in self.models:
            return JsonResponse(404, _anthropic_error("not_found_error", f"model: {model}", rid))
        return self._answer(req.json, turns)

    def _count_tokens(self, body: Any, rid: str) -> JsonResponse:
        """``POST /v1/messages/count_tokens``: a Messages request without the
        generation fields (``max_tokens``, ``stream``, sampling: "Extra inputs are not
        permitted"), answered with ``{"input_tokens": N}`` (the words of the prompt,
        as the answers count them)."""
        try:
            if not isinstance(body, dict):
                raise self._fail("Input should be a valid dictionary")
            self._check_extra(body, _ANTHROPIC_COUNT_PARAMS, "")
            turns = self.validate({**body, "max_tokens": 1})
        except _AnthropicInvalid as err:
            return JsonResponse(400, _anthropic_error("invalid_request_error", str(err), rid))
        if self.models is not None and body["model"] not in self.models:
            return JsonResponse(404, _anthropic_error("not_found_error",
                                                      f"model: {body['model']}", rid))
        return JsonResponse(200, {"input_tokens": self._input_words(body, turns)})

    # -- validation -------------------------------------------------------------------
    @staticmethod
    def _fail(message: str) -> _AnthropicInvalid:
        return _AnthropicInvalid(message)

    def _check_extra(self, obj: dict[str, Any], allowed: set[str], where: str) -> None:
        for key in obj:
            if key not in allowed:
                raise self._fail(f"{where}{key}: Extra inputs are not permitted")

    def _check_cache_control(self, block: dict[str, Any], where: str) -> None:
        cc = block.get("cache_control")
        if cc is None:
            return
        if not isinstance(cc, dict) or cc.get("type") != "ephemeral":
            raise self._fail(f"{where}cache_control.type: Input should be 'ephemeral'")
        self._check_extra(cc, _CACHE_CONTROL, f"{where}cache_control.ephemeral.")

    def _check_block(self, block: Any, where: str, allowed_types: set[str]) -> dict[str, Any]:
        if not isinstance(block, dict):
            raise self._fail(f"{where}: Input should be a valid dictionary or object to extract "
                             "fields from")
        btype = block.get("type")
        if btype is None:
            raise self._fail(f"{where}.type: Field required")
        if btype not in allowed_types:
            tags = "', '".join(sorted(allowed_types))
            raise self._fail(f"{where}: Input tag '{btype}' found using 'type' does not match "
                             f"any of the expected tags: '{tags}'")
        prefix = f"{where}.{btype}."
        self._check_extra(block, _BLOCK_KEYS[btype], prefix)
        self._check_cache_control(block, prefix)
        if btype == "text":
            if "text" not in block:
                raise self._fail(f"{prefix}text: Field required")
            if not isinstance(block["text"], str):
                raise self._fail(f"{prefix}text: Input should be a valid string")
            if block["text"] == "":
                raise self._fail("messages: text content blocks must be non-empty")
        elif btype == "image":
            src = block.get("source")
            if not isinstance(src, dict):
                raise self._fail(f"{prefix}source: Field required")
            if src.get("type") == "base64":
                self._check_extra(src, {"type", "media_type", "data"}, f"{prefix}source.base64.")
                if src.get("media_type") not in _IMAGE_MEDIA:
                    raise self._fail(f"{prefix}source.base64.media_type: Input should be "
                                     "'image/jpeg', 'image/png', 'image/gif' or 'image/webp'")
                if not isinstance(src.get("data"), str):
                    raise self._fail(f"{prefix}source.base64.data: Field required")
            elif src.get("type") == "url":
                self._check_extra(src, {"type", "url"}, f"{prefix}source.url.")
                if not isinstance(src.get("url"), str):
                    raise self._fail(f"{prefix}source.url.url: Field required")
            else:
                raise self._fail(f"{prefix}source: Input tag '{src.get('type')}' found using "
                                 "'type' does not match any of the expected tags: 'base64', "
                                 "'file', 'url'")
        elif btype == "tool_use":
            for key in ("id", "name", "input"):
                if key not in block:
                    raise self._fail(f"{prefix}{key}: Field required")
            if not isinstance(block["id"], str) or not isinstance(block["name"], str):
                raise self._fail(f"{prefix}id: Input should be a valid string")
            if not isinstance(block["input"], dict):
                raise self._fail(f"{prefix}input: Input should be a valid dictionary")
        elif btype == "tool_result":
            if not isinstance(block.get("tool_use_id"), str):
                raise self._fail(f"{prefix}tool_use_id: Field required")
            content = block.get("content")
            if isinstance(content, list):
                for k, sub in enumerate(content):
                    self._check_block(sub, f"{prefix}content.{k}", {"text", "image", "document"})
            elif content is not None and not isinstance(content, str):
                raise self._fail(f"{prefix}content: Input should be a valid string or list")
            if "is_error" in block and not isinstance(block["is_error"], bool):
                raise self._fail(f"{prefix}is_error: Input should be a valid boolean")
        elif btype == "thinking":
            if not isinstance(block.get("thinking"), str) or not isinstance(
                    block.get("signature"), str):
                raise self._fail(f"{prefix}signature: Field required")
        return block

    def _check_tools(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        tools = body.get("tools")
        if tools is None:
            tools = []
        if not isinstance(tools, list):
            raise self._fail("tools: Input should be a valid list")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise self._fail(f"tools.{i}: Input should be a valid dictionary")
            ttype = tool.get("type", "custom")
            if ttype != "custom" and not _SERVER_TOOL_TYPE.search(str(ttype)):
                raise self._fail(f"tools.{i}: Input tag '{ttype}' found using 'type' does not "
                                 "match any of the expected tags: 'custom', 'bash_20250124', "
                                 "'text_editor_20250728', 'web_search_20250305', …")
            if ttype != "custom":
                # A versioned server tool (web_search_20250305, …): only its name is checked.
                if not isinstance(tool.get("name"), str):
                    raise self._fail(f"tools.{i}.{ttype}.name: Field required")
                continue
            where = f"tools.{i}.custom."
            self._check_extra(tool, {"type", "name", "description", "input_schema",
                                     "cache_control"}, where)
            name = tool.get("name")
            if name is None:
                raise self._fail(f"{where}name: Field required")
            if not isinstance(name, str) or not _ANTHROPIC_TOOL_NAME.match(name):
                raise self._fail(f"{where}name: String should match pattern "
                                 "'^[a-zA-Z0-9_-]{1,128}$'")
            if "description" in tool and not isinstance(tool["description"], str):
                raise self._fail(f"{where}description: Input should be a valid string")
            schema = tool.get("input_schema")
            if schema is None:
                raise self._fail(f"{where}input_schema: Field required")
            if not isinstance(schema, dict):
                raise self._fail(f"{where}input_schema: Input should be a valid dictionary")
            if schema.get("type") != "object":
                raise self._fail(f"{where}input_schema.type: Input should be 'object'")
            self._check_cache_control(tool, where)
        choice = body.get("tool_choice")
        if choice is not None:
            if not tools:
                raise self._fail("tool_choice may only be specified while providing tools.")
            if not isinstance(choice, dict) or choice.get("type") not in (
                    "auto", "any", "tool", "none"):
                raise self._fail("tool_choice: Input tag found using 'type' does not match any "
                                 "of the expected tags: 'auto', 'any', 'tool', 'none'")
            ctype = choice["type"]
            allowed = {"type"} | ({"disable_parallel_tool_use"} if ctype != "none" else set()) | (
                {"name"} if ctype == "tool" else set())
            self._check_extra(choice, allowed, f"tool_choice.{ctype}.")
            if ctype == "tool":
                if not isinstance(choice.get("name"), str):
                    raise self._fail("tool_choice.tool.name: Field required")
                if choice["name"] not in [t.get("name") for t in tools]:
                    raise self._fail(f"Tool '{choice['name']}' not found in provided tools")
            dpt = choice.get("disable_parallel_tool_use")
            if dpt is not None and not isinstance(dpt, bool):
                raise self._fail(f"tool_choice.{ctype}.disable_parallel_tool_use: Input should "
                                 "be a valid boolean")
        return tools

    def _check_thinking(self, body: dict[str, Any]) -> None:
        """Extended thinking (docs.anthropic.com, "Building with extended thinking"):
        ``{"type": "enabled", "budget_tokens": N}`` with 1024 <= N < max_tokens, or
        ``{"type": "disabled"}``; no forced tool use while thinking."""
        thinking = body.get("thinking")
        if thinking is None:
            return
        if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled"):
            raise self._fail("thinking: Input tag found using 'type' does not match any of the "
                             "expected tags: 'disabled', 'enabled'")
        if thinking["type"] == "disabled":
            self._check_extra(thinking, {"type"}, "thinking.disabled.")
            return
        self._check_extra(thinking, {"type", "budget_tokens"}, "thinking.enabled.")
        budget = thinking.get("budget_tokens")
        if budget is None:
            raise self._fail("thinking.enabled.budget_tokens: Field required")
        if not _is_int(budget):
            raise self._fail("thinking.enabled.budget_tokens: Input should be a valid integer")
        if budget < 1024:
            raise self._fail("thinking.enabled.budget_tokens: Input should be greater than or "
                             "equal to 1024")
        if body["max_tokens"] <= budget:
            raise self._fail("`max_tokens` must be greater than `thinking.budget_tokens`. Please "
                             "consult our documentation at https://docs.anthropic.com/en/docs/"
                             "build-with-claude/extended-thinking#max-tokens-and-context-window-size")
        if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
            raise self._fail("Thinking may not be enabled when tool_choice forces tool use.")

    def validate(self, body: Any) -> list[dict[str, Any]]:
        """Validate a Messages request; return the turns (consecutive same-role
        messages combined), each ``{"role", "index", "blocks"}``."""
        if not isinstance(body, dict):
            raise self._fail("Input should be a valid dictionary")
        self._check_extra(body, _ANTHROPIC_PARAMS, "")
        if "model" not in body:
            raise self._fail("model: Field required")
        if not isinstance(body["model"], str):
            raise self._fail("model: Input should be a valid string")
        if "max_tokens" not in body:
            raise self._fail("max_tokens: Field required")
        if not _is_int(body["max_tokens"]):
            raise self._fail("max_tokens: Input should be a valid integer")
        if body["max_tokens"] < 0:
            raise self._fail("max_tokens: Input should be greater than or equal to 0")
        if "messages" not in body:
            raise self._fail("messages: Field required")
        if "stream" in body and not isinstance(body["stream"], bool):
            raise self._fail("stream: Input should be a valid boolean")
        for name, lo, hi in (("temperature", 0, 1), ("top_p", 0, 1)):
            value = body.get(name)
            if value is None:
                continue
            if not _is_number(value):
                raise self._fail(f"{name}: Input should be a valid number")
            if value > hi:
                raise self._fail(f"{name}: Input should be less than or equal to {hi}")
            if value < lo:
                raise self._fail(f"{name}: Input should be greater than or equal to {lo}")
        if "top_k" in body and not _is_int(body["top_k"]):
            raise self._fail("top_k: Input should be a valid integer")
        stops = body.get("stop_sequences")
        if stops is not None and not (isinstance(stops, list)
                                      and all(isinstance(s, str) for s in stops)):
            raise self._fail("stop_sequences: Input should be a valid list of strings")
        meta = body.get("metadata")
        if meta is not None:
            if not isinstance(meta, dict):
                raise self._fail("metadata: Input should be a valid dictionary")
            self._check_extra(meta, {"user_id"}, "metadata.")
        system = body.get("system")
        if system is not None and not isinstance(system, str):
            if not isinstance(system, list):
                raise self._fail("system: Input should be a valid string or list")
            for k, block in enumerate(system):
                self._check_block(block, f"system.{k}", {"text"})
        tools = self._check_tools(body)
        del tools
        self._check_thinking(body)
        messages = body["messages"]
        if not isinstance(messages, list):
            raise self._fail("messages: Input should be a valid list")
        if not messages:
            raise self._fail("messages: at least one message is required")
        turns: list[dict[str, Any]] = []
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict):
                raise self._fail(f"messages.{i}: Input should be a valid dictionary")
            role = msg.get("role")
            if role == "system":
                raise self._fail('messages: Unexpected role "system". The Messages API accepts a '
                                 'top-level `system` parameter, not "system" as an input message '
                                 'role.')
            self._check_extra(msg, {"role", "content"}, f"messages.{i}.")
            if role is None:
                raise self._fail(f"messages.{i}.role: Field required")
            if role not in ("user", "assistant"):
                raise self._fail(f"messages.{i}.role: Input should be 'user' or 'assistant'")
            if "content" not in msg:
                raise self._fail(f"messages.{i}.content: Field required")
            content = msg["content"]
            is_final = i == len(messages) - 1
            if isinstance(content, str):
                if content == "" and not (is_final and role == "assistant"):
                    raise self._fail(f"messages.{i}: all messages must have non-empty content "
                                     "except for the optional final assistant message")
                blocks = [{"type": "text", "text": content}] if content else []
            elif isinstance(content, list):
                if not content and not (is_final and role == "assistant"):
                    raise self._fail(f"messages.{i}: all messages must have non-empty content "
                                     "except for the optional final assistant message")
                allowed = ({"text", "image", "document", "tool_result"} if role == "user"
                           else {"text", "tool_use", "thinking", "redacted_thinking"})
                blocks = [self._check_block(b, f"messages.{i}.content.{k}", allowed)
                          for k, b in enumerate(content)]
            else:
                raise self._fail(f"messages.{i}.content: Input should be a valid string or list")
            if turns and turns[-1]["role"] == role:
                turns[-1]["blocks"].extend(blocks)
            else:
                turns.append({"role": role, "index": i, "blocks": blocks})
        self._check_tool_pairing(turns)
        return turns

    def _check_tool_pairing(self, turns: list[dict[str, Any]]) -> None:
        seen_ids: set[str] = set()
        for t, turn in enumerate(turns):
            if turn["role"] == "assistant":
                ids = [b["id"] for b in turn["blocks"] if b.get("type") == "tool_use"]
                for tid in ids:
                    if tid in seen_ids:
                        raise self._fail(f"messages.{turn['index']}: `tool_use` ids must be "
                                         f"unique: {tid}")
                    seen_ids.add(tid)
                if ids and t + 1 < len(turns):
                    answered = {b["tool_use_id"] for b in turns[t + 1]["blocks"]
                                if b.get("type") == "tool_result"}
                    missing = [tid for tid in ids if tid not in answered]
                    if missing:
                        raise self._fail(
                            f"messages.{turns[t + 1]['index']}: `tool_use` ids were found without "
                            f"`tool_result` blocks immediately after: {', '.join(missing)}. Each "
                            "`tool_use` block must have a corresponding `tool_result` block in "
                            "the next message.")
                continue
            previous = turns[t - 1] if t > 0 else None
            offered = {b["id"] for b in previous["blocks"]
                       if b.get("type") == "tool_use"} if previous else set()
            seen_other = False
            for k, block in enumerate(turn["blocks"]):
                if block.get("type") != "tool_result":
                    seen_other = True
                    continue
                if block["tool_use_id"] not in offered:
                    raise self._fail(
                        f"messages.{turn['index']}.content.{k}: unexpected `tool_use_id` found in "
                        f"`tool_result` blocks: {block['tool_use_id']}. Each `tool_result` block "
                        "must have a corresponding `tool_use` block in the previous message.")
                if seen_other:
                    raise self._fail(
                        f"messages.{turn['index']}.content.{k}: `tool_result` blocks must come "
                        "first in the user message content, before any other content")

    # -- answers ------------------------------------------------------------------------
    @staticmethod
    def _block_text(block: dict[str, Any]) -> str:
        if block.get("type") == "text":
            return block.get("text", "")
        if block.get("type") == "tool_result":
            content = block.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(b.get("text", "") for b in content if b.get("type") == "text")
        return ""

    def _input_words(self, body: dict[str, Any], turns: list[dict[str, Any]]) -> int:
        words = 0
        system = body.get("system")
        if isinstance(system, str):
            words += _words(system)
        elif isinstance(system, list):
            words += sum(_words(b.get("text", "")) for b in system)
        for turn in turns:
            words += sum(_words(self._block_text(b)) for b in turn["blocks"])
        return max(1, words)

    def _answer(self, body: dict[str, Any], turns: list[dict[str, Any]]):
        last_user = next((t for t in reversed(turns) if t["role"] == "user"), None)
        user_blocks = last_user["blocks"] if last_user else []
        results = [self._block_text(b) for b in user_blocks if b.get("type") == "tool_result"]
        tools = [t for t in (body.get("tools") or []) if t.get("type", "custom") == "custom"]
        choice = body.get("tool_choice") or {"type": "auto"}
        content: list[dict[str, Any]] = []
        stop_sequence = None
        if not results and tools and choice.get("type") != "none":
            name = choice["name"] if choice.get("type") == "tool" else tools[0]["name"]
            if self.tool_use_preamble:
                content.append({"type": "text", "text": self.tool_use_preamble})
            content.append({"type": "tool_use", "id": f"toolu_mock{self._next_id():06d}",
                            "name": name, "input": dict(self.tool_args)})
            stop_reason = "tool_use"
            output = max(1, len(_compact(self.tool_args)) // 4)
        else:
            if results:
                text = self.reply_text or f"{self.name} mock received tool result: " + "; ".join(
                    results)
            else:
                text = self.answer_text(" ".join(
                    self._block_text(b) for b in user_blocks if b.get("type") == "text"))
            text, stop_sequence = _apply_stop(text, body.get("stop_sequences") or [])
            text, cut = _truncate(text, body["max_tokens"])
            stop_reason = ("max_tokens" if cut or body["max_tokens"] == 0
                           else "stop_sequence" if stop_sequence else "end_turn")
            if text:
                content.append({"type": "text", "text": text})
            output = _words(text)
        usage = {
            "input_tokens": self.usage.get("input_tokens", self._input_words(body, turns)),
            "cache_creation_input_tokens": self.usage.get("cache_creation_input_tokens", 0),
            "cache_read_input_tokens": self.usage.get("cache_read_input_tokens", 0),
            "output_tokens": self.usage.get("output_tokens", output),
        }
        if (body.get("thinking") or {}).get("type") == "enabled":
            content.insert(0, {"type": "thinking",
                               "thinking": f"{self.name} mock thought "
                                           f"({body['thinking']['budget_tokens']} tokens)",
                               "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"})
        msg_id = f"msg_mock{self._next_id():06d}"
        if body.get("stream"):
            return self._stream(msg_id, body["model"], content, stop_reason, stop_sequence, usage)
        return JsonResponse(200, {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": stop_sequence,
            "usage": {**usage, "service_tier": "standard"},
        })

    def _stream(self, msg_id, model, content, stop_reason, stop_sequence, usage) -> StreamResponse:
        def event(obj: dict[str, Any]) -> bytes:
            return f"event: {obj['type']}\ndata: {_compact(obj)}\n\n".encode()

        events = [event({
            "type": "message_start",
            "message": {
                "id": msg_id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {**usage, "output_tokens": 1, "service_tier": "standard"},
            },
        })]
        for index, block in enumerate(content):
            if block["type"] == "thinking":
                # Thinking streams as thinking_delta events, then its signature.
                events.append(event({"type": "content_block_start", "index": index,
                                     "content_block": {"type": "thinking", "thinking": ""}}))
                for piece in _pieces(block["thinking"]):
                    events.append(event({"type": "content_block_delta", "index": index,
                                         "delta": {"type": "thinking_delta", "thinking": piece}}))
                events.append(event({"type": "content_block_delta", "index": index,
                                     "delta": {"type": "signature_delta",
                                               "signature": block["signature"]}}))
            elif block["type"] == "text":
                events.append(event({"type": "content_block_start", "index": index,
                                     "content_block": {"type": "text", "text": ""}}))
                if index == 0:
                    events.append(event({"type": "ping"}))
                for piece in _pieces(block["text"]):
                    events.append(event({"type": "content_block_delta", "index": index,
                                         "delta": {"type": "text_delta", "text": piece}}))
            else:
                events.append(event({"type": "content_block_start", "index": index,
                                     "content_block": {"type": "tool_use", "id": block["id"],
                                                       "name": block["name"], "input": {}}}))
                if index == 0:
                    events.append(event({"type": "ping"}))
                pieces = [""] + _split_string(_compact(block["input"]), 3)
                for piece in pieces:
                    events.append(event({"type": "content_block_delta", "index": index,
                                         "delta": {"type": "input_json_delta",
                                                   "partial_json": piece}}))
            events.append(event({"type": "content_block_stop", "index": index}))
        if not content:
            events.append(event({"type": "ping"}))
        events.append(event({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
            "usage": usage,
        }))
        events.append(event({"type": "message_stop"}))
        return StreamResponse(events)


# --------------------------------------------------------------------------------------
# Ollama
# --------------------------------------------------------------------------------------

#: Ollama's model options (``api.Options``; Modelfile parameters) and their types.
_OLLAMA_OPTIONS: dict[str, tuple[type, ...]] = {
    "num_keep": (int,), "seed": (int,), "num_predict": (int,), "top_k": (int,),
    "top_p": (int, float), "min_p": (int, float), "typical_p": (int, float),
    "repeat_last_n": (int,), "temperature": (int, float), "repeat_penalty": (int, float),
    "presence_penalty": (int, float), "frequency_penalty": (int, float),
    "penalize_newline": (bool,), "stop": (list,), "num_ctx": (int,), "num_batch": (int,),
    "num_gpu": (int,), "main_gpu": (int,), "use_mmap": (bool,), "num_thread": (int,),
    "mirostat": (int,), "mirostat_eta": (int, float), "mirostat_tau": (int, float),
    "tfs_z": (int, float), "num_gqa": (int,),
}
_OLLAMA_CHAT_KEYS = {"model", "messages", "tools", "format", "options", "stream", "keep_alive",
                     "think"}
_OLLAMA_GENERATE_KEYS = {"model", "prompt", "suffix", "images", "format", "options", "system",
                         "template", "stream", "raw", "keep_alive", "context", "think"}
_OLLAMA_EMBED_KEYS = {"model", "input", "truncate", "options", "keep_alive", "dimensions"}
_OLLAMA_MESSAGE_KEYS = {"role", "content", "images", "tool_calls", "thinking", "tool_name"}
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


class _OllamaInvalid(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


class OllamaMock(MockProvider):
    """Ollama's native API (docs/api.md in ollama/ollama): ``POST /api/chat``,
    ``POST /api/generate``, ``POST /api/embed`` (and ``GET /api/tags``), no
    authentication (a key, when configured, arrives as ``Authorization: Bearer``
    and is recorded, not checked).

    Picky the way Ollama's Go decoder is: ``content`` must be a string (a list is
    a 400 ``cannot unmarshal array``), tool-call ``arguments`` an object (a JSON
    string is a 400), ``images`` plain base64 (a ``data:`` URI is a 400, as Ollama
    fails to decode it), ``stop`` a list, option values of the right type; and
    stricter than Ollama where a gateway bug would otherwise pass unnoticed:
    unknown top-level, message and option keys are a 400 naming the key (Ollama
    only logs unknown options). Errors are ``{"error": "…"}``; an unknown model is a
    404 ``model "x" not found, try pulling it first``.

    Answers: ``stream`` defaults to true, as Ollama's does, as NDJSON
    (``application/x-ndjson``, one object per chunk); the last object has
    ``done: true``, ``done_reason``, ``prompt_eval_count`` and ``eval_count``.
    ``/api/chat`` with ``tools`` (and no tool result last) answers with a tool call
    (``arguments`` an object); with ``format`` the content is JSON
    (``{"answer": …}``); ``options.num_predict`` cuts the answer in words
    (``done_reason: "length"``). ``/api/embed`` answers 8-dimension vectors.
    """

    name = "ollama"
    embedding_dims = 8

    def __init__(self, models: Iterable[str] | None = None, *, directives: bool = False):
        super().__init__(directives=directives)
        self.models = set(models) if models is not None else None

    def response_headers(self) -> dict[str, str]:
        return {}

    def error_body(self, status: int) -> Any:
        if status == 404:
            return {"error": "model \"mock\" not found, try pulling it first"}
        if status == 429:
            return {"error": "server busy, please try again. maximum pending requests exceeded"}
        if status >= 500:
            return {"error": "llama runner process has terminated: exit status 2"}
        return {"error": f"mock fault with status {status}"}

    def stream_error_event(self, body: Any) -> bytes:
        if body is None:
            body = {"error": "an error was encountered while running the model: unexpected EOF"}
        return (body if isinstance(body, bytes) else _compact(body).encode()) + b"\n"

    def handle(self, req: RecordedRequest) -> JsonResponse | StreamResponse:
        routes = {
            ("POST", "/api/chat"): self._chat,
            ("POST", "/api/generate"): self._generate,
            ("POST", "/api/embed"): self._embed,
            ("GET", "/api/tags"): self._tags,
        }
        route = routes.get((req.method, req.path))
        if route is None:
            return JsonResponse(404, b"404 page not found", {"Content-Type": "text/plain"})
        try:
            return route(req)
        except _OllamaInvalid as err:
            return JsonResponse(err.status, {"error": err.message})

    # -- validation ---------------------------------------------------------------------
    def _body(self, req: RecordedRequest, keys: set[str]) -> dict[str, Any]:
        if req.json is None and req.body:
            raise _OllamaInvalid("invalid character 'x' looking for beginning of value")
        if not isinstance(req.json, dict):
            raise _OllamaInvalid("missing request body" if not req.body else
                                 "json: cannot unmarshal into Go value of type api.Request")
        for key in req.json:
            if key not in keys:
                raise _OllamaInvalid(f"mock: unknown field {key!r} (Ollama's API has no such field)")
        model = req.json.get("model")
        if not isinstance(model, str) or not model:
            raise _OllamaInvalid("model is required")
        if self.models is not None and model not in self.models:
            raise _OllamaInvalid(f"model \"{model}\" not found, try pulling it first", 404)
        stream = req.json.get("stream", True)
        if not isinstance(stream, bool):
            raise _OllamaInvalid("json: cannot unmarshal into Go struct field .stream of type bool")
        options = req.json.get("options")
        if options is not None:
            if not isinstance(options, dict):
                raise _OllamaInvalid("json: cannot unmarshal into Go struct field .options of type map[string]interface {}")
            for key, value in options.items():
                if key not in _OLLAMA_OPTIONS:
                    raise _OllamaInvalid(f"mock: invalid option provided: {key}")
                types = _OLLAMA_OPTIONS[key]
                if isinstance(value, bool) and bool not in types or not isinstance(value, types):
                    raise _OllamaInvalid(f"option {key!r} must be of type {types[0].__name__}")
                if key == "stop" and not all(isinstance(x, str) for x in value):
                    raise _OllamaInvalid("option 'stop' must be a list of strings")
        fmt = req.json.get("format")
        if fmt is not None and fmt != "json" and not isinstance(fmt, dict):
            raise _OllamaInvalid(f"invalid format: {fmt!r}; expected \"json\" or a JSON schema")
        think = req.json.get("think")
        if think is not None and not isinstance(think, bool) and think not in ("low", "medium", "high"):
            raise _OllamaInvalid(f"invalid think value: {think!r}")
        return req.json

    @staticmethod
    def _check_images(images: Any, where: str) -> None:
        if not isinstance(images, list):
            raise _OllamaInvalid(f"json: cannot unmarshal into Go struct field {where}.images of type []api.ImageData")
        for image in images:
            if not isinstance(image, str) or not _BASE64.match(image):
                raise _OllamaInvalid("illegal base64 data at input byte 4")
            try:
                base64.b64decode(image, validate=True)
            except ValueError:
                raise _OllamaInvalid("illegal base64 data at input byte 0") from None

    def _check_messages(self, messages: Any) -> list[dict[str, Any]]:
        if not isinstance(messages, list):
            raise _OllamaInvalid("json: cannot unmarshal into Go struct field ChatRequest.messages of type []api.Message")
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict):
                raise _OllamaInvalid("json: cannot unmarshal into Go value of type api.Message")
            for key in msg:
                if key not in _OLLAMA_MESSAGE_KEYS:
                    raise _OllamaInvalid(f"mock: unknown message field {key!r} in messages[{i}]")
            if msg.get("role") not in ("system", "user", "assistant", "tool"):
                raise _OllamaInvalid(f"invalid role: {msg.get('role')!r}")
            content = msg.get("content", "")
            if isinstance(content, list):
                raise _OllamaInvalid("json: cannot unmarshal array into Go struct field Message.messages.content of type string")
            if not isinstance(content, str):
                raise _OllamaInvalid("json: cannot unmarshal into Go struct field Message.messages.content of type string")
            if "images" in msg:
                self._check_images(msg["images"], "Message.messages")
            for call in msg.get("tool_calls") or []:
                fn = call.get("function") if isinstance(call, dict) else None
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                    raise _OllamaInvalid("json: cannot unmarshal into Go struct field Message.messages.tool_calls of type api.ToolCall")
                if not isinstance(fn.get("arguments", {}), dict):
                    raise _OllamaInvalid("json: cannot unmarshal string into Go struct field ToolCallFunction.messages.tool_calls.function.arguments of type api.ToolCallFunctionArguments")
        return messages

    @staticmethod
    def _check_tools(tools: Any) -> list[dict[str, Any]]:
        if tools is None:
            return []
        if not isinstance(tools, list):
            raise _OllamaInvalid("json: cannot unmarshal into Go struct field ChatRequest.tools of type api.Tools")
        for tool in tools:
            fn = tool.get("function") if isinstance(tool, dict) else None
            if tool.get("type") != "function" or not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise _OllamaInvalid("json: cannot unmarshal into Go value of type api.Tool")
        return tools

    # -- answers ------------------------------------------------------------------------
    @staticmethod
    def _created_at() -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}Z"

    def _text(self, last_user: str, body: dict[str, Any]) -> tuple[str, str]:
        text = self.answer_text(last_user)
        options = body.get("options") or {}
        text, _ = _apply_stop(text, options.get("stop") or [])
        text, cut = _truncate(text, options.get("num_predict"))
        if body.get("format") is not None:
            text = _compact({"answer": text})
        return text, "length" if cut else "stop"

    def _answer(self, body: dict[str, Any], key: str, text: str, reason: str, prompt: int,
                tool_calls: list[dict[str, Any]] | None = None) -> JsonResponse | StreamResponse:
        model = body["model"]
        # Thinking models answer with `thinking` when asked to think.
        thinking = f"ollama mock thought ({body['think']})" if body.get("think") else None
        completion = max(1, _words(text)) if text else max(1, len(_compact(tool_calls)) // 4)
        final = {"model": model, "created_at": self._created_at(), "done": True,
                 "done_reason": reason, "total_duration": 4883583458, "load_duration": 1334875,
                 "prompt_eval_count": prompt, "prompt_eval_duration": 342546000,
                 "eval_count": completion, "eval_duration": 4535599000}
        if key == "message":
            final["message"] = {"role": "assistant", "content": ""}
        else:
            final["response"] = ""
            final["context"] = [1, 2, 3]
        if not body.get("stream", True):
            if key == "message":
                final["message"] = {"role": "assistant", "content": text}
                if tool_calls:
                    final["message"]["tool_calls"] = tool_calls
                if thinking:
                    final["message"]["thinking"] = thinking
            else:
                final["response"] = text
                if thinking:
                    final["thinking"] = thinking
            return JsonResponse(200, final)
        lines = []
        if thinking:
            line: dict[str, Any] = {"model": model, "created_at": self._created_at(), "done": False}
            if key == "message":
                line["message"] = {"role": "assistant", "content": "", "thinking": thinking}
            else:
                line["response"] = ""
                line["thinking"] = thinking
            lines.append(line)
        if tool_calls:
            lines.append({"model": model, "created_at": self._created_at(),
                          "message": {"role": "assistant", "content": "", "tool_calls": tool_calls},
                          "done": False})
        for piece in _pieces(text):
            part: dict[str, Any] = {"model": model, "created_at": self._created_at(), "done": False}
            if key == "message":
                part["message"] = {"role": "assistant", "content": piece}
            else:
                part["response"] = piece
            lines.append(part)
        lines.append(final)
        return StreamResponse([_compact(line).encode() + b"\n" for line in lines],
                              {"Content-Type": "application/x-ndjson"})

    def _chat(self, req: RecordedRequest):
        body = self._body(req, _OLLAMA_CHAT_KEYS)
        messages = self._check_messages(body.get("messages", []))
        tools = self._check_tools(body.get("tools"))
        prompt = max(1, sum(_words(m.get("content", "")) for m in messages))
        if messages and messages[-1].get("role") == "tool":
            results = []
            for msg in reversed(messages):
                if msg.get("role") != "tool":
                    break
                results.insert(0, f"{msg.get('tool_name', '?')}={msg.get('content', '')}")
            text = f"ollama mock received tool result: {'; '.join(results)}"
            return self._answer(body, "message", text, "stop", prompt)
        if tools:
            call = {"function": {"name": tools[0]["function"]["name"],
                                 "arguments": dict(self.tool_args)}}
            return self._answer(body, "message", "", "stop", prompt, [call])
        last_user = next((m.get("content", "") for m in reversed(messages)
                          if m.get("role") == "user"), "")
        text, reason = self._text(last_user, body)
        return self._answer(body, "message", text, reason, prompt)

    def _generate(self, req: RecordedRequest):
        body = self._body(req, _OLLAMA_GENERATE_KEYS)
        prompt = body.get("prompt", "")
        if not isinstance(prompt, str):
            raise _OllamaInvalid("json: cannot unmarshal into Go struct field GenerateRequest.prompt of type string")
        if "images" in body:
            self._check_images(body["images"], "GenerateRequest")
        # The last "### User:" block of a LiteLLM-style prompt, else the whole prompt.
        blocks = re.findall(r"### User:\n(.*?)\n\n", prompt, flags=re.S)
        last_user = blocks[-1] if blocks else prompt
        text, reason = self._text(last_user, body)
        return self._answer(body, "response", text, reason, max(1, _words(prompt)))

    def _embed(self, req: RecordedRequest):
        body = self._body(req, _OLLAMA_EMBED_KEYS)
        raw = body.get("input")
        if isinstance(raw, str):
            inputs = [raw]
        elif isinstance(raw, list) and all(isinstance(x, str) for x in raw):
            inputs = raw
        else:
            raise _OllamaInvalid("invalid input type")
        return JsonResponse(200, {
            "model": body["model"],
            "embeddings": [_embedding(text, self.embedding_dims) for text in inputs],
            "total_duration": 14143917,
            "load_duration": 1019500,
            "prompt_eval_count": sum(max(1, _words(t)) for t in inputs),
        })

    def _tags(self, req: RecordedRequest) -> JsonResponse:
        names = sorted(self.models) if self.models is not None else ["llama3.1:latest"]
        return JsonResponse(200, {"models": [{"name": n, "model": n} for n in names]})
