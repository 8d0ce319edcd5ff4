"""The Ollama native API mock (``/api/chat``, ``/api/generate``, ``/api/embed``, NDJSON streams)."""

from __future__ import annotations

import base64
import re
import time
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
    _truncate,
    _words,
)

__all__ = ["OllamaMock"]


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
