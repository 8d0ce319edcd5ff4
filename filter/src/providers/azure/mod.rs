//! Azure OpenAI's content-filter annotations in streams, made into OpenAI chunks.
//!
//! Azure streams OpenAI's `chat.completion.chunk` events with extra events of its
//! own, documented in Azure's "Content streaming" guide
//! (`learn.microsoft.com/azure/foundry/openai/concepts/content-streaming`):
//!
//! - the **prompt annotation**, first in every stream:
//!   `{"id":"","object":"","created":0,"model":"","prompt_filter_results":[…],"choices":[]}`
//!   (`prompt_annotations` in older API versions);
//! - with the **Asynchronous Filter**, **annotation** events between and after the
//!   content chunks: `{"id":"","object":"",…,"choices":[{"index":0,"finish_reason":null,
//!   "content_filter_results":{…},"content_filter_offsets":{…}}]}`, no `delta`; the
//!   last one may carry `"finish_reason":"content_filter"` when the filter stopped
//!   the answer.
//!
//! Content chunks themselves are proper chunks (in the default mode each choice also
//! carries its `content_filter_results`) and pass untouched.
//!
//! Strict clients reject the annotation events (no `object`, an empty `id`, a choice
//! without `delta`). LiteLLM 1.108.14 (`litellm_core_utils/streaming_handler.py`,
//! `CustomStreamWrapper.chunk_creator` → `return_processed_chunk_logic`) drops every
//! event whose choices carry no content, role or finish reason, and turns an
//! annotation with a finish reason into an ordinary last chunk (`delta: {}`,
//! `finish_reason: "content_filter"`). [`ContentFilterNormalizer`] does the same,
//! one event at a time (nothing is held back): annotation events without a finish
//! reason are dropped; one with a finish reason becomes a proper chunk with the
//! stream's `id`, `model` and `created` (learned from its first proper chunk),
//! `delta: {}`, and the choice's `content_filter_results` kept (the category that
//! stopped the answer). LiteLLM writes `""` for that chunk's id and model; the
//! stream's are better. `/completions` streams are treated alike, with
//! `text_completion` chunks (`text: ""` instead of `delta: {}`). Non-streamed answers are left as Azure sends them
//! (`prompt_filter_results` at the top, `content_filter_results` per choice: a
//! valid `chat.completion`; LiteLLM moves the latter under `provider_specific_fields`).

mod provider;
pub use provider::*;

use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The `object` of a proper chat chunk.
const CHAT_CHUNK: &str = "chat.completion.chunk";
/// The `object` of a proper `/completions` chunk.
const TEXT_CHUNK: &str = "text_completion";

/// What to do with one event's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Normalized {
    /// A proper chunk (or `[DONE]`, or an error event): on as it is.
    Keep,
    /// An annotation that says nothing a client can use: not sent.
    Drop,
    /// An annotation that ends a choice: this proper chunk instead.
    Replace(String),
}

/// The identity every chunk of one answer shares.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    id: String,
    model: String,
    created: u64,
}

/// The fields of a proper chunk that name the answer.
#[derive(Deserialize)]
struct ChunkIdentity<'a> {
    #[serde(borrow, default)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    created: Option<u64>,
}

/// Normalizes one Azure stream, event by event (see the module docs).
#[derive(Debug, Clone)]
pub struct ContentFilterNormalizer {
    /// `chat.completion.chunk`, or `text_completion` for `/completions` streams.
    object: &'static str,
    /// `"object":"<object>"` as Azure writes it (compact JSON), the fast path.
    object_field: String,
    /// The answer's identity, once a proper chunk named it.
    seen: Option<Identity>,
    /// Used when an annotation ends the answer before any proper chunk came.
    fallback: Identity,
}

impl crate::providers::openai::EventEdit for ContentFilterNormalizer {
    fn normalize(&mut self, data: &str) -> crate::providers::openai::Edited {
        use crate::providers::openai::Edited;
        match self.event(data) {
            Normalized::Keep => Edited::Keep,
            Normalized::Drop => Edited::Drop,
            Normalized::Replace(chunk) => Edited::Replace(chunk),
        }
    }
}

impl ContentFilterNormalizer {
    /// A normalizer for a chat stream that started at `created` (Unix seconds) for
    /// deployment model `model`.
    pub fn new(created: u64, model: &str) -> Self {
        Self::for_endpoint(crate::endpoint::Endpoint::ChatCompletions, created, model)
    }

    /// A normalizer for a stream of `endpoint` (chat or `/completions`).
    pub fn for_endpoint(endpoint: crate::endpoint::Endpoint, created: u64, model: &str) -> Self {
        let object = match endpoint {
            crate::endpoint::Endpoint::Completions => TEXT_CHUNK,
            _ => CHAT_CHUNK,
        };
        ContentFilterNormalizer {
            object,
            object_field: format!("\"object\":\"{object}\""),
            seen: None,
            fallback: Identity {
                id: if object == TEXT_CHUNK {
                    format!("cmpl-azure-{created}")
                } else {
                    format!("chatcmpl-azure-{created}")
                },
                model: model.to_string(),
                created,
            },
        }
    }

    /// Decides what becomes of one event's `data`.
    pub fn event(&mut self, data: &str) -> Normalized {
        let trimmed = data.trim();
        if trimmed == "[DONE]" {
            return Normalized::Keep;
        }
        if trimmed.contains(&self.object_field) {
            // The common case: a proper chunk. Only the first one is parsed, for the
            // identity the answer's later synthesized chunks share.
            if self.seen.is_none() {
                self.learn(trimmed);
            }
            return Normalized::Keep;
        }
        let Ok(Value::Object(event)) = serde_json::from_str::<Value>(trimmed) else {
            // Not a JSON object: not an annotation; the client's parser judges.
            return Normalized::Keep;
        };
        match event.get("object").and_then(Value::as_str) {
            // A proper chunk written with other spacing.
            Some(object) if object == self.object => {
                if self.seen.is_none() {
                    self.learn(trimmed);
                }
                Normalized::Keep
            }
            // Azure's annotations are the events with an empty `object`.
            Some("") => self.annotation(&event),
            // Anything else (an error event, another object) is not Azure's to fix.
            _ => Normalized::Keep,
        }
    }

    fn learn(&mut self, data: &str) {
        if let Ok(c) = serde_json::from_str::<ChunkIdentity<'_>>(data) {
            let id = c.id.filter(|s| !s.is_empty());
            let model = c.model.filter(|s| !s.is_empty());
            if let Some(id) = id {
                self.seen = Some(Identity {
                    id: id.into_owned(),
                    model: model.map_or_else(|| self.fallback.model.clone(), |m| m.into_owned()),
                    created: c
                        .created
                        .filter(|c| *c > 0)
                        .unwrap_or(self.fallback.created),
                });
            }
        }
    }

    /// An annotation event: dropped, unless one of its choices ends (a finish
    /// reason) or carries a delta, or it carries a usage object.
    fn annotation(&self, event: &Map<String, Value>) -> Normalized {
        let choices: Vec<Value> = event
            .get("choices")
            .and_then(Value::as_array)
            .map(|choices| {
                choices
                    .iter()
                    .filter_map(|c| proper_choice(c, self.object))
                    .collect()
            })
            .unwrap_or_default();
        let usage = event.get("usage").filter(|u| u.is_object());
        if choices.is_empty() && usage.is_none() {
            return Normalized::Drop;
        }
        let identity = self.seen.as_ref().unwrap_or(&self.fallback);
        let mut chunk = json!({
            "id": identity.id,
            "object": self.object,
            "created": identity.created,
            "model": identity.model,
            "choices": choices,
        });
        if let (Some(usage), Some(obj)) = (usage, chunk.as_object_mut()) {
            obj.insert("usage".into(), usage.clone());
        }
        match serde_json::to_string(&chunk) {
            Ok(text) => Normalized::Replace(text),
            Err(_) => Normalized::Drop,
        }
    }
}

/// The proper form of an annotation's choice when it says something: a finish
/// reason (`delta: {}`, or `text: ""` in a `/completions` stream), or content of its
/// own; `None` for a pure annotation.
fn proper_choice(choice: &Value, object: &str) -> Option<Value> {
    let finish = choice.get("finish_reason").filter(|f| f.is_string());
    let (key, content) = if object == TEXT_CHUNK {
        ("text", choice.get("text").filter(|t| t.is_string()))
    } else {
        ("delta", choice.get("delta").filter(|d| d.is_object()))
    };
    if finish.is_none() && content.is_none() {
        return None;
    }
    let empty = if object == TEXT_CHUNK {
        json!("")
    } else {
        json!({})
    };
    let mut out = Map::new();
    out.insert(
        "index".into(),
        choice.get("index").cloned().unwrap_or(json!(0)),
    );
    out.insert(key.into(), content.cloned().unwrap_or(empty));
    out.insert("logprobs".into(), Value::Null);
    out.insert(
        "finish_reason".into(),
        finish.cloned().unwrap_or(Value::Null),
    );
    if let Some(results) = choice.get("content_filter_results") {
        out.insert("content_filter_results".into(), results.clone());
    }
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILTERS: &str = r#"{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}"#;

    fn prompt_annotation() -> String {
        format!(
            r#"{{"id":"","object":"","created":0,"model":"","prompt_filter_results":[{{"prompt_index":0,"content_filter_results":{FILTERS}}}],"choices":[],"usage":null}}"#
        )
    }

    fn offsets_annotation(finish: &str) -> String {
        format!(
            r#"{{"id":"","object":"","created":0,"model":"","choices":[{{"index":0,"finish_reason":{finish},"content_filter_results":{FILTERS},"content_filter_offsets":{{"check_offset":44,"start_offset":44,"end_offset":198}}}}],"usage":null}}"#
        )
    }

    const CONTENT: &str = r#"{"id":"chatcmpl-7rCN","object":"chat.completion.chunk","created":1692913344,"model":"gpt-35-turbo","choices":[{"index":0,"finish_reason":null,"delta":{"content":"Color"}}],"usage":null}"#;

    #[test]
    fn prompt_annotations_are_dropped() {
        let mut n = ContentFilterNormalizer::new(100, "dep");
        assert_eq!(n.event(&prompt_annotation()), Normalized::Drop);
        // Older API versions call it prompt_annotations.
        let old = prompt_annotation().replace("prompt_filter_results", "prompt_annotations");
        assert_eq!(n.event(&old), Normalized::Drop);
    }

    #[test]
    fn proper_chunks_done_and_errors_pass() {
        let mut n = ContentFilterNormalizer::new(100, "dep");
        assert_eq!(n.event(CONTENT), Normalized::Keep);
        assert_eq!(n.event("[DONE]"), Normalized::Keep);
        assert_eq!(
            n.event(r#"{"error":{"message":"boom","type":"server_error"}}"#),
            Normalized::Keep
        );
        // A default-mode chunk with its per-choice results, spaced differently.
        let spaced = r#"{"id": "c", "object": "chat.completion.chunk", "created": 5, "model": "m", "choices": [{"index": 0, "delta": {"content": "x"}, "content_filter_results": {}}]}"#;
        assert_eq!(n.event(spaced), Normalized::Keep);
    }

    #[test]
    fn async_filter_annotations_are_dropped() {
        let mut n = ContentFilterNormalizer::new(100, "dep");
        n.event(CONTENT);
        assert_eq!(n.event(&offsets_annotation("null")), Normalized::Drop);
    }

    #[test]
    fn an_annotation_that_stops_the_answer_becomes_the_streams_last_chunk() {
        let mut n = ContentFilterNormalizer::new(100, "dep");
        assert_eq!(n.event(&prompt_annotation()), Normalized::Drop);
        assert_eq!(n.event(CONTENT), Normalized::Keep);
        let blocked = r#"{"id":"","object":"","created":0,"model":"","choices":[{"index":0,"finish_reason":"content_filter","content_filter_results":{"protected_material_text":{"detected":true,"filtered":true}},"content_filter_offsets":{"check_offset":65,"start_offset":65,"end_offset":1056}}],"usage":null}"#;
        let Normalized::Replace(text) = n.event(blocked) else {
            panic!("not replaced");
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            json!({
                "id": "chatcmpl-7rCN", "object": "chat.completion.chunk", "created": 1692913344,
                "model": "gpt-35-turbo",
                "choices": [{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "content_filter",
                    "content_filter_results": {"protected_material_text": {"detected": true, "filtered": true}}}],
            })
        );
    }

    #[test]
    fn without_a_proper_chunk_first_the_deployment_names_the_answer() {
        let mut n = ContentFilterNormalizer::new(1700000000, "gpt-4o-deploy");
        let Normalized::Replace(text) = n.event(&offsets_annotation("\"content_filter\"")) else {
            panic!("not replaced");
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["id"], "chatcmpl-azure-1700000000");
        assert_eq!(v["model"], "gpt-4o-deploy");
        assert_eq!(v["created"], 1700000000);
    }

    #[test]
    fn a_usage_object_on_an_annotation_is_kept() {
        let mut n = ContentFilterNormalizer::new(100, "dep");
        n.event(CONTENT);
        let with_usage = r#"{"id":"","object":"","created":0,"model":"","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;
        let Normalized::Replace(text) = n.event(with_usage) else {
            panic!("not replaced");
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["usage"]["total_tokens"], 4);
        assert_eq!(v["choices"], json!([]));
        assert_eq!(v["object"], "chat.completion.chunk");
    }

    /// Azure's documented Asynchronous Filter stream (the "Content streaming" guide,
    /// "Sample response stream (passes filters)"), with the usage chunk the gateway
    /// asks for, as Azure writes it: the prompt annotation first, annotations between
    /// and after the content chunks.
    fn async_filter_stream() -> String {
        let chunk = |choice: &str| {
            format!(
                r#"data: {{"id":"chatcmpl-7rCN","object":"chat.completion.chunk","created":1692913344,"model":"gpt-35-turbo","choices":[{choice}],"usage":null}}"#
            ) + "\n\n"
        };
        [
            format!("data: {}\n\n", prompt_annotation()),
            chunk(r#"{"index":0,"finish_reason":null,"delta":{"role":"assistant"}}"#),
            chunk(r#"{"index":0,"finish_reason":null,"delta":{"content":"Color"}}"#),
            format!("data: {}\n\n", offsets_annotation("null")),
            chunk(r#"{"index":0,"finish_reason":null,"delta":{"content":" is"}}"#),
            chunk(r#"{"index":0,"finish_reason":"stop","delta":{}}"#),
            format!("data: {}\n\n", offsets_annotation("null")),
            "data: {\"id\":\"chatcmpl-7rCN\",\"object\":\"chat.completion.chunk\",\"created\":1692913344,\"model\":\"gpt-35-turbo\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}\n\n".to_string(),
            "data: [DONE]\n\n".to_string(),
        ]
        .concat()
    }

    #[test]
    fn an_async_filter_stream_leaves_only_proper_chunks_at_every_split() {
        use crate::providers::StreamTranslate as _;
        let stream = async_filter_stream();
        for client_asked_usage in [false, true] {
            let mut whole: Option<String> = None;
            for split in 0..=stream.len() {
                let mut tap = crate::providers::openai::UsageTap::with_edit(
                    !client_asked_usage,
                    Box::new(ContentFilterNormalizer::new(1, "dep")),
                );
                let mut out = Vec::new();
                let (a, b) = stream.as_bytes().split_at(split);
                tap.push(a, &mut out);
                tap.push(b, &mut out);
                tap.finish(&mut out);
                let usage = tap.usage().unwrap();
                assert_eq!((usage.prompt_tokens, usage.completion_tokens), (12, 3));
                let text = String::from_utf8(out).unwrap();
                match &whole {
                    None => whole = Some(text),
                    Some(w) => assert_eq!(&text, w, "split at {split}"),
                }
            }
            let whole = whole.unwrap();
            let events: Vec<&str> = whole
                .split("\n\n")
                .filter(|e| !e.is_empty())
                .map(|e| e.strip_prefix("data: ").unwrap())
                .collect();
            assert_eq!(events.last(), Some(&"[DONE]"));
            let chunks: Vec<Value> = events[..events.len() - 1]
                .iter()
                .map(|e| serde_json::from_str(e).unwrap())
                .collect();
            // role, two contents, the finish; the usage chunk only when asked.
            assert_eq!(
                chunks.len(),
                if client_asked_usage { 5 } else { 4 },
                "{whole}"
            );
            for c in &chunks {
                assert_eq!(c["object"], "chat.completion.chunk", "{c}");
                assert_eq!(c["id"], "chatcmpl-7rCN");
                assert_eq!(c["model"], "gpt-35-turbo");
                assert_eq!(c["created"], 1692913344);
                for choice in c["choices"].as_array().unwrap() {
                    assert!(choice["delta"].is_object(), "{c}");
                }
            }
            assert!(
                !whole.contains("prompt_filter_results")
                    && !whole.contains("content_filter_offsets")
            );
        }
    }

    #[test]
    fn completions_streams_get_text_completion_chunks() {
        let mut n = ContentFilterNormalizer::for_endpoint(
            crate::endpoint::Endpoint::Completions,
            100,
            "dep",
        );
        assert_eq!(n.event(&prompt_annotation()), Normalized::Drop);
        let text = r#"{"id":"cmpl-1","object":"text_completion","created":9,"model":"gpt-35-turbo-instruct","choices":[{"text":"Hi","index":0,"finish_reason":null,"logprobs":null}]}"#;
        assert_eq!(n.event(text), Normalized::Keep);
        assert_eq!(n.event(&offsets_annotation("null")), Normalized::Drop);
        let Normalized::Replace(out) = n.event(&offsets_annotation("\"content_filter\"")) else {
            panic!("not replaced");
        };
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["object"], "text_completion");
        assert_eq!(v["id"], "cmpl-1");
        assert_eq!(v["choices"][0]["text"], "");
        assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
        assert!(v["choices"][0].get("delta").is_none());
    }

    #[test]
    fn hostile_or_odd_events_never_panic() {
        let mut n = ContentFilterNormalizer::new(0, "");
        for data in [
            "",
            "{",
            "[1,2]",
            "null",
            r#"{"object":""}"#,
            r#"{"object":"","choices":"x"}"#,
            r#"{"object":"","choices":[1,null,{"finish_reason":7}]}"#,
            r#"{"object":5}"#,
            r#"{"object":"chat.completion.chunk","id":5}"#,
        ] {
            let _ = n.event(data);
        }
        assert_eq!(n.event(r#"{"object":""}"#), Normalized::Drop);
    }
}
