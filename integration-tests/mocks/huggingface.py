"""A mock of a Hugging Face Text Generation Inference (TGI) server / Inference
Endpoint: TGI's native ``POST /generate`` and ``POST /generate_stream``, and its
OpenAI-compatible Messages API ``POST /v1/chat/completions`` (plus TEI's
``POST /v1/embeddings``), as picky as TGI where a gateway bug would otherwise pass.

Shapes follow TGI's router (``GenerateRequest``, ``GenerateParameters``,
``GenerateResponse``, ``Details``, ``StreamResponse``, ``StreamDetails``,
``ErrorResponse`` in ``router/src/lib.rs``):

* authentication, when the mock has a key (an Inference Endpoint), is
  ``Authorization: Bearer <key>``; otherwise a 401 ``{"error": …}``;
* ``/generate`` and ``/generate_stream`` take exactly ``{"inputs", "parameters"}``;
  every parameter is one of ``GenerateParameters`` with TGI's validation
  (``temperature`` > 0, 0 < ``top_p`` < 1, ``max_new_tokens`` > 0, at most 4
  ``stop`` sequences, no ``decoder_input_details`` on a stream, non-empty
  ``inputs``); anything else is a 422 ``{"error": "Input validation error: …",
  "error_type": "validation"}``;
* the answer is "Hello from huggingface mock: <inputs>" — the whole prompt echoed,
  so a test sees the exact prompt the gateway built; ``max_new_tokens`` cuts in
  words (``finish_reason: length``), ``stop`` cuts (``stop_sequence``), else
  ``eos_token``; a ``grammar`` of type json makes it ``{"answer": …}``;
  ``details.prefill`` lists the prompt's words when ``decoder_input_details`` is
  set (else it is empty, as TGI's);
* streams are TGI's SSE (``data:{…}`` per token, no space after the colon); the
  last event carries a special ``</s>`` token (for ``eos_token``),
  ``generated_text`` and ``details`` with ``input_length``;
* ``/v1/chat/completions`` answers OpenAI's format as TGI does (``system_fingerprint``,
  ``usage``; a usage chunk when ``stream_options.include_usage``; a tool call for a
  request with ``tools``); ``/v1/embeddings`` answers 8-dimension vectors.

Mid-stream faults are TGI's ``data:{"error": …, "error_type": "generation"}``.
"""

from __future__ import annotations

import time
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

__all__ = ["HF_KEY", "HuggingFaceMock"]

HF_KEY = "hf_mock_token_0123456789"

_GENERATE_PARAMETERS = {
    "best_of", "temperature", "repetition_penalty", "frequency_penalty", "top_k", "top_p",
    "typical_p", "do_sample", "max_new_tokens", "return_full_text", "stop", "truncate",
    "watermark", "details", "decoder_input_details", "seed", "top_n_tokens", "grammar",
    "adapter_id",
}
_CHAT_KEYS = {
    "model", "messages", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
    "max_tokens", "max_completion_tokens", "n", "presence_penalty", "stream", "seed",
    "temperature", "top_p", "tools", "tool_prompt", "tool_choice", "response_format",
    "stop", "stream_options",
}


class _TgiInvalid(Exception):
    def __init__(self, message: str, status: int = 422, error_type: str = "validation"):
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type


def _validation(message: str) -> _TgiInvalid:
    return _TgiInvalid(f"Input validation error: {message}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class HuggingFaceMock(MockProvider):
    """TGI's native and Messages APIs (see the module docs)."""

    name = "huggingface"
    embedding_dims = 8
    model_id = "mistralai/Mistral-7B-Instruct-v0.2"

    def __init__(self, api_key: str | None = HF_KEY, *, directives: bool = False):
        super().__init__(directives=directives)
        self.api_key = api_key

    # -- MockProvider -----------------------------------------------------------------
    def error_body(self, status: int) -> Any:
        if status == 429:
            return {"error": "Model is overloaded", "error_type": "overloaded"}
        if status == 424:
            return {"error": "Request failed during generation: Server error: CUDA out of memory", "error_type": "generation"}
        if status >= 500:
            return {"error": "Server error: mock fault", "error_type": "generation"}
        return {"error": f"mock fault with status {status}", "error_type": "validation"}

    def stream_error_event(self, body: Any) -> bytes:
        if body is None:
            body = {"error": "Request failed during generation: Server error: CUDA out of memory",
                    "error_type": "generation"}
        return b"data:" + _compact(body).encode() + b"\n\n"

    def handle(self, req: RecordedRequest) -> JsonResponse | StreamResponse:
        routes = {
            ("POST", "/generate"): lambda r: self._generate(r, stream=False),
            ("POST", "/generate_stream"): lambda r: self._generate(r, stream=True),
            ("POST", "/v1/chat/completions"): self._chat,
            ("POST", "/v1/embeddings"): self._embeddings,
        }
        route = routes.get((req.method, req.path))
        if route is None:
            return JsonResponse(404, b"", {"Content-Type": "text/plain"})
        if self.api_key is not None and req.header("authorization") != f"Bearer {self.api_key}":
            return JsonResponse(401, {"error": "Authorization header is correct, but the token seems invalid",
                                      "error_type": "unauthorized"})
        if not isinstance(req.json, dict):
            return JsonResponse(422, {"error": "Failed to parse the request body as JSON", "error_type": "validation"})
        try:
            return route(req)
        except _TgiInvalid as err:
            return JsonResponse(err.status, {"error": err.message, "error_type": err.error_type})

    # -- native API ---------------------------------------------------------------------
    def _check_parameters(self, params: Any, stream: bool) -> dict[str, Any]:
        if params is None:
            return {}
        if not isinstance(params, dict):
            raise _TgiInvalid("Failed to deserialize the JSON body into the target type: parameters: invalid type")
        for key in params:
            if key not in _GENERATE_PARAMETERS:
                raise _TgiInvalid(
                    f"Failed to deserialize the JSON body into the target type: parameters: unknown field `{key}`")
        if "temperature" in params and not (_is_num(params["temperature"]) and params["temperature"] > 0):
            raise _validation("`temperature` must be strictly positive")
        if "top_p" in params and not (_is_num(params["top_p"]) and 0 < params["top_p"] < 1):
            raise _validation("`top_p` must be > 0.0 and < 1.0")
        if "top_k" in params and not (_is_int(params["top_k"]) and params["top_k"] > 0):
            raise _validation("`top_k` must be strictly positive")
        if "max_new_tokens" in params and not (_is_int(params["max_new_tokens"]) and params["max_new_tokens"] > 0):
            raise _validation("`max_new_tokens` must be strictly positive")
        if "seed" in params and not (_is_int(params["seed"]) and params["seed"] >= 0):
            raise _validation("`seed` must be a non-negative integer")
        stop = params.get("stop", [])
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise _TgiInvalid("Failed to deserialize the JSON body into the target type: parameters.stop: invalid type")
        if len(stop) > 4:
            raise _validation(f"`stop` supports up to 4 stop sequences. Given: {len(stop)}")
        for flag in ("details", "decoder_input_details", "do_sample", "watermark", "return_full_text"):
            if flag in params and not isinstance(params[flag], bool):
                raise _TgiInvalid(f"Failed to deserialize the JSON body into the target type: parameters.{flag}: invalid type")
        if stream and params.get("decoder_input_details"):
            raise _validation("`decoder_input_details` == true is not supported when streaming tokens")
        if params.get("best_of", 1) != 1 and stream:
            raise _validation("`best_of` != 1 is not allowed for this endpoint")
        grammar = params.get("grammar")
        if grammar is not None and (not isinstance(grammar, dict) or grammar.get("type") not in ("json", "regex")
                                    or "value" not in grammar):
            raise _TgiInvalid("Failed to deserialize the JSON body into the target type: parameters.grammar")
        return params

    def _generate(self, req: RecordedRequest, stream: bool) -> JsonResponse | StreamResponse:
        body = req.json
        for key in body:
            if key not in ("inputs", "parameters"):
                raise _TgiInvalid(f"Failed to deserialize the JSON body into the target type: unknown field `{key}`")
        inputs = body.get("inputs")
        if not isinstance(inputs, str):
            raise _TgiInvalid("Failed to deserialize the JSON body into the target type: missing field `inputs`")
        if not inputs:
            raise _validation("`inputs` cannot be empty")
        params = self._check_parameters(body.get("parameters"), stream)
        text = self.answer_text(inputs)
        text, stopped = _apply_stop(text, params.get("stop") or [])
        text, cut = _truncate(text, params.get("max_new_tokens", 100))
        reason = "length" if cut else "stop_sequence" if stopped is not None else "eos_token"
        if (params.get("grammar") or {}).get("type") == "json":
            text = _compact({"answer": text})
        if params.get("return_full_text"):
            text = inputs + text
        prompt_words = inputs.split()
        generated = max(1, _words(text))
        if not stream:
            response: dict[str, Any] = {"generated_text": text}
            if params.get("details"):
                response["details"] = {
                    "finish_reason": reason,
                    "generated_tokens": generated,
                    "seed": params.get("seed"),
                    "prefill": [{"id": i, "text": w, "logprob": None if i == 0 else -1.0}
                                for i, w in enumerate(prompt_words)] if params.get("decoder_input_details") else [],
                    "tokens": [{"id": 100 + i, "text": w, "logprob": -0.5, "special": False}
                               for i, w in enumerate(_pieces(text, 1))],
                }
            return JsonResponse(200, response)
        pieces = _pieces(text, 1)
        events = []
        for i, piece in enumerate(pieces):
            event = {"index": i + 1, "token": {"id": 100 + i, "text": piece, "logprob": -0.5, "special": False},
                     "generated_text": None, "details": None}
            events.append(event)
        if reason == "eos_token":
            events.append({"index": len(pieces) + 1,
                           "token": {"id": 2, "text": "</s>", "logprob": -0.1, "special": True},
                           "generated_text": None, "details": None})
        last = events[-1]
        last["generated_text"] = text
        if params.get("details"):
            last["details"] = {"finish_reason": reason, "generated_tokens": generated,
                               "seed": params.get("seed"), "input_length": len(prompt_words)}
        return StreamResponse([b"data:" + _compact(e).encode() + b"\n\n" for e in events])

    # -- Messages API (OpenAI-compatible) ----------------------------------------------
    def _chat(self, req: RecordedRequest) -> JsonResponse | StreamResponse:
        body = req.json
        for key in body:
            if key not in _CHAT_KEYS:
                raise _TgiInvalid(f"Failed to deserialize the JSON body into the target type: unknown field `{key}`")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _TgiInvalid("Failed to deserialize the JSON body into the target type: missing field `messages`")
        if not isinstance(body.get("model", ""), str):
            raise _TgiInvalid("Failed to deserialize the JSON body into the target type: model: invalid type")
        def text_of(content: Any) -> str:
            if isinstance(content, str):
                return content
            return "".join(p.get("text", "") for p in content or [] if isinstance(p, dict) and p.get("type") == "text")
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        last_user = text_of(users[-1].get("content")) if users else ""
        prompt = sum(_words(text_of(m.get("content"))) for m in messages if isinstance(m, dict))
        last = messages[-1]
        created = int(time.time())
        model = body.get("model") or "tgi"
        calls = []
        if last.get("role") == "tool":
            text = f"huggingface mock received tool result: {text_of(last.get('content'))}"
        elif body.get("tools") and body.get("tool_choice") != "none":
            fn = body["tools"][0]["function"]["name"]
            calls = [{"id": "0", "type": "function",
                      "function": {"name": fn, "arguments": _compact(self.tool_args)}}]
            text = ""
        else:
            text = self.answer_text(last_user)
            text, _ = _truncate(text, body.get("max_tokens") or body.get("max_completion_tokens"))
            if (body.get("response_format") or {}).get("type") in ("json_object", "json_schema", "json"):
                text = _compact({"answer": text})
        completion = max(1, _words(text)) if text else 8
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        reason = "tool_calls" if calls else "stop"
        base = {"id": "", "created": created, "model": model, "system_fingerprint": "3.0.0-native"}
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": text or None}
            if calls:
                message["tool_calls"] = calls
            return JsonResponse(200, {**base, "object": "chat.completion", "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": reason}], "usage": usage})
        chunks = []
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if calls:
            call = calls[0]
            parts = _split_string(call["function"]["arguments"], 3)
            chunks.append(chunk({"role": "assistant", "tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                 "function": {"name": call["function"]["name"], "arguments": parts[0]}}]}))
            for part in parts[1:]:
                chunks.append(chunk({"role": "assistant", "tool_calls": [{"index": 0, "function": {"arguments": part}}]}))
        else:
            for piece in _pieces(text):
                chunks.append(chunk({"role": "assistant", "content": piece}))
        chunks.append(chunk({"role": "assistant", "content": ""}, reason))
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage})
        events = [b"data: " + _compact(c).encode() + b"\n\n" for c in chunks]
        events.append(b"data: [DONE]\n\n")
        return StreamResponse(events)

    def _embeddings(self, req: RecordedRequest) -> JsonResponse:
        body = req.json
        for key in body:
            if key not in ("model", "input", "encoding_format", "dimensions", "user"):
                raise _TgiInvalid(f"unknown field `{key}`")
        items = body.get("input")
        items = [items] if isinstance(items, str) else items
        if not isinstance(items, list) or not items or not all(isinstance(t, str) for t in items):
            raise _TgiInvalid("`input` must be a string or a list of strings")
        if body.get("encoding_format", "float") != "float":
            raise _TgiInvalid("`encoding_format` must be float")
        data = [{"object": "embedding", "index": i, "embedding": _embedding(t, self.embedding_dims)}
                for i, t in enumerate(items)]
        tokens = sum(_words(t) for t in items)
        return JsonResponse(200, {"object": "list", "data": data, "model": body.get("model", "tei"),
                                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
