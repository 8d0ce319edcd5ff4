"""The OpenAI API mock (chat completions, completions, embeddings, models), the
OpenAI-shaped request validation Azure shares, and the profiles of the
OpenAI-compatible clouds (:data:`CLOUD_PROFILES`)."""

from __future__ import annotations

import base64
import json
import re
import struct
import time
from typing import Any, Callable, Iterable

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
    _split_string,
    _truncate,
    _type_name,
    _words,
)

__all__ = ["CLOUD_PROFILES", "OpenAIMock"]

class _Invalid(Exception):
    """A request validation failure: message, param and code in OpenAI terms."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None,
                 status: int = 400, type_: str = "invalid_request_error"):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status
        self.type = type_


_CHAT_PARAMS = {
    "model", "messages", "audio", "frequency_penalty", "function_call", "functions",
    "logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata",
    "modalities", "n", "parallel_tool_calls", "prediction", "presence_penalty",
    "prompt_cache_key", "prompt_cache_retention", "reasoning_effort", "response_format",
    "safety_identifier", "seed", "service_tier", "stop", "store", "stream",
    "stream_options", "temperature", "tool_choice", "tools", "top_logprobs", "top_p",
    "user", "verbosity", "web_search_options",
}
_COMPLETION_PARAMS = {
    "model", "prompt", "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs",
    "max_tokens", "n", "presence_penalty", "seed", "stop", "stream", "stream_options",
    "suffix", "temperature", "top_p", "user",
}
_EMBEDDING_PARAMS = {"model", "input", "dimensions", "encoding_format", "user"}
_MESSAGE_KEYS = {
    "system": {"role", "content", "name"},
    "developer": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "name", "tool_calls", "function_call", "refusal", "audio"},
    "tool": {"role", "content", "tool_call_id"},
    "function": {"role", "content", "name"},
}
_PART_KEYS = {
    "text": {"type", "text"},
    "image_url": {"type", "image_url"},
    "input_audio": {"type", "input_audio"},
    "file": {"type", "file"},
    "refusal": {"type", "refusal"},
}
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _openai_error(message: str, type_: str = "invalid_request_error",
                  param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _missing(param: str) -> _Invalid:
    return _Invalid(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def _bad_type(param: str, expected: str, value: Any) -> _Invalid:
    return _Invalid(
        f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.",
        param,
        "invalid_type",
    )


def _extra_keys(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in obj:
        if key not in allowed:
            raise _Invalid(
                f"Additional properties are not allowed ('{key}' was unexpected) - '{where}'",
                where,
            )


class _OpenAIShaped(MockProvider):
    """Chat completions, completions and embeddings in the OpenAI wire format."""

    #: Vector size for embeddings when the request has no ``dimensions``.
    embedding_dims = 8

    def __init__(self, api_key: str, models: Iterable[str] | None = None, *,
                 directives: bool = False):
        super().__init__(directives=directives)
        self.api_key = api_key
        self.models = set(models) if models is not None else None
        #: Usage override for answers: keys prompt_tokens, completion_tokens, cached_tokens.
        self.usage: dict[str, int] = {}
        #: The chat parameters accepted (anything else: "Unrecognized request argument").
        #: OpenAI-compatible clouds accept fewer (see :class:`OpenAIMock`'s ``profile``).
        self.chat_params: set[str] = set(_CHAT_PARAMS)
        #: The string values ``tool_choice`` may take.
        self.tool_choice_values: tuple[str, ...] = ("none", "auto", "required")
        #: Message fields refused for every role but ``tool`` (Mistral refuses ``name``).
        self.forbidden_message_keys: set[str] = set()
        #: ``response_format`` types accepted (Groq: no ``json_schema`` on most models).
        self.response_format_types: tuple[str, ...] = ("text", "json_object", "json_schema")
        #: JSON mode cannot stream (Groq: "response_format does not support streaming").
        self.json_mode_streams = True
        #: Streams always end with usage (on the finish chunk), unasked, as Mistral's,
        #: Perplexity's, Cerebras' and Fireworks' do; such providers take no
        #: ``stream_options`` (leave it out of ``chat_params``).
        self.stream_usage_always = False
        #: Magistral models think in `thinking` content chunks when the system prompt
        #: is Mistral's reasoning prompt (Mistral).
        self.mistral_thinking = False
        #: Where a reasoning model's reasoning goes (OpenRouter: `reasoning`).
        self.reasoning_key = "reasoning_content"
        #: `usage: {"include": true}` adds the price to usage as `cost` (OpenRouter).
        self.usage_cost = False

    # -- validation -------------------------------------------------------------------
    def _require_object(self, req: RecordedRequest) -> dict[str, Any]:
        if req.json is None and req.body:
            raise _Invalid(
                "We could not parse the JSON body of your request. (HINT: This likely means "
                "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                "payload, but what was sent was not valid JSON. If you have trouble figuring "
                "out how to fix this, please contact us through our help center at "
                "help.openai.com.)"
            )
        if not isinstance(req.json, dict):
            raise _Invalid(
                "You must provide a JSON object body with the request parameters.", None
            )
        return req.json

    def _check_unknown(self, body: dict[str, Any], allowed: set[str]) -> None:
        for key in body:
            if key not in allowed:
                raise _Invalid(f"Unrecognized request argument supplied: {key}")

    def _check_model(self, body: dict[str, Any], required: bool = True) -> str | None:
        model = body.get("model")
        if model is None:
            if required:
                raise _Invalid("you must provide a model parameter")
            return None
        if not isinstance(model, str):
            raise _bad_type("model", "a string", model)
        if self.models is not None and model not in self.models:
            raise _Invalid(
                f"The model `{model}` does not exist or you do not have access to it.",
                None,
                "model_not_found",
                status=404,
            )
        return model

    def _check_common(self, body: dict[str, Any]) -> None:
        if "stream" in body and not isinstance(body["stream"], bool) and body["stream"] is not None:
            raise _bad_type("stream", "a boolean", body["stream"])
        so = body.get("stream_options")
        if so is not None:
            if not body.get("stream"):
                raise _Invalid(
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                    "stream_options",
                )
            if not isinstance(so, dict):
                raise _bad_type("stream_options", "an object", so)
            _extra_keys(so, {"include_usage", "include_obfuscation"}, "stream_options")
        for name, lo, hi in (("temperature", 0, 2), ("top_p", 0, 1),
                             ("presence_penalty", -2, 2), ("frequency_penalty", -2, 2)):
            value = body.get(name)
            if value is None:
                continue
            if not _is_number(value):
                raise _bad_type(name, "a decimal", value)
            if value > hi:
                raise _Invalid(
                    f"Invalid '{name}': decimal above maximum value. Expected a value <= {hi}, "
                    f"but got {value} instead.", name, "decimal_above_max_value")
            if value < lo:
                raise _Invalid(
                    f"Invalid '{name}': decimal below minimum value. Expected a value >= {lo}, "
                    f"but got {value} instead.", name, "decimal_below_min_value")
        for name in ("max_tokens", "max_completion_tokens", "n", "seed"):
            value = body.get(name)
            if value is not None and not _is_int(value):
                raise _bad_type(name, "an integer", value)
        if body.get("n") is not None and body["n"] < 1:
            raise _Invalid(
                f"Invalid 'n': integer below minimum value. Expected a value >= 1, "
                f"but got {body['n']} instead.", "n", "integer_below_min_value")
        stop = body.get("stop")
        if stop is not None and not isinstance(stop, str) and not (
            isinstance(stop, list) and all(isinstance(s, str) for s in stop)
        ):
            raise _bad_type("stop", "one of a string or array of strings", stop)

    def _check_content(self, content: Any, where: str, role: str) -> None:
        if isinstance(content, str):
            return
        if not isinstance(content, list):
            raise _bad_type(where, "one of a string or array of objects", content)
        for j, part in enumerate(content):
            pwhere = f"{where}[{j}]"
            if not isinstance(part, dict):
                raise _bad_type(pwhere, "an object", part)
            ptype = part.get("type")
            if ptype is None:
                raise _missing(f"{pwhere}.type")
            if ptype not in _PART_KEYS:
                raise _Invalid(
                    f"Invalid value: '{ptype}'. Supported values are: 'text', 'image_url', "
                    f"'input_audio', 'refusal', 'audio', and 'file'.",
                    f"{pwhere}.type", "invalid_value")
            _extra_keys(part, _PART_KEYS[ptype], pwhere.replace("[", ".").replace("]", ""))
            if ptype == "text" and not isinstance(part.get("text"), str):
                if "text" not in part:
                    raise _missing(f"{pwhere}.text")
                raise _bad_type(f"{pwhere}.text", "a string", part["text"])
            if ptype == "image_url":
                image = part.get("image_url")
                if not isinstance(image, dict) or not isinstance(image.get("url"), str):
                    raise _missing(f"{pwhere}.image_url.url")
            if ptype in ("image_url", "input_audio", "file") and role != "user":
                raise _Invalid(
                    f"Invalid value: '{ptype}'. Supported values are: 'text' and 'refusal'.",
                    f"{pwhere}.type", "invalid_value")

    def _check_messages(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        if "messages" not in body:
            raise _missing("messages")
        messages = body["messages"]
        if not isinstance(messages, list):
            raise _bad_type("messages", "an array", messages)
        if not messages:
            raise _Invalid(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                "but got an empty array instead.", "messages", "empty_array")
        pending: list[str] = []  # tool_call ids still waiting for their tool message
        pending_at = 0
        for i, msg in enumerate(messages):
            where = f"messages[{i}]"
            if not isinstance(msg, dict):
                raise _bad_type(where, "an object", msg)
            role = msg.get("role")
            if role is None:
                raise _missing(f"{where}.role")
            if role not in _MESSAGE_KEYS:
                raise _Invalid(
                    f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', "
                    f"'user', 'function', 'tool', and 'developer'.", f"{where}.role",
                    "invalid_value")
            _extra_keys(msg, _MESSAGE_KEYS[role], f"messages.{i}")
            if role != "tool":
                for key in self.forbidden_message_keys & set(msg):
                    raise _Invalid(f"Extra inputs are not permitted: messages.{i}.{key}",
                                   f"messages.{i}.{key}", "extra_forbidden", status=422)
            if role == "tool":
                if "tool_call_id" not in msg:
                    raise _missing(f"{where}.tool_call_id")
                if msg["tool_call_id"] not in pending:
                    raise _Invalid(
                        "Invalid parameter: messages with role 'tool' must be a response to a "
                        "preceeding message with 'tool_calls'.", f"messages.[{i}].role")
                pending.remove(msg["tool_call_id"])
            elif pending:
                raise _Invalid(
                    "An assistant message with 'tool_calls' must be followed by tool messages "
                    "responding to each 'tool_call_id'. The following tool_call_ids did not "
                    f"have response messages: {', '.join(pending)}", f"messages.[{pending_at}].role")
            content = msg.get("content")
            if role == "assistant":
                if content is None and not msg.get("tool_calls") and not msg.get("function_call"):
                    raise _missing(f"{where}.content")
                calls = msg.get("tool_calls")
                if calls is not None:
                    if not isinstance(calls, list):
                        raise _bad_type(f"{where}.tool_calls", "an array", calls)
                    for k, call in enumerate(calls):
                        cwhere = f"{where}.tool_calls[{k}]"
                        if not isinstance(call, dict):
                            raise _bad_type(cwhere, "an object", call)
                        _extra_keys(call, {"id", "type", "function"}, f"messages.{i}.tool_calls.{k}")
                        for key in ("id", "type", "function"):
                            if key not in call:
                                raise _missing(f"{cwhere}.{key}")
                        fn = call["function"]
                        if not isinstance(fn, dict):
                            raise _bad_type(f"{cwhere}.function", "an object", fn)
                        for key in ("name", "arguments"):
                            if not isinstance(fn.get(key), str):
                                raise _missing(f"{cwhere}.function.{key}")
                        pending.append(call["id"])
                    pending_at = i
            elif content is None:
                raise _missing(f"{where}.content")
            if content is not None:
                self._check_content(content, f"{where}.content", role)
        if pending:
            raise _Invalid(
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(pending)}", f"messages.[{pending_at}].role")
        return messages

    def _check_tools(self, body: dict[str, Any]) -> None:
        tools = body.get("tools")
        if tools is not None:
            if not isinstance(tools, list):
                raise _bad_type("tools", "an array", tools)
            for i, tool in enumerate(tools):
                where = f"tools[{i}]"
                if not isinstance(tool, dict):
                    raise _bad_type(where, "an object", tool)
                _extra_keys(tool, {"type", "function"}, f"tools.{i}")
                if tool.get("type") != "function":
                    if "type" not in tool:
                        raise _missing(f"{where}.type")
                    raise _Invalid(
                        f"Invalid value: '{tool.get('type')}'. Supported values are: 'function' "
                        "and 'custom'.", f"{where}.type", "invalid_value")
                fn = tool.get("function")
                if not isinstance(fn, dict):
                    raise _missing(f"{where}.function")
                _extra_keys(fn, {"name", "description", "parameters", "strict"},
                            f"tools.{i}.function")
                name = fn.get("name")
                if name is None:
                    raise _missing(f"{where}.function.name")
                if not isinstance(name, str) or not _TOOL_NAME.match(name):
                    raise _Invalid(
                        f"Invalid '{where}.function.name': string does not match pattern. "
                        "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                        f"{where}.function.name", "invalid_value")
                params = fn.get("parameters")
                if params is not None and not isinstance(params, dict):
                    raise _bad_type(f"{where}.function.parameters", "an object", params)
        choice = body.get("tool_choice")
        if choice is not None:
            if not tools:
                raise _Invalid(
                    "Invalid value for 'tool_choice': 'tool_choice' is only allowed when "
                    "'tools' are specified.", "tool_choice")
            if isinstance(choice, str):
                if choice not in self.tool_choice_values:
                    raise _Invalid(
                        f"Invalid value: '{choice}'. Supported values are: "
                        + ", ".join(f"'{v}'" for v in self.tool_choice_values) + ".",
                        "tool_choice", "invalid_value")
            elif isinstance(choice, dict):
                fn = choice.get("function")
                if choice.get("type") != "function" or not isinstance(fn, dict) or not isinstance(
                    fn.get("name"), str
                ):
                    raise _missing("tool_choice.function.name")
                names = [t["function"]["name"] for t in tools]
                if fn["name"] not in names:
                    raise _Invalid(
                        f"Invalid value for 'tool_choice': tool '{fn['name']}' is not in 'tools'.",
                        "tool_choice")
            else:
                raise _bad_type("tool_choice", "one of a string or object", choice)

    # -- answers ------------------------------------------------------------------------
    @staticmethod
    def _text_of(content: Any) -> str:
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(p.get("text", "") for p in content
                            if isinstance(p, dict) and p.get("type") == "text")
        return ""

    def _prompt_words(self, messages: list[dict[str, Any]]) -> int:
        return max(1, sum(_words(self._text_of(m.get("content"))) for m in messages))

    def _usage(self, prompt: int, completion: int) -> dict[str, Any]:
        prompt = self.usage.get("prompt_tokens", prompt)
        completion = self.usage.get("completion_tokens", completion)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {
                "cached_tokens": self.usage.get("cached_tokens", 0),
                "audio_tokens": 0,
            },
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def _chat_plan(self, body: dict[str, Any], messages: list[dict[str, Any]]):
        """Decide the answer: ("tool", name) or ("text", text, finish_reason)."""
        tools = body.get("tools") or []
        choice = body.get("tool_choice")
        trailing_tools: list[str] = []
        for msg in reversed(messages):
            if msg.get("role") != "tool":
                break
            trailing_tools.insert(0, self._text_of(msg.get("content")))
        if trailing_tools:
            text = self.reply_text or f"{self.name} mock received tool result: " + "; ".join(
                trailing_tools)
        elif tools and choice != "none":
            name = tools[0]["function"]["name"]
            if isinstance(choice, dict):
                name = choice["function"]["name"]
            return ("tool", name)
        else:
            last_user = ""
            for msg in reversed(messages):
                if msg.get("role") == "user":
                    last_user = self._text_of(msg.get("content"))
                    break
            text = self.answer_text(last_user)
        stops = body.get("stop") or []
        if isinstance(stops, str):
            stops = [stops]
        text, matched = _apply_stop(text, stops)
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        text, cut = _truncate(text, limit)
        return ("text", text, "length" if cut else "stop")

    def _chat_id(self) -> str:
        return f"chatcmpl-mock{self._next_id():06d}"

    def _chat_extra(self) -> dict[str, Any]:
        """Provider-specific top-level fields of a chat answer."""
        return {"service_tier": "default"}

    def _choice_extra(self) -> dict[str, Any]:
        return {}

    def chat_completion(self, req: RecordedRequest, model_override: str | None = None):
        body = self._require_object(req)
        self._check_unknown(body, self.chat_params)
        model = self._check_model(body, required=model_override is None) or ""
        self._check_common(body)
        messages = self._check_messages(body)
        self._check_tools(body)
        rf = body.get("response_format")
        if isinstance(rf, dict):
            if rf.get("type") not in self.response_format_types:
                raise _Invalid(f"response_format type '{rf.get('type')}' is not supported by "
                               "this model", "response_format")
            if body.get("stream") and not self.json_mode_streams:
                raise _Invalid("response_format does not support streaming", "response_format")
        model = model_override or model
        plan = self._chat_plan(body, messages)
        prompt = self._prompt_words(messages)
        cid, created = self._chat_id(), int(time.time())
        # Reasoning models (DeepSeek, Groq, xAI, vLLM, … in OpenAI's format) answer
        # with `reasoning_content` beside the content.
        reasoning = (f"{self.name} mock reasoned ({body['reasoning_effort']})"
                     if isinstance(body.get("reasoning_effort"), str) else None)
        thinking = self._mistral_thought(model, messages)
        usage_obj = body.get("usage")
        if usage_obj is not None and not (isinstance(usage_obj, dict)
                                          and set(usage_obj) <= {"include"}):
            raise _Invalid("usage must be an object like {\"include\": true}", "usage")
        with_cost = self.usage_cost and bool((usage_obj or {}).get("include"))
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            stream = self._chat_stream(cid, created, model, plan, prompt, include_usage)
            for i, event in enumerate(stream.events):
                if reasoning is None and thinking is None:
                    break
                first = json.loads(event[len(b"data: "):])
                if first.get("choices"):
                    if thinking is not None:
                        delta = {"role": "assistant", "content": [
                            {"type": "thinking", "thinking": [{"type": "text", "text": thinking}]}]}
                    else:
                        delta = {"role": "assistant", "content": None,
                                 self.reasoning_key: reasoning}
                    first["choices"][0]["delta"] = delta
                    stream.events.insert(i, b"data: " + _compact(first).encode() + b"\n\n")
                    break
            if with_cost:
                stream.events = [self._with_cost(e) for e in stream.events]
            return stream
        rf = body.get("response_format")
        if isinstance(rf, dict) and rf.get("type") in ("json_object", "json_schema") \
                and plan[0] == "text":
            # JSON mode: the answer is a JSON object holding the text.
            plan = ("text", _compact({"answer": plan[1]}), plan[2])
        n = body.get("n") or 1
        if plan[0] == "tool":
            args = _compact(self.tool_args)
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [{
                    "id": f"call_mock{self._next_id():06d}",
                    "type": "function",
                    "function": {"name": plan[1], "arguments": args},
                }],
                "refusal": None,
                "annotations": [],
            }
            finish, completion = "tool_calls", max(1, len(args) // 4)
        else:
            message = {"role": "assistant", "content": plan[1], "refusal": None,
                       "annotations": []}
            if reasoning is not None:
                message[self.reasoning_key] = reasoning
            if thinking is not None:
                message["content"] = [
                    {"type": "thinking", "thinking": [{"type": "text", "text": thinking}]},
                    {"type": "text", "text": plan[1]},
                ]
            finish, completion = plan[2], _words(plan[1])
        answer = {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {"index": i, "message": message, "logprobs": None, "finish_reason": finish,
                 **self._choice_extra()}
                for i in range(n)
            ],
            "usage": self._usage(prompt, completion * n),
            "system_fingerprint": "fp_mock",
            **self._chat_extra(),
        }
        if with_cost:
            answer["usage"]["cost"] = self._cost(answer["usage"])
        return JsonResponse(200, answer)

    #: Marks Mistral's reasoning system prompt (LiteLLM's, after the Magistral card).
    MISTRAL_REASONING_MARK = "[SYSTEM_PROMPT]system_prompt"

    def _mistral_thought(self, model: str, messages: list[dict[str, Any]]) -> str | None:
        """What a Magistral model thinks, when its system prompt asks it to."""
        if not (self.mistral_thinking and "magistral" in model):
            return None
        system = next((m for m in messages if m.get("role") == "system"), None)
        if system is None or self.MISTRAL_REASONING_MARK not in self._text_of(
                system.get("content")):
            return None
        return f"{self.name} mock thought it through"

    @staticmethod
    def _cost(usage: dict[str, Any]) -> float:
        """The mock's price: $1 per million prompt tokens, $2 per million completion."""
        return usage["prompt_tokens"] * 1e-6 + usage["completion_tokens"] * 2e-6

    def _with_cost(self, event: bytes) -> bytes:
        """A stream event whose usage object gets the price."""
        if not event.startswith(b"data: {"):
            return event
        obj = json.loads(event[len(b"data: "):])
        if not isinstance(obj.get("usage"), dict):
            return event
        obj["usage"]["cost"] = self._cost(obj["usage"])
        return b"data: " + _compact(obj).encode() + b"\n\n"

    def _first_stream_events(self, created: int) -> list[bytes]:
        """Events sent before the first chunk (Azure sends its prompt filter results)."""
        return []

    def _chat_stream(self, cid, created, model, plan, prompt, include_usage) -> StreamResponse:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            obj: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_mock",
                "choices": [{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": finish, **self._choice_extra()}],
            }
            if include_usage:
                obj["usage"] = None
            return b"data: " + _compact(obj).encode() + b"\n\n"

        events = self._first_stream_events(created)
        if plan[0] == "tool":
            args = _compact(self.tool_args)
            events.append(chunk({
                "role": "assistant",
                "content": None,
                "tool_calls": [{
                    "index": 0,
                    "id": f"call_mock{self._next_id():06d}",
                    "type": "function",
                    "function": {"name": plan[1], "arguments": ""},
                }],
                "refusal": None,
            }))
            for piece in _split_string(args, 3):
                events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
            completion = max(1, len(args) // 4)
            events.append(self._finish_chunk(chunk({}, "tool_calls"), prompt, completion))
        else:
            events.append(chunk({"role": "assistant", "content": "", "refusal": None}))
            for piece in _pieces(plan[1]):
                events.append(chunk({"content": piece}))
            completion = _words(plan[1])
            events.append(self._finish_chunk(chunk({}, plan[2]), prompt, completion))
        if include_usage:
            events.append(b"data: " + _compact({
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_mock",
                "choices": [],
                "usage": self._usage(prompt, completion),
            }).encode() + b"\n\n")
        events.append(b"data: [DONE]\n\n")
        return StreamResponse(events)

    def _finish_chunk(self, event: bytes, prompt: int, completion: int) -> bytes:
        """The finish chunk, carrying usage when the provider always sends it."""
        if not self.stream_usage_always:
            return event
        obj = json.loads(event[len(b"data: "):])
        obj["usage"] = self._usage(prompt, completion)
        return b"data: " + _compact(obj).encode() + b"\n\n"

    def completion(self, req: RecordedRequest, model_override: str | None = None):
        body = self._require_object(req)
        self._check_unknown(body, _COMPLETION_PARAMS)
        model = self._check_model(body, required=model_override is None) or ""
        model = model_override or model
        self._check_common(body)
        if "prompt" not in body:
            raise _missing("prompt")
        prompt = body["prompt"]
        if isinstance(prompt, list) and all(isinstance(p, str) for p in prompt):
            prompt_text = " ".join(prompt)
        elif isinstance(prompt, str):
            prompt_text = prompt
        elif isinstance(prompt, list) and all(_is_int(p) for p in prompt):
            prompt_text = " ".join(str(p) for p in prompt)
        else:
            raise _bad_type("prompt", "one of a string or array of strings", prompt)
        text = self.answer_text(prompt_text)
        stops = body.get("stop") or []
        text, _ = _apply_stop(text, [stops] if isinstance(stops, str) else stops)
        text, cut = _truncate(text, body.get("max_tokens", 16))
        finish = "length" if cut else "stop"
        cid, created = f"cmpl-mock{self._next_id():06d}", int(time.time())
        prompt_tokens = max(1, _words(prompt_text))
        usage = {"prompt_tokens": self.usage.get("prompt_tokens", prompt_tokens),
                 "completion_tokens": self.usage.get("completion_tokens", _words(text))}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = []
            pieces = _pieces(text)
            for k, piece in enumerate(pieces):
                last = k == len(pieces) - 1
                obj: dict[str, Any] = {
                    "id": cid, "object": "text_completion", "created": created, "model": model,
                    "choices": [{"text": piece, "index": 0, "logprobs": None,
                                 "finish_reason": finish if last else None}],
                    "system_fingerprint": "fp_mock",
                }
                if include_usage:
                    obj["usage"] = None
                events.append(b"data: " + _compact(obj).encode() + b"\n\n")
            if include_usage:
                events.append(b"data: " + _compact({
                    "id": cid, "object": "text_completion", "created": created, "model": model,
                    "choices": [], "usage": usage, "system_fingerprint": "fp_mock",
                }).encode() + b"\n\n")
            events.append(b"data: [DONE]\n\n")
            return StreamResponse(events)
        return JsonResponse(200, {
            "id": cid,
            "object": "text_completion",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}],
            "usage": usage,
        })

    def embeddings(self, req: RecordedRequest, model_override: str | None = None):
        body = self._require_object(req)
        self._check_unknown(body, _EMBEDDING_PARAMS)
        model = self._check_model(body, required=model_override is None) or ""
        model = model_override or model
        if "input" not in body:
            raise _missing("input")
        raw = body["input"]
        if isinstance(raw, str):
            inputs = [raw]
        elif isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
            inputs = raw
        elif isinstance(raw, list) and raw and all(_is_int(x) for x in raw):
            inputs = [" ".join(map(str, raw))]
        elif isinstance(raw, list) and raw and all(
            isinstance(x, list) and x and all(_is_int(t) for t in x) for x in raw
        ):
            inputs = [" ".join(map(str, x)) for x in raw]
        else:
            raise _Invalid("'$.input' is invalid. Please check the API reference: "
                           "https://platform.openai.com/docs/api-reference.", "input")
        if any(s == "" for s in inputs):
            raise _Invalid("'$.input' is invalid. Please check the API reference: "
                           "https://platform.openai.com/docs/api-reference.", "input")
        fmt = body.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            raise _Invalid(f"Invalid value: '{fmt}'. Supported values are: 'float' and 'base64'.",
                           "encoding_format", "invalid_value")
        dims = body.get("dimensions", self.embedding_dims)
        if not _is_int(dims) or dims < 1:
            raise _Invalid("Invalid 'dimensions': integer below minimum value. Expected a value "
                           ">= 1.", "dimensions", "integer_below_min_value")
        data = []
        for i, text in enumerate(inputs):
            vec = _embedding(text, dims)
            emb: Any = vec
            if fmt == "base64":
                emb = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        tokens = self.usage.get("prompt_tokens", sum(max(1, _words(t)) for t in inputs))
        return JsonResponse(200, {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })


#: How the OpenAI-compatible clouds whose chat APIs differ from OpenAI's are picky,
#: from their API references: Mistral (docs.mistral.ai, chat completions: no
#: ``seed`` but ``random_seed``, ``tool_choice`` also ``any``, no ``stream_options``:
#: usage ends every stream; unknown fields are refused, "extra_forbidden"),
#: Perplexity (docs.perplexity.ai: no tools), Cerebras and Fireworks (usage ends
#: every stream; Fireworks' ``tool_choice`` takes ``any``), Groq (JSON mode neither
#: ``json_schema`` nor streamed).
CLOUD_PROFILES: dict[str, dict[str, Any]] = {
    "mistral": {
        "chat_params": {"model", "messages", "temperature", "top_p", "max_tokens", "stream",
                        "stop", "random_seed", "response_format", "tools", "tool_choice",
                        "presence_penalty", "frequency_penalty", "n", "safe_prompt",
                        "parallel_tool_calls", "prediction", "prompt_mode"},
        "tool_choice": ("none", "auto", "any", "required"),
        "stream_usage_always": True,
        "forbidden_message_keys": {"name"},
        # Magistral answers with `thinking` content chunks (docs.mistral.ai,
        # "Reasoning"); the mock thinks when its system prompt asks it to.
        "mistral_thinking": True,
    },
    "openrouter": {
        # openrouter.ai/docs/api-reference/parameters: OpenAI's set plus routing
        # fields; `usage: {include: true}` puts the cost in `usage.cost`
        # (openrouter.ai/docs/use-cases/usage-accounting); reasoning comes back as
        # `reasoning` (openrouter.ai/docs/use-cases/reasoning-tokens).
        "chat_params": _CHAT_PARAMS | {"usage", "reasoning", "transforms", "models",
                                       "route", "provider"},
        "reasoning_key": "reasoning",
        "usage_cost": True,
    },
    "groq": {
        # Groq's JSON mode: json_object only (json_schema on a few models), never
        # streamed (console.groq.com/docs/text-chat#json-mode).
        "response_format_types": ("text", "json_object"),
        "json_mode_streams": False,
    },
    "perplexity": {
        "chat_params": {"model", "messages", "frequency_penalty", "max_tokens",
                        "presence_penalty", "response_format", "stream", "temperature",
                        "top_p", "top_k", "reasoning_effort", "search_mode",
                        "web_search_options", "search_domain_filter",
                        "search_recency_filter", "return_images", "return_related_questions"},
        "stream_usage_always": True,
    },
    "cerebras": {
        "chat_params": {"model", "messages", "max_tokens", "max_completion_tokens",
                        "response_format", "seed", "stop", "stream", "temperature", "top_p",
                        "tool_choice", "tools", "user", "reasoning_effort",
                        "parallel_tool_calls", "logprobs", "top_logprobs", "n"},
        "stream_usage_always": True,
    },
    "fireworks_ai": {
        "chat_params": _CHAT_PARAMS - {"stream_options"} | {"top_k", "prompt_truncate_length",
                                                            "context_length_exceeded_behavior"},
        "tool_choice": ("none", "auto", "any", "required"),
        "stream_usage_always": True,
    },
}


class OpenAIMock(_OpenAIShaped):
    """The OpenAI API: ``POST {prefix}/chat/completions``, ``/completions``, ``/embeddings``
    (and ``GET {prefix}/models``), with ``Authorization: Bearer <api_key>``.

    ``models``: when given, any other model gets OpenAI's 404 ``model_not_found``.
    ``base_url`` is ``http://127.0.0.1:PORT{path_prefix}``, the usual ``api_base``.
    """

    name = "openai"

    def __init__(self, api_key: str, path_prefix: str = "/v1",
                 models: Iterable[str] | None = None, *, directives: bool = False,
                 name: str | None = None, profile: str | None = None):
        super().__init__(api_key, models, directives=directives)
        self.path_prefix = "/" + path_prefix.strip("/") if path_prefix.strip("/") else ""
        if name is not None:
            self.name = name
        if profile is not None:
            self.use_profile(profile)

    def use_profile(self, profile: str) -> None:
        """Be as picky as an OpenAI-compatible cloud whose API differs from OpenAI's
        (see :data:`CLOUD_PROFILES`): its chat parameters, its ``tool_choice``
        values, usage always at the end of its streams."""
        spec = CLOUD_PROFILES[profile]
        if "chat_params" in spec:
            self.chat_params = set(spec["chat_params"])
        self.tool_choice_values = tuple(spec.get("tool_choice", self.tool_choice_values))
        self.stream_usage_always = bool(spec.get("stream_usage_always"))
        self.forbidden_message_keys = set(spec.get("forbidden_message_keys", ()))
        self.response_format_types = tuple(spec.get("response_format_types",
                                                    self.response_format_types))
        self.json_mode_streams = bool(spec.get("json_mode_streams", True))
        self.mistral_thinking = bool(spec.get("mistral_thinking"))
        self.reasoning_key = spec.get("reasoning_key", self.reasoning_key)
        self.usage_cost = bool(spec.get("usage_cost"))

    @property
    def base_url(self) -> str:
        return self.root_url + self.path_prefix

    def response_headers(self) -> dict[str, str]:
        return {
            "x-request-id": f"req_mock{self.request_count:06d}",
            "openai-processing-ms": "1",
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": "9999",
            "x-ratelimit-limit-tokens": "1000000",
            "x-ratelimit-remaining-tokens": "999000",
        }

    def error_body(self, status: int) -> Any:
        if status == 400:
            return _openai_error("Bad request (mock fault).")
        if status == 401:
            return _openai_error("Incorrect API key provided: sk-****. You can find your API key "
                                 "at https://platform.openai.com/account/api-keys.",
                                 code="invalid_api_key")
        if status == 403:
            return _openai_error("You are not allowed to sample from this model",
                                 code="unsupported_country_region_territory")
        if status == 404:
            return _openai_error("The model does not exist or you do not have access to it.",
                                 code="model_not_found")
        if status == 429:
            return _openai_error("Rate limit reached for requests (mock fault). Please try again "
                                 "in 1s.", type_="requests", code="rate_limit_exceeded")
        if status == 503:
            return _openai_error("The engine is currently overloaded, please try again later.",
                                 type_="server_error")
        if status >= 500:
            return _openai_error("The server had an error while processing your request. Sorry "
                                 "about that!", type_="server_error")
        return _openai_error(f"Mock fault with status {status}.")

    def stream_error_event(self, body: Any) -> bytes:
        if body is None:
            body = _openai_error("The server had an error while processing your request. Sorry "
                                 "about that!", type_="server_error")
        return b"data: " + (body if isinstance(body, bytes) else _compact(body).encode()) + b"\n\n"

    def _auth_error(self, req: RecordedRequest) -> JsonResponse | None:
        auth = req.header("authorization")
        if not auth:
            return JsonResponse(401, _openai_error(
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
                "or as the password field (with blank username) if you're accessing the API "
                "from your browser and are prompted for a username and password. You can "
                "obtain an API key from https://platform.openai.com/account/api-keys."))
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.api_key:
            shown = token.strip() or auth
            masked = shown[:3] + "*" * max(0, len(shown) - 7) + shown[-4:] if len(shown) > 7 else "****"
            return JsonResponse(401, _openai_error(
                f"Incorrect API key provided: {masked}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.", code="invalid_api_key"))
        return None

    def handle(self, req: RecordedRequest) -> JsonResponse | StreamResponse:
        routes: dict[tuple[str, str], Callable[[RecordedRequest], Any]] = {
            ("POST", f"{self.path_prefix}/chat/completions"): self.chat_completion,
            ("POST", f"{self.path_prefix}/completions"): self.completion,
            ("POST", f"{self.path_prefix}/embeddings"): self.embeddings,
            ("GET", f"{self.path_prefix}/models"): self._models,
        }
        route = routes.get((req.method, req.path.rstrip("/") or "/"))
        if route is None:
            return JsonResponse(404, _openai_error(
                f"Invalid URL ({req.method} {req.path})"))
        denied = self._auth_error(req)
        if denied is not None:
            return denied
        try:
            return route(req)
        except _Invalid as err:
            return JsonResponse(err.status, _openai_error(err.message, err.type, err.param,
                                                          err.code))

    def _models(self, req: RecordedRequest) -> JsonResponse:
        names = sorted(self.models) if self.models is not None else ["gpt-4o-mini"]
        return JsonResponse(200, {"object": "list", "data": [
            {"id": n, "object": "model", "created": 1700000000, "owned_by": "openai"}
            for n in names]})
