"""The Anthropic Messages API mock (``/v1/messages``, ``/v1/messages/count_tokens``)."""

from __future__ import annotations

import re
from typing import Any, Iterable

from .base import (
    JsonResponse,
    MockProvider,
    RecordedRequest,
    StreamResponse,
    _apply_stop,
    _compact,
    _is_int,
    _is_number,
    _pieces,
    _split_string,
    _truncate,
    _words,
)

__all__ = ["ANTHROPIC_VERSION", "AnthropicMock"]


ANTHROPIC_VERSION = "2023-06-01"
_ANTHROPIC_PARAMS = {
    "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
    "temperature", "top_k", "top_p", "tools", "tool_choice", "thinking", "service_tier",
    "container", "mcp_servers", "context_management", "output_config", "cache_control",
    "inference_geo",
}
#: Fields of a ``/v1/messages/count_tokens`` request (Anthropic's "Count tokens in a
#: Message" reference).
_ANTHROPIC_COUNT_PARAMS = {
    "model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers",
    "context_management", "output_config",
}
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_ANTHROPIC_ERROR_MESSAGES = {
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit "
                        "(mock fault).",
    "overloaded_error": "Overloaded",
    "api_error": "Internal server error",
    "authentication_error": "invalid x-api-key",
    "timeout_error": "Request timed out",
}
_CACHE_CONTROL = {"type", "ttl"}
_BLOCK_KEYS = {
    "text": {"type", "text", "cache_control", "citations"},
    "image": {"type", "source", "cache_control"},
    "document": {"type", "source", "cache_control", "citations", "context", "title"},
    "tool_use": {"type", "id", "name", "input", "cache_control"},
    "tool_result": {"type", "tool_use_id", "content", "is_error", "cache_control"},
    "thinking": {"type", "thinking", "signature"},
    "redacted_thinking": {"type", "data"},
}
_IMAGE_MEDIA = {"image/jpeg", "image/png", "image/gif", "image/webp"}
_ANTHROPIC_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_SERVER_TOOL_TYPE = re.compile(r"_\d{8}$")


def _anthropic_error(type_: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "error": {"type": type_, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body


class _AnthropicInvalid(Exception):
    pass


class AnthropicMock(MockProvider):
    """The Anthropic Messages API: ``POST /v1/messages`` (and ``/v1/messages/count_tokens``) with ``x-api-key`` and
    ``anthropic-version: 2023-06-01``.

    The request is validated the way the real API does it (unknown fields
    anywhere are "Extra inputs are not permitted"; ``system`` only top-level;
    ``max_tokens`` a required integer; content blocks with their required
    fields; ``tool_result`` must answer a ``tool_use`` of the previous assistant
    turn, every ``tool_use`` must be answered in the next user turn, and
    tool_result blocks come first in their user turn). Consecutive turns of the
    same role are accepted and combined, as the API documents.

    The answer is text, or a ``tool_use`` block when tools are given (unless
    ``tool_choice`` is ``none``) and the last user turn carries no tool_result;
    after a tool_result it is text quoting the result. ``tool_use_preamble``
    (default None) adds a text block before the tool_use block, as Claude often
    does. ``usage`` overrides token counts (keys ``input_tokens``,
    ``output_tokens``, ``cache_read_input_tokens``,
    ``cache_creation_input_tokens``).
    """

    name = "anthropic"

    def __init__(self, api_key: str, models: Iterable[str] | None = None, *,
                 directives: bool = False):
        super().__init__(directives=directives)
        self.api_key = api_key
        self.models = set(models) if models is not None else None
        self.usage: dict[str, int] = {}
        self.tool_use_preamble: str | None = None

    def response_headers(self) -> dict[str, str]:
        return {"request-id": f"req_mock{self.request_count:06d}",
                "anthropic-ratelimit-requests-limit": "4000",
                "anthropic-ratelimit-requests-remaining": "3999"}

    def _request_id(self) -> str:
        return f"req_mock{self.request_count:06d}"

    def error_body(self, status: int) -> Any:
        type_ = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        message = _ANTHROPIC_ERROR_MESSAGES.get(type_, f"Mock fault with status {status}.")
        return _anthropic_error(type_, message, self._request_id())

    def stream_error_event(self, body: Any) -> bytes:
        if body is None:
            body = _anthropic_error("overloaded_error", "Overloaded", self._request_id())
        data = body if isinstance(body, bytes) else _compact(body).encode()
        return b"event: error\ndata: " + data + b"\n\n"

    # -- routing + auth ---------------------------------------------------------------
    def handle(self, req: RecordedRequest) -> JsonResponse | StreamResponse:
        rid = self._request_id()
        path = req.path.rstrip("/")
        if path not in ("/v1/messages", "/v1/messages/count_tokens") or req.method != "POST":
            return JsonResponse(404, _anthropic_error("not_found_error", "Not Found", rid))
        key = req.header("x-api-key")
        if not key:
            return JsonResponse(401, _anthropic_error(
                "authentication_error", "x-api-key header is required", rid))
        if key != self.api_key:
            return JsonResponse(401, _anthropic_error(
                "authentication_error", "invalid x-api-key", rid))
        version = req.header("anthropic-version")
        if not version:
            return JsonResponse(400, _anthropic_error(
                "invalid_request_error", "anthropic-version: header is required", rid))
        if version != ANTHROPIC_VERSION:
            return JsonResponse(400, _anthropic_error(
                "invalid_request_error", f'anthropic-version: "{version}" is not a valid version',
                rid))
        if req.json is None:
            return JsonResponse(400, _anthropic_error(
                "invalid_request_error",
                "There was an issue with your request body: the body is not valid JSON", rid))
        if path.endswith("/count_tokens"):
            return self._count_tokens(req.json, rid)
        try:
            turns = self.validate(req.json)
        except _AnthropicInvalid as err:
            return JsonResponse(400, _anthropic_error("invalid_request_error", str(err), rid))
        model = req.json["model"]
        if self.models is not None and model not in self.models:
            return JsonResponse(404, _anthropic_error("not_found_error", f"model: {model}", rid))
        return self._answer(req.json, turns)

    def _count_tokens(self, body: Any, rid: str) -> JsonResponse:
        """``POST /v1/messages/count_tokens``: a Messages request without the
        generation fields (``max_tokens``, ``stream``, sampling: "Extra inputs are not
        permitted"), answered with ``{"input_tokens": N}`` (the words of the prompt,
        as the answers count them)."""
        try:
            if not isinstance(body, dict):
                raise self._fail("Input should be a valid dictionary")
            self._check_extra(body, _ANTHROPIC_COUNT_PARAMS, "")
            turns = self.validate({**body, "max_tokens": 1})
        except _AnthropicInvalid as err:
            return JsonResponse(400, _anthropic_error("invalid_request_error", str(err), rid))
        if self.models is not None and body["model"] not in self.models:
            return JsonResponse(404, _anthropic_error("not_found_error",
                                                      f"model: {body['model']}", rid))
        return JsonResponse(200, {"input_tokens": self._input_words(body, turns)})

    # -- validation -------------------------------------------------------------------
    @staticmethod
    def _fail(message: str) -> _AnthropicInvalid:
        return _AnthropicInvalid(message)

    def _check_extra(self, obj: dict[str, Any], allowed: set[str], where: str) -> None:
        for key in obj:
            if key not in allowed:
                raise self._fail(f"{where}{key}: Extra inputs are not permitted")

    def _check_cache_control(self, block: dict[str, Any], where: str) -> None:
        cc = block.get("cache_control")
        if cc is None:
            return
        if not isinstance(cc, dict) or cc.get("type") != "ephemeral":
            raise self._fail(f"{where}cache_control.type: Input should be 'ephemeral'")
        self._check_extra(cc, _CACHE_CONTROL, f"{where}cache_control.ephemeral.")

    def _check_block(self, block: Any, where: str, allowed_types: set[str]) -> dict[str, Any]:
        if not isinstance(block, dict):
            raise self._fail(f"{where}: Input should be a valid dictionary or object to extract "
                             "fields from")
        btype = block.get("type")
        if btype is None:
            raise self._fail(f"{where}.type: Field required")
        if btype not in allowed_types:
            tags = "', '".join(sorted(allowed_types))
            raise self._fail(f"{where}: Input tag '{btype}' found using 'type' does not match "
                             f"any of the expected tags: '{tags}'")
        prefix = f"{where}.{btype}."
        self._check_extra(block, _BLOCK_KEYS[btype], prefix)
        self._check_cache_control(block, prefix)
        if btype == "text":
            if "text" not in block:
                raise self._fail(f"{prefix}text: Field required")
            if not isinstance(block["text"], str):
                raise self._fail(f"{prefix}text: Input should be a valid string")
            if block["text"] == "":
                raise self._fail("messages: text content blocks must be non-empty")
        elif btype == "image":
            src = block.get("source")
            if not isinstance(src, dict):
                raise self._fail(f"{prefix}source: Field required")
            if src.get("type") == "base64":
                self._check_extra(src, {"type", "media_type", "data"}, f"{prefix}source.base64.")
                if src.get("media_type") not in _IMAGE_MEDIA:
                    raise self._fail(f"{prefix}source.base64.media_type: Input should be "
                                     "'image/jpeg', 'image/png', 'image/gif' or 'image/webp'")
                if not isinstance(src.get("data"), str):
                    raise self._fail(f"{prefix}source.base64.data: Field required")
            elif src.get("type") == "url":
                self._check_extra(src, {"type", "url"}, f"{prefix}source.url.")
                if not isinstance(src.get("url"), str):
                    raise self._fail(f"{prefix}source.url.url: Field required")
            else:
                raise self._fail(f"{prefix}source: Input tag '{src.get('type')}' found using "
                                 "'type' does not match any of the expected tags: 'base64', "
                                 "'file', 'url'")
        elif btype == "tool_use":
            for key in ("id", "name", "input"):
                if key not in block:
                    raise self._fail(f"{prefix}{key}: Field required")
            if not isinstance(block["id"], str) or not isinstance(block["name"], str):
                raise self._fail(f"{prefix}id: Input should be a valid string")
            if not isinstance(block["input"], dict):
                raise self._fail(f"{prefix}input: Input should be a valid dictionary")
        elif btype == "tool_result":
            if not isinstance(block.get("tool_use_id"), str):
                raise self._fail(f"{prefix}tool_use_id: Field required")
            content = block.get("content")
            if isinstance(content, list):
                for k, sub in enumerate(content):
                    self._check_block(sub, f"{prefix}content.{k}", {"text", "image", "document"})
            elif content is not None and not isinstance(content, str):
                raise self._fail(f"{prefix}content: Input should be a valid string or list")
            if "is_error" in block and not isinstance(block["is_error"], bool):
                raise self._fail(f"{prefix}is_error: Input should be a valid boolean")
        elif btype == "thinking":
            if not isinstance(block.get("thinking"), str) or not isinstance(
                    block.get("signature"), str):
                raise self._fail(f"{prefix}signature: Field required")
        return block

    def _check_tools(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        tools = body.get("tools")
        if tools is None:
            tools = []
        if not isinstance(tools, list):
            raise self._fail("tools: Input should be a valid list")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise self._fail(f"tools.{i}: Input should be a valid dictionary")
            ttype = tool.get("type", "custom")
            if ttype != "custom" and not _SERVER_TOOL_TYPE.search(str(ttype)):
                raise self._fail(f"tools.{i}: Input tag '{ttype}' found using 'type' does not "
                                 "match any of the expected tags: 'custom', 'bash_20250124', "
                                 "'text_editor_20250728', 'web_search_20250305', …")
            if ttype != "custom":
                # A versioned server tool (web_search_20250305, …): only its name is checked.
                if not isinstance(tool.get("name"), str):
                    raise self._fail(f"tools.{i}.{ttype}.name: Field required")
                continue
            where = f"tools.{i}.custom."
            self._check_extra(tool, {"type", "name", "description", "input_schema",
                                     "cache_control"}, where)
            name = tool.get("name")
            if name is None:
                raise self._fail(f"{where}name: Field required")
            if not isinstance(name, str) or not _ANTHROPIC_TOOL_NAME.match(name):
                raise self._fail(f"{where}name: String should match pattern "
                                 "'^[a-zA-Z0-9_-]{1,128}$'")
            if "description" in tool and not isinstance(tool["description"], str):
                raise self._fail(f"{where}description: Input should be a valid string")
            schema = tool.get("input_schema")
            if schema is None:
                raise self._fail(f"{where}input_schema: Field required")
            if not isinstance(schema, dict):
                raise self._fail(f"{where}input_schema: Input should be a valid dictionary")
            if schema.get("type") != "object":
                raise self._fail(f"{where}input_schema.type: Input should be 'object'")
            self._check_cache_control(tool, where)
        choice = body.get("tool_choice")
        if choice is not None:
            if not tools:
                raise self._fail("tool_choice may only be specified while providing tools.")
            if not isinstance(choice, dict) or choice.get("type") not in (
                    "auto", "any", "tool", "none"):
                raise self._fail("tool_choice: Input tag found using 'type' does not match any "
                                 "of the expected tags: 'auto', 'any', 'tool', 'none'")
            ctype = choice["type"]
            allowed = {"type"} | ({"disable_parallel_tool_use"} if ctype != "none" else set()) | (
                {"name"} if ctype == "tool" else set())
            self._check_extra(choice, allowed, f"tool_choice.{ctype}.")
            if ctype == "tool":
                if not isinstance(choice.get("name"), str):
                    raise self._fail("tool_choice.tool.name: Field required")
                if choice["name"] not in [t.get("name") for t in tools]:
                    raise self._fail(f"Tool '{choice['name']}' not found in provided tools")
            dpt = choice.get("disable_parallel_tool_use")
            if dpt is not None and not isinstance(dpt, bool):
                raise self._fail(f"tool_choice.{ctype}.disable_parallel_tool_use: Input should "
                                 "be a valid boolean")
        return tools

    def _check_thinking(self, body: dict[str, Any]) -> None:
        """Extended thinking (docs.anthropic.com, "Building with extended thinking"):
        ``{"type": "enabled", "budget_tokens": N}`` with 1024 <= N < max_tokens, or
        ``{"type": "disabled"}``; no forced tool use while thinking."""
        thinking = body.get("thinking")
        if thinking is None:
            return
        if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled"):
            raise self._fail("thinking: Input tag found using 'type' does not match any of the "
                             "expected tags: 'disabled', 'enabled'")
        if thinking["type"] == "disabled":
            self._check_extra(thinking, {"type"}, "thinking.disabled.")
            return
        self._check_extra(thinking, {"type", "budget_tokens"}, "thinking.enabled.")
        budget = thinking.get("budget_tokens")
        if budget is None:
            raise self._fail("thinking.enabled.budget_tokens: Field required")
        if not _is_int(budget):
            raise self._fail("thinking.enabled.budget_tokens: Input should be a valid integer")
        if budget < 1024:
            raise self._fail("thinking.enabled.budget_tokens: Input should be greater than or "
                             "equal to 1024")
        if body["max_tokens"] <= budget:
            raise self._fail("`max_tokens` must be greater than `thinking.budget_tokens`. Please "
                             "consult our documentation at https://docs.anthropic.com/en/docs/"
                             "build-with-claude/extended-thinking#max-tokens-and-context-window-size")
        if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
            raise self._fail("Thinking may not be enabled when tool_choice forces tool use.")

    def validate(self, body: Any) -> list[dict[str, Any]]:
        """Validate a Messages request; return the turns (consecutive same-role
        messages combined), each ``{"role", "index", "blocks"}``."""
        if not isinstance(body, dict):
            raise self._fail("Input should be a valid dictionary")
        self._check_extra(body, _ANTHROPIC_PARAMS, "")
        if "model" not in body:
            raise self._fail("model: Field required")
        if not isinstance(body["model"], str):
            raise self._fail("model: Input should be a valid string")
        if "max_tokens" not in body:
            raise self._fail("max_tokens: Field required")
        if not _is_int(body["max_tokens"]):
            raise self._fail("max_tokens: Input should be a valid integer")
        if body["max_tokens"] < 0:
            raise self._fail("max_tokens: Input should be greater than or equal to 0")
        if "messages" not in body:
            raise self._fail("messages: Field required")
        if "stream" in body and not isinstance(body["stream"], bool):
            raise self._fail("stream: Input should be a valid boolean")
        for name, lo, hi in (("temperature", 0, 1), ("top_p", 0, 1)):
            value = body.get(name)
            if value is None:
                continue
            if not _is_number(value):
                raise self._fail(f"{name}: Input should be a valid number")
            if value > hi:
                raise self._fail(f"{name}: Input should be less than or equal to {hi}")
            if value < lo:
                raise self._fail(f"{name}: Input should be greater than or equal to {lo}")
        if "top_k" in body and not _is_int(body["top_k"]):
            raise self._fail("top_k: Input should be a valid integer")
        stops = body.get("stop_sequences")
        if stops is not None and not (isinstance(stops, list)
                                      and all(isinstance(s, str) for s in stops)):
            raise self._fail("stop_sequences: Input should be a valid list of strings")
        meta = body.get("metadata")
        if meta is not None:
            if not isinstance(meta, dict):
                raise self._fail("metadata: Input should be a valid dictionary")
            self._check_extra(meta, {"user_id"}, "metadata.")
        system = body.get("system")
        if system is not None and not isinstance(system, str):
            if not isinstance(system, list):
                raise self._fail("system: Input should be a valid string or list")
            for k, block in enumerate(system):
                self._check_block(block, f"system.{k}", {"text"})
        tools = self._check_tools(body)
        del tools
        self._check_thinking(body)
        messages = body["messages"]
        if not isinstance(messages, list):
            raise self._fail("messages: Input should be a valid list")
        if not messages:
            raise self._fail("messages: at least one message is required")
        turns: list[dict[str, Any]] = []
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict):
                raise self._fail(f"messages.{i}: Input should be a valid dictionary")
            role = msg.get("role")
            if role == "system":
                raise self._fail('messages: Unexpected role "system". The Messages API accepts a '
                                 'top-level `system` parameter, not "system" as an input message '
                                 'role.')
            self._check_extra(msg, {"role", "content"}, f"messages.{i}.")
            if role is None:
                raise self._fail(f"messages.{i}.role: Field required")
            if role not in ("user", "assistant"):
                raise self._fail(f"messages.{i}.role: Input should be 'user' or 'assistant'")
            if "content" not in msg:
                raise self._fail(f"messages.{i}.content: Field required")
            content = msg["content"]
            is_final = i == len(messages) - 1
            if isinstance(content, str):
                if content == "" and not (is_final and role == "assistant"):
                    raise self._fail(f"messages.{i}: all messages must have non-empty content "
                                     "except for the optional final assistant message")
                blocks = [{"type": "text", "text": content}] if content else []
            elif isinstance(content, list):
                if not content and not (is_final and role == "assistant"):
                    raise self._fail(f"messages.{i}: all messages must have non-empty content "
                                     "except for the optional final assistant message")
                allowed = ({"text", "image", "document", "tool_result"} if role == "user"
                           else {"text", "tool_use", "thinking", "redacted_thinking"})
                blocks = [self._check_block(b, f"messages.{i}.content.{k}", allowed)
                          for k, b in enumerate(content)]
            else:
                raise self._fail(f"messages.{i}.content: Input should be a valid string or list")
            if turns and turns[-1]["role"] == role:
                turns[-1]["blocks"].extend(blocks)
            else:
                turns.append({"role": role, "index": i, "blocks": blocks})
        self._check_tool_pairing(turns)
        return turns

    def _check_tool_pairing(self, turns: list[dict[str, Any]]) -> None:
        seen_ids: set[str] = set()
        for t, turn in enumerate(turns):
            if turn["role"] == "assistant":
                ids = [b["id"] for b in turn["blocks"] if b.get("type") == "tool_use"]
                for tid in ids:
                    if tid in seen_ids:
                        raise self._fail(f"messages.{turn['index']}: `tool_use` ids must be "
                                         f"unique: {tid}")
                    seen_ids.add(tid)
                if ids and t + 1 < len(turns):
                    answered = {b["tool_use_id"] for b in turns[t + 1]["blocks"]
                                if b.get("type") == "tool_result"}
                    missing = [tid for tid in ids if tid not in answered]
                    if missing:
                        raise self._fail(
                            f"messages.{turns[t + 1]['index']}: `tool_use` ids were found without "
                            f"`tool_result` blocks immediately after: {', '.join(missing)}. Each "
                            "`tool_use` block must have a corresponding `tool_result` block in "
                            "the next message.")
                continue
            previous = turns[t - 1] if t > 0 else None
            offered = {b["id"] for b in previous["blocks"]
                       if b.get("type") == "tool_use"} if previous else set()
            seen_other = False
            for k, block in enumerate(turn["blocks"]):
                if block.get("type") != "tool_result":
                    seen_other = True
                    continue
                if block["tool_use_id"] not in offered:
                    raise self._fail(
                        f"messages.{turn['index']}.content.{k}: unexpected `tool_use_id` found in "
                        f"`tool_result` blocks: {block['tool_use_id']}. Each `tool_result` block "
                        "must have a corresponding `tool_use` block in the previous message.")
                if seen_other:
                    raise self._fail(
                        f"messages.{turn['index']}.content.{k}: `tool_result` blocks must come "
                        "first in the user message content, before any other content")

    # -- answers ------------------------------------------------------------------------
    @staticmethod
    def _block_text(block: dict[str, Any]) -> str:
        if block.get("type") == "text":
            return block.get("text", "")
        if block.get("type") == "tool_result":
            content = block.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(b.get("text", "") for b in content if b.get("type") == "text")
        return ""

    def _input_words(self, body: dict[str, Any], turns: list[dict[str, Any]]) -> int:
        words = 0
        system = body.get("system")
        if isinstance(system, str):
            words += _words(system)
        elif isinstance(system, list):
            words += sum(_words(b.get("text", "")) for b in system)
        for turn in turns:
            words += sum(_words(self._block_text(b)) for b in turn["blocks"])
        return max(1, words)

    def _answer(self, body: dict[str, Any], turns: list[dict[str, Any]]):
        last_user = next((t for t in reversed(turns) if t["role"] == "user"), None)
        user_blocks = last_user["blocks"] if last_user else []
        results = [self._block_text(b) for b in user_blocks if b.get("type") == "tool_result"]
        tools = [t for t in (body.get("tools") or []) if t.get("type", "custom") == "custom"]
        choice = body.get("tool_choice") or {"type": "auto"}
        content: list[dict[str, Any]] = []
        stop_sequence = None
        if not results and tools and choice.get("type") != "none":
            name = choice["name"] if choice.get("type") == "tool" else tools[0]["name"]
            if self.tool_use_preamble:
                content.append({"type": "text", "text": self.tool_use_preamble})
            content.append({"type": "tool_use", "id": f"toolu_mock{self._next_id():06d}",
                            "name": name, "input": dict(self.tool_args)})
            stop_reason = "tool_use"
            output = max(1, len(_compact(self.tool_args)) // 4)
        else:
            if results:
                text = self.reply_text or f"{self.name} mock received tool result: " + "; ".join(
                    results)
            else:
                text = self.answer_text(" ".join(
                    self._block_text(b) for b in user_blocks if b.get("type") == "text"))
            text, stop_sequence = _apply_stop(text, body.get("stop_sequences") or [])
            text, cut = _truncate(text, body["max_tokens"])
            stop_reason = ("max_tokens" if cut or body["max_tokens"] == 0
                           else "stop_sequence" if stop_sequence else "end_turn")
            if text:
                content.append({"type": "text", "text": text})
            output = _words(text)
        usage = {
            "input_tokens": self.usage.get("input_tokens", self._input_words(body, turns)),
            "cache_creation_input_tokens": self.usage.get("cache_creation_input_tokens", 0),
            "cache_read_input_tokens": self.usage.get("cache_read_input_tokens", 0),
            "output_tokens": self.usage.get("output_tokens", output),
        }
        if (body.get("thinking") or {}).get("type") == "enabled":
            content.insert(0, {"type": "thinking",
                               "thinking": f"{self.name} mock thought "
                                           f"({body['thinking']['budget_tokens']} tokens)",
                               "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"})
        msg_id = f"msg_mock{self._next_id():06d}"
        if body.get("stream"):
            return self._stream(msg_id, body["model"], content, stop_reason, stop_sequence, usage)
        return JsonResponse(200, {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": stop_sequence,
            "usage": {**usage, "service_tier": "standard"},
        })

    def _stream(self, msg_id, model, content, stop_reason, stop_sequence, usage) -> StreamResponse:
        def event(obj: dict[str, Any]) -> bytes:
            return f"event: {obj['type']}\ndata: {_compact(obj)}\n\n".encode()

        events = [event({
            "type": "message_start",
            "message": {
                "id": msg_id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {**usage, "output_tokens": 1, "service_tier": "standard"},
            },
        })]
        for index, block in enumerate(content):
            if block["type"] == "thinking":
                # Thinking streams as thinking_delta events, then its signature.
                events.append(event({"type": "content_block_start", "index": index,
                                     "content_block": {"type": "thinking", "thinking": ""}}))
                for piece in _pieces(block["thinking"]):
                    events.append(event({"type": "content_block_delta", "index": index,
                                         "delta": {"type": "thinking_delta", "thinking": piece}}))
                events.append(event({"type": "content_block_delta", "index": index,
                                     "delta": {"type": "signature_delta",
                                               "signature": block["signature"]}}))
            elif block["type"] == "text":
                events.append(event({"type": "content_block_start", "index": index,
                                     "content_block": {"type": "text", "text": ""}}))
                if index == 0:
                    events.append(event({"type": "ping"}))
                for piece in _pieces(block["text"]):
                    events.append(event({"type": "content_block_delta", "index": index,
                                         "delta": {"type": "text_delta", "text": piece}}))
            else:
                events.append(event({"type": "content_block_start", "index": index,
                                     "content_block": {"type": "tool_use", "id": block["id"],
                                                       "name": block["name"], "input": {}}}))
                if index == 0:
                    events.append(event({"type": "ping"}))
                pieces = [""] + _split_string(_compact(block["input"]), 3)
                for piece in pieces:
                    events.append(event({"type": "content_block_delta", "index": index,
                                         "delta": {"type": "input_json_delta",
                                                   "partial_json": piece}}))
            events.append(event({"type": "content_block_stop", "index": index}))
        if not content:
            events.append(event({"type": "ping"}))
        events.append(event({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
            "usage": usage,
        }))
        events.append(event({"type": "message_stop"}))
        return StreamResponse(events)
