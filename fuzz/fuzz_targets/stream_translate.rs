//! The stream translators (`providers::stream_translator`) for every provider and
//! endpoint: the payload is the provider's stream, pushed in fuzzer-chosen chunks
//! (boundaries anywhere: inside a line, a `\r\n`, a UTF-8 sequence), then finished.
//!
//! Input: `Framed` (see `src/lib.rs`); flag bit 0: the client asked for
//! `stream_options.include_usage`; bits 1–2: the endpoint (chat, completions,
//! embeddings); bit 3: every number in the stream moved next to `u64::MAX`
//! (`near_u64_max`).
//!
//! Checked, differentially: the output and the usage do not depend on where the
//! stream was cut (the same bytes pushed whole give the same result). For Anthropic and Ollama
//! the output is OpenAI SSE — `data: <JSON>` events ending in exactly one
//! `data: [DONE]` — whatever the provider sent; OpenAI-compatible streams pass
//! untouched unless the gateway strips the usage chunk it asked for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use switchyard_filter::cost::Usage;
use switchyard_filter::providers::{stream_translator, ProviderKind, ResponseContext};
use switchyard_fuzz::{
    azure_stream_untouched, near_u64_max, openai_sse_events, Framed, ENDPOINTS, PROVIDERS,
};

fn run(
    provider: ProviderKind,
    endpoint: switchyard_filter::endpoint::Endpoint,
    include_usage: bool,
    chunks: &[&[u8]],
) -> (Vec<u8>, Option<Usage>) {
    let ctx = ResponseContext {
        created: 1_700_000_000,
        model: "claude-sonnet-4-5".into(),
        include_usage,
    };
    let mut t = stream_translator(provider, endpoint, ctx);
    let mut out = Vec::new();
    for chunk in chunks {
        t.push(chunk, &mut out);
    }
    t.finish(&mut out);
    (out, t.usage())
}

fuzz_target!(|data: &[u8]| {
    let input = Framed::parse(data);
    let include_usage = input.bit(0);
    let endpoint = ENDPOINTS[usize::from((input.flags[0] >> 1) & 3) % 3];
    let boundary;
    let input = if input.bit(3) {
        boundary = near_u64_max(input.payload);
        input.with_payload(&boundary)
    } else {
        input
    };
    let chunks = input.chunks();
    for provider in PROVIDERS {
        let (out, usage) = run(provider, endpoint, include_usage, &chunks);
        let whole = run(provider, endpoint, include_usage, &[input.payload]);
        assert!(
            out == whole.0,
            "{provider:?} {endpoint:?}: output depends on chunking\nchunked: {:?}\nwhole:   {:?}",
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&whole.0)
        );
        assert_eq!(
            usage, whole.1,
            "{provider:?} {endpoint:?}: usage depends on chunking"
        );
        if matches!(
            provider,
            ProviderKind::Anthropic
                | ProviderKind::Ollama
                | ProviderKind::OllamaChat
                | ProviderKind::Gemini
                | ProviderKind::Cohere
                | ProviderKind::HuggingfaceGenerate
                | ProviderKind::Bedrock
                | ProviderKind::VertexAi
        ) {
            let events = openai_sse_events(&out);
            let done = events.iter().filter(|e| **e == json!("[DONE]")).count();
            assert_eq!(done, 1, "one [DONE]: {events:?}");
            assert_eq!(events.last(), Some(&json!("[DONE]")), "[DONE] comes last");
        } else if include_usage
            && (provider == ProviderKind::Openai
                || (provider == ProviderKind::Azure && azure_stream_untouched(input.payload)))
        {
            assert_eq!(out, input.payload, "the client asked for usage: untouched");
        }
    }
});
