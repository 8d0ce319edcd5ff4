//! The OpenAI wire format as the translators write it: answer and chunk objects
//! (chat, text completion, embedding list), SSE `data:` events and the closing
//! `[DONE]`, data URIs in content parts, and the 400 for a request field at fault.
//!
//! Two styles, both byte-stable (serde_json keeps insertion order here):
//! - builders returning a [`Value`] (`completion`, `embedding_list`), for
//!   translators that assemble answers with `json!`;
//! - borrowed `Serialize` structs ([`Chunk`], [`ChatChoice`], [`ChatDelta`], …) for
//!   hot streaming paths that avoid building a `Value` per event.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::error::GatewayError;

/// The event that ends every OpenAI stream.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// `object` of a chat completion answer.
pub const CHAT_COMPLETION: &str = "chat.completion";
/// `object` of a chat completion stream chunk.
pub const CHAT_COMPLETION_CHUNK: &str = "chat.completion.chunk";
/// `object` of a text completion answer and of its stream chunks.
pub const TEXT_COMPLETION: &str = "text_completion";

/// 400 `invalid_request_error` naming the request field at fault (`param`), e.g.
/// `messages[2].content[0].image_url`.
pub fn invalid(param: impl AsRef<str>, message: impl Into<String>) -> GatewayError {
    GatewayError::invalid_param(param.as_ref(), message)
}

/// Writes one SSE event `data: <json>\n\n`, or nothing if serialization fails.
pub fn write_data<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let start = out.len();
    out.extend_from_slice(b"data: ");
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(start);
        return;
    }
    out.extend_from_slice(b"\n\n");
}

/// An answer or chunk object: `{id, object, created, model, choices[, usage]}`,
/// in OpenAI's key order. `usage` is left out when `None`.
pub fn completion(
    id: impl Serialize,
    object: &str,
    created: u64,
    model: impl Serialize,
    choices: impl Serialize,
    usage: Option<Value>,
) -> Value {
    let mut answer = json!({
        "id": id,
        "object": object,
        "created": created,
        "model": model,
        "choices": choices,
    });
    if let (Some(usage), Some(fields)) = (usage, answer.as_object_mut()) {
        fields.insert("usage".into(), usage);
    }
    answer
}

/// One entry of an embedding list: `{object: "embedding", index, embedding}`.
pub fn embedding(index: usize, vector: impl Serialize) -> Value {
    json!({ "object": "embedding", "index": index, "embedding": vector })
}

/// An embedding answer: `{object: "list", data, model, usage}` with the prompt
/// tokens as both `prompt_tokens` and `total_tokens`.
pub fn embedding_list(data: Vec<Value>, model: impl Serialize, prompt_tokens: u64) -> Value {
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": { "prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens },
    })
}

/// A base64 data URI, `data:<header>;base64,<data>`, as it comes in an
/// `image_url`/`file` content part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataUri<'a> {
    /// Everything between `data:` and `;base64`: the media type and any
    /// parameters (`image/png`, `text/plain;charset=utf-8`); may be empty.
    pub header: &'a str,
    /// The base64 payload (after the comma); may be empty.
    pub data: &'a str,
}

impl<'a> DataUri<'a> {
    /// The media type without parameters (`text/plain` of `text/plain;charset=utf-8`).
    pub fn media_type(&self) -> &'a str {
        self.header.split(';').next().unwrap_or(self.header)
    }
}

/// Parses `data:<header>;base64,<data>`; `None` for anything else (including
/// data URIs that are not base64).
pub fn parse_data_uri(uri: &str) -> Option<DataUri<'_>> {
    let rest = uri.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let header = meta.strip_suffix(";base64")?;
    Some(DataUri { header, data })
}

// ---------------------------------------------------------------------------
// Request view: the OpenAI request parts every translator reads, checked once
// ---------------------------------------------------------------------------

/// Whether an assistant tool call must carry its `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallIds {
    /// The provider's format needs the id (Cohere's `ToolCallV2`).
    Required,
    /// The id is passed on when present.
    Optional,
}

/// One assistant tool call (`messages[i].tool_calls[j]`), its shape checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCallView<'a> {
    /// Where it is in the request, `messages[i].tool_calls[j]`, for error params.
    pub at: String,
    /// The call id (always present with [`CallIds::Required`]).
    pub id: Option<&'a str>,
    /// `function.name`.
    pub name: &'a str,
    /// `function.arguments`; `None` when absent or `null`. Translators decode it
    /// (a JSON string, by the spec) in their provider's way.
    pub arguments: Option<&'a Value>,
}

/// An assistant message's `tool_calls` (of `messages[message_index]`): an array of
/// `{id, function: {name, arguments}}`. Errors name the exact field:
/// `messages[i].tool_calls`, `messages[i].tool_calls[j].id`,
/// `….function`, `….function.name`.
pub fn tool_calls(
    calls: &Value,
    message_index: usize,
    ids: CallIds,
) -> Result<Vec<ToolCallView<'_>>, GatewayError> {
    let list = calls.as_array().ok_or_else(|| {
        invalid(
            format!("messages[{message_index}].tool_calls"),
            "`tool_calls` must be an array.",
        )
    })?;
    let mut views = Vec::with_capacity(list.len());
    for (j, call) in list.iter().enumerate() {
        let at = format!("messages[{message_index}].tool_calls[{j}]");
        let id = call.get("id").and_then(Value::as_str);
        if ids == CallIds::Required && id.is_none() {
            return Err(invalid(
                format!("{at}.id"),
                "Each tool call needs a string `id`.",
            ));
        }
        let function = call
            .get("function")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                invalid(
                    format!("{at}.function"),
                    "Each tool call needs a `function` object.",
                )
            })?;
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                invalid(
                    format!("{at}.function.name"),
                    "Each tool call needs a string `function.name`.",
                )
            })?;
        let arguments = function.get("arguments").filter(|a| !a.is_null());
        views.push(ToolCallView {
            at,
            id,
            name,
            arguments,
        });
    }
    Ok(views)
}

/// The `function` of one entry of `tools` (`tools[i]`), its shape checked; the
/// tool's `type` is the translator's to check (providers differ on what else they take).
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionToolView<'a> {
    /// `tools[i]`, for error params.
    pub at: String,
    /// `function.name`.
    pub name: &'a str,
    /// `function.description` when it is a string.
    pub description: Option<&'a str>,
    /// `function.parameters`; `None` when absent or `null`, else an object.
    pub parameters: Option<&'a Map<String, Value>>,
    /// The whole `function` object, for provider-specific fields (`strict`).
    pub function: &'a Map<String, Value>,
}

/// Checks `tools[index].function`: an object with a string `name` and, when
/// given, an object `parameters`. Errors name `tools[i].function`,
/// `tools[i].function.name`, `tools[i].function.parameters`.
pub fn function_tool(tool: &Value, index: usize) -> Result<FunctionToolView<'_>, GatewayError> {
    let at = format!("tools[{index}]");
    let function = tool
        .get("function")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            invalid(
                format!("{at}.function"),
                "Each tool needs a `function` object.",
            )
        })?;
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid(
                format!("{at}.function.name"),
                "Each tool needs a string `function.name`.",
            )
        })?;
    let description = function.get("description").and_then(Value::as_str);
    let parameters = match function.get("parameters") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => Some(p),
        Some(_) => {
            return Err(invalid(
                format!("{at}.function.parameters"),
                "`function.parameters` must be a JSON schema object.",
            ))
        }
    };
    Ok(FunctionToolView {
        at,
        name,
        description,
        parameters,
        function,
    })
}

// ---------------------------------------------------------------------------
// Borrowed stream types
// ---------------------------------------------------------------------------

/// A stream chunk with borrowed fields; `C` is [`ChatChoice`] or [`TextChoice`],
/// `U` the translator's usage type.
#[derive(Serialize)]
pub struct Chunk<'a, C, U> {
    /// The answer id, the same in every chunk of a stream.
    pub id: &'a str,
    /// [`CHAT_COMPLETION_CHUNK`] or [`TEXT_COMPLETION`].
    pub object: &'static str,
    /// Unix seconds.
    pub created: u64,
    /// The model name the client sees.
    pub model: &'a str,
    /// Empty in the final usage chunk.
    pub choices: &'a [C],
    /// Only in the usage chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<U>,
}

/// One choice of a chat chunk.
#[derive(Serialize)]
pub struct ChatChoice<'a> {
    /// Choice index (0 unless `n` > 1).
    pub index: u32,
    /// What this chunk adds.
    pub delta: ChatDelta<'a>,
    /// Set in the choice's last chunk.
    pub finish_reason: Option<&'a str>,
}

/// The `delta` of a chat chunk; absent fields are left out.
#[derive(Serialize, Default)]
pub struct ChatDelta<'a> {
    /// `assistant`, in the first chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    /// Answer text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    /// Reasoning text (LiteLLM's field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<&'a str>,
    /// Thinking blocks with signatures (LiteLLM's field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_blocks: Option<[ThinkingDelta<'a>; 1]>,
    /// One tool call fragment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

/// A thinking block fragment (`thinking` or `redacted_thinking`).
#[derive(Serialize)]
pub struct ThinkingDelta<'a> {
    /// `thinking` or `redacted_thinking`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Thinking text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<&'a str>,
    /// The block's signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<&'a str>,
    /// Redacted data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<&'a str>,
}

/// A tool call fragment; the first one of a call carries `id`, `type` and the name.
#[derive(Serialize)]
pub struct ToolCallDelta<'a> {
    /// The call's position among the answer's tool calls.
    pub index: usize,
    /// The call id (first fragment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    /// `function` (first fragment).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// Name (first fragment) and a piece of the arguments.
    pub function: FunctionDelta<'a>,
}

/// The function part of a [`ToolCallDelta`].
#[derive(Serialize)]
pub struct FunctionDelta<'a> {
    /// The function name (first fragment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// A piece of the JSON arguments.
    pub arguments: &'a str,
}

/// One choice of a text completion chunk.
#[derive(Serialize)]
pub struct TextChoice<'a> {
    /// The generated text.
    pub text: &'a str,
    /// Choice index.
    pub index: u32,
    /// Always `null`.
    pub logprobs: Option<()>,
    /// Set in the last chunk.
    pub finish_reason: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_call_errors_name_the_exact_field() {
        let param = |calls: Value, ids| {
            tool_calls(&calls, 2, ids)
                .unwrap_err()
                .param
                .unwrap_or_default()
        };
        assert_eq!(
            param(json!({}), CallIds::Optional),
            "messages[2].tool_calls"
        );
        assert_eq!(
            param(
                json!([{"function": {"name": "f"}}, {"id": "b"}]),
                CallIds::Optional
            ),
            "messages[2].tool_calls[1].function"
        );
        assert_eq!(
            param(json!([{"function": {"name": "f"}}]), CallIds::Required),
            "messages[2].tool_calls[0].id"
        );
        assert_eq!(
            param(
                json!([{"id": "a", "function": {"name": 1}}]),
                CallIds::Required
            ),
            "messages[2].tool_calls[0].function.name"
        );
        let calls = json!([{"id": "a", "function": {"name": "f", "arguments": null}},
                           {"function": {"name": "g", "arguments": "{}"}}]);
        let views = tool_calls(&calls, 0, CallIds::Optional).unwrap();
        assert_eq!(views[0].at, "messages[0].tool_calls[0]");
        assert_eq!(
            (views[0].id, views[0].name, views[0].arguments),
            (Some("a"), "f", None)
        );
        assert_eq!(
            (views[1].id, views[1].arguments),
            (None, Some(&json!("{}")))
        );
    }

    #[test]
    fn function_tool_errors_name_the_exact_field() {
        let param = |tool: Value| {
            function_tool(&tool, 3)
                .unwrap_err()
                .param
                .unwrap_or_default()
        };
        assert_eq!(param(json!({"type": "function"})), "tools[3].function");
        assert_eq!(param(json!({"function": {}})), "tools[3].function.name");
        assert_eq!(
            param(json!({"function": {"name": "f", "parameters": []}})),
            "tools[3].function.parameters"
        );
        let tool =
            json!({"function": {"name": "f", "description": 7, "parameters": {"type": "object"}}});
        let view = function_tool(&tool, 0).unwrap();
        assert_eq!(
            (view.at.as_str(), view.name, view.description),
            ("tools[0]", "f", None)
        );
        assert_eq!(view.parameters, tool["function"]["parameters"].as_object());
    }

    #[test]
    fn data_uris() {
        let uri = parse_data_uri("data:text/plain;charset=utf-8;base64,aGk=").unwrap();
        assert_eq!(uri.header, "text/plain;charset=utf-8");
        assert_eq!(uri.media_type(), "text/plain");
        assert_eq!(uri.data, "aGk=");
        let empty = parse_data_uri("data:;base64,").unwrap();
        assert_eq!((empty.header, empty.data), ("", ""));
        assert!(parse_data_uri("data:image/png,raw").is_none());
        assert!(parse_data_uri("https://x/y.png").is_none());
    }

    #[test]
    fn answers_keep_openai_key_order() {
        let chunk = completion("c1", CHAT_COMPLETION_CHUNK, 7, "m", json!([]), None);
        assert_eq!(
            chunk.to_string(),
            r#"{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[]}"#
        );
        let full = completion("c1", CHAT_COMPLETION, 7, "m", json!([]), Some(json!({})));
        assert!(full.to_string().ends_with(r#""choices":[],"usage":{}}"#));
        let list = embedding_list(vec![embedding(0, json!([0.5]))], "e", 3);
        assert_eq!(
            list.to_string(),
            r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5]}],"model":"e","usage":{"prompt_tokens":3,"total_tokens":3}}"#
        );
    }

    #[test]
    fn sse_data_events() {
        let mut out = Vec::new();
        write_data(&mut out, &json!({"a": 1}));
        out.extend_from_slice(DONE);
        assert_eq!(out, b"data: {\"a\":1}\n\ndata: [DONE]\n\n");
        let mut out = Vec::new();
        let choice = ChatChoice {
            index: 0,
            delta: ChatDelta {
                content: Some("hi"),
                ..ChatDelta::default()
            },
            finish_reason: None,
        };
        let chunk: Chunk<'_, _, ()> = Chunk {
            id: "c",
            object: CHAT_COMPLETION_CHUNK,
            created: 1,
            model: "m",
            choices: &[choice],
            usage: None,
        };
        write_data(&mut out, &chunk);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n"
        );
    }
}
