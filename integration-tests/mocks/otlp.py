"""A strict OTLP/HTTP JSON trace receiver (``POST /v1/traces``), for the ``otel`` and
``langfuse_otel`` callbacks.

It checks what the OTLP specification's JSON encoding asks ("JSON Protobuf
Encoding", opentelemetry-proto ``docs/specification.md``; message shapes from
``opentelemetry/proto/trace/v1/trace.proto`` and ``common/v1/common.proto``):

* ``content-type: application/json``, a body ``{"resourceSpans": [...]}``;
* field names in lowerCamelCase, nothing unknown at any level;
* ``traceId`` 32 and ``spanId``/``parentSpanId`` 16 hex digits (not base64), not
  all zeros;
* 64-bit integers (``startTimeUnixNano``, ``endTimeUnixNano``, ``intValue``) as
  decimal strings, the end not before the start;
* enums as integers (``kind`` 0..5, ``status.code`` 0..2);
* attributes as ``KeyValue`` lists whose ``AnyValue`` has exactly one field.

A valid export is answered ``200 {"partialSuccess": {}}`` (an
``ExportTraceServiceResponse``) and its spans kept in :attr:`OtlpMock.spans`; an
invalid one ``400`` with a ``google.rpc.Status``-shaped body, its problems in
:attr:`OtlpMock.rejections`. ``required_headers`` (lower-case name → value) must all
be present, else ``401``.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from .base import JsonResponse, MockProvider, RecordedRequest

__all__ = ["OtlpMock", "validate_export", "span_attributes"]

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")
_UINT = re.compile(r"^[0-9]+$")
_INT = re.compile(r"^-?[0-9]+$")

_ANY_VALUE_FIELDS = {"stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue", "bytesValue"}
_SPAN_FIELDS = {
    "traceId", "spanId", "traceState", "parentSpanId", "flags", "name", "kind",
    "startTimeUnixNano", "endTimeUnixNano", "attributes", "droppedAttributesCount",
    "events", "droppedEventsCount", "links", "droppedLinksCount", "status",
}


class _Invalid(Exception):
    pass


def _keys(obj: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _Invalid(f"{where}: expected an object")
    unknown = set(obj) - allowed
    if unknown:
        raise _Invalid(f"{where}: unknown field(s) {sorted(unknown)}")
    return obj


def _any_value(value: Any, where: str) -> None:
    _keys(value, _ANY_VALUE_FIELDS, where)
    if len(value) != 1:
        raise _Invalid(f"{where}: an AnyValue has exactly one field, got {sorted(value)}")
    (kind, v), = value.items()
    ok = {
        "stringValue": isinstance(v, str),
        "boolValue": isinstance(v, bool),
        "intValue": isinstance(v, str) and bool(_INT.match(v)),
        "doubleValue": isinstance(v, (int, float)) and not isinstance(v, bool),
        "bytesValue": isinstance(v, str),
        "arrayValue": isinstance(v, dict),
        "kvlistValue": isinstance(v, dict),
    }[kind]
    if not ok:
        raise _Invalid(f"{where}.{kind}: wrong type {v!r} (64-bit integers are decimal strings)")
    if kind == "arrayValue":
        for i, item in enumerate(_keys(v, {"values"}, where).get("values", [])):
            _any_value(item, f"{where}.arrayValue.values[{i}]")
    if kind == "kvlistValue":
        _attributes(_keys(v, {"values"}, where).get("values", []), f"{where}.kvlistValue.values")


def _attributes(attrs: Any, where: str) -> None:
    if not isinstance(attrs, list):
        raise _Invalid(f"{where}: expected a list of KeyValue")
    seen: set[str] = set()
    for i, kv in enumerate(attrs):
        _keys(kv, {"key", "value"}, f"{where}[{i}]")
        key = kv.get("key")
        if not isinstance(key, str) or not key:
            raise _Invalid(f"{where}[{i}].key: expected a non-empty string")
        if key in seen:
            raise _Invalid(f"{where}: attribute {key!r} twice")
        seen.add(key)
        _any_value(kv.get("value"), f"{where}[{i}].value")


def _span(span: Any, where: str) -> None:
    _keys(span, _SPAN_FIELDS, where)
    trace_id, span_id = span.get("traceId"), span.get("spanId")
    if not isinstance(trace_id, str) or not _HEX32.match(trace_id) or set(trace_id) == {"0"}:
        raise _Invalid(f"{where}.traceId: expected 32 lower-case hex digits, not all zero, got {trace_id!r}")
    if not isinstance(span_id, str) or not _HEX16.match(span_id) or set(span_id) == {"0"}:
        raise _Invalid(f"{where}.spanId: expected 16 lower-case hex digits, not all zero, got {span_id!r}")
    parent = span.get("parentSpanId")
    if parent not in (None, "") and not (isinstance(parent, str) and _HEX16.match(parent)):
        raise _Invalid(f"{where}.parentSpanId: expected 16 hex digits")
    if not isinstance(span.get("name"), str) or not span["name"]:
        raise _Invalid(f"{where}.name: required")
    kind = span.get("kind", 0)
    if not isinstance(kind, int) or isinstance(kind, bool) or not 0 <= kind <= 5:
        raise _Invalid(f"{where}.kind: expected an integer 0..5 (the enum's number)")
    times = []
    for field in ("startTimeUnixNano", "endTimeUnixNano"):
        t = span.get(field)
        if not isinstance(t, str) or not _UINT.match(t):
            raise _Invalid(f"{where}.{field}: expected unix nanoseconds as a decimal string, got {t!r}")
        times.append(int(t))
    if times[1] < times[0]:
        raise _Invalid(f"{where}: ends before it starts")
    _attributes(span.get("attributes", []), f"{where}.attributes")
    status = _keys(span.get("status", {}), {"code", "message"}, f"{where}.status")
    code = status.get("code", 0)
    if not isinstance(code, int) or isinstance(code, bool) or not 0 <= code <= 2:
        raise _Invalid(f"{where}.status.code: expected 0 (unset), 1 (ok) or 2 (error)")
    if "message" in status and not isinstance(status["message"], str):
        raise _Invalid(f"{where}.status.message: expected a string")


def validate_export(body: Any) -> list[dict[str, Any]]:
    """The spans of an ``ExportTraceServiceRequest`` in OTLP JSON, each with its
    resource attributes (``resource``) and scope (``scope``); raises ``ValueError``
    naming the first problem."""
    try:
        _keys(body, {"resourceSpans"}, "body")
        spans: list[dict[str, Any]] = []
        resource_spans = body.get("resourceSpans")
        if not isinstance(resource_spans, list) or not resource_spans:
            raise _Invalid("body.resourceSpans: expected a non-empty list")
        for i, rs in enumerate(resource_spans):
            where = f"resourceSpans[{i}]"
            _keys(rs, {"resource", "scopeSpans", "schemaUrl"}, where)
            resource = _keys(rs.get("resource", {}), {"attributes", "droppedAttributesCount"}, f"{where}.resource")
            _attributes(resource.get("attributes", []), f"{where}.resource.attributes")
            for j, ss in enumerate(rs.get("scopeSpans", [])):
                w = f"{where}.scopeSpans[{j}]"
                _keys(ss, {"scope", "spans", "schemaUrl"}, w)
                scope = _keys(ss.get("scope", {}), {"name", "version", "attributes", "droppedAttributesCount"}, f"{w}.scope")
                for k, span in enumerate(ss.get("spans", [])):
                    _span(span, f"{w}.spans[{k}]")
                    spans.append(dict(span, resource=resource.get("attributes", []), scope=scope))
        return spans
    except _Invalid as e:
        raise ValueError(str(e)) from None


def span_attributes(span: dict[str, Any]) -> dict[str, Any]:
    """A span's attributes as a plain dict: ``intValue`` as int, others as given."""
    out: dict[str, Any] = {}
    for kv in span.get("attributes", []):
        (kind, v), = kv["value"].items()
        out[kv["key"]] = int(v) if kind == "intValue" else v
    return out


class OtlpMock(MockProvider):
    """A strict OTLP/HTTP JSON trace receiver on ``path`` (``/v1/traces``)."""

    name = "otlp"

    def __init__(self, path: str = "/v1/traces", required_headers: dict[str, str] | None = None,
                 directives: bool = False) -> None:
        super().__init__(directives=directives)
        self.path = path
        self.required_headers = {k.lower(): v for k, v in (required_headers or {}).items()}
        self._spans: list[dict[str, Any]] = []
        self._rejections: list[str] = []
        self._span_lock = threading.Lock()

    @property
    def spans(self) -> list[dict[str, Any]]:
        with self._span_lock:
            return list(self._spans)

    @property
    def rejections(self) -> list[str]:
        with self._span_lock:
            return list(self._rejections)

    def _reject(self, status: int, message: str) -> JsonResponse:
        with self._span_lock:
            self._rejections.append(message)
        return JsonResponse(status, {"code": 3 if status == 400 else 16, "message": message})

    def check(self, req: RecordedRequest) -> JsonResponse | None:
        """The answer to a request that is not a valid export, or ``None``."""
        if (req.method, req.path) != ("POST", self.path):
            return JsonResponse(404, {"code": 5, "message": f"no route for {req.method} {req.path}"})
        for name, value in self.required_headers.items():
            if req.header(name) != value:
                return self._reject(401, f"header {name} missing or wrong")
        ctype = (req.header("content-type") or "").split(";")[0].strip()
        if ctype != "application/json":
            return self._reject(415, f"content-type {ctype!r}: this receiver takes OTLP JSON")
        try:
            body = json.loads(req.body)
        except ValueError:
            return self._reject(400, "body is not JSON")
        try:
            spans = validate_export(body)
        except ValueError as e:
            return self._reject(400, str(e))
        with self._span_lock:
            self._spans.extend(spans)
        return None

    def handle(self, req: RecordedRequest) -> JsonResponse:
        return self.check(req) or JsonResponse(200, {"partialSuccess": {}})

    def error_body(self, status: int) -> Any:
        return {"code": 14, "message": f"mock fault {status}"}

    def stream_error_event(self, body: Any) -> bytes:
        return b""
