//! Vertex AI model ids the gateway does not translate, refused by the config
//! compiler with the filter's reason.

/// Why Switchyard cannot serve a Vertex model id, if it cannot: the partner models
/// LiteLLM reaches through OpenAI-compatible or other endpoints (Llama, Mistral,
/// AI21, …, written `vendor/model` or with their names) are not translated.
pub fn unsupported_model(model: &str) -> Option<&'static str> {
    let m = model.to_ascii_lowercase();
    let partner = [
        "llama",
        "meta/",
        "mistral",
        "codestral",
        "jamba",
        "ai21",
        "deepseek",
        "qwen",
        "openai/",
        "gpt-oss",
    ];
    if m.contains('/') && !m.starts_with("gemini/") || partner.iter().any(|p| m.starts_with(p)) {
        Some("Vertex AI partner models other than Claude (Llama, Mistral, AI21, …) are not translated yet; Gemini, Claude and Google's text embedding models are")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_models_are_refused() {
        assert!(unsupported_model("meta/llama-3.1-405b-instruct-maas").is_some());
        assert!(unsupported_model("mistral-large@2407").is_some());
        assert!(unsupported_model("gemini-2.5-flash").is_none());
        assert!(unsupported_model("claude-opus-4").is_none());
    }
}
