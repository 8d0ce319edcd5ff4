"""The HTTP plumbing every mock provider shares, and the helpers their answers use.

Each provider's native API lives in a module of its own (``openai``, ``azure``,
``anthropic``, ``ollama``, ``gemini``, ``vertex``, ``cohere``, ``huggingface``,
``bedrock``); this module has what they have in common: the server, request
recording, the response writer and the fault switches (:class:`MockProvider`).

What every mock does:

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
from typing import Any, Iterable

__all__ = ["DEFAULT_TOOL_ARGS", "DIRECTIVE_PREFIX", "DIRECTIVE_RESET_AFTER_EVENTS", "JsonResponse", "MAX_BODY_BYTES", "MAX_FAULT_SECONDS", "MockProvider", "RecordedRequest", "StreamResponse"]

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
