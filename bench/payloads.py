"""The benchmark's fixed payloads: what clients send and what the mock upstream answers.

The mock upstream is nginx answering every request with a fixed body per path, so it
costs almost nothing and is never the bottleneck. The bodies follow the providers'
published formats (OpenAI chat completion object and `chat.completion.chunk` SSE;
Anthropic Messages object and its `message_start … message_stop` SSE sequence), sized
like a short real answer: about 40 tokens of text, streamed as 20 deltas.
"""

from __future__ import annotations

import json

#: The words of the answer; each stream delta carries two of them.
#: (No apostrophes: the text goes into nginx's single-quoted `return` strings.)
WORDS = ("Switchyard runs inside Envoy, so the cost of the gateway is a few microseconds "
         "of translation per request on top of the proxy itself; the rest is the time "
         "of the provider, which no gateway can shorten.").split(" ")
ANSWER = " ".join(WORDS)
DELTAS = [" ".join(WORDS[i:i + 2]) + " " for i in range(0, len(WORDS), 2)]

PROMPT_TOKENS = 24
COMPLETION_TOKENS = 40


def chat_request(model: str, stream: bool = False) -> dict:
    """An OpenAI chat completion request, like the openai SDK sends it."""
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "In one sentence: why run an LLM gateway inside Envoy?"},
        ],
        "max_tokens": 64,
        "temperature": 0.2,
    }
    if stream:
        body["stream"] = True
    return body


def openai_completion() -> bytes:
    return json.dumps({
        "id": "chatcmpl-bench0001",
        "object": "chat.completion",
        "created": 1763800000,
        "model": "gpt-bench",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": ANSWER, "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                  "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS},
        "system_fingerprint": "fp_bench",
    }, separators=(",", ":")).encode()


def _sse(data: dict | str, event: str | None = None) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


def openai_stream() -> bytes:
    """`chat.completion.chunk` events, then the usage chunk, then `[DONE]`."""
    base = {"id": "chatcmpl-bench0001", "object": "chat.completion.chunk",
            "created": 1763800000, "model": "gpt-bench", "system_fingerprint": "fp_bench"}
    out = [_sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                      "logprobs": None, "finish_reason": None}]})]
    for text in DELTAS:
        out.append(_sse({**base, "choices": [{"index": 0, "delta": {"content": text},
                                              "logprobs": None, "finish_reason": None}]}))
    out.append(_sse({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None,
                                          "finish_reason": "stop"}]}))
    out.append(_sse({**base, "choices": [], "usage": {
        "prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS}}))
    out.append(_sse("[DONE]"))
    return "".join(out).encode()


def anthropic_message() -> bytes:
    return json.dumps({
        "id": "msg_01BenchAnswer0001",
        "type": "message",
        "role": "assistant",
        "model": "claude-bench",
        "content": [{"type": "text", "text": ANSWER}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": COMPLETION_TOKENS,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }, separators=(",", ":")).encode()


def anthropic_stream() -> bytes:
    """Anthropic's documented event sequence: message_start, content_block_start,
    ping, content_block_delta…, content_block_stop, message_delta, message_stop."""
    out = [
        _sse({"type": "message_start", "message": {
            "id": "msg_01BenchAnswer0001", "type": "message", "role": "assistant",
            "model": "claude-bench", "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": 1,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}},
            "message_start"),
        _sse({"type": "content_block_start", "index": 0,
              "content_block": {"type": "text", "text": ""}}, "content_block_start"),
        _sse({"type": "ping"}, "ping"),
    ]
    for text in DELTAS:
        out.append(_sse({"type": "content_block_delta", "index": 0,
                         "delta": {"type": "text_delta", "text": text}}, "content_block_delta"))
    out += [
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _sse({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
              "usage": {"output_tokens": COMPLETION_TOKENS}}, "message_delta"),
        _sse({"type": "message_stop"}, "message_stop"),
    ]
    return "".join(out).encode()


#: nginx location → (content type, body).
MOCK_ROUTES = {
    "/v1/chat/completions": ("application/json", openai_completion),
    "/stream/v1/chat/completions": ("text/event-stream", openai_stream),
    "/v1/messages": ("application/json", anthropic_message),
    "/stream/v1/messages": ("text/event-stream", anthropic_stream),
}
