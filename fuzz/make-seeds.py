#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (committed; small, realistic).

Run from anywhere: `python3 fuzz/make-seeds.py`. The Anthropic streams are read
from the unit tests' fixtures in filter/src/providers/anthropic/stream.rs so the seeds
follow them. Targets whose input is `Framed` (see fuzz/src/lib.rs) get the header
`flags[0] flags[1] n len_1 … len_n` before the payload.
"""

import json
import pathlib
import re

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


def rust_const_str(source: str, name: str) -> str:
    """The value of `const NAME: &str = concat!("…", …);` in `source`."""
    block = re.search(r"const %s: &str = concat!\((.*?)\);" % name, source, re.S)
    assert block, name
    out = []
    for lit in re.findall(r'"((?:[^"\\]|\\.)*)"', block.group(1)):
        lit = re.sub(r"\\u\{([0-9A-Fa-f]+)\}", lambda m: chr(int(m.group(1), 16)), lit)
        out.append(lit.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
    return "".join(out)


def framed(payload: bytes, flags0: int = 0, flags1: int = 0, lens: tuple = ()) -> bytes:
    return bytes([flags0, flags1, len(lens), *lens]) + payload


def j(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def write(target: str, name: str, data: bytes) -> None:
    # Seeds always have an extension: files libFuzzer adds (SHA-1 names, no dot) are
    # git-ignored (fuzz/.gitignore).
    if "." not in name:
        name += ".bin"
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


anthropic_rs = (ROOT / "filter/src/providers/anthropic/stream.rs").read_text()
TOOL_STREAM = rust_const_str(anthropic_rs, "TOOL_STREAM").encode()
THINKING_STREAM = rust_const_str(anthropic_rs, "THINKING_STREAM").encode()
ANTHROPIC_ERROR_STREAM = (
    b"event: message_start\r\n"
    b'data: {"type":"message_start","message":{"id":"msg_1","model":"claude-3-5-haiku","usage":{"input_tokens":5}}}\r\n\r\n'
    b"event: error\r\n"
    b'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\r\n\r\n'
)
OPENAI_STREAM = (
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}\n\n'
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hi \xe2\x80\x94 there"},"finish_reason":null}],"usage":null}\n\n'
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}\n\n'
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":3}}}\n\n'
    b"data: [DONE]\n\n"
)

CHAT_TOOLS_IMAGES = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image, and the weather there?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"location\": \"Paris\"}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C, cloudy"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather",
                "parameters": {
                    "type": "object",
                    "properties": {"location": {"type": "string"}},
                    "required": ["location"],
                },
            },
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "parallel_tool_calls": False,
    "max_tokens": 256,
    "temperature": 0.3,
    "top_p": 0.9,
    "stop": ["\n\n", "END"],
    "user": "user-7",
    "stream": True,
    "stream_options": {"include_usage": True},
}
CHAT_SIMPLE = {"model": "demo", "messages": [{"role": "user", "content": "Hi"}], "n": 1}
CHAT_OPENAI_ONLY = {
    "model": "openai/gpt-4o-mini",
    "messages": [{"role": "developer", "content": "Reply in JSON."}, {"role": "user", "content": "Hi"}],
    "response_format": {"type": "json_object"},
    "max_completion_tokens": 50,
    "seed": 3,
    "logprobs": True,
    "timeout": 12.5,
    "num_retries": 2,
}
COMPLETION = {"model": "gpt-4", "prompt": ["Say hi", "Say bye"], "max_tokens": 5, "stop": "\n", "stream": False}
EMBEDDING = {"model": "embedder", "input": ["one", "two"], "encoding_format": "float", "dimensions": 8}

# messages_stream: OpenAI streams (also fed to each provider's translator first).
messages_rs = (ROOT / "filter/src/client/anthropic/stream.rs").read_text()
write("messages_stream", "openai_tools_reasoning", framed(rust_const_str(messages_rs, "OPENAI_STREAM").encode()))
write("messages_stream", "openai_text_pieces", framed(OPENAI_STREAM, flags0=1, lens=(5, 1, 17)))

for target in ("translate_request", "upstream_request"):
    write(target, "chat_tools_images.json", j(CHAT_TOOLS_IMAGES))
    write(target, "chat_simple.json", j(CHAT_SIMPLE))
    write(target, "chat_openai_only.json", j(CHAT_OPENAI_ONLY))
    write(target, "completion.json", j(COMPLETION))
    write(target, "embedding.json", j(EMBEDDING))

# router_request: bits 8–11 of the flags pick the path (flags[1] low nibble).
write("router_request", "chat_mock_stream", framed(j({**CHAT_SIMPLE, "stream": True, "stream_options": {"include_usage": True}})))
write("router_request", "chat_deferred_pieces", framed(j(CHAT_TOOLS_IMAGES), flags0=1, lens=(7, 1, 30)))
write("router_request", "completion_alias", framed(j(COMPLETION), flags1=2))
write("router_request", "embedding_azure_path", framed(j({"input": "x"}), flags1=7))
write("router_request", "models_deferred_narrowed", framed(b"", flags0=1 | 32, flags1=8))
write("router_request", "fallback_replay", framed(j(CHAT_SIMPLE), flags1=12))
write("router_request", "too_large", framed(j(CHAT_TOOLS_IMAGES), flags0=2 | 16))
write("router_request", "path_in_payload", framed(b"/openai/deployments/sonnet/chat/completions?api-version=1\n" + j({"messages": [], "timeout": -1}), flags0=4))

ANTHROPIC_RESPONSE = (
    b'{"id":"msg_01Aq9w938a90dw8q","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",'
    b'"content":[{"type":"thinking","thinking":"Weather needs a tool.","signature":"abc"},'
    b'{"type":"text","text":"I\'ll check the current weather in San Francisco for you."},'
    b'{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"location":"San Francisco, CA","unit":"celsius"}}],'
    b'"stop_reason":"tool_use","stop_sequence":null,'
    b'"usage":{"input_tokens":384,"cache_creation_input_tokens":10,"cache_read_input_tokens":20,"output_tokens":92,"service_tier":"standard"}}'
)
ANTHROPIC_ERROR = b'{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210517 tokens > 200000 maximum"}}'
OPENAI_ERROR = b'{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI\'s content management policy.","type":null,"param":"prompt","code":"content_filter","status":400}}'
OPENAI_RESPONSE = (
    b'{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o",'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":3}}}'
)

write("translate_response", "anthropic_message.json", ANTHROPIC_RESPONSE)
write("translate_response", "anthropic_error.json", ANTHROPIC_ERROR)
write("translate_response", "openai_error.json", OPENAI_ERROR)
write("translate_response", "html_error.txt", b"<html><body>502 Bad Gateway</body></html>")

# stream_translate: flag bit 0 = include_usage, bits 1-2 the endpoint (0 chat, 1 completions).
write("stream_translate", "anthropic_tools_whole", framed(TOOL_STREAM))
write("stream_translate", "anthropic_tools_bytewise", framed(TOOL_STREAM, flags0=1, lens=(1,)))
write("stream_translate", "anthropic_thinking_pieces", framed(THINKING_STREAM, lens=(3, 17, 64)))
write("stream_translate", "anthropic_thinking_completions", framed(THINKING_STREAM, flags0=1 | 2, lens=(9,)))
write("stream_translate", "anthropic_error_crlf", framed(ANTHROPIC_ERROR_STREAM, lens=(2, 0, 5)))
write("stream_translate", "openai_usage_pieces", framed(OPENAI_STREAM, lens=(10, 1, 100)))

# sse_decoder: flag bit 0 = small cap of flags[1] + 1 bytes.
write("sse_decoder", "tools_whole", framed(TOOL_STREAM))
write("sse_decoder", "thinking_bytewise_bom", framed(b"\xef\xbb\xbf" + THINKING_STREAM, lens=(1,)))
write("sse_decoder", "crlf_small_cap", framed(ANTHROPIC_ERROR_STREAM, flags0=1, flags1=80, lens=(4, 9)))
write("sse_decoder", "fields", framed(b": comment\rid: 1\rretry: 10\ndata\ndata:  two spaces\nevent:x\ndata:\xff\xfe\r\n\r\ndata: unterminated", lens=(1, 2, 3)))

# upstream_response: flags[0] bits 0-1 deployment (oa, az, cl, cl-drop), 2-3 endpoint,
# 4 stream, 5 include_usage, 6 keys checked, 7 fallback replay; flags[1] bits 0-3
# status (0: 200, 3: 400, 8: 429, 11: 529), 4 headers end, 5 event-stream.
write("upstream_response", "anthropic_message_keys", framed(ANTHROPIC_RESPONSE, flags0=2 | 64))
write("upstream_response", "anthropic_stream_pieces", framed(TOOL_STREAM, flags0=2 | 16 | 32 | 64, flags1=32, lens=(5, 40)))
write("upstream_response", "anthropic_thinking_completion_stream", framed(THINKING_STREAM, flags0=3 | 4 | 16, flags1=32, lens=(100,)))
write("upstream_response", "anthropic_context_window_fallback", framed(ANTHROPIC_ERROR, flags0=2 | 128, flags1=3))
write("upstream_response", "azure_content_filter", framed(OPENAI_ERROR, flags0=1, flags1=3, lens=(8,)))
write("upstream_response", "openai_stream_usage_keys", framed(OPENAI_STREAM, flags0=16 | 64, flags1=32, lens=(13,)))
write("upstream_response", "openai_message", framed(OPENAI_RESPONSE, flags0=64))
write("upstream_response", "overloaded_no_body", framed(b"", flags0=2, flags1=11 | 16))

for src in [ROOT / "config/example.yaml", *sorted((ROOT / "config/tests/fixtures").glob("*.yaml"))]:
    write("config", src.name, src.read_bytes())
write(
    "config",
    "merge_keys_env.yaml",
    b"""environment_variables:
  AZURE_BASE: https://res.openai.azure.com
x-defaults: &defaults
  api_key: os.environ/KEY_UNSET
  temperature: 0.1
model_list:
  - model_name: azure-gpt
    litellm_params:
      <<: *defaults
      model: azure/my-dep
      api_base: os.environ/AZURE_BASE
      api_version: "2024-06-01"
  - model_name: claude-*
    litellm_params:
      model: anthropic/claude-*
      api_key: os.environ/ANTHROPIC_API_KEY
    model_info: {mode: chat}
router_settings:
  model_group_alias: {sonnet: {model: claude-sonnet, hidden: true}}
  fallbacks: [{azure-gpt: [claude-*]}]
  context_window_fallbacks: [{azure-gpt: [claude-*]}]
litellm_settings: {drop_params: true, request_timeout: 30}
general_settings: {master_key: sk-1234, max_request_size_mb: 0.5}
""",
)

# ndjson_decoder: flag bit 0 = small cap of flags[1] + 1 bytes.
OLLAMA = (
    b'{"model":"llama3.2","created_at":"2024-07-24T00:00:00Z","message":{"role":"assistant","content":"Hi"},"done":false}\n'
    b'{"model":"llama3.2","created_at":"2024-07-24T00:00:01Z","message":{"role":"assistant","content":" \xe2\x80\x94 there"},"done":false}\r\n'
    b"\n  \t\r\n"
    b'{"model":"llama3.2","done":true,"done_reason":"stop","prompt_eval_count":26,"eval_count":2}'
)
write("ndjson_decoder", "ollama_whole", framed(OLLAMA))
write("ndjson_decoder", "ollama_bom_bytewise", framed(b"\xef\xbb\xbf" + OLLAMA, lens=(1,)))
write("ndjson_decoder", "ollama_small_cap", framed(OLLAMA, flags0=1, flags1=120, lens=(7, 0, 33)))


# eventstream_decoder: by default the payload describes messages (header-block
# length, header block, payload length, payload); flag bit 0 = raw wire bytes.
def es_header(name: bytes, value: bytes) -> bytes:
    return bytes([len(name)]) + name + b"\x07" + len(value).to_bytes(2, "big") + value


def es_described(headers: bytes, payload: bytes) -> bytes:
    return bytes([len(headers)]) + headers + bytes([len(payload)]) + payload


BEDROCK_HEADERS = (
    es_header(b":event-type", b"contentBlockDelta")
    + es_header(b":content-type", b"application/json")
    + es_header(b":message-type", b"event")
)
BEDROCK = es_described(
    BEDROCK_HEADERS, b'{"contentBlockIndex":0,"delta":{"text":"Hi"},"p":"abcd"}'
) + es_described(
    es_header(b":event-type", b"messageStop") + es_header(b":message-type", b"event"),
    b'{"stopReason":"end_turn"}',
)
ALL_TYPES = (
    b"\x01t\x00" b"\x01f\x01" b"\x01b\x02\xff" b"\x01s\x03\x80\x00" b"\x01i\x04\x00\x00\x00\x07"
    b"\x01l\x05" + bytes(8) + b"\x01a\x06\x00\x02\x00\x01" + b"\x01d\x08" + bytes(8) + b"\x01u\x09" + bytes(range(16))
)
EXCEPTION = es_described(
    es_header(b":exception-type", b"throttlingException") + es_header(b":message-type", b"exception"),
    b'{"message":"Too many requests"}',
)
DOC_FRAME = b"\x00\x00\x00\x1d\x00\x00\x00\x00\xfd\x52\x8c\x5a{'foo':'bar'}\xc3\x65\x39\x36"
write("eventstream_decoder", "bedrock_stream", framed(BEDROCK, lens=(5, 1, 60)))
write("eventstream_decoder", "all_header_types", framed(es_described(ALL_TYPES, b"{}"), lens=(3,)))
write("eventstream_decoder", "exception_truncated", framed(EXCEPTION, flags0=4, flags1=3))
write("eventstream_decoder", "raw_doc_frame", framed(DOC_FRAME * 2, flags0=1, lens=(5,)))



# stream_translate, Bedrock: ConverseStream's binary frames (the order AWS documents:
# messageStart, reasoning, text, a tool block, messageStop, metadata), and a stream
# ended by an exception frame.
def es_frame(headers: bytes, payload: bytes) -> bytes:
    import binascii

    total = 12 + len(headers) + len(payload) + 4
    prelude = total.to_bytes(4, "big") + len(headers).to_bytes(4, "big")
    prelude += (binascii.crc32(prelude) & 0xFFFFFFFF).to_bytes(4, "big")
    body = prelude + headers + payload
    return body + (binascii.crc32(body) & 0xFFFFFFFF).to_bytes(4, "big")


def es_event(kind: str, payload) -> bytes:
    headers = (
        es_header(b":event-type", kind.encode())
        + es_header(b":content-type", b"application/json")
        + es_header(b":message-type", b"event")
    )
    return es_frame(headers, j(payload))


CONVERSE_STREAM = b"".join([
    es_event("messageStart", {"role": "assistant", "p": "abcd"}),
    es_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Hmm"}}}),
    es_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "c2ln"}}}),
    es_event("contentBlockStop", {"contentBlockIndex": 0}),
    es_event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "Hi \u2014 there"}}),
    es_event("contentBlockStop", {"contentBlockIndex": 1}),
    es_event("contentBlockStart", {"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "f"}}}),
    es_event("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": "{\"a\":"}}}),
    es_event("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": "1}"}}}),
    es_event("contentBlockStop", {"contentBlockIndex": 2}),
    es_event("messageStop", {"stopReason": "tool_use"}),
    es_event("metadata", {"usage": {"inputTokens": 9, "outputTokens": 4, "totalTokens": 18, "cacheReadInputTokens": 5}, "metrics": {"latencyMs": 3}}),
])
CONVERSE_EXCEPTION = es_event("messageStart", {"role": "assistant"}) + es_frame(
    es_header(b":exception-type", b"throttlingException")
    + es_header(b":content-type", b"application/json")
    + es_header(b":message-type", b"exception"),
    b'{"message":"Too many tokens, please wait before trying again."}',
)
write("stream_translate", "bedrock_converse_pieces", framed(CONVERSE_STREAM, flags0=1, lens=(7, 1, 50)))
write("stream_translate", "bedrock_converse_completions", framed(CONVERSE_STREAM, flags0=2, lens=(13,)))
write("stream_translate", "bedrock_exception", framed(CONVERSE_EXCEPTION, lens=(4, 0, 11)))


# keyservice_api: [route index, credential choice] + body (fuzz_targets/keyservice_api.rs).
def ks(route: int, cred: int, body) -> bytes:
    return bytes([route, cred]) + (body if isinstance(body, bytes) else j(body))


SPEND_ROW = {
    "request_id": "chatcmpl-1", "call_type": "acompletion", "api_key": "sk-fuzz-known",
    "spend": 0.00075, "prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30,
    "startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-01T00:00:01.250Z",
    "completionStartTime": "2026-01-01T00:00:00.5Z", "model": "gpt-4o", "model_group": "gpt-4o",
    "model_id": "dep-1", "custom_llm_provider": "openai", "api_base": "https://api.openai.com/v1",
    "user": "fuzz-user", "team_id": "fuzz-team", "end_user": "u-1", "status": "success",
    "cache_hit": False, "metadata": {"spend_logs_metadata": {"job": "nightly"}},
    "request_tags": ["batch", "eu"], "lease_id": "lease-1",
}
write("keyservice_api", "spend_row_reporter.json", ks(0, 2, SPEND_ROW))
write("keyservice_api", "spend_batch_master.json", ks(10, 1, [SPEND_ROW, dict(SPEND_ROW, request_id="r2", spend=1e300), {"spend": 1}]))
write("keyservice_api", "spend_row_no_credential.json", ks(0, 0, dict(SPEND_ROW, request_id="forged", spend=1000)))
write("keyservice_api", "spend_row_virtual_key.json", ks(10, 5, [dict(SPEND_ROW, request_id="forged2")]))
write("keyservice_api", "spend_big_tokens.json", ks(0, 2, dict(SPEND_ROW, request_id="big", prompt_tokens=9223372036854775807, completion_tokens=9223372036854775807)))
write("keyservice_api", "key_generate.json", ks(1, 1, {
    "models": ["gpt-4o", "claude"], "max_budget": 10, "rpm_limit": 60, "tpm_limit": 1000, "duration": "30d",
    "key_alias": "team-a", "metadata": {"allow_client_mock_response": True}, "aliases": {"gpt-3.5-turbo": "gpt-4o"},
    "budget_duration": "1mo", "max_parallel_requests": 3, "team_id": "fuzz-team", "user_id": "fuzz-user",
    "model_max_budget": {"gpt-4o": {"budget_limit": 1, "time_period": "1d"}}, "soft_budget": 5, "tags": ["x"]}))
write("keyservice_api", "key_update.json", ks(2, 1, {"key": "sk-fuzz-known", "max_budget": 7, "spend": 1.5, "duration": "1h", "models": []}))
write("keyservice_api", "key_delete.json", ks(3, 1, {"keys": ["sk-nope"], "key_aliases": ["nobody"]}))
write("keyservice_api", "key_regenerate.json", ks(4, 1, {"key": "sk-nope", "new_master_key": "x"}))
write("keyservice_api", "key_regenerate_path.json", ks(5, 3, {}))
write("keyservice_api", "key_block.json", ks(6, 1, {"key": "sk-nope"}))
write("keyservice_api", "key_unblock.json", ks(7, 4, {"key": "sk-fuzz-known"}))
write("keyservice_api", "user_new.json", ks(8, 1, {"user_id": "u2", "max_budget": 3, "budget_duration": "7d", "tpm_limit": 5, "user_email": "a@b.c"}))
write("keyservice_api", "team_new.json", ks(9, 1, {"team_id": "t2", "models": ["gpt-4o"], "max_budget": 3, "rpm_limit": 1, "members_with_roles": [{"role": "admin", "user_id": "u2"}]}))
write("keyservice_api", "not_json.txt", ks(1, 1, b"{\"models\": [\"a\", "))
