"""The Azure OpenAI mock: deployments, ``api-key`` + ``api-version``, content-filter
annotations, on the OpenAI-shaped logic of :mod:`mocks.openai`."""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

from .base import (
    JsonResponse,
    RecordedRequest,
    StreamResponse,
    _compact,
)
from .openai import (
    _Invalid,
    _OpenAIShaped,
    _openai_error,
)

__all__ = ["AzureMock"]


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
