//! Google AI Studio Gemini API (`generateContent`, `streamGenerateContent?alt=sse`,
//! `batchEmbedContents`): OpenAI requests in, OpenAI answers out.
//!
//! Field names follow Google's Gemini API REST reference (`GenerateContentRequest`,
//! `Content`/`Part`, `GenerationConfig`, `Tool`/`FunctionDeclaration`, `ToolConfig`,
//! `GenerateContentResponse`, `UsageMetadata`, `EmbedContentRequest`), in the
//! lowerCamelCase of its JSON representation (the API also takes proto field
//! names, `system_instruction`, but one spelling is used throughout); where LiteLLM
//! (`litellm/llms/vertex_ai/gemini/`, `litellm/llms/gemini/`) has settled a
//! mapping, its answer is kept. The same bodies serve Gemini on Vertex AI.
//!
//! # Requests
//!
//! * `system` and `developer` messages → `systemInstruction.parts` (one text part
//!   each). `user` → role `user`, `assistant` → role `model`, `tool` → a
//!   `functionResponse` part in a `user` turn. Consecutive turns of one role are
//!   merged (Gemini wants user/model alternating, and all responses to one model
//!   turn's calls in one turn).
//! * Parts: `text` → `{text}` (empty texts dropped); `image_url` with a `data:` URI →
//!   `inlineData {mimeType, data}`; an `http(s)` URL → `fileData {mimeType,
//!   fileUri}`: the Gemini API fetches public and signed HTTPS URLs itself (Google's
//!   "file input methods" guide and the "increased file size limits" announcement),
//!   so nothing is downloaded here; the MIME type is taken from the URL's extension
//!   and a URL without a known image extension is a 400 naming the part. `file` with
//!   a data URI → `inlineData`.
//! * Assistant `tool_calls` → `functionCall {name, args}` parts (the `arguments`
//!   string parsed; bad JSON is a 400). A tool call id of the form
//!   `<id>__thought__<signature>` (LiteLLM's `THOUGHT_SIGNATURE_SEPARATOR`) puts the
//!   signature back as the part's `thoughtSignature`, so multi-turn tool calls keep
//!   working with thinking models. A `tool` message's `functionResponse.name` comes
//!   from the earlier call with that id (or the message's `name`); its content is
//!   the `response` when it is a JSON object, else wrapped as `{"content": …}`.
//!   For `gemini-3` models, a model turn whose calls carry no signature gets
//!   Google's sentinel `skip_thought_signature_validator` on its first call
//!   ([`SKIP_SIGNATURE`]), since Gemini 3 refuses unsigned function calls.
//! * `tools` → `tools: [{functionDeclarations: [{name, description, parameters}]}]`
//!   with the JSON-schema keys Gemini's `Schema` refuses (`$schema`,
//!   `additionalProperties`, `strict`) removed at every depth, as LiteLLM does, and
//!   an object schema without properties left out (Gemini refuses an empty
//!   `properties`). `tool_choice` → `toolConfig.functionCallingConfig.mode`: `auto` →
//!   `AUTO`, `none` → `NONE`, `required` → `ANY`, a named function → `ANY` with
//!   `allowedFunctionNames`.
//! * `generationConfig`: `temperature`, `top_p` → `topP`, `max_completion_tokens` /
//!   `max_tokens` → `maxOutputTokens`, `stop` (string or list) → `stopSequences`,
//!   `n` → `candidateCount`, `presence_penalty` → `presencePenalty`,
//!   `frequency_penalty` → `frequencyPenalty`, `seed`, `top_k` → `topK`,
//!   `response_format` (`json_object` → `responseMimeType: application/json`;
//!   `json_schema` → that plus `responseJsonSchema`: Google's field that takes the
//!   client's JSON Schema as it is, where LiteLLM converts it to the OpenAPI subset
//!   of `responseSchema`), `reasoning_effort` → `thinkingConfig` as LiteLLM maps
//!   it ([`thinking_config`]: a `thinkingBudget`, or a `thinkingLevel` for Gemini
//!   3), Anthropic-style `thinking` → `thinkingConfig` likewise.
//! * `safety_settings` → `safetySettings` as given; `parallel_tool_calls: false`
//!   with several tools is a 400 (LiteLLM's rule: Gemini has no such switch).
//! * Embeddings: `input` (a string or a list of strings) → `batchEmbedContents`
//!   `{requests: [{model: "models/{m}", content: {parts: [{text}]}}]}`,
//!   `dimensions` → `outputDimensionality` on each request.
//! * Legacy `/completions` is not translated (400).
//!
//! # Responses
//!
//! One choice per candidate (`index` from the candidate). Text parts are joined into
//! `content`, `thought: true` parts into `reasoning_content`; `functionCall` parts
//! become `tool_calls` with ids `call_<responseId>_<n>` (plus
//! `__thought__<signature>` when the part had a `thoughtSignature`) and `args`
//! serialized as the `arguments` string. `finishReason` → `finish_reason` as
//! LiteLLM maps it (see [`finish_reason`]): `tool_calls` when the candidate called
//! tools, `MAX_TOKENS` → `length`, the safety and policy stops → `content_filter`,
//! anything else → `stop`. A prompt
//! blocked before any candidate (`promptFeedback.blockReason`) is one choice with
//! `content: null` and `finish_reason: content_filter`, as LiteLLM answers.
//!
//! Usage: `prompt_tokens = promptTokenCount`, `completion_tokens =
//! candidatesTokenCount + thoughtsTokenCount` (LiteLLM counts thoughts as
//! completion), `completion_tokens_details.reasoning_tokens = thoughtsTokenCount`,
//! `prompt_tokens_details.cached_tokens = cachedContentTokenCount`.
//!
//! # Streams
//!
//! With `alt=sse` every event is `data: <GenerateContentResponse>`; there is no
//! terminator, the stream just ends. [`StreamTranslator`] writes the role chunk with
//! the first delta, text/reasoning deltas, one `tool_calls` delta per `functionCall`
//! (Gemini sends each call whole), and a finish chunk when a candidate has a
//! `finishReason`. At the end of the stream it adds the usage chunk (from the last
//! `usageMetadata`, with `stream_options.include_usage`) and `data: [DONE]`. A
//! stream that ends before any `finishReason`, an event that is not JSON, or an
//! `error` event ends with an OpenAI-shaped error event and `[DONE]`.

use serde_json::{json, Map, Value};

use super::{present, serialize_request as serialize};
use super::{ResponseContext, StreamTranslate};
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::sse::SseDecoder;
use crate::wire::openai::{self as wire, invalid, parse_data_uri, write_data, DONE};

/// The separator LiteLLM puts between a tool call id and the Gemini thought
/// signature it carries (`litellm_core_utils/prompt_templates/factory.py`).
pub const THOUGHT_SIGNATURE_SEPARATOR: &str = "__thought__";

/// The OpenAI parameters of LiteLLM's `GoogleAIStudioGeminiConfig` /
/// `VertexGeminiConfig.get_supported_openai_params` that this translation maps,
/// plus `seed` and `presence_penalty` (LiteLLM's AI Studio table lacks them, but
/// Google's `GenerationConfig` reference documents both, as its Vertex table does),
/// and the provider-specific `top_k`, `safety_settings` and `thinking` LiteLLM also
/// passes on. `logprobs`, `top_logprobs`, `modalities`, `audio`, `functions` and
/// `web_search_options` are not translated (a 400 naming them, or dropped with
/// `drop_params`).
const CHAT_PARAMS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "temperature",
    "top_p",
    "top_k",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
    "thinking",
    "safety_settings",
];

const COMPLETION_PARAMS: &[&str] = &["model", "prompt"];

/// `batchEmbedContents` takes the texts and `outputDimensionality`;
/// `encoding_format` is handled on the way back (base64 from the numbers).
const EMBEDDING_PARAMS: &[&str] = &["model", "input", "dimensions", "encoding_format"];

/// Parameters the translation understands, per endpoint.
pub fn supported_params(endpoint: Endpoint) -> &'static [&'static str] {
    match endpoint {
        Endpoint::ChatCompletions => CHAT_PARAMS,
        Endpoint::Completions => COMPLETION_PARAMS,
        Endpoint::Embeddings => EMBEDDING_PARAMS,
    }
}

/// The REST method for an endpoint: `generateContent`,
/// `streamGenerateContent?alt=sse` (server-sent events; without `alt=sse` Google
/// streams one JSON array) or `batchEmbedContents`.
pub fn method(stream: bool, endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Embeddings => "batchEmbedContents",
        _ if stream => "streamGenerateContent?alt=sse",
        _ => "generateContent",
    }
}

/// The model id as one percent-encoded path segment (a leading `models/` dropped).
pub fn model_segment(model: &str) -> String {
    encode_segment(model.strip_prefix("models/").unwrap_or(model))
}

/// The path after the versioned AI Studio base (`…/v1beta`):
/// `/models/{model}:{method}` (`models.generateContent`,
/// `models.streamGenerateContent`, `models.batchEmbedContents` in Google's REST
/// reference).
pub fn request_path(model: &str, stream: bool, endpoint: Endpoint) -> String {
    format!(
        "/models/{}:{}",
        model_segment(model),
        method(stream, endpoint)
    )
}

/// The API version AI Studio paths need when the `api_base` names none
/// (`GEMINI_API_BASE` and LiteLLM's default are the bare host).
pub const DEFAULT_API_VERSION: &str = "/v1beta";

/// Whether an `api_base` path prefix already ends in an API version segment
/// (`/v1beta`, `/v1`, `/v1alpha`): LiteLLM's custom Gemini bases include it
/// (`{api_base}/models/{model}:…`), its default host does not.
pub fn has_version(path_prefix: &str) -> bool {
    path_prefix
        .rsplit('/')
        .next()
        .and_then(|last| last.strip_prefix('v'))
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| c.is_ascii_digit())
}

fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// OpenAI request → Gemini request body (`GenerateContentRequest`, or
/// `batchEmbedContents` for embeddings).
pub fn translate_request(
    endpoint: Endpoint,
    request: &Map<String, Value>,
    model: &str,
) -> Result<Vec<u8>, GatewayError> {
    match endpoint {
        Endpoint::Embeddings => embeddings_request(request, model),
        Endpoint::Completions => Err(GatewayError::bad_request(
            "The Gemini translation serves /chat/completions and /embeddings; use /chat/completions for this deployment.",
        )),
        Endpoint::ChatCompletions => chat_request(request, model),
    }
}

fn embeddings_request(request: &Map<String, Value>, model: &str) -> Result<Vec<u8>, GatewayError> {
    let bad = || invalid("input", "`input` must be a string or an array of strings.");
    let texts: Vec<&str> = match present(request, "input") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .map(|v| v.as_str().ok_or_else(bad))
            .collect::<Result<_, _>>()?,
        _ => return Err(bad()),
    };
    let dims =
        match present(request, "dimensions") {
            None => None,
            Some(v) => Some(v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                invalid("dimensions", "`dimensions` must be a positive integer.")
            })?),
        };
    let model = model.strip_prefix("models/").unwrap_or(model);
    let requests: Vec<Value> = texts
        .into_iter()
        .map(|text| {
            let mut r = json!({
                "model": format!("models/{model}"),
                "content": { "parts": [{ "text": text }] },
            });
            if let (Some(d), Some(obj)) = (dims, r.as_object_mut()) {
                obj.insert("outputDimensionality".into(), Value::from(d));
            }
            r
        })
        .collect();
    serialize(&json!({ "requests": requests }))
}

fn chat_request(request: &Map<String, Value>, model: &str) -> Result<Vec<u8>, GatewayError> {
    let messages = present(request, "messages")
        .ok_or_else(|| invalid("messages", "Missing required parameter: `messages`."))?;
    let (system, mut contents) = translate_messages(messages)?;
    if model.contains("gemini-3") {
        sign_unsigned_calls(&mut contents);
    }

    let mut body = Map::new();
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({ "parts": system }));
    }
    body.insert("contents".into(), Value::Array(contents));
    if let Some(tools) = translate_tools(present(request, "tools"))? {
        if present(request, "parallel_tool_calls") == Some(&Value::Bool(false)) && tools.len() > 1 {
            // LiteLLM's validate_parallel_tool_calls: Gemini has no switch for it.
            return Err(invalid(
                "parallel_tool_calls",
                "`parallel_tool_calls=false` is not supported by Gemini when several tools are given: give one tool, or set `parallel_tool_calls=true`.",
            ));
        }
        body.insert("tools".into(), json!([{ "functionDeclarations": tools }]));
    }
    if let Some(settings) = present(request, "safety_settings") {
        // LiteLLM passes `safety_settings` on as `safetySettings`
        // ([{category, threshold}], Google's `SafetySetting`).
        let ok = settings
            .as_array()
            .is_some_and(|list| list.iter().all(Value::is_object));
        if !ok {
            return Err(invalid(
                "safety_settings",
                "`safety_settings` must be a list of {\"category\": …, \"threshold\": …} objects.",
            ));
        }
        body.insert("safetySettings".into(), settings.clone());
    }
    if let Some(config) = translate_tool_choice(present(request, "tool_choice"))? {
        body.insert(
            "toolConfig".into(),
            json!({ "functionCallingConfig": config }),
        );
    }
    let config = generation_config(request, model)?;
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    serialize(&Value::Object(body))
}

fn generation_config(
    request: &Map<String, Value>,
    model: &str,
) -> Result<Map<String, Value>, GatewayError> {
    let mut config = Map::new();
    for (key, to) in [
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ] {
        if let Some(v) = present(request, key) {
            if !v.is_number() {
                return Err(invalid(key, format!("`{key}` must be a number.")));
            }
            config.insert(to.into(), v.clone());
        }
    }
    for key in ["max_completion_tokens", "max_tokens"] {
        if let Some(v) = present(request, key) {
            let n = v
                .as_u64()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid(key, format!("`{key}` must be a positive integer.")))?;
            config.insert("maxOutputTokens".into(), Value::from(n));
            break;
        }
    }
    if let Some(v) = present(request, "n") {
        let n = v
            .as_u64()
            .filter(|n| *n > 0)
            .ok_or_else(|| invalid("n", "`n` must be a positive integer."))?;
        config.insert("candidateCount".into(), Value::from(n));
    }
    if let Some(v) = present(request, "seed") {
        if v.as_i64().is_none() {
            return Err(invalid("seed", "`seed` must be an integer."));
        }
        config.insert("seed".into(), v.clone());
    }
    let bad_stop = || invalid("stop", "`stop` must be a string or an array of strings.");
    match present(request, "stop") {
        None => {}
        Some(Value::String(s)) => {
            config.insert("stopSequences".into(), json!([s]));
        }
        Some(Value::Array(list)) => {
            if list.iter().any(|s| !s.is_string()) {
                return Err(bad_stop());
            }
            if !list.is_empty() {
                config.insert("stopSequences".into(), Value::Array(list.clone()));
            }
        }
        Some(_) => return Err(bad_stop()),
    }
    if let Some(format) = present(request, "response_format") {
        let bad = |m: &str| invalid("response_format", m.to_string());
        match format.get("type").and_then(Value::as_str) {
            Some("text") => {}
            Some("json_object") => {
                config.insert("responseMimeType".into(), Value::from("application/json"));
            }
            Some("json_schema") => {
                let schema = format
                    .get("json_schema")
                    .and_then(|s| s.get("schema"))
                    .filter(|s| s.is_object())
                    .ok_or_else(|| {
                        bad("`response_format.json_schema.schema` must be a JSON Schema object.")
                    })?;
                config.insert("responseMimeType".into(), Value::from("application/json"));
                let mut schema = schema.clone();
                if let Some(obj) = schema.as_object_mut() {
                    obj.remove("$schema");
                }
                config.insert("responseJsonSchema".into(), schema);
            }
            _ => {
                return Err(bad(
                    "`response_format.type` must be `text`, `json_object` or `json_schema`.",
                ))
            }
        }
    }
    if let Some(k) = present(request, "top_k") {
        if k.as_u64().is_none() {
            return Err(invalid("top_k", "`top_k` must be a non-negative integer."));
        }
        config.insert("topK".into(), k.clone());
    }
    if let Some(effort) = present(request, "reasoning_effort") {
        let effort = effort
            .as_str()
            .ok_or_else(|| invalid("reasoning_effort", "`reasoning_effort` must be a string."))?;
        let thinking = thinking_config(effort, model).ok_or_else(|| {
            invalid(
                "reasoning_effort",
                format!("Unsupported `reasoning_effort` {effort:?}: use none, disable, minimal, low, medium or high."),
            )
        })?;
        config.insert("thinkingConfig".into(), thinking);
    } else if let Some(thinking) = present(request, "thinking") {
        config.insert("thinkingConfig".into(), anthropic_thinking(thinking)?);
    }
    Ok(config)
}

/// LiteLLM's `reasoning_effort` → `thinkingConfig`
/// (`VertexGeminiConfig._map_reasoning_effort_to_thinking_budget` and
/// `…_to_thinking_level`): Gemini 3 models get a `thinkingLevel` (`low`/`high`;
/// thinking cannot be turned off there, so `none`/`disable` only hide the
/// thoughts), the others a `thinkingBudget` (LiteLLM's
/// `DEFAULT_REASONING_EFFORT_*_THINKING_BUDGET` constants, `minimal` per model:
/// the smallest budget each 2.5 model takes). `none`/`disable` turn thinking off,
/// every other effort asks for thought summaries (`includeThoughts`).
pub fn thinking_config(effort: &str, model: &str) -> Option<Value> {
    if model.contains("gemini-3") {
        let (level, include) = match effort {
            "minimal" | "low" => ("low", true),
            "medium" | "high" => ("high", true),
            "none" | "disable" => ("low", false),
            _ => return None,
        };
        return Some(json!({ "thinkingLevel": level, "includeThoughts": include }));
    }
    let budget: u64 = match effort {
        "none" | "disable" => 0,
        "minimal" if model.contains("gemini-2.5-flash-lite") => 512,
        "minimal" if model.contains("gemini-2.5-pro") => 128,
        "minimal" if model.contains("gemini-2.5-flash") => 1,
        "minimal" => 128,
        "low" => 1024,
        "medium" => 2048,
        "high" => 4096,
        _ => return None,
    };
    Some(json!({ "thinkingBudget": budget, "includeThoughts": budget > 0 }))
}

/// Anthropic's `thinking` (`{"type": "enabled", "budget_tokens": N}`) →
/// `thinkingConfig`, as LiteLLM's `_map_thinking_param`: thoughts included when
/// enabled with a non-zero budget, the budget as given.
fn anthropic_thinking(thinking: &Value) -> Result<Value, GatewayError> {
    let bad = || {
        invalid(
            "thinking",
            "`thinking` must be {\"type\": \"enabled\" | \"disabled\", \"budget_tokens\": N}.",
        )
    };
    let obj = thinking.as_object().ok_or_else(bad)?;
    let enabled = match obj.get("type").and_then(Value::as_str) {
        Some("enabled") => true,
        Some("disabled") => false,
        _ => return Err(bad()),
    };
    let budget = match obj.get("budget_tokens").filter(|b| !b.is_null()) {
        None => None,
        Some(b) => Some(b.as_u64().ok_or_else(bad)?),
    };
    let mut out = Map::new();
    if enabled && budget != Some(0) {
        out.insert("includeThoughts".into(), Value::Bool(true));
    }
    if let Some(b) = budget {
        out.insert("thinkingBudget".into(), Value::from(b));
    }
    Ok(Value::Object(out))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Model,
}

fn push_turn(turns: &mut Vec<(Role, Vec<Value>)>, role: Role, parts: Vec<Value>) {
    if parts.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((last, existing)) if *last == role => existing.extend(parts),
        _ => turns.push((role, parts)),
    }
}

/// `(system parts, contents)`.
fn translate_messages(messages: &Value) -> Result<(Vec<Value>, Vec<Value>), GatewayError> {
    let list = messages
        .as_array()
        .ok_or_else(|| invalid("messages", "`messages` must be an array."))?;
    let mut system = Vec::new();
    let mut turns: Vec<(Role, Vec<Value>)> = Vec::new();
    // Tool call id (as the client sent it) → function name.
    let mut call_names: Vec<(String, String)> = Vec::new();
    for (i, msg) in list.iter().enumerate() {
        let obj = msg
            .as_object()
            .ok_or_else(|| invalid(format!("messages[{i}]"), "Each message must be an object."))?;
        let role = obj.get("role").and_then(Value::as_str).ok_or_else(|| {
            invalid(
                format!("messages[{i}].role"),
                "Each message needs a `role`.",
            )
        })?;
        let content = obj.get("content").filter(|v| !v.is_null());
        match role {
            "system" | "developer" => {
                if let Some(content) = content {
                    system.extend(content_parts(content, i, true)?);
                }
            }
            "user" => {
                let parts = match content {
                    Some(c) => content_parts(c, i, false)?,
                    None => Vec::new(),
                };
                push_turn(&mut turns, Role::User, parts);
            }
            "assistant" => {
                let mut parts = match content {
                    Some(c) => content_parts(c, i, true)?,
                    None => Vec::new(),
                };
                if let Some(calls) = obj.get("tool_calls").filter(|v| !v.is_null()) {
                    function_call_parts(calls, i, &mut parts, &mut call_names)?;
                }
                push_turn(&mut turns, Role::Model, parts);
            }
            "tool" | "function" => {
                let part = function_response_part(obj, i, &call_names)?;
                push_turn(&mut turns, Role::User, vec![part]);
            }
            other => {
                return Err(invalid(
                    format!("messages[{i}].role"),
                    format!("Unsupported message role {other:?}."),
                ))
            }
        }
    }
    let contents = turns
        .into_iter()
        .map(|(role, parts)| {
            json!({
                "role": if role == Role::User { "user" } else { "model" },
                "parts": parts,
            })
        })
        .collect();
    Ok((system, contents))
}

fn content_parts(content: &Value, i: usize, text_only: bool) -> Result<Vec<Value>, GatewayError> {
    match content {
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![json!({ "text": s })]),
        Value::Array(parts) => {
            let mut out = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                if let Some(p) = content_part(part, i, j, text_only)? {
                    out.push(p);
                }
            }
            Ok(out)
        }
        _ => Err(invalid(
            format!("messages[{i}].content"),
            "`content` must be a string or an array of content parts.",
        )),
    }
}

fn content_part(
    part: &Value,
    i: usize,
    j: usize,
    text_only: bool,
) -> Result<Option<Value>, GatewayError> {
    let at = format!("messages[{i}].content[{j}]");
    let kind = part
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&at, "Each content part needs a `type`."))?;
    match kind {
        "text" => {
            let text = part
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("{at}.text"), "`text` must be a string."))?;
            Ok((!text.is_empty()).then(|| json!({ "text": text })))
        }
        "image_url" if !text_only => {
            let url = part
                .get("image_url")
                .and_then(|u| u.get("url").or(Some(u)))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(
                        format!("{at}.image_url"),
                        "`image_url.url` must be a string.",
                    )
                })?;
            image_part(url, &format!("{at}.image_url")).map(Some)
        }
        "file" if !text_only => {
            let data = part
                .get("file")
                .and_then(|f| f.get("file_data"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(
                        format!("{at}.file"),
                        "Only `file.file_data` with a base64 data URI is supported for Gemini.",
                    )
                })?;
            let (mime, b64) = base64_data_uri(data).ok_or_else(|| {
                invalid(
                    format!("{at}.file.file_data"),
                    "`file_data` must be a base64 data URI.",
                )
            })?;
            Ok(Some(
                json!({ "inlineData": { "mimeType": mime, "data": b64 } }),
            ))
        }
        other => Err(invalid(
            &at,
            format!("Content part type {other:?} is not supported here for Gemini."),
        )),
    }
}

/// `data:<mime>;base64,<data>` → (mime with any parameters, data).
fn base64_data_uri(uri: &str) -> Option<(&str, &str)> {
    parse_data_uri(uri)
        .filter(|d| !d.header.is_empty())
        .map(|d| (d.header, d.data))
}

/// The image MIME types Gemini takes, by file extension.
fn image_mime_from_url(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "gif" => "image/gif",
        _ => return None,
    })
}

fn image_part(url: &str, at: &str) -> Result<Value, GatewayError> {
    if url.starts_with("data:") {
        let (mime, data) = base64_data_uri(url).ok_or_else(|| {
            invalid(
                at,
                "An image data URI must look like `data:image/png;base64,...`.",
            )
        })?;
        return Ok(json!({ "inlineData": { "mimeType": mime, "data": data } }));
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        let mime = image_mime_from_url(url).ok_or_else(|| {
            invalid(
                at,
                "Gemini fetches image URLs itself but needs their MIME type: use a URL ending in .png, .jpg, .jpeg, .webp, .heic, .heif or .gif, or send the image as a base64 data URI.",
            )
        })?;
        return Ok(json!({ "fileData": { "mimeType": mime, "fileUri": url } }));
    }
    Err(invalid(
        at,
        "`image_url.url` must be a base64 data URI or an http(s) URL.",
    ))
}

/// Google's documented sentinel for a function call that has no real thought
/// signature (history from another model, or a client that dropped the id suffix).
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// Gemini 3 refuses a model turn whose function calls carry no thought signature:
/// such a turn gets [`SKIP_SIGNATURE`] on its first call (where Gemini puts the
/// signature of parallel calls), as LiteLLM and Google's SDKs do. Real signatures
/// are never replaced.
fn sign_unsigned_calls(contents: &mut [Value]) {
    for turn in contents {
        if turn.get("role").and_then(Value::as_str) != Some("model") {
            continue;
        }
        let Some(parts) = turn.get_mut("parts").and_then(Value::as_array_mut) else {
            continue;
        };
        let calls = || parts.iter().filter(|p| p.get("functionCall").is_some());
        if calls().any(|p| p.get("thoughtSignature").is_some()) {
            continue;
        }
        if let Some(first) = parts
            .iter_mut()
            .find(|p| p.get("functionCall").is_some())
            .and_then(Value::as_object_mut)
        {
            first.insert("thoughtSignature".into(), Value::from(SKIP_SIGNATURE));
        }
    }
}

/// `call_x__thought__SIG` → (`call_x`, `Some("SIG")`).
pub fn split_tool_call_id(id: &str) -> (&str, Option<&str>) {
    match id.split_once(THOUGHT_SIGNATURE_SEPARATOR) {
        Some((base, sig)) if !sig.is_empty() => (base, Some(sig)),
        _ => (id, None),
    }
}

fn function_call_parts(
    calls: &Value,
    i: usize,
    parts: &mut Vec<Value>,
    names: &mut Vec<(String, String)>,
) -> Result<(), GatewayError> {
    let calls = calls.as_array().ok_or_else(|| {
        invalid(
            format!("messages[{i}].tool_calls"),
            "`tool_calls` must be an array.",
        )
    })?;
    for (k, call) in calls.iter().enumerate() {
        let at = format!("messages[{i}].tool_calls[{k}]");
        let function = call
            .get("function")
            .ok_or_else(|| invalid(&at, "A tool call needs a `function`."))?;
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("{at}.function.name"), "`name` must be a string."))?;
        let args = match function.get("arguments") {
            None | Some(Value::Null) => json!({}),
            Some(Value::String(s)) if s.trim().is_empty() => json!({}),
            Some(Value::String(s)) => serde_json::from_str::<Value>(s).map_err(|e| {
                invalid(
                    format!("{at}.function.arguments"),
                    format!("`arguments` is not valid JSON: {e}"),
                )
            })?,
            Some(_) => {
                return Err(invalid(
                    format!("{at}.function.arguments"),
                    "`arguments` must be a JSON string.",
                ))
            }
        };
        if !args.is_object() {
            return Err(invalid(
                format!("{at}.function.arguments"),
                "`arguments` must encode a JSON object.",
            ));
        }
        let mut part = json!({ "functionCall": { "name": name, "args": args } });
        if let Some(id) = call.get("id").and_then(Value::as_str) {
            names.push((id.to_string(), name.to_string()));
            if let (Some(sig), Some(obj)) = (split_tool_call_id(id).1, part.as_object_mut()) {
                obj.insert("thoughtSignature".into(), Value::from(sig));
            }
        }
        parts.push(part);
    }
    Ok(())
}

fn function_response_part(
    obj: &Map<String, Value>,
    i: usize,
    names: &[(String, String)],
) -> Result<Value, GatewayError> {
    let id = obj.get("tool_call_id").and_then(Value::as_str);
    let name = id
        .and_then(|id| {
            names
                .iter()
                .rev()
                .find(|(known, _)| {
                    known == id || split_tool_call_id(known).0 == split_tool_call_id(id).0
                })
                .map(|(_, n)| n.as_str())
        })
        .or_else(|| obj.get("name").and_then(Value::as_str))
        .ok_or_else(|| {
            invalid(
                format!("messages[{i}].tool_call_id"),
                "No earlier assistant tool call has this `tool_call_id`; Gemini needs the function name for a tool result.",
            )
        })?;
    let text = match obj.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        Some(_) => {
            return Err(invalid(
                format!("messages[{i}].content"),
                "A tool message's `content` must be a string or text parts.",
            ))
        }
    };
    let response = match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({ "content": text }),
    };
    Ok(json!({ "functionResponse": { "name": name, "response": response } }))
}

/// Removes the JSON-schema keys Gemini's `Schema` refuses, at every depth.
fn clean_schema(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            for key in ["$schema", "additionalProperties", "strict"] {
                obj.remove(key);
            }
            for (_, child) in obj.iter_mut() {
                clean_schema(child);
            }
        }
        Value::Array(list) => list.iter_mut().for_each(clean_schema),
        _ => {}
    }
}

fn translate_tools(tools: Option<&Value>) -> Result<Option<Vec<Value>>, GatewayError> {
    let Some(tools) = tools else {
        return Ok(None);
    };
    let list = tools
        .as_array()
        .ok_or_else(|| invalid("tools", "`tools` must be an array."))?;
    let mut out = Vec::new();
    for (k, tool) in list.iter().enumerate() {
        let at = format!("tools[{k}]");
        if tool.get("type").and_then(Value::as_str) != Some("function") {
            return Err(invalid(
                &at,
                "Only `function` tools are supported for Gemini.",
            ));
        }
        let f = tool
            .get("function")
            .ok_or_else(|| invalid(&at, "A tool needs a `function`."))?;
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("{at}.function.name"), "`name` must be a string."))?;
        let mut decl = Map::new();
        decl.insert("name".into(), Value::from(name));
        if let Some(d) = f.get("description").and_then(Value::as_str) {
            decl.insert("description".into(), Value::from(d));
        }
        if let Some(params) = f.get("parameters").filter(|p| !p.is_null()) {
            if !params.is_object() {
                return Err(invalid(
                    format!("{at}.function.parameters"),
                    "`parameters` must be a JSON Schema object.",
                ));
            }
            let empty_object = params
                .get("properties")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
                && params
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("object")
                    == "object";
            if !empty_object {
                let mut params = params.clone();
                clean_schema(&mut params);
                decl.insert("parameters".into(), params);
            }
        }
        out.push(Value::Object(decl));
    }
    Ok((!out.is_empty()).then_some(out))
}

fn translate_tool_choice(choice: Option<&Value>) -> Result<Option<Value>, GatewayError> {
    let bad = || {
        invalid(
            "tool_choice",
            "`tool_choice` must be `auto`, `none`, `required` or {\"type\":\"function\",\"function\":{\"name\":…}}.",
        )
    };
    Ok(match choice {
        None => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => json!({ "mode": "AUTO" }),
            "none" => json!({ "mode": "NONE" }),
            "required" => json!({ "mode": "ANY" }),
            _ => return Err(bad()),
        }),
        Some(v) => {
            let name = v
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(bad)?;
            Some(json!({ "mode": "ANY", "allowedFunctionNames": [name] }))
        }
    })
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

/// Gemini `finishReason` → OpenAI `finish_reason`, as LiteLLM's
/// `VertexGeminiConfig._check_finish_reason`: a candidate that called tools is
/// `tool_calls`; `MAX_TOKENS` → `length`; the safety and policy stops (`SAFETY`,
/// `RECITATION`, `LANGUAGE`, `OTHER`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`,
/// `IMAGE_SAFETY`, and the image variants) → `content_filter`; everything else
/// (`STOP`, `MALFORMED_FUNCTION_CALL`, `FINISH_REASON_UNSPECIFIED`, …) → `stop`.
fn finish_reason(reason: Option<&str>, called_tools: bool) -> &'static str {
    match reason {
        _ if called_tools => "tool_calls",
        Some("MAX_TOKENS") => "length",
        Some(
            "SAFETY"
            | "RECITATION"
            | "LANGUAGE"
            | "OTHER"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "IMAGE_RECITATION",
        ) => "content_filter",
        _ => "stop",
    }
}

fn count(meta: &Value, key: &str) -> u64 {
    meta.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Completion tokens of a `usageMetadata`: `candidatesTokenCount` plus
/// `thoughtsTokenCount`, unless the candidates count already holds the thoughts
/// (`promptTokenCount + candidatesTokenCount == totalTokenCount`), as LiteLLM's
/// `is_candidate_token_count_inclusive` decides.
fn completion_count(meta: &Value) -> u64 {
    let prompt = count(meta, "promptTokenCount");
    let candidates = count(meta, "candidatesTokenCount");
    let thoughts = count(meta, "thoughtsTokenCount");
    let total = meta.get("totalTokenCount").and_then(Value::as_u64);
    if thoughts > 0 && total == Some(prompt.saturating_add(candidates)) {
        candidates
    } else {
        candidates.saturating_add(thoughts)
    }
}

/// `usageMetadata` → OpenAI `usage`. `promptTokenCount` already includes the
/// cached tokens (`cachedContentTokenCount`), as OpenAI's `prompt_tokens` does.
fn usage_value(meta: &Value) -> Value {
    let prompt = count(meta, "promptTokenCount");
    let thoughts = count(meta, "thoughtsTokenCount");
    let completion = completion_count(meta);
    let cached = count(meta, "cachedContentTokenCount");
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
        "prompt_tokens_details": { "cached_tokens": cached },
        "completion_tokens_details": { "reasoning_tokens": thoughts },
    })
}

fn usage_of_meta(meta: &Value) -> crate::cost::Usage {
    crate::cost::Usage {
        prompt_tokens: count(meta, "promptTokenCount"),
        completion_tokens: completion_count(meta),
        cache_read_tokens: count(meta, "cachedContentTokenCount"),
        cache_creation_tokens: 0,
    }
}

fn tool_call_id(response_id: &str, candidate: u64, n: usize, signature: Option<&str>) -> String {
    let mut id = if candidate == 0 {
        format!("call_{response_id}_{n}")
    } else {
        format!("call_{response_id}_{candidate}_{n}")
    };
    if let Some(sig) = signature.filter(|s| !s.is_empty()) {
        id.push_str(THOUGHT_SIGNATURE_SEPARATOR);
        id.push_str(sig);
    }
    id
}

fn tool_call_of(part: &Value, response_id: &str, candidate: u64, n: usize) -> Option<Value> {
    let call = part.get("functionCall")?;
    let name = call.get("name").and_then(Value::as_str).unwrap_or_default();
    let arguments = match call.get("args").filter(|a| !a.is_null()) {
        Some(args) => args.to_string(),
        None => "{}".to_string(),
    };
    let signature = part.get("thoughtSignature").and_then(Value::as_str);
    Some(json!({
        "id": tool_call_id(response_id, candidate, n, signature),
        "type": "function",
        "function": { "name": name, "arguments": arguments },
    }))
}

fn is_thought(part: &Value) -> bool {
    part.get("thought").and_then(Value::as_bool) == Some(true)
}

fn error_status(code: Option<u64>, status: Option<&str>) -> u16 {
    if let Some(c) = code
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| *c >= 400)
    {
        return c;
    }
    match status {
        Some("INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE") => 400,
        Some("UNAUTHENTICATED") => 401,
        Some("PERMISSION_DENIED") => 403,
        Some("NOT_FOUND") => 404,
        Some("RESOURCE_EXHAUSTED") => 429,
        Some("UNAVAILABLE") => 503,
        Some("DEADLINE_EXCEEDED") => 504,
        _ => 500,
    }
}

/// The `error` object of a Gemini error body (`{"error":{…}}`, or that inside a
/// one-element array as streams sometimes send it).
fn error_object(v: &Value) -> Option<&Value> {
    v.get("error")
        .or_else(|| {
            v.as_array()
                .and_then(|a| a.first())
                .and_then(|e| e.get("error"))
        })
        .filter(|e| e.is_object())
}

fn error_from_object(http_status: Option<u16>, e: &Value, body: &[u8]) -> GatewayError {
    let status = http_status.unwrap_or_else(|| {
        error_status(
            e.get("code").and_then(Value::as_u64),
            e.get("status").and_then(Value::as_str),
        )
    });
    let message = e
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map_or_else(
            || super::openai::fallback_message(status, body),
            str::to_string,
        );
    GatewayError::new(status, message)
}

/// Gemini error body (`{"error":{"code","message","status"}}`) → OpenAI error with
/// Gemini's message and the type LiteLLM gives the status; a body that is not
/// Gemini's error JSON keeps its text as the message.
pub fn translate_error(status: u16, body: &[u8]) -> GatewayError {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => match error_object(&v) {
            Some(e) => error_from_object(Some(status), e, body),
            None => GatewayError::new(status, super::openai::fallback_message(status, body)),
        },
        Err(_) => GatewayError::new(status, super::openai::fallback_message(status, body)),
    }
}

fn parse_body(body: &[u8]) -> Result<Value, GatewayError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            502,
            format!("Gemini returned a response that could not be parsed: {e}"),
        )
    })?;
    if let Some(e) = error_object(&v) {
        return Err(error_from_object(None, e, body));
    }
    Ok(v)
}

/// Gemini response → OpenAI response: `GenerateContentResponse` →
/// `chat.completion`, `batchEmbedContents` → an embedding list.
pub fn translate_response(
    endpoint: Endpoint,
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<Vec<u8>, GatewayError> {
    let v = parse_body(body)?;
    let out = match endpoint {
        Endpoint::Embeddings => embeddings_response(&v, ctx),
        Endpoint::Completions => {
            return Err(GatewayError::bad_request(
                "The Gemini translation serves /chat/completions and /embeddings.",
            ))
        }
        Endpoint::ChatCompletions => chat_response(&v, ctx),
    };
    serde_json::to_vec(&out)
        .map_err(|e| GatewayError::internal(format!("could not serialize response: {e}")))
}

fn embeddings_response(v: &Value, ctx: &ResponseContext) -> Value {
    let data: Vec<Value> = v
        .get("embeddings")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .enumerate()
                .map(|(i, e)| {
                    wire::embedding(i, e.get("values").cloned().unwrap_or_else(|| json!([])))
                })
                .collect()
        })
        .unwrap_or_default();
    let prompt = v
        .get("usageMetadata")
        .map(|m| count(m, "promptTokenCount"))
        .unwrap_or(0);
    wire::embedding_list(data, &ctx.model, prompt)
}

fn chat_response(v: &Value, ctx: &ResponseContext) -> Value {
    let response_id = v.get("responseId").and_then(Value::as_str).unwrap_or("");
    let mut choices = Vec::new();
    for (pos, cand) in v
        .get("candidates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let index = cand
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(pos as u64);
        let mut text = String::new();
        let mut reasoning = String::new();
        let mut calls = Vec::new();
        for part in cand
            .get("content")
            .and_then(|c| c.get("parts"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(call) = tool_call_of(part, response_id, index, calls.len()) {
                calls.push(call);
            } else if let Some(t) = part.get("text").and_then(Value::as_str) {
                if is_thought(part) {
                    reasoning.push_str(t);
                } else {
                    text.push_str(t);
                }
            }
        }
        let finish = finish_reason(
            cand.get("finishReason").and_then(Value::as_str),
            !calls.is_empty(),
        );
        let mut message = Map::new();
        message.insert("role".into(), Value::from("assistant"));
        message.insert(
            "content".into(),
            if text.is_empty() {
                Value::Null
            } else {
                Value::String(text)
            },
        );
        if !reasoning.is_empty() {
            message.insert("reasoning_content".into(), Value::String(reasoning));
        }
        if !calls.is_empty() {
            message.insert("tool_calls".into(), Value::Array(calls));
        }
        choices.push(json!({
            "index": index,
            "message": message,
            "logprobs": null,
            "finish_reason": finish,
        }));
    }
    if choices.is_empty() {
        // A prompt blocked before any candidate (promptFeedback.blockReason), or an
        // answer with no candidates at all.
        let blocked = v
            .get("promptFeedback")
            .and_then(|f| f.get("blockReason"))
            .is_some();
        choices.push(json!({
            "index": 0,
            "message": { "role": "assistant", "content": null },
            "logprobs": null,
            "finish_reason": if blocked { "content_filter" } else { "stop" },
        }));
    }
    let model = v
        .get("modelVersion")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .unwrap_or(&ctx.model);
    let usage = usage_value(v.get("usageMetadata").unwrap_or(&Value::Null));
    wire::completion(
        format!("chatcmpl-{response_id}"),
        wire::CHAT_COMPLETION,
        ctx.created,
        model,
        choices,
        Some(usage),
    )
}

// ---------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------

/// Per-candidate stream progress.
#[derive(Debug, Default)]
struct CandidateState {
    role_sent: bool,
    tool_calls: usize,
    finished: bool,
}

#[derive(Debug)]
struct StreamState {
    ctx: ResponseContext,
    id: String,
    response_id: String,
    model: String,
    /// By candidate index.
    candidates: std::collections::BTreeMap<u64, CandidateState>,
    /// The last `usageMetadata` (counts are cumulative).
    usage: Option<Value>,
    done: bool,
}

/// Gemini `streamGenerateContent?alt=sse` → OpenAI `chat.completion.chunk` SSE.
#[derive(Debug)]
pub struct StreamTranslator {
    decoder: SseDecoder,
    state: StreamState,
}

impl StreamTranslator {
    /// A translator for one response.
    pub fn new(_endpoint: Endpoint, ctx: ResponseContext) -> Self {
        let model = ctx.model.clone();
        StreamTranslator {
            decoder: SseDecoder::new(),
            state: StreamState {
                ctx,
                id: String::new(),
                response_id: String::new(),
                model,
                candidates: std::collections::BTreeMap::new(),
                usage: None,
                done: false,
            },
        }
    }
}

impl StreamTranslate for StreamTranslator {
    fn usage(&self) -> Option<crate::cost::Usage> {
        self.state.usage.as_ref().map(usage_of_meta)
    }

    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.state.done {
            return;
        }
        self.decoder.push(chunk);
        loop {
            match self.decoder.next_event() {
                Ok(Some(event)) => {
                    self.state.handle(event.data, out);
                    if self.state.done {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    self.state
                        .fail(GatewayError::new(502, format!("Gemini stream: {e}")), out);
                    return;
                }
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        let partial = self.decoder.finish();
        if self.state.done {
            return;
        }
        let finished =
            !self.state.candidates.is_empty() && self.state.candidates.values().all(|c| c.finished);
        if partial || !finished {
            let message = if partial {
                "The upstream Gemini stream ended early, before a finishReason (mid-event)."
            } else {
                "The upstream Gemini stream ended early, before a finishReason."
            };
            self.state.fail(GatewayError::new(502, message), out);
            return;
        }
        if self.state.ctx.include_usage {
            let usage = usage_value(self.state.usage.as_ref().unwrap_or(&Value::Null));
            let chunk = self.state.chunk(json!([]), Some(usage));
            write_data(out, &chunk);
        }
        out.extend_from_slice(DONE);
        self.state.done = true;
    }
}

impl StreamState {
    fn fail(&mut self, error: GatewayError, out: &mut Vec<u8>) {
        out.extend_from_slice(&error.to_sse_event());
        out.extend_from_slice(DONE);
        self.done = true;
    }

    fn chunk(&self, choices: Value, usage: Option<Value>) -> Value {
        wire::completion(
            &self.id,
            wire::CHAT_COMPLETION_CHUNK,
            self.ctx.created,
            &self.model,
            choices,
            usage,
        )
    }

    fn candidate(&mut self, index: u64) -> &mut CandidateState {
        self.candidates.entry(index).or_default()
    }

    /// Writes one choice delta for candidate `index` (role first).
    fn delta(
        &mut self,
        index: u64,
        mut delta: Map<String, Value>,
        finish: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        let cand = self.candidate(index);
        if !cand.role_sent {
            cand.role_sent = true;
            delta.insert("role".into(), Value::from("assistant"));
        }
        let choice = json!({
            "index": index,
            "delta": delta,
            "logprobs": null,
            "finish_reason": finish,
        });
        let chunk = self.chunk(json!([choice]), None);
        write_data(out, &chunk);
    }

    fn handle(&mut self, data: &str, out: &mut Vec<u8>) {
        let v: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(e) => {
                self.fail(
                    GatewayError::new(
                        502,
                        format!("Gemini sent a stream event that is not valid JSON: {e}"),
                    ),
                    out,
                );
                return;
            }
        };
        if let Some(e) = error_object(&v) {
            let err = error_from_object(None, e, data.as_bytes());
            self.fail(err, out);
            return;
        }
        if self.id.is_empty() {
            if let Some(rid) = v.get("responseId").and_then(Value::as_str) {
                self.response_id = rid.to_string();
                self.id = format!("chatcmpl-{rid}");
            }
        }
        if let Some(m) = v
            .get("modelVersion")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
        {
            if self.model != m {
                self.model = m.to_string();
            }
        }
        if let Some(meta) = v.get("usageMetadata").filter(|m| m.is_object()) {
            self.usage = Some(meta.clone());
        }
        let candidates = v.get("candidates").and_then(Value::as_array);
        if candidates.is_none_or(Vec::is_empty) {
            if v.get("promptFeedback")
                .and_then(|f| f.get("blockReason"))
                .is_some()
            {
                self.candidate(0).finished = true;
                self.delta(0, Map::new(), Some("content_filter"), out);
            }
            return;
        }
        for (pos, cand) in candidates.into_iter().flatten().enumerate() {
            let index = cand
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(pos as u64);
            for part in cand
                .get("content")
                .and_then(|c| c.get("parts"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let n = self.candidate(index).tool_calls;
                if let Some(call) = tool_call_of(part, &self.response_id, index, n) {
                    self.candidate(index).tool_calls = n.saturating_add(1);
                    let mut call = call;
                    if let Some(obj) = call.as_object_mut() {
                        obj.insert("index".into(), Value::from(n));
                    }
                    let mut delta = Map::new();
                    delta.insert("tool_calls".into(), json!([call]));
                    self.delta(index, delta, None, out);
                } else if let Some(t) = part.get("text").and_then(Value::as_str) {
                    if t.is_empty() {
                        continue;
                    }
                    let key = if is_thought(part) {
                        "reasoning_content"
                    } else {
                        "content"
                    };
                    let mut delta = Map::new();
                    delta.insert(key.into(), Value::from(t));
                    self.delta(index, delta, None, out);
                }
            }
            if let Some(reason) = cand.get("finishReason").and_then(Value::as_str) {
                let cs = self.candidate(index);
                if !cs.finished {
                    cs.finished = true;
                    let called = cs.tool_calls > 0;
                    self.delta(
                        index,
                        Map::new(),
                        Some(finish_reason(Some(reason), called)),
                        out,
                    );
                }
            } else {
                self.candidate(index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn chat(v: Value) -> Value {
        let body =
            translate_request(Endpoint::ChatCompletions, &map(v), "gemini-2.5-flash").unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    fn chat_err(v: Value) -> GatewayError {
        translate_request(Endpoint::ChatCompletions, &map(v), "gemini-2.5-flash").unwrap_err()
    }

    fn ctx(include_usage: bool) -> ResponseContext {
        ResponseContext {
            created: 1_700_000_000,
            model: "gemini-2.5-flash".to_string(),
            include_usage,
        }
    }

    fn response(body: &str) -> Value {
        let out =
            translate_response(Endpoint::ChatCompletions, body.as_bytes(), &ctx(false)).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn paths_per_endpoint_and_encoded_model() {
        assert_eq!(
            request_path("gemini-2.5-flash", false, Endpoint::ChatCompletions),
            "/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            request_path("gemini-2.5-flash", true, Endpoint::ChatCompletions),
            "/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            request_path("models/gemini-embedding-001", false, Endpoint::Embeddings),
            "/models/gemini-embedding-001:batchEmbedContents"
        );
        assert_eq!(
            request_path("a/b c?x", false, Endpoint::ChatCompletions),
            "/models/a%2Fb%20c%3Fx:generateContent"
        );
        for (prefix, versioned) in [
            ("", false),
            ("/v1beta", true),
            ("/proxy/v1", true),
            ("/v1alpha", true),
            ("/gemini", false),
            ("/v", false),
            ("/very", false),
        ] {
            assert_eq!(has_version(prefix), versioned, "{prefix}");
        }
    }

    #[test]
    fn supported_params_cover_everything_translated() {
        for p in [
            "temperature",
            "top_p",
            "max_tokens",
            "max_completion_tokens",
            "stop",
            "n",
            "presence_penalty",
            "frequency_penalty",
            "seed",
            "response_format",
            "reasoning_effort",
            "tools",
            "tool_choice",
            "stream_options",
        ] {
            assert!(
                supported_params(Endpoint::ChatCompletions).contains(&p),
                "{p}"
            );
        }
        assert!(supported_params(Endpoint::Embeddings).contains(&"dimensions"));
        assert!(!supported_params(Endpoint::ChatCompletions).contains(&"logit_bias"));
    }

    #[test]
    fn text_and_system_messages() {
        let v = chat(json!({
            "model": "x",
            "messages": [
                {"role": "system", "content": "You are a cat."},
                {"role": "developer", "content": [{"type": "text", "text": "Your name is Neko."}]},
                {"role": "user", "content": "Hello there"},
                {"role": "assistant", "content": "Great to meet you. What would you like to know?"},
                {"role": "user", "content": "I have two dogs in my house."},
                {"role": "user", "content": "How many paws are in my house?"}
            ]
        }));
        assert_eq!(
            v,
            json!({
                "systemInstruction": {"parts": [{"text": "You are a cat."}, {"text": "Your name is Neko."}]},
                "contents": [
                    {"role": "user", "parts": [{"text": "Hello there"}]},
                    {"role": "model", "parts": [{"text": "Great to meet you. What would you like to know?"}]},
                    {"role": "user", "parts": [{"text": "I have two dogs in my house."}, {"text": "How many paws are in my house?"}]}
                ]
            })
        );
    }

    #[test]
    fn generation_config_fields() {
        let v = chat(json!({
            "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.7, "top_p": 0.9, "max_tokens": 100, "max_completion_tokens": 200,
            "stop": "END", "n": 2, "presence_penalty": 0.5, "frequency_penalty": -0.5, "seed": 42
        }));
        assert_eq!(
            v["generationConfig"],
            json!({
                "temperature": 0.7, "topP": 0.9, "maxOutputTokens": 200,
                "stopSequences": ["END"], "candidateCount": 2,
                "presencePenalty": 0.5, "frequencyPenalty": -0.5, "seed": 42
            })
        );
        let v = chat(json!({
            "messages": [{"role": "user", "content": "hi"}],
            "stop": ["a", "b"], "max_tokens": 5
        }));
        assert_eq!(v["generationConfig"]["stopSequences"], json!(["a", "b"]));
        assert_eq!(v["generationConfig"]["maxOutputTokens"], 5);
        let e = chat_err(json!({"messages": [{"role": "user", "content": "hi"}], "stop": 3}));
        assert_eq!(e.param.as_deref(), Some("stop"));
        let e = chat_err(
            json!({"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}),
        );
        assert_eq!((e.status, e.param.as_deref()), (400, Some("temperature")));
        // Nothing set: no generationConfig at all.
        let v = chat(json!({"messages": [{"role": "user", "content": "hi"}]}));
        assert!(v.get("generationConfig").is_none());
    }

    #[test]
    fn images_data_uri_url_and_unknown_url() {
        let v = chat(json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "Caption this image."},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.PNG?size=2"}}
        ]}]}));
        assert_eq!(
            v["contents"][0]["parts"],
            json!([
                {"text": "Caption this image."},
                {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}},
                {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.PNG?size=2"}}
            ])
        );
        let e = chat_err(json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "x"},
            {"type": "image_url", "image_url": {"url": "http://example.com/render?id=3"}}
        ]}]}));
        assert_eq!(e.status, 400);
        assert_eq!(e.param.as_deref(), Some("messages[0].content[1].image_url"));
        assert!(e.message.contains("data URI"), "{}", e.message);
        let e = chat_err(json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}
        ]}]}));
        assert_eq!(e.param.as_deref(), Some("messages[0].content[0].image_url"));
        let e = chat_err(json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png,notbase64"}}
        ]}]}));
        assert_eq!(e.status, 400);
    }

    fn weather_tool() -> Value {
        json!({"type": "function", "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "strict": true,
            "parameters": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {
                    "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                    "unit": {"type": "object", "properties": {"v": {"type": "string"}}, "additionalProperties": false}
                },
                "required": ["location"],
                "additionalProperties": false
            }
        }})
    }

    #[test]
    fn tools_are_declarations_with_cleaned_schemas() {
        let v = chat(json!({
            "messages": [{"role": "user", "content": "weather?"}],
            "tools": [weather_tool(), {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}]
        }));
        assert_eq!(
            v["tools"],
            json!([{"functionDeclarations": [
                {
                    "name": "get_current_weather",
                    "description": "Get the current weather in a given location",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                            "unit": {"type": "object", "properties": {"v": {"type": "string"}}}
                        },
                        "required": ["location"]
                    }
                },
                {"name": "now"}
            ]}])
        );
        let e = chat_err(
            json!({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "web_search"}]}),
        );
        assert_eq!(e.param.as_deref(), Some("tools[0]"));
    }

    #[test]
    fn tool_choice_variants() {
        let base = |choice: Value| {
            chat(json!({
                "messages": [{"role": "user", "content": "x"}],
                "tools": [weather_tool()],
                "tool_choice": choice
            }))["toolConfig"]
                .clone()
        };
        assert_eq!(
            base(json!("auto")),
            json!({"functionCallingConfig": {"mode": "AUTO"}})
        );
        assert_eq!(
            base(json!("none")),
            json!({"functionCallingConfig": {"mode": "NONE"}})
        );
        assert_eq!(
            base(json!("required")),
            json!({"functionCallingConfig": {"mode": "ANY"}})
        );
        assert_eq!(
            base(json!({"type": "function", "function": {"name": "get_current_weather"}})),
            json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_current_weather"]}})
        );
        let e = chat_err(
            json!({"messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"}),
        );
        assert_eq!(e.param.as_deref(), Some("tool_choice"));
    }

    #[test]
    fn json_mode_both_kinds() {
        let v = chat(json!({
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_object"}
        }));
        assert_eq!(
            v["generationConfig"],
            json!({"responseMimeType": "application/json"})
        );
        let schema = json!({"type": "object", "properties": {"recipe_name": {"type": "string"}}, "required": ["recipe_name"], "additionalProperties": false});
        let v = chat(json!({
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "recipe", "strict": true, "schema": schema}}
        }));
        assert_eq!(
            v["generationConfig"],
            json!({"responseMimeType": "application/json", "responseJsonSchema": schema})
        );
        let v = chat(
            json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "text"}}),
        );
        assert!(v.get("generationConfig").is_none());
        let e = chat_err(
            json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema"}}),
        );
        assert_eq!(e.param.as_deref(), Some("response_format"));
    }

    #[test]
    fn reasoning_effort_becomes_thinking_config() {
        let cfg = |effort: &str| {
            chat(
                json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": effort}),
            )["generationConfig"]["thinkingConfig"]
                .clone()
        };
        assert_eq!(
            cfg("low"),
            json!({"thinkingBudget": 1024, "includeThoughts": true})
        );
        assert_eq!(
            cfg("medium"),
            json!({"thinkingBudget": 2048, "includeThoughts": true})
        );
        assert_eq!(
            cfg("high"),
            json!({"thinkingBudget": 4096, "includeThoughts": true})
        );
        // `minimal`: the smallest budget of each 2.5 model (LiteLLM's per-model
        // DEFAULT_REASONING_EFFORT_MINIMAL_THINKING_BUDGET_GEMINI_2_5_* constants).
        assert_eq!(
            cfg("minimal"),
            json!({"thinkingBudget": 1, "includeThoughts": true})
        );
        for (model, budget) in [
            ("gemini-2.5-pro", 128),
            ("gemini-2.5-flash-lite", 512),
            ("gemini-2.0-flash-thinking-exp", 128),
        ] {
            assert_eq!(
                thinking_config("minimal", model),
                Some(json!({"thinkingBudget": budget, "includeThoughts": true})),
                "{model}"
            );
        }
        assert_eq!(
            cfg("none"),
            json!({"thinkingBudget": 0, "includeThoughts": false})
        );
        assert_eq!(cfg("disable"), cfg("none"));
        // Gemini 3 takes a thinking level and cannot stop thinking.
        for (effort, level, include) in [
            ("minimal", "low", true),
            ("low", "low", true),
            ("medium", "high", true),
            ("high", "high", true),
            ("none", "low", false),
        ] {
            assert_eq!(
                thinking_config(effort, "gemini-3-pro-preview"),
                Some(json!({"thinkingLevel": level, "includeThoughts": include})),
                "{effort}"
            );
        }
        let e = chat_err(
            json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "max"}),
        );
        assert_eq!(e.param.as_deref(), Some("reasoning_effort"));
        // Anthropic's `thinking` as LiteLLM maps it.
        let thinking = |t: Value| {
            chat(json!({"messages": [{"role": "user", "content": "x"}], "thinking": t}))
                ["generationConfig"]["thinkingConfig"]
                .clone()
        };
        assert_eq!(
            thinking(json!({"type": "enabled", "budget_tokens": 2000})),
            json!({"includeThoughts": true, "thinkingBudget": 2000})
        );
        assert_eq!(
            thinking(json!({"type": "enabled", "budget_tokens": 0})),
            json!({"thinkingBudget": 0})
        );
        assert_eq!(thinking(json!({"type": "disabled"})), json!({}));
        let e = chat_err(
            json!({"messages": [{"role": "user", "content": "x"}], "thinking": {"type": "on"}}),
        );
        assert_eq!(e.param.as_deref(), Some("thinking"));
    }

    #[test]
    fn top_k_safety_settings_and_parallel_tool_calls() {
        let v = chat(json!({
            "messages": [{"role": "user", "content": "x"}],
            "top_k": 40,
            "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}],
            "tools": [weather_tool()],
            "parallel_tool_calls": false
        }));
        assert_eq!(v["generationConfig"]["topK"], 40);
        assert_eq!(
            v["safetySettings"],
            json!([{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}])
        );
        assert!(v.get("parallel_tool_calls").is_none());
        let e = chat_err(json!({
            "messages": [{"role": "user", "content": "x"}],
            "tools": [weather_tool(), weather_tool()],
            "parallel_tool_calls": false
        }));
        assert_eq!(e.param.as_deref(), Some("parallel_tool_calls"));
        let e = chat_err(
            json!({"messages": [{"role": "user", "content": "x"}], "safety_settings": "none"}),
        );
        assert_eq!(e.param.as_deref(), Some("safety_settings"));
        let e = chat_err(json!({"messages": [{"role": "user", "content": "x"}], "top_k": -1}));
        assert_eq!(e.param.as_deref(), Some("top_k"));
    }

    #[test]
    fn tool_round_trip_keeps_thought_signature() {
        // Turn 1: Gemini answers with a signed functionCall (Google's thought-signature
        // example shape).
        let answer = response(
            r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"get_current_weather","args":{"location":"Boston, MA"}},"thoughtSignature":"CiwBVKhc7nRyTi3HmggPD9iQjRPtkPl"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":70,"candidatesTokenCount":18,"totalTokenCount":128,"thoughtsTokenCount":40},"modelVersion":"gemini-2.5-flash","responseId":"abc123"}"#,
        );
        let call = answer["choices"][0]["message"]["tool_calls"][0].clone();
        assert_eq!(
            call,
            json!({"id": "call_abc123_0__thought__CiwBVKhc7nRyTi3HmggPD9iQjRPtkPl", "type": "function",
                   "function": {"name": "get_current_weather", "arguments": "{\"location\":\"Boston, MA\"}"}})
        );
        assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(answer["choices"][0]["message"]["content"], Value::Null);
        // Turn 2: the client sends the call and its result back.
        let v = chat(json!({"messages": [
            {"role": "user", "content": "What's the weather in Boston?"},
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_abc123_0__thought__CiwBVKhc7nRyTi3HmggPD9iQjRPtkPl", "content": "{\"temperature\": 22, \"unit\": \"celsius\"}"},
            {"role": "tool", "tool_call_id": "call_abc123_0", "content": "sunny"}
        ], "tools": [weather_tool()]}));
        assert_eq!(
            v["contents"],
            json!([
                {"role": "user", "parts": [{"text": "What's the weather in Boston?"}]},
                {"role": "model", "parts": [{
                    "functionCall": {"name": "get_current_weather", "args": {"location": "Boston, MA"}},
                    "thoughtSignature": "CiwBVKhc7nRyTi3HmggPD9iQjRPtkPl"
                }]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "get_current_weather", "response": {"temperature": 22, "unit": "celsius"}}},
                    {"functionResponse": {"name": "get_current_weather", "response": {"content": "sunny"}}}
                ]}
            ])
        );
        // A plain id (no signature) sends no thoughtSignature.
        let v = chat(json!({"messages": [
            {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "call_unknown", "name": "f", "content": "[1,2]"}
        ]}));
        assert_eq!(
            v["contents"],
            json!([
                {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"content": "[1,2]"}}}]}
            ])
        );
    }

    #[test]
    fn gemini_3_turns_without_signature_get_the_sentinel() {
        let msgs = json!({"messages": [
            {"role": "user", "content": "weather in Paris and London?"},
            {"role": "assistant", "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "w", "arguments": "{\"c\":\"Paris\"}"}},
                {"id": "b", "type": "function", "function": {"name": "w", "arguments": "{\"c\":\"London\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "a", "content": "15C"},
            {"role": "tool", "tool_call_id": "b", "content": "12C"},
            {"role": "assistant", "tool_calls": [
                {"id": "c__thought__REAL", "type": "function", "function": {"name": "w", "arguments": "{}"}}
            ]},
            {"role": "tool", "tool_call_id": "c__thought__REAL", "content": "x"}
        ]});
        let body = translate_request(
            Endpoint::ChatCompletions,
            &map(msgs.clone()),
            "gemini-3-pro-preview",
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        let parts = &v["contents"][1]["parts"];
        assert_eq!(parts[0]["thoughtSignature"], SKIP_SIGNATURE);
        assert!(
            parts[1].get("thoughtSignature").is_none(),
            "only the first parallel call"
        );
        assert_eq!(v["contents"][3]["parts"][0]["thoughtSignature"], "REAL");
        // Older models are left alone.
        let v = chat(msgs);
        assert!(v["contents"][1]["parts"][0]
            .get("thoughtSignature")
            .is_none());
    }

    #[test]
    fn bad_tool_arguments_and_unknown_tool_results_are_400() {
        let e = chat_err(json!({"messages": [
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}
        ]}));
        assert_eq!(e.status, 400);
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].tool_calls[0].function.arguments")
        );
        let e = chat_err(json!({"messages": [
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}
        ]}));
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].tool_calls[0].function.arguments")
        );
        let e = chat_err(
            json!({"messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]}),
        );
        assert_eq!(e.param.as_deref(), Some("messages[0].tool_call_id"));
        let e = chat_err(json!({"messages": [{"role": "wizard", "content": "x"}]}));
        assert_eq!(e.param.as_deref(), Some("messages[0].role"));
        let e = chat_err(json!({"model": "x"}));
        assert_eq!(e.param.as_deref(), Some("messages"));
    }

    #[test]
    fn completions_are_refused() {
        let e = translate_request(Endpoint::Completions, &map(json!({"prompt": "x"})), "g")
            .unwrap_err();
        assert_eq!(e.status, 400);
    }

    #[test]
    fn text_response_with_usage() {
        // Google's generateContent response example.
        let v = response(
            r#"{"candidates":[{"content":{"parts":[{"text":"In a village nestled..."}],"role":"model"},"finishReason":"STOP","index":0,"safetyRatings":[{"category":"HARM_CATEGORY_SEXUALLY_EXPLICIT","probability":"NEGLIGIBLE"}]}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":612,"totalTokenCount":620,"promptTokensDetails":[{"modality":"TEXT","tokenCount":8}]},"modelVersion":"gemini-2.0-flash","responseId":"mAitaLGXKr2Qz7IPpu6F6AY"}"#,
        );
        assert_eq!(
            v,
            json!({
                "id": "chatcmpl-mAitaLGXKr2Qz7IPpu6F6AY",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": "gemini-2.0-flash",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "In a village nestled..."}, "logprobs": null, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 8, "completion_tokens": 612, "total_tokens": 620,
                          "prompt_tokens_details": {"cached_tokens": 0},
                          "completion_tokens_details": {"reasoning_tokens": 0}}
            })
        );
        assert_eq!(
            crate::cost::usage_of(&serde_json::to_vec(&v).unwrap())
                .unwrap()
                .completion_tokens,
            612
        );
    }

    #[test]
    fn thoughts_and_usage_with_thoughts_and_cache() {
        let v = response(
            r#"{"candidates":[{"content":{"parts":[{"text":"**Considering the razor**\nIt favours simple","thought":true},{"text":"Occam's razor says..."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":1200,"candidatesTokenCount":50,"thoughtsTokenCount":300,"cachedContentTokenCount":1000,"totalTokenCount":1550},"modelVersion":"gemini-2.5-pro"}"#,
        );
        let m = &v["choices"][0]["message"];
        assert_eq!(m["content"], "Occam's razor says...");
        assert_eq!(
            m["reasoning_content"],
            "**Considering the razor**\nIt favours simple"
        );
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 1200, "completion_tokens": 350, "total_tokens": 1550,
                   "prompt_tokens_details": {"cached_tokens": 1000},
                   "completion_tokens_details": {"reasoning_tokens": 300}})
        );
        let u = crate::cost::usage_of(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.cache_read_tokens),
            (1200, 350, 1000)
        );
    }

    #[test]
    fn thoughts_are_not_counted_twice() {
        // A usageMetadata whose candidates count already holds the thoughts.
        let v = response(
            r#"{"candidates":[{"content":{"parts":[{"text":"x"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":30,"thoughtsTokenCount":20,"totalTokenCount":40}}"#,
        );
        assert_eq!(v["usage"]["completion_tokens"], 30);
        assert_eq!(
            v["usage"]["completion_tokens_details"]["reasoning_tokens"],
            20
        );
    }

    #[test]
    fn finish_reasons_map() {
        for (gemini, openai) in [
            ("STOP", "stop"),
            ("MAX_TOKENS", "length"),
            ("SAFETY", "content_filter"),
            ("RECITATION", "content_filter"),
            ("BLOCKLIST", "content_filter"),
            ("PROHIBITED_CONTENT", "content_filter"),
            ("SPII", "content_filter"),
            ("IMAGE_SAFETY", "content_filter"),
            ("LANGUAGE", "content_filter"),
            ("IMAGE_PROHIBITED_CONTENT", "content_filter"),
            ("MALFORMED_FUNCTION_CALL", "stop"),
            ("OTHER", "content_filter"),
            ("FINISH_REASON_UNSPECIFIED", "stop"),
            ("UNEXPECTED_TOOL_CALL", "stop"),
        ] {
            let v = response(&format!(
                r#"{{"candidates":[{{"content":{{"parts":[{{"text":"x"}}],"role":"model"}},"finishReason":"{gemini}","index":0}}]}}"#
            ));
            assert_eq!(v["choices"][0]["finish_reason"], openai, "{gemini}");
        }
        // A safety stop with no content at all.
        let v = response(
            r#"{"candidates":[{"finishReason":"SAFETY","index":0,"safetyRatings":[{"category":"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH","blocked":true}]}]}"#,
        );
        assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
        assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
    }

    #[test]
    fn blocked_prompt_is_content_filter() {
        let v = response(
            r#"{"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[{"category":"HARM_CATEGORY_HARASSMENT","probability":"HIGH"}]},"usageMetadata":{"promptTokenCount":9,"totalTokenCount":9},"modelVersion":"gemini-2.5-flash"}"#,
        );
        assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
        assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(v["usage"]["prompt_tokens"], 9);
    }

    #[test]
    fn several_candidates_and_parallel_calls() {
        let v = response(
            r#"{"candidates":[{"content":{"parts":[{"text":"A"}],"role":"model"},"finishReason":"STOP","index":0},{"content":{"parts":[{"functionCall":{"name":"f","args":{"a":1}}},{"functionCall":{"name":"g"}}],"role":"model"},"finishReason":"STOP","index":1}],"responseId":"r"}"#,
        );
        assert_eq!(v["choices"][0]["message"]["content"], "A");
        assert_eq!(v["choices"][1]["index"], 1);
        let calls = &v["choices"][1]["message"]["tool_calls"];
        assert_eq!(calls[0]["id"], "call_r_1_0");
        assert_eq!(calls[1]["id"], "call_r_1_1");
        assert_eq!(calls[1]["function"]["arguments"], "{}");
        assert_eq!(v["choices"][1]["finish_reason"], "tool_calls");
    }

    #[test]
    fn unparsable_or_error_responses_fail() {
        let e = translate_response(Endpoint::ChatCompletions, b"<html>", &ctx(false)).unwrap_err();
        assert_eq!(e.status, 502);
        let e = translate_response(
            Endpoint::ChatCompletions,
            br#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}"#,
            &ctx(false),
        )
        .unwrap_err();
        assert_eq!((e.status, e.kind.as_str()), (429, "rate_limit_error"));
    }

    #[test]
    fn embeddings_request_and_response() {
        let body = translate_request(
            Endpoint::Embeddings,
            &map(json!({"model": "x", "input": ["What is the meaning of life?", "How much wood?"], "dimensions": 768})),
            "gemini-embedding-001",
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"requests": [
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "What is the meaning of life?"}]}, "outputDimensionality": 768},
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "How much wood?"}]}, "outputDimensionality": 768}
            ]})
        );
        let body = translate_request(
            Endpoint::Embeddings,
            &map(json!({"input": "hi"})),
            "models/text-embedding-004",
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v["requests"][0],
            json!({"model": "models/text-embedding-004", "content": {"parts": [{"text": "hi"}]}})
        );
        for bad in [json!({"input": [1, 2]}), json!({"input": []}), json!({})] {
            let e = translate_request(Endpoint::Embeddings, &map(bad), "m").unwrap_err();
            assert_eq!(e.param.as_deref(), Some("input"));
        }
        let out = translate_response(
            Endpoint::Embeddings,
            br#"{"embeddings":[{"values":[0.1,-0.2]},{"values":[0.3,0.4]}]}"#,
            &ctx(false),
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            json!({"object": "list", "data": [
                {"object": "embedding", "index": 0, "embedding": [0.1, -0.2]},
                {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]}
            ], "model": "gemini-2.5-flash", "usage": {"prompt_tokens": 0, "total_tokens": 0}})
        );
    }

    #[test]
    fn error_bodies_keep_message_and_map_type() {
        let e = translate_error(
            400,
            br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}"#,
        );
        assert_eq!(e.status, 400);
        assert_eq!(e.kind, "invalid_request_error");
        assert_eq!(e.message, "API key not valid. Please pass a valid API key.");
        let e = translate_error(503, br#"[{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}]"#);
        assert_eq!(
            (e.status, e.kind.as_str()),
            (503, "service_unavailable_error")
        );
        assert!(e.message.contains("overloaded"));
        let e = translate_error(404, br#"{"error":{"code":404,"message":"models/gemini-9 is not found for API version v1beta","status":"NOT_FOUND"}}"#);
        assert_eq!(e.kind, "not_found_error");
        let e = translate_error(502, b"Bad Gateway");
        assert_eq!(e.status, 502);
        assert!(e.message.contains("Bad Gateway"));
        assert_eq!(error_status(None, Some("RESOURCE_EXHAUSTED")), 429);
    }

    // -- streams ----------------------------------------------------------------

    /// Google's streamGenerateContent?alt=sse example (CRLF line endings, as the
    /// API sends them), with a thought part and final usage.
    const STREAM: &str = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Thinking about skies\",\"thought\": true}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": 8},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"Ra1\"}\r\n\r\ndata: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The sky\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": 8},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"Ra1\"}\r\n\r\ndata: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" appears blue \u{1F30D} because of Rayleigh scattering.\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"candidatesTokenCount\": 20,\"thoughtsTokenCount\": 12,\"totalTokenCount\": 40},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"Ra1\"}\r\n\r\n";

    fn run(include_usage: bool, chunks: &[&[u8]]) -> (Vec<u8>, Option<crate::cost::Usage>) {
        let mut t = StreamTranslator::new(Endpoint::ChatCompletions, ctx(include_usage));
        let mut out = Vec::new();
        for c in chunks {
            t.push(c, &mut out);
        }
        t.finish(&mut out);
        (out, t.usage())
    }

    fn events(out: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(out).unwrap();
        assert!(text.ends_with("\n\n"), "{text}");
        text.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let data = e.strip_prefix("data: ").unwrap();
                if data == "[DONE]" {
                    json!("[DONE]")
                } else {
                    serde_json::from_str(data).unwrap()
                }
            })
            .collect()
    }

    #[test]
    fn text_stream_translates_to_chunks() {
        let (out, usage) = run(true, &[STREAM.as_bytes()]);
        let evs = events(&out);
        assert_eq!(evs.len(), 6, "{evs:#?}");
        assert_eq!(evs[0]["object"], "chat.completion.chunk");
        assert_eq!(evs[0]["id"], "chatcmpl-Ra1");
        assert_eq!(evs[0]["model"], "gemini-2.5-flash");
        assert_eq!(
            evs[0]["choices"][0]["delta"],
            json!({"role": "assistant", "reasoning_content": "Thinking about skies"})
        );
        assert_eq!(evs[1]["choices"][0]["delta"], json!({"content": "The sky"}));
        assert_eq!(
            evs[2]["choices"][0]["delta"],
            json!({"content": " appears blue \u{1F30D} because of Rayleigh scattering."})
        );
        assert_eq!(evs[3]["choices"][0]["delta"], json!({}));
        assert_eq!(evs[3]["choices"][0]["finish_reason"], "stop");
        assert_eq!(evs[4]["choices"], json!([]));
        assert_eq!(
            evs[4]["usage"],
            json!({"prompt_tokens": 8, "completion_tokens": 32, "total_tokens": 40,
                   "prompt_tokens_details": {"cached_tokens": 0},
                   "completion_tokens_details": {"reasoning_tokens": 12}})
        );
        assert_eq!(evs[5], "[DONE]");
        let usage = usage.unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (8, 32));
        // Without include_usage: no usage chunk, but the usage is still known.
        let (out, usage) = run(false, &[STREAM.as_bytes()]);
        let evs = events(&out);
        assert_eq!(evs.len(), 5);
        assert!(evs.iter().all(|e| e.get("usage").is_none()));
        assert_eq!(usage.unwrap().completion_tokens, 32);
    }

    #[test]
    fn every_split_point_gives_identical_output() {
        let bytes = STREAM.as_bytes();
        // Whole, split in two at every byte, and byte by byte: same bytes, same usage.
        let (whole, usage) = crate::test_support::assert_split_invariant(
            || StreamTranslator::new(Endpoint::ChatCompletions, ctx(true)),
            bytes,
        );
        assert_eq!(whole, run(true, &[bytes]).0);
        assert_eq!(usage.unwrap().completion_tokens, 32);
    }

    #[test]
    fn tool_call_stream() {
        let stream = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"get_current_weather\",\"args\": {\"location\": \"Boston, MA\"}},\"thoughtSignature\": \"c2lnMQ==\"},{\"functionCall\": {\"name\": \"get_time\",\"args\": {}}}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 70,\"candidatesTokenCount\": 25,\"totalTokenCount\": 95},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"T1\"}\r\n\r\n";
        let (out, _) = run(false, &[stream.as_bytes()]);
        let evs = events(&out);
        assert_eq!(evs.len(), 4, "{evs:#?}");
        assert_eq!(
            evs[0]["choices"][0]["delta"],
            json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_T1_0__thought__c2lnMQ==", "type": "function",
                    "function": {"name": "get_current_weather", "arguments": "{\"location\":\"Boston, MA\"}"}}]})
        );
        assert_eq!(
            evs[1]["choices"][0]["delta"]["tool_calls"][0],
            json!({"index": 1, "id": "call_T1_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}})
        );
        assert_eq!(evs[2]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(evs[3], "[DONE]");
        // The streamed id carries the signature back on the next request.
        let id = evs[0]["choices"][0]["delta"]["tool_calls"][0]["id"]
            .as_str()
            .unwrap();
        assert_eq!(split_tool_call_id(id), ("call_T1_0", Some("c2lnMQ==")));
    }

    #[test]
    fn cut_short_stream_ends_with_error() {
        let first_event_end = STREAM.find("\r\n\r\n").unwrap() + 4;
        let (out, usage) = run(true, &[&STREAM.as_bytes()[..first_event_end]]);
        let evs = events(&out);
        assert_eq!(
            evs[0]["choices"][0]["delta"]["reasoning_content"],
            "Thinking about skies"
        );
        let err = &evs[evs.len() - 2]["error"];
        assert_eq!(err["code"], "502");
        assert!(err["message"].as_str().unwrap().contains("ended early"));
        assert_eq!(evs[evs.len() - 1], "[DONE]");
        assert_eq!(usage.unwrap().prompt_tokens, 8);
        // Cut mid-event.
        let (out, _) = run(false, &[&STREAM.as_bytes()[..first_event_end + 10]]);
        assert!(String::from_utf8(out).unwrap().contains("mid-event"));
        // Nothing at all.
        let evs = events(&run(false, &[]).0);
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0]["error"]["code"], "502");
    }

    #[test]
    fn error_and_garbage_events_end_the_stream() {
        let stream = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hi\"}],\"role\": \"model\"},\"index\": 0}]}\r\n\r\ndata: {\"error\": {\"code\": 503,\"message\": \"The model is overloaded. Please try again later.\",\"status\": \"UNAVAILABLE\"}}\r\n\r\ndata: {\"candidates\": []}\r\n\r\n";
        let evs = events(&run(false, &[stream.as_bytes()]).0);
        assert_eq!(evs.len(), 3);
        assert_eq!(evs[1]["error"]["code"], "503");
        assert_eq!(evs[1]["error"]["type"], "service_unavailable_error");
        assert_eq!(evs[2], "[DONE]");
        let evs = events(&run(false, &[b"data: {oops\n\n"]).0);
        assert_eq!(evs[0]["error"]["code"], "502");
    }

    #[test]
    fn blocked_prompt_stream_is_content_filter() {
        let stream = "data: {\"promptFeedback\": {\"blockReason\": \"PROHIBITED_CONTENT\"},\"usageMetadata\": {\"promptTokenCount\": 5,\"totalTokenCount\": 5},\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n";
        let evs = events(&run(true, &[stream.as_bytes()]).0);
        assert_eq!(evs[0]["choices"][0]["finish_reason"], "content_filter");
        assert_eq!(evs[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(evs[1]["usage"]["prompt_tokens"], 5);
        assert_eq!(evs[2], "[DONE]");
    }
}
