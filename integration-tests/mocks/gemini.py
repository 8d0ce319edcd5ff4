"""A mock of Google's Gemini API (AI Studio, ``generativelanguage.googleapis.com``).

It speaks the REST API of Google's reference (``models.generateContent``,
``models.streamGenerateContent``, ``models.batchEmbedContents``,
``models.embedContent``, ``models.list``) and is as picky as the real service
where a gateway bug would otherwise pass unnoticed:

* authentication: ``x-goog-api-key`` (or ``?key=``); a wrong key is Google's
  ``400 INVALID_ARGUMENT`` "API key not valid", no key ``403 PERMISSION_DENIED``;
  an ``Authorization`` header (an OpenAI-style key leaking through) is refused;
* bodies are read as proto3 JSON: each field by its lowerCamelCase JSON name or
  its proto name (``systemInstruction`` / ``system_instruction``, both accepted as
  Google does); an unknown field anywhere is ``Invalid JSON payload received.
  Unknown name "…" at '…': Cannot find field.`` (so OpenAI-only fields such as
  ``messages``, ``max_tokens`` or ``additionalProperties`` in a schema are
  refused), a field of the wrong type is ``Invalid value at '…'``, a part with
  two data fields is ``Oneof field 'data' is already set``;
* semantics Google checks: a role other than ``user``/``model``, empty parts, a
  function call turn that does not follow a user or function-response turn,
  function responses that do not answer the previous turn's calls one for one,
  ``allowedFunctionNames`` without mode ``ANY``, a function calling config
  without declarations, an OBJECT schema with empty ``properties``,
  ``responseSchema``/``responseJsonSchema`` without a JSON ``responseMimeType``,
  thinking settings the model does not take, ``inlineData`` that is not base64;
* thought signatures: for thinking models every ``functionCall`` part it answers
  carries a ``thoughtSignature`` it remembers; a signature it did not issue is
  "Corrupted thought signature.", and a Gemini 3 model refuses a function call
  turn whose first call has none (``skip_thought_signature_validator`` passes,
  as Google documents).

Answers are deterministic: "Hello from gemini mock: <last user text>", a
``functionCall`` when tools are declared (and the last turn is not a function
response, and the mode is not ``NONE``), "gemini mock received tool result:
name=<response JSON>" after one, JSON when ``responseMimeType`` is
``application/json`` (an object following the schema's properties, else
``{"answer": …}``). Thinking models think: 2.5 and 3 models report
``thoughtsTokenCount`` (unless the budget is 0) and, with ``includeThoughts``, a
``thought: true`` part. ``maxOutputTokens`` cuts the text in words
(``MAX_TOKENS``), ``stopSequences`` apply, ``candidateCount`` gives that many
candidates. :meth:`GeminiMock.block_next` makes the next answer a safety stop
(``finishReason: SAFETY``, no content) or a blocked prompt
(``promptFeedback.blockReason``).

Streams (``alt=sse``) are ``data: <GenerateContentResponse>`` events separated by
``\\r\\n\\r\\n``, each with ``usageMetadata``, the last with ``finishReason``;
without ``alt=sse`` the stream is one JSON array, as Google sends it. Errors are
``{"error": {"code", "message", "status", "details"?}}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from typing import Any, Iterable

from .base import (
    JsonResponse,
    MockProvider,
    RecordedRequest,
    StreamResponse,
    _apply_stop,
    _compact,
    _embedding,
    _is_int,
    _is_number,
    _pieces,
    _truncate,
    _words,
)

__all__ = ["GeminiMock", "SKIP_SIGNATURE", "google_error"]

#: Google's documented sentinel that passes thought-signature validation.
SKIP_SIGNATURE = "skip_thought_signature_validator"

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_STATUS_MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}

_FUNCTION_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$")
_IMAGE_MIME = {"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif", "image/gif"}
_SCHEMA_TYPES = {"TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}
_MODES = {"MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"}
_THINKING_LEVELS = {"THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH"}
_HARM_CATEGORIES = {
    "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT", "HARM_CATEGORY_CIVIC_INTEGRITY",
}
_THRESHOLDS = {
    "HARM_BLOCK_THRESHOLD_UNSPECIFIED", "BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE",
    "BLOCK_ONLY_HIGH", "BLOCK_NONE", "OFF",
}
_TASK_TYPES = {
    "TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY",
    "CLASSIFICATION", "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY",
}

# Message fields, by lowerCamelCase JSON name, for each message type (Google's
# REST reference, v1beta). Proto names (snake_case) are accepted too.
_REQUEST_FIELDS = {
    "contents", "tools", "toolConfig", "safetySettings", "systemInstruction",
    "generationConfig", "cachedContent", "model",
}
_CONTENT_FIELDS = {"parts", "role"}
_PART_DATA = {
    "text", "inlineData", "functionCall", "functionResponse", "fileData", "executableCode",
    "codeExecutionResult",
}
_PART_FIELDS = _PART_DATA | {"thought", "thoughtSignature", "partMetadata", "videoMetadata",
                             "mediaResolution"}
_BLOB_FIELDS = {"mimeType", "data"}
_FILE_DATA_FIELDS = {"mimeType", "fileUri"}
_FUNCTION_CALL_FIELDS = {"id", "name", "args"}
_FUNCTION_RESPONSE_FIELDS = {"id", "name", "response", "willContinue", "scheduling", "parts"}
_TOOL_FIELDS = {
    "functionDeclarations", "googleSearchRetrieval", "codeExecution", "googleSearch",
    "urlContext", "computerUse", "fileSearch", "googleMaps",
}
_DECLARATION_FIELDS = {
    "name", "description", "behavior", "parameters", "parametersJsonSchema", "response",
    "responseJsonSchema",
}
_SCHEMA_FIELDS = {
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum",
}
_TOOL_CONFIG_FIELDS = {"functionCallingConfig", "retrievalConfig"}
_CALLING_CONFIG_FIELDS = {"mode", "allowedFunctionNames"}
_GENERATION_FIELDS = {
    "stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema",
    "responseModalities", "candidateCount", "maxOutputTokens", "temperature", "topP", "topK",
    "seed", "presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs",
    "enableEnhancedCivicAnswers", "speechConfig", "thinkingConfig", "imageConfig",
    "mediaResolution",
}
_THINKING_FIELDS = {"includeThoughts", "thinkingBudget", "thinkingLevel"}
_SAFETY_FIELDS = {"category", "threshold"}
_EMBED_FIELDS = {"model", "content", "taskType", "title", "outputDimensionality"}
_RESPONSE_MIME_TYPES = {"text/plain", "application/json", "application/xml", "application/yaml",
                        "text/x.enum"}


def google_error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Google's error body (``google.rpc.Status`` as JSON)."""
    error: dict[str, Any] = {"code": status, "message": message,
                             "status": _STATUS_NAMES.get(status, "UNKNOWN")}
    if details:
        error["details"] = details
    return {"error": error}


class _GoogleInvalid(Exception):
    def __init__(self, message: str, status: int = 400, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _unknown(name: str, at: str) -> _GoogleInvalid:
    where = f" at '{at}'" if at else ""
    message = f'Invalid JSON payload received. Unknown name "{name}"{where}: Cannot find field.'
    return _GoogleInvalid(message, details=[{
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{"field": at, "description": message}],
    }])


def _bad_value(at: str, kind: str, value: Any) -> _GoogleInvalid:
    return _GoogleInvalid(
        f"Invalid value at '{at}' ({kind}), {_compact(value)}")


def _fields(obj: Any, allowed: set[str], at: str) -> dict[str, Any]:
    """Reads a proto3 JSON object: every key by its JSON or proto name, unknown keys
    refused, a field given twice refused. Returns the object with JSON names."""
    if not isinstance(obj, dict):
        raise _GoogleInvalid(
            f"Invalid JSON payload received. Expected an object at '{at}'." if at
            else "Invalid JSON payload received. Expected an object.")
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = _camel(key)
        if name not in allowed:
            raise _unknown(key, at)
        if name in out:
            raise _GoogleInvalid(
                f"Invalid JSON payload received. Field '{_snake(name)}' is set twice at '{at}'.")
        out[name] = value
    return out


def _join(at: str, name: str) -> str:
    return f"{at}.{_snake(name)}" if at else _snake(name)


class GeminiMock(MockProvider):
    """The Gemini API on ``/v1beta/models/{model}:{method}`` (see the module doc)."""

    name = "gemini"
    embedding_dims = 8
    #: Path prefix of the API version this mock serves.
    version = "/v1beta"
    #: Thought tokens a thinking model reports when it thinks.
    thought_tokens = 11

    def __init__(self, api_key: str, models: Iterable[str] | None = None, *,
                 directives: bool = False):
        super().__init__(directives=directives)
        self.api_key = api_key
        self.models = set(models) if models is not None else None
        self._signatures: set[str] = set()
        self._sig_lock = threading.Lock()
        self._blocks: list[str] = []

    # -- switches ---------------------------------------------------------------------
    def block_next(self, reason: str = "SAFETY", prompt: bool = False) -> None:
        """The next generate answer stops for ``reason`` with no content
        (``finishReason``), or, with ``prompt=True``, its prompt is blocked
        (``promptFeedback.blockReason``, no candidates)."""
        with self._lock:
            self._blocks.append(("prompt:" if prompt else "") + reason)

    def _take_block(self) -> str | None:
        with self._lock:
            return self._blocks.pop(0) if self._blocks else None

    def clear_faults(self) -> None:
        super().clear_faults()
        with self._lock:
            self._blocks.clear()

    @property
    def issued_signatures(self) -> set[str]:
        with self._sig_lock:
            return set(self._signatures)

    # -- errors -----------------------------------------------------------------------
    def error_body(self, status: int) -> Any:
        return google_error(status, _STATUS_MESSAGES.get(status, f"Mock fault with status {status}."))

    def stream_error_event(self, body: Any) -> bytes:
        if body is None:
            body = google_error(503, _STATUS_MESSAGES[503])
        data = body if isinstance(body, bytes) else _compact(body).encode()
        return b"data: " + data + b"\r\n\r\n"

    # -- routing + auth -----------------------------------------------------------------
    _ROUTE = re.compile(r"^/models/([^/:]+):([A-Za-z]+)$")

    def auth_error(self, req: RecordedRequest) -> JsonResponse | None:
        """AI Studio's API-key check."""
        if req.header("authorization") is not None:
            return JsonResponse(401, google_error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project.",
            ))
        key = req.header("x-goog-api-key") or req.query.get("key")
        if not key:
            return JsonResponse(403, google_error(
                403,
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            ))
        if key != self.api_key:
            return JsonResponse(400, google_error(400, "API key not valid. Please pass a valid API key.", [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }]))
        return None

    def route(self, path: str) -> tuple[str, str] | None:
        """(model, method) of a model path, or None."""
        if not path.startswith(self.version + "/"):
            return None
        m = self._ROUTE.match(path[len(self.version):])
        return (m.group(1), m.group(2)) if m else None

    def not_found(self, req: RecordedRequest) -> JsonResponse:
        return JsonResponse(
            404,
            f"<!DOCTYPE html><title>Error 404 (Not Found)!!1</title><p>The requested URL "
            f"<code>{req.path}</code> was not found on this server.",
            {"Content-Type": "text/html; charset=UTF-8"},
        )

    def model_not_found(self, model: str, method: str) -> JsonResponse:
        return JsonResponse(404, google_error(
            404,
            f"models/{model} is not found for API version v1beta, or is not supported for "
            f"{method}. Call ListModels to see the list of available models and their "
            "supported methods.",
        ))

    def handle(self, req: RecordedRequest) -> JsonResponse | StreamResponse:
        if req.method == "GET" and req.path == self.version + "/models":
            denied = self.auth_error(req)
            return denied or self._list_models()
        routed = self.route(req.path)
        if routed is None:
            return self.not_found(req)
        model, method = routed
        if req.method != "POST":
            return self.not_found(req)
        denied = self.auth_error(req)
        if denied is not None:
            return denied
        handlers = {
            "generateContent": self._generate,
            "streamGenerateContent": self._generate,
            "batchEmbedContents": self._batch_embed,
            "embedContent": self._embed,
        }
        handler = handlers.get(method)
        if handler is None:
            return self.not_found(req)
        if self.models is not None and model not in self.models:
            return self.model_not_found(model, method)
        if req.json is None:
            if not req.body:
                return JsonResponse(400, google_error(400, "Invalid JSON payload received. Expected an object."))
            return JsonResponse(400, google_error(
                400, "Invalid JSON payload received. Unexpected token.\n" + req.body[:40].decode("utf-8", "replace")))
        try:
            return handler(req, model, method)
        except _GoogleInvalid as err:
            return JsonResponse(err.status, google_error(err.status, err.message, err.details))

    def _list_models(self) -> JsonResponse:
        names = sorted(self.models) if self.models is not None else ["gemini-2.5-flash"]
        return JsonResponse(200, {"models": [
            {"name": f"models/{n}", "supportedGenerationMethods": ["generateContent"]} for n in names]})

    # -- model traits -------------------------------------------------------------------
    @staticmethod
    def is_thinking(model: str) -> bool:
        return "gemini-2.5" in model or "gemini-3" in model or "thinking" in model

    @staticmethod
    def is_gemini3(model: str) -> bool:
        return "gemini-3" in model

    # -- request validation ------------------------------------------------------------
    def _check_schema(self, schema: Any, at: str, depth: int = 0) -> None:
        s = _fields(schema, _SCHEMA_FIELDS, at)
        if "type" in s:
            if not isinstance(s["type"], str) or s["type"].upper() not in _SCHEMA_TYPES:
                raise _bad_value(_join(at, "type"), "TYPE_ENUM", s["type"])
        props = s.get("properties")
        if props is not None:
            if not isinstance(props, dict):
                raise _bad_value(_join(at, "properties"), "TYPE_MESSAGE", props)
            if not props and str(s.get("type", "")).upper() == "OBJECT":
                raise _GoogleInvalid(
                    f"* GenerateContentRequest.{_join(at, 'properties')}: should be non-empty for OBJECT type\n")
            for name, sub in props.items():
                self._check_schema(sub, f"{_join(at, 'properties')}[{name}].value", depth + 1)
        elif str(s.get("type", "")).upper() == "OBJECT" and depth > 0 and "anyOf" not in s:
            pass
        if "items" in s:
            self._check_schema(s["items"], _join(at, "items"), depth + 1)
        for i, sub in enumerate(s.get("anyOf") or []):
            self._check_schema(sub, f"{_join(at, 'any_of')}[{i}]", depth + 1)
        required = s.get("required")
        if required is not None and (not isinstance(required, list)
                                     or not all(isinstance(r, str) for r in required)):
            raise _bad_value(_join(at, "required"), "TYPE_STRING", required)
        for r in required or []:
            if props is not None and r not in props:
                raise _GoogleInvalid(
                    f"* GenerateContentRequest.{_join(at, 'required')}: property is not defined\n")

    def _check_part(self, part: Any, at: str, role: str) -> dict[str, Any]:
        p = _fields(part, _PART_FIELDS, at)
        data = [k for k in p if k in _PART_DATA]
        if len(data) > 1:
            raise _GoogleInvalid(
                f"Invalid JSON payload received. Oneof field 'data' is already set. "
                f"Cannot set '{data[1]}'")
        if not data:
            raise _GoogleInvalid(
                f"* GenerateContentRequest.{at}.data: required oneof field 'data' must have one "
                "initialized field\n")
        kind = data[0]
        if kind == "text":
            if not isinstance(p["text"], str):
                raise _bad_value(_join(at, "text"), "TYPE_STRING", p["text"])
            if p["text"] == "":
                raise _GoogleInvalid(
                    "Unable to submit request because it has an empty text parameter. Add a value "
                    "to the parameter and try again.")
        elif kind == "inlineData":
            blob = _fields(p["inlineData"], _BLOB_FIELDS, _join(at, "inlineData"))
            mime, data64 = blob.get("mimeType"), blob.get("data")
            if not isinstance(mime, str) or "/" not in mime:
                raise _GoogleInvalid(f"* GenerateContentRequest.{_join(at, 'inlineData')}.mime_type: "
                                     "mime_type is required\n")
            if mime.startswith("image/") and mime not in _IMAGE_MIME:
                raise _GoogleInvalid(f"Unsupported MIME type: {mime}")
            try:
                if not isinstance(data64, str):
                    raise ValueError
                base64.b64decode(data64.replace("-", "+").replace("_", "/"), validate=True)
            except (ValueError, binascii.Error):
                raise _GoogleInvalid(
                    f"Invalid value at '{_join(_join(at, 'inlineData'), 'data')}' (TYPE_BYTES), "
                    f"Base64 decoding failed for {_compact(str(data64)[:20])}") from None
        elif kind == "fileData":
            fd = _fields(p["fileData"], _FILE_DATA_FIELDS, _join(at, "fileData"))
            uri = fd.get("fileUri")
            if not isinstance(uri, str) or not re.match(r"^(https?://|gs://)", uri):
                raise _GoogleInvalid(f"* GenerateContentRequest.{_join(at, 'fileData')}.file_uri: "
                                     "Invalid or unsupported file uri\n")
            if "mimeType" in fd and not isinstance(fd["mimeType"], str):
                raise _bad_value(_join(_join(at, "fileData"), "mimeType"), "TYPE_STRING", fd["mimeType"])
        elif kind == "functionCall":
            if role != "model":
                raise _GoogleInvalid("Please ensure that function call turns are from the model.")
            fc = _fields(p["functionCall"], _FUNCTION_CALL_FIELDS, _join(at, "functionCall"))
            if not isinstance(fc.get("name"), str) or not fc["name"]:
                raise _GoogleInvalid(f"* GenerateContentRequest.{_join(at, 'functionCall')}.name: "
                                     "Name cannot be empty.\n")
            if "args" in fc and not isinstance(fc["args"], dict):
                raise _bad_value(_join(_join(at, "functionCall"), "args"), "TYPE_MESSAGE", fc["args"])
        elif kind == "functionResponse":
            fr = _fields(p["functionResponse"], _FUNCTION_RESPONSE_FIELDS, _join(at, "functionResponse"))
            if not isinstance(fr.get("name"), str) or not fr["name"]:
                raise _GoogleInvalid(f"* GenerateContentRequest.{_join(at, 'functionResponse')}.name: "
                                     "Name cannot be empty.\n")
            if not isinstance(fr.get("response"), dict):
                raise _bad_value(_join(_join(at, "functionResponse"), "response"), "TYPE_MESSAGE",
                                 fr.get("response"))
        if "thought" in p and not isinstance(p["thought"], bool):
            raise _bad_value(_join(at, "thought"), "TYPE_BOOL", p["thought"])
        if "thoughtSignature" in p:
            sig = p["thoughtSignature"]
            if not isinstance(sig, str):
                raise _bad_value(_join(at, "thoughtSignature"), "TYPE_BYTES", sig)
            if sig != SKIP_SIGNATURE and sig not in self.issued_signatures:
                raise _GoogleInvalid("Corrupted thought signature.")
        return p

    def _check_contents(self, body: dict[str, Any], model: str) -> list[dict[str, Any]]:
        contents = body.get("contents")
        if not contents:
            raise _GoogleInvalid("* GenerateContentRequest.contents: contents is not specified\n")
        if not isinstance(contents, list):
            raise _bad_value("contents", "TYPE_MESSAGE", contents)
        turns = []
        for i, content in enumerate(contents):
            at = f"contents[{i}]"
            c = _fields(content, _CONTENT_FIELDS, at)
            role = c.get("role", "user")
            if role not in ("user", "model"):
                raise _GoogleInvalid("Please use a valid role: user, model.")
            parts = c.get("parts")
            if not parts:
                raise _GoogleInvalid(f"* GenerateContentRequest.{at}.parts: contents.parts must not be empty.\n")
            if not isinstance(parts, list):
                raise _bad_value(f"{at}.parts", "TYPE_MESSAGE", parts)
            checked = [self._check_part(p, f"{at}.parts[{j}]", role) for j, p in enumerate(parts)]
            turns.append({"role": role, "parts": checked})
        # Function calling turn order and answers (Google's checks).
        for i, turn in enumerate(turns):
            calls = [p for p in turn["parts"] if "functionCall" in p]
            responses = [p for p in turn["parts"] if "functionResponse" in p]
            if calls:
                prev = turns[i - 1] if i > 0 else None
                if prev is None or prev["role"] != "user":
                    raise _GoogleInvalid(
                        "Please ensure that function call turn comes immediately after a user turn "
                        "or after a function response turn.")
                if self.is_gemini3(model) and "thoughtSignature" not in calls[0]:
                    name = calls[0]["functionCall"]["name"]
                    raise _GoogleInvalid(
                        "Function call is missing a thought_signature in functionCall parts. This is "
                        "required for tools to work correctly, and missing thought_signature may lead "
                        f"to degraded model performance. Additional data, function call "
                        f"`default_api:{name}` , position {i + 1}. Please refer to "
                        "https://ai.google.dev/gemini-api/docs/thought-signatures for more details.")
            if responses:
                prev_calls = [p for p in turns[i - 1]["parts"] if "functionCall" in p] if i > 0 else []
                if len(responses) != len(prev_calls):
                    raise _GoogleInvalid(
                        "Please ensure that the number of function response parts is equal to the "
                        "number of function call parts of the function call turn.")
                names = sorted(p["functionCall"]["name"] for p in prev_calls)
                if sorted(p["functionResponse"]["name"] for p in responses) != names:
                    raise _GoogleInvalid(
                        "Please ensure that function response turn comes immediately after a function "
                        "call turn, and that each function response answers one of its calls.")
        return turns

    def _check_tools(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        tools = body.get("tools")
        if tools is None:
            return []
        if not isinstance(tools, list):
            raise _bad_value("tools", "TYPE_MESSAGE", tools)
        declarations: list[dict[str, Any]] = []
        for i, tool in enumerate(tools):
            t = _fields(tool, _TOOL_FIELDS, f"tools[{i}]")
            for j, decl in enumerate(t.get("functionDeclarations") or []):
                at = f"tools[{i}].function_declarations[{j}]"
                d = _fields(decl, _DECLARATION_FIELDS, at)
                if not isinstance(d.get("name"), str) or not _FUNCTION_NAME.match(d["name"]):
                    raise _GoogleInvalid(
                        f"* GenerateContentRequest.{at}.name: Invalid function name. Must start with a "
                        "letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), "
                        "dots (.), colons (:), or dashes (-), with a maximum length of 64.\n")
                if "description" in d and not isinstance(d["description"], str):
                    raise _bad_value(f"{at}.description", "TYPE_STRING", d["description"])
                if "parameters" in d:
                    self._check_schema(d["parameters"], f"{at}.parameters")
                declarations.append(d)
        return declarations

    def _check_tool_config(self, body: dict[str, Any],
                           declarations: list[dict[str, Any]]) -> tuple[str, list[str] | None]:
        """(mode, allowedFunctionNames)."""
        tc = body.get("toolConfig")
        if tc is None:
            return "AUTO", None
        tc = _fields(tc, _TOOL_CONFIG_FIELDS, "tool_config")
        fcc = tc.get("functionCallingConfig")
        if fcc is None:
            return "AUTO", None
        fcc = _fields(fcc, _CALLING_CONFIG_FIELDS, "tool_config.function_calling_config")
        mode = fcc.get("mode", "AUTO")
        if mode not in _MODES:
            raise _bad_value("tool_config.function_calling_config.mode", "TYPE_ENUM", mode)
        if not declarations:
            raise _GoogleInvalid("Function calling config is set without function_declarations.")
        allowed = fcc.get("allowedFunctionNames")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise _bad_value("tool_config.function_calling_config.allowed_function_names",
                                 "TYPE_STRING", allowed)
            if mode != "ANY":
                raise _GoogleInvalid(
                    "* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: "
                    "allowed_function_names should only be set when the Mode is ANY.\n")
            known = {d["name"] for d in declarations}
            for name in allowed:
                if name not in known:
                    raise _GoogleInvalid(
                        f"* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: "
                        f"allowed_function_names must be a subset of function declarations: {name}\n")
        return mode, allowed

    def _check_generation(self, body: dict[str, Any], model: str) -> dict[str, Any]:
        raw = body.get("generationConfig")
        if raw is None:
            return {}
        g = _fields(raw, _GENERATION_FIELDS, "generation_config")
        at = "generation_config"
        for name, lo, hi in (("temperature", 0.0, 2.0), ("topP", 0.0, 1.0),
                             ("presencePenalty", -2.0, 2.0), ("frequencyPenalty", -2.0, 2.0)):
            if name in g:
                if not _is_number(g[name]):
                    raise _bad_value(_join(at, name), "TYPE_FLOAT", g[name])
                if not lo <= g[name] <= hi:
                    raise _GoogleInvalid(
                        f"* GenerateContentRequest.{_join(at, name)}: {_snake(name)} must be in the "
                        f"range [{lo}, {hi}]\n")
        for name in ("candidateCount", "maxOutputTokens", "topK", "seed", "logprobs"):
            if name in g and not _is_int(g[name]):
                raise _bad_value(_join(at, name), "TYPE_INT32", g[name])
        if "candidateCount" in g and not 1 <= g["candidateCount"] <= 8:
            raise _GoogleInvalid("* GenerateContentRequest.generation_config.candidate_count: "
                                 "must be in the range [1, 8]\n")
        if "maxOutputTokens" in g and g["maxOutputTokens"] < 1:
            raise _GoogleInvalid("* GenerateContentRequest.generation_config.max_output_tokens: "
                                 "max_output_tokens must be positive.\n")
        stops = g.get("stopSequences")
        if stops is not None and (not isinstance(stops, list) or len(stops) > 5
                                  or not all(isinstance(s, str) for s in stops)):
            raise _GoogleInvalid("* GenerateContentRequest.generation_config.stop_sequences: "
                                 "at most 5 strings\n")
        mime = g.get("responseMimeType")
        if mime is not None and mime not in _RESPONSE_MIME_TYPES:
            raise _GoogleInvalid(
                "* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are "
                "`text/plain`, `application/json`, `application/xml`, `application/yaml` and "
                "`text/x.enum`.\n")
        if "responseSchema" in g and "responseJsonSchema" in g:
            raise _GoogleInvalid("responseSchema and responseJsonSchema cannot both be set.")
        if ("responseSchema" in g or "responseJsonSchema" in g) and mime not in (
                "application/json", "text/x.enum"):
            raise _GoogleInvalid(
                "* GenerateContentRequest.generation_config.response_mime_type: a response schema "
                "requires response_mime_type application/json.\n")
        if "responseSchema" in g:
            self._check_schema(g["responseSchema"], "generation_config.response_schema")
        if "responseJsonSchema" in g and not isinstance(g["responseJsonSchema"], (dict, bool)):
            raise _bad_value("generation_config.response_json_schema", "TYPE_MESSAGE",
                             g["responseJsonSchema"])
        if "thinkingConfig" in g:
            t = _fields(g["thinkingConfig"], _THINKING_FIELDS, "generation_config.thinking_config")
            if not self.is_thinking(model):
                raise _GoogleInvalid(f"Thinking is not enabled for models/{model}")
            if "thinkingBudget" in t and "thinkingLevel" in t:
                raise _GoogleInvalid("You can only set one of thinking budget and thinking level.")
            if "thinkingBudget" in t and not _is_int(t["thinkingBudget"]):
                raise _bad_value("generation_config.thinking_config.thinking_budget", "TYPE_INT32",
                                 t["thinkingBudget"])
            if "thinkingLevel" in t:
                level = t["thinkingLevel"]
                if not isinstance(level, str) or level.upper() not in _THINKING_LEVELS:
                    raise _bad_value("generation_config.thinking_config.thinking_level", "TYPE_ENUM", level)
                if not self.is_gemini3(model):
                    raise _GoogleInvalid("Thinking level is not supported for this model.")
            if "includeThoughts" in t and not isinstance(t["includeThoughts"], bool):
                raise _bad_value("generation_config.thinking_config.include_thoughts", "TYPE_BOOL",
                                 t["includeThoughts"])
            g["thinkingConfig"] = t
        return g

    def _check_safety(self, body: dict[str, Any]) -> None:
        settings = body.get("safetySettings")
        if settings is None:
            return
        if not isinstance(settings, list):
            raise _bad_value("safety_settings", "TYPE_MESSAGE", settings)
        for i, s in enumerate(settings):
            f = _fields(s, _SAFETY_FIELDS, f"safety_settings[{i}]")
            if f.get("category") not in _HARM_CATEGORIES:
                raise _bad_value(f"safety_settings[{i}].category", "TYPE_ENUM", f.get("category"))
            if f.get("threshold") not in _THRESHOLDS:
                raise _bad_value(f"safety_settings[{i}].threshold", "TYPE_ENUM", f.get("threshold"))

    def validate(self, body: Any, model: str) -> dict[str, Any]:
        """Checks a GenerateContentRequest; returns what the answer needs."""
        b = _fields(body, _REQUEST_FIELDS, "")
        turns = self._check_contents(b, model)
        system_words = 0
        if "systemInstruction" in b:
            si = _fields(b["systemInstruction"], _CONTENT_FIELDS, "system_instruction")
            for j, part in enumerate(si.get("parts") or []):
                p = self._check_part(part, f"system_instruction.parts[{j}]", "user")
                if "text" not in p:
                    raise _GoogleInvalid("System instruction must only contain text parts.")
                system_words += _words(p["text"])
        declarations = self._check_tools(b)
        mode, allowed = self._check_tool_config(b, declarations)
        generation = self._check_generation(b, model)
        self._check_safety(b)
        return {"turns": turns, "declarations": declarations, "mode": mode,
                "allowed": allowed, "generation": generation, "system_words": system_words}

    # -- answers ----------------------------------------------------------------------
    def _sign(self, name: str) -> str:
        sig = base64.b64encode(f"mock-sig:{self._next_id()}:{name}".encode()).decode()
        with self._sig_lock:
            self._signatures.add(sig)
        return sig

    @staticmethod
    def _from_schema(schema: Any, text: str) -> Any:
        if not isinstance(schema, dict):
            return text
        kind = str(schema.get("type", "object")).lower()
        if "enum" in schema and schema["enum"]:
            return schema["enum"][0]
        if kind == "object":
            return {k: GeminiMock._from_schema(v, text) for k, v in (schema.get("properties") or {}).items()}
        if kind == "array":
            return [GeminiMock._from_schema(schema.get("items"), text)]
        if kind == "integer":
            return 1
        if kind == "number":
            return 1.5
        if kind == "boolean":
            return True
        return text

    def _answer_parts(self, plan: dict[str, Any], model: str) -> tuple[list[dict[str, Any]], str, int]:
        """(parts of one candidate, finishReason, completion tokens without thoughts)."""
        turns = plan["turns"]
        g = plan["generation"]
        last = turns[-1]
        responses = [p["functionResponse"] for p in last["parts"] if "functionResponse" in p]
        if responses:
            shown = "; ".join(f"{r['name']}={_compact(r['response'])}" for r in responses)
            text = f"gemini mock received tool result: {shown}"
            return [{"text": text}], "STOP", _words(text)
        if plan["declarations"] and plan["mode"] != "NONE":
            allowed = plan["allowed"] or [d["name"] for d in plan["declarations"]]
            decl = next(d for d in plan["declarations"] if d["name"] == allowed[0])
            props = ((decl.get("parameters") or {}).get("properties") or {})
            args = {k: v for k, v in self.tool_args.items() if not props or k in props}
            part: dict[str, Any] = {"functionCall": {"name": decl["name"], "args": args}}
            if self.is_thinking(model):
                part["thoughtSignature"] = self._sign(decl["name"])
            return [part], "STOP", max(1, len(_compact(args)) // 4)
        last_user = " ".join(p["text"] for p in last["parts"] if "text" in p) if last["role"] == "user" else ""
        text = self.answer_text(last_user)
        text, _ = _apply_stop(text, g.get("stopSequences") or [])
        if g.get("responseMimeType") == "application/json":
            schema = g.get("responseJsonSchema", g.get("responseSchema"))
            text = _compact(self._from_schema(schema, text) if schema else {"answer": text})
        text, cut = _truncate(text, g.get("maxOutputTokens"))
        return [{"text": text}], "MAX_TOKENS" if cut else "STOP", max(1, _words(text))

    def _thoughts(self, g: dict[str, Any], model: str) -> tuple[int, str | None]:
        """(thought tokens, thought summary text or None)."""
        if not self.is_thinking(model):
            return 0, None
        t = g.get("thinkingConfig") or {}
        if t.get("thinkingBudget") == 0:
            return 0, None
        summary = None
        if t.get("includeThoughts"):
            level = t.get("thinkingLevel") or t.get("thinkingBudget", "dynamic")
            summary = f"gemini mock thought ({level})"
        return self.thought_tokens, summary

    def _usage(self, prompt: int, completion: int, thoughts: int) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "promptTokenCount": prompt,
            "candidatesTokenCount": completion,
            "totalTokenCount": prompt + completion + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        }
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        return usage

    def _generate(self, req: RecordedRequest, model: str, method: str):
        plan = self.validate(req.json, model)
        stream = method == "streamGenerateContent"
        sse = req.query.get("alt") == "sse"
        turns = plan["turns"]
        prompt = max(1, plan["system_words"]
                     + sum(_words(p.get("text", "")) for t in turns for p in t["parts"]))
        response_id = f"mockresp{self._next_id():04d}"
        block = self._take_block()
        if block is not None:
            return self._blocked(block, prompt, model, response_id, stream, sse)
        g = plan["generation"]
        n = g.get("candidateCount", 1)
        parts, finish, completion = self._answer_parts(plan, model)
        thoughts, summary = self._thoughts(g, model)
        usage = self._usage(prompt, completion * n, thoughts * n)
        if not stream:
            candidates = []
            for i in range(n):
                cand_parts = [{"text": summary, "thought": True}] if summary else []
                for p in parts:
                    p = dict(p)
                    if i > 0 and "thoughtSignature" in p:
                        # Each candidate's call is signed on its own.
                        p["thoughtSignature"] = self._sign(p["functionCall"]["name"])
                    cand_parts.append(p)
                candidates.append({"content": {"parts": cand_parts, "role": "model"},
                                   "finishReason": finish, "index": i})
            return JsonResponse(200, {"candidates": candidates, "usageMetadata": usage,
                                      "modelVersion": model, "responseId": response_id})
        events: list[dict[str, Any]] = []
        head_usage = {"promptTokenCount": prompt, "totalTokenCount": prompt,
                      "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}

        def chunk(chunk_parts: list[dict[str, Any]] | None, reason: str | None,
                  meta: dict[str, Any]) -> dict[str, Any]:
            cands = []
            for i in range(n):
                cand: dict[str, Any] = {"index": i}
                if chunk_parts is not None:
                    cand["content"] = {"parts": chunk_parts, "role": "model"}
                if reason is not None:
                    cand["finishReason"] = reason
                cands.append(cand)
            return {"candidates": cands, "usageMetadata": meta, "modelVersion": model,
                    "responseId": response_id}

        if summary:
            events.append(chunk([{"text": summary, "thought": True}], None, head_usage))
        if "text" in parts[0]:
            pieces = _pieces(parts[0]["text"])
            for k, piece in enumerate(pieces):
                last = k == len(pieces) - 1
                events.append(chunk([{"text": piece}], finish if last else None,
                                    usage if last else head_usage))
        else:
            events.append(chunk(parts, finish, usage))
        if sse:
            return StreamResponse([b"data: " + _compact(e).encode() + b"\r\n\r\n" for e in events],
                                  {"Content-Type": "text/event-stream"})
        body = "[" + ",\r\n".join(_compact(e) for e in events) + "]"
        return StreamResponse([body.encode()], {"Content-Type": "application/json; charset=UTF-8"})

    def _blocked(self, block: str, prompt: int, model: str, response_id: str, stream: bool, sse: bool):
        if block.startswith("prompt:"):
            body: dict[str, Any] = {
                "promptFeedback": {"blockReason": block[len("prompt:"):], "safetyRatings": [
                    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": True}]},
                "usageMetadata": {"promptTokenCount": prompt, "totalTokenCount": prompt},
                "modelVersion": model, "responseId": response_id,
            }
        else:
            body = {
                "candidates": [{"finishReason": block, "index": 0, "safetyRatings": [
                    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]}],
                "usageMetadata": {"promptTokenCount": prompt, "totalTokenCount": prompt},
                "modelVersion": model, "responseId": response_id,
            }
        if not stream:
            return JsonResponse(200, body)
        if sse:
            return StreamResponse([b"data: " + _compact(body).encode() + b"\r\n\r\n"],
                                  {"Content-Type": "text/event-stream"})
        return StreamResponse([("[" + _compact(body) + "]").encode()],
                              {"Content-Type": "application/json; charset=UTF-8"})

    # -- embeddings ---------------------------------------------------------------------
    def _embed_one(self, r: Any, at: str, model: str, batch: bool) -> list[float]:
        e = _fields(r, _EMBED_FIELDS, at)
        if batch:
            if e.get("model") != f"models/{model}":
                raise _GoogleInvalid(
                    f"* BatchEmbedContentsRequest.model: {at}.model: model must be the same as the "
                    f"batch model: models/{model}, got {e.get('model')}\n")
        content = _fields(e.get("content"), _CONTENT_FIELDS, f"{at}.content")
        parts = content.get("parts")
        if not parts or not isinstance(parts, list):
            raise _GoogleInvalid(f"* BatchEmbedContentsRequest.{at}.content.parts: contents.parts must not be empty.\n")
        texts = []
        for j, part in enumerate(parts):
            p = _fields(part, _PART_FIELDS, f"{at}.content.parts[{j}]")
            if not isinstance(p.get("text"), str) or not p["text"]:
                raise _GoogleInvalid("Text content is empty.")
            texts.append(p["text"])
        if "taskType" in e and e["taskType"] not in _TASK_TYPES:
            raise _bad_value(f"{at}.task_type", "TYPE_ENUM", e["taskType"])
        dims = e.get("outputDimensionality", self.embedding_dims)
        if not _is_int(dims) or not 1 <= dims <= 3072:
            raise _bad_value(f"{at}.output_dimensionality", "TYPE_INT32", dims)
        return _embedding(" ".join(texts), dims)

    def _batch_embed(self, req: RecordedRequest, model: str, method: str) -> JsonResponse:
        b = _fields(req.json, {"requests"}, "")
        reqs = b.get("requests")
        if not reqs or not isinstance(reqs, list):
            raise _GoogleInvalid("* BatchEmbedContentsRequest.requests: requests must not be empty.\n")
        if len(reqs) > 100:
            raise _GoogleInvalid("* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n")
        values = [self._embed_one(r, f"requests[{i}]", model, True) for i, r in enumerate(reqs)]
        return JsonResponse(200, {"embeddings": [{"values": v} for v in values]})

    def _embed(self, req: RecordedRequest, model: str, method: str) -> JsonResponse:
        values = self._embed_one(req.json, "", model, False)
        return JsonResponse(200, {"embedding": {"values": values}})
