//! Ollama's native API: `ollama_chat/` → `POST /api/chat`, `ollama/` → `POST
//! /api/generate` (a prompt built from the messages), embeddings → `POST /api/embed`.
//!
//! Fields follow Ollama's API reference (`docs/api.md` in ollama/ollama); where
//! LiteLLM has settled a mapping (`litellm/llms/ollama/chat/transformation.py`,
//! `…/ollama/completion/transformation.py`, `ollama_pt` in
//! `litellm_core_utils/prompt_templates/factory.py`), its answer is kept.
//!
//! # Requests
//!
//! * `stream` is always sent: Ollama streams unless told `"stream": false`.
//! * `options`: `max_completion_tokens` (preferred) or `max_tokens` → `num_predict`;
//!   `temperature`, `top_p`, `seed` as they are; `stop` → `stop` (a string becomes a
//!   one-element list: Ollama's `stop` is a list); `frequency_penalty` →
//!   `repeat_penalty` for `/api/chat` and `frequency_penalty` for `/api/generate`
//!   (LiteLLM's `OllamaChatConfig` and `OllamaConfig` map it so). Ollama's own option
//!   names (`num_ctx`, `top_k`, `mirostat`, `repeat_penalty`, … see
//!   [`NATIVE_OPTIONS`]), typically deployment defaults in `litellm_params`, go into
//!   `options` as they are; `keep_alive` is sent at the top level.
//! * `response_format`: `json_object` → `"format": "json"`, `json_schema` → `format`
//!   set to the schema (`json_schema.schema`), `text` → nothing.
//! * `reasoning_effort` → `think`: the effort string for `gpt-oss` models (which
//!   take `low`/`medium`/`high`), else `true` for `low`/`medium`/`high` and `false`
//!   otherwise (LiteLLM's `OllamaConfig`).
//! * `/api/chat` messages: `developer` → `system`; content parts → one string (the
//!   texts concatenated, as LiteLLM's `convert_content_list_to_str`), `image_url`
//!   parts → the message's `images` as plain base64 (the `data:…;base64,` prefix
//!   stripped; an http(s) URL is refused with a 400: the gateway does not download);
//!   assistant `tool_calls` → `[{"function": {"name", "arguments": {…}}}]`
//!   (`arguments` parsed from the JSON string: Ollama wants an object);
//!   `reasoning_content` → `thinking`; a `tool` message keeps its content and gets
//!   `tool_name`, looked up from the assistant call its `tool_call_id` answers.
//!   `tools` are sent as they are (OpenAI's function format is Ollama's);
//!   `tool_choice` is accepted and not sent (LiteLLM drops it: it hangs Ollama).
//! * `/api/generate` (`ollama/` chat requests): LiteLLM's `ollama_pt` prompt — runs of
//!   user and tool messages as `### User:\n{text}\n\n`, system runs as
//!   `### System:\n{text}\n\n`, assistant runs as `### Assistant:\n{text}\n\n` (tool
//!   calls appended as `Tool Calls: <JSON, indent 2>`) — with every image of the
//!   user turns in the top-level `images`. `/completions` sends the `prompt` as is.
//! * `/api/embed`: `input` (a string or a list of strings) as is; `encoding_format`
//!   is the gateway's (answers are converted to base64 when asked).
//!
//! # Responses
//!
//! `/api/chat` and `/api/generate` answers become `chat.completion` (or
//! `text_completion` for `/completions`): `message.content` / `response` → content,
//! `thinking` → `reasoning_content`, `tool_calls` → OpenAI tool calls (arguments
//! serialized to a string, ids `call_…` made up when Ollama gives none);
//! `finish_reason`: `tool_calls` when there are tool calls, `length` for
//! `done_reason: "length"`, else `stop`; `usage`: `prompt_eval_count` →
//! `prompt_tokens`, `eval_count` → `completion_tokens` (0 when absent, as Ollama
//! omits `prompt_eval_count` for a fully cached prompt). `/api/embed`'s
//! `embeddings` → an OpenAI embedding list, `usage.prompt_tokens` from
//! `prompt_eval_count`. Errors (`{"error": "…"}`) keep their message and status.
//!
//! # Streams
//!
//! NDJSON (`application/x-ndjson`), one object per line, decoded with
//! [`NdjsonDecoder`] and translated line by line as lines complete: the first chunk
//! carries `delta.role`, each line's text its `delta.content` (or
//! `reasoning_content`), tool calls arrive whole in one line and become one
//! `delta.tool_calls` entry each; the final line (`"done": true`) gives the
//! `finish_reason` chunk and the usage (a `choices: []` usage chunk when the client
//! set `stream_options.include_usage`), then `data: [DONE]`. An `{"error": …}` line
//! becomes `data: {"error": {…}}` then `[DONE]`; a stream that ends before its
//! `done` line, or a line that is not JSON, ends the same way with a 502.

use serde_json::{json, Map, Value};

use super::serialize_request as serialize;
use super::{ProviderRequest, ResponseContext, StreamTranslate};
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::ndjson::NdjsonDecoder;
use crate::wire::openai::{self as wire, invalid, write_data, DONE};

/// Ollama's own option names (its `api.Options`, the Modelfile parameters), passed
/// into `options` as they are.
pub const NATIVE_OPTIONS: &[&str] = &[
    "num_keep",
    "num_predict",
    "top_k",
    "min_p",
    "typical_p",
    "repeat_last_n",
    "repeat_penalty",
    "presence_penalty",
    "penalize_newline",
    "num_ctx",
    "num_batch",
    "num_gpu",
    "main_gpu",
    "use_mmap",
    "num_thread",
    "mirostat",
    "mirostat_eta",
    "mirostat_tau",
    "tfs_z",
    "num_gqa",
];

/// OpenAI parameters (LiteLLM's `OllamaChatConfig.get_supported_openai_params`).
const CHAT_OPENAI: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "stream",
    "stream_options",
    "top_p",
    "temperature",
    "seed",
    "frequency_penalty",
    "stop",
    "tools",
    "tool_choice",
    "response_format",
    "reasoning_effort",
    "keep_alive",
];

/// `OllamaConfig.get_supported_openai_params`: no tools on `/api/generate`.
const GENERATE_OPENAI: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "stream",
    "stream_options",
    "top_p",
    "temperature",
    "seed",
    "frequency_penalty",
    "stop",
    "response_format",
    "reasoning_effort",
    "keep_alive",
];

const COMPLETION_OPENAI: &[&str] = &[
    "model",
    "prompt",
    "max_tokens",
    "stream",
    "stream_options",
    "top_p",
    "temperature",
    "seed",
    "frequency_penalty",
    "stop",
    "keep_alive",
];

const EMBEDDING_OPENAI: &[&str] = &["model", "input", "encoding_format", "keep_alive"];

/// The parameters accepted for `endpoint` (`chat`: `ollama_chat/`, else `ollama/`),
/// native option names included.
pub fn supported_params(chat: bool, endpoint: Endpoint) -> Vec<&'static str> {
    let openai = match endpoint {
        Endpoint::ChatCompletions if chat => CHAT_OPENAI,
        Endpoint::ChatCompletions => GENERATE_OPENAI,
        Endpoint::Completions => COMPLETION_OPENAI,
        Endpoint::Embeddings => EMBEDDING_OPENAI,
    };
    openai.iter().chain(NATIVE_OPTIONS).copied().collect()
}

/// Translates an OpenAI request for Ollama (`chat`: `ollama_chat/`).
pub fn translate_request(
    chat: bool,
    endpoint: Endpoint,
    request: &Map<String, Value>,
    model: &str,
) -> Result<ProviderRequest, GatewayError> {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    if let Some(keep_alive) = request.get("keep_alive").filter(|v| !v.is_null()) {
        body.insert("keep_alive".into(), keep_alive.clone());
    }
    if endpoint == Endpoint::Embeddings {
        let input = match request.get("input") {
            Some(Value::String(s)) => json!(s),
            Some(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_string) => {
                Value::Array(items.clone())
            }
            Some(Value::Array(_)) => {
                return Err(invalid(
                    "input",
                    "Ollama embeds text: `input` must be a string or a non-empty list of strings (token arrays are not supported).",
                ))
            }
            _ => {
                return Err(invalid(
                    "input",
                    "`input` is required: a string or a list of strings.",
                ))
            }
        };
        body.insert("input".into(), input);
        let options = options(request, false)?;
        if !options.is_empty() {
            body.insert("options".into(), Value::Object(options));
        }
        return Ok(ProviderRequest {
            path: "/api/embed".into(),
            body: serialize(&Value::Object(body))?,
        });
    }

    let stream = match request.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("stream", "`stream` must be a boolean.")),
    };
    let path = if endpoint == Endpoint::Completions {
        body.insert(
            "prompt".into(),
            json!(completion_prompt(request.get("prompt"))?),
        );
        "/api/generate"
    } else {
        let messages = request
            .get("messages")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                invalid(
                    "messages",
                    "`messages` must be an array of message objects.",
                )
            })?;
        if messages.is_empty() {
            return Err(invalid("messages", "`messages` must not be empty."));
        }
        if chat {
            body.insert("messages".into(), Value::Array(chat_messages(messages)?));
            if let Some(tools) = request.get("tools").filter(|v| !v.is_null()) {
                if !tools.is_array() {
                    return Err(invalid("tools", "`tools` must be an array."));
                }
                body.insert("tools".into(), tools.clone());
            }
            "/api/chat"
        } else {
            let (prompt, images) = generate_prompt(messages)?;
            body.insert("prompt".into(), json!(prompt));
            if !images.is_empty() {
                body.insert("images".into(), Value::Array(images));
            }
            "/api/generate"
        }
    };
    body.insert("stream".into(), json!(stream));
    let options = options(request, chat)?;
    if !options.is_empty() {
        body.insert("options".into(), Value::Object(options));
    }
    if let Some(format) = format(request.get("response_format"))? {
        body.insert("format".into(), format);
    }
    if let Some(effort) = request.get("reasoning_effort").filter(|v| !v.is_null()) {
        let effort = effort
            .as_str()
            .ok_or_else(|| invalid("reasoning_effort", "`reasoning_effort` must be a string."))?;
        let think = if model.starts_with("gpt-oss") {
            json!(effort)
        } else {
            json!(matches!(effort, "low" | "medium" | "high"))
        };
        body.insert("think".into(), think);
    }
    Ok(ProviderRequest {
        path: path.into(),
        body: serialize(&Value::Object(body))?,
    })
}

/// `options`: OpenAI sampling parameters under Ollama's names, then native ones.
fn options(request: &Map<String, Value>, chat: bool) -> Result<Map<String, Value>, GatewayError> {
    let mut options = Map::new();
    for name in NATIVE_OPTIONS {
        if let Some(v) = request.get(*name).filter(|v| !v.is_null()) {
            options.insert((*name).to_string(), v.clone());
        }
    }
    let get = |k: &str| request.get(k).filter(|v| !v.is_null());
    if let Some(v) = get("max_completion_tokens").or_else(|| get("max_tokens")) {
        if !(v.is_i64() || v.is_u64()) {
            return Err(invalid("max_tokens", "`max_tokens` must be an integer."));
        }
        options.insert("num_predict".into(), v.clone());
    }
    for name in ["temperature", "top_p"] {
        if let Some(v) = get(name) {
            if !v.is_number() {
                return Err(invalid(name, format!("`{name}` must be a number.")));
            }
            options.insert(name.into(), v.clone());
        }
    }
    if let Some(v) = get("seed") {
        if !(v.is_i64() || v.is_u64()) {
            return Err(invalid("seed", "`seed` must be an integer."));
        }
        options.insert("seed".into(), v.clone());
    }
    if let Some(v) = get("frequency_penalty") {
        if !v.is_number() {
            return Err(invalid(
                "frequency_penalty",
                "`frequency_penalty` must be a number.",
            ));
        }
        let name = if chat {
            "repeat_penalty"
        } else {
            "frequency_penalty"
        };
        options.insert(name.into(), v.clone());
    }
    match get("stop") {
        None => {}
        Some(Value::String(s)) => {
            options.insert("stop".into(), json!([s]));
        }
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
            options.insert("stop".into(), Value::Array(list.clone()));
        }
        Some(_) => {
            return Err(invalid(
                "stop",
                "`stop` must be a string or a list of strings.",
            ))
        }
    }
    Ok(options)
}

/// `response_format` → Ollama's `format`.
fn format(response_format: Option<&Value>) -> Result<Option<Value>, GatewayError> {
    let Some(rf) = response_format.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    match rf.get("type").and_then(Value::as_str) {
        Some("json_object") => Ok(Some(json!("json"))),
        Some("json_schema") => {
            let schema = rf
                .get("json_schema")
                .and_then(|s| s.get("schema"))
                .filter(|s| s.is_object())
                .ok_or_else(|| {
                    invalid(
                        "response_format.json_schema.schema",
                        "`json_schema` response formats need a `json_schema.schema` object.",
                    )
                })?;
            Ok(Some(schema.clone()))
        }
        Some("text") => Ok(None),
        _ => Err(invalid(
            "response_format",
            "`response_format.type` must be `text`, `json_object` or `json_schema`.",
        )),
    }
}

fn completion_prompt(prompt: Option<&Value>) -> Result<String, GatewayError> {
    match prompt {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(list)) => match list.as_slice() {
            [Value::String(s)] => Ok(s.clone()),
            _ => Err(invalid(
                "prompt",
                "Ollama completes one prompt per request: send a string (or an array of one string).",
            )),
        },
        _ => Err(invalid("prompt", "`prompt` is required: a string.")),
    }
}

/// A message's text: a string, or its text parts concatenated; images collected
/// into `images` (plain base64) when `images` is given, refused otherwise.
fn text_and_images(
    content: Option<&Value>,
    i: usize,
    mut images: Option<&mut Vec<Value>>,
) -> Result<String, GatewayError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (j, part) in parts.iter().enumerate() {
                let at = |s: &str| format!("messages[{i}].content[{j}]{s}");
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        let t = part.get("text").and_then(Value::as_str).ok_or_else(|| {
                            invalid(at(".text"), "Text parts need a string `text`.")
                        })?;
                        text.push_str(t);
                    }
                    Some("image_url") => {
                        let url = match part.get("image_url") {
                            Some(Value::String(u)) => Some(u.as_str()),
                            Some(o) => o.get("url").and_then(Value::as_str),
                            None => None,
                        }
                        .ok_or_else(|| {
                            invalid(at(".image_url"), "Image parts need `image_url.url`.")
                        })?;
                        let Some(images) = images.as_deref_mut() else {
                            return Err(invalid(
                                at(".type"),
                                "Ollama takes images in user messages only.",
                            ));
                        };
                        images.push(json!(
                            plain_base64(url).map_err(|m| invalid(at(".image_url"), m))?
                        ));
                    }
                    Some(other) => {
                        return Err(invalid(
                            at(".type"),
                            format!("Content parts of type `{other}` are not supported by Ollama."),
                        ))
                    }
                    None => {
                        return Err(invalid(
                            at(".type"),
                            "Each content part needs a string `type`.",
                        ))
                    }
                }
            }
            Ok(text)
        }
        Some(_) => Err(invalid(
            format!("messages[{i}].content"),
            "`content` must be a string or an array of content parts.",
        )),
    }
}

/// An `image_url` as Ollama's plain base64: a data URI loses its prefix; http(s)
/// URLs are refused (the gateway downloads nothing).
fn plain_base64(url: &str) -> Result<String, String> {
    if let Some(rest) = url.strip_prefix("data:") {
        return match rest.split_once(";base64,") {
            Some((_, data)) if !data.is_empty() => Ok(data.to_string()),
            _ => Err("Image data URIs must look like `data:image/png;base64,…`.".into()),
        };
    }
    let lower = url
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Err("Ollama takes images as base64 only and the gateway does not download image URLs: send the image as a `data:image/…;base64,` URI.".into());
    }
    if url.is_empty() {
        return Err("The image URL is empty.".into());
    }
    // Already plain base64, as LiteLLM accepts it.
    Ok(url.to_string())
}

/// Assistant `tool_calls` → Ollama's (`arguments` as an object); also records each
/// call's id → name for the `tool` messages that answer it.
fn tool_calls(
    calls: &Value,
    i: usize,
    names: &mut Vec<(String, String)>,
) -> Result<Vec<Value>, GatewayError> {
    let list = calls.as_array().ok_or_else(|| {
        invalid(
            format!("messages[{i}].tool_calls"),
            "`tool_calls` must be an array.",
        )
    })?;
    let mut out = Vec::with_capacity(list.len());
    for (j, call) in list.iter().enumerate() {
        let at = |s: &str| format!("messages[{i}].tool_calls[{j}]{s}");
        let function = call
            .get("function")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid(at(".function"), "Each tool call needs a `function` object."))?;
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                invalid(
                    at(".function.name"),
                    "Each tool call needs a string `function.name`.",
                )
            })?;
        let arguments = match function.get("arguments") {
            None | Some(Value::Null) => json!({}),
            Some(Value::String(s)) if s.trim().is_empty() => json!({}),
            Some(Value::String(s)) => serde_json::from_str::<Value>(s).map_err(|e| {
                invalid(
                    at(".function.arguments"),
                    format!("`function.arguments` is not valid JSON: {e}"),
                )
            })?,
            Some(v @ Value::Object(_)) => v.clone(),
            Some(_) => {
                return Err(invalid(
                    at(".function.arguments"),
                    "`function.arguments` must be a JSON string.",
                ))
            }
        };
        if let Some(id) = call.get("id").and_then(Value::as_str) {
            names.push((id.to_string(), name.to_string()));
        }
        out.push(json!({"function": {"name": name, "arguments": arguments}}));
    }
    Ok(out)
}

/// OpenAI messages → `/api/chat` messages.
fn chat_messages(messages: &[Value]) -> Result<Vec<Value>, GatewayError> {
    let mut out = Vec::with_capacity(messages.len());
    let mut names: Vec<(String, String)> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).ok_or_else(|| {
            invalid(
                format!("messages[{i}].role"),
                "Each message needs a string `role`.",
            )
        })?;
        let mut m = Map::new();
        let role = match role {
            "system" | "developer" => "system",
            "user" | "assistant" | "tool" => role,
            other => {
                return Err(invalid(
                    format!("messages[{i}].role"),
                    format!(
                    "Unknown role `{other}`: expected system, developer, user, assistant or tool."
                ),
                ))
            }
        };
        m.insert("role".into(), json!(role));
        let mut images = Vec::new();
        let content = text_and_images(
            message.get("content"),
            i,
            (role == "user").then_some(&mut images),
        )?;
        m.insert("content".into(), json!(content));
        if !images.is_empty() {
            m.insert("images".into(), Value::Array(images));
        }
        if role == "assistant" {
            if let Some(thinking) = message.get("reasoning_content").and_then(Value::as_str) {
                m.insert("thinking".into(), json!(thinking));
            }
            if let Some(calls) = message.get("tool_calls").filter(|v| !v.is_null()) {
                m.insert(
                    "tool_calls".into(),
                    Value::Array(tool_calls(calls, i, &mut names)?),
                );
            }
        }
        if role == "tool" {
            let id = message.get("tool_call_id").and_then(Value::as_str);
            if let Some((_, name)) = names.iter().rev().find(|(k, _)| Some(k.as_str()) == id) {
                m.insert("tool_name".into(), json!(name));
            }
        }
        out.push(Value::Object(m));
    }
    Ok(out)
}

/// LiteLLM's `ollama_pt`: the `/api/generate` prompt and images of a chat.
fn generate_prompt(messages: &[Value]) -> Result<(String, Vec<Value>), GatewayError> {
    fn role_of(m: &Value) -> &str {
        m.get("role").and_then(Value::as_str).unwrap_or("")
    }
    for (i, m) in messages.iter().enumerate() {
        if !matches!(
            role_of(m),
            "user" | "tool" | "function" | "system" | "developer" | "assistant"
        ) {
            return Err(invalid(
                format!("messages[{i}].role"),
                "Each message needs a role: system, developer, user, assistant or tool.",
            ));
        }
    }
    let mut prompt = String::new();
    let mut images = Vec::new();
    let mut i = 0;
    while i < messages.len() {
        let start = i;
        let mut user = String::new();
        while let Some(m) = messages
            .get(i)
            .filter(|m| matches!(role_of(m), "user" | "tool" | "function"))
        {
            let allow_images = role_of(m) == "user";
            user.push_str(&text_and_images(
                m.get("content"),
                i,
                if allow_images {
                    Some(&mut images)
                } else {
                    None
                },
            )?);
            i += 1;
        }
        if !user.is_empty() {
            prompt.push_str(&format!("### User:\n{user}\n\n"));
        }
        let mut system = String::new();
        while let Some(m) = messages
            .get(i)
            .filter(|m| matches!(role_of(m), "system" | "developer"))
        {
            system.push_str(&text_and_images(m.get("content"), i, None)?);
            i += 1;
        }
        if !system.is_empty() {
            prompt.push_str(&format!("### System:\n{system}\n\n"));
        }
        let mut assistant = String::new();
        while let Some(m) = messages.get(i).filter(|m| role_of(m) == "assistant") {
            assistant.push_str(&text_and_images(m.get("content"), i, None)?);
            if let Some(calls) = m
                .get("tool_calls")
                .and_then(Value::as_array)
                .filter(|c| !c.is_empty())
            {
                let mut listed = Vec::with_capacity(calls.len());
                for (j, call) in calls.iter().enumerate() {
                    let mut ignored = Vec::new();
                    let converted = tool_calls(&json!([call]), i, &mut ignored)?;
                    let function = converted
                        .first()
                        .and_then(|c| c.get("function"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    listed.push(json!({
                        "id": call.get("id").and_then(Value::as_str).map_or_else(|| format!("call_{j}"), str::to_string),
                        "type": "function",
                        "function": function,
                    }));
                }
                let text = serde_json::to_string_pretty(&listed).unwrap_or_default();
                assistant.push_str(&format!("Tool Calls: {text}"));
            }
            i += 1;
        }
        if !assistant.is_empty() {
            prompt.push_str(&format!("### Assistant:\n{assistant}\n\n"));
        }
        if i == start {
            // Unreachable with the roles checked above; never loop forever.
            return Err(invalid(format!("messages[{i}]"), "Unexpected message."));
        }
    }
    Ok((prompt, images))
}

// ---------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------

/// FNV-1a, for ids derived from the answer (unique enough: Ollama's `created_at`
/// has nanoseconds).
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

fn count(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn usage_value(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
    })
}

/// Ollama tool calls (arguments objects) → OpenAI tool calls; `index` added for
/// stream deltas, counting from `first`.
fn openai_tool_calls(calls: &[Value], id_seed: u64, first: usize, with_index: bool) -> Vec<Value> {
    calls
        .iter()
        .enumerate()
        .map(|(k, call)| {
            let n = first + k;
            let function = call.get("function").cloned().unwrap_or(Value::Null);
            let name = function
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let arguments = match function.get("arguments") {
                Some(Value::String(s)) => s.clone(),
                Some(v @ Value::Object(_)) => v.to_string(),
                _ => "{}".to_string(),
            };
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map_or_else(
                    || {
                        format!(
                            "call_{:016x}",
                            fnv(&[&id_seed.to_le_bytes(), &n.to_le_bytes()])
                        )
                    },
                    str::to_string,
                );
            let mut out = json!({
                "id": id,
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            });
            if with_index {
                if let Some(o) = out.as_object_mut() {
                    o.insert("index".into(), json!(n));
                }
            }
            out
        })
        .collect()
}

fn finish_reason(line: &Value, tool_calls: bool) -> &'static str {
    if tool_calls {
        return "tool_calls";
    }
    match line.get("done_reason").and_then(Value::as_str) {
        Some("length") => "length",
        _ => "stop",
    }
}

/// The text, thinking and tool calls of one `/api/chat` or `/api/generate` object.
fn parts(v: &Value) -> (&str, &str, &[Value]) {
    let (content, thinking, calls) = match v.get("message") {
        Some(m) => (m.get("content"), m.get("thinking"), m.get("tool_calls")),
        None => (v.get("response"), v.get("thinking"), None),
    };
    (
        content.and_then(Value::as_str).unwrap_or_default(),
        thinking.and_then(Value::as_str).unwrap_or_default(),
        calls
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice),
    )
}

fn bad_answer(what: &str) -> GatewayError {
    GatewayError::new(502, format!("Ollama returned {what}")).with_type("api_error")
}

/// Translates a complete (non-streamed) Ollama answer.
pub fn translate_response(
    endpoint: Endpoint,
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<Vec<u8>, GatewayError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| bad_answer(&format!("a body that is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(bad_answer("a body that is not a JSON object"));
    }
    if let Some(message) = v.get("error").and_then(Value::as_str) {
        return Err(GatewayError::new(500, message.to_string()));
    }
    let model = v.get("model").and_then(Value::as_str).unwrap_or(&ctx.model);
    let seed = fnv(&[body]);
    let prompt = count(&v, "prompt_eval_count");
    let out = match endpoint {
        Endpoint::Embeddings => {
            let embeddings = v
                .get("embeddings")
                .and_then(Value::as_array)
                .ok_or_else(|| bad_answer("an embedding answer without `embeddings`"))?;
            let data: Vec<Value> = embeddings
                .iter()
                .enumerate()
                .map(|(i, e)| wire::embedding(i, e))
                .collect();
            wire::embedding_list(data, model, prompt)
        }
        Endpoint::Completions => {
            let (text, _, _) = parts(&v);
            wire::completion(
                format!("cmpl-{seed:016x}"),
                wire::TEXT_COMPLETION,
                ctx.created,
                model,
                json!([{"text": text, "index": 0, "logprobs": null,
                             "finish_reason": finish_reason(&v, false)}]),
                Some(usage_value(prompt, count(&v, "eval_count"))),
            )
        }
        Endpoint::ChatCompletions => {
            let (text, thinking, calls) = parts(&v);
            let mut message = Map::new();
            message.insert("role".into(), json!("assistant"));
            message.insert(
                "content".into(),
                if text.is_empty() && !calls.is_empty() {
                    Value::Null
                } else {
                    json!(text)
                },
            );
            if !thinking.is_empty() {
                message.insert("reasoning_content".into(), json!(thinking));
            }
            if !calls.is_empty() {
                message.insert(
                    "tool_calls".into(),
                    Value::Array(openai_tool_calls(calls, seed, 0, false)),
                );
            }
            wire::completion(
                format!("chatcmpl-{seed:016x}"),
                wire::CHAT_COMPLETION,
                ctx.created,
                model,
                json!([{"index": 0, "message": message, "logprobs": null,
                             "finish_reason": finish_reason(&v, !calls.is_empty())}]),
                Some(usage_value(prompt, count(&v, "eval_count"))),
            )
        }
    };
    serde_json::to_vec(&out)
        .map_err(|e| GatewayError::internal(format!("could not serialize answer: {e}")))
}

// ---------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------

/// Ollama NDJSON → OpenAI SSE, line by line (see the module docs).
pub struct StreamTranslator {
    decoder: NdjsonDecoder,
    state: State,
}

struct State {
    ctx: ResponseContext,
    text_completion: bool,
    /// Set from the first line: the chunk id and the id seed of tool calls.
    id: String,
    seed: u64,
    model: String,
    role_sent: bool,
    tool_calls: usize,
    usage: Option<crate::cost::Usage>,
    /// `[DONE]` written; later input is ignored.
    ended: bool,
}

impl StreamTranslator {
    /// A translator for one response.
    pub fn new(endpoint: Endpoint, ctx: ResponseContext) -> Self {
        let model = ctx.model.clone();
        StreamTranslator {
            decoder: NdjsonDecoder::new(),
            state: State {
                ctx,
                text_completion: endpoint == Endpoint::Completions,
                id: String::new(),
                seed: 0,
                model,
                role_sent: false,
                tool_calls: 0,
                usage: None,
                ended: false,
            },
        }
    }
}

impl State {
    fn fail(&mut self, error: GatewayError, out: &mut Vec<u8>) {
        out.extend_from_slice(&error.to_sse_event());
        out.extend_from_slice(DONE);
        self.ended = true;
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        if self.text_completion {
            let text = delta
                .get("content")
                .and_then(Value::as_str)
                .unwrap_or_default();
            wire::completion(
                &self.id,
                wire::TEXT_COMPLETION,
                self.ctx.created,
                &self.model,
                json!([{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}]),
                None,
            )
        } else {
            wire::completion(
                &self.id,
                wire::CHAT_COMPLETION_CHUNK,
                self.ctx.created,
                &self.model,
                json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]),
                None,
            )
        }
    }

    fn line(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        let v: Value = match serde_json::from_slice(raw) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                let shown = String::from_utf8_lossy(raw.get(..200).unwrap_or(raw)).into_owned();
                self.fail(
                    bad_answer(&format!("a stream line that is not a JSON object: {shown}")),
                    out,
                );
                return;
            }
        };
        if let Some(err) = v.get("error") {
            let message = err
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    err.get("message")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_else(|| err.to_string());
            self.fail(GatewayError::new(500, message), out);
            return;
        }
        if self.id.is_empty() {
            self.seed = fnv(&[raw]);
            let prefix = if self.text_completion {
                "cmpl"
            } else {
                "chatcmpl"
            };
            self.id = format!("{prefix}-{:016x}", self.seed);
            if let Some(m) = v.get("model").and_then(Value::as_str) {
                self.model = m.to_string();
            }
        }
        let (text, thinking, calls) = parts(&v);
        let first = !self.role_sent && !self.text_completion;
        let mut delta = Map::new();
        if first {
            delta.insert("role".into(), json!("assistant"));
        }
        if !text.is_empty() || (first && calls.is_empty()) {
            delta.insert("content".into(), json!(text));
        }
        if !thinking.is_empty() {
            delta.insert("reasoning_content".into(), json!(thinking));
        }
        if !calls.is_empty() && !self.text_completion {
            let first_index = self.tool_calls;
            self.tool_calls += calls.len();
            delta.insert(
                "tool_calls".into(),
                Value::Array(openai_tool_calls(calls, self.seed, first_index, true)),
            );
        }
        let emit = if self.text_completion {
            !text.is_empty()
        } else {
            first || !text.is_empty() || !thinking.is_empty() || !calls.is_empty()
        };
        if emit {
            let chunk = self.chunk(Value::Object(delta), None);
            write_data(out, &chunk);
            self.role_sent = true;
        }
        if v.get("done").and_then(Value::as_bool) == Some(true) {
            let prompt = count(&v, "prompt_eval_count");
            let completion = count(&v, "eval_count");
            self.usage = Some(crate::cost::Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
                ..Default::default()
            });
            let reason = finish_reason(&v, self.tool_calls > 0);
            let finish = self.chunk(json!({}), Some(reason));
            write_data(out, &finish);
            if self.ctx.include_usage {
                let usage = wire::completion(
                    &self.id,
                    if self.text_completion {
                        "text_completion"
                    } else {
                        "chat.completion.chunk"
                    },
                    self.ctx.created,
                    &self.model,
                    json!([]),
                    Some(usage_value(prompt, completion)),
                );
                write_data(out, &usage);
            }
            out.extend_from_slice(DONE);
            self.ended = true;
        }
    }
}

impl StreamTranslate for StreamTranslator {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.state.ended {
            return;
        }
        self.decoder.push(chunk);
        while !self.state.ended {
            match self.decoder.next_line() {
                Ok(Some(line)) => self.state.line(line, out),
                Ok(None) => break,
                Err(e) => {
                    self.state.fail(
                        bad_answer(&format!("a stream that could not be read: {e}")),
                        out,
                    );
                }
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        while !self.state.ended {
            match self.decoder.finish() {
                Ok(Some(line)) => self.state.line(line, out),
                Ok(None) => break,
                Err(e) => {
                    self.state.fail(
                        bad_answer(&format!("a stream that could not be read: {e}")),
                        out,
                    );
                }
            }
        }
        if !self.state.ended {
            self.state.fail(
                bad_answer("a stream that ended before its final (`\"done\": true`) line"),
                out,
            );
        }
    }

    fn usage(&self) -> Option<crate::cost::Usage> {
        self.state.usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn chat(v: Value) -> (String, Value) {
        let out = translate_request(true, Endpoint::ChatCompletions, &map(v), "llama3.1").unwrap();
        (out.path, serde_json::from_slice(&out.body).unwrap())
    }

    fn generate(v: Value) -> (String, Value) {
        let out = translate_request(false, Endpoint::ChatCompletions, &map(v), "llama3.1").unwrap();
        (out.path, serde_json::from_slice(&out.body).unwrap())
    }

    const PIXEL: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

    #[test]
    fn chat_request_maps_options_format_and_think() {
        let (path, body) = chat(json!({
            "model": "x",
            "messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            "max_tokens": 10, "max_completion_tokens": 20, "temperature": 0.5, "top_p": 0.9,
            "seed": 3, "frequency_penalty": 1.1, "stop": "END", "top_k": 40,
            "response_format": {"type": "json_object"}, "reasoning_effort": "low",
            "keep_alive": "5m", "tool_choice": "auto", "stream": true
        }));
        assert_eq!(path, "/api/chat");
        assert_eq!(body["model"], "llama3.1");
        assert_eq!(body["stream"], true);
        assert_eq!(body["keep_alive"], "5m");
        assert_eq!(body["format"], "json");
        assert_eq!(body["think"], true);
        assert!(
            body.get("tool_choice").is_none(),
            "LiteLLM drops it: it hangs Ollama"
        );
        assert_eq!(
            body["options"],
            json!({"top_k": 40, "num_predict": 20, "temperature": 0.5, "top_p": 0.9,
                   "seed": 3, "repeat_penalty": 1.1, "stop": ["END"]})
        );
        assert_eq!(
            body["messages"][0],
            json!({"role": "system", "content": "Be brief."})
        );

        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let (_, body) = chat(json!({
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}},
        }));
        assert_eq!(body["format"], schema);
        assert_eq!(body["stream"], false, "always said");
        assert!(body.get("options").is_none());
        let out = translate_request(
            true,
            Endpoint::ChatCompletions,
            &map(
                json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "high"}),
            ),
            "gpt-oss:20b",
        )
        .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&out.body).unwrap()["think"],
            "high"
        );
    }

    #[test]
    fn chat_messages_images_and_tool_round_trip() {
        let tool = json!({"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}});
        let (_, body) = chat(json!({
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "what is "}, {"type": "text", "text": "this?"},
                    {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PIXEL}")}}
                ]},
                {"role": "assistant", "content": null, "reasoning_content": "hmm",
                 "tool_calls": [{"id": "call_1", "type": "function",
                                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18C"}
            ],
            "tools": [tool.clone()]
        }));
        let m = &body["messages"];
        assert_eq!(
            m[0],
            json!({"role": "user", "content": "what is this?", "images": [PIXEL]})
        );
        assert_eq!(
            m[1],
            json!({"role": "assistant", "content": "", "thinking": "hmm",
                   "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]})
        );
        assert_eq!(
            m[2],
            json!({"role": "tool", "content": "18C", "tool_name": "get_weather"})
        );
        assert_eq!(body["tools"], json!([tool]));
    }

    #[test]
    fn bad_input_is_a_400_naming_the_field() {
        let err = translate_request(
            true,
            Endpoint::ChatCompletions,
            &map(json!({
                "messages": [{"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]
            })),
            "m",
        )
        .unwrap_err();
        assert_eq!(
            (err.status, err.param.as_deref()),
            (400, Some("messages[0].content[0].image_url"))
        );
        assert!(err.message.contains("base64"), "{}", err.message);
        let err = translate_request(true, Endpoint::ChatCompletions, &map(json!({
            "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{nope"}}]}]
        })), "m").unwrap_err();
        assert_eq!(
            err.param.as_deref(),
            Some("messages[0].tool_calls[0].function.arguments")
        );
        let err = translate_request(
            true,
            Endpoint::Embeddings,
            &map(json!({"input": [[1, 2]]})),
            "m",
        )
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("input"));
        let err = translate_request(
            true,
            Endpoint::ChatCompletions,
            &map(json!({"messages": []})),
            "m",
        )
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("messages"));
    }

    #[test]
    fn generate_prompt_is_litellms_ollama_pt() {
        let (path, body) = generate(json!({
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Look: "},
                    {"type": "image_url", "image_url": {"url": format!("data:image/jpeg;base64,{PIXEL}")}}]},
                {"role": "user", "content": "and answer"},
                {"role": "assistant", "content": "Sure.",
                 "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "done"}
            ],
            "max_completion_tokens": 5, "frequency_penalty": 0.5
        }));
        assert_eq!(path, "/api/generate");
        let expected = "### System:\nBe brief.\n\n### User:\nLook: and answer\n\n### Assistant:\nSure.Tool Calls: [\n  {\n    \"id\": \"c1\",\n    \"type\": \"function\",\n    \"function\": {\n      \"name\": \"f\",\n      \"arguments\": {\n        \"a\": 1\n      }\n    }\n  }\n]\n\n### User:\ndone\n\n";
        assert_eq!(body["prompt"], expected);
        assert_eq!(body["images"], json!([PIXEL]));
        assert_eq!(
            body["options"],
            json!({"num_predict": 5, "frequency_penalty": 0.5})
        );
        assert!(body.get("messages").is_none());

        let out = translate_request(
            false,
            Endpoint::Completions,
            &map(json!({"prompt": ["Say hi"], "stream": true})),
            "m",
        )
        .unwrap();
        let body: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(
            (
                out.path.as_str(),
                body["prompt"].as_str(),
                body["stream"].as_bool()
            ),
            ("/api/generate", Some("Say hi"), Some(true))
        );
        let out = translate_request(
            true,
            Endpoint::Embeddings,
            &map(json!({"input": "a", "num_ctx": 4})),
            "e",
        )
        .unwrap();
        assert_eq!(out.path, "/api/embed");
        assert_eq!(
            serde_json::from_slice::<Value>(&out.body).unwrap(),
            json!({"model": "e", "input": "a", "options": {"num_ctx": 4}})
        );
    }

    fn ctx(include_usage: bool) -> ResponseContext {
        ResponseContext {
            created: 1_700_000_000,
            model: "fallback".into(),
            include_usage,
        }
    }

    fn answer(endpoint: Endpoint, body: &str) -> Value {
        serde_json::from_slice(&translate_response(endpoint, body.as_bytes(), &ctx(false)).unwrap())
            .unwrap()
    }

    #[test]
    fn responses_become_openai() {
        let v = answer(
            Endpoint::ChatCompletions,
            r#"{"model":"llama3.1","created_at":"2024-07-22T20:33:28Z","message":{"role":"assistant","content":"Hi!","thinking":"greet"},"done_reason":"stop","done":true,"total_duration":1,"prompt_eval_count":26,"eval_count":3}"#,
        );
        assert_eq!(v["object"], "chat.completion");
        assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert_eq!(v["created"], 1_700_000_000);
        assert_eq!(v["model"], "llama3.1");
        assert_eq!(
            v["choices"][0]["message"],
            json!({"role": "assistant", "content": "Hi!", "reasoning_content": "greet"})
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 26, "completion_tokens": 3, "total_tokens": 29})
        );

        let v = answer(
            Endpoint::ChatCompletions,
            r#"{"model":"m","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},"done_reason":"stop","done":true,"eval_count":9}"#,
        );
        let call = &v["choices"][0]["message"]["tool_calls"][0];
        assert!(call["id"].as_str().unwrap().starts_with("call_"));
        assert_eq!(call["type"], "function");
        assert_eq!(
            call["function"],
            json!({"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"})
        );
        assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(v["usage"]["prompt_tokens"], 0, "absent for a cached prompt");

        let v = answer(
            Endpoint::ChatCompletions,
            r#"{"model":"m","response":"cut","done":true,"done_reason":"length","prompt_eval_count":1,"eval_count":1}"#,
        );
        assert_eq!(
            (
                v["choices"][0]["message"]["content"].as_str(),
                v["choices"][0]["finish_reason"].as_str()
            ),
            (Some("cut"), Some("length"))
        );
        let v = answer(
            Endpoint::Completions,
            r#"{"model":"m","response":"hello","done":true,"done_reason":"stop"}"#,
        );
        assert_eq!(v["object"], "text_completion");
        assert_eq!(v["choices"][0]["text"], "hello");
        let v = answer(
            Endpoint::Embeddings,
            r#"{"model":"all-minilm","embeddings":[[0.1,0.2],[0.3,0.4]],"total_duration":14143917,"load_duration":1019500,"prompt_eval_count":8}"#,
        );
        assert_eq!(v["object"], "list");
        assert_eq!(
            v["data"][1],
            json!({"object": "embedding", "index": 1, "embedding": [0.3, 0.4]})
        );
        assert_eq!(v["usage"], json!({"prompt_tokens": 8, "total_tokens": 8}));
        let err =
            translate_response(Endpoint::ChatCompletions, b"<html>", &ctx(false)).unwrap_err();
        assert_eq!(err.status, 502);
    }

    /// `/api/chat` streamed, as Ollama's API reference shows it.
    const CHAT_STREAM: &str = concat!(
        "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"message\":{\"role\":\"assistant\",\"content\":\"The\"},\"done\":false}\n",
        "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.4Z\",\"message\":{\"role\":\"assistant\",\"content\":\" sky é\"},\"done\":false}\r\n",
        "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T19:22:45.499127Z\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"total_duration\":4883583458,\"load_duration\":1334875,\"prompt_eval_count\":26,\"prompt_eval_duration\":342546000,\"eval_count\":282,\"eval_duration\":4535599000}\n",
    );

    fn run(
        endpoint: Endpoint,
        stream: &[u8],
        splits: &[usize],
        include_usage: bool,
    ) -> (String, Option<crate::cost::Usage>) {
        let mut t = StreamTranslator::new(endpoint, ctx(include_usage));
        let mut out = Vec::new();
        let mut last = 0;
        for &s in splits {
            t.push(&stream[last..s], &mut out);
            last = s;
        }
        t.push(&stream[last..], &mut out);
        t.finish(&mut out);
        (String::from_utf8(out).unwrap(), t.usage())
    }

    fn events(out: &str) -> Vec<Value> {
        out.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let data = e.strip_prefix("data: ").expect("data events only");
                serde_json::from_str(data).unwrap_or_else(|_| json!(data))
            })
            .collect()
    }

    #[test]
    fn chat_stream_at_every_split_point() {
        let whole = run(Endpoint::ChatCompletions, CHAT_STREAM.as_bytes(), &[], true);
        let evs = events(&whole.0);
        assert_eq!(evs.len(), 5, "{}", whole.0);
        assert_eq!(
            evs[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": "The"})
        );
        assert_eq!(evs[0]["object"], "chat.completion.chunk");
        assert_eq!(evs[0]["model"], "llama3.2");
        assert_eq!(evs[1]["choices"][0]["delta"], json!({"content": " sky é"}));
        assert_eq!(evs[2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(evs[3]["choices"], json!([]));
        assert_eq!(
            evs[3]["usage"],
            json!({"prompt_tokens": 26, "completion_tokens": 282, "total_tokens": 308})
        );
        assert_eq!(evs[4], json!("[DONE]"));
        let ids: Vec<_> = evs[..4].iter().map(|e| e["id"].clone()).collect();
        assert!(ids.iter().all(|i| *i == ids[0]), "one id per stream");
        assert_eq!(
            whole.1.map(|u| (u.prompt_tokens, u.completion_tokens)),
            Some((26, 282))
        );
        let bytes = CHAT_STREAM.as_bytes();
        for split in 0..=bytes.len() {
            assert_eq!(
                run(Endpoint::ChatCompletions, bytes, &[split], true),
                whole,
                "split at {split}"
            );
        }
        // Byte by byte.
        let every: Vec<usize> = (1..bytes.len()).collect();
        assert_eq!(run(Endpoint::ChatCompletions, bytes, &every, true), whole);
        // Without include_usage: no usage chunk, usage still known.
        let (out, usage) = run(Endpoint::ChatCompletions, bytes, &[], false);
        assert_eq!(events(&out).len(), 4);
        assert_eq!(usage.map(|u| u.completion_tokens), Some(282));
    }

    #[test]
    fn streamed_tool_calls_and_generate_streams() {
        let stream = concat!(
            "{\"model\":\"m\",\"created_at\":\"t1\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}},{\"function\":{\"name\":\"get_time\",\"arguments\":{}}}]},\"done\":false}\n",
            "{\"model\":\"m\",\"created_at\":\"t2\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":5,\"eval_count\":7}\n",
        );
        let (out, _) = run(Endpoint::ChatCompletions, stream.as_bytes(), &[], false);
        let evs = events(&out);
        let calls = &evs[0]["choices"][0]["delta"]["tool_calls"];
        assert_eq!(evs[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(calls[0]["index"], 0);
        assert_eq!(calls[1]["index"], 1);
        assert_eq!(
            calls[0]["function"],
            json!({"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"})
        );
        assert!(calls[1]["id"].as_str().unwrap().starts_with("call_"));
        assert_ne!(calls[0]["id"], calls[1]["id"]);
        assert_eq!(evs[1]["choices"][0]["finish_reason"], "tool_calls");

        let gen = concat!(
            "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"response\":\"The\",\"done\":false}\n",
            "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.5Z\",\"response\":\"\",\"thinking\":\"hm\",\"done\":false}\n",
            "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T19:22:45.499127Z\",\"response\":\"\",\"done\":true,\"done_reason\":\"length\",\"context\":[1,2,3],\"prompt_eval_count\":3,\"eval_count\":4}\n",
        );
        let (out, usage) = run(Endpoint::ChatCompletions, gen.as_bytes(), &[], false);
        let evs = events(&out);
        assert_eq!(evs[0]["choices"][0]["delta"]["content"], "The");
        assert_eq!(
            evs[1]["choices"][0]["delta"],
            json!({"reasoning_content": "hm"})
        );
        assert_eq!(evs[2]["choices"][0]["finish_reason"], "length");
        assert_eq!(usage.map(|u| u.prompt_tokens), Some(3));
        let (out, _) = run(Endpoint::Completions, gen.as_bytes(), &[7], true);
        let evs = events(&out);
        assert_eq!(evs[0]["object"], "text_completion");
        assert_eq!(evs[0]["choices"][0]["text"], "The");
        assert_eq!(evs[1]["choices"][0]["finish_reason"], "length");
        assert_eq!(evs[2]["usage"]["completion_tokens"], 4);
        assert_eq!(evs[3], json!("[DONE]"));
    }

    #[test]
    fn stream_errors_and_cuts_end_with_an_error_event() {
        let stream = "{\"model\":\"m\",\"created_at\":\"t\",\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"done\":false}\n{\"error\":\"an error was encountered while running the model\"}\n{\"model\":\"m\",\"done\":true}\n";
        let (out, usage) = run(Endpoint::ChatCompletions, stream.as_bytes(), &[], false);
        let evs = events(&out);
        assert_eq!(evs.len(), 3, "{out}");
        assert_eq!(
            evs[1]["error"]["message"],
            "an error was encountered while running the model"
        );
        assert_eq!(evs[1]["error"]["code"], "500");
        assert_eq!(evs[2], json!("[DONE]"));
        assert_eq!(usage, None);

        let cut = "{\"model\":\"m\",\"created_at\":\"t\",\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"done\":false}\n{\"model\":\"m\",\"mess";
        let (out, _) = run(Endpoint::ChatCompletions, cut.as_bytes(), &[], false);
        let evs = events(&out);
        assert_eq!(evs[1]["error"]["code"], "502", "{out}");
        assert_eq!(evs.last().unwrap(), &json!("[DONE]"));
        assert_eq!(out.matches("[DONE]").count(), 1);

        let (out, _) = run(Endpoint::ChatCompletions, b"not json\n", &[], false);
        assert!(
            out.contains("\"code\":\"502\"") && out.ends_with("data: [DONE]\n\n"),
            "{out}"
        );
        // A final line without a newline still counts.
        let (out, usage) = run(
            Endpoint::ChatCompletions,
            CHAT_STREAM.trim_end().as_bytes(),
            &[],
            false,
        );
        assert!(
            out.ends_with("data: [DONE]\n\n") && !out.contains("error"),
            "{out}"
        );
        assert!(usage.is_some());
    }
}
