"""A mock of Cohere's v2 API (``POST /v2/chat``, ``POST /v2/embed``), as picky as
the real service where a gateway bug would otherwise pass unnoticed.

Shapes follow Cohere's v2 API reference and the ``cohere`` Python SDK's v2 types
(``ChatMessageV2``, ``ToolV2``, ``ResponseFormatV2``, ``Thinking``,
``V2ChatResponse``, ``V2ChatStreamResponse``, ``EmbedByTypeResponse``):

* authentication is ``Authorization: Bearer <key>``; anything else is a 401
  ``{"id": …, "message": "invalid api token"}``;
* every body key, message key, content part and tool key is checked against the
  v2 types: unknown keys, wrong types, an OpenAI-only field (``max_completion_tokens``,
  ``top_p``, ``stop``, ``n``, ``tool_choice: "auto"``, a tool's ``strict``, a message
  ``name``…) are a 400 ``{"id": …, "message": "invalid request: …"}`` naming it;
* ``stream`` picks JSON or SSE (``event: <type>`` + ``data: {"type": …}`` per
  event): ``message-start``, ``content-start``/``-delta``/``-end`` (a ``thinking``
  block first when ``thinking`` is enabled), ``tool-plan-delta``,
  ``tool-call-start``/``-delta``/``-end``, ``message-end`` with ``finish_reason``
  and ``usage`` (``billed_units`` and ``tokens``, which differ: ``tokens`` counts
  Cohere's own prompt overhead, 64 more input tokens);
* answers are deterministic: "Hello from cohere mock: <last user text>"; with
  ``tools`` (and no tool result last, ``tool_choice`` not ``NONE``) a tool call to
  the first tool with a ``tool_plan``; after a tool result "cohere mock received
  tool result: <name>=<content>"; ``response_format`` json_object → ``{"answer":
  …}``; ``max_tokens`` cuts in words (``MAX_TOKENS``), ``stop_sequences`` cut
  (``STOP_SEQUENCE``); usage counts words;
* ``/v2/embed`` needs ``model``, ``input_type``, ``embedding_types`` and
  ``texts`` and answers ``embeddings.float`` vectors (8 dimensions, or
  ``output_dimension``) with ``meta.billed_units.input_tokens``.

Mid-stream faults end with a ``message-end`` whose ``delta.error`` is set, as
Cohere reports a failed generation.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Iterable

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

__all__ = ["COHERE_KEY", "CohereMock"]

COHERE_KEY = "co-mock-key-0123456789"

_CHAT_KEYS = {
    "model", "messages", "tools", "strict_tools", "documents", "citation_options",
    "response_format", "safety_mode", "max_tokens", "stop_sequences", "temperature",
    "seed", "frequency_penalty", "presence_penalty", "k", "p", "logprobs",
    "tool_choice", "thinking", "stream", "priority",
}
_EMBED_KEYS = {
    "model", "texts", "images", "inputs", "input_type", "embedding_types",
    "output_dimension", "truncate", "max_tokens", "priority",
}
_MESSAGE_KEYS = {
    "system": {"role", "content"},
    "user": {"role", "content"},
    "assistant": {"role", "content", "tool_calls", "tool_plan", "citations"},
    "tool": {"role", "tool_call_id", "content"},
}
_PART_KEYS = {
    "text": {"type", "text"},
    "image_url": {"type", "image_url"},
    "thinking": {"type", "thinking"},
    "document": {"type", "document"},
}
#: Which content part types each role takes (``ChatMessageV2``'s content unions).
_ROLE_PARTS = {
    "system": {"text"},
    "user": {"text", "image_url"},
    "assistant": {"text", "thinking"},
    "tool": {"text", "document"},
}
_INPUT_TYPES = {"search_document", "search_query", "classification", "clustering", "image"}
_EMBEDDING_TYPES = {"float", "int8", "uint8", "binary", "ubinary", "base64"}


class _CohereInvalid(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def _bad(message: str) -> _CohereInvalid:
    return _CohereInvalid(f"invalid request: {message}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _keys(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in obj:
        if key not in allowed:
            raise _bad(f"unknown field `{key}` in {where}")


class CohereMock(MockProvider):
    """Cohere's v2 API (see the module docs)."""

    name = "cohere"
    embedding_dims = 8
    #: Extra input tokens ``usage.tokens`` counts over ``billed_units``.
    prompt_overhead = 64

    def __init__(self, api_key: str = COHERE_KEY, models: Iterable[str] | None = None, *,
                 directives: bool = False):
        super().__init__(directives=directives)
        self.api_key = api_key
        self.models = set(models) if models is not None else None

    # -- MockProvider -----------------------------------------------------------------
    def error_body(self, status: int) -> Any:
        messages = {
            400: "invalid request: mock fault",
            401: "invalid api token",
            404: "model 'mock' not found, make sure the correct model ID was used and that you have access to the model.",
            429: "You are using a Trial key, which is limited to 20 API calls / minute. You can continue to use the Trial key for free or upgrade to a Production key with higher rate limits at 'https://dashboard.cohere.com/api-keys'.",
            500: "internal server error, this has been reported to our developers.",
            503: "service unavailable",
        }
        return {"id": str(uuid.uuid4()), "message": messages.get(status, f"mock fault with status {status}")}

    def stream_error_event(self, body: Any) -> bytes:
        if body is None:
            body = {"type": "message-end", "delta": {"error": "internal server error", "finish_reason": "ERROR"}}
        return self._event(body)

    def handle(self, req: RecordedRequest) -> JsonResponse | StreamResponse:
        routes = {("POST", "/v2/chat"): self._chat, ("POST", "/v2/embed"): self._embed}
        route = routes.get((req.method, req.path))
        if route is None:
            return JsonResponse(404, {"id": str(uuid.uuid4()), "message": f"no route for {req.method} {req.path}"})
        auth = req.header("authorization") or ""
        if auth != f"Bearer {self.api_key}":
            return JsonResponse(401, {"id": str(uuid.uuid4()), "message": "invalid api token"})
        try:
            return route(req)
        except _CohereInvalid as err:
            return JsonResponse(err.status, {"id": str(uuid.uuid4()), "message": err.message})

    # -- validation ---------------------------------------------------------------------
    def _body(self, req: RecordedRequest, keys: set[str]) -> dict[str, Any]:
        if not isinstance(req.json, dict):
            raise _bad("body must be a JSON object")
        _keys(req.json, keys, "body")
        model = req.json.get("model")
        if not isinstance(model, str) or not model:
            raise _bad("`model` is required")
        if self.models is not None and model not in self.models:
            raise _CohereInvalid(
                f"model '{model}' not found, make sure the correct model ID was used and that you have access to the model.",
                404,
            )
        return req.json

    @staticmethod
    def _content(content: Any, role: str, where: str, required: bool = True) -> None:
        if content is None:
            if required:
                raise _bad(f"{where}.content is required")
            return
        if isinstance(content, str):
            return
        if not isinstance(content, list):
            raise _bad(f"{where}.content must be a string or a list of content blocks")
        for j, part in enumerate(content):
            at = f"{where}.content[{j}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in _ROLE_PARTS[role]:
                raise _bad(f"{at}.type {kind!r} is not valid for a {role} message")
            _keys(part, _PART_KEYS[kind], at)
            if kind in ("text", "thinking") and not isinstance(part.get(kind), str):
                raise _bad(f"{at}.{kind} must be a string")
            if kind == "image_url":
                image = part.get("image_url")
                if not isinstance(image, dict) or not isinstance(image.get("url"), str):
                    raise _bad(f"{at}.image_url must be an object with a string url")
                _keys(image, {"url", "detail"}, f"{at}.image_url")
                if image.get("detail", "auto") not in ("auto", "low", "high"):
                    raise _bad(f"{at}.image_url.detail must be auto, low or high")
                url = image["url"]
                if not (url.startswith("data:image/") and ";base64," in url or url.startswith(("http://", "https://"))):
                    raise _bad(f"{at}.image_url.url must be a base64 data URI or a web URL")

    def _check_messages(self, messages: Any) -> list[dict[str, Any]]:
        if not isinstance(messages, list) or not messages:
            raise _bad("`messages` must be a non-empty list")
        for i, msg in enumerate(messages):
            where = f"messages[{i}]"
            role = msg.get("role") if isinstance(msg, dict) else None
            if role not in _MESSAGE_KEYS:
                raise _bad(f"{where}.role must be one of system, user, assistant, tool; got {role!r}")
            _keys(msg, _MESSAGE_KEYS[role], where)
            if role == "assistant":
                self._content(msg.get("content"), role, where, required=not msg.get("tool_calls"))
                if "tool_plan" in msg and not isinstance(msg["tool_plan"], str):
                    raise _bad(f"{where}.tool_plan must be a string")
                calls = msg.get("tool_calls")
                if calls is not None:
                    if not isinstance(calls, list):
                        raise _bad(f"{where}.tool_calls must be a list")
                    for j, call in enumerate(calls):
                        at = f"{where}.tool_calls[{j}]"
                        if not isinstance(call, dict):
                            raise _bad(f"{at} must be an object")
                        _keys(call, {"id", "type", "function"}, at)
                        fn = call.get("function")
                        if not isinstance(call.get("id"), str) or call.get("type") != "function" or not isinstance(fn, dict):
                            raise _bad(f"{at} needs a string id, type function and a function object")
                        _keys(fn, {"name", "arguments"}, f"{at}.function")
                        if not isinstance(fn.get("name"), str) or not isinstance(fn.get("arguments"), str):
                            raise _bad(f"{at}.function needs a string name and string arguments")
                        try:
                            json.loads(fn["arguments"])
                        except ValueError:
                            raise _bad(f"{at}.function.arguments must be a JSON object string") from None
            else:
                self._content(msg.get("content"), role, where)
            if role == "tool" and not isinstance(msg.get("tool_call_id"), str):
                raise _bad(f"{where}.tool_call_id is required")
        return messages

    @staticmethod
    def _check_tools(tools: Any) -> list[dict[str, Any]]:
        if tools is None:
            return []
        if not isinstance(tools, list):
            raise _bad("`tools` must be a list")
        for i, tool in enumerate(tools):
            at = f"tools[{i}]"
            if not isinstance(tool, dict) or tool.get("type") != "function":
                raise _bad(f"{at}.type must be function")
            _keys(tool, {"type", "function"}, at)
            fn = tool.get("function")
            if not isinstance(fn, dict):
                raise _bad(f"{at}.function is required")
            _keys(fn, {"name", "description", "parameters"}, f"{at}.function")
            if not isinstance(fn.get("name"), str) or not isinstance(fn.get("parameters"), dict):
                raise _bad(f"{at}.function needs a string name and a parameters object")
        return tools

    def _check_chat(self, body: dict[str, Any]) -> None:
        if not isinstance(body.get("stream", False), bool):
            raise _bad("`stream` must be a boolean")
        if "max_tokens" in body and not (_is_int(body["max_tokens"]) and body["max_tokens"] >= 1):
            raise _bad("`max_tokens` must be a positive integer")
        stops = body.get("stop_sequences")
        if stops is not None and (not isinstance(stops, list) or len(stops) > 5
                                  or not all(isinstance(s, str) for s in stops)):
            raise _bad("`stop_sequences` must be a list of up to 5 strings")
        for key, low, high in (("temperature", 0, 5), ("p", 0.01, 0.99), ("frequency_penalty", 0, 1),
                               ("presence_penalty", 0, 1)):
            if key in body and not (_is_num(body[key]) and low <= body[key] <= high):
                raise _bad(f"`{key}` must be a number between {low} and {high}")
        if "k" in body and not (_is_int(body["k"]) and 0 <= body["k"] <= 500):
            raise _bad("`k` must be an integer between 0 and 500")
        if "seed" in body and not _is_int(body["seed"]):
            raise _bad("`seed` must be an integer")
        choice = body.get("tool_choice")
        if choice is not None:
            if choice not in ("REQUIRED", "NONE"):
                raise _bad(f"`tool_choice` must be REQUIRED or NONE, got {choice!r}")
            if choice == "REQUIRED" and not body.get("tools"):
                raise _bad("`tool_choice` REQUIRED needs `tools`")
        rf = body.get("response_format")
        if rf is not None:
            if not isinstance(rf, dict) or rf.get("type") not in ("text", "json_object"):
                raise _bad("`response_format.type` must be text or json_object")
            _keys(rf, {"type", "json_schema"} if rf["type"] == "json_object" else {"type"}, "response_format")
            if "json_schema" in rf and not isinstance(rf["json_schema"], dict):
                raise _bad("`response_format.json_schema` must be an object")
            if body.get("tools") or body.get("documents"):
                raise _bad("`response_format` is not supported with `tools` or `documents`")
        thinking = body.get("thinking")
        if thinking is not None:
            if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled"):
                raise _bad("`thinking.type` must be enabled or disabled")
            _keys(thinking, {"type", "token_budget"}, "thinking")
            if "token_budget" in thinking and not (_is_int(thinking["token_budget"]) and thinking["token_budget"] > 0):
                raise _bad("`thinking.token_budget` must be a positive integer")
        if body.get("safety_mode") not in (None, "CONTEXTUAL", "STRICT", "OFF"):
            raise _bad("`safety_mode` must be CONTEXTUAL, STRICT or OFF")

    # -- chat ---------------------------------------------------------------------------
    @staticmethod
    def _text_of(content: Any) -> str:
        if isinstance(content, str):
            return content
        return "".join(p.get("text", "") for p in content or [] if p.get("type") == "text")

    def _chat(self, req: RecordedRequest) -> JsonResponse | StreamResponse:
        body = self._body(req, _CHAT_KEYS)
        messages = self._check_messages(body.get("messages"))
        tools = self._check_tools(body.get("tools"))
        self._check_chat(body)
        last = messages[-1]
        users = [m for m in messages if m["role"] == "user"]
        last_user = self._text_of(users[-1]["content"]) if users else ""
        prompt = sum(_words(self._text_of(m.get("content"))) for m in messages)
        thinking = body.get("thinking") or {}
        thought = None
        if thinking.get("type") == "enabled":
            thought = f"cohere mock thought (budget {thinking.get('token_budget', 'default')})"
        calls: list[dict[str, Any]] = []
        plan = ""
        reason = "COMPLETE"
        if last["role"] == "tool":
            names = {c["id"]: c["function"]["name"] for m in messages if m["role"] == "assistant"
                     for c in m.get("tool_calls") or []}
            text = f"cohere mock received tool result: {names.get(last['tool_call_id'], '?')}={self._text_of(last['content'])}"
        elif tools and body.get("tool_choice") != "NONE":
            name = tools[0]["function"]["name"]
            plan = f"I will call {name}."
            calls = [{"id": f"{name}_{self._next_id():04d}", "type": "function",
                      "function": {"name": name, "arguments": _compact(self.tool_args)}}]
            text = ""
            reason = "TOOL_CALL"
        else:
            text = self.answer_text(last_user)
            text, stopped = _apply_stop(text, body.get("stop_sequences") or [])
            text, cut = _truncate(text, body.get("max_tokens"))
            if stopped is not None:
                reason = "STOP_SEQUENCE"
            if cut:
                reason = "MAX_TOKENS"
            if (body.get("response_format") or {}).get("type") == "json_object":
                text = _compact({"answer": text})
        completion = _words(text) if text else max(1, len(_compact(calls)) // 4)
        usage = {
            "billed_units": {"input_tokens": prompt, "output_tokens": completion},
            "tokens": {"input_tokens": prompt + self.prompt_overhead, "output_tokens": completion},
        }
        msg_id = str(uuid.uuid4())
        if not body.get("stream", False):
            content = []
            if thought:
                content.append({"type": "thinking", "thinking": thought})
            if text:
                content.append({"type": "text", "text": text})
            message: dict[str, Any] = {"role": "assistant"}
            if content:
                message["content"] = content
            if calls:
                message["tool_plan"] = plan
                message["tool_calls"] = calls
            return JsonResponse(200, {"id": msg_id, "finish_reason": reason, "message": message, "usage": usage})

        events = [self._event({"id": msg_id, "type": "message-start", "delta": {"message": {
            "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}})]
        index = 0
        if thought:
            events.append(self._event({"type": "content-start", "index": index, "delta": {"message": {"content": {"type": "thinking", "thinking": ""}}}}))
            for piece in _pieces(thought):
                events.append(self._event({"type": "content-delta", "index": index, "delta": {"message": {"content": {"thinking": piece}}}}))
            events.append(self._event({"type": "content-end", "index": index}))
            index += 1
        if text:
            events.append(self._event({"type": "content-start", "index": index, "delta": {"message": {"content": {"type": "text", "text": ""}}}}))
            for piece in _pieces(text):
                events.append(self._event({"type": "content-delta", "index": index, "delta": {"message": {"content": {"text": piece}}}}))
            events.append(self._event({"type": "content-end", "index": index}))
        for piece in _pieces(plan) if plan else []:
            events.append(self._event({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": piece}}}))
        for i, call in enumerate(calls):
            start = {"id": call["id"], "type": "function", "function": {"name": call["function"]["name"], "arguments": ""}}
            events.append(self._event({"type": "tool-call-start", "index": i, "delta": {"message": {"tool_calls": start}}}))
            for piece in _split_string(call["function"]["arguments"], 3):
                events.append(self._event({"type": "tool-call-delta", "index": i, "delta": {"message": {"tool_calls": {"function": {"arguments": piece}}}}}))
            events.append(self._event({"type": "tool-call-end", "index": i}))
        events.append(self._event({"type": "message-end", "delta": {"finish_reason": reason, "usage": usage}}))
        return StreamResponse(events)

    @staticmethod
    def _event(data: dict[str, Any]) -> bytes:
        return f"event: {data.get('type', 'message')}\ndata: {_compact(data)}\n\n".encode()

    # -- embed --------------------------------------------------------------------------
    def _embed(self, req: RecordedRequest) -> JsonResponse:
        body = self._body(req, _EMBED_KEYS)
        if body.get("input_type") not in _INPUT_TYPES:
            raise _bad("`input_type` is required: search_document, search_query, classification, clustering or image")
        types = body.get("embedding_types")
        if not isinstance(types, list) or not types or not all(t in _EMBEDDING_TYPES for t in types):
            raise _bad("`embedding_types` is required: a list of float, int8, uint8, binary, ubinary, base64")
        texts = body.get("texts")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise _bad("`texts` must be a non-empty list of strings")
        dims = body.get("output_dimension", self.embedding_dims)
        if not _is_int(dims) or dims < 1:
            raise _bad("`output_dimension` must be a positive integer")
        embeddings: dict[str, Any] = {}
        if "float" in types:
            embeddings["float"] = [_embedding(t, dims) for t in texts]
        return JsonResponse(200, {
            "id": str(uuid.uuid4()),
            "embeddings": embeddings,
            "texts": texts,
            "meta": {"api_version": {"version": "2"},
                     "billed_units": {"input_tokens": sum(_words(t) for t in texts)}},
            "response_type": "embeddings_by_type",
        })
