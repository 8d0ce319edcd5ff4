"""A strict Langfuse: the batch ingestion API (``POST /api/public/ingestion``) and the
OTLP endpoint (``POST /api/public/otel/v1/traces``), both behind HTTP basic auth
(public key : secret key).

Shapes from Langfuse's public API reference (its OpenAPI: ``IngestionRequest``,
``IngestionEvent``, ``TraceBody``, ``CreateGenerationBody``, ``IngestionUsage``,
``IngestionResponse``):

* a body ``{"batch": [event, ...]}`` (optionally ``metadata``), at most 3.5 MB
  (Langfuse's limit: ``413`` beyond);
* each event ``{id, timestamp, type, body}`` (``metadata`` optional), ``id`` a
  non-empty string, ``timestamp`` ISO 8601; this mock takes the two types
  Switchyard sends, ``trace-create`` and ``generation-create``;
* each body only the fields the reference lists, with their types: ISO 8601 times,
  ``level`` one of ``DEBUG``/``DEFAULT``/``WARNING``/``ERROR``, ``usage`` with
  integer counts and a known ``unit``, ``usageDetails`` integers, ``costDetails``
  numbers, ``modelParameters`` scalar values, ``tags`` strings.

Like Langfuse, a well-formed batch is answered ``207`` with per-event ``successes``
and ``errors`` (an invalid event is an error, the others are taken); a malformed
request ``400``; bad credentials ``401``. Valid events are kept in
:attr:`LangfuseMock.events`, invalid ones with their problem in
:attr:`LangfuseMock.invalid`. Spans posted to the OTLP endpoint are checked by
:mod:`mocks.otlp` and kept in :attr:`LangfuseMock.otel`.
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import datetime
from typing import Any

from .base import JsonResponse, MockProvider, RecordedRequest
from .otlp import OtlpMock

__all__ = ["LangfuseMock", "validate_event", "INGESTION_PATH", "OTEL_PATH"]

INGESTION_PATH = "/api/public/ingestion"
OTEL_PATH = "/api/public/otel/v1/traces"
#: Langfuse's request size limit for the ingestion API.
MAX_BATCH_BYTES = 3_500_000

_EVENT_FIELDS = {"id", "timestamp", "type", "body", "metadata"}
_TRACE_FIELDS = {
    "id": "str", "timestamp": "time", "name": "str", "userId": "str", "input": "any",
    "output": "any", "sessionId": "str", "release": "str", "version": "str",
    "metadata": "any", "tags": "tags", "environment": "str", "public": "bool",
}
_GENERATION_FIELDS = {
    "id": "str", "traceId": "str", "name": "str", "startTime": "time", "endTime": "time",
    "completionStartTime": "time", "model": "str", "modelParameters": "params",
    "input": "any", "output": "any", "usage": "usage", "usageDetails": "ints",
    "costDetails": "numbers", "metadata": "any", "level": "level", "statusMessage": "str",
    "parentObservationId": "str", "version": "str", "environment": "str",
    "promptName": "str", "promptVersion": "int",
}
_USAGE_FIELDS = {"input", "output", "total", "unit", "inputCost", "outputCost", "totalCost"}
_UNITS = {"CHARACTERS", "TOKENS", "MILLISECONDS", "SECONDS", "IMAGES", "REQUESTS"}
_LEVELS = {"DEBUG", "DEFAULT", "WARNING", "ERROR"}


class _Invalid(Exception):
    pass


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _time(v: Any, where: str) -> None:
    if not isinstance(v, str):
        raise _Invalid(f"{where}: expected an ISO 8601 date-time string")
    try:
        datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise _Invalid(f"{where}: {v!r} is not ISO 8601") from None


def _check(kind: str, v: Any, where: str) -> None:
    if v is None:
        return  # every body field is optional (nullable) in the reference
    if kind == "str" and not isinstance(v, str):
        raise _Invalid(f"{where}: expected a string")
    if kind == "bool" and not isinstance(v, bool):
        raise _Invalid(f"{where}: expected a boolean")
    if kind == "int" and not _is_int(v):
        raise _Invalid(f"{where}: expected an integer")
    if kind == "time":
        _time(v, where)
    if kind == "tags" and not (isinstance(v, list) and all(isinstance(t, str) for t in v)):
        raise _Invalid(f"{where}: expected a list of strings")
    if kind == "level" and v not in _LEVELS:
        raise _Invalid(f"{where}: expected one of {sorted(_LEVELS)}")
    if kind == "ints" and not (isinstance(v, dict) and all(_is_int(x) for x in v.values())):
        raise _Invalid(f"{where}: expected a map of integers")
    if kind == "numbers" and not (isinstance(v, dict) and all(_is_number(x) for x in v.values())):
        raise _Invalid(f"{where}: expected a map of numbers")
    if kind == "params":
        ok = isinstance(v, dict) and all(
            isinstance(x, (str, bool, int, float)) or (isinstance(x, list) and all(isinstance(s, str) for s in x))
            for x in v.values())
        if not ok:
            raise _Invalid(f"{where}: expected a map of strings, numbers, booleans or string lists")
    if kind == "usage":
        if not isinstance(v, dict):
            raise _Invalid(f"{where}: expected an object")
        unknown = set(v) - _USAGE_FIELDS
        if unknown:
            raise _Invalid(f"{where}: unknown field(s) {sorted(unknown)}")
        for f in ("input", "output", "total"):
            if f in v and v[f] is not None and not _is_int(v[f]):
                raise _Invalid(f"{where}.{f}: expected an integer")
        for f in ("inputCost", "outputCost", "totalCost"):
            if f in v and v[f] is not None and not _is_number(v[f]):
                raise _Invalid(f"{where}.{f}: expected a number")
        if v.get("unit") is not None and v["unit"] not in _UNITS:
            raise _Invalid(f"{where}.unit: expected one of {sorted(_UNITS)}")


def validate_event(event: Any) -> None:
    """Raises ``ValueError`` naming the first way ``event`` is not an ingestion event
    of Langfuse's reference (``trace-create`` or ``generation-create``)."""
    try:
        if not isinstance(event, dict):
            raise _Invalid("event: expected an object")
        unknown = set(event) - _EVENT_FIELDS
        if unknown:
            raise _Invalid(f"event: unknown field(s) {sorted(unknown)}")
        if not isinstance(event.get("id"), str) or not event["id"]:
            raise _Invalid("event.id: required")
        _time(event.get("timestamp"), "event.timestamp")
        fields = {"trace-create": _TRACE_FIELDS, "generation-create": _GENERATION_FIELDS}.get(event.get("type"))
        if fields is None:
            raise _Invalid(f"event.type: {event.get('type')!r} is not trace-create or generation-create")
        body = event.get("body")
        if not isinstance(body, dict):
            raise _Invalid("event.body: expected an object")
        unknown = set(body) - set(fields)
        if unknown:
            raise _Invalid(f"{event['type']}.body: unknown field(s) {sorted(unknown)}")
        if event["type"] == "generation-create" and not isinstance(body.get("id"), str):
            raise _Invalid("generation-create.body.id: required")
        for name, kind in fields.items():
            if name in body:
                _check(kind, body[name], f"{event['type']}.body.{name}")
    except _Invalid as e:
        raise ValueError(str(e)) from None


class LangfuseMock(MockProvider):
    """Langfuse's ingestion API and OTLP endpoint, strict, recording what they took."""

    name = "langfuse"

    def __init__(self, public_key: str = "pk-lf-mock", secret_key: str = "sk-lf-mock",
                 directives: bool = False) -> None:
        super().__init__(directives=directives)
        self.public_key = public_key
        self.secret_key = secret_key
        self._events: list[dict[str, Any]] = []
        self._invalid: list[tuple[Any, str]] = []
        self._store_lock = threading.Lock()
        token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
        self._otlp = OtlpMock(path=OTEL_PATH, required_headers={"authorization": f"Basic {token}"})

    @property
    def events(self) -> list[dict[str, Any]]:
        """The valid events taken so far, oldest first."""
        with self._store_lock:
            return list(self._events)

    @property
    def invalid(self) -> list[tuple[Any, str]]:
        """The events refused, with why."""
        with self._store_lock:
            return list(self._invalid)

    def events_of(self, kind: str) -> list[dict[str, Any]]:
        """The bodies of the valid events of type ``kind``."""
        return [e["body"] for e in self.events if e["type"] == kind]

    @property
    def otel(self) -> list[dict[str, Any]]:
        """Spans taken on the OTLP endpoint."""
        return self._otlp.spans

    @property
    def otel_rejections(self) -> list[str]:
        return self._otlp.rejections

    def _authorized(self, req: RecordedRequest) -> bool:
        auth = req.header("authorization") or ""
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(auth[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return (user, password) == (self.public_key, self.secret_key)

    def handle(self, req: RecordedRequest) -> JsonResponse:
        if req.method == "POST" and req.path == OTEL_PATH:
            return self._otlp.handle(req)
        if (req.method, req.path) != ("POST", INGESTION_PATH):
            return JsonResponse(404, {"message": f"no route for {req.method} {req.path}"})
        if not self._authorized(req):
            return JsonResponse(401, {"message": "Invalid credentials. Confirm that you've configured the correct host."})
        if len(req.body) > MAX_BATCH_BYTES:
            return JsonResponse(413, {"message": "Request body too large"})
        if (req.header("content-type") or "").split(";")[0].strip() != "application/json":
            return JsonResponse(400, {"message": "content-type must be application/json"})
        try:
            body = json.loads(req.body)
        except ValueError:
            return JsonResponse(400, {"message": "Invalid request data: body is not JSON"})
        if not isinstance(body, dict) or set(body) - {"batch", "metadata"} or not isinstance(body.get("batch"), list):
            return JsonResponse(400, {"message": "Invalid request data: expected {batch: [...]}"})
        successes, errors = [], []
        for event in body["batch"]:
            try:
                validate_event(event)
            except ValueError as e:
                with self._store_lock:
                    self._invalid.append((event, str(e)))
                event_id = event.get("id") if isinstance(event, dict) else None
                errors.append({"id": event_id or "", "status": 400, "message": "Invalid request data", "error": str(e)})
                continue
            with self._store_lock:
                self._events.append(event)
            successes.append({"id": event["id"], "status": 201})
        return JsonResponse(207, {"successes": successes, "errors": errors})

    def error_body(self, status: int) -> Any:
        return {"message": f"mock fault {status}"}

    def stream_error_event(self, body: Any) -> bytes:
        return b""
