//! Wire models: the shapes of the client-facing APIs that every translator reads
//! or writes, defined once (the OpenAI answer types, `[DONE]`, data URIs, the
//! error for a field at fault) instead of copied into each provider.

pub mod openai;
