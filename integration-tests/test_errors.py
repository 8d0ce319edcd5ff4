"""Every bad input gets the documented status and an OpenAI-shaped JSON error.

These tests run the real gateway (``switchyard render`` + Envoy 1.40 + the built
filter ``.wasm``) in front of the mock providers and send it what clients get
wrong, what providers answer when they fail, and what the network does when it
fails. Each answer must be ``{"error": {"message": str, "type": str, "param":
str|null, "code": "<status>"}}`` with the right HTTP status — never Envoy's
plain-text replies — and nothing must be lost on the way: the provider's own
message survives the translation, rejected requests never reach a provider,
and a failing request never takes the (single) Envoy worker down with it.

Most tests share one gateway (module-scoped, see :func:`shared`): its config has
an OpenAI, an Azure and two Anthropic deployments, one deployment whose
``api_base`` is a closed port, ``router_settings.timeout: 1`` and
``general_settings.max_request_size_mb: 1``. It turns retries and cooldowns off
(``num_retries: 0``, a huge ``allowed_fails``): these tests are about how one
failed attempt reaches the client; test_routing.py covers retries and cooldowns.
Tests that need another config start their own, small gateway.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

import harness
from harness import request_json
from mocks import (
    ANTHROPIC_KEY,
    AZURE_API_VERSION,
    AZURE_DEPLOYMENTS,
    AZURE_KEY,
    OPENAI_KEY,
    AnthropicMock,
    AzureMock,
    OpenAIMock,
)

MIB = 1 << 20
#: The shared gateway's body limit (general_settings.max_request_size_mb: 1).
LIMIT = 1 * MIB
#: The shared gateway's router_settings.timeout, seconds.
TIMEOUT_S = 1
CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "hi"}]
ENV = {"OPENAI_API_KEY": OPENAI_KEY, "AZURE_API_KEY": AZURE_KEY,
       "ANTHROPIC_API_KEY": ANTHROPIC_KEY}
CURL = "curl"

#: LiteLLM's message for a model nobody serves (LITELLM-COMPAT.md, "Error bodies").
UNKNOWN_MODEL_MESSAGE = ("Invalid model name passed in model={model}. "
                         "Call `/v1/models` to view available models for your key.")

#: Log lines that mean the filter trapped or a wasm VM failed.
WASM_FAILURE = re.compile(
    r"panicked|Uncaught|RuntimeError|wasm trap|unreachable executed|"
    r"Function: proxy_on_\w+ failed|Wasm VM failed|failed state|Plugin .* failed",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------------------
# The error-shape helper
# --------------------------------------------------------------------------------------


_UNSET: Any = object()


def assert_openai_error(
    status: int,
    headers: dict[str, str] | None,
    body: Any,
    want_status: int,
    *,
    param: Any = _UNSET,
    type_: str | set[str] | None = None,
    message: str | None = None,
    contains: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Assert an OpenAI-shaped error answer; return its ``error`` object.

    The body must be exactly ``{"error": {"message", "type", "param", "code"}}``
    with a non-empty string message and type, a string or null param and
    ``code == str(status)``; the status must be ``want_status`` and (when
    headers are given) the content type JSON. ``param``, ``type_`` (one value or
    a set of accepted values), ``message`` (exact) and ``contains`` (substrings of
    the message) check the fields further.
    """
    shown = body if not isinstance(body, (str, bytes)) else repr(body[:500])
    assert status == want_status, f"status {status}, expected {want_status}: {shown}"
    if headers is not None:
        ctype = headers.get("content-type", "")
        assert ctype.startswith("application/json"), f"content-type {ctype!r}: {shown}"
    assert isinstance(body, dict), f"body is not a JSON object: {shown}"
    assert set(body) == {"error"}, f"top-level keys {sorted(body)}: {shown}"
    err = body["error"]
    assert isinstance(err, dict), f"error is not an object: {shown}"
    assert set(err) == {"message", "type", "param", "code"}, f"error keys {sorted(err)}: {shown}"
    assert isinstance(err["message"], str) and err["message"], f"message: {shown}"
    assert isinstance(err["type"], str) and err["type"], f"type: {shown}"
    assert err["param"] is None or isinstance(err["param"], str), f"param: {shown}"
    assert err["code"] == str(status), f"code {err['code']!r} for status {status}: {shown}"
    if param is not _UNSET:
        assert err["param"] == param, f"param {err['param']!r}, expected {param!r}: {shown}"
    if type_ is not None:
        accepted = {type_} if isinstance(type_, str) else set(type_)
        assert err["type"] in accepted, f"type {err['type']!r}, expected {accepted}: {shown}"
    if message is not None:
        assert err["message"] == message, f"message {err['message']!r}, expected {message!r}"
    for part in contains:
        assert part in err["message"], f"{part!r} not in message {err['message']!r}"
    return err


def test_assert_openai_error_rejects_wrong_shapes() -> None:
    """The helper itself: it must fail on every shape a client would choke on."""
    good = {"error": {"message": "m", "type": "t", "param": None, "code": "400"}}
    assert_openai_error(400, {"content-type": "application/json"}, good, 400, param=None)
    bad_cases = [
        (400, {"content-type": "text/plain"}, good),
        (400, None, {"error": {"message": "m", "type": "t", "param": None, "code": 400}}),
        (400, None, {"error": {"message": "m", "type": "t", "code": "400"}}),
        (400, None, {"error": {"message": "", "type": "t", "param": None, "code": "400"}}),
        (400, None, {"error": {"message": "m", "type": None, "param": None, "code": "400"}}),
        (400, None, {"error": {"message": "m", "type": "t", "param": None, "code": "400"},
                     "detail": "x"}),
        (400, None, "upstream connect error or disconnect/reset before headers"),
        (502, None, good),
    ]
    for status, headers, body in bad_cases:
        with pytest.raises(AssertionError):
            assert_openai_error(status, headers, body, status)


# --------------------------------------------------------------------------------------
# HTTP helpers (stdlib and curl)
# --------------------------------------------------------------------------------------


def raw_request(
    gw: harness.Gateway,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    chunked: bool = False,
    split_at: int | None = None,
    timeout: float = 15.0,
) -> tuple[int, dict[str, str], Any]:
    """One request over http.client; returns (status, lower-cased headers, JSON or text).

    Unlike urllib it tolerates the gateway answering (and closing) before the whole
    body was sent, which is what an early 413 does. ``chunked`` sends the body with
    ``Transfer-Encoding: chunked`` (in 64 KiB chunks) instead of Content-Length;
    ``split_at`` (chunked only) sends the first ``split_at`` bytes as one chunk, waits
    until the gateway has buffered them, then sends the rest as one big chunk.
    """
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=timeout)
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        if body is not None and chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        elif body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body is not None:
            try:
                if chunked and split_at is not None:
                    for piece in (body[:split_at], body[split_at:]):
                        conn.send(b"%X\r\n%s\r\n" % (len(piece), piece))
                        time.sleep(0.3)
                    conn.send(b"0\r\n\r\n")
                elif chunked:
                    for i in range(0, len(body), 64 * 1024):
                        piece = body[i:i + 64 * 1024]
                        conn.send(b"%X\r\n%s\r\n" % (len(piece), piece))
                    conn.send(b"0\r\n\r\n")
                else:
                    conn.send(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the gateway answered early; the answer is still readable
        resp = conn.getresponse()
        raw = resp.read()
        resp_headers = {k.lower(): v for k, v in resp.getheaders()}
        status = resp.status
    finally:
        conn.close()
    text = raw.decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return status, resp_headers, parsed


def curl(
    url: str,
    tmp_path: Path,
    *,
    method: str = "POST",
    data: bytes | None = None,
    headers: tuple[str, ...] = ("Content-Type: application/json",),
) -> tuple[int, dict[str, str], Any]:
    """Run curl; returns (status, lower-cased headers, JSON or text)."""
    cmd = [CURL, "-sS", "-X", method, "-o", str(tmp_path / "curl-body"),
           "-D", str(tmp_path / "curl-headers"), "-w", "%{http_code}", "--max-time", "20"]
    for h in headers:
        cmd += ["-H", h]
    if data is not None:
        (tmp_path / "curl-data").write_bytes(data)
        cmd += ["--data-binary", f"@{tmp_path / 'curl-data'}"]
    cmd.append(url)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"curl failed ({proc.returncode}): {proc.stderr}"
    status = int(proc.stdout.strip()[-3:])
    resp_headers: dict[str, str] = {}
    # With 100-continue there are two header blocks; keep the last one.
    for line in (tmp_path / "curl-headers").read_text(errors="replace").splitlines():
        if line.startswith("HTTP/"):
            resp_headers = {}
        name, sep, value = line.partition(":")
        if sep:
            resp_headers[name.strip().lower()] = value.strip()
    text = (tmp_path / "curl-body").read_text(errors="replace")
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return status, resp_headers, parsed


def chat(gw: harness.Gateway, model: str, **extra: Any) -> tuple[int, dict[str, str], Any]:
    return request_json("POST", gw.url(CHAT), {"model": model, "messages": MESSAGES, **extra},
                        timeout=15)


def padded_chat_body(model: str, total: int) -> bytes:
    """A valid chat request of exactly ``total`` bytes (the padding is message text)."""
    skeleton = {"model": model, "max_tokens": 5,
                "messages": [{"role": "user", "content": ""}]}
    pad = total - len(json.dumps(skeleton).encode())
    assert pad >= 0
    skeleton["messages"][0]["content"] = "x" * pad
    data = json.dumps(skeleton).encode()
    assert len(data) == total
    return data


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------
# Fixtures: one shared gateway for the module
# --------------------------------------------------------------------------------------


def _require_prerequisites() -> None:
    missing = harness.missing_prerequisites()
    if not missing:
        return
    message = "gateway prerequisites missing: " + "; ".join(missing)
    if os.environ.get("SWITCHYARD_REQUIRE_GATEWAY") == "1":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Shared:
    gw: harness.Gateway
    openai: OpenAIMock
    azure: AzureMock
    anthropic: AnthropicMock
    dead_port: int

    def mocks(self) -> tuple[OpenAIMock, AzureMock, AnthropicMock]:
        return (self.openai, self.azure, self.anthropic)


def shared_config(oa: OpenAIMock, az: AzureMock, an: AnthropicMock, dead_port: int) -> str:
    return f"""
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {oa.base_url}
      api_key: os.environ/OPENAI_API_KEY
  - model_name: azure-gpt
    litellm_params:
      model: azure/gpt-4o-deploy
      api_base: {az.base_url}
      api_version: "{AZURE_API_VERSION}"
      api_key: os.environ/AZURE_API_KEY
  - model_name: claude
    litellm_params:
      model: anthropic/claude-3-5-haiku-20241022
      api_base: {an.base_url}
      api_key: os.environ/ANTHROPIC_API_KEY
  - model_name: claude-drop
    litellm_params:
      model: anthropic/claude-3-5-haiku-20241022
      api_base: {an.base_url}
      api_key: os.environ/ANTHROPIC_API_KEY
      drop_params: true
  - model_name: dead
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:{dead_port}/v1
      api_key: os.environ/OPENAI_API_KEY
router_settings:
  timeout: {TIMEOUT_S}
  num_retries: 0
  allowed_fails: 100000
general_settings:
  max_request_size_mb: {LIMIT // MIB}
"""


@pytest.fixture(scope="module")
def _shared_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    _require_prerequisites()
    with OpenAIMock(api_key=OPENAI_KEY) as oa, \
            AzureMock(api_key=AZURE_KEY, deployments=dict(AZURE_DEPLOYMENTS)) as az, \
            AnthropicMock(api_key=ANTHROPIC_KEY) as an:
        dead = closed_port()
        gw = harness.Gateway(shared_config(oa, az, an, dead), ENV,
                             workdir=tmp_path_factory.mktemp("errors-gateway"))
        gw.start()
        try:
            yield Shared(gw, oa, az, an, dead)
        finally:
            gw.stop()


@pytest.fixture
def shared(_shared_module: Shared, request: pytest.FixtureRequest) -> Iterator[Shared]:
    """The module's gateway and mocks, with faults and recorded requests cleared."""
    s = _shared_module
    for mock in s.mocks():
        mock.clear_faults()
        mock.clear_requests()
        mock.reply_text = None
    assert s.gw.running, "the shared gateway's Envoy is gone:\n" + harness._tail(s.gw.log_text())
    yield s
    for mock in s.mocks():
        mock.clear_faults()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"\n--- shared gateway envoy log tail ({s.gw.log_path}) ---")
        print(harness._tail(s.gw.log_text()))


def assert_no_upstream_call(s: Shared) -> None:
    for mock in s.mocks():
        assert mock.request_count == 0, (
            f"{type(mock).__name__} received {mock.requests[0].path}: a rejected request "
            "must not reach a provider")


# --------------------------------------------------------------------------------------
# Client errors the router stage answers
# --------------------------------------------------------------------------------------


def test_malformed_json_is_400(shared: Shared, tmp_path: Path) -> None:
    body = b'{"model": "gpt", "messages": [{"role": "user", "content": "hi"}'
    status, headers, parsed = raw_request(shared.gw, "POST", CHAT, body)
    assert_openai_error(status, headers, parsed, 400, param=None,
                        type_="invalid_request_error", contains=("not valid JSON",))
    status, headers, parsed = curl(shared.gw.url(CHAT), tmp_path, data=b"{model: gpt}")
    assert_openai_error(status, headers, parsed, 400, type_="invalid_request_error",
                        contains=("not valid JSON",))
    assert_no_upstream_call(shared)


@pytest.mark.parametrize("body", [b"[1, 2]", b'"gpt"', b"42", b"null", b"true"])
def test_body_not_an_object_is_400(shared: Shared, body: bytes) -> None:
    status, headers, parsed = raw_request(shared.gw, "POST", CHAT, body)
    assert_openai_error(status, headers, parsed, 400, type_="invalid_request_error",
                        contains=("JSON object",))
    assert_no_upstream_call(shared)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length-0", "chunked-empty"])
def test_empty_body_is_400(shared: Shared, chunked: bool) -> None:
    status, headers, parsed = raw_request(shared.gw, "POST", CHAT, b"", chunked=chunked)
    assert_openai_error(status, headers, parsed, 400, type_="invalid_request_error")
    assert_no_upstream_call(shared)


def test_missing_model_is_400_naming_model(shared: Shared, tmp_path: Path) -> None:
    status, headers, parsed = request_json("POST", shared.gw.url(CHAT), {"messages": MESSAGES})
    assert_openai_error(status, headers, parsed, 400, param="model",
                        type_="invalid_request_error", contains=("model",))
    status, headers, parsed = curl(shared.gw.url("/chat/completions"), tmp_path,
                                   data=b'{"messages": []}')
    assert_openai_error(status, headers, parsed, 400, param="model")
    assert_no_upstream_call(shared)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"model": 5}, "model"),
        ({"model": ["gpt"]}, "model"),
        ({"model": None}, "model"),
        ({"model": ""}, "model"),
        ({"model": "gpt", "stream": "yes"}, "stream"),
        ({"model": "gpt", "stream": 1}, "stream"),
        ({"model": "gpt", "stream_options": 5}, "stream_options"),
    ],
    ids=["model-int", "model-list", "model-null", "model-empty", "stream-str", "stream-int",
         "stream_options-int"],
)
def test_wrong_types_are_400_naming_the_param(shared: Shared, extra: dict[str, Any],
                                              param: str) -> None:
    status, headers, parsed = request_json("POST", shared.gw.url(CHAT),
                                           {"messages": MESSAGES, **extra})
    assert_openai_error(status, headers, parsed, 400, param=param,
                        type_="invalid_request_error", contains=(param,))
    assert_no_upstream_call(shared)


@pytest.mark.parametrize("path", [CHAT, "/chat/completions", "/v1/embeddings",
                                  "/openai/deployments/{model}/chat/completions"])
def test_unknown_model_is_400_with_litellm_wording(shared: Shared, path: str) -> None:
    model = "gpt-does-not-exist"
    body: dict[str, Any] = {"messages": MESSAGES}
    if "{model}" in path:
        path = path.format(model=model) + f"?api-version={AZURE_API_VERSION}"
    else:
        body["model"] = model
    status, headers, parsed = request_json("POST", shared.gw.url(path), body)
    assert_openai_error(status, headers, parsed, 400, param="model",
                        type_="invalid_request_error",
                        message=UNKNOWN_MODEL_MESSAGE.format(model=model))
    assert_no_upstream_call(shared)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/nope"),
    ("POST", "/v1/unknown"),
    ("POST", "/v2/chat/completions"),
    ("GET", "/"),
    ("POST", "/openai/deployments//chat/completions"),
])
def test_unknown_path_is_404(shared: Shared, method: str, path: str, tmp_path: Path) -> None:
    body = b'{"model": "gpt", "messages": []}' if method == "POST" else None
    status, headers, parsed = raw_request(shared.gw, method, path, body)
    err = assert_openai_error(status, headers, parsed, 404, param=None, type_="not_found_error")
    assert path.split("?")[0] in err["message"] or "route" in err["message"].lower()
    status, headers, parsed = curl(shared.gw.url(path), tmp_path, method=method, data=body)
    assert_openai_error(status, headers, parsed, 404)
    assert_no_upstream_call(shared)


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("GET", CHAT, "POST"),
    ("PUT", "/chat/completions", "POST"),
    ("DELETE", "/v1/embeddings", "POST"),
    ("POST", "/v1/models", "GET"),
])
def test_wrong_method_is_405(shared: Shared, method: str, path: str, allowed: str,
                             tmp_path: Path) -> None:
    status, headers, parsed = raw_request(shared.gw, method, path)
    assert_openai_error(status, headers, parsed, 405, param=None, contains=(method, allowed))
    assert headers.get("allow") == allowed
    status, headers, parsed = curl(shared.gw.url(path), tmp_path, method=method)
    assert_openai_error(status, headers, parsed, 405)
    assert_no_upstream_call(shared)


# --------------------------------------------------------------------------------------
# Body size limit (general_settings.max_request_size_mb: 1)
# --------------------------------------------------------------------------------------


def test_oversized_body_with_content_length_is_413(shared: Shared, tmp_path: Path) -> None:
    body = padded_chat_body("gpt", 2 * MIB)
    status, headers, parsed = raw_request(shared.gw, "POST", CHAT, body)
    assert_openai_error(status, headers, parsed, 413, param=None,
                        type_="invalid_request_error", contains=(str(LIMIT),))
    status, headers, parsed = curl(shared.gw.url(CHAT), tmp_path, data=body)
    assert_openai_error(status, headers, parsed, 413, contains=("max_request_size_mb",))
    assert_no_upstream_call(shared)


@pytest.mark.parametrize("size", [2 * MIB, 5 * MIB], ids=["2MiB", "5MiB"])
def test_oversized_chunked_body_is_413(shared: Shared, tmp_path: Path, size: int) -> None:
    # 5 MiB is past Envoy's own buffer limit (the filter's limit + 1 MiB): the filter
    # must still be the one that answers, in JSON.
    body = padded_chat_body("gpt", size)
    status, headers, parsed = curl(
        shared.gw.url(CHAT), tmp_path, data=body,
        headers=("Content-Type: application/json", "Transfer-Encoding: chunked"))
    assert_openai_error(status, headers, parsed, 413, param=None,
                        type_="invalid_request_error", contains=(str(LIMIT),))
    status, headers, parsed = raw_request(shared.gw, "POST", CHAT, body, chunked=True)
    assert_openai_error(status, headers, parsed, 413, contains=("max_request_size_mb",))
    assert_no_upstream_call(shared)


def test_oversized_chunked_body_in_one_big_read_is_413_json(
        gateway_factory: Any, openai_mock: OpenAIMock) -> None:
    # Just under the limit arrives first and is buffered by the filter; the rest then
    # comes in one read larger than Envoy's own headroom (1 MiB over the default 10 MiB
    # limit). Envoy moves the read into the filter's buffer before the filter sees it,
    # overflows, and answers 413 itself — in JSON too (config/src/render/ maps every 413 to the
    # filter's body).
    gw = gateway_factory(f"""
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {openai_mock.base_url}
      api_key: os.environ/OPENAI_API_KEY
""", env={"OPENAI_API_KEY": OPENAI_KEY})
    default_limit = 10 * MIB
    body = padded_chat_body("gpt", default_limit + 4 * MIB)
    for _ in range(3):
        status, headers, parsed = raw_request(gw, "POST", CHAT, body, chunked=True,
                                              split_at=default_limit - 4096)
        assert_openai_error(status, headers, parsed, 413, param=None,
                            type_="invalid_request_error",
                            contains=(str(default_limit), "max_request_size_mb"))
    assert openai_mock.request_count == 0


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_just_under_the_limit_reaches_the_provider(shared: Shared, tmp_path: Path,
                                                        chunked: bool) -> None:
    shared.openai.reply_text = "fits"
    body = padded_chat_body("gpt", LIMIT - 64)
    hdrs = ("Content-Type: application/json",) + (
        ("Transfer-Encoding: chunked",) if chunked else ())
    status, _, parsed = curl(shared.gw.url(CHAT), tmp_path, data=body, headers=hdrs)
    assert status == 200, parsed
    assert parsed["choices"][0]["message"]["content"] == "fits"
    assert shared.openai.request_count == 1
    got = shared.openai.last_request.json
    sent = json.loads(body)
    assert got["messages"] == sent["messages"], "the body arrived whole"


def test_small_request_limit_does_not_cap_answers(shared: Shared) -> None:
    # max_request_size_mb: 1 limits requests, not what a provider answers: a 2.5 MB
    # Anthropic answer (held whole by the upstream stage to translate it) arrives intact.
    text = "y" * 2_500_000
    shared.anthropic.reply_text = text
    status, _, parsed = chat(shared.gw, "claude")
    assert status == 200, str(parsed)[:300]
    assert parsed["choices"][0]["message"]["content"] == text


def test_answer_larger_than_the_gateway_buffer_is_json_502(shared: Shared) -> None:
    shared.anthropic.reply_text = "y" * (12 * MIB)
    status, headers, parsed = chat(shared.gw, "claude")
    assert_openai_error(status, headers, parsed, 502, param=None,
                        contains=("larger than the gateway's response buffer",))
    assert shared.anthropic.request_count == 1


# --------------------------------------------------------------------------------------
# Parameters the provider does not accept
# --------------------------------------------------------------------------------------


def test_unsupported_param_is_400_naming_it(shared: Shared) -> None:
    status, headers, parsed = chat(shared.gw, "claude", logit_bias={"50256": -100})
    assert_openai_error(status, headers, parsed, 400, param="logit_bias",
                        type_="invalid_request_error", contains=("logit_bias", "drop_params"))
    assert_no_upstream_call(shared)


def test_drop_params_per_deployment_drops_it(shared: Shared) -> None:
    status, _, parsed = chat(shared.gw, "claude-drop", logit_bias={"50256": -100}, seed=3)
    assert status == 200, parsed
    assert parsed["choices"][0]["message"]["content"] == "Hello from anthropic mock: hi"
    got = shared.anthropic.last_request.json
    assert "logit_bias" not in got and "seed" not in got, got
    assert got["model"] == "claude-3-5-haiku-20241022"


def test_drop_params_in_litellm_settings_drops_it(gateway_factory: Any,
                                                  anthropic_mock: AnthropicMock) -> None:
    gw = gateway_factory(f"""
model_list:
  - model_name: claude
    litellm_params:
      model: anthropic/claude-3-5-haiku-20241022
      api_base: {anthropic_mock.base_url}
      api_key: os.environ/ANTHROPIC_API_KEY
litellm_settings:
  drop_params: true
""", env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY})
    status, _, parsed = chat(gw, "claude", logit_bias={"50256": -100})
    assert status == 200, parsed
    assert parsed["choices"][0]["message"]["content"] == "Hello from anthropic mock: hi"
    assert "logit_bias" not in anthropic_mock.last_request.json
    assert anthropic_mock.request_count == 1


# --------------------------------------------------------------------------------------
# Provider errors, mapped with their message kept
# --------------------------------------------------------------------------------------

#: The OpenAI error type LiteLLM gives each status (LITELLM-COMPAT.md, provider errors).
STATUS_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    429: "rate_limit_error",
    500: "internal_server_error",
    503: "service_unavailable_error",
}

PROVIDER_ERROR_CASES = [
    *[("gpt", s, s) for s in (400, 401, 403, 404, 408, 429, 500, 503)],
    *[("azure-gpt", s, s) for s in (400, 401, 403, 404, 408, 429, 500, 503)],
    *[("claude", s, s) for s in (400, 401, 403, 404, 429, 500)],
    ("claude", 529, 503),
]


def _native_message(body: dict[str, Any]) -> str:
    return body["error"]["message"]


@pytest.mark.parametrize(("model", "upstream_status", "want_status"), PROVIDER_ERROR_CASES,
                         ids=[f"{m}-{s}" for m, s, _ in PROVIDER_ERROR_CASES])
def test_provider_error_is_mapped_with_its_message(shared: Shared, model: str,
                                                   upstream_status: int,
                                                   want_status: int) -> None:
    mock = {"gpt": shared.openai, "azure-gpt": shared.azure, "claude": shared.anthropic}[model]
    native = mock.error_body(upstream_status)
    extra_headers = {"retry-after": "7"} if upstream_status == 429 else None
    mock.fail_next(1, upstream_status, body=native, headers=extra_headers)
    status, headers, parsed = chat(shared.gw, model)
    # OpenAI-compatible servers name their own type (OpenAI's 429 says "requests", its
    # 5xx "server_error"); it is passed on. Azure and Anthropic get LiteLLM's types.
    accepted = {STATUS_TYPE[want_status]}
    if model == "gpt":
        accepted.add(native["error"]["type"])
    assert_openai_error(status, headers, parsed, want_status, type_=accepted,
                        message=_native_message(native))
    assert mock.request_count == 1, "exactly one attempt (no retries configured)"
    if upstream_status == 429:
        assert headers.get("retry-after") == "7", (
            f"the provider's retry-after was lost: {headers}")


def test_provider_error_that_is_not_json_keeps_its_text(shared: Shared) -> None:
    shared.openai.fail_next(1, 502, body="<html><body>502 Bad Gateway (nginx)</body></html>",
                            headers={"Content-Type": "text/html"})
    status, headers, parsed = chat(shared.gw, "gpt")
    assert_openai_error(status, headers, parsed, 502, contains=("502 Bad Gateway (nginx)",))
    shared.anthropic.fail_next(1, 529, body="overloaded, try later",
                               headers={"Content-Type": "text/plain"})
    status, headers, parsed = chat(shared.gw, "claude")
    assert_openai_error(status, headers, parsed, 503, type_="service_unavailable_error",
                        message="overloaded, try later")


def test_provider_validation_error_keeps_message_and_param(shared: Shared) -> None:
    # The mocks validate like the real APIs; their 400s must reach the client intact.
    status, headers, parsed = chat(shared.gw, "gpt", temperature="hot")
    assert_openai_error(status, headers, parsed, 400, param="temperature",
                        type_="invalid_request_error",
                        message="Invalid type for 'temperature': expected a decimal, but got "
                                "string instead.")
    shared.azure.fail_next(1, 400, body={"error": {
        "code": "content_filter", "param": "prompt", "status": 400,
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
                   "content management policy."}})
    status, headers, parsed = chat(shared.gw, "azure-gpt")
    assert_openai_error(status, headers, parsed, 400, param="prompt",
                        contains=("content management policy",))
    assert shared.openai.request_count == 1 and shared.azure.request_count == 1


@pytest.mark.parametrize(("model", "upstream_status", "want_status"),
                         [("gpt", 429, 429), ("azure-gpt", 500, 500), ("claude", 529, 503)])
def test_provider_error_on_a_streamed_request_is_json(shared: Shared, model: str,
                                                     upstream_status: int,
                                                     want_status: int) -> None:
    mock = {"gpt": shared.openai, "azure-gpt": shared.azure, "claude": shared.anthropic}[model]
    native = mock.error_body(upstream_status)
    mock.fail_next(1, upstream_status, body=native)
    status, headers, parsed = chat(shared.gw, model, stream=True)
    assert_openai_error(status, headers, parsed, want_status, message=_native_message(native))


@pytest.mark.parametrize("model", ["gpt", "claude"])
def test_provider_error_without_a_body_is_openai_shaped(shared: Shared, model: str) -> None:
    mock = shared.openai if model == "gpt" else shared.anthropic
    mock.fail_next(1, 500, body="")
    status, headers, parsed = chat(shared.gw, model)
    assert_openai_error(status, headers, parsed, 500, type_="internal_server_error")


# --------------------------------------------------------------------------------------
# Network failures Envoy sees (local_reply_config turns them into JSON)
# --------------------------------------------------------------------------------------


def test_unreachable_upstream_is_json_502(shared: Shared, tmp_path: Path) -> None:
    status, headers, parsed = chat(shared.gw, "dead")
    # Envoy flag UF (connection refused) → 502 api_connection_error.
    assert_openai_error(status, headers, parsed, 502, param=None, type_="api_connection_error",
                        contains=("Could not reach the model provider",))
    status, headers, parsed = curl(shared.gw.url(CHAT), tmp_path,
                                   data=json.dumps({"model": "dead", "messages": MESSAGES}).encode())
    assert_openai_error(status, headers, parsed, 502)


def test_upstream_reset_before_answer_is_json_5xx(shared: Shared) -> None:
    shared.openai.reset_next(1)
    status, headers, parsed = chat(shared.gw, "gpt")
    # Envoy flag UC (connection termination) → 502 api_connection_error.
    assert_openai_error(status, headers, parsed, 502, param=None, type_="api_connection_error")
    assert shared.openai.request_count == 1
    shared.anthropic.reset_next(1)
    status, headers, parsed = chat(shared.gw, "claude")
    assert_openai_error(status, headers, parsed, 502, type_="api_connection_error")
    # And the next request on the same deployment is fine.
    status, _, parsed = chat(shared.gw, "gpt")
    assert status == 200, parsed


def test_slow_upstream_is_json_504_after_the_timeout(shared: Shared) -> None:
    shared.openai.delay_next(TIMEOUT_S + 3)
    started = time.monotonic()
    status, headers, parsed = chat(shared.gw, "gpt")
    elapsed = time.monotonic() - started
    # Envoy flag UT (upstream request timeout) → 504 timeout_error.
    assert_openai_error(status, headers, parsed, 504, param=None, type_="timeout_error",
                        contains=("timed out",))
    assert TIMEOUT_S - 0.1 <= elapsed < TIMEOUT_S + 2, f"answered after {elapsed:.2f}s"
    assert shared.openai.request_count == 1, "no retries are configured"


@pytest.mark.parametrize("model", ["gpt", "claude"])
def test_stream_cut_midway_never_looks_complete(shared: Shared, model: str) -> None:
    # Once the answer has started Envoy can only reset the client's stream; the client
    # must then see an unfinished response (or an error event), never a clean end.
    mock = shared.openai if model == "gpt" else shared.anthropic
    mock.reset_next(1, after_events=2)
    data = b""
    cut = False
    with harness.open_stream("POST", shared.gw.url(CHAT),
                             {"model": model, "messages": MESSAGES, "stream": True},
                             timeout=10) as resp:
        assert resp.status == 200
        try:
            while True:
                piece = resp.read1(65536)
                if not piece:
                    break
                data += piece
        except (http.client.IncompleteRead, ConnectionError):
            cut = True
    assert data.startswith(b"data: "), data[:200]
    error_event = re.search(rb'^data: \{"error":', data, re.MULTILINE) is not None
    assert cut or error_event, f"a cut stream ended cleanly: {data[-300:]!r}"


def test_slow_streaming_upstream_is_json_504(shared: Shared) -> None:
    shared.anthropic.delay_next(TIMEOUT_S + 3)
    status, headers, parsed = chat(shared.gw, "claude", stream=True)
    assert_openai_error(status, headers, parsed, 504, type_="timeout_error")


# --------------------------------------------------------------------------------------
# Missing os.environ/ variables
# --------------------------------------------------------------------------------------

MISSING_VAR = "SWITCHYARD_TEST_ERRORS_MISSING_KEY"


def _missing_var_config(port: int) -> str:
    return f"""
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:{port}/v1
      api_key: os.environ/{MISSING_VAR}
"""


def test_missing_env_var_stops_switchyard_up(tmp_path: Path) -> None:
    _require_prerequisites()
    config = tmp_path / "config.yaml"
    config.write_text(_missing_var_config(closed_port()))
    env = dict(os.environ)
    env.pop(MISSING_VAR, None)
    # The command finds Envoy (.venv) and the filter (the build output) itself.
    proc = subprocess.Popen(
        [str(harness.SWITCHYARD_BIN), "up", "--config", str(config), "--port", "0",
         "--workdir", str(tmp_path / "wd")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        cwd=tmp_path, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)  # `up` stops its Envoy on Ctrl-C
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        pytest.fail("switchyard up kept running without the variable:\n"
                    + out.decode(errors="replace"))
    text = out.decode(errors="replace")
    assert proc.returncode != 0, text
    assert MISSING_VAR in text, text
    assert "not set" in text, text
    # The pre-check refused before Envoy ran (`up` creates envoy.log when it starts Envoy).
    assert not (tmp_path / "wd" / "envoy.log").exists(), text


def test_missing_env_var_stops_envoy(start_failure: Any) -> None:
    # `switchyard render` only warns (Envoy may get the variable elsewhere); Envoy, run
    # directly without it, must refuse to start and say which variable is missing.
    output = start_failure(_missing_var_config(closed_port()), env={MISSING_VAR: None})
    assert MISSING_VAR in output, output
    assert re.search(rf"environment variable {MISSING_VAR} is not set", output), output
    assert "api_key" in output, output


# --------------------------------------------------------------------------------------
# A failing request never takes the worker down
# --------------------------------------------------------------------------------------


def _wasm_stats(gw: harness.Gateway) -> dict[str, int]:
    return {k: v for k, v in gw.stats(filter=r"^wasm\.").items() if isinstance(v, int)}


def test_bad_requests_do_not_take_the_worker_down(shared: Shared) -> None:
    gw = shared.gw
    log_before = len(gw.log_text())
    stats_before = _wasm_stats(gw)
    assert any(k.endswith(".vm_reload") for k in stats_before), sorted(stats_before)

    def good(i: int) -> None:
        model = ("gpt", "azure-gpt", "claude")[i % 3]
        status, _, parsed = request_json(
            "POST", gw.url(CHAT),
            {"model": model, "messages": [{"role": "user", "content": f"good {i}"}]}, timeout=15)
        assert status == 200, (i, model, parsed)
        assert parsed["choices"][0]["message"]["content"].endswith(f"mock: good {i}"), parsed

    huge = padded_chat_body("gpt", 2 * MIB)

    def bad_malformed() -> None:
        s, h, b = raw_request(gw, "POST", CHAT, b'{"model": ')
        assert_openai_error(s, h, b, 400)

    def bad_huge() -> None:
        s, h, b = raw_request(gw, "POST", CHAT, huge)
        assert_openai_error(s, h, b, 413)

    def bad_huge_chunked() -> None:
        s, h, b = raw_request(gw, "POST", CHAT, huge, chunked=True)
        assert_openai_error(s, h, b, 413)

    def bad_unknown_model() -> None:
        s, h, b = chat(gw, "nope")
        assert_openai_error(s, h, b, 400, param="model")

    def bad_upstream_param() -> None:  # refused by the upstream stage
        s, h, b = chat(gw, "claude", logit_bias={"1": 1})
        assert_openai_error(s, h, b, 400, param="logit_bias")

    def bad_upstream_garbage() -> None:  # a 200 the upstream stage cannot translate
        shared.anthropic.fail_next(1, 200, body="this is not JSON")
        s, h, b = chat(gw, "claude")
        assert_openai_error(s, h, b, 502, contains=("could not be parsed",))

    def bad_upstream_error() -> None:
        shared.azure.fail_next(1, 500)
        s, h, b = chat(gw, "azure-gpt")
        assert_openai_error(s, h, b, 500)

    def bad_stream_cut() -> None:  # an Anthropic stream reset midway
        shared.anthropic.reset_next(1, after_events=2)
        try:
            with harness.open_stream("POST", gw.url(CHAT),
                                     {"model": "claude", "messages": MESSAGES, "stream": True},
                                     timeout=10) as resp:
                assert resp.status == 200
                resp.read()
        except (http.client.HTTPException, OSError):
            pass  # a cut stream may surface as an incomplete read

    def bad_unreachable() -> None:
        s, h, b = chat(gw, "dead")
        assert_openai_error(s, h, b, 502)

    def bad_method() -> None:
        s, h, b = raw_request(gw, "GET", CHAT)
        assert_openai_error(s, h, b, 405)

    bads = [bad_malformed, bad_huge, bad_unknown_model, bad_upstream_param,
            bad_upstream_garbage, bad_huge_chunked, bad_upstream_error, bad_stream_cut,
            bad_unreachable, bad_method]
    n = 0
    for _round in range(2):
        for bad in bads:
            good(n)
            n += 1
            bad()
    good(n)

    new_log = gw.log_text()[log_before:]
    failures = [line for line in new_log.splitlines() if WASM_FAILURE.search(line)]
    assert not failures, "wasm failures in the Envoy log:\n" + "\n".join(failures)
    stats_after = _wasm_stats(gw)
    for name, before in stats_before.items():
        if re.search(r"vm_reload|failure|fail|\.created$", name):
            assert stats_after.get(name, 0) == before, (
                f"{name} went from {before} to {stats_after.get(name)}: a VM failed or reloaded")
    assert gw.running
