"""A mock of Amazon Bedrock Runtime: ``Converse``, ``ConverseStream`` and
``InvokeModel`` (Titan Text Embeddings, Cohere Embed), behind AWS authentication.

It follows AWS's Bedrock Runtime API reference (Converse, ConverseStream,
ContentBlock, ToolConfiguration, TokenUsage, ConverseStreamOutput) and the
Titan/Cohere embedding model-parameter pages, and is as picky as the real service
where a gateway bug would otherwise go unnoticed:

* **Authentication.** ``Authorization: AWS4-HMAC-SHA256 …`` is verified: the key id
  must be a known one, the credential scope must be today's ``<region>/bedrock``,
  ``x-amz-date`` must be within five minutes, a session key must send (and sign) its
  ``x-amz-security-token``, and the signature is recomputed over the request as
  received — method, the raw path (double-encoded, as for every service but S3),
  the signed headers and the body's SHA-256 — with the known secret. A mismatch is
  Bedrock's 403 ``InvalidSignatureException`` ("The request signature we calculated
  does not match the signature you provided. …"); an unknown key or token is a 403
  ``UnrecognizedClientException``; no credentials at all, a 403
  ``MissingAuthenticationTokenException``. ``Authorization: Bearer <Bedrock API
  key>`` is accepted for the known API keys.
* **Bodies.** Converse requests are validated strictly: unknown fields anywhere are a
  400 ``ValidationException``, as are content blocks that are not exactly one of the
  documented members, blank text, bad image formats or base64, conversations that do
  not start with a user message or do not alternate, ``toolUse``/``toolResult``
  without a ``toolConfig``, results whose ``toolUseId`` the previous assistant turn
  did not call, a ``toolChoice`` naming no tool, out-of-range inference values, a
  thinking budget under 1024 or not below ``maxTokens``, and (for Anthropic models)
  ``additionalModelRequestFields`` keys Claude does not take ("extraneous key [x] is
  not permitted"). Embedding bodies are validated per model the same way.
* **Errors** are ``{"message": …}`` with the type in ``x-amzn-errortype``
  (``ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/``)
  and an ``x-amzn-requestid``.
* **Answers.** ``/converse`` answers JSON (``output.message.content``, ``stopReason``,
  ``usage`` with ``totalTokens``, ``metrics``); ``/converse-stream`` answers
  ``application/vnd.amazon.eventstream`` — real binary frames (prelude, headers,
  payload, both CRC32s) carrying ``messageStart``, ``contentBlockStart``/``Delta``/
  ``Stop``, ``messageStop`` and ``metadata`` events, each with the ``p`` padding
  field Bedrock adds, one frame per HTTP chunk. With tools the mock calls the
  forced tool, or the first one; after a tool result it says what it received; with
  thinking on it reasons first (a ``reasoningContent`` block with a signature).
  ``maxTokens`` cuts the answer in words (``max_tokens``), a stop sequence ends it
  (``stop_sequence``). Titan answers ``embedding`` + ``inputTextTokenCount``;
  Cohere ``embeddings`` with the token count in ``X-Amzn-Bedrock-Input-Token-Count``.

Faults: the base class's switches; :meth:`BedrockMock.fail_with` answers the next
requests with a given Bedrock exception, and :meth:`stream_error_next` sends an
``exception`` frame (``throttlingException`` unless told otherwise) mid-stream.
For Titan, ``embedding_delays`` and ``embedding_failures`` slow down or fail the call
for one given text, whatever order the calls of a list arrive in.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import hmac
import json
import re
import struct
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any

from .base import (
    JsonResponse,
    MockProvider,
    RecordedRequest,
    StreamResponse,
    _apply_stop,
    _compact,
    _embedding,
    _pieces,
    _split_string,
    _truncate,
    _words,
)

__all__ = [
    "BEDROCK_API_KEY",
    "BEDROCK_REGION",
    "BedrockMock",
    "STATIC_KEY",
    "SESSION_KEY",
    "AwsKey",
    "encode_frame",
]

ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service "
    "documentation for details."
)


@dataclass(frozen=True)
class AwsKey:
    """One AWS credential the mock knows (a session token for temporary ones)."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


#: Long-term credentials the tests sign with.
STATIC_KEY = AwsKey("AKIAMOCKBEDROCK00001", "mockSecretKey/Bedrock+Static0000000000001")
#: Temporary (STS) credentials: the session token must be sent and signed.
SESSION_KEY = AwsKey(
    "ASIAMOCKBEDROCK00002",
    "mockSecretKey/Bedrock+Session000000000002",
    "IQoJb3JpZ2luX2VjEMockSessionToken//////////wEaCXVzLWVhc3QtMSJHMEUCIQD=",
)
#: A Bedrock API key (``Authorization: Bearer``).
BEDROCK_API_KEY = "ABSKQmVkcm9ja0FQSUtleS1tb2NrLWtleQ=="
BEDROCK_REGION = "us-east-1"

_CONVERSE_KEYS = {
    "messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig",
    "additionalModelRequestFields", "promptVariables", "additionalModelResponseFieldPaths",
    "requestMetadata", "performanceConfig", "serviceTier", "outputConfig",
}
_BLOCK_KEYS = {
    "text", "image", "document", "video", "toolUse", "toolResult", "guardContent",
    "cachePoint", "reasoningContent", "citationsContent",
}
_INFERENCE_KEYS = {"maxTokens", "temperature", "topP", "stopSequences"}
#: What Claude takes in additionalModelRequestFields (Anthropic's native fields).
_ANTHROPIC_EXTRA = {"top_k", "thinking", "anthropic_beta", "reasoning_effort", "tools", "tool_choice"}
_DOCUMENT_FORMATS = {"pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"}
_COHERE_INPUT_TYPES = {"search_document", "search_query", "classification", "clustering"}


class _BedrockError(Exception):
    def __init__(self, kind: str, message: str, status: int = 400):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


def _invalid(message: str) -> _BedrockError:
    return _BedrockError("ValidationException", message)


def _uri_encode(text: str) -> str:
    return urllib.parse.quote(text, safe="-_.~")


def _canonical_uri(raw_path: str) -> str:
    segments: list[str] = []
    for seg in raw_path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if segments:
                segments.pop()
            continue
        segments.append(seg)
    out = "".join("/" + _uri_encode(s) for s in segments)
    if not out or (raw_path.endswith("/") and segments):
        out += "/"
    return out


def _canonical_query(query: dict[str, list[str]]) -> str:
    pairs = sorted(
        (_uri_encode(k), _uri_encode(v)) for k, values in query.items() for v in values
    )
    return "&".join(f"{k}={v}" for k, v in pairs)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_signature(secret: str, amz_date: str, region: str, service: str,
                    canonical_request: str) -> str:
    """The hex SigV4 signature of a canonical request (AWS's documented steps)."""
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join([
        "AWS4-HMAC-SHA256", amz_date, scope,
        hashlib.sha256(canonical_request.encode()).hexdigest(),
    ])
    key = _hmac(f"AWS4{secret}".encode(), amz_date[:8])
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def encode_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude (total length, headers length, CRC32),
    string headers (type 7), payload, message CRC32 — all big-endian."""
    block = b""
    for name, value in headers.items():
        raw = value.encode()
        block += struct.pack(">B", len(name)) + name.encode() + b"\x07"
        block += struct.pack(">H", len(raw)) + raw
    total = 12 + len(block) + len(payload) + 4
    prelude = struct.pack(">II", total, len(block))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + block + payload
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    # Bedrock pads every event payload with a `p` field of varying length.
    body = dict(payload)
    body["p"] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123"[: 4 + len(kind) % 20]
    return encode_frame(
        {":event-type": kind, ":content-type": "application/json", ":message-type": "event"},
        _compact(body).encode(),
    )


def _exception_frame(kind: str, message: str) -> bytes:
    return encode_frame(
        {":exception-type": kind, ":content-type": "application/json",
         ":message-type": "exception"},
        _compact({"message": message}).encode(),
    )


class BedrockMock(MockProvider):
    """Bedrock Runtime at ``http://127.0.0.1:PORT`` (configure it as the deployment's
    ``aws_bedrock_runtime_endpoint`` or ``api_base``). See the module docs."""

    name = "bedrock"
    embedding_dims = 8

    def __init__(self, keys: list[AwsKey] | None = None, api_keys: list[str] | None = None,
                 region: str = BEDROCK_REGION, models: set[str] | None = None,
                 *, directives: bool = False):
        super().__init__(directives=directives)
        self.keys = {k.access_key_id: k for k in (keys or [STATIC_KEY, SESSION_KEY])}
        self.api_keys = set(api_keys or [BEDROCK_API_KEY])
        self.region = region
        self.models = models
        #: Titan: seconds to wait before answering this ``inputText`` (one input of a
        #: list slower than the others).
        self.embedding_delays: dict[str, float] = {}
        #: Titan: answer this ``inputText`` with a Bedrock exception ``(kind, message,
        #: status)``.
        self.embedding_failures: dict[str, tuple[str, str, int]] = {}

    # -- errors ---------------------------------------------------------------------
    @staticmethod
    def error_headers(kind: str) -> dict[str, str]:
        return {"x-amzn-errortype": f"{kind}:{ERROR_NAMESPACE}",
                "x-amzn-requestid": str(uuid.uuid4())}

    def error_body(self, status: int) -> Any:
        return {"message": f"mock fault with status {status}"}

    def fail_with(self, kind: str, message: str, status: int, n: int = 1) -> None:
        """Answer the next ``n`` requests with this Bedrock exception."""
        self.fail_next(n, status, {"message": message}, self.error_headers(kind))

    def stream_error_event(self, body: Any) -> bytes:
        kind, message = body if isinstance(body, tuple) else (
            "throttlingException", "Too many tokens, please wait before trying again.")
        return _exception_frame(kind, message)

    def _error(self, err: _BedrockError) -> JsonResponse:
        return JsonResponse(err.status, {"message": err.message}, self.error_headers(err.kind))

    # -- routing ----------------------------------------------------------------------
    def handle(self, req: RecordedRequest) -> JsonResponse | StreamResponse:
        match = re.fullmatch(r"/model/([^/]+)/(converse|converse-stream|invoke)", req.raw_path)
        if req.method != "POST" or match is None:
            return JsonResponse(404, {"message": "Not Found"},
                                {"x-amzn-errortype": "UnknownOperationException"})
        try:
            self._authenticate(req)
            model = urllib.parse.unquote(match.group(1))
            if self.models is not None and model not in self.models:
                raise _BedrockError("ResourceNotFoundException",
                                    "The requested resource could not be found.", 404)
            body = req.json
            if not isinstance(body, dict):
                raise _BedrockError("SerializationException",
                                    "Unexpected JSON body", 400)
            operation = match.group(2)
            if operation == "invoke":
                return self._invoke(model, body)
            return self._converse(model, body, stream=operation == "converse-stream")
        except _BedrockError as err:
            return self._error(err)

    # -- authentication -------------------------------------------------------------
    def _authenticate(self, req: RecordedRequest) -> None:
        auth = req.header("authorization") or ""
        if auth.startswith("Bearer "):
            if auth[len("Bearer "):] not in self.api_keys:
                raise _BedrockError("UnrecognizedClientException",
                                    "Invalid API Key format: Must start with pre-defined prefix",
                                    403)
            return
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            raise _BedrockError("MissingAuthenticationTokenException",
                                "Missing Authentication Token", 403)
        fields = dict(
            part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(",")
            if "=" in part
        )
        try:
            key_id, date, region, service, terminal = fields["Credential"].split("/")
            signed = fields["SignedHeaders"].split(";")
            signature = fields["Signature"]
        except (KeyError, ValueError):
            raise _BedrockError("IncompleteSignatureException",
                                f"Authorization header requires 'Credential', 'Signature' and "
                                f"'SignedHeaders' parameters. Authorization={auth}", 400) from None
        key = self.keys.get(key_id)
        if key is None:
            raise _BedrockError("UnrecognizedClientException",
                                "The security token included in the request is invalid.", 403)
        amz_date = req.header("x-amz-date") or ""
        if "host" not in signed or "x-amz-date" not in signed or not amz_date:
            raise _BedrockError("IncompleteSignatureException",
                                "'Host' or 'x-amz-date' must be a signed header.", 400)
        if service != "bedrock" or terminal != "aws4_request":
            raise _BedrockError("InvalidSignatureException",
                                "Credential should be scoped to correct service: 'bedrock'.", 403)
        if region != self.region:
            raise _BedrockError("InvalidSignatureException",
                                f"Credential should be scoped to a valid region, not '{region}'.",
                                403)
        try:
            when = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            raise _BedrockError("IncompleteSignatureException",
                                f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'.",
                                400) from None
        if date != amz_date[:8] or abs(when - time.time()) > 300:
            raise _BedrockError("InvalidSignatureException",
                                f"Signature expired: {amz_date} is now earlier or later than "
                                f"the allowed 5 minutes.", 403)
        token = req.header("x-amz-security-token")
        if token != key.session_token or (token is not None
                                          and "x-amz-security-token" not in signed):
            raise _BedrockError("UnrecognizedClientException",
                                "The security token included in the request is invalid.", 403)
        headers = []
        for name in signed:
            value = req.header(name)
            if value is None:
                raise _BedrockError("InvalidSignatureException", SIGNATURE_MISMATCH, 403)
            headers.append(f"{name}:{' '.join(value.split())}")
        canonical = "\n".join([
            req.method,
            _canonical_uri(req.raw_path),
            _canonical_query(req.query_list),
            "\n".join(headers) + "\n",
            ";".join(signed),
            hashlib.sha256(req.body).hexdigest(),
        ])
        expected = sigv4_signature(key.secret_access_key, amz_date, region, service, canonical)
        if not hmac.compare_digest(expected, signature):
            raise _BedrockError("InvalidSignatureException", SIGNATURE_MISMATCH, 403)

    # -- validation -------------------------------------------------------------------
    @staticmethod
    def _keys(obj: Any, allowed: set[str], where: str) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise _invalid(f"Malformed request: {where} must be an object")
        for key in obj:
            if key not in allowed:
                raise _invalid(f"Malformed request: unknown field '{key}' in {where}")
        return obj

    @staticmethod
    def _check_bytes(source: Any, where: str) -> None:
        if not isinstance(source, dict) or set(source) != {"bytes"} \
                or not isinstance(source["bytes"], str):
            raise _invalid(f"Malformed request: {where}.source must be {{\"bytes\": <base64>}}")
        try:
            base64.b64decode(source["bytes"], validate=True)
        except (ValueError, binascii.Error):
            raise _invalid(f"Malformed request: {where}.source.bytes is not valid base64") from None

    def _check_block(self, block: Any, where: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(block, dict) or len(block) != 1:
            raise _invalid(f"Malformed request: {where} must have exactly one member")
        (kind, value), = block.items()
        if kind not in allowed:
            raise _invalid(f"Malformed request: unknown field '{kind}' in {where}")
        if kind == "text":
            if not isinstance(value, str):
                raise _invalid(f"Malformed request: {where}.text must be a string")
            if not value.strip():
                raise _invalid(f"The text field in the ContentBlock object at {where} is blank. "
                               "Add text to the text field, and try again.")
        elif kind == "image":
            self._keys(value, {"format", "source"}, f"{where}.image")
            if value.get("format") not in ("png", "jpeg", "gif", "webp"):
                raise _invalid(f"Malformed request: {where}.image.format must be one of png, jpeg, gif, webp")
            self._check_bytes(value.get("source"), f"{where}.image")
        elif kind == "document":
            self._keys(value, {"format", "name", "source"}, f"{where}.document")
            if value.get("format") not in _DOCUMENT_FORMATS or not isinstance(value.get("name"), str):
                raise _invalid(f"Malformed request: {where}.document needs a format and a name")
            self._check_bytes(value.get("source"), f"{where}.document")
        elif kind == "toolUse":
            self._keys(value, {"toolUseId", "name", "input"}, f"{where}.toolUse")
            if not isinstance(value.get("toolUseId"), str) or not isinstance(value.get("name"), str) \
                    or not isinstance(value.get("input"), dict):
                raise _invalid(f"Malformed request: {where}.toolUse needs toolUseId, name and an object input")
        elif kind == "toolResult":
            self._keys(value, {"toolUseId", "content", "status"}, f"{where}.toolResult")
            if not isinstance(value.get("toolUseId"), str) or not isinstance(value.get("content"), list) \
                    or not value["content"]:
                raise _invalid(f"Malformed request: {where}.toolResult needs toolUseId and content")
            for k, part in enumerate(value["content"]):
                self._check_block(part, f"{where}.toolResult.content.{k}",
                                  {"text", "json", "image", "document"})
            if value.get("status", "success") not in ("success", "error"):
                raise _invalid(f"Malformed request: {where}.toolResult.status must be success or error")
        elif kind == "cachePoint":
            if value != {"type": "default"}:
                raise _invalid(f"Malformed request: {where}.cachePoint must be {{\"type\": \"default\"}}")
        elif kind == "reasoningContent":
            self._keys(value, {"reasoningText", "redactedContent"}, f"{where}.reasoningContent")
            text = value.get("reasoningText")
            if text is not None:
                self._keys(text, {"text", "signature"}, f"{where}.reasoningContent.reasoningText")
        elif kind == "json" and not isinstance(value, (dict, list)):
            raise _invalid(f"Malformed request: {where}.json must be a JSON document")
        return block

    def _check_converse(self, model: str, body: dict[str, Any]) -> None:
        self._keys(body, _CONVERSE_KEYS, "ConverseRequest")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _invalid("Malformed request: messages must be a non-empty list")
        tool_config = body.get("toolConfig")
        tool_names: set[str] = set()
        if tool_config is not None:
            self._keys(tool_config, {"tools", "toolChoice"}, "toolConfig")
            tools = tool_config.get("tools")
            if not isinstance(tools, list) or not tools:
                raise _invalid("The toolConfig field must define at least one tool.")
            for i, tool in enumerate(tools):
                spec = self._keys(tool, {"toolSpec", "cachePoint"}, f"toolConfig.tools.{i}").get("toolSpec")
                if spec is None:
                    continue
                self._keys(spec, {"name", "description", "inputSchema"}, f"toolConfig.tools.{i}.toolSpec")
                name = spec.get("name")
                if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
                    raise _invalid(f"Malformed request: toolConfig.tools.{i}.toolSpec.name is invalid")
                if "description" in spec and (not isinstance(spec["description"], str) or not spec["description"]):
                    raise _invalid(f"Malformed request: toolConfig.tools.{i}.toolSpec.description must not be empty")
                schema = self._keys(spec.get("inputSchema"), {"json"}, f"toolConfig.tools.{i}.toolSpec.inputSchema")
                if not isinstance(schema.get("json"), dict) or schema["json"].get("type") != "object":
                    raise _invalid("The value at toolConfig.tools.0.toolSpec.inputSchema.json.type must be one of the following: object.")
                tool_names.add(name)
            choice = tool_config.get("toolChoice")
            if choice is not None:
                if not isinstance(choice, dict) or len(choice) != 1 or next(iter(choice)) not in ("auto", "any", "tool"):
                    raise _invalid("Malformed request: toolConfig.toolChoice must be one of auto, any, tool")
                if "tool" in choice and choice["tool"].get("name") not in tool_names:
                    raise _invalid("The tool named in toolConfig.toolChoice is not defined in toolConfig.tools.")
                if ("auto" in choice and choice["auto"] != {}) or ("any" in choice and choice["any"] != {}):
                    raise _invalid("Malformed request: toolConfig.toolChoice.auto/any must be empty objects")
        previous_calls: set[str] = set()
        for i, message in enumerate(messages):
            self._keys(message, {"role", "content"}, f"messages.{i}")
            role = message.get("role")
            if role not in ("user", "assistant"):
                raise _invalid(f"Malformed request: messages.{i}.role must be user or assistant")
            if i == 0 and role != "user":
                raise _invalid("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
            if i > 0 and messages[i - 1].get("role") == role:
                raise _invalid("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.")
            content = message.get("content")
            if not isinstance(content, list) or not content:
                raise _invalid(f"Malformed request: messages.{i}.content must be a non-empty list")
            calls: set[str] = set()
            for j, block in enumerate(content):
                self._check_block(block, f"messages.{i}.content.{j}", _BLOCK_KEYS)
                if ("toolUse" in block or "toolResult" in block) and tool_config is None:
                    raise _invalid("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
                if "toolUse" in block:
                    if role != "assistant":
                        raise _invalid(f"Malformed request: messages.{i} toolUse blocks belong to assistant messages")
                    calls.add(block["toolUse"]["toolUseId"])
                if "toolResult" in block:
                    if role != "user" or block["toolResult"]["toolUseId"] not in previous_calls:
                        raise _invalid(f"The toolResult block at messages.{i}.content.{j} has a toolUseId that the previous assistant turn did not use.")
            previous_calls = calls
        for i, block in enumerate(body.get("system") or []):
            self._check_block(block, f"system.{i}", {"text", "cachePoint", "guardContent"})
        inference = self._keys(body.get("inferenceConfig", {}), _INFERENCE_KEYS, "inferenceConfig")
        max_tokens = inference.get("maxTokens")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise _invalid("Malformed request: inferenceConfig.maxTokens must be a positive integer")
        for key in ("temperature", "topP"):
            v = inference.get(key)
            if v is not None and (not isinstance(v, (int, float)) or not 0 <= v <= 1):
                raise _invalid(f"The value at inferenceConfig.{key} must be between 0 and 1.")
        stops = inference.get("stopSequences")
        if stops is not None and (not isinstance(stops, list)
                                  or not all(isinstance(x, str) and x for x in stops)):
            raise _invalid("Malformed request: inferenceConfig.stopSequences must be non-empty strings")
        extra = body.get("additionalModelRequestFields")
        if extra is not None:
            if not isinstance(extra, dict):
                raise _invalid("Malformed request: additionalModelRequestFields must be an object")
            if "anthropic." in model:
                for key in extra:
                    if key not in _ANTHROPIC_EXTRA:
                        raise _invalid(f"Malformed input request: #: extraneous key [{key}] is not permitted, please reformat your input and try again.")
            thinking = extra.get("thinking")
            if thinking is not None and thinking.get("type") == "enabled":
                budget = thinking.get("budget_tokens")
                if not isinstance(budget, int) or budget < 1024:
                    raise _invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
                if max_tokens is None or max_tokens <= budget:
                    raise _invalid("`max_tokens` must be greater than `thinking.budget_tokens`.")
        tier = body.get("serviceTier")
        if tier is not None and (not isinstance(tier, dict) or tier.get("type") not in ("default", "flex", "priority")):
            raise _invalid("Malformed request: serviceTier.type must be default, flex or priority")

    # -- answers ----------------------------------------------------------------------
    @staticmethod
    def _text_of(blocks: list[dict[str, Any]]) -> str:
        return " ".join(b["text"] for b in blocks if "text" in b)

    def _converse(self, model: str, body: dict[str, Any], stream: bool):
        self._check_converse(model, body)
        messages = body["messages"]
        last = messages[-1]
        inference = body.get("inferenceConfig", {})
        extra = body.get("additionalModelRequestFields") or {}
        thinking = (extra.get("thinking") or {}).get("type") == "enabled" \
            or "reasoningConfig" in extra or "reasoning_effort" in extra
        blocks: list[dict[str, Any]] = []
        if thinking:
            blocks.append({"reasoningContent": {"reasoningText": {
                "text": "bedrock mock thought about it", "signature": "bW9jay1zaWduYXR1cmU="}}})
        stop_reason = "end_turn"
        results = [b["toolResult"] for b in last["content"] if "toolResult" in b]
        tool_config = body.get("toolConfig") or {}
        tools = [t["toolSpec"] for t in tool_config.get("tools", []) if "toolSpec" in t]
        choice = tool_config.get("toolChoice") or {}
        last_user = self._text_of(last["content"]) if last["role"] == "user" else ""
        if results:
            said = "; ".join(f"{r['toolUseId']}={self._text_of(r['content'])}" for r in results)
            blocks.append({"text": f"bedrock mock received tool result: {said}"})
        elif tools:
            tool = next((t for t in tools if t["name"] == choice.get("tool", {}).get("name")), tools[0])
            if tool["name"] == "json_tool_call":
                props = tool["inputSchema"]["json"].get("properties") or {"answer": {}}
                arguments = {k: self.answer_text(last_user) for k in props}
            else:
                arguments = dict(self.tool_args)
            blocks.append({"toolUse": {"toolUseId": f"tooluse_{uuid.uuid4().hex[:20]}",
                                       "name": tool["name"], "input": arguments}})
            stop_reason = "tool_use"
        else:
            text, matched = _apply_stop(self.answer_text(last_user), inference.get("stopSequences") or [])
            text, cut = _truncate(text, inference.get("maxTokens"))
            if matched:
                stop_reason = "stop_sequence"
            if cut:
                stop_reason = "max_tokens"
            blocks.append({"text": text})
        prompt = sum(_words(self._text_of(m["content"])) for m in messages) \
            + sum(_words(b.get("text", "")) for b in body.get("system") or [])
        cached = 5 if any("cachePoint" in b for b in body.get("system") or []) else 0
        completion = max(1, sum(_words(b.get("text", "")) for b in blocks)
                         + sum(len(_compact(b["toolUse"]["input"])) // 4 for b in blocks if "toolUse" in b))
        usage = {"inputTokens": max(1, prompt), "outputTokens": completion}
        if cached:
            usage["cacheReadInputTokens"] = cached
            usage["cacheWriteInputTokens"] = 0
        usage["totalTokens"] = sum(usage.values())
        headers = {"x-amzn-requestid": str(uuid.uuid4())}
        if not stream:
            return JsonResponse(200, {
                "output": {"message": {"role": "assistant", "content": blocks}},
                "stopReason": stop_reason, "usage": usage, "metrics": {"latencyMs": 123},
            }, headers)
        events = [_event("messageStart", {"role": "assistant"})]
        for index, block in enumerate(blocks):
            if "reasoningContent" in block:
                rt = block["reasoningContent"]["reasoningText"]
                for piece in _pieces(rt["text"]):
                    events.append(_event("contentBlockDelta", {"contentBlockIndex": index,
                                                               "delta": {"reasoningContent": {"text": piece}}}))
                events.append(_event("contentBlockDelta", {"contentBlockIndex": index,
                                                           "delta": {"reasoningContent": {"signature": rt["signature"]}}}))
            elif "toolUse" in block:
                tu = block["toolUse"]
                events.append(_event("contentBlockStart", {"contentBlockIndex": index, "start": {
                    "toolUse": {"toolUseId": tu["toolUseId"], "name": tu["name"]}}}))
                for piece in _split_string(_compact(tu["input"]), 3):
                    events.append(_event("contentBlockDelta", {"contentBlockIndex": index,
                                                               "delta": {"toolUse": {"input": piece}}}))
            else:
                for piece in _pieces(block["text"]):
                    events.append(_event("contentBlockDelta", {"contentBlockIndex": index,
                                                               "delta": {"text": piece}}))
            events.append(_event("contentBlockStop", {"contentBlockIndex": index}))
        events.append(_event("messageStop", {"stopReason": stop_reason}))
        events.append(_event("metadata", {"usage": usage, "metrics": {"latencyMs": 321}}))
        return StreamResponse(events, {"Content-Type": "application/vnd.amazon.eventstream", **headers})

    def _invoke(self, model: str, body: dict[str, Any]) -> JsonResponse:
        headers = {"x-amzn-requestid": str(uuid.uuid4()), "X-Amzn-Bedrock-Invocation-Latency": "42"}
        if model.startswith("amazon.titan-embed-text-v2"):
            self._keys(body, {"inputText", "dimensions", "normalize", "embeddingTypes"}, "#")
            dims = body.get("dimensions", 1024)
            if dims not in (256, 512, 1024):
                raise _invalid("Malformed input request: #/dimensions: 256, 512 or 1024 expected")
        elif model.startswith(("amazon.titan-embed-text-v1", "amazon.titan-embed-g1-text")):
            self._keys(body, {"inputText"}, "#")
            dims = 1536
        elif model.startswith("cohere.embed"):
            return self._cohere(body, headers)
        else:
            raise _invalid("The provided model identifier is invalid.")
        for key in body:
            if key not in ("inputText", "dimensions", "normalize", "embeddingTypes"):
                raise _invalid(f"Malformed input request: #: extraneous key [{key}] is not permitted, please reformat your input and try again.")
        text = body.get("inputText")
        if not isinstance(text, str) or not text:
            raise _invalid("Malformed input request: #/inputText: expected type: String")
        if text in self.embedding_delays and self._sleep(self.embedding_delays[text]):
            raise _BedrockError("ServiceUnavailableException", "mock stopping", 503)
        if text in self.embedding_failures:
            kind, message, status = self.embedding_failures[text]
            raise _BedrockError(kind, message, status)
        vector = _embedding(text, min(dims, self.embedding_dims))
        tokens = max(1, _words(text))
        answer: dict[str, Any] = {"embedding": vector, "inputTextTokenCount": tokens}
        if model.startswith("amazon.titan-embed-text-v2"):
            answer["embeddingsByType"] = {"float": vector}
        headers["X-Amzn-Bedrock-Input-Token-Count"] = str(tokens)
        return JsonResponse(200, answer, headers)

    def _cohere(self, body: dict[str, Any], headers: dict[str, str]) -> JsonResponse:
        for key in body:
            if key not in ("texts", "input_type", "truncate", "embedding_types", "images", "output_dimension"):
                raise _invalid(f"Malformed input request: #: extraneous key [{key}] is not permitted, please reformat your input and try again.")
        texts = body.get("texts")
        if not isinstance(texts, list) or not 1 <= len(texts) <= 96 or not all(isinstance(t, str) for t in texts):
            raise _invalid("Malformed input request: #/texts: expected 1 to 96 strings")
        if body.get("input_type") not in _COHERE_INPUT_TYPES:
            raise _invalid("Malformed input request: #/input_type: search_document, search_query, classification or clustering expected")
        if body.get("truncate", "NONE") not in ("NONE", "START", "END"):
            raise _invalid("Malformed input request: #/truncate: NONE, START or END expected")
        tokens = sum(max(1, _words(t)) for t in texts)
        headers["X-Amzn-Bedrock-Input-Token-Count"] = str(tokens)
        return JsonResponse(200, {
            "embeddings": [_embedding(t, self.embedding_dims) for t in texts],
            "id": str(uuid.uuid4()),
            "response_type": "embeddings_floats",
            "texts": texts,
        }, headers)
