//! Hugging Face text-generation endpoints (Text Generation Inference's native API):
//! `huggingface/` deployments in text-generation mode → `POST /generate` and
//! `POST /generate_stream` with a prompt built from the messages.
//!
//! (`huggingface/` deployments in chat mode speak TGI's and the Hugging Face router's
//! OpenAI-compatible Messages API, `{api_base}/v1/chat/completions`, and go through
//! the OpenAI-compatible path untouched; the config compiler picks the mode, see
//! `switchyard::plan`.)
//!
//! Fields follow TGI's router (`GenerateRequest`, `GenerateParameters`,
//! `GenerateResponse`, `Details`, `StreamResponse`, `StreamDetails`, `ErrorResponse`
//! in `router/src/lib.rs` of huggingface/text-generation-inference; the same as the
//! `text-generation` Python client's `types.py`). The mapping is LiteLLM's
//! `HuggingfaceChatConfig` from the releases that served TGI natively
//! (`litellm/llms/huggingface/chat/transformation.py`, task
//! `text-generation-inference`), and the prompt is LiteLLM's `custom_prompt`
//! (`litellm_core_utils/prompt_templates/factory.py`), reproduced in
//! [`custom_prompt`].
//!
//! # Requests
//!
//! * Body `{"inputs": <prompt>, "parameters": {…}}`; a stream goes to
//!   `/generate_stream`, else `/generate`.
//! * The prompt: the deployment's template through [`custom_prompt`]; without one,
//!   LiteLLM's fallback `default_pt` (the messages' contents joined with spaces;
//!   LiteLLM would first try the model's chat template from the Hub, which the
//!   gateway does not fetch). `/completions` sends the `prompt` as it is.
//! * `parameters` (LiteLLM's `map_openai_params` and config defaults): `details:
//!   true`, `return_full_text: false`; `max_completion_tokens` / `max_tokens` →
//!   `max_new_tokens` (0 becomes 1: TGI wants it positive); `temperature` (0
//!   becomes 0.01, as LiteLLM: TGI wants it positive), `top_p`, `seed`; `stop` → a
//!   list; `n` must be 1; `response_format` → TGI's `grammar` (`json_schema` →
//!   `{"type": "json", "value": <schema>}`, `json_object` → the schema `{"type":
//!   "object"}`). TGI's own parameters pass into `parameters` as they are
//!   ([`NATIVE`]). Non-streamed requests also ask `decoder_input_details: true`, so
//!   that the answer lists the prompt's tokens (`details.prefill`): that list's
//!   length is the prompt token count (TGI's `/generate` reports it nowhere else).
//!
//! # Responses
//!
//! `generated_text` (with LiteLLM's `output_parser`: a leading or trailing
//! `<|assistant|>`, `<|system|>`, `<|user|>`, `<s>`, `</s>` removed) → `content`;
//! `details.finish_reason` `length` → `length`, `eos_token` and `stop_sequence` →
//! `stop`; usage: `details.prefill` length → `prompt_tokens`,
//! `details.generated_tokens` → `completion_tokens`.
//!
//! # Streams
//!
//! TGI's SSE (`data:{"index":…,"token":{"id","text","logprob","special"},
//! "generated_text":null,"details":null}`): each token's `text` becomes a
//! `delta.content` (special tokens are skipped, as LiteLLM does); the last event
//! (`generated_text` and `details` set) gives the `finish_reason` chunk, the usage
//! (`details.generated_tokens`, and `details.input_length` — `prompt_tokens` in some
//! TGI versions — for the prompt; 0 from a TGI that reports neither), the usage
//! chunk when the client asked for it, and `data: [DONE]`. An `{"error": …}` event
//! becomes `data: {"error": …}` then `[DONE]`; so does a stream that ends before
//! its `details` (502).
//!
//! # Errors
//!
//! TGI answers `{"error": "…", "error_type": "validation" | "generation" |
//! "overloaded" | "incomplete_generation" | "tokenizer"}`; the message is kept with
//! the status, except TGI's 424 (a failed generation), which becomes a 500.

use serde_json::{json, Map, Value};

use super::{ProviderRequest, ResponseContext, StreamTranslate};
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::plugin_config::PromptTemplate;
use crate::sse::SseDecoder;
use crate::wire::openai::{self as wire, invalid, write_data, DONE};

/// TGI's own generation parameters (`GenerateParameters`), passed into
/// `parameters` as they are.
pub const NATIVE: &[&str] = &[
    "top_k",
    "repetition_penalty",
    "frequency_penalty",
    "typical_p",
    "truncate",
    "watermark",
    "do_sample",
    "grammar",
    "return_full_text",
    "top_n_tokens",
];

/// LiteLLM's `HuggingfaceChatConfig.get_supported_openai_params` (without `echo`),
/// plus `seed` and `response_format` (mapped here) and `stream_options` (the
/// gateway's).
const CHAT: &[&str] = &[
    "model",
    "messages",
    "stream",
    "stream_options",
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "top_p",
    "stop",
    "n",
    "seed",
    "response_format",
];

const COMPLETION: &[&str] = &[
    "model",
    "prompt",
    "stream",
    "stream_options",
    "temperature",
    "max_tokens",
    "top_p",
    "stop",
    "n",
    "seed",
];

/// The parameters accepted for `endpoint` (embeddings: none beyond the request's
/// own, and the request is refused).
pub fn supported_params(endpoint: Endpoint) -> Vec<&'static str> {
    match endpoint {
        Endpoint::ChatCompletions => CHAT.iter().chain(NATIVE).copied().collect(),
        Endpoint::Completions => COMPLETION.iter().chain(NATIVE).copied().collect(),
        Endpoint::Embeddings => vec!["model", "input", "encoding_format"],
    }
}

fn get<'a>(request: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    request.get(key).filter(|v| !v.is_null())
}

/// A message's text: a string, or its `text` parts concatenated (LiteLLM's
/// `custom_prompt` reads parts so); `None` for no content.
fn message_text(content: Option<&Value>) -> Option<String> {
    match content? {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect(),
        ),
        _ => None,
    }
}

/// LiteLLM's `custom_prompt`, exactly: `bos_token` + `initial_prompt_value`; then
/// per message its role's `pre_message` + content + `post_message` (a message
/// whose content is neither a string nor a list adds nothing, not even its pre and
/// post texts), `eos_token` after each assistant message, `bos_token` again before a
/// `system` or `human` message that follows an assistant one; then
/// `final_prompt_value`. Roles are looked up as the messages name them.
pub fn custom_prompt(template: &PromptTemplate, messages: &[Value]) -> String {
    let mut prompt = template.bos_token.clone();
    prompt.push_str(&template.initial_prompt_value);
    let mut bos_open = true;
    for message in messages {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        if matches!(role, "system" | "human") && !bos_open {
            prompt.push_str(&template.bos_token);
            bos_open = true;
        }
        let (pre, post) = template.roles.get(role).map_or(("", ""), |r| {
            (r.pre_message.as_str(), r.post_message.as_str())
        });
        if let Some(text) = message_text(message.get("content")) {
            prompt.push_str(pre);
            prompt.push_str(&text);
            prompt.push_str(post);
        }
        if role == "assistant" {
            prompt.push_str(&template.eos_token);
            bos_open = false;
        }
    }
    prompt.push_str(&template.final_prompt_value);
    prompt
}

/// LiteLLM's `default_pt`: the contents joined with single spaces.
pub fn default_prompt(messages: &[Value]) -> String {
    messages
        .iter()
        .map(|m| message_text(m.get("content")).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Translates an OpenAI request for TGI's `/generate` (`template`: the deployment's
/// prompt template, if any).
pub fn translate_request(
    endpoint: Endpoint,
    request: &Map<String, Value>,
    template: Option<&PromptTemplate>,
) -> Result<ProviderRequest, GatewayError> {
    let inputs = match endpoint {
        Endpoint::Embeddings => {
            return Err(GatewayError::bad_request(
                "Hugging Face text-generation endpoints do not embed: use a deployment of the embedding model (its OpenAI-compatible /v1/embeddings).",
            ))
        }
        Endpoint::Completions => match get(request, "prompt") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(list)) => match list.as_slice() {
                [Value::String(s)] => s.clone(),
                _ => {
                    return Err(invalid(
                        "prompt",
                        "TGI completes one prompt per request: send a string (or an array of one string).",
                    ))
                }
            },
            _ => return Err(invalid("prompt", "`prompt` is required: a string.")),
        },
        Endpoint::ChatCompletions => {
            let messages = get(request, "messages")
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
            for (i, m) in messages.iter().enumerate() {
                if !m.get("role").is_some_and(Value::is_string) {
                    return Err(invalid(
                        format!("messages[{i}].role"),
                        "Each message needs a string `role`.",
                    ));
                }
                if let Some(Value::Array(parts)) = m.get("content") {
                    for (j, part) in parts.iter().enumerate() {
                        let kind = part.get("type").and_then(Value::as_str);
                        if kind != Some("text") {
                            return Err(invalid(
                                format!("messages[{i}].content[{j}].type"),
                                format!(
                                    "A text-generation prompt takes text only, not `{}` parts.",
                                    kind.unwrap_or("untyped")
                                ),
                            ));
                        }
                    }
                }
            }
            match template {
                Some(t) => custom_prompt(t, messages),
                None => default_prompt(messages),
            }
        }
    };
    if inputs.is_empty() {
        return Err(invalid(
            if endpoint == Endpoint::Completions {
                "prompt"
            } else {
                "messages"
            },
            "The prompt is empty (TGI refuses empty `inputs`).",
        ));
    }
    let stream = match get(request, "stream") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("stream", "`stream` must be a boolean.")),
    };

    let mut params = Map::new();
    params.insert("details".into(), json!(true));
    params.insert("return_full_text".into(), json!(false));
    if !stream {
        params.insert("decoder_input_details".into(), json!(true));
    }
    if let Some(v) = get(request, "max_completion_tokens").or_else(|| get(request, "max_tokens")) {
        let n = v
            .as_u64()
            .ok_or_else(|| invalid("max_tokens", "`max_tokens` must be a positive integer."))?;
        params.insert("max_new_tokens".into(), json!(n.max(1)));
    }
    if let Some(v) = get(request, "temperature") {
        let t = v
            .as_f64()
            .ok_or_else(|| invalid("temperature", "`temperature` must be a number."))?;
        params.insert(
            "temperature".into(),
            if t == 0.0 { json!(0.01) } else { v.clone() },
        );
    }
    if let Some(v) = get(request, "top_p") {
        if !v.is_number() {
            return Err(invalid("top_p", "`top_p` must be a number."));
        }
        params.insert("top_p".into(), v.clone());
    }
    if let Some(v) = get(request, "seed") {
        if !v.is_u64() {
            return Err(invalid("seed", "`seed` must be a non-negative integer."));
        }
        params.insert("seed".into(), v.clone());
    }
    match get(request, "stop") {
        None => {}
        Some(Value::String(s)) => {
            params.insert("stop".into(), json!([s]));
        }
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
            params.insert("stop".into(), Value::Array(list.clone()));
        }
        Some(_) => {
            return Err(invalid(
                "stop",
                "`stop` must be a string or a list of strings.",
            ))
        }
    }
    match get(request, "n") {
        None => {}
        Some(v) if v.as_u64() == Some(1) => {}
        Some(_) => {
            return Err(invalid(
                "n",
                "TGI's /generate answers one choice per request here: `n` must be 1.",
            ))
        }
    }
    if let Some(rf) = get(request, "response_format") {
        match rf.get("type").and_then(Value::as_str) {
            Some("text") => {}
            Some("json_object") => {
                params.insert(
                    "grammar".into(),
                    json!({"type": "json", "value": {"type": "object"}}),
                );
            }
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
                params.insert("grammar".into(), json!({"type": "json", "value": schema}));
            }
            _ => {
                return Err(invalid(
                    "response_format",
                    "`response_format.type` must be `text`, `json_object` or `json_schema`.",
                ))
            }
        }
    }
    for name in NATIVE {
        if let Some(v) = get(request, name) {
            params.insert((*name).to_string(), v.clone());
        }
    }
    let body = json!({"inputs": inputs, "parameters": params});
    Ok(ProviderRequest {
        path: if stream {
            "/generate_stream"
        } else {
            "/generate"
        }
        .into(),
        body: super::serialize_request(&body)?,
    })
}

// ---------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------

/// LiteLLM's `output_parser`: chat-template tokens at the start (after leading
/// whitespace) or the very end of the text are removed once each.
pub fn output_parser(text: &str) -> String {
    const TOKENS: [&str; 5] = ["<|assistant|>", "<|system|>", "<|user|>", "<s>", "</s>"];
    let mut out = text.to_string();
    for token in TOKENS {
        if out.trim().starts_with(token) {
            out = out.replacen(token, "", 1);
        }
        if let Some(stripped) = out.strip_suffix(token) {
            out = stripped.to_string();
        }
    }
    out
}

/// TGI's finish reasons → OpenAI's (LiteLLM's `map_finish_reason`).
pub fn finish_reason(reason: Option<&str>) -> &'static str {
    match reason {
        Some("length") => "length",
        _ => "stop",
    }
}

fn usage_value(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
    })
}

fn bad_answer(what: &str) -> GatewayError {
    GatewayError::new(502, format!("Text Generation Inference returned {what}"))
        .with_type("api_error")
}

/// FNV-1a of the answer, for a response id (TGI's answers have none).
fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Translates a complete `/generate` answer.
pub fn translate_response(
    endpoint: Endpoint,
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<Vec<u8>, GatewayError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| bad_answer(&format!("a body that is not JSON: {e}")))?;
    // The compatibility route `/` answers a list of one.
    let v = match v {
        Value::Array(mut list) if list.len() == 1 => list.swap_remove(0),
        other => other,
    };
    if let Some(message) = v.get("error").and_then(Value::as_str) {
        return Err(GatewayError::new(500, message.to_string()));
    }
    let text = v
        .get("generated_text")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_answer("an answer without `generated_text`"))?;
    let text = output_parser(text);
    let details = v.get("details");
    let prompt = details
        .and_then(|d| d.get("prefill"))
        .and_then(Value::as_array)
        .map_or(0, |p| p.len() as u64);
    let completion = details
        .and_then(|d| d.get("generated_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let reason = finish_reason(
        details
            .and_then(|d| d.get("finish_reason"))
            .and_then(Value::as_str),
    );
    let seed = fnv(body);
    let out = if endpoint == Endpoint::Completions {
        wire::completion(
            format!("cmpl-{seed:016x}"),
            wire::TEXT_COMPLETION,
            ctx.created,
            &ctx.model,
            json!([{"text": text, "index": 0, "logprobs": null, "finish_reason": reason}]),
            Some(usage_value(prompt, completion)),
        )
    } else {
        wire::completion(
            format!("chatcmpl-{seed:016x}"),
            wire::CHAT_COMPLETION,
            ctx.created,
            &ctx.model,
            json!([{"index": 0, "message": {"role": "assistant", "content": text},
                         "logprobs": null, "finish_reason": reason}]),
            Some(usage_value(prompt, completion)),
        )
    };
    serde_json::to_vec(&out)
        .map_err(|e| GatewayError::internal(format!("could not serialize answer: {e}")))
}

/// Maps a TGI error answer (`{"error", "error_type"}`) to an OpenAI error.
pub fn translate_error(status: u16, body: &[u8]) -> GatewayError {
    let err = super::openai::translate_error(status, body);
    if status == 424 {
        // TGI's "failed dependency": the generation itself failed.
        return GatewayError::new(500, err.message);
    }
    err
}

// ---------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------

/// TGI SSE → OpenAI SSE, event by event (see the module docs).
pub struct StreamTranslator {
    decoder: SseDecoder,
    state: State,
}

struct State {
    ctx: ResponseContext,
    text_completion: bool,
    id: String,
    role_sent: bool,
    usage: Option<crate::cost::Usage>,
    ended: bool,
}

impl StreamTranslator {
    /// A translator for one response.
    pub fn new(endpoint: Endpoint, ctx: ResponseContext) -> Self {
        StreamTranslator {
            decoder: SseDecoder::new(),
            state: State {
                ctx,
                text_completion: endpoint == Endpoint::Completions,
                id: String::new(),
                role_sent: false,
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

    fn object(&self) -> &'static str {
        if self.text_completion {
            "text_completion"
        } else {
            "chat.completion.chunk"
        }
    }

    fn chunk(&self, text: Option<&str>, finish: Option<&str>) -> Value {
        let choice = if self.text_completion {
            json!({"text": text.unwrap_or_default(), "index": 0, "logprobs": null, "finish_reason": finish})
        } else {
            let mut delta = Map::new();
            if !self.role_sent {
                delta.insert("role".into(), json!("assistant"));
            }
            if let Some(t) = text {
                delta.insert("content".into(), json!(t));
            }
            json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish})
        };
        wire::completion(
            &self.id,
            self.object(),
            self.ctx.created,
            &self.ctx.model,
            json!([choice]),
            None,
        )
    }

    fn handle(&mut self, data: &str, out: &mut Vec<u8>) {
        let v: Value = match serde_json::from_str(data) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                let shown: String = data.chars().take(200).collect();
                self.fail(
                    bad_answer(&format!(
                        "a stream event that is not a JSON object: {shown}"
                    )),
                    out,
                );
                return;
            }
        };
        if let Some(err) = v.get("error") {
            let message = err.as_str().map_or_else(|| err.to_string(), str::to_string);
            self.fail(GatewayError::new(500, message), out);
            return;
        }
        if self.id.is_empty() {
            let prefix = if self.text_completion {
                "cmpl"
            } else {
                "chatcmpl"
            };
            self.id = format!("{prefix}-{:016x}", fnv(data.as_bytes()));
        }
        let token = v.get("token");
        let special = token
            .and_then(|t| t.get("special"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let text = token
            .and_then(|t| t.get("text"))
            .and_then(Value::as_str)
            .filter(|t| !special && !t.is_empty());
        if let Some(t) = text {
            let chunk = self.chunk(Some(t), None);
            write_data(out, &chunk);
            self.role_sent = true;
        }
        let Some(details) = v.get("details").filter(|d| d.is_object()) else {
            return;
        };
        let prompt = details
            .get("input_length")
            .or_else(|| details.get("prompt_tokens"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let completion = details
            .get("generated_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        self.usage = Some(crate::cost::Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            ..Default::default()
        });
        let reason = finish_reason(details.get("finish_reason").and_then(Value::as_str));
        let finish = self.chunk(None, Some(reason));
        write_data(out, &finish);
        if self.ctx.include_usage {
            let usage = wire::completion(
                &self.id,
                self.object(),
                self.ctx.created,
                &self.ctx.model,
                json!([]),
                Some(usage_value(prompt, completion)),
            );
            write_data(out, &usage);
        }
        out.extend_from_slice(DONE);
        self.ended = true;
    }
}

impl StreamTranslate for StreamTranslator {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.state.ended {
            return;
        }
        self.decoder.push(chunk);
        while !self.state.ended {
            match self.decoder.next_event() {
                Ok(Some(event)) => self.state.handle(event.data, out),
                Ok(None) => break,
                Err(e) => self.state.fail(
                    bad_answer(&format!("a stream that could not be read: {e}")),
                    out,
                ),
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        let partial = self.decoder.finish();
        if self.state.ended {
            return;
        }
        let message = if partial {
            "a stream that ended before its final (`details`) event (mid-event)"
        } else {
            "a stream that ended before its final (`details`) event"
        };
        self.state.fail(bad_answer(message), out);
    }

    fn usage(&self) -> Option<crate::cost::Usage> {
        self.state.usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin_config::RoleTemplate;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn chatml() -> PromptTemplate {
        let role = |pre: &str, post: &str| RoleTemplate {
            pre_message: pre.into(),
            post_message: post.into(),
        };
        PromptTemplate {
            initial_prompt_value: "<start>".into(),
            roles: [
                (
                    "system".to_string(),
                    role("<|im_start|>system\n", "<|im_end|>\n"),
                ),
                (
                    "user".to_string(),
                    role("<|im_start|>user\n", "<|im_end|>\n"),
                ),
                (
                    "assistant".to_string(),
                    role("<|im_start|>assistant\n", "<|im_end|>\n"),
                ),
                ("tool".to_string(), role("[TOOL]", "")),
            ]
            .into(),
            final_prompt_value: "<|im_start|>assistant\n".into(),
            bos_token: "<s>".into(),
            eos_token: "</s>".into(),
        }
    }

    /// The expected string is what LiteLLM's own `custom_prompt` returns for these
    /// arguments (run on its source): bos reopened before a system message after an
    /// assistant one, eos after each assistant message, a content-less assistant
    /// message adding its eos only, an unlisted role (`developer`) its bare content.
    #[test]
    fn custom_prompt_is_litellms() {
        let messages = json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]},
            {"role": "assistant", "content": "Hello!"},
            {"role": "assistant", "content": null, "tool_calls": []},
            {"role": "system", "content": "Again."},
            {"role": "tool", "content": "42", "tool_call_id": "c"},
            {"role": "developer", "content": "dev"},
            {"role": "user", "content": "Bye"}
        ]);
        assert_eq!(
            custom_prompt(&chatml(), messages.as_array().unwrap()),
            "<s><start><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n</s></s><s><|im_start|>system\nAgain.<|im_end|>\n[TOOL]42dev<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"
        );
        assert_eq!(
            custom_prompt(
                &PromptTemplate::default(),
                &[json!({"role": "user", "content": "x"})]
            ),
            "x"
        );
        assert_eq!(
            default_prompt(&[
                json!({"role": "system", "content": "a"}),
                json!({"role": "user", "content": "b c"})
            ]),
            "a b c"
        );
    }

    #[test]
    fn generate_request_maps_parameters() {
        let out = translate_request(
            Endpoint::ChatCompletions,
            &map(json!({
                "model": "x", "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 0, "temperature": 0, "top_p": 0.9, "seed": 3, "stop": "END",
                "n": 1, "top_k": 40, "repetition_penalty": 1.1,
                "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}}}
            })),
            Some(&chatml()),
        )
        .unwrap();
        assert_eq!(out.path, "/generate");
        let body: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(
            body,
            json!({
                "inputs": "<s><start><|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
                "parameters": {
                    "details": true, "return_full_text": false, "decoder_input_details": true,
                    "max_new_tokens": 1, "temperature": 0.01, "top_p": 0.9, "seed": 3,
                    "stop": ["END"], "grammar": {"type": "json", "value": {"type": "object"}},
                    "top_k": 40, "repetition_penalty": 1.1,
                }
            })
        );
        let out = translate_request(
            Endpoint::Completions,
            &map(json!({"prompt": "raw", "stream": true, "max_tokens": 5})),
            Some(&chatml()),
        )
        .unwrap();
        assert_eq!(out.path, "/generate_stream");
        assert_eq!(
            serde_json::from_slice::<Value>(&out.body).unwrap(),
            json!({"inputs": "raw", "parameters": {"details": true, "return_full_text": false, "max_new_tokens": 5}}),
            "the prompt as it is; no decoder_input_details on a stream (TGI refuses it)"
        );
        for (req, param) in [
            (
                json!({"messages": [{"role": "user", "content": "x"}], "n": 2}),
                "n",
            ),
            (json!({"messages": []}), "messages"),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}),
                "messages[0].content[0].type",
            ),
            (
                json!({"messages": [{"role": "user", "content": ""}]}),
                "messages",
            ),
        ] {
            let err =
                translate_request(Endpoint::ChatCompletions, &map(req.clone()), None).unwrap_err();
            assert_eq!(
                (err.status, err.param.as_deref()),
                (400, Some(param)),
                "{req}"
            );
        }
        assert_eq!(
            translate_request(Endpoint::Embeddings, &map(json!({"input": "x"})), None)
                .unwrap_err()
                .status,
            400
        );
        assert!(!supported_params(Endpoint::ChatCompletions).contains(&"tools"));
    }

    fn ctx(include_usage: bool) -> ResponseContext {
        ResponseContext {
            created: 1_700_000_000,
            model: "tgi-model".into(),
            include_usage,
        }
    }

    #[test]
    fn generate_answers_become_openai() {
        // `GenerateResponse` as TGI's reference shows it, with `decoder_input_details`.
        let body = r#"{"generated_text":"<|assistant|> Deep learning is a subset.</s>","details":{"finish_reason":"eos_token","generated_tokens":7,"seed":null,"prefill":[{"id":1,"text":"<s>","logprob":null},{"id":1724,"text":"What","logprob":-7.6},{"id":338,"text":" is","logprob":-1.4}],"tokens":[{"id":1,"text":"Deep","logprob":-0.1,"special":false}]}}"#;
        let v: Value = serde_json::from_slice(
            &translate_response(Endpoint::ChatCompletions, body.as_bytes(), &ctx(false)).unwrap(),
        )
        .unwrap();
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], "tgi-model");
        assert_eq!(
            v["choices"][0]["message"],
            json!({"role": "assistant", "content": " Deep learning is a subset."}),
            "LiteLLM's output_parser strips chat-template tokens"
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 3, "completion_tokens": 7, "total_tokens": 10})
        );
        let v: Value = serde_json::from_slice(
            &translate_response(
                Endpoint::Completions,
                br#"[{"generated_text":"cut","details":{"finish_reason":"length","generated_tokens":1,"prefill":[],"tokens":[]}}]"#,
                &ctx(false),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(v["object"], "text_completion");
        assert_eq!(
            (
                v["choices"][0]["text"].as_str(),
                v["choices"][0]["finish_reason"].as_str()
            ),
            (Some("cut"), Some("length"))
        );
        assert_eq!(
            translate_response(Endpoint::ChatCompletions, b"{}", &ctx(false))
                .unwrap_err()
                .status,
            502
        );
    }

    #[test]
    fn tgi_errors_keep_their_message() {
        let e = translate_error(
            422,
            br#"{"error":"Input validation error: `temperature` must be strictly positive","error_type":"validation"}"#,
        );
        assert_eq!((e.status, e.kind.as_str()), (422, "invalid_request_error"));
        assert_eq!(
            e.message,
            "Input validation error: `temperature` must be strictly positive"
        );
        let e = translate_error(424, br#"{"error":"Request failed during generation: Server error: CUDA out of memory","error_type":"generation"}"#);
        assert_eq!(e.status, 500);
        assert!(e.message.starts_with("Request failed during generation"));
        let e = translate_error(
            429,
            br#"{"error":"Model is overloaded","error_type":"overloaded"}"#,
        );
        assert_eq!((e.status, e.kind.as_str()), (429, "rate_limit_error"));
    }

    /// `/generate_stream` as TGI sends it (`data:` without a space, the `index`
    /// field of TGI 2+, `input_length` in the final `details`), with a special end
    /// token and a multi-byte character.
    const STREAM: &str = concat!(
        "data:{\"index\":1,\"token\":{\"id\":10,\"text\":\"Hel\",\"logprob\":-0.2,\"special\":false},\"generated_text\":null,\"details\":null}\n\n",
        "data:{\"index\":2,\"token\":{\"id\":11,\"text\":\"lo wörld\",\"logprob\":-0.3,\"special\":false},\"generated_text\":null,\"details\":null}\r\n\r\n",
        "data:{\"index\":3,\"token\":{\"id\":2,\"text\":\"</s>\",\"logprob\":-0.1,\"special\":true},\"generated_text\":\"Hello wörld\",\"details\":{\"finish_reason\":\"eos_token\",\"generated_tokens\":3,\"seed\":null,\"input_length\":12}}\n\n",
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
    fn stream_at_every_split_point() {
        let bytes = STREAM.as_bytes();
        let whole = run(Endpoint::ChatCompletions, bytes, &[], true);
        let evs = events(&whole.0);
        assert_eq!(evs.len(), 5, "{}", whole.0);
        assert_eq!(
            evs[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": "Hel"})
        );
        assert_eq!(
            evs[1]["choices"][0]["delta"],
            json!({"content": "lo wörld"})
        );
        assert_eq!(evs[2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            evs[3]["usage"],
            json!({"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15})
        );
        assert_eq!(evs[4], json!("[DONE]"));
        assert!(evs[..4].iter().all(|e| e["id"] == evs[0]["id"]));
        for split in 0..=bytes.len() {
            assert_eq!(
                run(Endpoint::ChatCompletions, bytes, &[split], true),
                whole,
                "split at {split}"
            );
        }
        let every: Vec<usize> = (1..bytes.len()).collect();
        assert_eq!(run(Endpoint::ChatCompletions, bytes, &every, true), whole);
        let (out, usage) = run(Endpoint::Completions, bytes, &[], false);
        let evs = events(&out);
        assert_eq!(evs[0]["object"], "text_completion");
        assert_eq!(evs[1]["choices"][0]["text"], "lo wörld");
        assert_eq!(evs.len(), 4, "no usage chunk unasked");
        assert_eq!(
            usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
            Some((12, 3))
        );
        // Older TGI: `prompt_tokens` in the details.
        let older = STREAM.replace("\"input_length\"", "\"prompt_tokens\"");
        assert_eq!(
            run(Endpoint::ChatCompletions, older.as_bytes(), &[], false)
                .1
                .map(|u| u.prompt_tokens),
            Some(12)
        );
    }

    #[test]
    fn stream_errors_and_cuts_end_with_an_error_event() {
        let failed = "data:{\"index\":1,\"token\":{\"id\":10,\"text\":\"Hi\",\"logprob\":-0.2,\"special\":false},\"generated_text\":null,\"details\":null}\n\ndata:{\"error\":\"Request failed during generation: Server error: out of memory\",\"error_type\":\"generation\"}\n\n";
        let (out, usage) = run(Endpoint::ChatCompletions, failed.as_bytes(), &[], false);
        let evs = events(&out);
        assert_eq!(
            evs[1]["error"]["message"],
            "Request failed during generation: Server error: out of memory"
        );
        assert_eq!(evs.last().unwrap(), &json!("[DONE]"));
        assert_eq!(usage, None);
        let cut = &STREAM[..STREAM.rfind("data:").unwrap()];
        let (out, _) = run(Endpoint::ChatCompletions, cut.as_bytes(), &[], false);
        assert!(
            out.contains("\"code\":\"502\"") && out.ends_with("data: [DONE]\n\n"),
            "{out}"
        );
        let (out, _) = run(Endpoint::ChatCompletions, b"data:nope\n\n", &[], false);
        assert!(out.contains("\"code\":\"502\""), "{out}");
    }
}
